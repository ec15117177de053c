//! Layer attribution: how much each unit of a hidden layer's output A(x) contributes to the
//! target logit f_c (Captum's layer methods). Results have the layer's shape
//! `[N, ...layer_shape]`; the layer is parameter `layer`, its name in the model.
//!
//! - `layer-gradient-x-activation`: A(x) ⊙ ∂f_c/∂A (Captum's `LayerGradientXActivation`).
//! - `layer-integrated-gradients` (Captum's `LayerIntegratedGradients`): the layer's
//!   activation itself is interpolated, Aₖ = A(b) + αₖ(A(x) − A(b)), the rest of the network
//!   runs from there ([`Layered::forward_from`]), and the result is
//!   (A(x) − A(b)) ⊙ Σₖ wₖ ∂f_c/∂A (Aₖ) — integrated gradients of the sub-network after the
//!   layer. Complete for that sub-network: Σa ≈ f_c(x) − f_c(b); the gap is reported per
//!   example.
//! - `layer-conductance` (Dhamdhere, Sundararajan & Yan, *How Important Is a Neuron?*, ICLR
//!   2019; Captum's `LayerConductance`): with n + 1 nodes α₀ < … < αₙ of the integration rule
//!   and xₖ = b + αₖ(x − b), Σₖ₌₀ⁿ⁻¹ (A(xₖ₊₁) − A(xₖ)) ⊙ ∂f_c/∂A(xₖ).
//!
//! All steps of all examples go through the model as one batch, in chunks of `batch_size`.

use crate::attribution::{Attribution, Explanation};
use crate::baseline::Baseline;
use crate::batching::Chunks;
use crate::config::{at_least_one, MethodConfig};
use crate::objectives::{
    index_column, layer_gradient, required_layer, target_logits, trace_values, Objective,
};
use crate::quadrature::Integration;
use crate::quadrature::{integrate_path, path_chunk};
use crate::DEFAULT_BATCH_SIZE;
use crate::{map_rows, Result};
use xai_autodiff::{enable_grad, grad_tensors, Var};
use xai_nn::Layered;
use xai_tensor::{DType, Tensor};

/// A(x) ⊙ ∂f_c/∂A for the layer `layer`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LayerGradientXActivation {
    /// The layer's name in the model (required).
    pub layer: Option<String>,
    /// Examples per model call.
    pub batch_size: usize,
}

impl Default for LayerGradientXActivation {
    fn default() -> Self {
        Self {
            layer: None,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for LayerGradientXActivation {
    fn validate(&self) -> Result<()> {
        at_least_one("batch_size", self.batch_size)
    }
}

/// The parameters of the layer path methods: a layer and the path from a baseline.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LayerPath {
    /// The layer's name in the model (required).
    pub layer: Option<String>,
    /// The path's start b.
    pub baseline: Baseline,
    /// Quadrature of the path integral.
    pub integration: Integration,
    /// Integration steps (≥ 1).
    pub steps: usize,
    /// Rows (steps × examples) per model call.
    pub batch_size: usize,
}

impl Default for LayerPath {
    fn default() -> Self {
        Self {
            layer: None,
            baseline: Baseline::Zeros,
            integration: Integration::GaussLegendre,
            steps: 50,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for LayerPath {
    fn validate(&self) -> Result<()> {
        self.integration.nodes(self.steps)?;
        at_least_one("batch_size", self.batch_size)
    }
}

/// Integrated gradients of a layer along its interpolated activation (see the module docs).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct LayerIntegratedGradients(pub LayerPath);

/// Layer conductance (Dhamdhere et al. 2019), Captum's discretisation.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct LayerConductance(pub LayerPath);

impl MethodConfig for LayerIntegratedGradients {
    fn validate(&self) -> Result<()> {
        self.0.validate()
    }
}

impl MethodConfig for LayerConductance {
    fn validate(&self) -> Result<()> {
        self.0.validate()
    }
}

/// ∂/∂A Σᵣ f_{t_r} of the network with layer `layer`'s output set to the activations `a`,
/// the branches that do not depend on the layer run on the inputs `x` (one row per row of
/// `a`).
fn gradient_from<M: Layered + ?Sized>(
    model: &M,
    layer: &str,
    x: &Tensor,
    a: &Tensor,
    t: &[usize],
) -> Result<Tensor> {
    enable_grad(|| {
        let v = Var::leaf(a.clone());
        let out = model.forward_from(layer, &Var::constant(x.clone()), &v)?;
        let y = out
            .gather(1, &index_column(t, out.value().dtype())?)?
            .sum_all()?;
        Ok(grad_tensors(&y, None, &[&v], None)?.remove(0))
    })
}

fn layer_shape(n: usize, act: &Tensor) -> Vec<usize> {
    let mut s = act.shape().to_vec();
    s[0] = n;
    s
}

impl<M: Layered + ?Sized> Attribution<M> for LayerGradientXActivation {
    fn name(&self) -> &'static str {
        "layer-gradient-x-activation"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let x = x.to_dtype(DType::F32)?;
        let l = required_layer(model, &self.layer, "layer-gradient-x-activation")?;
        let a = map_rows(&x, self.batch_size, |chunk, rows| {
            let t = &targets[rows];
            let (g, a) = layer_gradient(model, chunk, Objective::Logit(t), Some(l))?;
            Ok(g.mul(&a.expect("layer activation"))?)
        })?;
        Ok(Explanation {
            attributions: a,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

impl<M: Layered + ?Sized> Attribution<M> for LayerIntegratedGradients {
    fn name(&self) -> &'static str {
        "layer-integrated-gradients"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let o = &self.0;
        let x = x.to_dtype(DType::F32)?;
        let l = required_layer(model, &o.layer, "layer-integrated-gradients")?;
        let b = o.baseline.resolve(&x)?;
        let (alphas, weights) = o.integration.nodes(o.steps)?;
        let s = alphas.len();
        let ax = map_rows(&x, o.batch_size, |c, _| {
            Ok(trace_values(model, c)?.swap_remove(l))
        })?;
        let ab = map_rows(&b, o.batch_size, |c, _| {
            Ok(trace_values(model, c)?.swap_remove(l))
        })?;
        let name = &model.layer_names()[l];
        let (g, _) = integrate_path(&ax, &ab, &alphas, &weights, o.batch_size, |c, rows| {
            let examples: Vec<usize> = rows.map(|r| r / s).collect();
            let t: Vec<usize> = examples.iter().map(|&i| targets[i]).collect();
            gradient_from(model, name, &x.index_select(0, &examples)?, c, &t)
        })?;
        let (axv, abv) = (ax.to_vec_f64()?, ab.to_vec_f64()?);
        let a: Vec<f64> = g
            .iter()
            .zip(axv.iter().zip(&abv))
            .map(|(g, (p, q))| (p - q) * g)
            .collect();
        let fx = target_logits(model, &x, targets, o.batch_size)?;
        let fb = target_logits(model, &b, targets, o.batch_size)?;
        let per = a.len() / targets.len().max(1);
        let gap = a
            .chunks(per.max(1))
            .zip(fx.iter().zip(&fb))
            .map(|(ai, (fx, fb))| ai.iter().sum::<f64>() - (fx - fb))
            .collect();
        Ok(Explanation {
            attributions: Tensor::from_vec(a, &layer_shape(x.shape()[0], &ax))?
                .to_dtype(DType::F32)?,
            targets: targets.to_vec(),
            completeness_gap: Some(gap),
            diagnostics: Vec::new(),
        })
    }
}

impl<M: Layered + ?Sized> Attribution<M> for LayerConductance {
    fn name(&self) -> &'static str {
        "layer-conductance"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let o = &self.0;
        let x = x.to_dtype(DType::F32)?;
        let l = required_layer(model, &o.layer, "layer-conductance")?;
        let b = o.baseline.resolve(&x)?;
        let (alphas, _) = o.integration.nodes(o.steps + 1)?;
        let s = alphas.len();
        let n = x.shape()[0];
        let example = x.shape()[1..].to_vec();
        let (xv, bv) = (x.to_vec_f32()?, b.to_vec_f32()?);
        let mut acc: Vec<f64> = Vec::new();
        let mut prev: Option<(Vec<f32>, Vec<f32>)> = None;
        let mut shape = Vec::new();
        Chunks::new(n * s, o.batch_size).run(
            |rows| {
                let c = path_chunk(&xv, &bv, &alphas, rows.clone(), &example)?;
                let t: Vec<usize> = rows.map(|r| targets[r / s]).collect();
                let (g, a) = layer_gradient(model, &c, Objective::Logit(&t), Some(l))?;
                let a = a.expect("layer activation");
                Ok((g.to_vec_f32()?, a.to_vec_f32()?, a.shape()[1..].to_vec()))
            },
            |rows, (g, a, sh)| {
                let u = g.len() / rows.len().max(1);
                if acc.is_empty() {
                    acc = vec![0.0; n * u];
                    shape = sh;
                }
                for (j, r) in rows.enumerate() {
                    let (gr, ar) = (&g[j * u..(j + 1) * u], &a[j * u..(j + 1) * u]);
                    let (i, k) = (r / s, r % s);
                    if k > 0 {
                        let (pa, pg) = prev.as_ref().expect("previous step");
                        let out = &mut acc[i * u..(i + 1) * u];
                        for q in 0..u {
                            out[q] += (ar[q] as f64 - pa[q] as f64) * pg[q] as f64;
                        }
                    }
                    prev = Some((ar.to_vec(), gr.to_vec()));
                }
                Ok(())
            },
        )?;
        let mut out_shape = vec![n];
        out_shape.extend(shape);
        Ok(Explanation {
            attributions: Tensor::from_vec(acc, &out_shape)?.to_dtype(DType::F32)?,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::{IntegratedGradients, Integration};
    use crate::testing::models::*;
    use crate::testing::rel_l2;
    use xai_tensor::Rng;

    fn opts(layer: &str) -> LayerPath {
        LayerPath {
            layer: Some(layer.into()),
            ..Default::default()
        }
    }

    #[test]
    fn layer_ig_on_the_first_layer_sums_like_input_ig_and_is_complete() {
        // For the first (affine) layer, Σ over the layer of layer IG = f(x) − f(b) − gap.
        let m = smooth_mlp(3);
        let x = randn(&mut Rng::new(1), &[4, 6], 1.0);
        let t = [0, 1, 2, 1];
        let e = LayerIntegratedGradients(opts("0"))
            .attribute(&m, &x, &t)
            .unwrap();
        assert_eq!(e.attributions.shape(), &[4, 16]);
        let ig = IntegratedGradients::default()
            .attribute(&m, &x, &t)
            .unwrap();
        let (lg, ig) = (e.completeness_gap.unwrap(), ig.completeness_gap.unwrap());
        for (a, b) in lg.iter().zip(&ig) {
            assert!((a - b).abs() < 1e-4, "{a} vs {b}");
        }
    }

    #[test]
    fn conductance_with_many_steps_approaches_layer_ig_and_sums_to_the_output_change() {
        let m = smooth_mlp(8);
        let x = randn(&mut Rng::new(2), &[3, 6], 1.0);
        let t = [2, 0, 1];
        let o = LayerPath {
            integration: Integration::RiemannTrapezoid,
            steps: 400,
            ..opts("1")
        };
        let c = LayerConductance(o.clone()).attribute(&m, &x, &t).unwrap();
        assert_eq!(c.attributions.shape(), &[3, 16]);
        let fx = target_logits(&m, &x, &t, 256).unwrap();
        let fb = target_logits(&m, &Tensor::zeros(&[3, 6], DType::F32), &t, 256).unwrap();
        let cv = c.attributions.to_vec_f64().unwrap();
        for i in 0..3 {
            let s: f64 = cv[i * 16..(i + 1) * 16].iter().sum();
            assert!((s - (fx[i] - fb[i])).abs() < 1e-2 * (fx[i] - fb[i]).abs().max(0.1));
        }
        // Batch size does not matter.
        let c2 = LayerConductance(LayerPath {
            batch_size: 37,
            ..o
        })
        .attribute(&m, &x, &t)
        .unwrap();
        // Other batch sizes give other GEMM shapes, so fp32 rounding differs; conductance sums
        // differences of nearby activations, which magnifies it. A step paired across a batch
        // boundary with the wrong neighbour would be off by O(1).
        let d = rel_l2(&c2.attributions, &c.attributions);
        assert!(d < 1e-4, "relative L2 difference {d}");
    }

    #[test]
    fn gradient_x_activation_and_missing_layers() {
        let m = cnn(2);
        let x = randn(&mut Rng::new(3), &[2, 2, 5, 5], 1.0);
        let e = LayerGradientXActivation {
            layer: Some("relu".into()),
            ..Default::default()
        }
        .attribute(&m, &x, &[0, 1])
        .unwrap();
        assert_eq!(e.attributions.shape(), &[2, 4, 5, 5]);
        // Σ over relu's output of A ⊙ ∂f/∂A is the logit (the head is linear, no bias).
        let logits = xai_nn::Forward::predict(&m, &x)
            .unwrap()
            .to_vec_f64()
            .unwrap();
        let a = e.attributions.to_vec_f64().unwrap();
        for (i, t) in [0usize, 1].iter().enumerate() {
            let s: f64 = a[i * 100..(i + 1) * 100].iter().sum();
            assert!((s - logits[i * 3 + t]).abs() < 1e-4);
        }
        let err = LayerGradientXActivation::default()
            .attribute(&m, &x, &[0, 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("layer is needed by"), "{err}");
        let err = LayerConductance(opts("nope"))
            .attribute(&m, &x, &[0, 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown layer 'nope'"), "{err}");
    }
}
