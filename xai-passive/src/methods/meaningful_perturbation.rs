//! Meaningful perturbation (Fong & Vedaldi, *Interpretable Explanations of Black Boxes by
//! Meaningful Perturbation*, ICCV 2017), the deletion game: a smooth mask m ∈ [0,1]^{s×s}
//! (low resolution, bilinearly upsampled to the input's H × W as M = U(m)) per input minimises
//!
//! λ₁ · mean|1 − m| + λ₂ · TV_β(m) + p_c(x ⊙ M + x̃ ⊙ (1 − M) + ε),
//!
//! TV_β(m) = mean |m_{i+1,j} − m_{i,j}|^β + mean |m_{i,j+1} − m_{i,j}|^β (β = 3), p_c the
//! softmax probability of the target class, x̃ the reference (the input blurred by a Gaussian of
//! σ = 10·max(H, W)/224, the paper's 10 px at 224 px, or the `baseline`), ε optional
//! Gaussian noise per step (`noise_std` relative to the example's range, the usual guard
//! against adversarial masks). Adam at rate 0.1 from m₀ = 1, m projected on [0,1] after each
//! step, β = 3. Defaults λ₁ = 0.1, λ₂ = 0.05 (on means, so independent of the mask size): with
//! a weaker λ₁ the constant all-deleted mask (TV = 0) beats deleting a small region. All inputs are optimised together in one batch (the loss is a sum over
//! examples, so their masks do not interact). The attribution is the deletion map 1 − M at
//! input resolution, broadcast over the channels. Needs gradients (`Differentiable`).

use crate::attribution::{Attribution, Explanation};
use crate::baseline::Baseline;
use crate::config::{
    at_least_one, bad, count_in, finite_non_negative, MethodConfig, MAX_ITERATIONS,
};
use crate::{PassiveError, Result};
use xai_autodiff::{enable_grad, grad_tensors, Var};
use xai_nn::optim::{Optimizer, OptimizerKind};
use xai_nn::Differentiable;
use xai_tensor::{DType, Rng, Tensor};

/// TV exponent β (the paper's 3).
const TV_BETA: f64 = 3.0;
/// Adam's learning rate on the mask.
const LEARNING_RATE: f64 = 0.1;

/// The reference x̃ that deleted pixels take.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MaskReference {
    /// `blur` / `blur:S`: the input blurred by a Gaussian of σ = S pixels (default
    /// 10·max(H, W)/224).
    Blur(Option<f64>),
    /// `baseline`: the method's `baseline`.
    Baseline,
}

impl std::fmt::Display for MaskReference {
    /// `blur`, `blur:S` or `baseline`, as the parser reads them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MaskReference::Blur(None) => f.write_str("blur"),
            MaskReference::Blur(Some(s)) => write!(f, "blur:{s}"),
            MaskReference::Baseline => f.write_str("baseline"),
        }
    }
}

crate::config::serde_as_text!(MaskReference);

impl std::str::FromStr for MaskReference {
    type Err = PassiveError;
    /// Parses `blur`, `blur:S` (S > 0) or `baseline`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "blur" => return Ok(MaskReference::Blur(None)),
            "baseline" => return Ok(MaskReference::Baseline),
            _ => {}
        }
        match s.strip_prefix("blur:").map(str::parse::<f64>) {
            Some(Ok(v)) if v > 0.0 && v.is_finite() => Ok(MaskReference::Blur(Some(v))),
            _ => Err(PassiveError::BadArgument(format!(
                "reference must be blur, blur:SIGMA with SIGMA > 0, or baseline, got '{s}'"
            ))),
        }
    }
}

/// Meaningful perturbation with `iterations` Adam steps (default 300), `lambda_l1`,
/// `lambda_tv`, `mask_size` (default ⌈max(H, W)/4⌉), `reference`, `noise_std` (default 0)
/// and `seed`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct MeaningfulPerturbation {
    /// Adam steps on the mask (≥ 1).
    pub iterations: usize,
    /// λ₁ ≥ 0 on mean |1 − m|.
    pub lambda_l1: f64,
    /// λ₂ ≥ 0 on the mask's total variation.
    pub lambda_tv: f64,
    /// Side s of the low-resolution mask (`None`: ⌈max(H, W)/4⌉).
    pub mask_size: Option<usize>,
    /// What deleted pixels become.
    pub reference: MaskReference,
    /// The reference of `reference` `baseline`.
    pub baseline: Baseline,
    /// Noise σ added to the perturbed input at every step, relative to the example's range.
    pub noise_std: f64,
    /// Seed of that noise.
    pub seed: u64,
}

impl Default for MeaningfulPerturbation {
    fn default() -> Self {
        Self {
            iterations: 300,
            lambda_l1: 0.1,
            lambda_tv: 0.05,
            mask_size: None,
            reference: MaskReference::Blur(None),
            baseline: Baseline::Zeros,
            noise_std: 0.0,
            seed: 0,
        }
    }
}

impl MethodConfig for MeaningfulPerturbation {
    fn validate(&self) -> Result<()> {
        count_in("iterations", self.iterations, MAX_ITERATIONS)?;
        finite_non_negative("lambda_l1", self.lambda_l1)?;
        finite_non_negative("lambda_tv", self.lambda_tv)?;
        if let Some(s) = self.mask_size {
            at_least_one("mask_size", s)?;
        }
        finite_non_negative("noise_std", self.noise_std)
    }
}

/// Bilinear interpolation matrix `[out, n]` (half-pixel centres, edges clamped), so that
/// upsampling is a product: the same weights as [`super::bilinear_resize`].
fn interpolation_matrix(n: usize, out: usize) -> Vec<f32> {
    let mut u = vec![0.0f32; out * n];
    let scale = n as f64 / out as f64;
    for d in 0..out {
        let src = ((d as f64 + 0.5) * scale - 0.5).max(0.0);
        let i0 = (src.floor() as usize).min(n - 1);
        let i1 = (i0 + 1).min(n - 1);
        let l = src - i0 as f64;
        u[d * n + i0] += (1.0 - l) as f32;
        u[d * n + i1] += l as f32;
    }
    u
}

/// Gaussian blur (σ in pixels, radius ⌈3σ⌉, edges replicated) of every `h × w` plane.
fn gaussian_blur(planes: &[f32], h: usize, w: usize, sigma: f64) -> Vec<f32> {
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f64> = (-r..=r)
        .map(|i| (-(i * i) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let ks: f64 = k.iter().sum();
    let pass = |src: &[f32], along_rows: bool| -> Vec<f32> {
        let mut out = vec![0.0f32; src.len()];
        for (p, o) in src.chunks(h * w).zip(out.chunks_mut(h * w)) {
            for y in 0..h as isize {
                for x in 0..w as isize {
                    let mut acc = 0.0f64;
                    for (t, kv) in (-r..=r).zip(&k) {
                        let (yy, xx) = if along_rows {
                            (y, (x + t).clamp(0, w as isize - 1))
                        } else {
                            ((y + t).clamp(0, h as isize - 1), x)
                        };
                        acc += kv * p[yy as usize * w + xx as usize] as f64;
                    }
                    o[y as usize * w + x as usize] = (acc / ks) as f32;
                }
            }
        }
        out
    };
    pass(&pass(planes, true), false)
}

impl MeaningfulPerturbation {
    fn check(&self, x: &Tensor) -> Result<(usize, usize, usize, usize)> {
        self.validate()?;
        let o = self;
        if x.rank() < 3 {
            return Err(PassiveError::BadArgument(format!(
                "meaningful-perturbation needs image inputs [N, .., H, W], got {:?}",
                x.shape()
            )));
        }
        let (h, w) = (x.shape()[x.rank() - 2], x.shape()[x.rank() - 1]);
        let iterations = o.iterations;
        let s = o.mask_size.unwrap_or(h.max(w).div_ceil(4));
        if s == 0 || s > h.max(w) {
            return Err(bad(
                "mask_size",
                format!(
                    "must be between 1 and the image's larger side {}, got {s}",
                    h.max(w)
                ),
            ));
        }
        Ok((h, w, s, iterations))
    }

    /// x̃ for the batch `x` (f32).
    fn reference(&self, x: &Tensor, h: usize, w: usize) -> Result<Tensor> {
        match self.reference {
            MaskReference::Baseline => Ok(self.baseline.resolve(x)?),
            MaskReference::Blur(sigma) => {
                let sigma = sigma.unwrap_or(10.0 * h.max(w) as f64 / 224.0);
                let v = gaussian_blur(&x.to_vec_f32()?, h, w, sigma);
                Ok(Tensor::from_vec(v, x.shape())?)
            }
        }
    }
}

impl<M: Differentiable + ?Sized> Attribution<M> for MeaningfulPerturbation {
    fn name(&self) -> &'static str {
        "meaningful-perturbation"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        let o = self;
        let x = x.to_dtype(DType::F32)?;
        let (h, w, s, iterations) = self.check(&x)?;
        let n = x.shape()[0];
        let channels = x.numel() / (n * h * w).max(1);
        let reference = self.reference(&x, h, w)?.to_dtype(DType::F32)?;
        // x ⊙ M + x̃ ⊙ (1 − M) = x̃ + (x − x̃) ⊙ M, with x viewed as [N, C', H, W].
        let shape4 = [n, channels, h, w];
        let diff = x.sub(&reference)?.reshape(&shape4)?;
        let reference = reference.reshape(&shape4)?;
        let uh = Var::constant(Tensor::from_vec(interpolation_matrix(s, h), &[h, s])?);
        let uw = Var::constant(Tensor::from_vec(interpolation_matrix(s, w), &[w, s])?);
        // U(m): [N, s, s] → [N, H, W] by two products with the interpolation matrices.
        let upsample = |m: &Var| -> Result<Var> {
            let a = m.reshape(&[n * s, s])?.linear(&uw, None)?; // [N·s, W]
            let a = a
                .reshape(&[n, s, w])?
                .transpose(1, 2)?
                .reshape(&[n * w, s])?;
            let a = a.linear(&uh, None)?.reshape(&[n, w, h])?.transpose(1, 2)?;
            Ok(a.reshape(&[n, 1, h, w])?)
        };
        let index = Tensor::from_vec(
            targets.iter().map(|&t| t as f32).collect::<Vec<_>>(),
            &[n, 1],
        )?;
        let noise_std: Vec<f64> = match o.noise_std {
            r if r > 0.0 => {
                let xv = x.to_vec_f32()?;
                xv.chunks(channels * h * w)
                    .map(|e| {
                        let (lo, hi) = e
                            .iter()
                            .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
                        r * (hi - lo) as f64
                    })
                    .collect()
            }
            _ => Vec::new(),
        };
        let mut rng = Rng::new(o.seed);
        let mut adam = Optimizer::new(
            OptimizerKind::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            0.0,
        );
        let mut mask = Tensor::full(&[n, s, s], 1.0, DType::F32);
        let cells = (s * s) as f64;
        // The mask is optimised by gradients whatever the caller's grad mode.
        enable_grad(|| -> Result<()> {
            for _ in 0..iterations {
                let m = Var::leaf(mask.clone());
                let up = upsample(&m)?;
                let mut input = up.mul_const(&diff)?.add_const(&reference)?;
                if !noise_std.is_empty() {
                    let eps = rng.normal(&shape4, 0.0, 1.0, DType::F32)?;
                    let scale = Tensor::from_vec(
                        noise_std.iter().map(|&v| v as f32).collect::<Vec<_>>(),
                        &[n, 1, 1, 1],
                    )?;
                    input = input.add_const(&eps.mul(&scale)?)?;
                }
                let input = input.reshape(x.shape())?;
                let p = model.forward(&input)?.softmax(1)?;
                let score = p
                    .gather(1, &index.to_dtype(p.value().dtype())?)?
                    .sum_all()?;
                let l1 = m
                    .affine(-1.0, 1.0)?
                    .abs()?
                    .sum_all()?
                    .mul_scalar(o.lambda_l1 / cells)?;
                let mut loss = score.add(&l1)?;
                if s > 1 && o.lambda_tv > 0.0 {
                    let tv_count = ((s - 1) * s) as f64;
                    let dy = m.narrow(1, 1, s - 1)?.sub(&m.narrow(1, 0, s - 1)?)?;
                    let dx = m.narrow(2, 1, s - 1)?.sub(&m.narrow(2, 0, s - 1)?)?;
                    let tv = dy
                        .abs()?
                        .powf(TV_BETA)?
                        .sum_all()?
                        .add(&dx.abs()?.powf(TV_BETA)?.sum_all()?)?
                        .mul_scalar(o.lambda_tv / tv_count)?;
                    loss = loss.add(&tv)?;
                }
                let g = grad_tensors(&loss, None, &[&m], None)?.remove(0);
                mask = adam
                    .update("mask", LEARNING_RATE, &mask, &g)?
                    .clamp(0.0, 1.0)?;
            }
            Ok(())
        })?;
        let up = upsample(&Var::constant(mask))?.value().clone();
        let deletion = up
            .affine(-1.0, 1.0)?
            .broadcast_to(&shape4)?
            .reshape(x.shape())?
            .to_dtype(DType::F32)?;
        Ok(Explanation {
            attributions: deletion,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::models::*;
    use xai_nn::layers::Flatten;
    use xai_nn::Graph;

    /// Logit 0 = Σ of the pixels in rows 1..4, columns 4..7 of an 8×8 image; logit 1 = 3.
    fn planted() -> Graph {
        let mut w = vec![0.0f32; 2 * 64];
        for y in 1..4 {
            for x in 4..7 {
                w[y * 8 + x] = 1.0;
            }
        }
        Graph::sequential(
            vec![1, 8, 8],
            vec![
                layer("flat", Box::new(Flatten)),
                layer(
                    "l",
                    linear(
                        Tensor::from_vec(w, &[2, 64]).unwrap(),
                        Some(Tensor::from_vec(vec![0.0f32, 3.0], &[2]).unwrap()),
                    ),
                ),
            ],
            None,
        )
        .unwrap()
    }

    fn run(opts: MeaningfulPerturbation, x: &Tensor) -> Vec<f32> {
        opts.attribute(&planted(), x, &vec![0; x.shape()[0]])
            .unwrap()
            .attributions
            .to_vec_f32()
            .unwrap()
    }

    #[test]
    fn the_deletion_mask_concentrates_on_the_planted_region() {
        let mut r = Rng::new(1);
        let x = randn(&mut r, &[2, 1, 8, 8], 0.2)
            .add(&Tensor::full(&[2, 1, 8, 8], 1.0, DType::F32))
            .unwrap();
        let opts = MeaningfulPerturbation {
            reference: MaskReference::Baseline,
            mask_size: Some(8),
            iterations: 150,
            noise_std: 0.02,
            seed: 3,
            ..Default::default()
        };
        let a = run(opts.clone(), &x);
        for img in a.chunks(64) {
            let (mut inside, mut outside) = (0.0, 0.0);
            for (p, v) in img.iter().enumerate() {
                assert!((0.0..=1.0).contains(v));
                if (1..4).contains(&(p / 8)) && (4..7).contains(&(p % 8)) {
                    inside += v / 9.0;
                } else {
                    outside += v / 55.0;
                }
            }
            assert!(inside > 0.5 && outside < 0.1, "{inside} vs {outside}");
        }
        // Deterministic for a seed.
        assert_eq!(a, run(opts.clone(), &x));
        // A blurred reference and a coarse mask still find it, on a planted square.
        let square: Vec<f32> = (0..64)
            .map(|p| {
                let inside = (1..4).contains(&(p / 8)) && (4..7).contains(&(p % 8));
                if inside {
                    0.6
                } else {
                    0.0
                }
            })
            .collect();
        let coarse = run(
            MeaningfulPerturbation {
                reference: MaskReference::Blur(Some(1.5)),
                mask_size: Some(4),
                ..opts
            },
            &Tensor::from_vec(square, &[1, 1, 8, 8]).unwrap(),
        );
        let at = |y: usize, x: usize| coarse[y * 8 + x];
        assert!(at(2, 5) > at(7, 0) + 0.3, "{} vs {}", at(2, 5), at(7, 0));
    }

    #[test]
    fn interpolation_rows_sum_to_one_and_bad_values_are_refused() {
        for (n, out) in [(3, 8), (8, 8), (5, 2)] {
            let u = interpolation_matrix(n, out);
            for row in u.chunks(n) {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            }
        }
        let x = Tensor::zeros(&[1, 1, 8, 8], DType::F32);
        let refuse = |opts: MeaningfulPerturbation, needle: &str| {
            let e = opts
                .attribute(&planted(), &x, &[0])
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{e}");
        };
        for iterations in [0, 100_001] {
            refuse(
                MeaningfulPerturbation {
                    iterations,
                    ..Default::default()
                },
                "iterations must be in 1..=100000",
            );
        }
        refuse(
            MeaningfulPerturbation {
                lambda_l1: -1.0,
                ..Default::default()
            },
            "lambda_l1 must be a finite number ≥ 0",
        );
        refuse(
            MeaningfulPerturbation {
                lambda_tv: f64::NAN,
                ..Default::default()
            },
            "lambda_tv must be a finite number ≥ 0",
        );
        refuse(
            MeaningfulPerturbation {
                mask_size: Some(9),
                ..Default::default()
            },
            "mask_size must be between 1 and the image's larger side 8, got 9",
        );
        assert!("blur:0".parse::<MaskReference>().is_err());
        assert_eq!(
            "blur:1.5".parse::<MaskReference>().unwrap(),
            MaskReference::Blur(Some(1.5))
        );
    }
}
