//! Interval rules in the spirit of validity interval analysis (VIA, Thrun 1993): boxes of
//! inputs on which the network provably gives one class, read as rules
//! "if lo_j < x_j ≤ hi_j for every j then c".
//!
//! A box is **certified** for class c when interval bound propagation
//! ([`xai_nn::interval`]: linear, convolution, ReLU, sigmoid, tanh, pooling, batch norm, …)
//! bounds the network's logits over the whole box so that the lower bound of logit c exceeds
//! the upper bound of every other logit by a margin (1e-4·(1 + the largest |bound|), for the
//! rounding of the bounds in the model's precision). Boxes grow around training rows (a
//! seeded sample of `candidates` of them, all at once): first the same fraction ε of every
//! feature's training range on both sides, the largest certified ε found by bisection; then
//! each side of each feature in turn, pushed out towards the training range's end by
//! bisection as far as the box stays certified (Thrun's per-dimension growth). Of the grown
//! boxes, up to `max_rules` are kept greedily by how many training rows each newly covers.
//! Every rule is sound on the training range: each f32 point of its box gets its class (a
//! side that reaches the end of a feature's training range is left out of the rule, which
//! therefore speaks for inputs within that range).

use super::{Comparison, Condition, ExtractedRules, Rule, RuleData, RuleExtractor, RuleSet};
use crate::config::{at_least_one, count_in, MethodConfig};
use crate::{map_rows, PassiveError, Result, DEFAULT_BATCH_SIZE};
use serde::{Deserialize, Serialize};
use xai_nn::Layered;
use xai_tensor::{DType, Rng, Tensor};

/// log₂ of the least fraction of a feature's range phase 1 tries.
const MIN_LOG_EPS: f64 = -24.0;

/// 2^v of each value.
fn exp2(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| x.exp2()).collect()
}

/// Certified boxes grown around training rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IntervalRules {
    /// Training rows boxes are grown around (a seeded sample; all rows if fewer).
    pub candidates: usize,
    /// Most rules kept.
    pub max_rules: usize,
    /// Bisection steps per growth (each one interval pass over all candidates).
    pub steps: usize,
    /// Rows per model call.
    pub batch_size: usize,
}

impl Default for IntervalRules {
    fn default() -> Self {
        Self {
            candidates: 64,
            max_rules: 10,
            steps: 12,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for IntervalRules {
    fn validate(&self) -> Result<()> {
        count_in("candidates", self.candidates, 100_000)?;
        count_in("max_rules", self.max_rules, 100_000)?;
        count_in("steps", self.steps, 64)?;
        at_least_one("batch_size", self.batch_size)
    }
}

/// The boxes of the candidates, row-major `[m, F]` each, with their classes.
struct Boxes {
    lo: Vec<f32>,
    hi: Vec<f32>,
    class: Vec<usize>,
    f: usize,
    shape: Vec<usize>,
}

impl Boxes {
    /// Which boxes the model certifies for their class.
    fn certified(&self, model: &dyn Layered, lo: &[f32], hi: &[f32]) -> Result<Vec<bool>> {
        let m = self.class.len();
        let mut shape = vec![m];
        shape.extend(&self.shape);
        let b = model.interval(
            &Tensor::from_slice(lo, &shape)?,
            &Tensor::from_slice(hi, &shape)?,
        )?;
        let (blo, bhi) = (b.lo.to_vec_f64()?, b.hi.to_vec_f64()?);
        let k = blo.len() / m.max(1);
        Ok((0..m)
            .map(|i| {
                let (l, h) = (&blo[i * k..(i + 1) * k], &bhi[i * k..(i + 1) * k]);
                let c = self.class[i];
                let scale = 1.0 + l.iter().chain(h).fold(0.0f64, |a, v| a.max(v.abs()));
                let rival = (0..k)
                    .filter(|&j| j != c)
                    .map(|j| h[j])
                    .fold(f64::NEG_INFINITY, f64::max);
                l[c].is_finite() && l[c] - rival > 1e-4 * scale
            })
            .collect())
    }
}

impl RuleExtractor<dyn Layered> for IntervalRules {
    fn name(&self) -> &'static str {
        "via"
    }

    fn extract(&self, model: &dyn Layered, data: &RuleData<'_>) -> Result<ExtractedRules> {
        let n = data.x.shape()[0];
        let f = data.x.numel() / n;
        let x = data.x.to_dtype(DType::F32)?.to_vec_f32()?;
        let logits = map_rows(data.x, self.batch_size, |c, _| Ok(model.predict(c)?))?;
        let pred = logits.reshape(&[n, logits.numel() / n])?.argmax(1)?;
        // Each feature's training range: the domain boxes grow in.
        let mut min = vec![f32::INFINITY; f];
        let mut max = vec![f32::NEG_INFINITY; f];
        for row in x.chunks(f) {
            for j in 0..f {
                min[j] = min[j].min(row[j]);
                max[j] = max[j].max(row[j]);
            }
        }
        let mut order = Rng::new(data.seed).permutation(n);
        order.truncate(self.candidates.min(n));
        let rows: Vec<&[f32]> = order.iter().map(|&i| &x[i * f..(i + 1) * f]).collect();
        let mut boxes = Boxes {
            lo: rows.concat(),
            hi: rows.concat(),
            class: order.iter().map(|&i| pred[i]).collect(),
            f,
            shape: data.x.shape()[1..].to_vec(),
        };
        let m = order.len();
        let alive = boxes.certified(model, &boxes.lo, &boxes.hi)?;
        // Phase 1: the same fraction ε of every range on both sides, bisected per box in
        // log₂ ε over [−24, 0] (boxes of deep networks certify at small ε).
        let (mut ok, mut bad) = (vec![MIN_LOG_EPS; m], vec![0.0f64; m]);
        let around = |eps: &[f64], b: &Boxes| -> (Vec<f32>, Vec<f32>) {
            let (mut lo, mut hi) = (b.lo.clone(), b.hi.clone());
            for i in 0..m {
                for j in 0..f {
                    let r = f64::from(max[j] - min[j]) * eps[i];
                    let v = f64::from(rows[i][j]);
                    lo[i * f + j] = ((v - r) as f32).max(min[j]).min(rows[i][j]);
                    hi[i * f + j] = ((v + r) as f32).min(max[j]).max(rows[i][j]);
                }
            }
            (lo, hi)
        };
        for _ in 0..self.steps {
            let mid: Vec<f64> = ok.iter().zip(&bad).map(|(a, b)| (a + b) / 2.0).collect();
            let (lo, hi) = around(&exp2(&mid), &boxes);
            for (i, c) in boxes.certified(model, &lo, &hi)?.into_iter().enumerate() {
                if c {
                    ok[i] = mid[i];
                } else {
                    bad[i] = mid[i];
                }
            }
        }
        // ε = 1 covers the whole range: try it outright.
        let (lo, hi) = around(&vec![1.0; m], &boxes);
        for (i, c) in boxes.certified(model, &lo, &hi)?.into_iter().enumerate() {
            if c {
                ok[i] = 0.0;
            }
        }
        // The smallest ε tried is kept only where it was certified.
        let (lo, hi) = around(&exp2(&ok), &boxes);
        let smallest = boxes.certified(model, &lo, &hi)?;
        let eps: Vec<f64> = exp2(&ok)
            .into_iter()
            .zip(&smallest)
            .map(|(e, &c)| if c { e } else { 0.0 })
            .collect();
        (boxes.lo, boxes.hi) = around(&eps, &boxes);
        // Phase 2: each side of each feature pushed out towards the range's end.
        for j in 0..f {
            for upper in [false, true] {
                let start: Vec<f32> = (0..m)
                    .map(|i| {
                        if upper {
                            boxes.hi[i * f + j]
                        } else {
                            boxes.lo[i * f + j]
                        }
                    })
                    .collect();
                let end = if upper { max[j] } else { min[j] };
                let (mut good, mut fail) = (vec![0.0f64; m], vec![1.0f64; m]);
                let at = |t: &[f64], b: &Boxes| -> (Vec<f32>, Vec<f32>) {
                    let (mut lo, mut hi) = (b.lo.clone(), b.hi.clone());
                    for i in 0..m {
                        let v = (f64::from(start[i]) + t[i] * f64::from(end - start[i])) as f32;
                        if upper {
                            hi[i * f + j] = v.max(start[i]);
                        } else {
                            lo[i * f + j] = v.min(start[i]);
                        }
                    }
                    (lo, hi)
                };
                let (lo, hi) = at(&vec![1.0; m], &boxes);
                let whole = boxes.certified(model, &lo, &hi)?;
                for (i, w) in whole.iter().enumerate() {
                    if *w {
                        good[i] = 1.0;
                    }
                }
                if whole.iter().any(|w| !w) {
                    for _ in 0..self.steps {
                        let mid: Vec<f64> = good
                            .iter()
                            .zip(&fail)
                            .map(|(a, b)| if *a == 1.0 { 1.0 } else { (a + b) / 2.0 })
                            .collect();
                        let (lo, hi) = at(&mid, &boxes);
                        for (i, c) in boxes.certified(model, &lo, &hi)?.into_iter().enumerate() {
                            if c {
                                good[i] = mid[i];
                            } else {
                                fail[i] = mid[i];
                            }
                        }
                    }
                }
                (boxes.lo, boxes.hi) = at(&good, &boxes);
            }
        }
        // Keep certified boxes greedily by the training rows each newly covers.
        let certified = boxes.certified(model, &boxes.lo, &boxes.hi)?;
        let inside = |i: usize, row: &[f32]| {
            (0..f).all(|j| {
                let (l, h) = (boxes.lo[i * f + j], boxes.hi[i * f + j]);
                row[j] <= h && row[j] >= l
            })
        };
        let covers: Vec<Vec<usize>> = (0..m)
            .map(|i| {
                if !(alive[i] && certified[i]) {
                    return Vec::new();
                }
                (0..n)
                    .filter(|&r| inside(i, &x[r * f..(r + 1) * f]))
                    .collect()
            })
            .collect();
        let mut covered = vec![false; n];
        let mut rules = Vec::new();
        while rules.len() < self.max_rules {
            let gain = |i: usize| covers[i].iter().filter(|&&r| !covered[r]).count();
            let Some(best) = (0..m)
                .filter(|&i| gain(i) > 0)
                .max_by_key(|&i| (gain(i), m - i))
            else {
                break;
            };
            let rows = &covers[best];
            let agree = rows
                .iter()
                .filter(|&&r| pred[r] == boxes.class[best])
                .count();
            for &r in rows {
                covered[r] = true;
            }
            rules.push(Rule {
                conditions: self.conditions(&boxes, best, &min, &max, data.feature_names),
                at_least: Vec::new(),
                class: boxes.class[best],
                coverage: rows.len() as f64 / n as f64,
                precision: agree as f64 / rows.len().max(1) as f64,
            });
        }
        if rules.is_empty() {
            return Err(PassiveError::BadArgument(
                "via certified no box: the network's margin at every candidate row is within \
                 the bounds' rounding (more --candidates may find one)"
                    .into(),
            ));
        }
        Ok(ExtractedRules {
            rules: RuleSet {
                rules,
                default_class: None,
            },
            tree: None,
        })
    }
}

impl IntervalRules {
    /// The conditions of box `i`: `x_j ≥ lo_j` (written `x_j > t` with t the f32 just below
    /// lo_j, the same for f32 inputs) and `x_j ≤ hi_j`, leaving out a side that reaches the end
    /// of the training range: the rule holds on the training range.
    fn conditions(
        &self,
        b: &Boxes,
        i: usize,
        min: &[f32],
        max: &[f32],
        names: &[String],
    ) -> Vec<Condition> {
        let f = b.f;
        let mut out = Vec::new();
        for j in 0..f {
            let name = names.get(j).cloned();
            let (lo, hi) = (b.lo[i * f + j], b.hi[i * f + j]);
            if lo > min[j] {
                out.push(Condition {
                    feature: j,
                    name: name.clone(),
                    comparison: Comparison::Above,
                    threshold: f64::from(lo.next_down()),
                });
            }
            if hi < max[j] {
                out.push(Condition {
                    feature: j,
                    name,
                    comparison: Comparison::AtMost,
                    threshold: f64::from(hi),
                });
            }
        }
        out
    }
}
