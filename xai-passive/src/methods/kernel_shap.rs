//! Kernel SHAP (Lundberg & Lee, *A Unified Approach to Interpreting Model Predictions*,
//! NeurIPS 2017; SHAP's `KernelExplainer`): Shapley values as the weighted least-squares fit
//! of g(z) = φ₀ + Σ_g φ_g z_g to the value function v(z) = (1/B) Σ_b f_c(z·x + (1 − z)·b)
//! over coalitions z ∈ {0,1}^d, with the Shapley kernel
//! π(z) = (d − 1) / (C(d, |z|) · |z| · (d − |z|)).
//! φ₀ = v(∅) and Σφ = v(1) − v(∅) are enforced as SHAP does (the last variable is eliminated:
//! φ_d = v(1) − v(∅) − Σ_{g<d} φ_g). Coalitions as SHAP: whole subset sizes (paired with their
//! complements) are enumerated, from the smallest, while the sample budget covers them
//! (exact enumeration when 2^d − 2 ≤ samples, giving the exact Shapley values), the rest
//! are drawn (size by the kernel's mass, then a uniform subset, with its complement; repeats
//! add weight). The normal equations are solved by Cholesky (LAPACK). Unlike SHAP, no L1 feature
//! selection and no removal of features equal to every background row (their φ is 0 when
//! enumerated, small when sampled). Needs only `Forward`.

use super::least_squares::WeightedLeastSquares;
use super::perturbation::{
    binom, coalition_values, explain_by_groups, group_explanation, Background, FeatureGroups,
    Groups,
};
use crate::attribution::{Attribution, Explanation};
use crate::baseline::Baseline;
use crate::config::{at_least_one, count_in, MethodConfig, MAX_SAMPLES};
use crate::Result;
use crate::DEFAULT_BATCH_SIZE;
use ndarray::Array2;
use std::collections::HashMap;
use xai_nn::Forward;
use xai_tensor::{DType, Rng, Tensor};

/// Kernel SHAP with `samples` coalitions (default 2d + 2048, SHAP's `auto`), background
/// `baselines` (or `baseline`), seeded by `seed`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct KernelShap {
    /// The single baseline of each example, where no distribution is given.
    pub baseline: Baseline,
    /// A background distribution `[B, ...input_shape]` averaged over as SHAP's
    /// interventional value (or one baseline).
    #[serde(with = "crate::config::tensor")]
    pub baselines: Option<Tensor>,
    /// The players: features, or groups of them.
    #[serde(flatten)]
    pub groups: FeatureGroups,
    /// Coalitions drawn (`None`: 2d + 2048 for d players, SHAP's `auto`).
    pub samples: Option<usize>,
    /// Seed of the drawn coalitions.
    pub seed: u64,
    /// Rows per model call.
    pub batch_size: usize,
}

impl Default for KernelShap {
    fn default() -> Self {
        Self {
            baseline: Baseline::Zeros,
            baselines: None,
            groups: FeatureGroups::default(),
            samples: None,
            seed: 0,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for KernelShap {
    fn validate(&self) -> Result<()> {
        self.groups.validate()?;
        if let Some(s) = self.samples {
            count_in("samples", s, MAX_SAMPLES)?;
        }
        at_least_one("batch_size", self.batch_size)
    }
}

/// SHAP's coalition design for `d` players and a budget of `samples`: the masks (flat
/// `[C·d]`) and their kernel weights (summing to 1).
pub fn kernel_coalitions(d: usize, samples: usize, rng: &mut Rng) -> (Vec<bool>, Vec<f64>) {
    let mut masks: Vec<bool> = Vec::new();
    let mut weights: Vec<f64> = Vec::new();
    if d < 2 {
        return (masks, weights);
    }
    // ceil((d − 1)/2) sizes, floor((d − 1)/2) of them paired with their complement.
    let num_sizes = (d - 1).div_ceil(2);
    let num_paired = (d - 1) / 2;
    let mut wv: Vec<f64> = (1..=num_sizes)
        .map(|s| (d - 1) as f64 / (s * (d - s)) as f64)
        .collect();
    for w in wv.iter_mut().take(num_paired) {
        *w *= 2.0;
    }
    let total: f64 = wv.iter().sum();
    wv.iter_mut().for_each(|w| *w /= total);
    let mut full = 0;
    let mut left = samples as f64;
    let mut rem = wv.clone();
    for s in 1..=num_sizes {
        let mut nsub = binom(d, s);
        if s <= num_paired {
            nsub *= 2.0;
        }
        if left * rem[s - 1] / nsub >= 1.0 - 1e-8 {
            full += 1;
            left -= nsub;
            if rem[s - 1] < 1.0 {
                let r = rem[s - 1];
                rem.iter_mut().for_each(|w| *w /= 1.0 - r);
            }
            let mut w = wv[s - 1] / binom(d, s);
            if s <= num_paired {
                w /= 2.0;
            }
            for_each_subset(d, s, |set| {
                masks.extend_from_slice(set);
                weights.push(w);
                if s <= num_paired {
                    masks.extend(set.iter().map(|b| !b));
                    weights.push(w);
                }
            });
        } else {
            break;
        }
    }
    let fixed = weights.len();
    let mut left = samples.saturating_sub(fixed);
    if full != num_sizes && left > 0 {
        let mut p: Vec<f64> = wv.clone();
        for w in p.iter_mut().take(num_paired) {
            *w /= 2.0;
        }
        let p = &p[full..];
        let ps: f64 = p.iter().sum();
        let mut used: HashMap<Vec<bool>, usize> = HashMap::new();
        let mut tries = 0;
        while left > 0 && tries < 4 * samples {
            tries += 1;
            let u = rng
                .uniform(&[1], 0.0, ps, DType::F64)
                .expect("draw")
                .to_vec_f64()
                .expect("f64")[0];
            let mut acc = 0.0;
            let mut idx = p.len() - 1;
            for (k, &pk) in p.iter().enumerate() {
                acc += pk;
                if u < acc {
                    idx = k;
                    break;
                }
            }
            let s = idx + full + 1;
            let perm = rng.permutation(d);
            let mut m = vec![false; d];
            for &j in &perm[..s] {
                m[j] = true;
            }
            let new = !used.contains_key(&m);
            let at = if new {
                let at = weights.len();
                used.insert(m.clone(), at);
                masks.extend_from_slice(&m);
                weights.push(1.0);
                left -= 1;
                at
            } else {
                let at = used[&m];
                weights[at] += 1.0;
                at
            };
            if left > 0 && s <= num_paired {
                if new {
                    masks.extend(m.iter().map(|b| !b));
                    weights.push(1.0);
                    left -= 1;
                } else {
                    weights[at + 1] += 1.0;
                }
            }
        }
        let weight_left: f64 = wv[full..].iter().sum();
        let sampled: f64 = weights[fixed..].iter().sum();
        if sampled > 0.0 {
            weights[fixed..]
                .iter_mut()
                .for_each(|w| *w *= weight_left / sampled);
        }
    }
    (masks, weights)
}

/// Calls `f` with every subset of size `k` of `0..d` (as a membership mask), in lexicographic
/// order of the chosen indices.
fn for_each_subset(d: usize, k: usize, mut f: impl FnMut(&[bool])) {
    let mut idx: Vec<usize> = (0..k).collect();
    let mut m = vec![false; d];
    loop {
        m.iter_mut().for_each(|b| *b = false);
        for &i in &idx {
            m[i] = true;
        }
        f(&m);
        // Next combination: bump the rightmost index that can move.
        let mut i = k;
        while i > 0 && idx[i - 1] == i - 1 + d - k {
            i -= 1;
        }
        if i == 0 {
            return;
        }
        idx[i - 1] += 1;
        for j in i..k {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

/// φ of every example from its coalition values (`v`: `[N·(C+2)]`, per example the C masks'
/// values, then v(∅) and v(1)) by SHAP's constrained weighted least squares
/// (eliminating the last player). The design is shared, so it is factored once and every
/// example is one right-hand side. Returns φ `[N·d]` and the efficiency gaps.
pub(crate) fn kernel_solve(
    masks: &[bool],
    weights: &[f64],
    v: &[f64],
    d: usize,
) -> Result<(Vec<f64>, Vec<f64>)> {
    let c = weights.len();
    let n = v.len() / (c + 2);
    let p = d.saturating_sub(1);
    let last: Vec<f64> = masks
        .chunks(d.max(1))
        .map(|m| f64::from(u8::from(m[d - 1])))
        .collect();
    let total: Vec<f64> = v.chunks(c + 2).map(|vi| vi[c + 1] - vi[c]).collect();
    let beta = if p > 0 {
        let xs = Array2::from_shape_fn((c, p), |(r, j)| {
            f64::from(u8::from(masks[r * d + j])) - last[r]
        });
        let ys = Array2::from_shape_fn((c, n), |(r, i)| {
            let vi = &v[i * (c + 2)..(i + 1) * (c + 2)];
            vi[r] - vi[c] - last[r] * total[i]
        });
        Some(WeightedLeastSquares::new(xs.view(), weights, 0.0)?.solve(ys.view())?)
    } else {
        None
    };
    let mut phi = Vec::with_capacity(n * d);
    let mut gap = Vec::with_capacity(n);
    for (i, &t) in total.iter().enumerate() {
        let mut pi: Vec<f64> = beta.as_ref().map_or(Vec::new(), |b| b.column(i).to_vec());
        let s: f64 = pi.iter().sum();
        pi.push(t - s);
        gap.push(pi.iter().sum::<f64>() - t);
        phi.extend(pi);
    }
    Ok((phi, gap))
}

impl<M: Forward + ?Sized> Attribution<M> for KernelShap {
    fn name(&self) -> &'static str {
        "kernel-shap"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let o = self;
        let run = |baseline: &Baseline, x: &Tensor, targets: &[usize], groups: &Groups| {
            let example = x.shape()[1..].to_vec();
            let d = groups.count;
            let bg = Background::resolve(baseline, o.baselines.as_ref(), x)?;
            let samples = o.samples.unwrap_or(2 * d + 2048);
            let (mut masks, weights) = kernel_coalitions(d, samples, &mut Rng::new(o.seed));
            let c = weights.len();
            // Two more coalitions: ∅ (φ₀) and the full set (f(x)).
            masks.extend(std::iter::repeat_n(false, d));
            masks.extend(std::iter::repeat_n(true, d));
            let xv = x.to_vec_f32()?;
            let v = coalition_values(
                model,
                &xv,
                &example,
                targets,
                o.batch_size,
                groups,
                &bg,
                c + 2,
                |ci, g| masks[ci * d + g],
            )?;
            let (phi, gap) = kernel_solve(&masks[..c * d], &weights, &v, d)?;
            Ok((
                group_explanation(&phi, groups, x, targets, Some(gap))?,
                Vec::<()>::new(),
            ))
        };
        Ok(explain_by_groups(&o.groups, &o.baseline, x, targets, run)?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::ShapleyExact;
    use crate::testing::models::*;
    use xai_tensor::Rng;

    #[test]
    fn subsets_are_enumerated() {
        let mut count = 0;
        for_each_subset(5, 2, |m| {
            assert_eq!(m.iter().filter(|b| **b).count(), 2);
            count += 1;
        });
        assert_eq!(count, 10);
        let (m, w) = kernel_coalitions(6, 100, &mut Rng::new(0));
        assert_eq!(w.len(), 62);
        assert_eq!(m.len(), 62 * 6);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn equals_exact_shapley_when_every_coalition_fits() {
        let m = mlp(9);
        let mut r = Rng::new(10);
        let x = randn(&mut r, &[3, 6], 1.0);
        let bgd = randn(&mut r, &[4, 6], 1.0);
        let t = [0, 1, 2];
        let k = KernelShap {
            baselines: Some(bgd.clone()),
            samples: Some(64),
            batch_size: 50,
            ..Default::default()
        }
        .attribute(&m, &x, &t)
        .unwrap();
        let e = ShapleyExact {
            baselines: Some(bgd),
            batch_size: 50,
            ..Default::default()
        }
        .attribute(&m, &x, &t)
        .unwrap();
        let (k, e) = (
            k.attributions.to_vec_f64().unwrap(),
            e.attributions.to_vec_f64().unwrap(),
        );
        let norm = e.iter().map(|v| v * v).sum::<f64>().sqrt();
        for (a, b) in k.iter().zip(&e) {
            assert!((a - b).abs() <= 1e-3 * norm, "{a} vs {b}");
        }
    }

    #[test]
    fn sampled_kernel_shap_is_efficient_seeded_and_close() {
        let m = mlp(11);
        let mut r = Rng::new(12);
        let x = randn(&mut r, &[2, 6], 1.0);
        let t = [0, 1];
        let run = |seed| {
            KernelShap {
                samples: Some(40),
                seed,
                ..Default::default()
            }
            .attribute(&m, &x, &t)
            .unwrap()
        };
        let a = run(1);
        assert!(a
            .completeness_gap
            .as_ref()
            .unwrap()
            .iter()
            .all(|g| g.abs() < 1e-4));
        assert_eq!(
            a.attributions.to_vec_f32().unwrap(),
            run(1).attributions.to_vec_f32().unwrap()
        );
        let e = ShapleyExact::default().attribute(&m, &x, &t).unwrap();
        assert!(crate::testing::rel_l2(&a.attributions, &e.attributions) < 0.2);
    }

    #[test]
    fn slic_superpixels_per_example_keep_efficiency() {
        let m = cnn(13);
        let x = randn(&mut Rng::new(14), &[3, 2, 5, 5], 1.0);
        let e = KernelShap {
            groups: FeatureGroups::segments("slic:4"),
            samples: Some(64),
            ..Default::default()
        }
        .attribute(&m, &x, &[0, 1, 2])
        .unwrap();
        assert_eq!(e.attributions.shape(), &[3, 2, 5, 5]);
        let gap = e.completeness_gap.unwrap();
        assert_eq!(gap.len(), 3);
        assert!(gap.iter().all(|g| g.abs() < 1e-4), "{gap:?}");
    }
}
