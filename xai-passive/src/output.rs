//! What a method gives: one type, [`Output`], for every kind of explanation the surveys name
//! (Zhang et al., *A Survey on Neural Network Interpretability*, Table I: rules, hidden
//! semantics, attribution, examples — from local to global), each serializable to one JSON
//! object tagged by its `kind` and with a text rendering. A front end writes whatever kind a
//! method returns without knowing the method; reports ([`crate::report`]) wrap it in the
//! same envelope.
//!
//! ```
//! use xai_passive::output::{Condition, Output, Rule, RuleSet};
//!
//! let rules = Output::Rules(RuleSet {
//!     rules: vec![Rule {
//!         conditions: vec![Condition::at_most(2, Some("petal length".into()), f64::from(2.45f32))],
//!         at_least: Vec::new(),
//!         class: 0,
//!         coverage: 0.33,
//!         precision: 1.0,
//!     }],
//!     default_class: Some(2),
//! });
//! assert_eq!(rules.kind(), "rules");
//! assert_eq!(rules.to_text(), "if petal length <= 2.45 then 0\nelse then 2\n");
//! assert_eq!(rules.to_json()["kind"], "rules");
//! ```

use crate::methods::Dependence;
use crate::rules::shown_threshold;
use crate::{Explanation, PassiveError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fmt::Write;
use xai_tensor::{DType, Tensor};

/// One explanation of any kind.
#[derive(Clone, Debug)]
pub enum Output {
    /// Attribution maps, one per input (attribution, local).
    Attributions(Explanation),
    /// Partial dependence and ICE curves over a data set (attribution, global / semi-local).
    Curves(Dependence),
    /// Rules or a tree distilled from the model (rules, local to global).
    Rules(RuleSet),
    /// Concept scores per class with their significance (hidden semantics, global).
    Concepts(ConceptScores),
    /// What hidden units detect (hidden semantics, global).
    Units(UnitSemantics),
    /// Training examples that explain each input, with scores (examples, local).
    Examples(ExampleScores),
    /// Prototypes a model reasons with (examples, global).
    Prototypes(Prototypes),
}

impl Output {
    /// The kind's name, the JSON `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Output::Attributions(_) => "attributions",
            Output::Curves(_) => "curves",
            Output::Rules(_) => "rules",
            Output::Concepts(_) => "concepts",
            Output::Units(_) => "units",
            Output::Examples(_) => "examples",
            Output::Prototypes(_) => "prototypes",
        }
    }

    /// The explanation as one JSON object: `{"kind": …, …its fields}` (attribution maps as
    /// `{"shape": [...], "values": [...]}`, non-finite numbers as `null`).
    pub fn to_json(&self) -> Value {
        let mut v = match self {
            Output::Attributions(e) => json!({
                "targets": e.targets,
                "completeness_gap": e.completeness_gap,
                "diagnostics": e.diagnostics,
                "attributions": {
                    "shape": e.attributions.shape(),
                    "values": e.attributions.to_vec_f32().unwrap_or_default(),
                },
            }),
            Output::Curves(d) => d.to_json(),
            Output::Rules(r) => to_value(r),
            Output::Concepts(c) => to_value(c),
            Output::Units(u) => to_value(u),
            Output::Examples(e) => to_value(e),
            Output::Prototypes(p) => to_value(p),
        };
        if let Value::Object(m) = &mut v {
            m.insert("kind".into(), self.kind().into());
        }
        v
    }

    /// A plain-text rendering for a terminal or a log, one item per line.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        match self {
            Output::Attributions(e) => {
                let shape = e.attributions.shape();
                let _ = writeln!(s, "attributions of shape {shape:?}");
                let per = e.attributions.numel() / shape.first().copied().unwrap_or(1).max(1);
                let v = e.attributions.to_vec_f64().unwrap_or_default();
                for (i, (row, t)) in v.chunks(per.max(1)).zip(&e.targets).enumerate() {
                    let mut order: Vec<usize> = (0..row.len()).collect();
                    order.sort_by(|&a, &b| row[b].abs().total_cmp(&row[a].abs()));
                    let top: Vec<String> = order
                        .iter()
                        .take(5)
                        .map(|&j| format!("{j}: {:+.4}", row[j]))
                        .collect();
                    let _ = write!(
                        s,
                        "example {i} (class {t}): top features {}",
                        top.join(", ")
                    );
                    if let Some(g) = e.completeness_gap.as_ref().and_then(|g| g.get(i)) {
                        let _ = write!(s, "; completeness gap {g:.3e}");
                    }
                    for d in &e.diagnostics {
                        if let Some(v) = d.per_example.get(i) {
                            let _ = write!(s, "; {} {v:.4}", d.name);
                        }
                    }
                    s.push('\n');
                }
            }
            Output::Curves(d) => {
                let _ = writeln!(
                    s,
                    "partial dependence of class {} on feature(s) {:?} over {} rows",
                    d.target,
                    d.features,
                    d.ice.len()
                );
                if d.grid.len() == 1 {
                    for (v, pd) in d.grid[0].iter().zip(&d.pd) {
                        let _ = writeln!(s, "{v:>12.4}  {pd:+.4}");
                    }
                } else {
                    let _ = writeln!(s, "a {}×{} surface", d.grid[0].len(), d.grid[1].len());
                }
            }
            Output::Rules(r) => s.push_str(&r.to_text()),
            Output::Concepts(c) => {
                let _ = writeln!(s, "concepts at layer {} for class {}", c.layer, c.class);
                for k in &c.concepts {
                    let _ = writeln!(
                        s,
                        "{:<24} score {:.3}  p {:.3}",
                        k.concept, k.score, k.p_value
                    );
                }
            }
            Output::Units(u) => {
                let _ = writeln!(s, "units of layer {}", u.layer);
                for k in &u.units {
                    let _ = writeln!(s, "unit {:>4}: {} (IoU {:.3})", k.unit, k.concept, k.iou);
                }
            }
            Output::Examples(e) => {
                for (i, row) in e.per_input.iter().enumerate() {
                    let items: Vec<String> = row
                        .iter()
                        .map(|x| format!("#{} {:+.4}", x.index, x.score))
                        .collect();
                    let _ = writeln!(s, "input {i}: {}", items.join(", "));
                }
            }
            Output::Prototypes(p) => {
                for q in &p.prototypes {
                    let _ = writeln!(
                        s,
                        "class {}: training example #{} (score {:.4})",
                        q.class, q.index, q.score
                    );
                }
            }
        }
        s
    }
}

fn to_value(v: &impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A comparison of a feature with a threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Comparison {
    /// feature ≤ threshold.
    AtMost,
    /// feature > threshold.
    Above,
}

/// One condition of a rule: `feature ≤ threshold` or `feature > threshold`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// Flat feature index into one example.
    pub feature: usize,
    /// The feature's name, where the data has names.
    pub name: Option<String>,
    /// How the feature is compared.
    pub comparison: Comparison,
    /// The threshold.
    pub threshold: f64,
}

impl Condition {
    /// `feature ≤ threshold`.
    pub fn at_most(feature: usize, name: Option<String>, threshold: f64) -> Self {
        Self {
            feature,
            name,
            comparison: Comparison::AtMost,
            threshold,
        }
    }
}

impl Condition {
    /// Its negation: `≤ t` becomes `> t` and back.
    pub fn negated(&self) -> Self {
        Self {
            comparison: match self.comparison {
                Comparison::AtMost => Comparison::Above,
                Comparison::Above => Comparison::AtMost,
            },
            ..self.clone()
        }
    }

    /// Whether flat row `x` satisfies it (the f32 feature compared exactly in f64).
    pub fn holds(&self, x: &[f32]) -> bool {
        let v = f64::from(x[self.feature]);
        match self.comparison {
            Comparison::AtMost => v <= self.threshold,
            Comparison::Above => v > self.threshold,
        }
    }
}

/// `name <= t` or `name > t` (`x[i]` without a name), the threshold printed as the largest
/// f32 not above it ([`shown_threshold`]), which decides every f32 input the same way.
impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.comparison {
            Comparison::AtMost => "<=",
            Comparison::Above => ">",
        };
        let t = shown_threshold(self.threshold);
        match &self.name {
            Some(n) => write!(f, "{n} {op} {t}"),
            None => write!(f, "x[{}] {op} {t}", self.feature),
        }
    }
}

/// An m-of-n condition (Towell & Shavlik 1993): at least `m` of the `literals` hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AtLeast {
    /// How many must hold (1 ≤ m ≤ n).
    pub m: usize,
    /// The n literals.
    pub literals: Vec<Condition>,
}

impl AtLeast {
    /// Whether at least `m` literals hold for flat row `x`.
    pub fn holds(&self, x: &[f32]) -> bool {
        self.literals.iter().filter(|c| c.holds(x)).count() >= self.m
    }

    /// Its negation: fewer than m hold, i.e. at least n − m + 1 of the negated literals hold.
    pub fn negated(&self) -> Self {
        Self {
            m: self.literals.len() + 1 - self.m,
            literals: self.literals.iter().map(Condition::negated).collect(),
        }
    }
}

/// `2 of (a <= 1, b > 3, c <= 2)`.
impl std::fmt::Display for AtLeast {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lits: Vec<String> = self.literals.iter().map(ToString::to_string).collect();
        write!(f, "{} of ({})", self.m, lits.join(", "))
    }
}

/// IF all conditions THEN class, with how much of the data it covers and how often it is
/// right there (Ribeiro et al. 2018's coverage and precision).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rule {
    /// Conditions, all of which must hold.
    pub conditions: Vec<Condition>,
    /// m-of-n conditions, all of which must hold too (Trepan's and M-of-N's rules).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub at_least: Vec<AtLeast>,
    /// The class the rule predicts.
    pub class: usize,
    /// Fraction of the data the rule applies to.
    pub coverage: f64,
    /// Fraction of the covered data the model gives `class`.
    pub precision: f64,
}

impl Rule {
    /// Whether every condition (and m-of-n condition) holds for flat row `x`.
    pub fn fires(&self, x: &[f32]) -> bool {
        self.conditions.iter().all(|c| c.holds(x)) && self.at_least.iter().all(|g| g.holds(x))
    }

    /// Number of literals it tests: its conditions and every m-of-n condition's n.
    pub fn antecedents(&self) -> usize {
        self.conditions.len()
            + self
                .at_least
                .iter()
                .map(|g| g.literals.len())
                .sum::<usize>()
    }
}

/// `if A and B then K` (`if true then K` without conditions).
impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let conds: Vec<String> = self
            .conditions
            .iter()
            .map(ToString::to_string)
            .chain(self.at_least.iter().map(ToString::to_string))
            .collect();
        let when = if conds.is_empty() {
            "true".to_string()
        } else {
            conds.join(" and ")
        };
        write!(f, "if {when} then {}", self.class)
    }
}

/// Rules: an ordered rule list (the first rule that fires decides; `default_class` when none
/// does) or a tree's root-to-leaf paths (mutually exclusive, covering every input).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RuleSet {
    /// The rules, in the order they apply.
    pub rules: Vec<Rule>,
    /// The class when no rule fires (an ordered list's final `else`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_class: Option<usize>,
}

impl RuleSet {
    /// The index of the first rule that fires on each row of `x` (`[N, ...]`, flattened per
    /// row), or `None` where none does.
    ///
    /// **Errors** if a rule names a feature past the row's length.
    pub fn fired(&self, x: &Tensor) -> Result<Vec<Option<usize>>> {
        let n = x.shape().first().copied().unwrap_or(0);
        let f = x.numel().checked_div(n).unwrap_or(0);
        let widest = self
            .rules
            .iter()
            .flat_map(|r| {
                r.conditions
                    .iter()
                    .chain(r.at_least.iter().flat_map(|g| &g.literals))
            })
            .map(|c| c.feature + 1)
            .max()
            .unwrap_or(0);
        if n > 0 && widest > f {
            return Err(PassiveError::BadArgument(format!(
                "the rules name feature {} but rows have {f} features",
                widest - 1
            )));
        }
        let v = x.to_dtype(DType::F32)?.to_vec_f32()?;
        Ok(v.chunks(f.max(1))
            .take(n)
            .map(|row| self.rules.iter().position(|r| r.fires(row)))
            .collect())
    }

    /// The class each row of `x` is given: the first firing rule's, else the default class,
    /// else `None` (not covered).
    ///
    /// **Errors** as [`fired`](Self::fired).
    pub fn predict(&self, x: &Tensor) -> Result<Vec<Option<usize>>> {
        Ok(self
            .fired(x)?
            .into_iter()
            .map(|r| r.map(|i| self.rules[i].class).or(self.default_class))
            .collect())
    }

    /// One rule per line; an ordered list ends with `else then K`.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for rule in &self.rules {
            let _ = writeln!(s, "{rule}");
        }
        if let Some(k) = self.default_class {
            let _ = writeln!(s, "else then {k}");
        }
        s
    }
}

/// One concept's score for a class (TCAV: the fraction of the class's inputs whose logit
/// rises along the concept's direction, Kim et al. 2018).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConceptScore {
    /// The concept's name.
    pub concept: String,
    /// The score.
    pub score: f64,
    /// Significance against random concepts (two-sided p-value).
    pub p_value: f64,
}

/// Concept scores of one class at one layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConceptScores {
    /// The layer the concepts live in.
    pub layer: String,
    /// The class explained.
    pub class: usize,
    /// One score per concept.
    pub concepts: Vec<ConceptScore>,
}

/// What one unit detects (network dissection, Bau et al. 2017).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitConcept {
    /// The unit (channel) index.
    pub unit: usize,
    /// The concept it matches best.
    pub concept: String,
    /// Intersection over union of its thresholded activation with the concept's masks.
    pub iou: f64,
}

/// The units of one layer with their concepts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitSemantics {
    /// The layer.
    pub layer: String,
    /// One entry per unit.
    pub units: Vec<UnitConcept>,
}

/// A training example with its score for one input (an influence, a similarity).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ScoredExample {
    /// Row of the training set.
    pub index: usize,
    /// Its score.
    pub score: f64,
}

/// The training examples that explain each input, best first.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ExampleScores {
    /// One list per input.
    pub per_input: Vec<Vec<ScoredExample>>,
}

/// One prototype: a training example (or a patch of one) that stands for a class.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Prototype {
    /// The class it stands for.
    pub class: usize,
    /// Row of the training set it is (or is projected onto).
    pub index: usize,
    /// Its score (a similarity or a weight).
    pub score: f64,
}

/// The prototypes of a model.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Prototypes {
    /// Every prototype.
    pub prototypes: Vec<Prototype>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_serializes_with_its_tag_and_renders_as_text() {
        let maps = Output::Attributions(Explanation {
            attributions: Tensor::from_vec(vec![0.5f32, -2.0, 1.0, 0.0], &[2, 2]).unwrap(),
            targets: vec![1, 0],
            completeness_gap: Some(vec![1e-7, 0.0]),
            diagnostics: Vec::new(),
        });
        let v = maps.to_json();
        assert_eq!(v["kind"], "attributions");
        assert_eq!(v["attributions"]["shape"], json!([2, 2]));
        assert_eq!(v["attributions"]["values"], json!([0.5, -2.0, 1.0, 0.0]));
        let text = maps.to_text();
        assert!(text.contains("example 0 (class 1): top features 1: -2.0000, 0: +0.5000"));
        let kinds = [
            maps,
            Output::Rules(RuleSet::default()),
            Output::Concepts(ConceptScores {
                layer: "conv2".into(),
                class: 3,
                concepts: vec![ConceptScore {
                    concept: "stripes".into(),
                    score: 0.8,
                    p_value: 0.01,
                }],
            }),
            Output::Units(UnitSemantics {
                layer: "conv2".into(),
                units: vec![UnitConcept {
                    unit: 7,
                    concept: "sky".into(),
                    iou: 0.12,
                }],
            }),
            Output::Examples(ExampleScores {
                per_input: vec![vec![ScoredExample {
                    index: 41,
                    score: -0.5,
                }]],
            }),
            Output::Prototypes(Prototypes {
                prototypes: vec![Prototype {
                    class: 2,
                    index: 9,
                    score: 1.0,
                }],
            }),
        ];
        for k in &kinds {
            assert_eq!(k.to_json()["kind"], k.kind());
        }
        assert!(kinds[2].to_text().contains("stripes"));
        assert!(kinds[3].to_text().contains("unit    7: sky (IoU 0.120)"));
        assert!(kinds[4].to_text().contains("input 0: #41 -0.5000"));
        assert!(kinds[5].to_text().contains("class 2: training example #9"));
        let rule = Rule {
            at_least: Vec::new(),
            conditions: vec![
                Condition::at_most(0, None, 1.5),
                Condition {
                    comparison: Comparison::Above,
                    ..Condition::at_most(3, Some("age".into()), 40.0)
                },
            ],
            class: 1,
            coverage: 0.25,
            precision: 0.9,
        };
        assert_eq!(rule.to_string(), "if x[0] <= 1.5 and age > 40 then 1");
    }
}
