//! LIME (Ribeiro, Singh & Guestrin, *"Why Should I Trust You?": Explaining the Predictions of
//! Any Classifier*, KDD 2016), with binary interpretable features: d features or groups
//! (a mask, or segments `grid:N | slic:N` superpixels) switched on or off against the baseline,
//! x'(z) = z·x + (1 − z)·b, z ∈ {0,1}^d. As lime's text and image explainers, the first sample
//! is z = 1 and each other sample switches off k features chosen uniformly, k ~ U{1..d}.
//! Samples are weighted by lime's exponential kernel on the distance D(z) = ‖1 − z‖₂,
//! π(z) = √(exp(−D²/σ²)) (σ = `kernel_width`, default 0.75·√d as lime's tabular explainer),
//! and the surrogate g(z) = β₀ + β·z is weighted ridge regression with α = 1 and an intercept
//! (scikit-learn's `Ridge()` as lime): β = (Z̃ᵀWZ̃ + I)⁻¹ Z̃ᵀW ỹ on weighted-centred data. The
//! attribution of a feature is its group's β. The local fidelity (weighted R² of g, lime's
//! `score`) is returned by [`Lime::explain_with_fidelity`]. Needs only `Forward`.
//!
//! Tabular LIME (`LimeTabularExplainer` without discretisation, [`LimeSampling::Training`]
//! and [`LimeSampling::AroundInstance`]): samples are drawn from the training data's
//! per-feature statistics, μ + ε ⊙ σ (lime's default) or x + ε ⊙ σ (`sample_around_instance`),
//! ε ~ N(0, I), the first sample being x itself; the interpretable features are the
//! standardized values z = (s − μ)/σ, the kernel is the same exponential kernel on the
//! Euclidean distance ‖z − z_x‖ (width 0.75·√d), and the attribution of feature j is its
//! ridge coefficient β_j (the change of the target logit per training standard deviation).
//!
//! lime's own default, `LimeTabularExplainer` with its quartile discretizer
//! ([`LimeSampling::Quartile`]): every feature is binned at its training quartiles, a sample
//! draws each feature's bin from the training frequencies and a value inside it, the
//! interpretable feature is 1 where the bin is x's own, and β_j is the surrogate's effect of
//! "feature j in x's bin" (the kernel distance is ‖1 − z‖₂ on these binary features).

use super::least_squares::WeightedLeastSquares;
use super::lime_discretizer;
use super::perturbation::{
    chunk_logits, coalition_values, explain_by_groups, group_explanation, Background,
    FeatureGroups, Groups,
};
use crate::attribution::{Attribution, Diagnostic, Explanation};
use crate::baseline::Baseline;
use crate::batching::Chunks;
use crate::config::{at_least_one, bad, MethodConfig, MAX_SAMPLES};
use crate::DEFAULT_BATCH_SIZE;
use crate::{PassiveError, Result};
use ndarray::{ArrayView1, ArrayView2};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use xai_nn::Forward;
use xai_tensor::random::philox4x32;
use xai_tensor::{DType, Rng, Tensor};

/// LIME with `samples` perturbations (default 5000, lime's), `kernel_width`, `baseline`,
/// seeded by `seed`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Lime {
    /// How samples are drawn: on/off against the baseline, or tabular from training rows.
    pub lime_sampling: LimeSampling,
    /// Perturbations per example (≥ 2).
    pub samples: usize,
    /// The kernel width σ > 0 (`None`: 0.75·√d, lime's default).
    pub kernel_width: Option<f64>,
    /// Seed of the samples.
    pub seed: u64,
    /// What a switched-off feature becomes (on/off sampling).
    pub baseline: Baseline,
    /// The interpretable features of on/off sampling: features, or groups of them.
    #[serde(flatten)]
    pub groups: FeatureGroups,
    /// The training rows `[B, ...input_shape]` of the tabular samplings.
    #[serde(with = "crate::config::tensor")]
    pub baselines: Option<Tensor>,
    /// Rows per model call.
    pub batch_size: usize,
}

impl Default for Lime {
    fn default() -> Self {
        Self {
            lime_sampling: LimeSampling::OnOff,
            samples: 5000,
            kernel_width: None,
            seed: 0,
            baseline: Baseline::Zeros,
            groups: FeatureGroups::default(),
            baselines: None,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for Lime {
    fn validate(&self) -> Result<()> {
        if !(2..=MAX_SAMPLES).contains(&self.samples) {
            return Err(bad(
                "samples",
                format!(
                    "must be in 2..={MAX_SAMPLES} for lime, got {}",
                    self.samples
                ),
            ));
        }
        if let Some(w) = self.kernel_width {
            if !(w > 0.0 && w.is_finite()) {
                return Err(bad(
                    "kernel_width",
                    format!("must be a number > 0, got {w}"),
                ));
            }
        }
        self.groups.validate()?;
        at_least_one("batch_size", self.batch_size)
    }
}

/// The surrogate's fit of one example: coefficients β (one per group), intercept β₀ and the
/// weighted R² on the samples.
#[derive(Clone, Debug)]
pub struct LimeFit {
    /// Coefficients, one per interpretable feature.
    pub coefficients: Vec<f64>,
    /// Intercept β₀.
    pub intercept: f64,
    /// Weighted coefficient of determination of the surrogate (local fidelity).
    pub r2: f64,
}

/// Weighted ridge regression with intercept (scikit-learn `Ridge(alpha)` with
/// `sample_weight`) of several targets on the same design: for each `rows`-long column of `ys`
/// returns (β, β₀, weighted R²). `z` is `rows × p` row-major. The weighted-centred design is
/// factored once ([`WeightedLeastSquares`]); all targets are solved together.
pub fn ridge_with_intercept(
    z: &[f64],
    ys: &[f64],
    w: &[f64],
    p: usize,
    alpha: f64,
) -> Result<Vec<(Vec<f64>, f64, f64)>> {
    xai_tensor::cpu::single_threaded_blas();
    let rows = w.len();
    let k = ys.len() / rows.max(1);
    let sw: f64 = w.iter().sum();
    let z = ArrayView2::from_shape((rows, p), z).map_err(shape_error)?;
    // Targets as columns: `ys` holds one `rows`-long run per target.
    let y = ArrayView2::from_shape((k, rows), ys)
        .map_err(shape_error)?
        .reversed_axes();
    let wv = ArrayView1::from(w);
    let zm = z.t().dot(&wv) / sw;
    let ym = y.t().dot(&wv) / sw;
    let zc = &z - &zm;
    // Σ w z̃ = 0, so Z̃ᵀW(y − ȳ) = Z̃ᵀWy.
    let beta = WeightedLeastSquares::new(zc.view(), w, alpha)?.solve(y)?;
    let b0 = &ym - &beta.t().dot(&zm);
    let pred = z.dot(&beta) + &b0;
    Ok((0..k)
        .map(|t| {
            let (mut ss_res, mut ss_tot) = (0.0, 0.0);
            for r in 0..rows {
                ss_res += w[r] * (y[[r, t]] - pred[[r, t]]).powi(2);
                ss_tot += w[r] * (y[[r, t]] - ym[t]).powi(2);
            }
            let r2 = if ss_tot > 0.0 {
                1.0 - ss_res / ss_tot
            } else {
                1.0
            };
            (beta.column(t).to_vec(), b0[t], r2)
        })
        .collect())
}

fn shape_error(e: ndarray::ShapeError) -> PassiveError {
    PassiveError::BadArgument(format!("least-squares design: {e}"))
}

/// LIME's sample count S and kernel width σ (default 0.75·√d) for d interpretable features
/// (of a configuration [`Lime::explain_with_fidelity`] has validated).
fn samples_and_width(o: &Lime, d: usize) -> (usize, f64) {
    (
        o.samples,
        o.kernel_width.unwrap_or(0.75 * (d as f64).sqrt()),
    )
}

/// LIME's exponential kernel as a regression weight: √exp(−D²/σ²) for squared distance D².
fn kernel(d2: f64, width: f64) -> f64 {
    (-d2 / (width * width)).exp().sqrt()
}

impl Lime {
    /// Attributions and, per example, the surrogate's fit (coefficients, intercept, R²); the
    /// explanation carries the R² as its `local_r2` diagnostic.
    pub fn explain_with_fidelity<M: Forward + ?Sized>(
        &self,
        model: &M,
        x: &Tensor,
        targets: &[usize],
    ) -> Result<(Explanation, Vec<LimeFit>)> {
        self.validate()?;
        let (mut e, fits) = if self.lime_sampling != LimeSampling::OnOff {
            self.explain_tabular(model, x, targets)?
        } else {
            self.explain_on_off(model, x, targets)?
        };
        e.diagnostics.push(Diagnostic {
            name: "local_r2",
            description: "local fidelity (weighted R² per example)",
            per_example: fits.iter().map(|f| f.r2).collect(),
        });
        Ok((e, fits))
    }

    /// LIME over on/off perturbations of features or groups against the baseline.
    fn explain_on_off<M: Forward + ?Sized>(
        &self,
        model: &M,
        x: &Tensor,
        targets: &[usize],
    ) -> Result<(Explanation, Vec<LimeFit>)> {
        let o = self;
        let run = |baseline: &Baseline, x: &Tensor, targets: &[usize], groups: &Groups| {
            let example = x.shape()[1..].to_vec();
            let d = groups.count;
            let n = x.shape()[0];
            let (s, width) = samples_and_width(o, d);
            let mut rng = Rng::new(o.seed);
            let mut z = vec![true; s * d];
            let counts = rng.uniform(&[s], 0.0, 1.0, DType::F64)?.to_vec_f64()?;
            for (k, u) in counts.iter().enumerate().skip(1) {
                let off = ((u * d as f64) as usize).min(d - 1) + 1;
                for &j in &rng.permutation(d)[..off] {
                    z[k * d + j] = false;
                }
            }
            let weights: Vec<f64> = z
                .chunks(d.max(1))
                .map(|r| {
                    let d2 = r.iter().filter(|b| !**b).count() as f64;
                    kernel(d2, width)
                })
                .collect();
            let bg = Background::resolve(baseline, None, x)?;
            let v = coalition_values(
                model,
                &x.to_vec_f32()?,
                &example,
                targets,
                o.batch_size,
                groups,
                &bg,
                s,
                |c, g| z[c * d + g],
            )?;
            let zf: Vec<f64> = z.iter().map(|&b| f64::from(u8::from(b))).collect();
            let mut phi = Vec::with_capacity(n * d);
            let mut fits = Vec::with_capacity(n);
            for (beta, b0, r2) in ridge_with_intercept(&zf, &v, &weights, d, 1.0)? {
                phi.extend(&beta);
                fits.push(LimeFit {
                    coefficients: beta,
                    intercept: b0,
                    r2,
                });
            }
            Ok((group_explanation(&phi, groups, x, targets, None)?, fits))
        };
        explain_by_groups(&o.groups, &o.baseline, x, targets, run)
    }

    /// Tabular LIME from the training data's statistics (see [`LimeSampling`]).
    fn explain_tabular<M: Forward + ?Sized>(
        &self,
        model: &M,
        x: &Tensor,
        targets: &[usize],
    ) -> Result<(Explanation, Vec<LimeFit>)> {
        let o = self;
        let mode = o.lime_sampling.name();
        if o.groups.mask.is_some() || o.groups.segments.is_some() {
            return Err(bad(
                "lime_sampling",
                format!("{mode} perturbs every feature; a mask or segments need on-off"),
            ));
        }
        let x = x.to_dtype(DType::F32)?;
        let example = x.shape()[1..].to_vec();
        let (n, d) = (x.shape()[0], example.iter().product::<usize>());
        let data = o.baselines.as_ref().ok_or_else(|| {
            bad(
                "baselines",
                format!("(the training rows) are needed by lime's {mode} sampling"),
            )
        })?;
        let rows_ok = data.rank() >= 2 && data.shape()[1..].iter().product::<usize>() == d;
        let dv = data.to_vec_f64()?;
        if !rows_ok || dv.is_empty() || dv.iter().any(|v| !v.is_finite()) {
            return Err(PassiveError::BadArgument(format!(
                "lime's training data has shape {:?} but needs finite rows of {d} features",
                data.shape()
            )));
        }
        let (s, width) = samples_and_width(o, d);
        if o.lime_sampling == LimeSampling::Quartile {
            return self.explain_quartile(model, &x, targets, &dv, s, width);
        }
        // scikit-learn's StandardScaler: population σ, 1 for constant features.
        let rows = dv.len() / d;
        let mean: Vec<f64> = (0..d)
            .map(|j| dv.iter().skip(j).step_by(d).sum::<f64>() / rows as f64)
            .collect();
        let scale: Vec<f64> = (0..d)
            .map(|j| {
                let var = dv
                    .iter()
                    .skip(j)
                    .step_by(d)
                    .map(|v| (v - mean[j]).powi(2))
                    .sum::<f64>()
                    / rows as f64;
                if var > 0.0 {
                    var.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        let xv = x.to_vec_f64()?;
        // Samples in the standardized space: z = ε for `training` (μ + εσ standardized) and
        // (x − μ)/σ + ε around the instance; sample 0 is the instance itself. A data-space row
        // is μ + zσ. The noise comes from a counter-based stream (example, sample), so each
        // sample is drawn once, in any order; examples go in groups whose samples fit in
        // about 32 MiB.
        let key = [o.seed as u32, (o.seed >> 32) as u32];
        let group = (MAX_TABULAR_VALUES / (s * d).max(1)).clamp(1, n.max(1));
        let mut per = Vec::with_capacity(n);
        for first in (0..n).step_by(group) {
            let examples = first..(first + group).min(n);
            let (z, y) = sample_and_eval(
                model,
                &example,
                examples.len() * s,
                o.batch_size,
                |r, zr: &mut [f64], vr| {
                    let (i, k) = (first + r / s, r % s);
                    let xi = &xv[i * d..(i + 1) * d];
                    if k > 0 {
                        standard_normals(key, i, k, zr);
                    }
                    if k == 0 || o.lime_sampling == LimeSampling::AroundInstance {
                        for j in 0..d {
                            zr[j] += (xi[j] - mean[j]) / scale[j];
                        }
                    }
                    for (j, v) in vr.iter_mut().enumerate() {
                        *v = (mean[j] + zr[j] * scale[j]) as f32;
                    }
                },
                |r| targets[first + r / s],
            )?;
            // Squared Euclidean distance of the standardized row to the instance's.
            per.extend(fit_examples(&z, &y, s, d, |r, x0| {
                kernel(r.iter().zip(x0).map(|(a, b)| (a - b).powi(2)).sum(), width)
            })?);
        }
        tabular_explanation(per, x.shape(), targets)
    }

    /// lime's default tabular LIME: quartile bins (see [`LimeSampling::Quartile`]).
    /// Sample 0 is x itself (all interpretable features 1); the kernel distance is
    /// ‖1 − z‖₂ on the binary features, as lime's (its scaler leaves them as they are).
    fn explain_quartile<M: Forward + ?Sized>(
        &self,
        model: &M,
        x: &Tensor,
        targets: &[usize],
        data: &[f64],
        s: usize,
        width: f64,
    ) -> Result<(Explanation, Vec<LimeFit>)> {
        let o = self;
        let example = x.shape()[1..].to_vec();
        let (n, d) = (x.shape()[0], example.iter().product::<usize>());
        let bins = lime_discretizer::fit_all(data, d)?;
        let xv = x.to_vec_f64()?;
        let key = [o.seed as u32, (o.seed >> 32) as u32];
        // The binary rows are bytes: groups of examples up to 8 × MAX_TABULAR_VALUES (32 MiB).
        let group = (8 * MAX_TABULAR_VALUES / (s * d).max(1)).clamp(1, n.max(1));
        let mut per = Vec::with_capacity(n);
        // x's own bin of every feature, per example.
        let own: Vec<usize> = xv
            .chunks(d)
            .flat_map(|xi| bins.iter().zip(xi).map(|(b, &v)| b.bin(v)))
            .collect();
        for first in (0..n).step_by(group) {
            let examples = first..(first + group).min(n);
            let rows = examples.len() * s;
            // One stream per (example, sample), as for the other samplings.
            let (z, y) = sample_and_eval(
                model,
                &example,
                rows,
                o.batch_size,
                |r, zr: &mut [u8], vr| {
                    let (i, k) = (first + r / s, r % s);
                    let xi = &xv[i * d..(i + 1) * d];
                    if k == 0 {
                        zr.fill(1);
                        for (v, &x) in vr.iter_mut().zip(xi) {
                            *v = x as f32;
                        }
                        return;
                    }
                    let mut stream = sample_stream(key, i, k);
                    for j in 0..d {
                        let (b, v) = bins[j].sample(&mut stream);
                        zr[j] = u8::from(b == own[i * d + j]);
                        vr[j] = v as f32;
                    }
                },
                |r| targets[first + r / s],
            )?;
            // Squared distance to the all-ones first row: the number of zeros.
            per.extend(fit_examples(&z, &y, s, d, |r, _| {
                kernel(r.iter().filter(|&&b| b == 0).count() as f64, width)
            })?);
        }
        tabular_explanation(per, x.shape(), targets)
    }
}

/// Tabular LIME's samples through the chunk engine ([`Chunks::run`]): `draw(r, z, x)` fills
/// sample r's interpretable row z (one value per input feature, zeroed) and its model input x
/// inside the chunk's task ([`chunk_logits`]). Returns the interpretable rows (row-major, in
/// row order) and each row's logit of class `target(r)`.
fn sample_and_eval<M: Forward + ?Sized, Z: Copy + Default + Send>(
    model: &M,
    example: &[usize],
    rows: usize,
    batch_size: usize,
    draw: impl Fn(usize, &mut [Z], &mut [f32]) + Sync,
    target: impl Fn(usize) -> usize + Sync,
) -> Result<(Vec<Z>, Vec<f64>)> {
    let d: usize = example.iter().product();
    let (mut z, mut y) = (Vec::with_capacity(rows * d), Vec::with_capacity(rows));
    Chunks::new(rows, batch_size).run(
        |range| {
            let mut zc = vec![Z::default(); range.len() * d];
            let first = range.start;
            let fill = |r: usize, x: &mut [f32]| draw(r, &mut zc[(r - first) * d..][..d], x);
            let yc = chunk_logits(model, example, range, fill, &target)?;
            Ok((zc, yc))
        },
        |_, (zc, yc)| {
            z.extend(zc);
            y.extend(yc);
            Ok(())
        },
    )?;
    Ok((z, y))
}

/// Tabular LIME's surrogate of every example, in parallel: `z` holds S = `s` interpretable
/// rows of `d` values per example (row 0: the instance), `y` their target logits; each row is
/// weighted by `weight(row, row 0)`, and the fit is [`ridge_with_intercept`] with α = 1.
fn fit_examples<Z: Copy + Into<f64> + Sync>(
    z: &[Z],
    y: &[f64],
    s: usize,
    d: usize,
    weight: impl Fn(&[Z], &[Z]) -> f64 + Sync,
) -> Result<Vec<LimeFit>> {
    z.par_chunks(s * d)
        .zip(y.par_chunks(s))
        .map(|(zi, yi)| {
            let w: Vec<f64> = zi.chunks(d).map(|r| weight(r, &zi[..d])).collect();
            let zf: Vec<f64> = zi.iter().map(|&v| v.into()).collect();
            let (beta, b0, r2) = ridge_with_intercept(&zf, yi, &w, d, 1.0)?
                .pop()
                .ok_or_else(|| PassiveError::BadArgument("lime: no fit".into()))?;
            Ok(LimeFit {
                coefficients: beta,
                intercept: b0,
                r2,
            })
        })
        .collect()
}

/// The explanation of tabular LIME: each example's coefficients, in the input's shape.
fn tabular_explanation(
    per: Vec<LimeFit>,
    shape: &[usize],
    targets: &[usize],
) -> Result<(Explanation, Vec<LimeFit>)> {
    let a: Vec<f64> = per.iter().flat_map(|f| f.coefficients.clone()).collect();
    let e = Explanation {
        attributions: Tensor::from_vec(a, shape)?.to_dtype(DType::F32)?,
        targets: targets.to_vec(),
        completeness_gap: None,
        diagnostics: Vec::new(),
    };
    Ok((e, per))
}

/// Values of the standardized samples held at once by tabular LIME (f64, 32 MiB).
const MAX_TABULAR_VALUES: usize = 1 << 22;

/// The random stream of sample `k` of example `i` under `key`: xoshiro256++ seeded by
/// Philox4x32 of (k, i), so each sample is drawn once, in any order, on any thread.
fn sample_stream(key: [u32; 2], i: usize, k: usize) -> Xoshiro256PlusPlus {
    let mut seed = [0u8; 32];
    for (half, bytes) in seed.chunks_mut(16).enumerate() {
        let w = philox4x32([k as u32, i as u32, half as u32, 0x4c49_4d45], key);
        for (b, word) in bytes.chunks_mut(4).zip(w) {
            b.copy_from_slice(&word.to_le_bytes());
        }
    }
    Xoshiro256PlusPlus::from_seed(seed)
}

/// Standard normals for sample `k` of example `i` under `key`, from its [`sample_stream`]:
/// Ziggurat sampling (Marsaglia & Tsang 2000, `rand_distr::StandardNormal`).
fn standard_normals(key: [u32; 2], i: usize, k: usize, out: &mut [f64]) {
    let mut stream = sample_stream(key, i, k);
    for v in out {
        *v = StandardNormal.sample(&mut stream);
    }
}

/// How LIME perturbs (parameter `lime_sampling`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LimeSampling {
    /// `on-off`: binary interpretable features (features, mask groups or superpixels)
    /// switched off to the baseline (lime's text and image explainers).
    #[default]
    OnOff,
    /// `training`: lime's `LimeTabularExplainer` default (no discretisation): samples
    /// μ + ε ⊙ σ, ε ~ N(0, I), from the training data's per-feature mean μ and standard
    /// deviation σ.
    Training,
    /// `around-instance`: `sample_around_instance=True`: samples x + ε ⊙ σ.
    AroundInstance,
    /// `quartile`: `LimeTabularExplainer`'s default (`discretize_continuous=True`,
    /// `discretizer='quartile'`): each feature is binned at its training quartiles; a sample
    /// draws every feature's bin from the training frequencies and a value in it (see
    /// `lime_discretizer`); the interpretable feature is 1 where the bin is x's own.
    Quartile,
}

impl LimeSampling {
    /// Its spelling in parameters and reports.
    pub fn name(&self) -> &'static str {
        match self {
            LimeSampling::OnOff => "on-off",
            LimeSampling::Training => "training",
            LimeSampling::AroundInstance => "around-instance",
            LimeSampling::Quartile => "quartile",
        }
    }
}

impl std::fmt::Display for LimeSampling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

crate::config::serde_as_text!(LimeSampling);

impl std::str::FromStr for LimeSampling {
    type Err = PassiveError;
    /// Parses `on-off`, `training`, `around-instance` or `quartile`.
    fn from_str(s: &str) -> Result<Self> {
        [
            LimeSampling::OnOff,
            LimeSampling::Training,
            LimeSampling::AroundInstance,
            LimeSampling::Quartile,
        ]
        .into_iter()
        .find(|m| m.name() == s)
        .ok_or_else(|| {
            PassiveError::BadArgument(format!(
                "lime sampling must be on-off, training, around-instance or quartile, got '{s}'"
            ))
        })
    }
}

impl<M: Forward + ?Sized> Attribution<M> for Lime {
    fn name(&self) -> &'static str {
        "lime"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        Ok(self.explain_with_fidelity(model, x, targets)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::Baseline;
    use crate::testing::models::*;
    use xai_nn::Graph;

    /// f(x) = W x with two outputs over six features, and W.
    fn linear_model() -> (Tensor, Graph) {
        let w = Tensor::from_vec(
            vec![
                1.0f32, -2.0, 0.5, 3.0, 0.0, 1.5, 0.2, 0.1, -1.0, 2.0, 0.7, -0.3,
            ],
            &[2, 6],
        )
        .unwrap();
        let m =
            Graph::sequential(vec![6], vec![layer("l", linear(w.clone(), None))], None).unwrap();
        (w, m)
    }

    #[test]
    fn recovers_the_coefficients_of_a_linear_model() {
        let (w, m) = linear_model();
        let x = Tensor::from_vec(
            vec![
                2.0f32, 1.0, 4.0, -1.0, 1.0, 2.0, 0.5, -3.0, 1.0, 2.0, 0.0, 1.0,
            ],
            &[2, 6],
        )
        .unwrap();
        let (e, fits) = Lime {
            baseline: Baseline::Constant(0.5),
            samples: 5000,
            ..Default::default()
        }
        .explain_with_fidelity(&m, &x, &[0, 1])
        .unwrap();
        // f(z) = Σ z_j w_j (x_j − b_j) + const: β_j = w_j (x_j − 0.5).
        let (wv, xv) = (w.to_vec_f64().unwrap(), x.to_vec_f64().unwrap());
        let got = e.attributions.to_vec_f64().unwrap();
        for i in 0..2 {
            for j in 0..6 {
                let want = wv[i * 6 + j] * (xv[i * 6 + j] - 0.5);
                let g = got[i * 6 + j];
                assert!(
                    (g - want).abs() <= 0.01 * (1.0 + want.abs()),
                    "{g} vs {want}"
                );
            }
            assert!(fits[i].r2 > 0.999, "{}", fits[i].r2);
            // The explanation carries the same R² as its diagnostic.
            assert_eq!(e.diagnostics[0].name, "local_r2");
            assert_eq!(e.diagnostics[0].per_example[i], fits[i].r2);
        }
    }

    #[test]
    fn grid_segments_share_one_value_and_runs_are_seeded() {
        let m = cnn(1);
        let x = randn(&mut Rng::new(2), &[1, 2, 5, 5], 1.0);
        let run = |seed| {
            Lime {
                groups: FeatureGroups::segments("grid:2"),
                samples: 300,
                seed,
                ..Default::default()
            }
            .attribute(&m, &x, &[1])
            .unwrap()
            .attributions
            .to_vec_f32()
            .unwrap()
        };
        let a = run(3);
        assert_eq!(a, run(3));
        assert_ne!(a, run(4));
        // Pixel (0, 0) and (1, 1) are in the same cell, in both channels.
        assert_eq!(a[0], a[6]);
        assert_eq!(a[0], a[25]);
    }

    #[test]
    fn tabular_lime_recovers_coefficients_scaled_by_the_training_std() {
        let w = Tensor::from_vec(
            vec![
                1.0f32, -2.0, 0.5, 3.0, 0.0, 1.5, 0.2, 0.1, -1.0, 2.0, 0.7, -0.3,
            ],
            &[2, 6],
        )
        .unwrap();
        let b = Tensor::from_vec(vec![0.3f32, -0.1], &[2]).unwrap();
        let m =
            Graph::sequential(vec![6], vec![layer("l", linear(w.clone(), Some(b)))], None).unwrap();
        // Training rows with per-feature spreads 1..6 and offsets.
        let mut r = Rng::new(21);
        let raw = randn(&mut r, &[400, 6], 1.0).to_vec_f32().unwrap();
        let train: Vec<f32> = raw
            .iter()
            .enumerate()
            .map(|(q, v)| v * (1 + q % 6) as f32 + (q % 6) as f32 - 2.0)
            .collect();
        let tv: Vec<f64> = train.iter().map(|&v| v as f64).collect();
        let sd: Vec<f64> = (0..6)
            .map(|j| {
                let c: Vec<f64> = tv.iter().skip(j).step_by(6).copied().collect();
                let mu = c.iter().sum::<f64>() / 400.0;
                (c.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / 400.0).sqrt()
            })
            .collect();
        let data = Tensor::from_vec(train, &[400, 6]).unwrap();
        // Instances from the training distribution (far ones get small kernel weights, and
        // lime's ridge penalty α = 1 then shrinks β visibly).
        let x = data.narrow(0, 10, 3).unwrap();
        let wv = w.to_vec_f64().unwrap();
        let t = [0, 1, 1];
        for sampling in [LimeSampling::Training, LimeSampling::AroundInstance] {
            let run = |seed| {
                Lime {
                    lime_sampling: sampling,
                    baselines: Some(data.clone()),
                    samples: 5000,
                    seed,
                    ..Default::default()
                }
                .explain_with_fidelity(&m, &x, &t)
                .unwrap()
            };
            let (e, fits) = run(4);
            let got = e.attributions.to_vec_f64().unwrap();
            // f(s) = w·s + b = Σ_j w_j σ_j z_j + const on standardized z.
            for (i, &c) in t.iter().enumerate() {
                for j in 0..6 {
                    let want = wv[c * 6 + j] * sd[j];
                    let g = got[i * 6 + j];
                    assert!(
                        (g - want).abs() <= 0.01 * (1.0 + want.abs()),
                        "{sampling:?}: {g} vs {want}"
                    );
                }
                assert!(fits[i].r2 > 0.9999, "{}", fits[i].r2);
            }
            assert_eq!(got, run(4).0.attributions.to_vec_f64().unwrap());
        }
        // A non-linear model is fitted less well locally, and R² says so.
        let (_, fits) = Lime {
            lime_sampling: LimeSampling::Training,
            baselines: Some(data.clone()),
            samples: 500,
            ..Default::default()
        }
        .explain_with_fidelity(&mlp(3), &x, &[0, 1, 2])
        .unwrap();
        assert!(fits.iter().all(|f| f.r2 < 0.999 && f.r2.is_finite()));
        // Refusals.
        let refuse = |opts: Lime, needle: &str| {
            let e = opts.attribute(&m, &x, &t).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        };
        let tab = Lime {
            lime_sampling: LimeSampling::Training,
            ..Default::default()
        };
        refuse(tab.clone(), "are needed by lime's training sampling");
        refuse(
            Lime {
                baselines: Some(Tensor::zeros(&[4, 5], DType::F32)),
                ..tab.clone()
            },
            "needs finite rows of 6 features",
        );
        refuse(
            Lime {
                baselines: Some(data.clone()),
                groups: FeatureGroups::segments("grid:2"),
                ..tab
            },
            "a mask or segments need on-off",
        );
        assert!("sideways".parse::<LimeSampling>().is_err());
    }

    #[test]
    fn quartile_lime_finds_each_feature_s_bin_effect_and_is_seeded() {
        // f = w·s + b with independent features: E[f | z] = const + Σ_j w_j Δ_j z_j, with
        // Δ_j = E[s_j | own bin] − E[s_j | another bin], so lime's surrogate recovers w_j Δ_j.
        let (w, m) = linear_model();
        // Each column: its own permutation of an even grid of 400 values in [0, 4) (bins of
        // 100, nearly symmetric).
        let train: Vec<f32> = (0..400 * 6)
            .map(|q| {
                let (row, j) = (q / 6, q % 6);
                ((row * (7 + 2 * j)) % 400) as f32 / 100.0
            })
            .collect();
        let data = Tensor::from_vec(train.clone(), &[400, 6]).unwrap();
        let x = data.narrow(0, 10, 3).unwrap();
        let t = [0, 1, 1];
        let run = |seed, batch_size| {
            Lime {
                lime_sampling: LimeSampling::Quartile,
                baselines: Some(data.clone()),
                samples: 20000,
                seed,
                batch_size,
                ..Default::default()
            }
            .explain_with_fidelity(&m, &x, &t)
            .unwrap()
        };
        let (e, fits) = run(4, 256);
        let got = e.attributions.to_vec_f64().unwrap();
        let (wv, xv) = (w.to_vec_f64().unwrap(), x.to_vec_f64().unwrap());
        for (i, &c) in t.iter().enumerate() {
            let want: Vec<f64> = (0..6)
                .map(|j| {
                    let col: Vec<f64> =
                        train.iter().skip(j).step_by(6).map(|&v| v as f64).collect();
                    let bins = super::lime_discretizer::FeatureBins::fit(&col);
                    let own = bins.bin(xv[i * 6 + j]);
                    let (mut s_own, mut n_own, mut s_other, mut n_other) = (0.0, 0.0, 0.0, 0.0);
                    for &v in &col {
                        if bins.bin(v) == own {
                            (s_own, n_own) = (s_own + v, n_own + 1.0);
                        } else {
                            (s_other, n_other) = (s_other + v, n_other + 1.0);
                        }
                    }
                    wv[c * 6 + j] * (s_own / n_own - s_other / n_other)
                })
                .collect();
            let gi = &got[i * 6..(i + 1) * 6];
            let err = gi
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt();
            let norm = want.iter().map(|b| b * b).sum::<f64>().sqrt();
            // Within-bin spread is noise to the surrogate: 20000 samples keep it near 3%.
            assert!(err < 0.06 * norm, "example {i}: {err} {gi:?} vs {want:?}");
            // Within-bin spread is left unexplained, so R² is modest (0.07 to 0.25 here).
            assert!(fits[i].r2 > 0.02 && fits[i].r2 <= 1.0, "{}", fits[i].r2);
        }
        // Seeded (bit for bit); independent of the batch size up to fp32 rounding (other
        // GEMM shapes may round the logits differently); another seed, other samples.
        assert_eq!(run(4, 256).0.attributions.to_vec_f64().unwrap(), got);
        let again = run(4, 37).0.attributions.to_vec_f64().unwrap();
        for (a, b) in again.iter().zip(&got) {
            assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
        }
        assert_ne!(run(5, 256).0.attributions.to_vec_f64().unwrap(), got);
    }

    #[test]
    fn counter_based_normals_are_standard() {
        let mut v = Vec::new();
        for k in 0..4000 {
            let mut row = [0.0; 5];
            standard_normals([7, 0], 3, k, &mut row);
            v.extend(row);
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        let kurt = v.iter().map(|x| (x - mean).powi(4)).sum::<f64>() / n / (var * var);
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.03,
            "{mean} {var}"
        );
        assert!((kurt - 3.0).abs() < 0.15, "{kurt}");
        let mut other = [0.0; 5];
        standard_normals([7, 0], 4, 0, &mut other);
        assert_ne!(other[..], v[..5]);
    }

    use xai_tensor::Rng;
}
