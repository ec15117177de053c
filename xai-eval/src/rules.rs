//! Proxy/rule metrics: how well a rule set or decision tree extracted from a network stands
//! in for it (Fan et al., *On Interpretability of Artificial Neural Networks*, §V; Zhang et
//! al., *A Survey on Neural Network Interpretability*, §V), for the rule-extraction methods.
//! [`measure_rules`] measures extracted rules against a network on held-out rows.

use serde::Serialize;
use xai_nn::Forward;
use xai_passive::rules::ExtractedRules;
use xai_passive::{map_rows, PassiveError, Result, DEFAULT_BATCH_SIZE};
use xai_tensor::Tensor;

/// Summary of an extracted rule set or tree as a proxy of the network.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleSetStats {
    /// Fidelity: the share of examples on which the proxy predicts what the network predicts,
    /// (1/N) Σ_i 1[proxy(x_i) = argmax f(x_i)], in [0, 1].
    pub fidelity: f64,
    /// Coverage: the share of examples that at least one rule (or a tree leaf other than a
    /// default) applies to, in [0, 1].
    pub coverage: f64,
    /// Number of rules (for a tree: its leaves, one rule per root-to-leaf path).
    pub n_rules: usize,
    /// Mean number of conditions per rule, (1/R) Σ_r |antecedents(r)|.
    pub antecedents_per_rule: f64,
    /// Depth of the tree (longest root-to-leaf path, in edges); 0 for a flat rule list.
    pub tree_depth: usize,
    /// Mean root-to-leaf path length over the examples, (1/N) Σ_i depth(leaf(x_i)) (the
    /// complexity measure of tree regularisation, Wu et al. 2018); 0 for a flat rule list.
    pub avg_path_length: f64,
}

impl RuleSetStats {
    /// Statistics of a flat rule list: fidelity and coverage from per-example agreement and
    /// whether any rule fired, rule lengths from `antecedents` (one count per rule).
    pub fn from_rules(agree: &[bool], covered: &[bool], antecedents: &[usize]) -> Self {
        Self {
            fidelity: share(agree),
            coverage: share(covered),
            n_rules: antecedents.len(),
            antecedents_per_rule: mean(antecedents),
            tree_depth: 0,
            avg_path_length: 0.0,
        }
    }

    /// Statistics of a decision tree: per-example agreement, the depth of each leaf (one rule
    /// per leaf, its antecedents the path's conditions) and the depth of the leaf each
    /// example reaches. A tree covers every example.
    pub fn from_tree(agree: &[bool], leaf_depths: &[usize], example_depths: &[usize]) -> Self {
        Self {
            fidelity: share(agree),
            coverage: 1.0,
            n_rules: leaf_depths.len(),
            antecedents_per_rule: mean(leaf_depths),
            tree_depth: leaf_depths.iter().copied().max().unwrap_or(0),
            avg_path_length: mean(example_depths),
        }
    }
}

/// Extracted rules measured on labelled rows: as a proxy of the network and as a classifier.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleReport {
    /// Fidelity, coverage and size. Antecedents are the literals of each printed rule (a
    /// tree's path keeps only the tightest bound per feature and direction; an m-of-n
    /// condition counts its n literals); depth and average path length
    /// are the tree's, on these rows (0 for a rule list).
    pub stats: RuleSetStats,
    /// Share of rows the rules classify correctly (an uncovered row counts as wrong).
    pub accuracy: f64,
    /// Share of rows the network classifies correctly.
    pub model_accuracy: f64,
    /// Rows measured.
    pub rows: usize,
}

/// Measures `rules` extracted from `model` on rows `x` (`[N, ...]`, the model's input
/// shape) with true classes `labels`: fidelity (1/N) Σ 1[rules(x_i) = argmax f(x_i)],
/// coverage, accuracy against `labels`, the network's own accuracy, rule count, antecedents
/// per rule, and the tree's depth and average path length (Wu et al. 2018).
///
/// **Errors** for no rows, labels of another length, or rows that do not fit the model or
/// the rules.
pub fn measure_rules(
    rules: &ExtractedRules,
    model: &dyn Forward,
    x: &Tensor,
    labels: &[usize],
) -> Result<RuleReport> {
    let n = x.shape().first().copied().unwrap_or(0);
    if n == 0 || labels.len() != n {
        return Err(PassiveError::BadArgument(format!(
            "rules are measured on rows with a label each; got {n} rows and {} labels",
            labels.len()
        )));
    }
    let logits = map_rows(x, DEFAULT_BATCH_SIZE, |c, _| Ok(model.predict(c)?))?;
    let net = logits.reshape(&[n, logits.numel() / n])?.argmax(1)?;
    let proxy = rules.predict(x)?;
    let agree: Vec<bool> = proxy
        .iter()
        .zip(&net)
        .map(|(p, &c)| *p == Some(c))
        .collect();
    let covered: Vec<bool> = proxy.iter().map(Option::is_some).collect();
    let antecedents: Vec<usize> = rules.rules.rules.iter().map(|r| r.antecedents()).collect();
    let mut stats = RuleSetStats::from_rules(&agree, &covered, &antecedents);
    if let Some(t) = &rules.tree {
        stats.tree_depth = t.depth();
        stats.avg_path_length = t.average_path_length(x)?;
    }
    let right = |pred: &mut dyn Iterator<Item = Option<usize>>| {
        pred.zip(labels).filter(|(p, &y)| *p == Some(y)).count() as f64 / n as f64
    };
    Ok(RuleReport {
        stats,
        accuracy: right(&mut proxy.iter().copied()),
        model_accuracy: right(&mut net.iter().map(|&c| Some(c))),
        rows: n,
    })
}

fn share(v: &[bool]) -> f64 {
    v.iter().filter(|&&b| b).count() as f64 / v.len().max(1) as f64
}

fn mean(v: &[usize]) -> f64 {
    v.iter().sum::<usize>() as f64 / v.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_and_tree_stats() {
        let r = RuleSetStats::from_rules(
            &[true, true, false, true],
            &[true, false, true, true],
            &[2, 3, 1],
        );
        assert_eq!(
            (r.fidelity, r.coverage, r.n_rules, r.antecedents_per_rule),
            (0.75, 0.75, 3, 2.0)
        );
        let t = RuleSetStats::from_tree(&[true, false], &[1, 2, 2], &[1, 2]);
        assert_eq!(
            (t.tree_depth, t.avg_path_length, t.coverage, t.fidelity),
            (2, 1.5, 1.0, 0.5)
        );
        assert!((t.antecedents_per_rule - 5.0 / 3.0).abs() < 1e-12);
    }
}
