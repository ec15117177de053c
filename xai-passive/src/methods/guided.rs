//! Guided backpropagation (Springenberg et al., *Striving for Simplicity: The All
//! Convolutional Net*, 2015) and DeconvNet (Zeiler & Fergus, *Visualizing and Understanding
//! Convolutional Networks*, 2014): the gradient of the target logit with the ReLU's backward
//! replaced (Zhang et al., survey Table IV, g in place of σ′), every other op unchanged:
//!
//! - guided backprop: R_in = g · 1[x > 0] · 1[g > 0] (Captum's `GuidedBackprop`:
//!   relu of the ReLU's ordinary input gradient);
//! - DeconvNet: R_in = max(g, 0), whatever the forward input (Captum's `Deconvolution`).
//!
//! Only `relu` ops are modified (as Captum overrides only `nn.ReLU`); leaky ReLU and smooth
//! activations keep their gradient. Both are presets of the one [`Composite`] of the
//! modified-gradient methods ([`Composite::guided_backprop`], [`Composite::deconvnet`]:
//! [`ActivationRule::Guided`](super::ActivationRule::Guided) or
//! [`ActivationRule::Deconv`](super::ActivationRule::Deconv), every other op its gradient), so
//! `lrp` with the spec `linear=gradient,conv=gradient,relu=guided` is guided backprop seeded
//! with the target logit's value.

use super::composite::{Composite, CompositeRule};
use super::saliency::target_gradient;
use crate::attribution::{Attribution, Explanation};
use crate::config::{at_least_one, MethodConfig};
use crate::DEFAULT_BATCH_SIZE;
use crate::{map_rows, Result};
use xai_nn::Differentiable;
use xai_tensor::DType;

/// Which ReLU backward replaces the ordinary one: the method's preset of the composite.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReluRule {
    #[default]
    /// g · 1\[x > 0\] · 1\[g > 0\] (Springenberg et al. 2015): [`Composite::guided_backprop`].
    Guided,
    /// max(g, 0) (Zeiler & Fergus 2014): [`Composite::deconvnet`].
    Deconv,
}

impl ReluRule {
    /// The composite of the method: this ReLU rule, every other op its gradient.
    pub fn composite(self) -> Composite {
        match self {
            ReluRule::Guided => Composite::guided_backprop(),
            ReluRule::Deconv => Composite::deconvnet(),
        }
    }
}

/// Guided backpropagation or DeconvNet (`abs` takes |·|). The rule is the method's, not a
/// parameter: the registry's `guided-backprop` and `deconvnet` set it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GuidedGradient {
    /// The ReLU rule.
    #[serde(skip)]
    pub rule: ReluRule,
    /// Take the absolute value.
    pub abs: bool,
    /// Examples per model call.
    pub batch_size: usize,
}

impl Default for GuidedGradient {
    fn default() -> Self {
        Self {
            rule: ReluRule::Guided,
            abs: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for GuidedGradient {
    fn validate(&self) -> Result<()> {
        at_least_one("batch_size", self.batch_size)
    }
}

impl<M: Differentiable + ?Sized> Attribution<M> for GuidedGradient {
    fn name(&self) -> &'static str {
        match self.rule {
            ReluRule::Guided => "guided-backprop",
            ReluRule::Deconv => "deconvnet",
        }
    }

    fn attribute(
        &self,
        model: &M,
        x: &xai_tensor::Tensor,
        targets: &[usize],
    ) -> Result<Explanation> {
        self.validate()?;
        let x = x.to_dtype(DType::F32)?;
        let composite = self.rule.composite();
        let g = map_rows(&x, self.batch_size, |chunk, rows| {
            let t = &targets[rows];
            let rule = CompositeRule::new(composite.clone());
            target_gradient(model, chunk, t, Some(rule))
        })?;
        let attributions = if self.abs { g.abs()? } else { g };
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
    use crate::methods::lrp_rules::testnets::{hand, t};
    use crate::methods::Saliency;

    fn run<A: Attribution<xai_nn::Graph>>(a: &A, b1: Option<[f32; 2]>) -> Vec<f64> {
        let x = t(&[1.0, 2.0], &[1, 2]);
        a.attribute(&hand(b1), &x, &[0])
            .unwrap()
            .attributions
            .to_vec_f64()
            .unwrap()
    }

    #[test]
    fn guided_backprop_blocks_negative_signals_that_the_gradient_keeps() {
        let guided = GuidedGradient::default();
        let deconv = GuidedGradient {
            rule: ReluRule::Deconv,
            ..Default::default()
        };
        // Both ReLUs active, upstream gradient w2 = [2, −1]: gradient W1ᵀ[2, −1] = [3, 0];
        // guided/deconv drop the negative −1: W1ᵀ[2, 0] = [2, 2].
        assert_eq!(run(&Saliency::default(), None), vec![3.0, 0.0]);
        assert_eq!(run(&guided, None), vec![2.0, 2.0]);
        assert_eq!(run(&deconv, None), vec![2.0, 2.0]);
        // Bias [−1, −4]: z1 = [2, −1], the second ReLU is off. Guided respects the forward
        // mask; DeconvNet ignores it (its −1 upstream signal is clipped anyway).
        assert_eq!(run(&guided, Some([-1.0, -4.0])), vec![2.0, 2.0]);
        let w2_neg = deconv.clone();
        assert_eq!(run(&w2_neg, Some([-1.0, -4.0])), vec![2.0, 2.0]);
    }
}
