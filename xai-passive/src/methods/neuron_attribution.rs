//! Neuron attribution: explains a hidden unit instead of an output (Captum's neuron methods).
//! The unit is parameter `neuron`, `LAYER:INDEX`, a flat index into one example's output of the layer
//! (row-major over its per-example shape). The class target is not used.
//!
//! - `neuron-gradient`: ∂A_j(x)/∂x (Simonyan et al. 2014's saliency for a hidden unit;
//!   Captum's `NeuronGradient`).
//! - `neuron-integrated-gradients`: (x − b) ⊙ Σₖ wₖ ∂A_j(b + αₖ(x − b))/∂x (Sundararajan et al.
//!   2017 for a hidden unit; Captum's `NeuronIntegratedGradients`). Σa ≈ A_j(x) − A_j(b).

use crate::attribution::{Attribution, Explanation};
use crate::baseline::Baseline;
use crate::config::{at_least_one, MethodConfig};
use crate::objectives::{layer_gradient, resolve_neuron, Objective};
use crate::quadrature::integrate_path;
use crate::quadrature::Integration;
use crate::DEFAULT_BATCH_SIZE;
use crate::{map_rows, Result};
use xai_nn::Layered;
use xai_tensor::{DType, Tensor};

/// Gradient of one hidden unit with respect to the input.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct NeuronGradient {
    /// The unit, `LAYER:INDEX` (required).
    pub neuron: Option<String>,
    /// Examples per model call.
    pub batch_size: usize,
}

impl Default for NeuronGradient {
    fn default() -> Self {
        Self {
            neuron: None,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for NeuronGradient {
    fn validate(&self) -> Result<()> {
        at_least_one("batch_size", self.batch_size)
    }
}

/// Integrated gradients of one hidden unit.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct NeuronIntegratedGradients {
    /// The unit, `LAYER:INDEX` (required).
    pub neuron: Option<String>,
    /// The path's start b.
    pub baseline: Baseline,
    /// Quadrature of the path integral.
    pub integration: Integration,
    /// Integration steps (≥ 1).
    pub steps: usize,
    /// Rows (steps × examples) per model call.
    pub batch_size: usize,
}

impl Default for NeuronIntegratedGradients {
    fn default() -> Self {
        Self {
            neuron: None,
            baseline: Baseline::Zeros,
            integration: Integration::GaussLegendre,
            steps: 50,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for NeuronIntegratedGradients {
    fn validate(&self) -> Result<()> {
        self.integration.nodes(self.steps)?;
        at_least_one("batch_size", self.batch_size)
    }
}

impl<M: Layered + ?Sized> Attribution<M> for NeuronGradient {
    fn name(&self) -> &'static str {
        "neuron-gradient"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let x = x.to_dtype(DType::F32)?;
        let (layer, index) = resolve_neuron(model, &x, &self.neuron, "neuron-gradient")?;
        let g = map_rows(&x, self.batch_size, |c, _| {
            Ok(layer_gradient(model, c, Objective::Neuron { layer, index }, None)?.0)
        })?;
        Ok(Explanation {
            attributions: g,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

impl<M: Layered + ?Sized> Attribution<M> for NeuronIntegratedGradients {
    fn name(&self) -> &'static str {
        "neuron-integrated-gradients"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let o = self;
        let x = x.to_dtype(DType::F32)?;
        let (layer, index) = resolve_neuron(model, &x, &o.neuron, "neuron-integrated-gradients")?;
        let b = o.baseline.resolve(&x)?;
        let (alphas, weights) = o.integration.nodes(o.steps)?;
        let (g, _) = integrate_path(&x, &b, &alphas, &weights, o.batch_size, |c, _| {
            Ok(layer_gradient(model, c, Objective::Neuron { layer, index }, None)?.0)
        })?;
        let (xv, bv) = (x.to_vec_f64()?, b.to_vec_f64()?);
        let a: Vec<f64> = g
            .iter()
            .zip(xv.iter().zip(&bv))
            .map(|(g, (x, b))| (x - b) * g)
            .collect();
        Ok(Explanation {
            attributions: Tensor::from_vec(a, x.shape())?.to_dtype(DType::F32)?,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objectives::trace_values;
    use crate::testing::models::*;
    use xai_tensor::Rng;

    fn opts(n: &str) -> Option<String> {
        Some(n.into())
    }

    #[test]
    fn neuron_gradient_of_a_first_layer_unit_is_its_weight_row() {
        let m = mlp(4);
        let x = randn(&mut Rng::new(1), &[2, 6], 1.0);
        let e = NeuronGradient {
            neuron: opts("0:5"),
            ..Default::default()
        }
        .attribute(&m, &x, &[0, 0])
        .unwrap();
        let w = m.nodes()[0].layer.params()[0]
            .1
            .value()
            .narrow(0, 5, 1)
            .unwrap();
        let g = e.attributions.to_vec_f32().unwrap();
        assert_eq!(&g[..6], &w.to_vec_f32().unwrap()[..]);
        assert_eq!(&g[6..], &w.to_vec_f32().unwrap()[..]);
    }

    #[test]
    fn neuron_ig_is_complete_for_the_unit_and_bad_specs_are_refused() {
        let m = smooth_mlp(4);
        let x = randn(&mut Rng::new(1), &[2, 6], 1.0);
        let e = NeuronIntegratedGradients {
            neuron: opts("3:7"),
            ..Default::default()
        }
        .attribute(&m, &x, &[0, 0])
        .unwrap();
        let ax = trace_values(&m, &x).unwrap()[3].to_vec_f64().unwrap();
        let ab = trace_values(&m, &Tensor::zeros(&[2, 6], DType::F32)).unwrap()[3]
            .to_vec_f64()
            .unwrap();
        let a = e.attributions.to_vec_f64().unwrap();
        for i in 0..2 {
            let s: f64 = a[i * 6..(i + 1) * 6].iter().sum();
            let d = ax[i * 16 + 7] - ab[i * 16 + 7];
            assert!((s - d).abs() < 1e-2 * d.abs().max(0.1), "{s} vs {d}");
        }
        let err = |spec: &str| {
            NeuronGradient {
                neuron: opts(spec),
                ..Default::default()
            }
            .attribute(&m, &x, &[0, 0])
            .unwrap_err()
            .to_string()
        };
        assert!(err("3:16").contains("out of range for layer '3' with 16 units"));
        assert!(err("9:1").contains("unknown layer '9'"));
        assert!(err("3").contains("LAYER:INDEX"));
    }
}
