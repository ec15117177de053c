//! Trepan (Craven & Shavlik, *Extracting Tree-Structured Representations of Trained
//! Networks*, NIPS 1996): a tree that asks the network, not the data, at every node.
//!
//! - **Examples per node.** A node's examples are the training rows that reach it, topped up to
//!   `min_samples` with rows drawn for it: each feature drawn independently from the values
//!   of the training rows reaching the node (of all training rows when fewer than
//!   [`LOCAL_POOL`] reach it), kept when the draw satisfies every test on the node's path
//!   (rejection, at most [`DRAW_TRIES`] tries per row). Every example is labelled by the
//!   network: argmax_k f_k(x).
//! - **Splits** are m-of-n tests found greedily: the best single threshold by information
//!   gain seeds `1 of (x_j ≤ t)`; then, among the literals `x_j ≤ t_j` and `x_j > t_j` of the
//!   `pool` features with the best single splits, the one whose addition as m-of-(n+1) or
//!   (m+1)-of-(n+1) raises the gain most is added, while the gain rises and n < `max_literals`.
//! - **Growth** is best first: the open node of largest reach × (1 − fidelity) is split next
//!   (reach: its share of the training rows; fidelity: the share of its examples the network
//!   gives its majority class), until the tree has `max_leaves` leaves.
//! - **Stopping** a node: when a one-sided binomial test is confident, at level `delta`, that
//!   its majority share is at least 1 − `epsilon`, or no test separates its examples.
//!
//! Leaves predict the majority class of their examples; a leaf's value counts its examples
//! (training and drawn) per class, and its `samples` the training rows that reach it.

use super::tree::{DecisionTree, Split, Test, TreeNode, TreeTask};
use super::{AtLeast, Comparison, Condition, ExtractedRules, RuleData, RuleExtractor};
use crate::config::{at_least_one, bad, count_in, MethodConfig};
use crate::{map_rows, Result, DEFAULT_BATCH_SIZE};
use serde::{Deserialize, Serialize};
use xai_nn::Forward;
use xai_tensor::{DType, Rng, Tensor};

/// Fewest training rows at a node for its own rows to be the pool its draws come from.
pub const LOCAL_POOL: usize = 5;
/// Tries per drawn row before a node makes do with fewer.
pub const DRAW_TRIES: usize = 20;

/// Trepan's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Trepan {
    /// The tree's size budget in leaves (≥ 2).
    pub max_leaves: usize,
    /// Examples per node: training rows reaching it, topped up with drawn rows.
    pub min_samples: usize,
    /// Most literals of an m-of-n test.
    pub max_literals: usize,
    /// Features whose best thresholds give the literals an m-of-n search may add.
    pub pool: usize,
    /// A node is pure enough when its majority share is at least 1 − epsilon …
    pub epsilon: f64,
    /// … at confidence 1 − delta (one-sided binomial test).
    pub delta: f64,
    /// Rows per model call.
    pub batch_size: usize,
}

impl Default for Trepan {
    fn default() -> Self {
        Self {
            max_leaves: 10,
            min_samples: 300,
            max_literals: 4,
            pool: 10,
            epsilon: 0.05,
            delta: 0.05,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for Trepan {
    fn validate(&self) -> Result<()> {
        if self.max_leaves < 2 {
            return Err(bad(
                "max_leaves",
                format!("must be at least 2, got {}", self.max_leaves),
            ));
        }
        count_in("max_leaves", self.max_leaves, 10_000)?;
        count_in("min_samples", self.min_samples, 1_000_000)?;
        count_in("max_literals", self.max_literals, 64)?;
        count_in("pool", self.pool, 10_000)?;
        for (name, v) in [("epsilon", self.epsilon), ("delta", self.delta)] {
            if !(v > 0.0 && v < 1.0) {
                return Err(bad(name, format!("must be in (0, 1), got {v}")));
            }
        }
        at_least_one("batch_size", self.batch_size)
    }
}

/// Examples: flat rows and the network's class of each.
#[derive(Default)]
struct Examples {
    x: Vec<f32>,
    y: Vec<usize>,
}

/// A node while the tree grows.
struct Grown {
    /// The tests above it and whether each holds here.
    path: Vec<(Test, bool)>,
    /// Training rows that reach it.
    rows: Vec<usize>,
    counts: Vec<f64>,
    depth: usize,
    /// The split found for it, while it is open (not yet split, not stopped).
    candidate: Option<Test>,
    /// Its children once split …
    children: Option<(usize, usize)>,
    /// … by this test.
    test: Option<Test>,
}

struct Context<'a> {
    cfg: &'a Trepan,
    model: &'a dyn Forward,
    x: &'a [f32],
    f: usize,
    shape: Vec<usize>,
    k: usize,
    pred: Vec<usize>,
    names: &'a [String],
}

impl RuleExtractor<dyn Forward> for Trepan {
    fn name(&self) -> &'static str {
        "trepan"
    }

    fn extract(&self, model: &dyn Forward, data: &RuleData<'_>) -> Result<ExtractedRules> {
        let n = data.x.shape()[0];
        let x = data.x.to_dtype(DType::F32)?.to_vec_f32()?;
        let logits = map_rows(data.x, self.batch_size, |c, _| Ok(model.predict(c)?))?;
        let k = logits.numel() / n;
        let pred = logits.reshape(&[n, k])?.argmax(1)?;
        let cx = Context {
            cfg: self,
            model,
            x: &x,
            f: x.len() / n,
            shape: data.x.shape()[1..].to_vec(),
            k,
            pred,
            names: data.feature_names,
        };
        let mut rng = Rng::new(data.seed);
        let mut nodes = vec![cx.grown(Vec::new(), (0..n).collect(), 0, &mut rng)?];
        let mut leaves = 1;
        while leaves < self.max_leaves {
            // The open node of largest reach × (1 − fidelity); the earliest on ties.
            let priority = |g: &Grown| {
                let total: f64 = g.counts.iter().sum();
                let fidelity = g.counts.iter().copied().fold(0.0, f64::max) / total.max(1.0);
                g.rows.len() as f64 / n as f64 * (1.0 - fidelity)
            };
            let Some(best) = (0..nodes.len())
                .filter(|&i| nodes[i].candidate.is_some() && nodes[i].children.is_none())
                .max_by(|&a, &b| {
                    priority(&nodes[a])
                        .total_cmp(&priority(&nodes[b]))
                        .then(b.cmp(&a))
                })
            else {
                break;
            };
            let test = nodes[best]
                .candidate
                .take()
                .expect("an open node has a split");
            let (yes, no): (Vec<usize>, Vec<usize>) = nodes[best]
                .rows
                .iter()
                .partition(|&&r| test.holds(&x[r * cx.f..(r + 1) * cx.f]));
            let depth = nodes[best].depth + 1;
            let mut children = [0; 2];
            for (c, (rows, holds)) in [(yes, true), (no, false)].into_iter().enumerate() {
                let mut path = nodes[best].path.clone();
                path.push((test.clone(), holds));
                children[c] = nodes.len();
                let g = cx.grown(path, rows, depth, &mut rng)?;
                nodes.push(g);
            }
            nodes[best].children = Some((children[0], children[1]));
            nodes[best].test = Some(test);
            leaves += 1;
        }
        let mut tree = DecisionTree {
            task: TreeTask::Classification,
            n_features: cx.f,
            n_outputs: k,
            feature_names: data.feature_names.to_vec(),
            nodes: Vec::new(),
        };
        preorder(&nodes, 0, &mut tree.nodes);
        Ok(ExtractedRules::from_tree(tree))
    }
}

/// Appends node `i` and its subtree to `out` in preorder; returns its index there.
fn preorder(nodes: &[Grown], i: usize, out: &mut Vec<TreeNode>) -> usize {
    let g = &nodes[i];
    let id = out.len();
    let total: f64 = g.counts.iter().sum();
    out.push(TreeNode {
        split: None,
        value: g.counts.clone(),
        impurity: entropy(&g.counts, total),
        samples: g.rows.len(),
        weight: total,
        depth: g.depth,
    });
    if let (Some((l, r)), Some(test)) = (g.children, &g.test) {
        let left = preorder(nodes, l, out);
        let right = preorder(nodes, r, out);
        out[id].split = Some(Split {
            test: test.clone(),
            left,
            right,
        });
    }
    id
}

impl Context<'_> {
    /// A node over training `rows` below `path`: its examples drawn and labelled, its split
    /// searched unless it stops.
    fn grown(
        &self,
        path: Vec<(Test, bool)>,
        rows: Vec<usize>,
        depth: usize,
        rng: &mut Rng,
    ) -> Result<Grown> {
        let ex = self.examples(&path, &rows, rng)?;
        let mut counts = vec![0.0; self.k];
        for &c in &ex.y {
            counts[c] += 1.0;
        }
        let total = ex.y.len();
        let majority = counts.iter().copied().fold(0.0, f64::max) as usize;
        let candidate =
            if total < 2 || confidently_pure(majority, total, self.cfg.epsilon, self.cfg.delta) {
                None
            } else {
                self.best_test(&ex)
            };
        Ok(Grown {
            path,
            rows,
            counts,
            depth,
            candidate,
            children: None,
            test: None,
        })
    }

    /// The node's training rows and rows drawn for it, labelled by the network.
    fn examples(&self, path: &[(Test, bool)], rows: &[usize], rng: &mut Rng) -> Result<Examples> {
        let f = self.f;
        let mut ex = Examples::default();
        for &r in rows {
            ex.x.extend_from_slice(&self.x[r * f..(r + 1) * f]);
            ex.y.push(self.pred[r]);
        }
        let need = self.cfg.min_samples.saturating_sub(rows.len());
        if need == 0 {
            return Ok(ex);
        }
        let all: Vec<usize>;
        let pool: &[usize] = if rows.len() >= LOCAL_POOL {
            rows
        } else {
            all = (0..self.pred.len()).collect();
            &all
        };
        let mut drawn: Vec<f32> = Vec::with_capacity(need * f);
        let mut row = vec![0.0f32; f];
        for _ in 0..need * DRAW_TRIES {
            if drawn.len() == need * f {
                break;
            }
            for (j, v) in row.iter_mut().enumerate() {
                *v = self.x[pool[rng.below(pool.len())] * f + j];
            }
            if path.iter().all(|(t, holds)| t.holds(&row) == *holds) {
                drawn.extend_from_slice(&row);
            }
        }
        if !drawn.is_empty() {
            let m = drawn.len() / f;
            let mut shape = vec![m];
            shape.extend(&self.shape);
            let t = Tensor::from_vec(drawn.clone(), &shape)?;
            let logits = map_rows(&t, self.cfg.batch_size, |c, _| Ok(self.model.predict(c)?))?;
            ex.y.extend(logits.reshape(&[m, self.k])?.argmax(1)?);
            ex.x.extend(drawn);
        }
        Ok(ex)
    }

    /// The m-of-n test of best information gain on `ex`, or `None` when no test separates
    /// its examples.
    fn best_test(&self, ex: &Examples) -> Option<Test> {
        let f = self.f;
        let n = ex.y.len();
        let parent = class_counts(ex.y.iter().copied(), self.k);
        let h = entropy(&parent, n as f64);
        let gain = |holds: &dyn Fn(usize) -> bool| {
            let yes = class_counts((0..n).filter(|&i| holds(i)).map(|i| ex.y[i]), self.k);
            let ny: f64 = yes.iter().sum();
            if ny == 0.0 || ny == n as f64 {
                return 0.0;
            }
            let no: Vec<f64> = parent.iter().zip(&yes).map(|(p, y)| p - y).collect();
            h - ny / n as f64 * entropy(&yes, ny)
                - (n as f64 - ny) / n as f64 * entropy(&no, n as f64 - ny)
        };
        // The best threshold of each feature: (gain, feature, threshold).
        let mut singles: Vec<(f64, usize, f64)> = (0..f)
            .filter_map(|j| {
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by(|&a, &b| ex.x[a * f + j].total_cmp(&ex.x[b * f + j]));
                let mut left = vec![0.0; self.k];
                let mut best: Option<(f64, usize, f64)> = None;
                for p in 1..n {
                    left[ex.y[order[p - 1]]] += 1.0;
                    let (a, b) = (ex.x[order[p - 1] * f + j], ex.x[order[p] * f + j]);
                    if b <= a {
                        continue;
                    }
                    let right: Vec<f64> = parent.iter().zip(&left).map(|(t, l)| t - l).collect();
                    let g = h
                        - p as f64 / n as f64 * entropy(&left, p as f64)
                        - (n - p) as f64 / n as f64 * entropy(&right, (n - p) as f64);
                    if best.is_none_or(|b| g > b.0) {
                        best = Some((g, j, f64::from(a) / 2.0 + f64::from(b) / 2.0));
                    }
                }
                best
            })
            .collect();
        singles.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let &(g0, j0, t0) = singles.first().filter(|s| s.0 > 1e-12)?;
        let literal = |j: usize, t: f64, comparison| Condition {
            feature: j,
            name: self.names.get(j).cloned(),
            comparison,
            threshold: t,
        };
        let pool: Vec<Condition> = singles
            .iter()
            .take(self.cfg.pool)
            .flat_map(|&(_, j, t)| {
                [
                    literal(j, t, Comparison::AtMost),
                    literal(j, t, Comparison::Above),
                ]
            })
            .collect();
        let truth: Vec<Vec<bool>> = pool
            .iter()
            .map(|c| (0..n).map(|i| c.holds(&ex.x[i * f..(i + 1) * f])).collect())
            .collect();
        let mut chosen = vec![0usize]; // pool[0] is the best single literal (≤ form)
        debug_assert_eq!((pool[0].feature, pool[0].threshold), (j0, t0));
        let (mut m, mut best_gain) = (1usize, g0);
        let mut count: Vec<usize> = truth[0].iter().map(|&b| usize::from(b)).collect();
        while chosen.len() < self.cfg.max_literals {
            let mut next: Option<(f64, usize, usize)> = None;
            for (l, lt) in truth.iter().enumerate() {
                if chosen.iter().any(|&c| pool[c].feature == pool[l].feature) {
                    continue;
                }
                for m2 in [m, m + 1] {
                    let g = gain(&|i| count[i] + usize::from(lt[i]) >= m2);
                    if next.is_none_or(|b| g > b.0) {
                        next = Some((g, l, m2));
                    }
                }
            }
            match next {
                Some((g, l, m2)) if g > best_gain + 1e-12 => {
                    best_gain = g;
                    m = m2;
                    chosen.push(l);
                    for (c, &t) in count.iter_mut().zip(&truth[l]) {
                        *c += usize::from(t);
                    }
                }
                _ => break,
            }
        }
        if chosen.len() == 1 {
            return Some(Test::Threshold {
                feature: j0,
                threshold: t0,
            });
        }
        Some(Test::AtLeast(AtLeast {
            m,
            literals: chosen.iter().map(|&c| pool[c].clone()).collect(),
        }))
    }
}

/// Whether P(X ≥ k) ≤ δ for X ~ Binomial(n, 1 − ε): then a majority of k in n is a share
/// above 1 − ε with confidence 1 − δ.
fn confidently_pure(k: usize, n: usize, epsilon: f64, delta: f64) -> bool {
    let p = 1.0 - epsilon;
    let ln_choose = |n: usize, i: usize| {
        ln_gamma(n as f64 + 1.0) - ln_gamma(i as f64 + 1.0) - ln_gamma((n - i) as f64 + 1.0)
    };
    let tail: f64 = (k..=n)
        .map(|i| (ln_choose(n, i) + i as f64 * p.ln() + (n - i) as f64 * epsilon.ln()).exp())
        .sum();
    tail <= delta
}

fn class_counts(y: impl Iterator<Item = usize>, k: usize) -> Vec<f64> {
    let mut c = vec![0.0; k];
    for v in y {
        c[v] += 1.0;
    }
    c
}

/// −Σ p log₂ p of counts summing to `n`.
fn entropy(counts: &[f64], n: f64) -> f64 {
    counts
        .iter()
        .filter(|&&c| c > 0.0)
        .map(|&c| {
            let p = c / n;
            -p * p.log2()
        })
        .sum()
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A black box whose class is 1 when at least 2 of x0, x1, x2 are positive.
    struct TwoOfThree;

    impl Forward for TwoOfThree {
        fn input_shape(&self) -> &[usize] {
            &[5]
        }
        fn predict(&self, x: &Tensor) -> xai_nn::Result<Tensor> {
            let v = x.to_vec_f32()?;
            let logits: Vec<f32> = v
                .chunks(5)
                .flat_map(|r| {
                    let on = r[..3].iter().filter(|&&a| a > 0.0).count() >= 2;
                    if on {
                        [0.0, 1.0]
                    } else {
                        [1.0, 0.0]
                    }
                })
                .collect();
            Ok(Tensor::from_vec(logits, &[v.len() / 5, 2])?)
        }
    }

    #[test]
    fn trepan_finds_an_m_of_n_concept_in_one_split() {
        let x = Rng::new(5)
            .uniform(&[400, 5], -1.0, 1.0, DType::F32)
            .unwrap();
        let names: Vec<String> = (0..5).map(|j| format!("x{j}")).collect();
        let t = Trepan {
            max_leaves: 2,
            ..Trepan::default()
        };
        let found = t
            .extract(
                &TwoOfThree,
                &RuleData {
                    x: &x,
                    feature_names: &names,
                    seed: 0,
                },
            )
            .unwrap();
        let tree = found.tree.unwrap();
        let Some(Test::AtLeast(g)) = tree.nodes[0].split.as_ref().map(|s| s.test.clone()) else {
            panic!("the root is not an m-of-n test: {:?}", tree.nodes[0].split);
        };
        let mut features: Vec<usize> = g.literals.iter().map(|c| c.feature).collect();
        features.sort_unstable();
        assert_eq!(features, [0, 1, 2], "{g}");
        assert_eq!(g.m, 2, "{g}");
        // Fresh rows: the two-leaf tree agrees with the black box nearly everywhere (the
        // thresholds sit near 0, where the sampled rows leave a gap).
        let fresh = Rng::new(6)
            .uniform(&[2000, 5], -1.0, 1.0, DType::F32)
            .unwrap();
        let want = TwoOfThree.predict(&fresh).unwrap().argmax(1).unwrap();
        let got = tree.predict(&fresh).unwrap();
        let agree = want.iter().zip(&got).filter(|(a, b)| a == b).count();
        assert!(agree >= 1960, "{agree} of 2000");
        // Its rules say so too, read with the names, and give the tree's predictions; the
        // tree (with its m-of-n test) survives JSON.
        let text = found.rules.to_text();
        assert!(text.contains("2 of (x"), "{text}");
        let by_rules: Vec<usize> = found
            .rules
            .predict(&fresh)
            .unwrap()
            .into_iter()
            .map(Option::unwrap)
            .collect();
        assert_eq!(by_rules, got);
        let back: DecisionTree =
            serde_json::from_str(&serde_json::to_string(&tree).unwrap()).unwrap();
        assert_eq!(back, tree);
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for n in 1..30 {
            f *= n as f64;
            assert!(
                (ln_gamma(n as f64 + 1.0) - f.ln()).abs() < 1e-10 * f.ln().max(1.0),
                "{n}"
            );
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }

    #[test]
    fn the_purity_test_is_the_binomial_tail() {
        let pure = |k, n| confidently_pure(k, n, 0.05, 0.05);
        // 0.95^59 = 0.0485 ≤ 0.05: 59 of 59 is pure enough; 0.95^58 = 0.051 is not.
        assert!(pure(59, 59));
        assert!(!pure(58, 58));
        // 290 of 300 (96.7%): P(X ≥ 290 | 0.95) ≈ 0.10 > 0.05, not confident.
        assert!(!pure(290, 300));
        assert!(pure(297, 300));
    }
}
