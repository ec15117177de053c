//! CART (Breiman, Friedman, Olshen & Stone, *Classification and Regression Trees*, 1984):
//! greedy binary splits `x_j ≤ t` that most reduce the weighted impurity of the children,
//! grown depth first, then minimal cost-complexity pruning.
//!
//! - **Impurity** of a node with weighted class shares p_k: Gini 1 − Σ_k p_k², entropy
//!   −Σ_k p_k log₂ p_k; for regression (soft labels), the mean squared error of the targets
//!   about their weighted mean, averaged over the targets.
//! - **Split search**: each feature's rows are sorted once, at the root; a split keeps every
//!   feature's segment sorted by a stable partition, so a node's search is one linear scan per
//!   feature (O(n) per feature and level, O(n log n) once) and runs in parallel over features.
//!   Candidates lie between consecutive distinct values (gaps above 1e-7 in f32), at the
//!   midpoint `a/2 + b/2` in f64; a candidate leaving fewer than `min_samples_leaf` rows on a
//!   side is skipped. The split maximises −(w_L·I_L + w_R·I_R); among equal ones the first
//!   position of the lowest feature index wins.
//! - **Stopping**: a node is a leaf when it is at `max_depth`, has fewer than
//!   `min_samples_split` rows (or fewer than 2·`min_samples_leaf`), is pure (impurity ≤ f64
//!   ε), or its best split improves the impurity, (w_t/w)·(I_t − w_L/w_t·I_L − w_R/w_t·I_R),
//!   by less than `min_impurity_decrease`.
//! - **Pruning** (`ccp_alpha` > 0): with R(t) = (w_t/w)·I_t, repeatedly collapse the internal
//!   node of least α(t) = (R(t) − R(T_t)) / (|leaves(T_t)| − 1) (the first in preorder on
//!   ties) while α(t) ≤ `ccp_alpha`.
//!
//! These are scikit-learn's `DecisionTreeClassifier` definitions (criteria, candidate
//! thresholds, stopping and pruning rules), so on the same rows, with ties between features
//! broken the same way, the trees are the same (tested on iris, wine and breast cancer with
//! fixtures from `tools/make_cart_fixtures.py`). Rows of zero weight are left out, as there.
//!
//! ```
//! use xai_passive::rules::{Cart, Criterion};
//! use xai_tensor::Tensor;
//!
//! // One feature: classes 0, 0, 1, 1 split at the midpoint 2.5.
//! let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[4, 1])?;
//! let tree = Cart { criterion: Criterion::Entropy, ..Cart::default() }.fit(&x, &[0, 0, 1, 1], None)?;
//! assert_eq!(tree.to_rule_set().to_text(), "if x[0] <= 2.5 then 0\nif x[0] > 2.5 then 1\n");
//! assert_eq!(tree.depth(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::tree::{DecisionTree, Split, TreeNode, TreeTask};
use crate::config::{bad, MethodConfig};
use crate::{PassiveError, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xai_tensor::{DType, Tensor};

/// Feature values closer than this (in f32) are not split between (scikit-learn's
/// `FEATURE_THRESHOLD`).
const FEATURE_THRESHOLD: f32 = 1e-7;

/// A tie-breaker: given a node's preorder number and the tied features, the one to split on.
type Chooser<'a> = &'a mut dyn FnMut(usize, &[usize]) -> usize;
/// A node whose impurity is at most this is pure.
const PURE: f64 = f64::EPSILON;
/// Below this many (rows × features) a node is searched and partitioned on one thread.
const PARALLEL_WORK: usize = 1 << 15;
/// Most rows a tree is fitted on (row ids are u32).
pub const MAX_ROWS: usize = u32::MAX as usize;

/// The impurity a classification tree minimises.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Criterion {
    /// Gini impurity 1 − Σ_k p_k².
    #[default]
    Gini,
    /// Entropy −Σ_k p_k log₂ p_k (information gain).
    Entropy,
}

/// CART's settings (scikit-learn's names and defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Cart {
    /// Impurity of a classification tree (regression trees use the squared error).
    pub criterion: Criterion,
    /// Most decision nodes on a path (`None`: grow until the other limits stop it).
    pub max_depth: Option<usize>,
    /// Fewest rows a node needs to be split (≥ 2).
    pub min_samples_split: usize,
    /// Fewest rows each child of a split keeps (≥ 1).
    pub min_samples_leaf: usize,
    /// Least weighted impurity decrease a split must bring (≥ 0).
    pub min_impurity_decrease: f64,
    /// Cost-complexity pruning strength α (≥ 0; 0 keeps the grown tree).
    pub ccp_alpha: f64,
}

impl Default for Cart {
    fn default() -> Self {
        Self {
            criterion: Criterion::Gini,
            max_depth: None,
            min_samples_split: 2,
            min_samples_leaf: 1,
            min_impurity_decrease: 0.0,
            ccp_alpha: 0.0,
        }
    }
}

impl MethodConfig for Cart {
    fn validate(&self) -> Result<()> {
        if self.max_depth == Some(0) {
            return Err(bad("max_depth", "must be at least 1, got 0"));
        }
        if self.min_samples_split < 2 {
            return Err(bad(
                "min_samples_split",
                format!("must be at least 2, got {}", self.min_samples_split),
            ));
        }
        if self.min_samples_leaf < 1 {
            return Err(bad("min_samples_leaf", "must be at least 1, got 0"));
        }
        for (name, v) in [
            ("min_impurity_decrease", self.min_impurity_decrease),
            ("ccp_alpha", self.ccp_alpha),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(name, format!("must be a finite number ≥ 0, got {v}")));
            }
        }
        Ok(())
    }
}

/// What the rows are labelled with.
enum Labels<'a> {
    /// A class per row, of `k` classes.
    Classes(&'a [usize], usize),
    /// `k` targets per row, row-major.
    Targets(&'a [f64], usize),
}

impl Cart {
    /// A classification tree of rows `x` (`[N, ...]`, flattened per row) labelled `y`
    /// (classes `0..K`, K = max + 1), each row weighted by `weights` (default 1).
    ///
    /// **Errors** for a bad configuration, no rows, mismatched lengths, non-finite features,
    /// or weights that are negative, non-finite or all zero.
    pub fn fit(&self, x: &Tensor, y: &[usize], weights: Option<&[f64]>) -> Result<DecisionTree> {
        let k = y.iter().max().map_or(1, |m| m + 1);
        self.fit_classes(x, y, k, weights)
    }

    /// [`fit`](Self::fit) with the number of classes given (classes no row has still get a
    /// value slot).
    ///
    /// **Errors** as [`fit`](Self::fit), or for a label ≥ `n_classes`.
    pub fn fit_classes(
        &self,
        x: &Tensor,
        y: &[usize],
        n_classes: usize,
        weights: Option<&[f64]>,
    ) -> Result<DecisionTree> {
        if let Some(&c) = y.iter().find(|&&c| c >= n_classes) {
            return Err(PassiveError::BadArgument(format!(
                "label {c} is not one of the {n_classes} classes"
            )));
        }
        self.grow(x, Labels::Classes(y, n_classes.max(1)), weights)
    }

    /// A regression tree of rows `x` on `targets` (`[N, K]` row-major: class probabilities
    /// for soft-label distillation), by squared error; [`DecisionTree::predict`] gives the
    /// argmax of the leaf's mean vector.
    ///
    /// **Errors** as [`fit`](Self::fit), or for non-finite targets.
    pub fn fit_regression(
        &self,
        x: &Tensor,
        targets: &[f64],
        weights: Option<&[f64]>,
    ) -> Result<DecisionTree> {
        let n = x.shape().first().copied().unwrap_or(0);
        if n == 0 || !targets.len().is_multiple_of(n) || targets.is_empty() {
            return Err(PassiveError::BadArgument(format!(
                "{} targets do not make a [{n}, K] matrix",
                targets.len()
            )));
        }
        if targets.iter().any(|t| !t.is_finite()) {
            return Err(PassiveError::BadArgument(
                "regression targets must be finite".into(),
            ));
        }
        self.grow(x, Labels::Targets(targets, targets.len() / n), weights)
    }

    /// [`fit_classes`](Self::fit_classes) with ties between features broken by `choose`:
    /// where several features give the best split of node `id` (nodes are numbered in
    /// preorder of the grown tree) equally well, `choose(id, tied)` picks one of `tied`
    /// (ascending feature indices); [`fit`](Self::fit) takes the first. For replaying another
    /// implementation's choices (scikit-learn draws a random feature order at every node).
    ///
    /// **Errors** as [`fit_classes`](Self::fit_classes), or if `choose` returns a feature
    /// that is not one of `tied`.
    pub fn fit_breaking_ties(
        &self,
        x: &Tensor,
        y: &[usize],
        n_classes: usize,
        weights: Option<&[f64]>,
        choose: &mut dyn FnMut(usize, &[usize]) -> usize,
    ) -> Result<DecisionTree> {
        if let Some(&c) = y.iter().find(|&&c| c >= n_classes) {
            return Err(PassiveError::BadArgument(format!(
                "label {c} is not one of the {n_classes} classes"
            )));
        }
        self.grow_with(
            x,
            Labels::Classes(y, n_classes.max(1)),
            weights,
            Some(choose),
        )
    }

    fn grow(
        &self,
        x: &Tensor,
        labels: Labels<'_>,
        weights: Option<&[f64]>,
    ) -> Result<DecisionTree> {
        self.grow_with(x, labels, weights, None)
    }

    fn grow_with(
        &self,
        x: &Tensor,
        labels: Labels<'_>,
        weights: Option<&[f64]>,
        choose: Option<Chooser<'_>>,
    ) -> Result<DecisionTree> {
        self.validate()?;
        let n = x.shape().first().copied().unwrap_or(0);
        if n == 0 || x.shape().len() < 2 {
            return Err(PassiveError::BadArgument(format!(
                "a tree needs rows [N, F] with N ≥ 1; got shape {:?}",
                x.shape()
            )));
        }
        if n > MAX_ROWS {
            return Err(PassiveError::BadArgument(format!(
                "a tree is fitted on at most {MAX_ROWS} rows, got {n}"
            )));
        }
        let f = x.numel() / n;
        let labelled = match labels {
            Labels::Classes(y, _) => y.len(),
            Labels::Targets(t, k) => t.len() / k,
        };
        if labelled != n {
            return Err(PassiveError::BadArgument(format!(
                "{n} rows but {labelled} labels"
            )));
        }
        let w: Vec<f64> = match weights {
            Some(w) if w.len() != n => {
                return Err(PassiveError::BadArgument(format!(
                    "{n} rows but {} sample weights",
                    w.len()
                )))
            }
            Some(w) => {
                if let Some(v) = w.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
                    return Err(PassiveError::BadArgument(format!(
                        "sample weights must be finite and ≥ 0, got {v}"
                    )));
                }
                w.to_vec()
            }
            None => vec![1.0; n],
        };
        let values = x.to_dtype(DType::F32)?.to_vec_f32()?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(PassiveError::BadArgument(format!(
                "row {}, feature {} is not finite ({}); a tree splits on finite values",
                i / f.max(1),
                i % f.max(1),
                values[i]
            )));
        }
        let rows: Vec<u32> = (0..n as u32).filter(|&i| w[i as usize] > 0.0).collect();
        if rows.is_empty() {
            return Err(PassiveError::BadArgument(
                "every sample weight is zero".into(),
            ));
        }
        let (task, kind, dim) = match labels {
            Labels::Classes(_, k) => (
                TreeTask::Classification,
                match self.criterion {
                    Criterion::Gini => Kind::Gini,
                    Criterion::Entropy => Kind::Entropy,
                },
                k,
            ),
            Labels::Targets(_, k) => (TreeTask::Regression, Kind::SquaredError, k),
        };
        let problem = Problem {
            kind,
            dim,
            class: match labels {
                Labels::Classes(y, _) => y.iter().map(|&c| c as u32).collect(),
                Labels::Targets(..) => Vec::new(),
            },
            targets: match labels {
                Labels::Targets(t, _) => t,
                Labels::Classes(..) => &[],
            },
            weight: w,
        };
        let columns = Columns::sorted(&values, f, &rows);
        let mut nodes = Builder {
            cart: self,
            problem: &problem,
            columns,
            goes_left: vec![false; n],
            total_weight: 0.0,
        }
        .build(rows.len(), choose)?;
        if self.ccp_alpha > 0.0 {
            nodes = prune(nodes, self.ccp_alpha);
        }
        if task == TreeTask::Regression {
            for node in &mut nodes {
                let w = node.weight;
                node.value.iter_mut().for_each(|v| *v /= w);
            }
        }
        Ok(DecisionTree {
            task,
            n_features: f,
            n_outputs: dim,
            feature_names: Vec::new(),
            nodes,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gini,
    Entropy,
    SquaredError,
}

/// The rows' labels and weights, and the impurity arithmetic (scikit-learn's formulas, term
/// for term, so equal counts give equal bits).
struct Problem<'a> {
    kind: Kind,
    /// Classes, or targets per row.
    dim: usize,
    class: Vec<u32>,
    targets: &'a [f64],
    weight: Vec<f64>,
}

impl Problem<'_> {
    /// Adds row `i`'s weighted label to `sums` (class counts, or weighted target sums).
    #[inline]
    fn add(&self, i: usize, sums: &mut [f64]) {
        let w = self.weight[i];
        match self.kind {
            Kind::Gini | Kind::Entropy => sums[self.class[i] as usize] += w,
            Kind::SquaredError => {
                let t = &self.targets[i * self.dim..(i + 1) * self.dim];
                for (s, &v) in sums.iter_mut().zip(t) {
                    *s += w * v;
                }
            }
        }
    }

    /// Σ_i w_i Σ_k y_ik² over `rows` (the squared error's second moment).
    fn square_sum(&self, rows: &[u32]) -> f64 {
        if self.kind != Kind::SquaredError {
            return 0.0;
        }
        let mut s = 0.0;
        for &i in rows {
            let i = i as usize;
            let t = &self.targets[i * self.dim..(i + 1) * self.dim];
            s += self.weight[i] * t.iter().map(|v| v * v).sum::<f64>();
        }
        s
    }

    /// Impurity of a node with label sums `sums` and weight `w` (and, for the squared error,
    /// second moment `sq`).
    fn impurity(&self, sums: &[f64], w: f64, sq: f64) -> f64 {
        match self.kind {
            Kind::Gini => {
                let sq_count: f64 = sums.iter().fold(0.0, |a, c| a + c * c);
                1.0 - sq_count / (w * w)
            }
            Kind::Entropy => entropy(sums.iter().copied(), w),
            Kind::SquaredError => {
                let mut imp = sq / w;
                for s in sums {
                    imp -= (s / w) * (s / w);
                }
                imp / self.dim as f64
            }
        }
    }

    /// The quantity a split maximises, from the left sums and weight and the node's totals
    /// (the right side is total − left): −(w_R·I_R + w_L·I_L) for the class impurities,
    /// Σ_k S_Lk²/w_L + Σ_k S_Rk²/w_R for the squared error.
    #[inline]
    fn proxy(&self, left: &[f64], wl: f64, total: &[f64], w: f64) -> f64 {
        let wr = w - wl;
        match self.kind {
            Kind::Gini => {
                let (mut sl, mut sr) = (0.0, 0.0);
                for (l, t) in left.iter().zip(total) {
                    let r = t - l;
                    sl += l * l;
                    sr += r * r;
                }
                let il = 1.0 - sl / (wl * wl);
                let ir = 1.0 - sr / (wr * wr);
                -wr * ir - wl * il
            }
            Kind::Entropy => {
                let il = entropy(left.iter().copied(), wl);
                let ir = entropy(left.iter().zip(total).map(|(l, t)| t - l), wr);
                -wr * ir - wl * il
            }
            Kind::SquaredError => {
                let (mut sl, mut sr) = (0.0, 0.0);
                for (l, t) in left.iter().zip(total) {
                    let r = t - l;
                    sl += l * l;
                    sr += r * r;
                }
                sl / wl + sr / wr
            }
        }
    }
}

/// −Σ_k p_k log₂ p_k over the non-zero counts, p_k = count/w.
#[inline]
fn entropy(counts: impl Iterator<Item = f64>, w: f64) -> f64 {
    let mut e = 0.0;
    for c in counts {
        if c > 0.0 {
            let p = c / w;
            e -= p * (p.ln() / 2f64.ln());
        }
    }
    e
}

/// Every feature's rows, each node's segment sorted by that feature.
struct Columns {
    /// Per feature: the values in segment order.
    values: Vec<Vec<f32>>,
    /// Per feature: the row ids in segment order.
    rows: Vec<Vec<u32>>,
}

impl Columns {
    /// Each feature's `rows` sorted by value (ties by row id), in parallel over features.
    fn sorted(x: &[f32], f: usize, rows: &[u32]) -> Self {
        let (values, rows): (Vec<Vec<f32>>, Vec<Vec<u32>>) = (0..f)
            .into_par_iter()
            .map(|j| {
                let mut pairs: Vec<(f32, u32)> =
                    rows.iter().map(|&i| (x[i as usize * f + j], i)).collect();
                pairs.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                pairs.into_iter().unzip()
            })
            .unzip();
        Self { values, rows }
    }
}

/// The best split found on one feature.
#[derive(Clone, Copy)]
struct Candidate {
    proxy: f64,
    feature: usize,
    /// Rows of the segment that go left (a position in the feature's order).
    pos: usize,
    threshold: f64,
}

/// A node waiting to be made: its segment, depth, parent, and label statistics.
struct Pending {
    start: usize,
    end: usize,
    depth: usize,
    parent: Option<(usize, bool)>,
    sums: Vec<f64>,
    weight: f64,
    impurity: f64,
}

struct Builder<'a> {
    cart: &'a Cart,
    problem: &'a Problem<'a>,
    columns: Columns,
    /// Scratch: whether each row goes left at the split being applied.
    goes_left: Vec<bool>,
    total_weight: f64,
}

impl Builder<'_> {
    /// The grown tree's nodes in preorder (left subtree first), over the first `n` rows of
    /// every column.
    fn build(mut self, n: usize, mut choose: Option<Chooser<'_>>) -> Result<Vec<TreeNode>> {
        let root = self.pending(0, n, 0, None);
        self.total_weight = root.weight;
        let mut nodes: Vec<TreeNode> = Vec::new();
        let mut stack = vec![root];
        while let Some(p) = stack.pop() {
            let id = nodes.len();
            if let Some((parent, is_left)) = p.parent {
                if let Some(s) = &mut nodes[parent].split {
                    if is_left {
                        s.left = id;
                    } else {
                        s.right = id;
                    }
                }
            }
            let split = self.split_of(&p, id, &mut choose)?;
            nodes.push(TreeNode {
                split: split.map(|c| Split::threshold(c.feature, c.threshold, 0, 0)),
                value: p.sums.clone(),
                impurity: p.impurity,
                samples: p.end - p.start,
                weight: p.weight,
                depth: p.depth,
            });
            if let Some(c) = split {
                let mid = p.start + c.pos;
                self.partition(p.start, mid, p.end, c.feature);
                stack.push(self.pending(mid, p.end, p.depth + 1, Some((id, false))));
                stack.push(self.pending(p.start, mid, p.depth + 1, Some((id, true))));
            }
        }
        Ok(nodes)
    }

    /// The node over segment `start..end` with its statistics.
    fn pending(
        &self,
        start: usize,
        end: usize,
        depth: usize,
        parent: Option<(usize, bool)>,
    ) -> Pending {
        let rows = &self.columns.rows[0][start..end];
        let mut sums = vec![0.0; self.problem.dim];
        let mut weight = 0.0;
        for &i in rows {
            self.problem.add(i as usize, &mut sums);
            weight += self.problem.weight[i as usize];
        }
        let impurity = self
            .problem
            .impurity(&sums, weight, self.problem.square_sum(rows));
        Pending {
            start,
            end,
            depth,
            parent,
            sums,
            weight,
            impurity,
        }
    }

    /// The split of node `p` (number `id`), or `None` for a leaf.
    fn split_of(
        &self,
        p: &Pending,
        id: usize,
        choose: &mut Option<Chooser<'_>>,
    ) -> Result<Option<Candidate>> {
        let c = self.cart;
        let n = p.end - p.start;
        if c.max_depth.is_some_and(|d| p.depth >= d)
            || n < c.min_samples_split
            || n < 2 * c.min_samples_leaf
            || p.impurity <= PURE
        {
            return Ok(None);
        }
        let f = self.columns.values.len();
        let search = |j: usize| self.best_on(j, p);
        let per_feature: Vec<Option<Candidate>> = if n * f >= PARALLEL_WORK {
            (0..f).into_par_iter().map(search).collect()
        } else {
            (0..f).map(search).collect()
        };
        // In feature order, a later feature must be strictly better.
        let Some(mut best) =
            per_feature
                .iter()
                .flatten()
                .fold(None::<Candidate>, |b, &c| match b {
                    Some(b) if c.proxy <= b.proxy => Some(b),
                    _ => Some(c),
                })
        else {
            return Ok(None);
        };
        if let Some(choose) = choose {
            let tied: Vec<usize> = per_feature
                .iter()
                .flatten()
                .filter(|c| c.proxy == best.proxy)
                .map(|c| c.feature)
                .collect();
            let j = choose(id, &tied);
            best = per_feature
                .iter()
                .flatten()
                .find(|c| c.feature == j && c.proxy == best.proxy)
                .copied()
                .ok_or_else(|| {
                    PassiveError::BadArgument(format!(
                        "node {id}: feature {j} is not one of the tied best features {tied:?}"
                    ))
                })?;
        }
        if c.min_impurity_decrease > 0.0 {
            let rows = &self.columns.rows[best.feature][p.start..p.end];
            let (l, r) = rows.split_at(best.pos);
            let side = |rows: &[u32]| {
                let mut sums = vec![0.0; self.problem.dim];
                let mut w = 0.0;
                for &i in rows {
                    self.problem.add(i as usize, &mut sums);
                    w += self.problem.weight[i as usize];
                }
                (
                    self.problem
                        .impurity(&sums, w, self.problem.square_sum(rows)),
                    w,
                )
            };
            let ((il, wl), (ir, wr)) = (side(l), side(r));
            let improvement = (p.weight / self.total_weight)
                * (p.impurity - wr / p.weight * ir - wl / p.weight * il);
            if improvement + PURE < c.min_impurity_decrease {
                return Ok(None);
            }
        }
        Ok(Some(best))
    }

    /// The best split of node `p` on feature `j`: one scan of its sorted segment.
    fn best_on(&self, j: usize, p: &Pending) -> Option<Candidate> {
        let values = &self.columns.values[j][p.start..p.end];
        let rows = &self.columns.rows[j][p.start..p.end];
        let n = values.len();
        if values[n - 1] <= values[0] + FEATURE_THRESHOLD {
            return None;
        }
        let leaf = self.cart.min_samples_leaf;
        let mut left = vec![0.0; self.problem.dim];
        let (mut wl, mut added) = (0.0, 0);
        let mut best: Option<Candidate> = None;
        let mut pos = 0;
        loop {
            pos += 1;
            while pos < n && values[pos] <= values[pos - 1] + FEATURE_THRESHOLD {
                pos += 1;
            }
            if pos >= n {
                break;
            }
            if pos < leaf || n - pos < leaf {
                continue;
            }
            for &i in &rows[added..pos] {
                self.problem.add(i as usize, &mut left);
                wl += self.problem.weight[i as usize];
            }
            added = pos;
            let proxy = self.problem.proxy(&left, wl, &p.sums, p.weight);
            if best.is_none_or(|b| proxy > b.proxy) {
                best = Some(Candidate {
                    proxy,
                    feature: j,
                    pos,
                    threshold: f64::from(values[pos - 1]) / 2.0 + f64::from(values[pos]) / 2.0,
                });
            }
        }
        best
    }

    /// Splits segment `start..end` at `mid` of feature `by`'s order: every other feature's
    /// segment is stably partitioned into the rows going left, then those going right, so
    /// each stays sorted.
    fn partition(&mut self, start: usize, mid: usize, end: usize, by: usize) {
        for (k, &i) in self.columns.rows[by][start..end].iter().enumerate() {
            self.goes_left[i as usize] = start + k < mid;
        }
        let goes_left = &self.goes_left;
        let split = |(j, (values, rows)): (usize, (&mut Vec<f32>, &mut Vec<u32>))| {
            if j != by {
                stable_partition(&mut values[start..end], &mut rows[start..end], goes_left);
            }
        };
        let Columns { values, rows } = &mut self.columns;
        if (end - start) * values.len() >= PARALLEL_WORK {
            values
                .par_iter_mut()
                .zip(rows.par_iter_mut())
                .enumerate()
                .for_each(split);
        } else {
            values
                .iter_mut()
                .zip(rows.iter_mut())
                .enumerate()
                .for_each(split);
        }
    }
}

/// Moves the entries whose row goes left to the front, keeping order on both sides.
fn stable_partition(values: &mut [f32], rows: &mut [u32], goes_left: &[bool]) {
    let mut right: Vec<(f32, u32)> = Vec::new();
    let mut w = 0;
    for r in 0..rows.len() {
        let (v, i) = (values[r], rows[r]);
        if goes_left[i as usize] {
            values[w] = v;
            rows[w] = i;
            w += 1;
        } else {
            right.push((v, i));
        }
    }
    for (k, (v, i)) in right.into_iter().enumerate() {
        values[w + k] = v;
        rows[w + k] = i;
    }
}

/// Minimal cost-complexity pruning of preorder `nodes` at strength `alpha` (scikit-learn's
/// `_cost_complexity_prune`, step for step): the pruned tree's nodes, renumbered in preorder.
fn prune(nodes: Vec<TreeNode>, alpha: f64) -> Vec<TreeNode> {
    let m = nodes.len();
    let total = nodes[0].weight;
    let r_node: Vec<f64> = nodes
        .iter()
        .map(|n| n.weight * n.impurity / total)
        .collect();
    let mut parent = vec![usize::MAX; m];
    for (i, n) in nodes.iter().enumerate() {
        if let Some(s) = &n.split {
            parent[s.left] = i;
            parent[s.right] = i;
        }
    }
    let mut r_branch = vec![0.0; m];
    let mut n_leaves = vec![0usize; m];
    for leaf in (0..m).filter(|&i| nodes[i].split.is_none()) {
        r_branch[leaf] = r_node[leaf];
        let mut i = leaf;
        while i != 0 {
            let p = parent[i];
            r_branch[p] += r_node[leaf];
            n_leaves[p] += 1;
            i = p;
        }
    }
    let mut candidate: Vec<bool> = nodes.iter().map(|n| n.split.is_some()).collect();
    let mut in_tree = vec![true; m];
    let mut collapsed = vec![false; m];
    while candidate[0] {
        let (mut best_alpha, mut best) = (f64::MAX, 0);
        for i in (0..m).filter(|&i| candidate[i]) {
            let a = (r_node[i] - r_branch[i]) / (n_leaves[i] - 1) as f64;
            if a < best_alpha {
                best_alpha = a;
                best = i;
            }
        }
        if alpha < best_alpha {
            break;
        }
        let mut stack = vec![best];
        while let Some(i) = stack.pop() {
            if !in_tree[i] {
                continue;
            }
            candidate[i] = false;
            in_tree[i] = false;
            if let Some(s) = &nodes[i].split {
                stack.push(s.left);
                stack.push(s.right);
            }
        }
        in_tree[best] = true;
        collapsed[best] = true;
        let pruned_leaves = n_leaves[best] - 1;
        n_leaves[best] = 0;
        let diff = r_node[best] - r_branch[best];
        r_branch[best] = r_node[best];
        let mut i = parent[best];
        while i != usize::MAX {
            n_leaves[i] -= pruned_leaves;
            r_branch[i] += diff;
            i = parent[i];
        }
    }
    // Keep the nodes still in the tree, in preorder (a kept node's ancestors are kept and come
    // first), collapsed ones as leaves.
    let mut new_id = vec![usize::MAX; m];
    let mut kept = Vec::new();
    for (i, mut n) in nodes.into_iter().enumerate() {
        if !in_tree[i] {
            continue;
        }
        if collapsed[i] {
            n.split = None;
        }
        new_id[i] = kept.len();
        kept.push(n);
    }
    for n in &mut kept {
        if let Some(s) = &mut n.split {
            s.left = new_id[s.left];
            s.right = new_id[s.right];
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use xai_tensor::Rng;

    fn random_rows(n: usize, f: usize, seed: u64) -> (Tensor, Vec<usize>) {
        let mut rng = Rng::new(seed);
        let x = rng.normal(&[n, f], 0.0, 1.0, DType::F32).unwrap();
        let v = x.to_vec_f32().unwrap();
        // A noisy rule over the first two features, three classes.
        let y = v
            .chunks(f)
            .enumerate()
            .map(|(i, r)| {
                ((r[0] > 0.3) as usize + (r[1] + 0.1 * r[2] > 0.0) as usize + i % 7 / 6) % 3
            })
            .collect();
        (x, y)
    }

    #[test]
    fn the_root_split_is_the_best_of_all_candidates_by_brute_force() {
        let (x, y) = random_rows(60, 4, 1);
        let v = x.to_vec_f32().unwrap();
        let t = Cart {
            max_depth: Some(1),
            ..Cart::default()
        }
        .fit(&x, &y, None)
        .unwrap();
        let gini = |rows: &[usize]| {
            let mut c = [0.0f64; 3];
            rows.iter().for_each(|&i| c[y[i]] += 1.0);
            let n = rows.len() as f64;
            n * (1.0 - c.iter().map(|k| (k / n) * (k / n)).sum::<f64>())
        };
        let mut best = (f64::INFINITY, 0, 0.0);
        for j in 0..4 {
            let mut vals: Vec<f32> = (0..60).map(|i| v[i * 4 + j]).collect();
            vals.sort_by(f32::total_cmp);
            for w in vals.windows(2) {
                let t = f64::from(w[0]) / 2.0 + f64::from(w[1]) / 2.0;
                let (l, r): (Vec<usize>, Vec<usize>) =
                    (0..60).partition(|&i| f64::from(v[i * 4 + j]) <= t);
                let cost = gini(&l) + gini(&r);
                if cost < best.0 - 1e-12 {
                    best = (cost, j, t);
                }
            }
        }
        let s = t.nodes[0].split.as_ref().unwrap();
        assert_eq!(s.feature_threshold(), Some((best.1, best.2)));
    }

    #[test]
    fn integer_weights_are_repeated_rows() {
        let (x, y) = random_rows(80, 3, 2);
        let w: Vec<f64> = (0..80).map(|i| (i % 3) as f64).collect();
        let rows: Vec<usize> = (0..80)
            .flat_map(|i| std::iter::repeat_n(i, i % 3))
            .collect();
        let cart = Cart {
            criterion: Criterion::Entropy,
            ..Cart::default()
        };
        let weighted = cart.fit(&x, &y, Some(&w)).unwrap();
        let xr = x.index_select(0, &rows).unwrap();
        let yr: Vec<usize> = rows.iter().map(|&i| y[i]).collect();
        let repeated = cart.fit(&xr, &yr, None).unwrap();
        let splits = |t: &DecisionTree| {
            t.nodes
                .iter()
                .map(|n| n.split.as_ref().and_then(Split::feature_threshold))
                .collect::<Vec<_>>()
        };
        assert_eq!(splits(&weighted), splits(&repeated));
        // Rows of weight zero are left out: the root counts only the others.
        assert_eq!(
            weighted.nodes[0].samples,
            (0..80).filter(|i| i % 3 != 0).count()
        );
    }

    #[test]
    fn the_same_tree_on_one_thread_and_on_all() {
        let (x, y) = random_rows(40_000, 6, 3);
        let cart = Cart {
            min_samples_leaf: 3,
            ..Cart::default()
        };
        let all = cart.fit(&x, &y, None).unwrap();
        let one = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap()
            .install(|| cart.fit(&x, &y, None).unwrap());
        assert_eq!(all, one);
        assert!(all.leaves() > 100);
    }

    #[test]
    fn pruning_and_limits_shrink_the_tree() {
        let (x, y) = random_rows(400, 4, 4);
        let full = Cart::default().fit(&x, &y, None).unwrap();
        let pruned = Cart {
            ccp_alpha: 0.01,
            ..Cart::default()
        }
        .fit(&x, &y, None)
        .unwrap();
        let shallow = Cart {
            max_depth: Some(2),
            ..Cart::default()
        }
        .fit(&x, &y, None)
        .unwrap();
        assert!(pruned.leaves() < full.leaves() && pruned.leaves() >= 2);
        assert!(shallow.depth() <= 2 && shallow.leaves() <= 4);
        // A fully grown tree fits its training rows (no two rows are equal).
        assert_eq!(full.predict(&x).unwrap(), y);
        // Preorder: every child comes after its parent, the left child right after it.
        for (i, n) in pruned.nodes.iter().enumerate() {
            if let Some(s) = &n.split {
                assert_eq!(s.left, i + 1);
                assert!(s.right > s.left);
            }
        }
    }

    #[test]
    fn a_regression_tree_on_soft_labels_predicts_their_argmax() {
        let x = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 3.0], &[4, 1]).unwrap();
        let p = [0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.1, 0.9];
        let t = Cart::default().fit_regression(&x, &p, None).unwrap();
        assert_eq!(t.task, TreeTask::Regression);
        assert_eq!(t.predict(&x).unwrap(), [0, 0, 1, 1]);
        assert!((t.nodes[0].value[0] - 0.525).abs() < 1e-12);
        let mse = t.nodes[0].impurity;
        // Mean over targets of the variance: both targets have variance 0.3875 − 0.525² = 0.111875.
        assert!((mse - 0.111875).abs() < 1e-12, "{mse}");
    }

    #[test]
    fn bad_settings_and_data_are_refused_with_one_line() {
        let x = Tensor::from_vec(vec![0.0f32, 1.0], &[2, 1]).unwrap();
        let err = |c: Cart| c.fit(&x, &[0, 1], None).unwrap_err().to_string();
        assert_eq!(
            err(Cart {
                max_depth: Some(0),
                ..Cart::default()
            }),
            "max_depth must be at least 1, got 0"
        );
        assert!(err(Cart {
            min_samples_split: 1,
            ..Cart::default()
        })
        .contains("min_samples_split must be at least 2"));
        assert!(err(Cart {
            ccp_alpha: f64::NAN,
            ..Cart::default()
        })
        .contains("ccp_alpha must be a finite number"));
        let c = Cart::default();
        assert!(c
            .fit(&x, &[0], None)
            .unwrap_err()
            .to_string()
            .contains("2 rows but 1 labels"));
        assert!(c
            .fit(&x, &[0, 1], Some(&[1.0, -1.0]))
            .unwrap_err()
            .to_string()
            .contains("≥ 0"));
        assert!(c
            .fit(&x, &[0, 1], Some(&[0.0, 0.0]))
            .unwrap_err()
            .to_string()
            .contains("zero"));
        let nan = Tensor::from_vec(vec![0.0f32, f32::NAN], &[2, 1]).unwrap();
        assert!(c
            .fit(&nan, &[0, 1], None)
            .unwrap_err()
            .to_string()
            .contains("row 1, feature 0 is not finite"));
        assert!(c
            .fit_classes(&x, &[0, 3], 2, None)
            .unwrap_err()
            .to_string()
            .contains("label 3"));
        // One class, or one distinct value: a single leaf.
        assert_eq!(c.fit(&x, &[1, 1], None).unwrap().leaves(), 1);
        let same = Tensor::from_vec(vec![2.0f32, 2.0], &[2, 1]).unwrap();
        assert_eq!(c.fit(&same, &[0, 1], None).unwrap().leaves(), 1);
    }
}
