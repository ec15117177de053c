//! Deep Taylor decomposition (Montavon, Lapuschkin, Binder, Samek & Müller, *Explaining
//! Nonlinear Classification Decisions with Deep Taylor Decomposition*, Pattern Recognition
//! 2017): for ReLU networks, each layer's relevance is redistributed by the root point of a
//! first-order Taylor expansion, which gives
//!
//! - the z⁺ rule on every hidden linear and convolutional layer (ReLU inputs are ≥ 0):
//!   R_i = Σⱼ x_i w⁺_ij / (Σ_i' x_i' w⁺_i'j) R_j;
//! - on the first layer, the z^B rule when the input domain is a box l ≤ x ≤ h (`--low`,
//!   `high`): R_i = Σⱼ (x_i w_ij − l_i w⁺_ij − h_i w⁻_ij) / Σ_i'(…) R_j;
//!   otherwise (unbounded real inputs) the w² rule R_i = Σⱼ w²_ij / (Σ_i' w²_i'j) R_j.
//!
//! Seeded, like LRP, with the target logit's value: R_out = f_c(x)·e_c. The formulas are the
//! [`LrpRule`](super::LrpRule) implementations, through the preset
//! [`Composite::deep_taylor`], so they match Zennit's `ZPlus`, `ZBox` and `WSquare` (ours
//! without the bias in w²).

use super::composite::{Composite, SpecialLayer};
use super::lrp::{relevance_batches, Bounds};
use crate::attribution::{Attribution, Explanation};
use crate::config::{at_least_one, MethodConfig};
use crate::Result;
use crate::DEFAULT_BATCH_SIZE;
use xai_nn::Differentiable;
use xai_tensor::Tensor;

/// Deep Taylor decomposition (z⁺ with a z^B or w² first layer).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DeepTaylor {
    /// Lowest input value: with `high`, z^B on the first layer (raw input space); without
    /// bounds, the w² rule there.
    pub low: Option<f64>,
    /// Highest input value (with `low`).
    pub high: Option<f64>,
    /// Take the absolute value.
    pub abs: bool,
    /// Examples per backward pass.
    pub batch_size: usize,
}

impl Default for DeepTaylor {
    fn default() -> Self {
        Self {
            low: None,
            high: None,
            abs: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for DeepTaylor {
    fn validate(&self) -> Result<()> {
        Bounds::from_low_high(self.low, self.high)?;
        at_least_one("batch_size", self.batch_size)
    }
}

impl<M: Differentiable + ?Sized> Attribution<M> for DeepTaylor {
    fn name(&self) -> &'static str {
        "deep-taylor"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let bounds = Bounds::from_low_high(self.low, self.high)?;
        let c = Composite::deep_taylor(bounds.is_some());
        let zbox = bounds.map(|b| (SpecialLayer::First, b));
        let r = relevance_batches(model, x, targets, &c, zbox.as_ref(), self.batch_size)?;
        let attributions = if self.abs { r.abs()? } else { r };
        Ok(Explanation {
            attributions,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::lrp_rules::testnets::{mlp, rel};
    use xai_nn::Forward;
    use xai_tensor::{DType, Rng};

    #[test]
    fn deep_taylor_conserves_relevance_on_a_relu_net_without_biases() {
        let m = mlp(9, false);
        let x = Rng::new(1).normal(&[4, 8], 0.0, 1.0, DType::F32).unwrap();
        let logits = m.predict(&x).unwrap().to_vec_f64().unwrap();
        for bounds in [None, Some((-4.0, 4.0))] {
            let d = DeepTaylor {
                low: bounds.map(|b| b.0),
                high: bounds.map(|b| b.1),
                ..Default::default()
            };
            let r = d.attribute(&m, &x, &[0; 4]).unwrap().attributions;
            let r = r.to_vec_f64().unwrap();
            for (i, row) in r.chunks(8).enumerate() {
                let f = logits[i * 3];
                if f > 0.0 {
                    let s: f64 = row.iter().sum();
                    assert!(rel(s, f) < 1e-4, "{bounds:?}: Σ R = {s}, f = {f}");
                }
                if bounds.is_none() {
                    // w² on the first layer never divides by zero.
                    assert!(row.iter().all(|v| v.is_finite()));
                }
            }
        }
    }
}
