//! M-of-N (Towell & Shavlik, *Extracting Refined Rules from Knowledge-Based Neural Networks*,
//! Machine Learning 1993): rules "if at least m of these n" read off a network over Boolean
//! inputs whose weights are first simplified.
//!
//! Per Boolean threshold unit (as [KT](super::Kt) reads them: on when b' + Σ_i v_i t_i > 0):
//! 1. **Cluster** its weights v: sorted, a new cluster starts where the gap to the previous
//!    weight exceeds `tolerance` · max|v| or the sign changes; each weight is replaced by its
//!    cluster's mean.
//! 2. **Prune** clusters, smallest |mean| first: a cluster is set to zero when the unit then
//!    agrees with itself (its original on/off state) on as many training rows.
//! 3. **Re-fit the bias** with the weights frozen: the b' that agrees with the original unit
//!    on the most training rows (an exact search over the rows' pre-activations; Towell &
//!    Shavlik retrain it by backpropagation).
//! 4. **Read** the unit: with k_c of cluster c's n_c inputs on, it is on when
//!    b' + Σ_c μ_c k_c > 0. The most general count vectors that satisfy this (fewest inputs
//!    of positive clusters, most of negative ones) become rules: "at least k_c of cluster c"
//!    for a positive cluster, "at least n_c − k_c of cluster c absent" for a negative one.
//!    Off-rules mirror them.
//!
//! The output's rules (class 1 against class 0) are rewritten down to the inputs as KT's
//! are: each m-of-n condition over a layer's units is expanded into the units' on- and
//! off-rules. The result is an ordered rule list: the rules for class 1, then `else` 0.

use super::kt::{boolean_net, Units};
use super::{AtLeast, Condition, ExtractedRules, Rule, RuleData, RuleExtractor};
use crate::config::{bad, MethodConfig};
use crate::{PassiveError, Result};
use serde::{Deserialize, Serialize};
use xai_nn::Graph;

/// Most count vectors a unit's rule search visits, and most terms a rewrite may hold.
pub const MAX_COMBINATIONS: usize = 100_000;

/// M-of-N's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MOfN {
    /// Weights closer than this share of the unit's largest |weight| join one cluster.
    pub tolerance: f64,
}

impl Default for MOfN {
    fn default() -> Self {
        Self { tolerance: 0.1 }
    }
}

impl MethodConfig for MOfN {
    fn validate(&self) -> Result<()> {
        if !(self.tolerance > 0.0 && self.tolerance < 1.0) {
            return Err(bad(
                "tolerance",
                format!("must be in (0, 1), got {}", self.tolerance),
            ));
        }
        Ok(())
    }
}

/// An m-of-n group over one layer's inputs: at least `m` of the literals (input, on) hold.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Group {
    m: usize,
    literals: Vec<(usize, bool)>,
}

/// A conjunction of groups.
type Term = Vec<Group>;

/// A layer's rules: per unit, the terms that switch it on, and those that switch it off.
type LayerRules = (Vec<Vec<Term>>, Vec<Vec<Term>>);

fn fail(msg: String) -> PassiveError {
    PassiveError::BadArgument(format!("m-of-n: {msg}"))
}

/// A simplified unit: clusters (mean, members) and the re-fitted bias.
struct Clustered {
    clusters: Vec<(f64, Vec<usize>)>,
    bias: f64,
}

impl MOfN {
    /// Steps 1–3 for unit `u` of `units`, whose inputs on the rows are `states` (`width` per
    /// row).
    fn simplify(&self, units: &Units, u: usize, states: &[bool], width: usize) -> Clustered {
        let v = &units.v[u];
        let rows: Vec<&[bool]> = states.chunks(width).collect();
        let original: Vec<bool> = rows
            .iter()
            .map(|r| {
                units.bias[u]
                    + r.iter()
                        .zip(v)
                        .map(|(&t, w)| if t { *w } else { 0.0 })
                        .sum::<f64>()
                    > 0.0
            })
            .collect();
        let largest = v.iter().fold(0.0f64, |m, w| m.max(w.abs()));
        let mut order: Vec<usize> = (0..v.len()).collect();
        order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut clusters: Vec<(f64, Vec<usize>)> = Vec::new();
        for &i in &order {
            match clusters.last_mut() {
                Some((_, members))
                    if {
                        let prev = v[*members.last().expect("a cluster has members")];
                        v[i] - prev <= self.tolerance * largest && (prev > 0.0) == (v[i] > 0.0)
                    } =>
                {
                    members.push(i)
                }
                _ => clusters.push((0.0, vec![i])),
            }
        }
        for (mean, members) in &mut clusters {
            *mean = members.iter().map(|&i| v[i]).sum::<f64>() / members.len() as f64;
        }
        let fit = |clusters: &[(f64, Vec<usize>)]| best_bias(clusters, &rows, &original);
        let (mut bias, mut agree) = fit(&clusters);
        // Prune, smallest |mean| first, while agreement does not drop.
        let mut by_size: Vec<usize> = (0..clusters.len()).collect();
        by_size.sort_by(|&a, &b| clusters[a].0.abs().total_cmp(&clusters[b].0.abs()));
        for c in by_size {
            let mean = clusters[c].0;
            clusters[c].0 = 0.0;
            let (b2, a2) = fit(&clusters);
            if a2 >= agree {
                (bias, agree) = (b2, a2);
            } else {
                clusters[c].0 = mean;
            }
        }
        clusters.retain(|(m, _)| *m != 0.0);
        Clustered { clusters, bias }
    }

    /// Step 4: the unit's most general rules for being on (`on`) or off.
    fn read(&self, c: &Clustered, on: bool) -> Result<Vec<Term>> {
        let sizes: Vec<usize> = c.clusters.iter().map(|(_, m)| m.len()).collect();
        let total: usize = sizes.iter().map(|s| s + 1).product();
        if total > MAX_COMBINATIONS {
            return Err(fail(format!(
                "a unit has {total} count combinations; raise --tolerance"
            )));
        }
        // Satisfying count vectors.
        let mut sat: Vec<Vec<usize>> = Vec::new();
        let mut k = vec![0usize; sizes.len()];
        loop {
            let pre = c.bias
                + c.clusters
                    .iter()
                    .zip(&k)
                    .map(|((m, _), &n)| m * n as f64)
                    .sum::<f64>();
            if (pre > 0.0) == on {
                sat.push(k.clone());
            }
            // Next vector.
            let mut i = 0;
            while i < k.len() && k[i] == sizes[i] {
                k[i] = 0;
                i += 1;
            }
            if i == k.len() {
                break;
            }
            k[i] += 1;
        }
        // Generality: for "on", fewer of a positive cluster and more of a negative one asks
        // less; for "off", the reverse. Keep the vectors no other one is more general than.
        let asks_less = |a: &[usize], b: &[usize]| {
            a != b
                && c.clusters.iter().enumerate().all(|(i, (m, _))| {
                    if (*m > 0.0) == on {
                        a[i] <= b[i]
                    } else {
                        a[i] >= b[i]
                    }
                })
        };
        let general: Vec<&Vec<usize>> = sat
            .iter()
            .filter(|b| !sat.iter().any(|a| asks_less(a, b)))
            .collect();
        Ok(general
            .into_iter()
            .map(|k| {
                c.clusters
                    .iter()
                    .zip(k)
                    .filter_map(|((mean, members), &kc)| {
                        // A cluster that pushes the unit the rule's way: at least kc present;
                        // one that pushes against it: at least n − kc absent.
                        let with = (*mean > 0.0) == on;
                        let (m, present) = if with {
                            (kc, true)
                        } else {
                            (members.len() - kc, false)
                        };
                        (m > 0).then(|| Group {
                            m,
                            literals: members.iter().map(|&i| (i, present)).collect(),
                        })
                    })
                    .collect()
            })
            .collect())
    }
}

/// The bias agreeing with `original` on the most rows for the clustered weights, and that
/// count: the rows sorted by their pre-activation, the threshold placed between two of them.
fn best_bias(clusters: &[(f64, Vec<usize>)], rows: &[&[bool]], original: &[bool]) -> (f64, usize) {
    let mut weight = vec![0.0; rows.first().map_or(0, |r| r.len())];
    for (mean, members) in clusters {
        for &i in members {
            weight[i] = *mean;
        }
    }
    let mut pre: Vec<(f64, bool)> = rows
        .iter()
        .zip(original)
        .map(|(r, &o)| {
            (
                r.iter()
                    .zip(&weight)
                    .map(|(&t, w)| if t { *w } else { 0.0 })
                    .sum(),
                o,
            )
        })
        .collect();
    pre.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Bias −t puts the rows above t on: start with every row on, then switch them off in order.
    let mut agree = pre.iter().filter(|p| p.1).count();
    let (mut best, mut best_t) = (agree, pre.first().map_or(0.0, |p| p.0 - 1.0));
    for i in 0..pre.len() {
        agree = if pre[i].1 { agree - 1 } else { agree + 1 };
        let next = pre.get(i + 1).map(|p| p.0);
        if next == Some(pre[i].0) {
            continue;
        }
        let t = match next {
            Some(n) => (pre[i].0 + n) / 2.0,
            None => pre[i].0 + 1.0,
        };
        if agree > best {
            (best, best_t) = (agree, t);
        }
    }
    (-best_t, best)
}

/// Every way of choosing `m` of `items`.
fn choose<T: Clone>(items: &[T], m: usize) -> Vec<Vec<T>> {
    if m == 0 {
        return vec![Vec::new()];
    }
    if items.len() < m {
        return Vec::new();
    }
    let mut with: Vec<Vec<T>> = choose(&items[1..], m - 1)
        .into_iter()
        .map(|mut rest| {
            rest.insert(0, items[0].clone());
            rest
        })
        .collect();
    with.extend(choose(&items[1..], m));
    with
}

/// `terms` tidied: each group's literals sorted; groups that the term's plain literals (its
/// groups with m = n) already satisfy dropped; terms with contradictory plain literals, and
/// terms a plainer term (only plain literals, a subset of theirs) covers, dropped; duplicates
/// dropped.
fn tidy(terms: Vec<Term>) -> Vec<Term> {
    let fixed_of = |t: &Term| -> Vec<(usize, bool)> {
        let mut f: Vec<(usize, bool)> = t
            .iter()
            .filter(|g| g.m == g.literals.len())
            .flat_map(|g| g.literals.iter().copied())
            .collect();
        f.sort_unstable();
        f.dedup();
        f
    };
    let mut out: Vec<Term> = Vec::new();
    for mut t in terms {
        for g in &mut t {
            g.literals.sort_unstable();
        }
        let fixed = fixed_of(&t);
        if fixed.iter().any(|&(i, on)| fixed.contains(&(i, !on))) {
            continue;
        }
        t.retain(|g| {
            g.m == g.literals.len() || g.literals.iter().filter(|l| fixed.contains(l)).count() < g.m
        });
        // Plain literals as one group each, so equal terms compare equal.
        let mut plain: Term = fixed
            .iter()
            .map(|&l| Group {
                m: 1,
                literals: vec![l],
            })
            .collect();
        plain.extend(t.into_iter().filter(|g| g.m < g.literals.len()));
        plain.sort();
        plain.dedup();
        if !out.contains(&plain) {
            out.push(plain);
        }
    }
    let is_plain = |t: &Term| t.iter().all(|g| g.literals.len() == 1);
    let snapshot = out.clone();
    out.retain(|b| {
        let fb = fixed_of(b);
        !snapshot
            .iter()
            .any(|a| a != b && is_plain(a) && fixed_of(a).iter().all(|l| fb.contains(l)))
    });
    out
}

impl RuleExtractor<Graph> for MOfN {
    fn name(&self) -> &'static str {
        "m-of-n"
    }

    fn extract(&self, model: &Graph, data: &RuleData<'_>) -> Result<ExtractedRules> {
        let net = boolean_net(model, data, "m-of-n")?;
        let mut per_layer: Vec<LayerRules> = Vec::new();
        for (units, states) in net.layers.iter().zip(&net.states) {
            let width = units.v.first().map_or(0, Vec::len);
            let (mut ons, mut offs) = (Vec::new(), Vec::new());
            for u in 0..units.bias.len() {
                let c = self.simplify(units, u, states, width);
                ons.push(self.read(&c, true)?);
                offs.push(self.read(&c, false)?);
            }
            per_layer.push((ons, offs));
        }
        // Rewrite the output's on-rules down to the inputs: a group over a layer's units
        // becomes every choice of m of its literals, each literal the unit's rules.
        let mut terms: Vec<Term> = per_layer.last().expect("layers").0[0].clone();
        for (ons, offs) in per_layer.iter().rev().skip(1) {
            let mut next: Vec<Term> = Vec::new();
            for t in &terms {
                let mut product: Vec<Term> = vec![Vec::new()];
                for g in t {
                    let mut alternatives: Vec<Term> = Vec::new();
                    for chosen in choose(&g.literals, g.m) {
                        let mut conj: Vec<Term> = vec![Vec::new()];
                        for (u, want) in chosen {
                            let rules = if want { &ons[u] } else { &offs[u] };
                            conj = conj
                                .iter()
                                .flat_map(|p| {
                                    rules.iter().map(move |r| [p.clone(), r.clone()].concat())
                                })
                                .collect();
                        }
                        alternatives.extend(conj);
                    }
                    product = tidy(
                        product
                            .iter()
                            .flat_map(|p| {
                                alternatives
                                    .iter()
                                    .map(move |a| [p.clone(), a.clone()].concat())
                            })
                            .collect(),
                    );
                    if product.len() > MAX_COMBINATIONS {
                        return Err(fail(format!(
                            "the rewritten rules pass {MAX_COMBINATIONS} terms"
                        )));
                    }
                }
                next.extend(product);
            }
            terms = tidy(next);
        }
        let rules = terms
            .into_iter()
            .map(|t| {
                let (mut conditions, mut at_least) = (Vec::new(), Vec::new());
                for g in t {
                    let lits: Vec<Condition> = g
                        .literals
                        .into_iter()
                        .map(|l| net.literal(data.feature_names, l))
                        .collect();
                    if g.m == lits.len() {
                        conditions.extend(lits);
                    } else {
                        at_least.push(AtLeast {
                            m: g.m,
                            literals: lits,
                        });
                    }
                }
                Rule {
                    conditions,
                    at_least,
                    class: 1,
                    coverage: 0.0,
                    precision: f64::NAN,
                }
            })
            .collect();
        Ok(net.class_one(rules))
    }
}
