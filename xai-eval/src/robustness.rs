//! Robustness of an explanation to small input changes: max-sensitivity (Yeh et al. 2019) and
//! the local Lipschitz estimate (Alvarez-Melis & Jaakkola 2018). Both re-run the method on
//! perturbed copies of every input, all in one batch.

use crate::{bad, check_like, check_targets, rows, Result};
use xai_nn::Forward;
use xai_passive::Attribution;
use xai_tensor::{DType, Rng, Tensor};

/// Attributions of `samples` perturbed copies x + δ of every example, δ uniform in the L∞ ball
/// of radius r (each feature U(−r, r)), for the examples' targets.
struct Perturbed {
    /// a(x) per example.
    a0: Vec<Vec<f64>>,
    /// δ as the model saw it, f32(x + δ) − f32(x), example-major: `delta[i * samples + s]`.
    delta: Vec<Vec<f64>>,
    /// a(x + δ), flat, in the order of `delta`.
    ap: Vec<f64>,
    /// Features per example.
    d: usize,
}

#[allow(clippy::too_many_arguments)]
fn perturb_and_explain<M: Forward + ?Sized>(
    model: &M,
    method: &dyn Attribution<M>,
    x: &Tensor,
    a: Option<&Tensor>,
    targets: &[usize],
    samples: usize,
    radius: f64,
    seed: u64,
) -> Result<Perturbed> {
    xai_passive::config::count_in("samples", samples, xai_passive::config::MAX_SAMPLES)?;
    if !(radius.is_finite() && radius >= 0.0) {
        return bad(format!("radius must be a number ≥ 0, got {radius}"));
    }
    let n = check_targets(x, targets)?;
    let a = match a {
        Some(a) => a.clone(),
        None => method.attribute(model, x, targets)?.attributions,
    };
    check_like(x, &a, "attributions")?;
    let (xs, a0) = (rows(x)?, rows(&a)?);
    let d = xs.first().map_or(0, Vec::len);
    let noise = Rng::new(seed)
        .uniform(&[n * samples, d], -radius, radius, DType::F64)?
        .to_vec_f64()?;
    let mut data = Vec::with_capacity(n * samples * d);
    let mut delta = Vec::with_capacity(n * samples);
    let mut tgt = Vec::with_capacity(n * samples);
    for (i, xi) in xs.iter().enumerate() {
        for s in 0..samples {
            let r = &noise[(i * samples + s) * d..(i * samples + s + 1) * d];
            let pert: Vec<f32> = xi.iter().zip(r).map(|(v, e)| (v + e) as f32).collect();
            delta.push(
                pert.iter()
                    .zip(xi)
                    .map(|(&p, &v)| p as f64 - v as f32 as f64)
                    .collect(),
            );
            data.extend(pert);
            tgt.push(targets[i]);
        }
    }
    let mut shape = x.shape().to_vec();
    shape[0] = n * samples;
    let pert = method.attribute(model, &Tensor::from_vec(data, &shape)?, &tgt)?;
    if pert.attributions.numel() != n * samples * d {
        return bad("the method's attributions do not have the input's shape");
    }
    Ok(Perturbed {
        a0,
        delta,
        ap: pert.attributions.to_vec_f64()?,
        d,
    })
}

impl Perturbed {
    /// max over samples of ‖a(x + δ_s) − a(x)‖₂ / norm(i, s), per example.
    fn max_ratio(&self, samples: usize, norm: impl Fn(usize, usize) -> f64) -> Vec<f64> {
        let d = self.d;
        (0..self.a0.len())
            .map(|i| {
                (0..samples)
                    .map(|s| {
                        let o = (i * samples + s) * d;
                        let diff = self.a0[i]
                            .iter()
                            .zip(&self.ap[o..o + d])
                            .map(|(p, q)| (p - q).powi(2))
                            .sum::<f64>()
                            .sqrt();
                        diff / norm(i, s)
                    })
                    .fold(0.0, f64::max)
            })
            .collect()
    }
}

/// Max-sensitivity (Yeh et al., *On the (In)fidelity and Sensitivity of Explanations*,
/// NeurIPS 2019; Quantus' `MaxSensitivity` with its default normalisation):
/// SENS_max(a, x) = max_{s ≤ S} ‖a(x + δ_s) − a(x)‖₂ / ‖a(x)‖₂ with δ_s uniform in the L∞ ball
/// of radius r (each feature U(−r, r)), re-running `method` on the perturbed inputs for the
/// same targets. Lower is better; 0 for the gradient of a linear model. When ‖a(x)‖₂ = 0 the
/// unnormalised difference is returned. `a` is the method's attribution of `x` (computed here
/// when `None`). The N·S perturbed inputs go to the method in one batch (it chunks them).
///
/// **Errors** if `samples` is 0, `radius` is not a finite number ≥ 0, or the method fails.
#[allow(clippy::too_many_arguments)]
pub fn max_sensitivity<M: Forward + ?Sized>(
    model: &M,
    method: &dyn Attribution<M>,
    x: &Tensor,
    a: Option<&Tensor>,
    targets: &[usize],
    samples: usize,
    radius: f64,
    seed: u64,
) -> Result<Vec<f64>> {
    let p = perturb_and_explain(model, method, x, a, targets, samples, radius, seed)?;
    let norms: Vec<f64> =
        p.a0.iter()
            .map(|v| {
                let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                if n > 0.0 {
                    n
                } else {
                    1.0
                }
            })
            .collect();
    Ok(p.max_ratio(samples, |i, _| norms[i]))
}

/// Local Lipschitz estimate (Alvarez-Melis & Jaakkola, *On the Robustness of Interpretability
/// Methods*, ICML WHI 2018; Quantus' `LocalLipschitzEstimate`):
/// L(a, x) = max_{s ≤ S} ‖a(x) − a(x + δ_s)‖₂ / ‖δ_s‖₂ with δ_s uniform in the L∞ ball of
/// radius r (each feature U(−r, r); Quantus draws Gaussian δ instead, the sup is over the same
/// neighbourhood), re-running `method` on the perturbed inputs for the same targets. δ is taken
/// as the model saw it (after rounding x + δ to f32). Lower is better: 0 for the gradient of a
/// linear model, max_s ‖w ⊙ δ_s‖/‖δ_s‖ for its input × gradient. A sample with δ = 0 (r = 0)
/// counts 0. `a` is the method's attribution of `x` (computed here when `None`).
///
/// **Errors** if `samples` is 0, `radius` is not a finite number ≥ 0, or the method fails.
#[allow(clippy::too_many_arguments)]
pub fn local_lipschitz<M: Forward + ?Sized>(
    model: &M,
    method: &dyn Attribution<M>,
    x: &Tensor,
    a: Option<&Tensor>,
    targets: &[usize],
    samples: usize,
    radius: f64,
    seed: u64,
) -> Result<Vec<f64>> {
    let p = perturb_and_explain(model, method, x, a, targets, samples, radius, seed)?;
    let norms: Vec<f64> = p
        .delta
        .iter()
        .map(|v| v.iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect();
    // 0/0 (no perturbation) is NaN, which the max skips.
    Ok(p.max_ratio(samples, |i, s| norms[i * samples + s]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use xai_autodiff::Var;
    use xai_nn::layers::{Activation, ActivationKind, Linear};
    use xai_nn::{Graph, Node};
    use xai_passive::methods::{InputXGradient, Saliency};

    fn model(relu: bool) -> Graph {
        let w = Tensor::from_slice(&[1.0, -2.0, 0.5, 3.0, 0.5, 1.0], &[2, 3])
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        let mut layers = vec![Node::new(
            "0",
            Box::new(Linear {
                weight: Var::leaf(w),
                bias: None,
            }),
        )];
        if relu {
            layers.insert(
                0,
                Node::new("r", Box::new(Activation::new(ActivationKind::Relu))),
            );
        }
        Graph::sequential(vec![3], layers, None).unwrap()
    }

    #[test]
    fn saliency_of_a_linear_model_is_perfectly_stable() {
        let m = model(false);
        let x = Tensor::from_slice(&[0.5, -1.0, 2.0, 0.0, 0.1, 0.2], &[2, 3])
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        let sal = Saliency::default();
        let s = max_sensitivity(&m, &sal, &x, None, &[0, 1], 10, 0.5, 3).unwrap();
        assert_eq!(s, vec![0.0, 0.0]);
        // With a ReLU in front, a feature near 0 can switch off: x = (0.05, 1, 1), r = 0.1 —
        // the gradient (1, −2, 0.5) loses its first entry when x₀ + δ < 0: ‖(1,0,0)‖/‖a‖.
        let m = model(true);
        let x = Tensor::from_slice(&[0.05, 1.0, 1.0], &[1, 3])
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        let s = max_sensitivity(&m, &sal, &x, None, &[0], 200, 0.1, 3).unwrap();
        assert!((s[0] - 1.0 / 5.25f64.sqrt()).abs() < 1e-6, "{s:?}");
        assert!(max_sensitivity(&m, &sal, &x, None, &[0], 0, 0.1, 3).is_err());
        // A scalar has no batch axis: an error, not a panic (here and in the faithfulness
        // metrics, which share the check).
        let scalar = Tensor::from_slice(&[1.0], &[]).unwrap();
        assert!(local_lipschitz(&m, &sal, &scalar, Some(&scalar), &[], 1, 0.1, 3).is_err());
        let infd = crate::faithfulness::infidelity(&m, &scalar, &scalar, &[], 1, 0.1, 0, 8);
        assert!(infd.is_err());
        assert!(max_sensitivity(&m, &sal, &x, None, &[0], 5, f64::NAN, 3).is_err());
    }

    fn linear(w: &[f64], k: usize) -> Graph {
        let d = w.len() / k;
        let w = Tensor::from_slice(w, &[k, d])
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        let layer = Linear {
            weight: Var::leaf(w),
            bias: None,
        };
        Graph::sequential(vec![d], vec![Node::new("0", Box::new(layer))], None).unwrap()
    }

    #[test]
    fn local_lipschitz_of_linear_models_by_hand() {
        let x = Tensor::from_slice(&[0.5, -1.0, 2.0, 0.3, 0.0, 0.1, 0.2, -0.7], &[2, 4])
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        // Saliency of a linear model does not move: L = 0.
        let m = linear(&[1.0, -2.0, 0.5, 3.0, 0.5, 1.0, -1.0, 0.25], 2);
        let sal = Saliency::default();
        let l = local_lipschitz(&m, &sal, &x, None, &[0, 1], 10, 0.3, 5).unwrap();
        assert_eq!(l, vec![0.0, 0.0]);
        // Input × gradient: a(x) − a(x') = w ⊙ (x − x'), so the ratio is ‖w ⊙ δ‖/‖δ‖, which is
        // |c| for every δ when every |w_j| = c (here 2; powers of two keep f32 products exact).
        let m = linear(&[2.0, -2.0, 2.0, -2.0, -0.5, 0.5, 0.5, -0.5], 2);
        let ixg = InputXGradient::default();
        let l = local_lipschitz(&m, &ixg, &x, None, &[0, 1], 7, 0.3, 5).unwrap();
        assert!(
            (l[0] - 2.0).abs() < 1e-9 && (l[1] - 0.5).abs() < 1e-9,
            "{l:?}"
        );
        // Unequal weights (1, 3): the ratio lies in [1, 3] and a different seed draws other δ.
        let m = linear(&[1.0, 3.0], 1);
        let x1 = Tensor::from_slice(&[0.4, -0.2], &[1, 2])
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        let l = local_lipschitz(&m, &ixg, &x1, None, &[0], 50, 0.1, 1).unwrap();
        assert!(l[0] > 1.0 && l[0] <= 3.0 + 1e-9, "{l:?}");
        assert_eq!(
            local_lipschitz(&m, &ixg, &x1, None, &[0], 3, 0.0, 1).unwrap(),
            vec![0.0]
        );
        assert!(local_lipschitz(&m, &ixg, &x1, None, &[0], 0, 0.1, 1).is_err());
        assert!(local_lipschitz(&m, &ixg, &x1, None, &[0, 1], 3, 0.1, 1).is_err());
    }
}
