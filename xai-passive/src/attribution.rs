//! The attribution trait, targets and the result type shared by every method.

use crate::{PassiveError, Result};
use xai_nn::Forward;
use xai_tensor::Tensor;

/// Which output an attribution explains, per example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The predicted class (argmax of the logits).
    Argmax,
    /// The same class for every example.
    Class(usize),
    /// One class per example.
    PerExample(Vec<usize>),
}

impl std::str::FromStr for Target {
    type Err = String;
    /// Parses `argmax` or a class index.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "argmax" {
            return Ok(Target::Argmax);
        }
        s.parse()
            .map(Target::Class)
            .map_err(|_| format!("target must be 'argmax' or a class index, got '{s}'"))
    }
}

/// Resolves `target` to one class per example of `x`, checking the range.
pub fn resolve_targets<M: Forward + ?Sized>(
    model: &M,
    x: &Tensor,
    target: &Target,
) -> Result<Vec<usize>> {
    let n = x.shape()[0];
    let logits = match target {
        Target::Argmax => Some(model.predict(x)?),
        _ => None,
    };
    let k = match &logits {
        Some(l) => l.shape()[1],
        None => model.predict(&x.narrow(0, 0, 1.min(n))?)?.shape()[1],
    };
    let classes = match target {
        Target::Argmax => logits.expect("computed above").argmax(1)?,
        Target::Class(c) => vec![*c; n],
        Target::PerExample(v) if v.len() == n => v.clone(),
        Target::PerExample(v) => {
            return Err(PassiveError::BadArgument(format!(
                "{} targets given for {n} examples",
                v.len()
            )));
        }
    };
    if let Some(&bad) = classes.iter().find(|&&c| c >= k) {
        return Err(PassiveError::BadArgument(format!(
            "target class {bad} is out of range for a model with {k} outputs"
        )));
    }
    Ok(classes)
}

/// An attribution of a batch: one map per example, with the input's shape.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// Attributions `[N, ...input_shape]`.
    pub attributions: Tensor,
    /// The class explained for each example.
    pub targets: Vec<usize>,
    /// Σa − (f(x) − f(baseline)) per example, for methods with a completeness axiom.
    pub completeness_gap: Option<Vec<f64>>,
    /// The method's own per-example figures about this explanation (LIME's local R²), in
    /// the order the method gives them.
    pub diagnostics: Vec<Diagnostic>,
}

impl Explanation {
    /// The mean over the examples of |Σa − (f(x) − f(baseline))|, for methods with a
    /// completeness axiom.
    pub fn mean_completeness_gap(&self) -> Option<f64> {
        self.completeness_gap
            .as_ref()
            .map(|g| g.iter().map(|v| v.abs()).sum::<f64>() / g.len().max(1) as f64)
    }
}

/// A figure a method reports about its explanation, one value per example (a surrogate's fit,
/// a convergence measure): carried in the result, so a front end shows any method's the same
/// way.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    /// Short name (`local_r2`).
    pub name: &'static str,
    /// What it measures, in words.
    pub description: &'static str,
    /// One value per example.
    pub per_example: Vec<f64>,
}

/// An attribution method for models of type `M` (the method's impl bound says what it needs:
/// `Forward`, `Differentiable` or `Layered`).
pub trait Attribution<M: ?Sized>: Send + Sync {
    /// The registry name (`"saliency"`).
    fn name(&self) -> &'static str;
    /// Attributions of `x: [N, ...input_shape]` for the classes `targets` (one per example,
    /// already checked to be in range).
    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation>;
}
