//! Robustness of an explanation to small input changes.

use crate::{bad, check_like, rows, Result};
use xai_nn::Forward;
use xai_passive::Attribution;
use xai_tensor::{DType, Rng, Tensor};

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
    if samples == 0 {
        return bad("samples must be at least 1");
    }
    if !(radius.is_finite() && radius >= 0.0) {
        return bad(format!("radius must be a number ≥ 0, got {radius}"));
    }
    let n = x.shape()[0];
    let a = match a {
        Some(a) => a.clone(),
        None => method.attribute(model, x, targets)?.attributions,
    };
    check_like(x, &a, "attributions")?;
    let (xs, a0) = (rows(x)?, rows(&a)?);
    let d = xs.first().map_or(0, Vec::len);
    let delta = Rng::new(seed)
        .uniform(&[n * samples, d], -radius, radius, DType::F64)?
        .to_vec_f64()?;
    let mut data = Vec::with_capacity(n * samples * d);
    let mut tgt = Vec::with_capacity(n * samples);
    for (i, xi) in xs.iter().enumerate() {
        for s in 0..samples {
            let r = &delta[(i * samples + s) * d..(i * samples + s + 1) * d];
            data.extend(xi.iter().zip(r).map(|(v, e)| (v + e) as f32));
            tgt.push(targets[i]);
        }
    }
    let mut shape = x.shape().to_vec();
    shape[0] = n * samples;
    let pert = method.attribute(model, &Tensor::from_vec(data, &shape)?, &tgt)?;
    if pert.attributions.numel() != n * samples * d {
        return bad("the method's attributions do not have the input's shape");
    }
    let ap = pert.attributions.to_vec_f64()?;
    Ok((0..n)
        .map(|i| {
            let norm = a0[i].iter().map(|v| v * v).sum::<f64>().sqrt();
            let norm = if norm > 0.0 { norm } else { 1.0 };
            (0..samples)
                .map(|s| {
                    let o = (i * samples + s) * d;
                    a0[i]
                        .iter()
                        .zip(&ap[o..o + d])
                        .map(|(p, q)| (p - q).powi(2))
                        .sum::<f64>()
                        .sqrt()
                        / norm
                })
                .fold(0.0, f64::max)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use xai_autodiff::Var;
    use xai_nn::layers::{Activation, ActivationKind, Linear};
    use xai_nn::{NamedLayer, Sequential};
    use xai_passive::methods::Saliency;

    fn model(relu: bool) -> Sequential {
        let w = Tensor::from_slice(&[1.0, -2.0, 0.5, 3.0, 0.5, 1.0], &[2, 3])
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        let mut layers = vec![NamedLayer {
            name: "0".into(),
            layer: Box::new(Linear {
                weight: Var::leaf(w),
                bias: None,
            }) as Box<dyn xai_nn::Module>,
        }];
        if relu {
            layers.insert(
                0,
                NamedLayer {
                    name: "r".into(),
                    layer: Box::new(Activation::new(ActivationKind::Relu)),
                },
            );
        }
        Sequential::new(vec![3], layers, None).unwrap()
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
        assert!(max_sensitivity(&m, &sal, &x, None, &[0], 5, f64::NAN, 3).is_err());
    }
}
