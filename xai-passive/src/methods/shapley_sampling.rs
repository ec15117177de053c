//! Shapley value sampling (Štrumbelj & Kononenko, *Explaining prediction models and individual
//! predictions with feature contributions*, KAIS 2014; Castro et al. 2009; Captum's
//! `ShapleyValueSampling`): φ_g ≈ (1/P) Σ_π [v(Pre_π(g) ∪ {g}) − v(Pre_π(g))] over P random
//! permutations π of the d features or groups, Pre_π(g) the players before g in π, with
//! v(S) = (1/B) Σ_b f_c(x_S, b_{D∖S}) (`baselines`, or the single `baseline`).
//! Antithetic: permutations come in pairs π, reverse(π), which lowers the variance. Each
//! permutation telescopes, so Σφ = v(D) − v(∅) exactly. Needs only `Forward`.

use super::perturbation::{
    coalition_values, explain_by_groups, group_explanation, Background, FeatureGroups, Groups,
};
use crate::attribution::{Attribution, Explanation};
use crate::baseline::Baseline;
use crate::config::{at_least_one, count_in, MethodConfig, MAX_SAMPLES};
use crate::Result;
use crate::DEFAULT_BATCH_SIZE;
use xai_nn::Forward;
use xai_tensor::{Rng, Tensor};

/// Shapley value sampling with `samples` permutations (default 100; the same permutations
/// for every example), seeded by `seed`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ShapleySampling {
    /// The single baseline of each example, where no distribution is given.
    pub baseline: Baseline,
    /// A background distribution `[B, ...input_shape]` averaged over as SHAP's
    /// interventional value (or one baseline).
    #[serde(with = "crate::config::tensor")]
    pub baselines: Option<Tensor>,
    /// The players: features, or groups of them.
    #[serde(flatten)]
    pub groups: FeatureGroups,
    /// Permutations (≥ 1; drawn in antithetic pairs).
    pub samples: usize,
    /// Seed of the permutations.
    pub seed: u64,
    /// Rows per model call.
    pub batch_size: usize,
}

impl Default for ShapleySampling {
    fn default() -> Self {
        Self {
            baseline: Baseline::Zeros,
            baselines: None,
            groups: FeatureGroups::default(),
            samples: 100,
            seed: 0,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for ShapleySampling {
    fn validate(&self) -> Result<()> {
        self.groups.validate()?;
        count_in("samples", self.samples, MAX_SAMPLES)?;
        at_least_one("batch_size", self.batch_size)
    }
}

impl<M: Forward + ?Sized> Attribution<M> for ShapleySampling {
    fn name(&self) -> &'static str {
        "shapley-sampling"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let o = self;
        let run = |baseline: &Baseline, x: &Tensor, targets: &[usize], groups: &Groups| {
            let example = x.shape()[1..].to_vec();
            let d = groups.count;
            let bg = Background::resolve(baseline, o.baselines.as_ref(), x)?;
            let n = x.shape()[0];
            let p = o.samples;
            let mut rng = Rng::new(o.seed);
            let mut perms: Vec<Vec<usize>> = Vec::with_capacity(p);
            for k in 0..p {
                if k % 2 == 1 {
                    let mut r = perms[k - 1].clone();
                    r.reverse();
                    perms.push(r);
                } else {
                    perms.push(rng.permutation(d));
                }
            }
            // pos[k][g]: place of g in permutation k; coalition (k, s) = the first s players.
            let pos: Vec<Vec<usize>> = perms
                .iter()
                .map(|pm| {
                    let mut q = vec![0; d];
                    for (i, &g) in pm.iter().enumerate() {
                        q[g] = i;
                    }
                    q
                })
                .collect();
            let c = p * (d + 1);
            let v = coalition_values(
                model,
                &x.to_vec_f32()?,
                &example,
                targets,
                o.batch_size,
                groups,
                &bg,
                c,
                |ci, g| pos[ci / (d + 1)][g] < ci % (d + 1),
            )?;
            let mut phi = vec![0.0f64; n * d];
            let mut gap = Vec::with_capacity(n);
            for (i, vi) in v.chunks(c).enumerate() {
                for (k, pm) in perms.iter().enumerate() {
                    let vk = &vi[k * (d + 1)..(k + 1) * (d + 1)];
                    for (s, &g) in pm.iter().enumerate() {
                        phi[i * d + g] += (vk[s + 1] - vk[s]) / p as f64;
                    }
                }
                let total = vi[d] - vi[0];
                gap.push(phi[i * d..(i + 1) * d].iter().sum::<f64>() - total);
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
    use crate::methods::ShapleyExact;
    use crate::testing::models::*;
    use crate::testing::rel_l2;
    use xai_nn::layers::ActivationKind;
    use xai_nn::Graph;
    use xai_tensor::Rng;

    /// 10 → 16 → tanh → 3: interactions between features, so sampling has variance.
    fn mlp10(seed: u64) -> Graph {
        let mut r = Rng::new(seed);
        Graph::sequential(
            vec![10],
            vec![
                layer(
                    "0",
                    linear(
                        randn(&mut r, &[16, 10], 0.6),
                        Some(randn(&mut r, &[16], 0.1)),
                    ),
                ),
                layer("1", act(ActivationKind::Tanh)),
                layer("2", linear(randn(&mut r, &[3, 16], 0.6), None)),
            ],
            None,
        )
        .unwrap()
    }

    #[test]
    fn within_ten_percent_of_exact_at_300_permutations_on_10_features() {
        let m = mlp10(13);
        let x = randn(&mut Rng::new(14), &[2, 10], 1.5);
        let t = [0, 1];
        let run = |seed| {
            ShapleySampling {
                samples: 300,
                seed,
                ..Default::default()
            }
            .attribute(&m, &x, &t)
            .unwrap()
        };
        let s = run(5);
        let e = ShapleyExact::default().attribute(&m, &x, &t).unwrap();
        let err = rel_l2(&s.attributions, &e.attributions);
        assert!(err < 0.1, "relative L2 {err}");
        assert!(s
            .completeness_gap
            .as_ref()
            .unwrap()
            .iter()
            .all(|g| g.abs() < 1e-4));
        assert_eq!(
            s.attributions.to_vec_f32().unwrap(),
            run(5).attributions.to_vec_f32().unwrap()
        );
    }
}
