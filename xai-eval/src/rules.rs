//! Proxy/rule metrics: how well a rule set or decision tree extracted from a network stands
//! in for it (Fan et al., *On Interpretability of Artificial Neural Networks*, §V; Zhang et
//! al., *A Survey on Neural Network Interpretability*, §V), for the rule-extraction methods.

/// Summary of an extracted rule set or tree as a proxy of the network.
#[derive(Clone, Debug, PartialEq)]
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
