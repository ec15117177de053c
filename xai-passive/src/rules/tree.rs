//! A fitted binary decision tree (CART's output, Breiman et al. 1984): walkable, printable as
//! rules, Graphviz DOT and JSON, and measurable — depth, leaves and the average path length
//! of Wu et al. (AAAI 2018), APL = (1/N) Σ_i |decision nodes on x_i's root-to-leaf path|.
//!
//! A split sends `x` left when `x[feature] ≤ threshold`, comparing the f32 feature exactly in
//! f64 (as scikit-learn does), so printed rules use [`shown_threshold`]: the largest f32 not
//! above the threshold, which gives the same decision for every f32 input.

use crate::output::{AtLeast, Comparison, Condition, Rule, RuleSet};
use crate::{PassiveError, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use xai_tensor::{DType, Tensor};

/// Rows per parallel task when a tree walks a batch.
const ROWS_PER_TASK: usize = 4096;

/// What a tree predicts at its leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TreeTask {
    /// A class: leaf values are weighted class counts, the prediction their argmax.
    Classification,
    /// A vector of targets (e.g. class probabilities): leaf values are their weighted means;
    /// [`DecisionTree::predict`] gives the argmax of the vector.
    Regression,
}

/// What an internal node tests; a row goes left when it holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Test {
    /// `x[feature] ≤ threshold` (CART's splits).
    Threshold {
        /// Flat feature index.
        feature: usize,
        /// The threshold.
        threshold: f64,
    },
    /// At least `m` of the literals hold (Trepan's m-of-n splits, Craven & Shavlik 1996).
    AtLeast(AtLeast),
}

impl Test {
    /// Whether flat row `x` passes (goes left).
    pub fn holds(&self, x: &[f32]) -> bool {
        match self {
            Test::Threshold { feature, threshold } => f64::from(x[*feature]) <= *threshold,
            Test::AtLeast(g) => g.holds(x),
        }
    }
}

/// The test of an internal node and its children.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// The test.
    pub test: Test,
    /// Index of the left child (the test holds).
    pub left: usize,
    /// Index of the right child.
    pub right: usize,
}

impl Split {
    /// A threshold split `x[feature] ≤ threshold`.
    pub fn threshold(feature: usize, threshold: f64, left: usize, right: usize) -> Self {
        Self {
            test: Test::Threshold { feature, threshold },
            left,
            right,
        }
    }

    /// The feature and threshold of a threshold split.
    pub fn feature_threshold(&self) -> Option<(usize, f64)> {
        match self.test {
            Test::Threshold { feature, threshold } => Some((feature, threshold)),
            Test::AtLeast(_) => None,
        }
    }
}

/// One node; the root is node 0 and nodes are in preorder (a node, its left subtree, its
/// right subtree).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TreeNode {
    /// The test, or `None` for a leaf.
    pub split: Option<Split>,
    /// Weighted class counts (classification) or weighted target means (regression) of the
    /// training rows that reach the node.
    pub value: Vec<f64>,
    /// Impurity of those rows (Gini, entropy in bits, or mean squared error).
    pub impurity: f64,
    /// Number of training rows that reach the node.
    pub samples: usize,
    /// Their total weight.
    pub weight: f64,
    /// Number of decision nodes above it (the root's is 0).
    pub depth: usize,
}

/// A binary decision tree over flat feature vectors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionTree {
    /// Classification or regression.
    pub task: TreeTask,
    /// Features per row.
    pub n_features: usize,
    /// Classes (classification) or targets (regression) per leaf value.
    pub n_outputs: usize,
    /// Names of the features (empty: `x[i]`).
    pub feature_names: Vec<String>,
    /// The nodes, root first, in preorder.
    pub nodes: Vec<TreeNode>,
}

/// The threshold as printed: the largest f32 `t'` with `t' ≤ threshold`, so that for every
/// f32 `v`, `v ≤ t'` exactly when `v ≤ threshold` (Rust prints it as the shortest decimal
/// that reads back as `t'`: the midpoint of 0.6 and 1.0 prints as `0.8`).
pub fn shown_threshold(threshold: f64) -> f32 {
    let t = threshold as f32;
    if f64::from(t) > threshold {
        t.next_down()
    } else {
        t
    }
}

impl DecisionTree {
    /// Number of leaves (one rule per leaf).
    pub fn leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.split.is_none()).count()
    }

    /// Depth: the most decision nodes on a root-to-leaf path (0 for a single leaf).
    pub fn depth(&self) -> usize {
        self.nodes.iter().map(|n| n.depth).max().unwrap_or(0)
    }

    /// The prediction of a node: its value's argmax (the first maximum).
    pub fn node_class(&self, node: usize) -> usize {
        argmax(&self.nodes[node].value)
    }

    /// The leaf row `x` (its flat features) reaches.
    pub fn leaf_of(&self, x: &[f32]) -> usize {
        let mut i = 0;
        while let Some(s) = &self.nodes[i].split {
            i = if s.test.holds(x) { s.left } else { s.right };
        }
        i
    }

    /// The leaf each row of `x` (`[N, ...]`, flattened per row) reaches.
    ///
    /// **Errors** if a row does not have [`n_features`](Self::n_features) values.
    pub fn apply(&self, x: &Tensor) -> Result<Vec<usize>> {
        let (rows, f) = self.rows_of(x)?;
        Ok(rows
            .par_chunks(f.max(1) * ROWS_PER_TASK)
            .flat_map_iter(|c| c.chunks(f.max(1)).map(|r| self.leaf_of(r)))
            .collect())
    }

    /// The class each row of `x` is given: the argmax of its leaf's value.
    ///
    /// **Errors** as [`apply`](Self::apply).
    pub fn predict(&self, x: &Tensor) -> Result<Vec<usize>> {
        Ok(self
            .apply(x)?
            .into_iter()
            .map(|l| self.node_class(l))
            .collect())
    }

    /// Each row's leaf value normalised to sum to one (class probabilities), `[N, n_outputs]`
    /// row-major; a regression tree's leaf means as they are.
    ///
    /// **Errors** as [`apply`](Self::apply).
    pub fn predict_values(&self, x: &Tensor) -> Result<Vec<f64>> {
        let mut out = Vec::new();
        for l in self.apply(x)? {
            let v = &self.nodes[l].value;
            match self.task {
                TreeTask::Classification => {
                    let s: f64 = v.iter().sum();
                    out.extend(v.iter().map(|c| c / s));
                }
                TreeTask::Regression => out.extend_from_slice(v),
            }
        }
        Ok(out)
    }

    /// Number of decision nodes on each row's root-to-leaf path (its leaf's depth).
    ///
    /// **Errors** as [`apply`](Self::apply).
    pub fn path_lengths(&self, x: &Tensor) -> Result<Vec<usize>> {
        Ok(self
            .apply(x)?
            .into_iter()
            .map(|l| self.nodes[l].depth)
            .collect())
    }

    /// Average path length over the rows of `x` (Wu et al. 2018):
    /// APL = (1/N) Σ_i depth(leaf(x_i)), the mean number of decisions a reader follows.
    ///
    /// **Errors** as [`apply`](Self::apply), or for an empty batch.
    pub fn average_path_length(&self, x: &Tensor) -> Result<f64> {
        let d = self.path_lengths(x)?;
        if d.is_empty() {
            return Err(PassiveError::BadArgument(
                "the average path length needs at least one row".into(),
            ));
        }
        Ok(d.iter().sum::<usize>() as f64 / d.len() as f64)
    }

    /// The feature's name, or `x[i]`.
    pub fn feature_name(&self, feature: usize) -> String {
        self.feature_names
            .get(feature)
            .cloned()
            .unwrap_or_else(|| format!("x[{feature}]"))
    }

    /// One rule per leaf, in preorder: the path's conditions (on each feature, only the
    /// tightest bound of each direction is kept), the leaf's class, its share of the training
    /// weight (coverage) and the share of its weight in that class (precision; for a
    /// regression tree, the class's mean value). The rules are mutually exclusive and cover
    /// every input, so they give exactly the tree's predictions.
    pub fn to_rule_set(&self) -> RuleSet {
        let total = self.nodes.first().map_or(1.0, |n| n.weight);
        let mut rules = Vec::new();
        let mut stack: Vec<(usize, Vec<PathTest>)> = vec![(0, Vec::new())];
        while let Some((i, path)) = stack.pop() {
            let node = &self.nodes[i];
            match &node.split {
                Some(s) => {
                    let (yes, no) = match &s.test {
                        Test::Threshold { feature, threshold } => (
                            PathTest::Bound(*feature, Comparison::AtMost, *threshold),
                            PathTest::Bound(*feature, Comparison::Above, *threshold),
                        ),
                        Test::AtLeast(g) => {
                            (PathTest::Group(g.clone()), PathTest::Group(g.negated()))
                        }
                    };
                    let mut right = path.clone();
                    right.push(no);
                    let mut left = path;
                    left.push(yes);
                    stack.push((s.right, right));
                    stack.push((s.left, left));
                }
                None => {
                    let class = self.node_class(i);
                    let precision = match self.task {
                        TreeTask::Classification => {
                            node.value[class] / node.weight.max(f64::MIN_POSITIVE)
                        }
                        TreeTask::Regression => node.value[class],
                    };
                    let (conditions, at_least) = self.tightest(&path);
                    rules.push(Rule {
                        conditions,
                        at_least,
                        class,
                        coverage: node.weight / total,
                        precision,
                    });
                }
            }
        }
        RuleSet {
            rules,
            default_class: None,
        }
    }

    /// The path's conditions with only the tightest bound per feature and direction, in the
    /// order each (feature, direction) first appears, and its m-of-n conditions (a 1-of-1 or
    /// n-of-n one read as plain conditions).
    fn tightest(&self, path: &[PathTest]) -> (Vec<Condition>, Vec<AtLeast>) {
        let mut bounds: Vec<(usize, Comparison, f64)> = Vec::new();
        let mut groups = Vec::new();
        for t in path {
            match t {
                PathTest::Bound(f, c, v) => bounds.push((*f, *c, *v)),
                PathTest::Group(g) if g.m == g.literals.len() => bounds.extend(
                    g.literals
                        .iter()
                        .map(|c| (c.feature, c.comparison, c.threshold)),
                ),
                PathTest::Group(g) => groups.push(g.clone()),
            }
        }
        let mut out: Vec<Condition> = Vec::new();
        for (feature, comparison, threshold) in bounds {
            let name = self.feature_names.get(feature).cloned();
            match out
                .iter_mut()
                .find(|c| c.feature == feature && c.comparison == comparison)
            {
                Some(c) => {
                    c.threshold = match comparison {
                        Comparison::AtMost => c.threshold.min(threshold),
                        Comparison::Above => c.threshold.max(threshold),
                    }
                }
                None => out.push(Condition {
                    feature,
                    name,
                    comparison,
                    threshold,
                }),
            }
        }
        (out, groups)
    }

    /// The text of node `i`'s test (`petal length (cm) <= 2.45`, `2 of (a <= 1, b > 3)`), or
    /// `None` for a leaf.
    pub fn test_text(&self, i: usize) -> Option<String> {
        self.nodes[i].split.as_ref().map(|s| match &s.test {
            Test::Threshold { feature, threshold } => format!(
                "{} <= {}",
                self.feature_name(*feature),
                shown_threshold(*threshold)
            ),
            Test::AtLeast(g) => g.to_string(),
        })
    }

    /// The tree in Graphviz DOT: decision nodes as boxes with their test, leaves with their
    /// class, each with its row count; edges `true` (left) and `false`.
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph tree {\n  node [shape=box, fontname=\"Helvetica\"];\n");
        for (i, n) in self.nodes.iter().enumerate() {
            let label = match self.test_text(i) {
                Some(t) => format!("{}\\nsamples = {}", escape(&t), n.samples),
                None => format!("class {}\\nsamples = {}", self.node_class(i), n.samples),
            };
            let style = if n.split.is_none() {
                ", style=rounded"
            } else {
                ""
            };
            let _ = writeln!(s, "  n{i} [label=\"{label}\"{style}];");
            if let Some(sp) = &n.split {
                let _ = writeln!(s, "  n{i} -> n{} [label=\"true\"];", sp.left);
                let _ = writeln!(s, "  n{i} -> n{} [label=\"false\"];", sp.right);
            }
        }
        s.push_str("}\n");
        s
    }

    /// The rows of `x` as one flat slice and the features per row.
    fn rows_of(&self, x: &Tensor) -> Result<(Vec<f32>, usize)> {
        let n = x.shape().first().copied().unwrap_or(0);
        let f = x.numel().checked_div(n).unwrap_or(self.n_features);
        if f != self.n_features || x.shape().is_empty() {
            return Err(PassiveError::BadArgument(format!(
                "the tree takes rows of {} features; the input has shape {:?}",
                self.n_features,
                x.shape()
            )));
        }
        let v = x.to_dtype(DType::F32)?.to_vec_f32()?;
        Ok((v, f))
    }
}

/// One test on a root-to-leaf path, as it holds there.
#[derive(Clone)]
enum PathTest {
    /// Feature, direction, threshold.
    Bound(usize, Comparison, f64),
    /// An m-of-n condition.
    Group(AtLeast),
}

/// The first index of the largest value.
pub(crate) fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x0 ≤ 1 → (x1 ≤ 5 → class 0 | class 1); x0 > 1 → class 2.
    pub(crate) fn hand_built() -> DecisionTree {
        let leaf = |value: Vec<f64>, depth| TreeNode {
            split: None,
            samples: value.iter().sum::<f64>() as usize,
            weight: value.iter().sum(),
            value,
            impurity: 0.0,
            depth,
        };
        let inner = |feature, threshold, left, right, value: Vec<f64>, depth| TreeNode {
            split: Some(Split::threshold(feature, threshold, left, right)),
            samples: value.iter().sum::<f64>() as usize,
            weight: value.iter().sum(),
            value,
            impurity: 0.5,
            depth,
        };
        DecisionTree {
            task: TreeTask::Classification,
            n_features: 2,
            n_outputs: 3,
            feature_names: vec!["age".into(), "dose".into()],
            nodes: vec![
                inner(0, 1.0, 1, 4, vec![3.0, 2.0, 5.0], 0),
                inner(1, 5.0, 2, 3, vec![3.0, 2.0, 0.0], 1),
                leaf(vec![3.0, 0.0, 0.0], 2),
                leaf(vec![0.0, 2.0, 0.0], 2),
                leaf(vec![0.0, 0.0, 5.0], 1),
            ],
        }
    }

    #[test]
    fn apl_depth_and_leaves_of_a_hand_built_tree() {
        let t = hand_built();
        assert_eq!((t.depth(), t.leaves()), (2, 3));
        // Rows reach leaves at depths 2, 2, 1, 1: APL = 6/4 (not node index × count).
        let x = Tensor::from_vec(vec![0.0f32, 1.0, 0.5, 9.0, 3.0, 0.0, 1.5, 7.0], &[4, 2]).unwrap();
        assert_eq!(t.path_lengths(&x).unwrap(), [2, 2, 1, 1]);
        assert_eq!(t.average_path_length(&x).unwrap(), 1.5);
        assert_eq!(t.predict(&x).unwrap(), [0, 1, 2, 2]);
        // The boundary goes left: x0 = 1 exactly is ≤ 1.
        let edge = Tensor::from_vec(vec![1.0f32, 5.0], &[1, 2]).unwrap();
        assert_eq!(t.predict(&edge).unwrap(), [0]);
        let p = t.predict_values(&x).unwrap();
        assert_eq!(&p[..3], &[1.0, 0.0, 0.0]);
        let bad = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[1, 3]).unwrap();
        assert!(t
            .apply(&bad)
            .unwrap_err()
            .to_string()
            .contains("rows of 2 features"));
    }

    #[test]
    fn rules_of_a_tree_print_and_reproduce_it() {
        let t = hand_built();
        let r = t.to_rule_set();
        let lines: Vec<String> = r.rules.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            lines,
            [
                "if age <= 1 and dose <= 5 then 0",
                "if age <= 1 and dose > 5 then 1",
                "if age > 1 then 2"
            ]
        );
        assert_eq!(r.rules[2].coverage, 0.5);
        let x = Tensor::from_vec(vec![0.0f32, 1.0, 0.5, 9.0, 3.0, 0.0, 1.0, 5.0], &[4, 2]).unwrap();
        let fired: Vec<usize> = r
            .predict(&x)
            .unwrap()
            .into_iter()
            .map(|c| c.unwrap())
            .collect();
        assert_eq!(fired, t.predict(&x).unwrap());
        let dot = t.to_dot();
        assert!(dot.starts_with("digraph tree {"));
        assert!(dot.contains("n0 [label=\"age <= 1\\nsamples = 10\"];"));
        assert!(dot.contains("n1 -> n3 [label=\"false\"];"));
        let json = serde_json::to_string(&t).unwrap();
        let back: DecisionTree = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }

    #[test]
    fn json_keeps_every_threshold_bit() {
        let mut t = hand_built();
        let v = xai_tensor::Rng::new(9)
            .normal(&[200], 0.0, 1.0, DType::F64)
            .unwrap()
            .to_vec_f64()
            .unwrap();
        for x in v {
            let t0 = x / 3.0;
            if let Some(s) = &mut t.nodes[0].split {
                s.test = Test::Threshold {
                    feature: 0,
                    threshold: t0,
                };
            }
            t.nodes[0].impurity = x.abs() / 7.0;
            let back: DecisionTree =
                serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
            assert_eq!(back, t, "{t0:e}");
        }
    }

    #[test]
    fn repeated_conditions_keep_the_tightest_bound() {
        let mut t = hand_built();
        // Make the inner node test age again: age ≤ 1 then age ≤ 0.5.
        if let Some(s) = &mut t.nodes[1].split {
            s.test = Test::Threshold {
                feature: 0,
                threshold: 0.5,
            };
        }
        let r = t.to_rule_set();
        assert_eq!(r.rules[0].to_string(), "if age <= 0.5 then 0");
        assert_eq!(r.rules[1].to_string(), "if age <= 1 and age > 0.5 then 1");
    }

    #[test]
    fn shown_thresholds_decide_as_the_tree_does() {
        let mid = 0.6f32 as f64 / 2.0 + 1.0f32 as f64 / 2.0;
        assert_eq!(shown_threshold(mid).to_string(), "0.8");
        let mut rng = xai_tensor::Rng::new(3);
        let av = rng
            .normal(&[2000], 0.0, 10.0, DType::F32)
            .unwrap()
            .to_vec_f32()
            .unwrap();
        let dv = rng
            .uniform(&[2000], 0.0, 1e-3, DType::F32)
            .unwrap()
            .to_vec_f32()
            .unwrap();
        for (&a, &d) in av.iter().zip(&dv) {
            let b = a + d;
            let t = a as f64 / 2.0 + b as f64 / 2.0;
            let s = shown_threshold(t);
            for v in [a, b, a.next_up(), b.next_down(), s, s.next_up()] {
                assert_eq!(f64::from(v) <= t, v <= s, "{v} vs {t}");
            }
        }
    }
}
