//! Faithfulness: does removing what the explanation calls important change the prediction?
//!
//! - Deletion / insertion (Petsiuk, Das & Saenko, *RISE*, BMVC 2018) and the MoRF
//!   area over the perturbation curve (Samek et al., *Evaluating the visualization of what a
//!   deep neural network has learned*, IEEE TNNLS 2017): [`perturbation_curves`].
//! - Infidelity (Yeh et al., *On the (In)fidelity and Sensitivity of Explanations*, NeurIPS
//!   2019): [`infidelity`], and scale-invariant [`infidelity_scaled`].
//! - The completeness gap of IG/DeepLIFT/LRP-style attributions: [`completeness_gap`].

use crate::{bad, check_like, check_targets, order_desc, rows, Result};
use xai_nn::Forward;
use xai_passive::map_rows;
use xai_passive::methods::Baseline;
use xai_tensor::{DType, Rng, Tensor};

/// Default number of steps K of the perturbation curves (K + 1 points, k/K ∈ [0, 1]).
pub const DEFAULT_STEPS: usize = 20;

/// Which perturbation curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// Deletion: the most relevant features are replaced by the baseline first; a faithful
    /// explanation makes the probability drop fast (lower AUC is better).
    Deletion,
    /// Insertion: starting from the baseline, the most relevant features are revealed first;
    /// a faithful explanation makes the probability rise fast (higher AUC is better).
    Insertion,
}

thread_local! {
    /// Perturbed features per model round of [`perturbation_curves`] (tests lower it).
    static GROUP_FEATURES: std::cell::Cell<usize> = const { std::cell::Cell::new(1 << 22) };
}

/// Perturbation curves of a batch: one curve of K + 1 probabilities per example.
#[derive(Clone, Debug)]
pub struct Curves {
    /// `curves[i][k]`: softmax probability of example i's target after step k.
    pub curves: Vec<Vec<f64>>,
}

impl Curves {
    /// Area under each curve by the trapezoid rule over t_k = k/K ∈ [0, 1]:
    /// AUC = Σ_{k<K} (p_k + p_{k+1}) / (2K).
    pub fn auc(&self) -> Vec<f64> {
        self.curves
            .iter()
            .map(|c| {
                let k = (c.len() - 1).max(1) as f64;
                c.windows(2).map(|w| (w[0] + w[1]) / 2.0).sum::<f64>() / k
            })
            .collect()
    }

    /// The mean curve over the examples, as points (t_k = k/K, mean p_k).
    pub fn mean(&self) -> Vec<(f64, f64)> {
        let len = self.curves.first().map_or(0, Vec::len);
        (0..len)
            .map(|k| {
                let t = k as f64 / (len - 1).max(1) as f64;
                let p = self.curves.iter().map(|c| c[k]).sum::<f64>() / self.curves.len() as f64;
                (t, p)
            })
            .collect()
    }

    /// Area over the perturbation curve (Samek et al. 2017, MoRF order, on deletion curves):
    /// AOPC = 1/(K + 1) Σ_{k=0}^{K} (p_0 − p_k). Higher is better.
    pub fn aopc(&self) -> Vec<f64> {
        self.curves
            .iter()
            .map(|c| c.iter().map(|p| c[0] - p).sum::<f64>() / c.len() as f64)
            .collect()
    }
}

/// Deletion or insertion curves (Petsiuk et al. 2018). For each example of `x: [N, ...]` with
/// attributions `a` (same shape) and d features: features are sorted by attribution
/// descending (stable: ties keep index order); at step k = 0..=K the top m_k = ⌈k·d/K⌉
/// features are replaced by the baseline (deletion: x with top m_k set to b) or revealed over
/// it (insertion: b with top m_k set to x). The curve is the target class's softmax
/// probability p_k. All N·(K + 1) copies go through the model in chunks of `batch_size`.
///
/// **Errors** if `a` does not have `x`'s shape, `steps` is 0 or a target is out of range.
#[allow(clippy::too_many_arguments)]
pub fn perturbation_curves<M: Forward + ?Sized>(
    model: &M,
    x: &Tensor,
    a: &Tensor,
    targets: &[usize],
    curve: Curve,
    steps: usize,
    baseline: &Baseline,
    batch_size: usize,
) -> Result<Curves> {
    check_like(x, a, "attributions")?;
    xai_passive::config::count_in("steps", steps, xai_passive::config::MAX_STEPS)?;
    let n = check_targets(x, targets)?;
    let b = rows(&baseline.resolve(x)?)?;
    let (xs, ats) = (rows(x)?, rows(a)?);
    let d = xs.first().map_or(0, Vec::len);
    // Examples in groups of at most ~4M perturbed features, to bound memory.
    let group = (GROUP_FEATURES.with(|g| g.get()) / ((steps + 1) * d).max(1)).max(1);
    let mut curves = Vec::with_capacity(n);
    for g0 in (0..n).step_by(group) {
        let g1 = (g0 + group).min(n);
        let mut data = Vec::with_capacity((g1 - g0) * (steps + 1) * d);
        for i in g0..g1 {
            let order = order_desc(&ats[i]);
            let (start, fill) = match curve {
                Curve::Deletion => (&xs[i], &b[i]),
                Curve::Insertion => (&b[i], &xs[i]),
            };
            for k in 0..=steps {
                let m = (k * d).div_ceil(steps);
                let mut v = start.clone();
                for &j in &order[..m] {
                    v[j] = fill[j];
                }
                data.extend(v.into_iter().map(|f| f as f32));
            }
        }
        let mut shape = x.shape().to_vec();
        shape[0] = (g1 - g0) * (steps + 1);
        let probs = target_outputs(model, &Tensor::from_vec(data, &shape)?, batch_size, true)?;
        let classes = probs.len() / shape[0];
        if let Some(&bad_t) = targets.iter().find(|&&c| c >= classes) {
            return bad(format!(
                "target class {bad_t} is out of range for a model with {classes} outputs"
            ));
        }
        for (r, &t) in targets[g0..g1].iter().enumerate() {
            let at = |k: usize| probs[(r * (steps + 1) + k) * classes + t];
            curves.push((0..=steps).map(at).collect());
        }
    }
    Ok(Curves { curves })
}

/// Completeness gap (the summation-to-delta / completeness axiom of integrated gradients,
/// DeepLIFT and LRP; Sundararajan et al. 2017, Shrikumar et al. 2017): per example
/// |Σ_j a_j − (f_c(x) − f_c(b))| on the target logit f_c, with b the baseline. 0 for methods
/// that satisfy completeness against the same baseline (up to their quadrature error); works for
/// any attribution, e.g. input × gradient of a linear model (gap 0 against b = 0).
///
/// **Errors** if `a` does not have `x`'s shape, the baseline does not fit or a target is out of
/// range.
pub fn completeness_gap<M: Forward + ?Sized>(
    model: &M,
    x: &Tensor,
    a: &Tensor,
    targets: &[usize],
    baseline: &Baseline,
    batch_size: usize,
) -> Result<Vec<f64>> {
    check_like(x, a, "attributions")?;
    let n = check_targets(x, targets)?;
    let both = Tensor::cat(
        &[
            x.to_dtype(DType::F32)?,
            baseline.resolve(x)?.to_dtype(DType::F32)?,
        ],
        0,
    )?;
    let logits = target_outputs(model, &both, batch_size, false)?;
    let k = logits.len() / (2 * n).max(1);
    if let Some(&bad_t) = targets.iter().find(|&&c| c >= k) {
        return bad(format!(
            "target class {bad_t} is out of range for a model with {k} outputs"
        ));
    }
    Ok(rows(a)?
        .iter()
        .enumerate()
        .map(|(i, ai)| {
            let t = targets[i];
            let delta = logits[i * k + t] - logits[(n + i) * k + t];
            (ai.iter().sum::<f64>() - delta).abs()
        })
        .collect())
}

/// Model outputs `[N, K]` of `x` in chunks, as a flat f64 vector: softmax probabilities when
/// `softmax`, logits otherwise.
fn target_outputs<M: Forward + ?Sized>(
    model: &M,
    x: &Tensor,
    batch_size: usize,
    softmax: bool,
) -> Result<Vec<f64>> {
    let out = map_rows(x, batch_size, |c, _| {
        let l = model.predict(c)?;
        Ok(if softmax { l.softmax(1)? } else { l })
    })?;
    Ok(out.to_vec_f64()?)
}

/// Infidelity (Yeh et al. 2019) of attributions `a` of the target logit f:
/// INFD(a, x) = E_I[(Iᵀa − (f(x) − f(x − I)))²] with I ~ N(0, σ²) on every feature, estimated
/// by the mean over `samples` seeded draws (Captum's `infidelity`, `normalize=False`). Lower is
/// better; 0 for the gradient of a linear model. All N·samples perturbed inputs go through the
/// model in chunks of `batch_size`.
///
/// **Errors** if `a` does not have `x`'s shape, `samples` is 0 or `noise_std` is not a finite
/// number ≥ 0.
#[allow(clippy::too_many_arguments)]
pub fn infidelity<M: Forward + ?Sized>(
    model: &M,
    x: &Tensor,
    a: &Tensor,
    targets: &[usize],
    samples: usize,
    noise_std: f64,
    seed: u64,
    batch_size: usize,
) -> Result<Vec<f64>> {
    let terms = infidelity_terms(model, x, a, targets, samples, noise_std, seed, batch_size)?;
    Ok(terms
        .iter()
        .map(|t| t.iter().map(|(d, f)| (d - f).powi(2)).sum::<f64>() / samples as f64)
        .collect())
}

/// Infidelity of the optimally scaled attributions βa (Yeh et al. 2019, §3; Captum's
/// `infidelity` with `normalize=True`): per example β = E[(Iᵀa)·Δf] / E[(Iᵀa)²] over the same
/// draws as [`infidelity`] (β = 0 when every Iᵀa is 0), then E[(βIᵀa − Δf)²] with
/// Δf = f(x) − f(x − I). Invariant to the attribution's scale, so methods of different units
/// compare; 0 for any positive multiple of the gradient of a linear model.
///
/// **Errors** as [`infidelity`].
#[allow(clippy::too_many_arguments)]
pub fn infidelity_scaled<M: Forward + ?Sized>(
    model: &M,
    x: &Tensor,
    a: &Tensor,
    targets: &[usize],
    samples: usize,
    noise_std: f64,
    seed: u64,
    batch_size: usize,
) -> Result<Vec<f64>> {
    let terms = infidelity_terms(model, x, a, targets, samples, noise_std, seed, batch_size)?;
    Ok(terms
        .iter()
        .map(|t| {
            let dd: f64 = t.iter().map(|(d, _)| d * d).sum();
            let df: f64 = t.iter().map(|(d, f)| d * f).sum();
            let beta = if dd > 0.0 { df / dd } else { 0.0 };
            t.iter().map(|(d, f)| (beta * d - f).powi(2)).sum::<f64>() / samples as f64
        })
        .collect())
}

/// Per example and draw I: (Iᵀa, f(x) − f(x − I)) for the target logit f.
#[allow(clippy::too_many_arguments)]
fn infidelity_terms<M: Forward + ?Sized>(
    model: &M,
    x: &Tensor,
    a: &Tensor,
    targets: &[usize],
    samples: usize,
    noise_std: f64,
    seed: u64,
    batch_size: usize,
) -> Result<Vec<Vec<(f64, f64)>>> {
    check_like(x, a, "attributions")?;
    xai_passive::config::count_in("samples", samples, xai_passive::config::MAX_SAMPLES)?;
    if !(noise_std.is_finite() && noise_std >= 0.0) {
        return bad(format!("noise std must be a number ≥ 0, got {noise_std}"));
    }
    let n = check_targets(x, targets)?;
    let (xs, ats) = (rows(x)?, rows(a)?);
    let d = xs.first().map_or(0, Vec::len);
    let noise = Rng::new(seed)
        .normal(&[n * samples, d], 0.0, noise_std, DType::F64)?
        .to_vec_f64()?;
    let mut data = Vec::with_capacity((n * samples + n) * d);
    // The clean inputs first, then every perturbed copy x − I (example-major).
    for xi in &xs {
        data.extend(xi.iter().map(|&v| v as f32));
    }
    let mut dots = Vec::with_capacity(n * samples);
    for (i, (xi, ai)) in xs.iter().zip(&ats).enumerate() {
        for s in 0..samples {
            let r = &noise[(i * samples + s) * d..(i * samples + s + 1) * d];
            let mut dot = 0.0;
            for j in 0..d {
                let pert = (xi[j] - r[j]) as f32;
                // I as the model sees it: x − f32(x − I).
                dot += (xi[j] as f32 as f64 - pert as f64) * ai[j];
                data.push(pert);
            }
            dots.push(dot);
        }
    }
    let mut shape = x.shape().to_vec();
    shape[0] = n + n * samples;
    let logits = target_outputs(model, &Tensor::from_vec(data, &shape)?, batch_size, false)?;
    let k = logits.len() / (n + n * samples);
    if let Some(&bad_t) = targets.iter().find(|&&c| c >= k) {
        return bad(format!(
            "target class {bad_t} is out of range for a model with {k} outputs"
        ));
    }
    Ok((0..n)
        .map(|i| {
            let fx = logits[i * k + targets[i]];
            (0..samples)
                .map(|s| {
                    let fp = logits[(n + i * samples + s) * k + targets[i]];
                    (dots[i * samples + s], fx - fp)
                })
                .collect()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use xai_autodiff::Var;
    use xai_nn::layers::Linear;
    use xai_nn::{Graph, Node};

    fn linear(w: &[f64], b: &[f64], k: usize) -> Graph {
        let d = w.len() / k;
        let lin = Linear {
            weight: Var::leaf(
                Tensor::from_slice(w, &[k, d])
                    .unwrap()
                    .to_dtype(DType::F32)
                    .unwrap(),
            ),
            bias: Some(Var::leaf(
                Tensor::from_slice(b, &[k])
                    .unwrap()
                    .to_dtype(DType::F32)
                    .unwrap(),
            )),
        };
        Graph::sequential(vec![d], vec![Node::new("0", Box::new(lin))], None).unwrap()
    }

    fn t(v: &[f64], s: &[usize]) -> Tensor {
        Tensor::from_slice(v, s)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap()
    }

    /// The definition computed independently, one input at a time.
    fn by_hand(
        m: &Graph,
        x: &[f64],
        a: &[f64],
        b: &[f64],
        c: usize,
        steps: usize,
        del: bool,
    ) -> (Vec<f64>, f64) {
        let d = x.len();
        let mut idx: Vec<usize> = (0..d).collect();
        idx.sort_by(|&i, &j| a[j].partial_cmp(&a[i]).unwrap());
        let mut curve = Vec::new();
        for k in 0..=steps {
            let m_k = ((k * d) as f64 / steps as f64).ceil() as usize;
            let mut v: Vec<f64> = if del { x.to_vec() } else { b.to_vec() };
            for &j in &idx[..m_k] {
                v[j] = if del { b[j] } else { x[j] };
            }
            let l = m.predict(&t(&v, &[1, d])).unwrap().to_vec_f64().unwrap();
            let z: f64 = l.iter().map(|v| v.exp()).sum();
            curve.push(l[c].exp() / z);
        }
        let auc = (0..steps)
            .map(|k| 0.5 * (curve[k] + curve[k + 1]) / steps as f64)
            .sum();
        (curve, auc)
    }

    #[test]
    fn deletion_and_insertion_match_the_definition() {
        let w = [
            1.0, -2.0, 0.5, 3.0, -1.0, 0.2, 0.7, 1.5, -0.3, 2.0, 0.0, -1.2, 0.4, 1.1, -0.8,
        ];
        let m = linear(&w, &[0.1, -0.2, 0.3], 3);
        let x = [0.5, 1.0, -1.5, 2.0, 0.3, -0.7, 1.2, 0.9, -0.4, 0.6];
        let a = [0.3, -1.0, 0.3, 2.0, 0.1, 0.5, -0.2, 0.9, 0.0, 0.3];
        let base = [0.25; 5];
        for (steps, group) in [(1, 1 << 22), (3, 1), (4, 45), (7, 1 << 22)] {
            GROUP_FEATURES.with(|g| g.set(group));
            for (curve, del) in [(Curve::Deletion, true), (Curve::Insertion, false)] {
                let c = perturbation_curves(
                    &m,
                    &t(&x, &[2, 5]),
                    &t(&a, &[2, 5]),
                    &[2, 0],
                    curve,
                    steps,
                    &Baseline::Constant(0.25),
                    1,
                )
                .unwrap();
                let auc = c.auc();
                for i in 0..2 {
                    let (hc, ha) = by_hand(
                        &m,
                        &x[i * 5..i * 5 + 5],
                        &a[i * 5..i * 5 + 5],
                        &base,
                        [2, 0][i],
                        steps,
                        del,
                    );
                    for (p, q) in c.curves[i].iter().zip(&hc) {
                        assert!((p - q).abs() <= 1e-4, "{curve:?} {steps} {p} {q}");
                    }
                    assert!((auc[i] - ha).abs() <= 1e-4);
                    let aopc: f64 = hc.iter().map(|p| hc[0] - p).sum::<f64>() / hc.len() as f64;
                    assert!((c.aopc()[i] - aopc).abs() <= 1e-4);
                }
            }
        }
        assert!(perturbation_curves(
            &m,
            &t(&x, &[2, 5]),
            &t(&a[..5], &[1, 5]),
            &[0, 0],
            Curve::Deletion,
            3,
            &Baseline::Zeros,
            8
        )
        .is_err());
    }

    #[test]
    fn infidelity_of_the_gradient_of_a_linear_model_is_zero_and_of_twice_it_is_sigma2_w2() {
        let w = [1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 1.0, 2.0];
        let m = linear(&w, &[0.3, -0.1], 2);
        let x = t(&[0.5, 1.0, -1.5, 2.0, 0.1, 0.2, 0.3, -0.4], &[2, 4]);
        let sal = t(&[1.0, -2.0, 0.5, 3.0, 1.0, -2.0, 0.5, 3.0], &[2, 4]);
        let inf = infidelity(&m, &x, &sal, &[0, 0], 100, 0.5, 1, 64).unwrap();
        assert!(inf.iter().all(|v| *v <= 1e-6), "{inf:?}");
        let twice = sal.mul_scalar(2.0).unwrap();
        let sigma = 0.3;
        let inf = infidelity(&m, &x, &twice, &[0, 0], 2000, sigma, 2, 256).unwrap();
        let expect = sigma * sigma * (1.0 + 4.0 + 0.25 + 9.0);
        for v in inf {
            assert!((v - expect).abs() <= 0.15 * expect, "{v} vs {expect}");
        }
        // Scaled infidelity: β = ½ undoes the doubling (and any positive scale).
        let scaled = infidelity_scaled(&m, &x, &twice, &[0, 0], 50, sigma, 2, 256).unwrap();
        assert!(scaled.iter().all(|v| *v <= 1e-6), "{scaled:?}");
        // A map orthogonal to w in expectation: β ≈ 0, so the loss is about E[Δf²] = σ²‖w‖².
        let other = t(&[2.0, 1.0, 0.0, 0.0, 2.0, 1.0, 0.0, 0.0], &[2, 4]);
        let scaled = infidelity_scaled(&m, &x, &other, &[0, 0], 2000, sigma, 2, 256).unwrap();
        let plain = infidelity(&m, &x, &other, &[0, 0], 2000, sigma, 2, 256).unwrap();
        for (v, p) in scaled.iter().zip(&plain) {
            assert!(
                (v - expect).abs() <= 0.15 * expect && v <= p,
                "{v} vs {expect}, {p}"
            );
        }
        assert!(infidelity(&m, &x, &sal, &[0, 0], 0, 0.5, 1, 64).is_err());
        assert!(infidelity(&m, &x, &sal, &[0, 0], 10, -1.0, 1, 64).is_err());
    }

    #[test]
    fn completeness_gap_by_hand() {
        let w = [1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 1.0, 2.0];
        let m = linear(&w, &[0.3, -0.1], 2);
        let xv = [0.5, 1.0, -1.5, 2.0, 0.1, 0.2, 0.3, -0.4];
        let x = t(&xv, &[2, 4]);
        // Input × gradient of a linear model: Σ w ⊙ x = f(x) − f(0), the bias cancels.
        let ixg: Vec<f64> = (0..8).map(|j| xv[j] * w[j % 4]).collect();
        let gap =
            completeness_gap(&m, &x, &t(&ixg, &[2, 4]), &[0, 0], &Baseline::Zeros, 8).unwrap();
        assert!(gap.iter().all(|g| *g < 1e-6), "{gap:?}");
        // Saliency (the weights) against b = 1: |Σw − w·(x − 1)| = |w·(2 − x)|.
        let sal = t(&[1.0, -2.0, 0.5, 3.0, 1.0, -2.0, 0.5, 3.0], &[2, 4]);
        let gap = completeness_gap(&m, &x, &sal, &[0, 0], &Baseline::Constant(1.0), 1).unwrap();
        for i in 0..2 {
            let want: f64 = (0..4)
                .map(|j| w[j] * (2.0 - xv[i * 4 + j]))
                .sum::<f64>()
                .abs();
            assert!((gap[i] - want).abs() < 1e-5, "{gap:?} {want}");
        }
        assert!(completeness_gap(&m, &x, &sal, &[0, 2], &Baseline::Zeros, 8).is_err());
    }
}

/// Settings of [`FaithfulnessSummary::of`].
#[derive(Clone, Debug)]
pub struct SummarySettings {
    /// Steps K of the deletion and insertion curves.
    pub steps: usize,
    /// What removed features become.
    pub baseline: Baseline,
    /// Draws of I per example for infidelity.
    pub infidelity_samples: usize,
    /// σ of infidelity's perturbations, in input units.
    pub noise_std: f64,
    /// Seed of the perturbations.
    pub seed: u64,
    /// Rows per model call.
    pub batch_size: usize,
}

/// How faithful a batch of attribution maps is, summarised over its examples: the mean
/// deletion and insertion AUC (Petsiuk et al. 2018), the mean infidelity (Yeh et al. 2019)
/// and the mean deletion and insertion curves — a report's per-method row and charts.
#[derive(Clone, Debug, PartialEq)]
pub struct FaithfulnessSummary {
    /// Mean deletion AUC (lower is better).
    pub deletion_auc: f64,
    /// Mean insertion AUC (higher is better).
    pub insertion_auc: f64,
    /// Mean infidelity (lower is better).
    pub infidelity: f64,
    /// The mean deletion curve, (t, p) points.
    pub deletion_curve: Vec<(f64, f64)>,
    /// The mean insertion curve.
    pub insertion_curve: Vec<(f64, f64)>,
}

impl FaithfulnessSummary {
    /// The summary of attributions `a` of `x` for `targets` on `model`.
    ///
    /// **Errors** as [`perturbation_curves`] and [`infidelity`].
    pub fn of<M: Forward + ?Sized>(
        model: &M,
        x: &Tensor,
        a: &Tensor,
        targets: &[usize],
        s: &SummarySettings,
    ) -> Result<Self> {
        let curves = |c: Curve| {
            perturbation_curves(model, x, a, targets, c, s.steps, &s.baseline, s.batch_size)
        };
        let (del, ins) = (curves(Curve::Deletion)?, curves(Curve::Insertion)?);
        let infd = infidelity(
            model,
            x,
            a,
            targets,
            s.infidelity_samples,
            s.noise_std,
            s.seed,
            s.batch_size,
        )?;
        Ok(Self {
            deletion_auc: crate::mean_std(&del.auc()).0,
            insertion_auc: crate::mean_std(&ins.auc()).0,
            infidelity: crate::mean_std(&infd).0,
            deletion_curve: del.mean(),
            insertion_curve: ins.mean(),
        })
    }
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    #[test]
    fn the_summary_is_the_mean_of_its_metrics() {
        let m = crate::testing::mlp(4, 6, "relu", 3, 2);
        let x = Rng::new(3).normal(&[5, 4], 0.0, 1.0, DType::F32).unwrap();
        let a = Rng::new(4).normal(&[5, 4], 0.0, 1.0, DType::F32).unwrap();
        let t = [0, 1, 2, 0, 1];
        let s = SummarySettings {
            steps: 4,
            baseline: Baseline::Zeros,
            infidelity_samples: 8,
            noise_std: 0.1,
            seed: 1,
            batch_size: 3,
        };
        let f = FaithfulnessSummary::of(&m, &x, &a, &t, &s).unwrap();
        let del =
            perturbation_curves(&m, &x, &a, &t, Curve::Deletion, 4, &Baseline::Zeros, 3).unwrap();
        let mean_auc = del.auc().iter().sum::<f64>() / 5.0;
        assert!((f.deletion_auc - mean_auc).abs() < 1e-12);
        let infd = infidelity(&m, &x, &a, &t, 8, 0.1, 1, 3).unwrap();
        assert!((f.infidelity - infd.iter().sum::<f64>() / 5.0).abs() < 1e-12);
        assert_eq!(f.deletion_curve.len(), 5);
        assert_eq!(f.deletion_curve[4].0, 1.0);
        let p0 = del.curves.iter().map(|c| c[0]).sum::<f64>() / 5.0;
        assert!((f.deletion_curve[0].1 - p0).abs() < 1e-12);
    }
}
