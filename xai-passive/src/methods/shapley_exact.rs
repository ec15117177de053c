//! Exact Shapley values (Shapley 1953; Lundberg & Lee, *A Unified Approach to Interpreting
//! Model Predictions*, NeurIPS 2017) by enumerating all 2^d coalitions S of the d features or
//! groups: φ_g = Σ_{S ⊆ D∖{g}} |S|!(d − |S| − 1)!/d! · [v(S ∪ {g}) − v(S)], with the value
//! v(S) = (1/B) Σ_b f_c(x_S, b_{D∖S}) over the background rows b (`baselines`, as SHAP's
//! interventional value) or the single `baseline`. Efficiency holds exactly:
//! Σφ = v(D) − v(∅) = f_c(x) − E_b f_c(b). Refused above d = 20. Needs only `Forward`.

use super::perturbation::{
    coalition_values, explain_by_groups, group_explanation, Background, FeatureGroups, Groups,
};
use crate::attribution::{Attribution, Explanation};
use crate::baseline::Baseline;
use crate::config::{at_least_one, MethodConfig};
use crate::DEFAULT_BATCH_SIZE;
use crate::{PassiveError, Result};
use xai_nn::Forward;
use xai_tensor::Tensor;

/// Largest number of features or groups `shapley-exact` enumerates (2^20 coalitions).
pub const MAX_EXACT_FEATURES: usize = 20;

/// Exact Shapley values over the features or `groups`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ShapleyExact {
    /// The single baseline of each example, where no distribution is given.
    pub baseline: Baseline,
    /// A background distribution `[B, ...input_shape]` averaged over as SHAP's
    /// interventional value (or one baseline).
    #[serde(with = "crate::config::tensor")]
    pub baselines: Option<Tensor>,
    /// The players: features, or groups of them.
    #[serde(flatten)]
    pub groups: FeatureGroups,
    /// Rows per model call.
    pub batch_size: usize,
}

impl Default for ShapleyExact {
    fn default() -> Self {
        Self {
            baseline: Baseline::Zeros,
            baselines: None,
            groups: FeatureGroups::default(),
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for ShapleyExact {
    fn validate(&self) -> Result<()> {
        self.groups.validate()?;
        at_least_one("batch_size", self.batch_size)
    }
}

/// φ from the values v(S) of all 2^d coalitions of one example (S as a bit mask).
pub(crate) fn shapley_from_values(v: &[f64], d: usize) -> Vec<f64> {
    // w(k) = k!(d−k−1)!/d!
    let mut w = vec![0.0f64; d.max(1)];
    for (k, wk) in w.iter_mut().enumerate().take(d) {
        *wk = 1.0 / (d as f64 * super::perturbation::binom(d - 1, k));
    }
    let mut phi = vec![0.0f64; d];
    for s in 0..(1usize << d) {
        let k = s.count_ones() as usize;
        for (g, p) in phi.iter_mut().enumerate() {
            if s & (1 << g) == 0 {
                *p += w[k] * (v[s | (1 << g)] - v[s]);
            }
        }
    }
    phi
}

impl<M: Forward + ?Sized> Attribution<M> for ShapleyExact {
    fn name(&self) -> &'static str {
        "shapley-exact"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let o = self;
        let run = |baseline: &Baseline, x: &Tensor, targets: &[usize], groups: &Groups| {
            let example = x.shape()[1..].to_vec();
            let d = groups.count;
            if d > MAX_EXACT_FEATURES {
                return Err(PassiveError::BadArgument(format!(
                "shapley-exact enumerates 2^d coalitions and allows at most {MAX_EXACT_FEATURES} \
                 features or groups, got {d} (group them with a mask or segments, or use \
                 kernel-shap or shapley-sampling)"
            )));
            }
            let bg = Background::resolve(baseline, o.baselines.as_ref(), x)?;
            let n = x.shape()[0];
            let c = 1usize << d;
            let v = coalition_values(
                model,
                &x.to_vec_f32()?,
                &example,
                targets,
                o.batch_size,
                groups,
                &bg,
                c,
                |s, g| s & (1 << g) != 0,
            )?;
            let mut phi = Vec::with_capacity(n * d);
            let mut gap = Vec::with_capacity(n);
            for vi in v.chunks(c) {
                let p = shapley_from_values(vi, d);
                gap.push(p.iter().sum::<f64>() - (vi[c - 1] - vi[0]));
                phi.extend(p);
            }
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
    use crate::methods::Baseline;
    use crate::testing::models::*;
    use xai_tensor::{DType, Rng};

    /// Brute force over permutations: φ_g = mean over all d! orders of the marginal
    /// contribution of g when added after its predecessors (independent of the subset formula).
    fn by_permutations(m: &dyn Forward, x: &[f32], base: &[&[f32]], t: usize) -> Vec<f64> {
        let d = x.len();
        let v = |set: &[bool]| -> f64 {
            let mut s = 0.0;
            for b in base {
                let row: Vec<f32> = (0..d).map(|j| if set[j] { x[j] } else { b[j] }).collect();
                let y = m.predict(&Tensor::from_vec(row, &[1, d]).unwrap()).unwrap();
                s += y.to_vec_f64().unwrap()[t];
            }
            s / base.len() as f64
        };
        fn perms(k: usize, cur: &mut Vec<usize>, used: &mut Vec<bool>, out: &mut Vec<Vec<usize>>) {
            if cur.len() == k {
                out.push(cur.clone());
                return;
            }
            for i in 0..k {
                if !used[i] {
                    used[i] = true;
                    cur.push(i);
                    perms(k, cur, used, out);
                    cur.pop();
                    used[i] = false;
                }
            }
        }
        let mut all = vec![];
        perms(d, &mut vec![], &mut vec![false; d], &mut all);
        let mut phi = vec![0.0; d];
        for p in &all {
            let mut set = vec![false; d];
            let mut prev = v(&set);
            for &g in p {
                set[g] = true;
                let now = v(&set);
                phi[g] += now - prev;
                prev = now;
            }
        }
        phi.iter().map(|s| s / all.len() as f64).collect()
    }

    #[test]
    fn equals_brute_force_with_a_baseline_and_a_background() {
        let m = mlp(7);
        let mut r = Rng::new(8);
        let x = randn(&mut r, &[2, 6], 1.0);
        let bgd = randn(&mut r, &[3, 6], 1.0);
        let xv = x.to_vec_f32().unwrap();
        let bv = bgd.to_vec_f32().unwrap();
        let t = [0, 2];
        for with_bg in [false, true] {
            let e = ShapleyExact {
                baseline: Baseline::Constant(0.25),
                baselines: with_bg.then(|| bgd.clone()),
                batch_size: 13,
                ..Default::default()
            }
            .attribute(&m, &x, &t)
            .unwrap();
            let got = e.attributions.to_vec_f32().unwrap();
            let c = [0.25f32; 6];
            for i in 0..2 {
                let base: Vec<&[f32]> = if with_bg {
                    bv.chunks(6).collect()
                } else {
                    vec![&c[..]]
                };
                let want = by_permutations(&m, &xv[i * 6..(i + 1) * 6], &base, t[i]);
                for (g, w) in got[i * 6..(i + 1) * 6].iter().zip(&want) {
                    assert!(
                        (*g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()),
                        "{g} vs {w}"
                    );
                }
            }
            assert!(e.completeness_gap.unwrap().iter().all(|g| g.abs() < 1e-5));
        }
    }

    #[test]
    fn more_than_20_features_are_refused() {
        let m = linear21();
        let x = Tensor::zeros(&[1, 21], DType::F32);
        let err = ShapleyExact::default()
            .attribute(&m, &x, &[0])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("at most 20 features or groups, got 21"),
            "{err}"
        );
    }

    fn linear21() -> xai_nn::Graph {
        let w = Tensor::zeros(&[2, 21], DType::F32);
        xai_nn::Graph::sequential(vec![21], vec![layer("l", linear(w, None))], None).unwrap()
    }
}
