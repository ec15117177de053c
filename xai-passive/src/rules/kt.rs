//! KT (Fu, *Rule Learning by Searching on Adapted Nets*, AAAI 1991): rules read off the
//! weights of a network over Boolean inputs, unit by unit, then rewritten layer by layer into
//! rules over the inputs.
//!
//! Each unit is taken as Boolean: on when its pre-activation is positive (sigmoid > ½,
//! tanh > 0, ReLU > 0). With its inputs z_i each at an off or on value (the previous layer's
//! units: sigmoid 0/1, tanh −1/1, ReLU 0 / its mean positive activation on the training rows;
//! the network inputs 0/1 through the model's normalisation), the pre-activation is
//! b' + Σ_i v_i t_i over Booleans t_i, with b' = b + Σ w_i·off_i and v_i = w_i·(on_i − off_i).
//! A rule "P ∧ ¬N → on" (P ⊆ inputs of positive v, N ⊆ inputs of negative v) holds when the
//! unit is on in the worst case for it — every other positive input off, every other negative
//! one on: b' + Σ_P v + Σ_{neg∖N} v > 0; KT searches P by increasing size, then N by
//! increasing size for a P that is not enough alone, keeping minimal rules, at most
//! `max_antecedents` literals each. "¬P ∧ N → off" rules are found the same way from the best
//! case. A two-class output is one unit, logit₁ − logit₀.
//!
//! Layer by layer, a unit's literals are replaced by the rules of the units they name
//! ("h on" by h's on-rules, "h off" by its off-rules), the conjunctions multiplied out, and
//! terms that are contradictory or subsumed dropped. The result is an ordered rule list over
//! the inputs: the rules for class 1, then `else` class 0.

use super::{Comparison, Condition, ExtractedRules, Rule, RuleData, RuleExtractor, RuleSet};
use crate::config::{count_in, MethodConfig};
use crate::{PassiveError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use xai_nn::Graph;
use xai_tensor::DType;

/// Most terms a rewritten rule set may hold before KT gives up.
pub const MAX_TERMS: usize = 100_000;

/// KT's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Kt {
    /// Most literals of a unit's rule (the search is over subsets up to this size).
    pub max_antecedents: usize,
}

impl Default for Kt {
    fn default() -> Self {
        Self { max_antecedents: 6 }
    }
}

impl MethodConfig for Kt {
    fn validate(&self) -> Result<()> {
        count_in("max_antecedents", self.max_antecedents, 16)
    }
}

/// A conjunction of literals over one layer's units: (unit, wanted on).
type Term = BTreeSet<(usize, bool)>;

/// A dense layer as Boolean threshold units: unit u is on when b'_u + Σ_i v_ui·t_i > 0 over
/// its Boolean inputs t.
pub(super) struct Units {
    /// b' per unit.
    pub bias: Vec<f64>,
    /// v, `[out][in]`.
    pub v: Vec<Vec<f64>>,
}

/// A network over Boolean inputs as layers of Boolean threshold units (the last: one unit,
/// class 1 against class 0), with each layer's Boolean inputs on every training row.
pub(super) struct BooleanNet {
    /// The layers, input side first.
    pub layers: Vec<Units>,
    /// Per layer, its inputs' states on the rows, row-major `[rows × inputs]`.
    pub states: Vec<Vec<bool>>,
    /// Features per row of the network input.
    pub features: usize,
    /// The network input rows, flat.
    pub rows: Vec<f32>,
}

impl BooleanNet {
    /// The input literal: `x_j > 0.5` (present) or `x_j <= 0.5` (absent), named by `names`.
    pub fn literal(&self, names: &[String], (j, present): (usize, bool)) -> Condition {
        Condition {
            feature: j,
            name: names.get(j).cloned(),
            comparison: if present {
                Comparison::Above
            } else {
                Comparison::AtMost
            },
            threshold: 0.5,
        }
    }

    /// The ordered list of `rules` for class 1, then `else` class 0, each rule's coverage
    /// its share of the rows it fires on.
    pub fn class_one(&self, mut rules: Vec<Rule>) -> ExtractedRules {
        let n = self.rows.len() / self.features.max(1);
        for r in &mut rules {
            r.coverage = self
                .rows
                .chunks(self.features.max(1))
                .filter(|x| r.fires(x))
                .count() as f64
                / n.max(1) as f64;
        }
        ExtractedRules {
            rules: RuleSet {
                rules,
                default_class: Some(0),
            },
            tree: None,
        }
    }
}

fn bad(method: &str, msg: String) -> PassiveError {
    PassiveError::BadArgument(format!("{method}: {msg}"))
}

impl Kt {
    /// The minimal rules (terms over this layer's inputs) that make unit `u` on (`on`) or
    /// off, by KT's search.
    fn unit_rules(&self, units: &Units, u: usize, on: bool) -> Vec<Term> {
        let v = &units.v[u];
        let b = units.bias[u];
        // For "on": P among positive v (present), N among negative v (absent); the worst case
        // sets the others against. For "off", mirrored: P among negative v (present), N among
        // positive v (absent), and the unit must be ≤ 0 in the best case.
        let sign = if on { 1.0 } else { -1.0 };
        let pos: Vec<usize> = (0..v.len()).filter(|&i| sign * v[i] > 0.0).collect();
        let neg: Vec<usize> = (0..v.len()).filter(|&i| sign * v[i] < 0.0).collect();
        let base = sign * b + neg.iter().map(|&i| sign * v[i]).sum::<f64>();
        // holds(P, N): sign·(b' + Σ_P v + Σ_{neg∖N} v) > 0 (for "off": ≥ 0 in the mirrored
        // sum means the unit's pre-activation ≤ 0).
        let holds = |p: &[usize], n: &[usize]| {
            let s = base + p.iter().map(|&i| sign * v[i]).sum::<f64>()
                - n.iter().map(|&i| sign * v[i]).sum::<f64>();
            if on {
                s > 0.0
            } else {
                s >= 0.0
            }
        };
        // Literals: P's inputs present, N's absent (for both kinds of rule: P pushes the unit
        // the way the rule says, N against it).
        let term = |p: &[usize], n: &[usize]| -> Term {
            p.iter()
                .map(|&i| (i, true))
                .chain(n.iter().map(|&i| (i, false)))
                .collect()
        };
        let mut found: Vec<Term> = Vec::new();
        let known = |t: &Term, found: &[Term]| found.iter().any(|f| f.is_subset(t));
        for p_size in 0..=self.max_antecedents.min(pos.len()) {
            for p in subsets(&pos, p_size) {
                let alone = term(&p, &[]);
                if known(&alone, &found) {
                    continue;
                }
                if holds(&p, &[]) {
                    found.push(alone);
                    continue;
                }
                for n_size in 1..=(self.max_antecedents - p_size).min(neg.len()) {
                    for q in subsets(&neg, n_size) {
                        let t = term(&p, &q);
                        if !known(&t, &found) && holds(&p, &q) {
                            found.push(t);
                        }
                    }
                }
            }
        }
        prune_subsumed(found)
    }
}

/// Every subset of `items` of size `k`, in lexicographic order.
fn subsets(items: &[usize], k: usize) -> Vec<Vec<usize>> {
    fn go(items: &[usize], k: usize, from: usize, cur: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if cur.len() == k {
            out.push(cur.clone());
            return;
        }
        for i in from..items.len() {
            if items.len() - i < k - cur.len() {
                break;
            }
            cur.push(items[i]);
            go(items, k, i + 1, cur, out);
            cur.pop();
        }
    }
    let mut out = Vec::new();
    go(items, k, 0, &mut Vec::new(), &mut out);
    out
}

/// The terms without those another term's literals are a subset of, and without
/// contradictory ones (a unit wanted both on and off).
fn prune_subsumed(mut terms: Vec<Term>) -> Vec<Term> {
    terms.retain(|t| !t.iter().any(|&(u, on)| t.contains(&(u, !on))));
    terms.sort_by_key(|t| t.len());
    terms.dedup();
    let mut out: Vec<Term> = Vec::new();
    for t in terms {
        if !out.iter().any(|o| o.is_subset(&t)) {
            out.push(t);
        }
    }
    out
}

/// A dense layer of a chain: W (`[out][in]`), b, and the activation after it (`None` for the
/// output layer).
type Dense = (Vec<Vec<f64>>, Vec<f64>, Option<&'static str>);

/// A layer's rules: per unit, the terms that switch it on, and those that switch it off.
type LayerRules = (Vec<Vec<Term>>, Vec<Vec<Term>>);

/// The dense layers of a chain model, each with the activation after it.
fn dense_chain(model: &Graph, method: &str) -> Result<Vec<Dense>> {
    let mut layers: Vec<Dense> = Vec::new();
    for node in model.nodes() {
        if !node.inputs.is_empty() {
            return Err(bad(
                method,
                format!(
                    "needs a chain of dense layers; node '{}' names its inputs",
                    node.name
                ),
            ));
        }
        match node.layer.op() {
            "linear" => {
                let params = node.layer.params();
                let get = |k: &str| {
                    params
                        .iter()
                        .find(|(n, _)| *n == k)
                        .map(|(_, v)| v.value().clone())
                };
                let w = get("weight")
                    .ok_or_else(|| bad(method, "a linear layer has no weight".into()))?;
                let (o, i) = (w.shape()[0], w.shape()[1]);
                let wv = w.to_dtype(DType::F64)?.to_vec_f64()?;
                let b = match get("bias") {
                    Some(b) => b.to_dtype(DType::F64)?.to_vec_f64()?,
                    None => vec![0.0; o],
                };
                layers.push((wv.chunks(i).map(<[f64]>::to_vec).collect(), b, None));
            }
            op @ ("sigmoid" | "tanh" | "relu") => match layers.last_mut() {
                Some(l) if l.2.is_none() => l.2 = Some(op),
                _ => {
                    return Err(bad(
                        method,
                        format!("'{}' ({op}) does not follow a linear layer", node.name),
                    ))
                }
            },
            "flatten" | "identity" | "dropout" => {}
            op => {
                return Err(bad(
                    method,
                    format!(
                "reads rules off dense layers with sigmoid, tanh or ReLU units; node '{}' is {op}",
                node.name
            ),
                ))
            }
        }
    }
    match layers.last() {
        Some((_, _, None)) => Ok(layers),
        _ => Err(bad(
            method,
            "the last layer must be linear (the class logits)".into(),
        )),
    }
}

/// Reads `model` (a two-class chain of dense layers with sigmoid, tanh or ReLU units) as a
/// [`BooleanNet`] over the Boolean rows of `data`. Each unit is on when its pre-activation is
/// positive; its off and on values as the next layer's inputs are sigmoid 0/1, tanh −1/1,
/// ReLU 0 / its mean positive activation on the rows; the network inputs are 0/1 through the
/// model's normalisation.
///
/// **Errors** (prefixed by `method`) for inputs that are not 0 or 1, another architecture,
/// or more than two classes.
pub(super) fn boolean_net(model: &Graph, data: &RuleData<'_>, method: &str) -> Result<BooleanNet> {
    let n = data.x.shape()[0];
    let x = data.x.to_dtype(DType::F32)?.to_vec_f32()?;
    let f = x.len() / n;
    if let Some(i) = x.iter().position(|&v| v != 0.0 && v != 1.0) {
        return Err(bad(
            method,
            format!(
                "needs Boolean inputs (0 or 1); row {}, feature {} is {}",
                i / f,
                i % f,
                x[i]
            ),
        ));
    }
    let layers = dense_chain(model, method)?;
    let (w_out, _, _) = layers.last().expect("a chain has a last layer");
    if w_out.len() != 2 {
        return Err(bad(method, format!(
                "explains two-class networks (one output unit, logit₁ − logit₀); this one has {} classes",
                w_out.len()
            )));
    }
    // Off/on values of the network inputs after the model's normalisation.
    let (mut off, mut on): (Vec<f64>, Vec<f64>) = match model.normalize() {
        Some(nz) if nz.mean.len() == f => (0..f)
            .map(|j| (-nz.mean[j] / nz.std[j], (1.0 - nz.mean[j]) / nz.std[j]))
            .unzip(),
        Some(_) => return Err(bad(method, "needs per-feature input normalisation".into())),
        None => (vec![0.0; f], vec![1.0; f]),
    };
    // The hidden units' on value for ReLU: their mean positive activation on the rows.
    let mut activations: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    if let Some(nz) = model.normalize() {
        for (k, a) in activations.iter_mut().enumerate() {
            *a = (*a - nz.mean[k % f]) / nz.std[k % f];
        }
    }
    let mut width = f;
    let mut net = BooleanNet {
        layers: Vec::new(),
        states: vec![x.iter().map(|&v| v == 1.0).collect()],
        features: f,
        rows: Vec::new(),
    };
    for (l, (w, b, act)) in layers.iter().enumerate() {
        let last = l + 1 == layers.len();
        let (w, b): (Vec<Vec<f64>>, Vec<f64>) = if last {
            (
                vec![w[1].iter().zip(&w[0]).map(|(a, c)| a - c).collect()],
                vec![b[1] - b[0]],
            )
        } else {
            (w.clone(), b.clone())
        };
        let units = Units {
            bias: b
                .iter()
                .zip(&w)
                .map(|(bi, wi)| bi + wi.iter().zip(&off).map(|(a, o)| a * o).sum::<f64>())
                .collect(),
            v: w.iter()
                .map(|wi| {
                    wi.iter()
                        .zip(off.iter().zip(&on))
                        .map(|(a, (o, n))| a * (n - o))
                        .collect()
                })
                .collect(),
        };
        net.layers.push(units);
        if !last {
            // This layer's units as the next layer's inputs.
            let pre: Vec<f64> = activations
                .chunks(width)
                .flat_map(|row| {
                    w.iter().zip(&b).map(move |(wi, bi)| {
                        bi + wi.iter().zip(row).map(|(a, r)| a * r).sum::<f64>()
                    })
                })
                .collect();
            let k = w.len();
            let (o2, n2): (Vec<f64>, Vec<f64>) = (0..k)
                .map(|u| match act.unwrap_or("relu") {
                    "sigmoid" => (0.0, 1.0),
                    "tanh" => (-1.0, 1.0),
                    _ => {
                        let pos: Vec<f64> = pre
                            .iter()
                            .skip(u)
                            .step_by(k)
                            .copied()
                            .filter(|&p| p > 0.0)
                            .collect();
                        (
                            0.0,
                            if pos.is_empty() {
                                1.0
                            } else {
                                pos.iter().sum::<f64>() / pos.len() as f64
                            },
                        )
                    }
                })
                .unzip();
            net.states.push(pre.iter().map(|&p| p > 0.0).collect());
            activations = pre
                .iter()
                .enumerate()
                .map(|(i, &p)| if p > 0.0 { n2[i % k] } else { o2[i % k] })
                .collect();
            off = o2;
            on = n2;
            width = k;
        }
    }
    net.rows = x;
    Ok(net)
}

impl RuleExtractor<Graph> for Kt {
    fn name(&self) -> &'static str {
        "kt"
    }

    fn extract(&self, model: &Graph, data: &RuleData<'_>) -> Result<ExtractedRules> {
        let net = boolean_net(model, data, "kt")?;
        let rules_per_layer: Vec<LayerRules> = net
            .layers
            .iter()
            .map(|units| {
                let k = units.bias.len();
                (
                    (0..k).map(|u| self.unit_rules(units, u, true)).collect(),
                    (0..k).map(|u| self.unit_rules(units, u, false)).collect(),
                )
            })
            .collect();
        // Rewrite the output's on-rules down to the inputs.
        let mut terms: Vec<Term> = rules_per_layer.last().expect("layers").0[0].clone();
        for (ons, offs) in rules_per_layer.iter().rev().skip(1) {
            let mut next: Vec<Term> = Vec::new();
            for t in &terms {
                let mut product: Vec<Term> = vec![Term::new()];
                for &(u, want) in t {
                    let alternatives = if want { &ons[u] } else { &offs[u] };
                    let mut grown = Vec::new();
                    for p in &product {
                        for a in alternatives {
                            let mut q = p.clone();
                            q.extend(a.iter().copied());
                            grown.push(q);
                        }
                    }
                    product = prune_subsumed(grown);
                    if product.len() > MAX_TERMS {
                        return Err(bad(
                            "kt",
                            format!(
                            "the rewritten rules pass {MAX_TERMS} terms; lower --max-antecedents"
                        ),
                        ));
                    }
                }
                next.extend(product);
            }
            terms = prune_subsumed(next);
        }
        let rules = terms
            .into_iter()
            .map(|t| Rule {
                conditions: t
                    .into_iter()
                    .map(|l| net.literal(data.feature_names, l))
                    .collect(),
                at_least: Vec::new(),
                class: 1,
                coverage: 0.0,
                precision: f64::NAN,
            })
            .collect();
        Ok(net.class_one(rules))
    }
}
