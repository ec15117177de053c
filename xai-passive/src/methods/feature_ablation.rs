//! Feature ablation (Captum's `FeatureAblation`) and omission / leave-one-out (Zeiler & Fergus
//! 2014; Li, Monroe & Jurafsky, *Understanding Neural Networks through Representation
//! Erasure*, 2016): for each feature or group G ([`FeatureGroups`]: mask group ids, segments `grid:N | slic:N`),
//! a_G(x) = f_c(x) − f_c(x with G set to the baseline b), the group's value given to each of
//! its members. Needs only `Forward`.

use super::perturbation::{
    compose, eval_rows, explain_by_groups, group_explanation, FeatureGroups, Groups,
};
use crate::attribution::{Attribution, Explanation};
use crate::baseline::Baseline;
use crate::config::{at_least_one, MethodConfig};
use crate::Result;
use crate::DEFAULT_BATCH_SIZE;
use xai_nn::Forward;
use xai_tensor::Tensor;

/// Feature ablation against `baseline`, per feature or per group of `groups`; all N × G
/// ablated inputs go through the model in chunks of `batch_size` rows.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FeatureAblation {
    /// What an ablated feature becomes.
    pub baseline: Baseline,
    /// The features ablated together.
    #[serde(flatten)]
    pub groups: FeatureGroups,
    /// Rows per model call.
    pub batch_size: usize,
}

impl Default for FeatureAblation {
    fn default() -> Self {
        Self {
            baseline: Baseline::Zeros,
            groups: FeatureGroups::default(),
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for FeatureAblation {
    fn validate(&self) -> Result<()> {
        self.groups.validate()?;
        at_least_one("batch_size", self.batch_size)
    }
}

/// Omission (leave-one-out): aᵢ = f_c(x) − f_c(x without feature i), "without" meaning set to
/// the baseline: [`FeatureAblation`] per feature, under the name the surveys use.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Omission {
    /// What an omitted feature becomes.
    pub baseline: Baseline,
    /// Rows per model call.
    pub batch_size: usize,
}

impl Default for Omission {
    fn default() -> Self {
        Self {
            baseline: Baseline::Zeros,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for Omission {
    fn validate(&self) -> Result<()> {
        at_least_one("batch_size", self.batch_size)
    }
}

/// f_c(x) − f_c(x with group g at the baseline), `[N·G]`.
fn ablate<M: Forward + ?Sized>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    baseline: &Baseline,
    batch_size: usize,
    groups: &Groups,
) -> Result<Vec<f64>> {
    let example = x.shape()[1..].to_vec();
    let (n, f) = (x.shape()[0], x.numel() / x.shape()[0].max(1));
    let g = groups.count;
    let xv = x.to_vec_f32()?;
    let bv = baseline.resolve(x)?.to_vec_f32()?;
    let fx = eval_rows(
        model,
        &example,
        n,
        batch_size,
        |i, buf| buf.copy_from_slice(&xv[i * f..(i + 1) * f]),
        |i| targets[i],
    )?;
    let y = eval_rows(
        model,
        &example,
        n * g,
        batch_size,
        |r, buf| {
            let (i, k) = (r / g, r % g);
            let (xi, bi) = (&xv[i * f..(i + 1) * f], &bv[i * f..(i + 1) * f]);
            compose(buf, xi, bi, &groups.ids, |gid| gid != k);
        },
        |r| targets[r / g],
    )?;
    Ok(y.iter().enumerate().map(|(r, y)| fx[r / g] - y).collect())
}

fn run<M: Forward + ?Sized>(
    o: &FeatureAblation,
    model: &M,
    x: &Tensor,
    targets: &[usize],
) -> Result<Explanation> {
    o.validate()?;
    let run = |baseline: &Baseline, x: &Tensor, targets: &[usize], groups: &Groups| {
        let phi = ablate(model, x, targets, baseline, o.batch_size, groups)?;
        Ok((
            group_explanation(&phi, groups, x, targets, None)?,
            Vec::<()>::new(),
        ))
    };
    Ok(explain_by_groups(&o.groups, &o.baseline, x, targets, run)?.0)
}

impl<M: Forward + ?Sized> Attribution<M> for FeatureAblation {
    fn name(&self) -> &'static str {
        "feature-ablation"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        run(self, model, x, targets)
    }
}

impl<M: Forward + ?Sized> Attribution<M> for Omission {
    fn name(&self) -> &'static str {
        "omission"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        let per_feature = FeatureAblation {
            baseline: self.baseline.clone(),
            groups: FeatureGroups::default(),
            batch_size: self.batch_size,
        };
        run(&per_feature, model, x, targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::Baseline;
    use crate::testing::models::*;
    use xai_tensor::Rng;

    fn logit(m: &dyn Forward, v: &[f32], shape: &[usize], t: usize) -> f64 {
        let mut s = vec![1];
        s.extend(shape);
        m.predict(&Tensor::from_vec(v.to_vec(), &s).unwrap())
            .unwrap()
            .to_vec_f64()
            .unwrap()[t]
    }

    #[test]
    fn equals_a_direct_loop_per_feature_and_per_group() {
        let m = cnn(5);
        let x = randn(&mut Rng::new(6), &[2, 2, 5, 5], 1.0);
        let t = [1, 2];
        let f = 50;
        let xv = x.to_vec_f32().unwrap();
        let labels: Vec<f32> = (0..f).map(|j| ((j * 7) % 5) as f32 * 3.0).collect();
        let mask = Tensor::from_vec(labels.clone(), &[2, 5, 5]).unwrap();
        for with_mask in [false, true] {
            let e = FeatureAblation {
                baseline: Baseline::Constant(-0.2),
                groups: FeatureGroups {
                    mask: with_mask.then(|| mask.clone()),
                    segments: None,
                },
                batch_size: 9,
            }
            .attribute(&m, &x, &t)
            .unwrap()
            .attributions
            .to_vec_f32()
            .unwrap();
            for i in 0..2 {
                let xi = &xv[i * f..(i + 1) * f];
                let fx = logit(&m, xi, &[2, 5, 5], t[i]);
                for j in 0..f {
                    let mut v = xi.to_vec();
                    for k in 0..f {
                        let off = if with_mask {
                            labels[k] == labels[j]
                        } else {
                            k == j
                        };
                        if off {
                            v[k] = -0.2;
                        }
                    }
                    let want = fx - logit(&m, &v, &[2, 5, 5], t[i]);
                    let got = e[i * f + j] as f64;
                    assert!((got - want).abs() <= 1e-5 * (1.0 + want.abs()));
                }
            }
        }
    }

    #[test]
    fn slic_segments_are_made_per_example() {
        use crate::methods::Segmentation;
        let m = cnn(7);
        let x = randn(&mut Rng::new(8), &[2, 2, 5, 5], 1.0);
        let t = [0, 2];
        let opts = FeatureAblation {
            groups: FeatureGroups::segments("slic:4"),
            baseline: Baseline::Constant(0.3),
            ..Default::default()
        };
        let got = opts
            .clone()
            .attribute(&m, &x, &t)
            .unwrap()
            .attributions
            .to_vec_f32()
            .unwrap();
        let xv = x.to_vec_f32().unwrap();
        let seg: Segmentation = "slic:4".parse().unwrap();
        let labels: Vec<Vec<i64>> = (0..2)
            .map(|i| seg.labels(&xv[i * 50..(i + 1) * 50], &[2, 5, 5]).unwrap())
            .collect();
        assert_ne!(
            labels[0], labels[1],
            "the test needs different segmentations"
        );
        for i in 0..2 {
            let mask = labels[i].iter().map(|&l| l as f32).collect();
            let want = FeatureAblation {
                groups: FeatureGroups::mask(Tensor::from_vec(mask, &[2, 5, 5]).unwrap()),
                ..opts.clone()
            }
            .attribute(&m, &x.narrow(0, i, 1).unwrap(), &t[i..i + 1])
            .unwrap()
            .attributions
            .to_vec_f32()
            .unwrap();
            for (a, b) in got[i * 50..(i + 1) * 50].iter().zip(&want) {
                assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
    }
}
