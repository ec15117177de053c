//! Gradient SHAP / expected gradients (Lundberg & Lee, *A Unified Approach to Interpreting
//! Model Predictions*, NeurIPS 2017; Erion et al., *Improving performance of deep learning
//! models with axiomatic attribution priors and expected gradients*, 2021; Captum's
//! `GradientShap`): for S samples per input, a baseline b drawn uniformly from the given
//! distribution, α ~ U(0, 1) and x̃ = x + ε, ε ~ N(0, σ²I),
//! a(x) = (1/S) Σₛ (x̃ₛ − bₛ) ⊙ ∂f_c(bₛ + αₛ(x̃ₛ − bₛ))/∂x.
//! In expectation Σa = f_c(x) − E_b f_c(b) (for σ = 0).
//!
//! σ is relative, as for SmoothGrad: noise_std · (max x − min x) per example (default 0: no
//! noise; Captum's `stdevs` is absolute). Seeded Philox streams: same seed, same result, but
//! not Captum's random numbers.

use super::target_gradient;
use crate::attribution::{Attribution, Explanation};
use crate::batching::{batch_shape, host_batch, Chunks};
use crate::config::{at_least_one, bad, count_in, finite_non_negative, MethodConfig, MAX_SAMPLES};
use crate::DEFAULT_BATCH_SIZE;
use crate::{PassiveError, Result};
use xai_nn::Differentiable;
use xai_tensor::{DType, Rng, Tensor};

/// Expected gradients over `baselines` with `samples` (default 50) samples per input and
/// `noise_std` (default 0) relative input noise, seeded by `seed`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GradientShap {
    /// The baseline distribution `[B, ...input_shape]` (or one baseline; required).
    #[serde(with = "crate::config::tensor")]
    pub baselines: Option<Tensor>,
    /// Samples per input (S ≥ 1).
    pub samples: usize,
    /// Input noise σ relative to each example's range max x − min x.
    pub noise_std: f64,
    /// Seed of the samples (same seed, same result).
    pub seed: u64,
    /// Rows (samples × examples) per model call.
    pub batch_size: usize,
}

impl Default for GradientShap {
    fn default() -> Self {
        Self {
            baselines: None,
            samples: 50,
            noise_std: 0.0,
            seed: 0,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for GradientShap {
    fn validate(&self) -> Result<()> {
        count_in("samples", self.samples, MAX_SAMPLES)?;
        finite_non_negative("noise_std", self.noise_std)?;
        at_least_one("batch_size", self.batch_size)
    }
}

impl<M: Differentiable + ?Sized> Attribution<M> for GradientShap {
    fn name(&self) -> &'static str {
        "gradient-shap"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let o = self;
        let x = x.to_dtype(DType::F32)?;
        let example = x.shape()[1..].to_vec();
        let (n, f) = (x.shape()[0], x.numel() / x.shape()[0].max(1));
        let Some(dist) = &o.baselines else {
            return Err(bad(
                "baselines",
                "is needed by gradient-shap: a distribution [B, ...input_shape]",
            ));
        };
        let dist = if dist.shape() == &example[..] {
            dist.reshape(&batch_shape(1, &example))?
        } else if dist.rank() == example.len() + 1 && dist.shape()[1..] == example[..] {
            dist.clone()
        } else {
            return Err(PassiveError::BadArgument(format!(
                "baselines have shape {:?} but the input needs [B, {}]",
                dist.shape(),
                example
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        let nb = dist.shape()[0];
        if nb == 0 || dist.has_non_finite()? {
            return Err(PassiveError::BadArgument(
                "baselines must hold at least one finite baseline".into(),
            ));
        }
        let (s, noise_std) = (o.samples, o.noise_std);
        // Example-major rows: row r is sample r % S of example r / S.
        let mut rng = Rng::new(o.seed);
        let eps = rng
            .normal(&[n * s * f], 0.0, 1.0, DType::F64)?
            .to_vec_f64()?;
        let alpha = rng.uniform(&[n * s], 0.0, 1.0, DType::F64)?.to_vec_f64()?;
        let pick = rng.uniform(&[n * s], 0.0, 1.0, DType::F64)?.to_vec_f64()?;
        let pick: Vec<usize> = pick
            .iter()
            .map(|u| ((u * nb as f64) as usize).min(nb - 1))
            .collect();
        let (xv, dv) = (x.to_vec_f64()?, dist.to_dtype(DType::F64)?.to_vec_f64()?);
        let sigma: Vec<f64> = xv
            .chunks(f.max(1))
            .map(|r| {
                let (lo, hi) = r
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                        (lo.min(v), hi.max(v))
                    });
                noise_std * (hi - lo)
            })
            .collect();
        // (x̃ − b) for row r.
        let delta = |r: usize| -> Vec<f64> {
            let (i, b) = (r / s, pick[r]);
            (0..f)
                .map(|j| xv[i * f + j] + sigma[i] * eps[r * f + j] - dv[b * f + j])
                .collect()
        };
        let mut acc = vec![0.0f64; n * f];
        Chunks::new(n * s, o.batch_size).run(
            |rows| {
                let c = host_batch(rows.clone(), &example, |r, row| {
                    let (d, b) = (delta(r), pick[r]);
                    for (j, v) in row.iter_mut().enumerate() {
                        *v = (dv[b * f + j] + alpha[r] * d[j]) as f32;
                    }
                })?;
                let t: Vec<usize> = rows.map(|r| targets[r / s]).collect();
                Ok(target_gradient(model, &c, &t, None)?.to_vec_f32()?)
            },
            |rows, g| {
                for (j, r) in rows.enumerate() {
                    let (i, d) = (r / s, delta(r));
                    for q in 0..f {
                        acc[i * f + q] += d[q] * g[j * f + q] as f64 / s as f64;
                    }
                }
                Ok(())
            },
        )?;
        Ok(Explanation {
            attributions: Tensor::from_vec(acc, x.shape())?.to_dtype(DType::F32)?,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::{Baseline, IntegratedGradients};
    use crate::testing::models::*;
    use crate::testing::rel_l2;

    #[test]
    fn one_baseline_converges_to_integrated_gradients_and_is_seeded() {
        let m = smooth_mlp(6);
        let x = randn(&mut Rng::new(1), &[2, 6], 1.0);
        let b = randn(&mut Rng::new(2), &[6], 0.3);
        let t = [0, 2];
        let gs = |seed, samples, bs| {
            GradientShap {
                baselines: Some(b.clone()),
                samples,
                seed,
                batch_size: bs,
                ..Default::default()
            }
            .attribute(&m, &x, &t)
            .unwrap()
            .attributions
        };
        let a = gs(3, 4000, 512);
        let ig = IntegratedGradients {
            baseline: Baseline::Tensor(b.clone()),
            ..Default::default()
        }
        .attribute(&m, &x, &t)
        .unwrap();
        let e = rel_l2(&a, &ig.attributions);
        assert!(e < 0.05, "relative L2 to IG {e}");
        // Same seed and settings: the same bits.
        assert_eq!(
            gs(5, 10, 3).to_vec_f32().unwrap(),
            gs(5, 10, 3).to_vec_f32().unwrap()
        );
        // Another batch size draws the same samples and accumulates them in the same order
        // (f64, row order), but the MLP's GEMMs have another row count M (3 vs 20), and
        // OpenBLAS kernels (Haswell, Zen, Prescott) round rows of other M differently. Each
        // gradient is then fp32-close: depth 3 × fan-in ≤ 16 products per output, each
        // rounding by u = 2⁻²⁴, bound the relative error by ~50u ≈ 3e-6.
        let e = rel_l2(&gs(5, 10, 3), &gs(5, 10, 64));
        assert!(e < 1e-5, "batch size 3 vs 64: relative L2 {e}");
        assert!(rel_l2(&gs(5, 10, 3), &gs(6, 10, 3)) > 1e-4);
    }

    #[test]
    fn baselines_of_the_wrong_shape_are_refused() {
        let m = mlp(1);
        let x = Tensor::zeros(&[2, 6], DType::F32);
        let err = GradientShap {
            baselines: Some(Tensor::zeros(&[3, 5], DType::F32)),
            ..Default::default()
        }
        .attribute(&m, &x, &[0, 0])
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("baselines have shape [3, 5] but the input needs [B, 6]"),
            "{err}"
        );
        let err = GradientShap::default()
            .attribute(&m, &x, &[0, 0])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("baselines is needed by gradient-shap"),
            "{err}"
        );
    }
}
