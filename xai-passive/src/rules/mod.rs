//! Rules as explanations (Zhang et al., *A Survey on Neural Network Interpretability*, §III-A
//! and Table III "Rule"; Fan et al., *On Interpretability of Artificial Neural Networks*,
//! "Proxy"): decision trees and rule sets that stand in for a network, global and readable.
//!
//! - [`Cart`]: our CART (Breiman et al. 1984), the core of the pedagogical methods and of
//!   tree regularization; it equals scikit-learn's `DecisionTreeClassifier`.
//! - [`DecisionTree`]: the fitted tree — walk it, print it as rules ([`RuleSet`]), Graphviz
//!   DOT or JSON, measure its depth, leaves and average path length.
//! - Extraction methods ([`RuleExtractor`]), one file each, built by name from [`METHODS`]:
//!   `cart` distils the network's predictions into a tree ([`CartDistillation`]); `via` grows
//!   boxes on which interval bound propagation certifies one class ([`IntervalRules`]);
//!   `trepan` grows an m-of-n tree by querying the network ([`Trepan`]); `kt` reads rules
//!   off the weights of a network over Boolean inputs ([`Kt`]), `m-of-n` reads m-of-n rules
//!   off its clustered weights ([`MOfN`]).
//!
//! ```
//! use xai_autodiff::Var;
//! use xai_nn::layers::Linear;
//! use xai_nn::{Forward, Graph, Node};
//! use xai_passive::rules::{self, RuleData};
//! use xai_passive::Params;
//! use xai_tensor::Tensor;
//!
//! // A linear "network" over two features: class 1 exactly when debt > income.
//! let w = Tensor::from_slice(&[1.0f32, -1.0, -1.0, 1.0], &[2, 2])?;
//! let fc = Linear { weight: Var::leaf(w), bias: None };
//! let model = Graph::sequential(vec![2], vec![Node::new("fc", Box::new(fc))], None)?;
//! let x = Tensor::from_slice(&[0.0f32, 1.0, 2.0, 1.0, 0.5, 3.0, 4.0, 0.0], &[4, 2])?;
//! let names = vec!["income".to_string(), "debt".to_string()];
//! let method = rules::build("cart", &Params::default().with("max_depth", 1))?;
//! let found = method.extract(&model, &RuleData { x: &x, feature_names: &names, seed: 0 })?;
//! assert_eq!(found.rules.to_text(), "if income <= 1.25 then 1\nif income > 1.25 then 0\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cart;
mod distill;
mod kt;
mod mofn;
mod tree;
mod trepan;
mod via;

pub use crate::output::{AtLeast, Comparison, Condition, Rule, RuleSet};
pub use cart::{Cart, Criterion, MAX_ROWS};
pub use distill::CartDistillation;
pub use kt::Kt;
pub use mofn::MOfN;
pub use tree::{shown_threshold, DecisionTree, Split, Test, TreeNode, TreeTask};
pub use trepan::Trepan;
pub use via::IntervalRules;

use crate::config::{self, MethodConfig, Params};
use crate::{PassiveError, Result};
use serde::Serialize;
use serde_json::Value;
use xai_nn::{Forward, Graph, Layered};
use xai_tensor::Tensor;

/// The rows rules are extracted from.
pub struct RuleData<'a> {
    /// Training rows, `[N, ...]` in the model's input shape (features are their flat
    /// indices).
    pub x: &'a Tensor,
    /// Names of the flat features (empty: `x[i]`).
    pub feature_names: &'a [String],
    /// Seed of any sampling the method does.
    pub seed: u64,
}

/// What an extraction gives: the rules, and the tree they were read from if there is one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ExtractedRules {
    /// The rules (a tree's: one per leaf).
    pub rules: RuleSet,
    /// The tree, for DOT, drawing and path lengths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree: Option<DecisionTree>,
}

impl ExtractedRules {
    /// A tree and its rules.
    pub fn from_tree(tree: DecisionTree) -> Self {
        Self {
            rules: tree.to_rule_set(),
            tree: Some(tree),
        }
    }

    /// The class given to each row of `x` (`None`: no rule covers it): the tree's where
    /// there is one (its rules give the same), else the rule list's.
    ///
    /// **Errors** if the rows do not have the features the rules name.
    pub fn predict(&self, x: &Tensor) -> Result<Vec<Option<usize>>> {
        match &self.tree {
            Some(t) => Ok(t.predict(x)?.into_iter().map(Some).collect()),
            None => self.rules.predict(x),
        }
    }
}

/// A rule-extraction method on models of kind `M` ([`Forward`] for pedagogical methods,
/// which query the network as an oracle; [`Layered`] for decompositional ones, which read
/// its weights).
pub trait RuleExtractor<M: ?Sized>: Send + Sync {
    /// The registry name.
    fn name(&self) -> &'static str;
    /// Rules that stand in for `model` on `data`'s rows.
    fn extract(&self, model: &M, data: &RuleData<'_>) -> Result<ExtractedRules>;
}

/// An extraction method behind what it needs from a model.
pub enum RuleBound {
    /// Needs forward passes only (pedagogical).
    Forward(Box<dyn RuleExtractor<dyn Forward>>),
    /// Needs the layers (interval bounds through them).
    Layers(Box<dyn RuleExtractor<dyn Layered>>),
    /// Reads the weights of a model file's layers (decompositional).
    Weights(Box<dyn RuleExtractor<Graph>>),
}

/// A rule method built from the registry, with the configuration it was built with.
pub struct BoxedRuleMethod {
    name: &'static str,
    method: RuleBound,
    config: Value,
}

impl BoxedRuleMethod {
    /// The registry name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The configuration used, as JSON.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// Rules standing in for `model` (any model file `xai_nn` loads) on `data`.
    ///
    /// **Errors** for an empty batch, or as the method does.
    pub fn extract(&self, model: &Graph, data: &RuleData<'_>) -> Result<ExtractedRules> {
        if data.x.shape().first().is_none_or(|&n| n == 0) {
            return Err(PassiveError::BadArgument(format!(
                "{} has no rows to extract rules from",
                self.name
            )));
        }
        match &self.method {
            RuleBound::Forward(m) => m.extract(model, data),
            RuleBound::Layers(m) => m.extract(model, data),
            RuleBound::Weights(m) => m.extract(model, data),
        }
    }
}

/// One registered rule-extraction method.
pub struct RuleMethodInfo {
    /// CLI name (`--method`).
    pub name: &'static str,
    /// One-line description with its paper.
    pub description: &'static str,
    /// Survey taxonomy: kind of explanation / scope / passive-or-active.
    pub family: &'static str,
    /// What it needs from the model: `forward` (pedagogical) or `layers` (decompositional).
    pub needs: &'static str,
    /// Its parameters with their defaults, a JSON object.
    pub defaults: fn() -> Value,
    /// Builds it from parameters by name.
    pub build: fn(&'static str, &Params) -> Result<BoxedRuleMethod>,
}

/// Builds configuration `C` from `params` and the method from it behind the bound `wrap`
/// gives it.
fn built<C: MethodConfig>(
    name: &'static str,
    params: &Params,
    wrap: impl FnOnce(C) -> RuleBound,
) -> Result<BoxedRuleMethod> {
    let c: C = config::from_params(name, params)?;
    Ok(BoxedRuleMethod {
        name,
        config: serde_json::to_value(&c).unwrap_or(Value::Null),
        method: wrap(c),
    })
}

fn forward<C: MethodConfig + RuleExtractor<dyn Forward> + 'static>(
    name: &'static str,
    params: &Params,
) -> Result<BoxedRuleMethod> {
    built(name, params, |c: C| RuleBound::Forward(Box::new(c)))
}

fn layers<C: MethodConfig + RuleExtractor<dyn Layered> + 'static>(
    name: &'static str,
    params: &Params,
) -> Result<BoxedRuleMethod> {
    built(name, params, |c: C| RuleBound::Layers(Box::new(c)))
}

fn weights<C: MethodConfig + RuleExtractor<Graph> + 'static>(
    name: &'static str,
    params: &Params,
) -> Result<BoxedRuleMethod> {
    built(name, params, |c: C| RuleBound::Weights(Box::new(c)))
}

/// Every rule-extraction method, in the order `xai methods` lists them.
pub const METHODS: &[RuleMethodInfo] = &[
    RuleMethodInfo {
        name: "cart",
        description: "CART tree distilled from the network's predicted classes (or, with soft, a regression tree on its class probabilities); Gini or entropy, cost-complexity pruning (Breiman et al. 1984; Craven & Shavlik 1996)",
        family: "rules / global / passive",
        needs: "forward",
        defaults: config::defaults::<CartDistillation>,
        build: forward::<CartDistillation>,
    },
    RuleMethodInfo {
        name: "trepan",
        description: "tree grown best first by reach × (1 − fidelity) with m-of-n splits, each node's examples topped up by rows drawn in its region and labelled by the network (Craven & Shavlik 1996)",
        family: "rules / global / passive",
        needs: "forward",
        defaults: config::defaults::<Trepan>,
        build: forward::<Trepan>,
    },
    RuleMethodInfo {
        name: "kt",
        description: "rules read off each unit's weights over Boolean inputs (minimal positive/negative attribute sets that switch it on or off), rewritten layer by layer into rules over the inputs (Fu 1991)",
        family: "rules / global / passive",
        needs: "layers",
        defaults: config::defaults::<Kt>,
        build: weights::<Kt>,
    },
    RuleMethodInfo {
        name: "m-of-n",
        description: "each unit's weights clustered, pruned and its bias re-fitted, read as 'at least m of these n' rules over Boolean inputs and rewritten layer by layer (Towell & Shavlik 1993)",
        family: "rules / global / passive",
        needs: "layers",
        defaults: config::defaults::<MOfN>,
        build: weights::<MOfN>,
    },
    RuleMethodInfo {
        name: "via",
        description: "boxes certified by interval bound propagation to get one class, grown around training rows, as rules lo < x ≤ hi then c (validity interval analysis, Thrun 1993)",
        family: "rules / semi-local / passive",
        needs: "layers",
        defaults: config::defaults::<IntervalRules>,
        build: layers::<IntervalRules>,
    },
];

/// The rule method called `name`.
///
/// **Errors** naming the known methods if there is none.
pub fn info(name: &str) -> Result<&'static RuleMethodInfo> {
    METHODS.iter().find(|m| m.name == name).ok_or_else(|| {
        PassiveError::BadArgument(format!(
            "unknown rule method '{name}' (known: {})",
            METHODS
                .iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Builds the rule method `name` from `params`.
///
/// **Errors** for an unknown method, a parameter it does not take, or a bad value (naming
/// the parameter).
pub fn build(name: &str, params: &Params) -> Result<BoxedRuleMethod> {
    let info = info(name)?;
    (info.build)(info.name, params)
}
