//! Parameters by name and the configurations built from them.
//!
//! Every method owns its configuration: a struct in its own file with serde `Serialize` /
//! `Deserialize`, `Default` (its documented defaults) and [`MethodConfig::validate`]. A front
//! end (the CLI, a JSON file, a pipeline) gathers [`Params`] by name — numbers, strings,
//! switches, and tensors (baselines, masks) beside them — and [`from_params`] turns them into
//! the configuration: a name the method does not take is
//! [`PassiveError::UnknownParameter`], a value of the wrong type or out of range is
//! [`PassiveError::BadParameter`] naming it. The configuration serializes back to JSON for
//! the report (tensors by their shape).
//!
//! ```
//! use xai_passive::config::{from_params, Params};
//! use xai_passive::methods::IntegratedGradients;
//!
//! let ig: IntegratedGradients =
//!     from_params("integrated-gradients", &Params::default().with("steps", 20))?;
//! assert_eq!(ig.steps, 20);
//! let refused = from_params::<IntegratedGradients>("integrated-gradients", &Params::default().with("window", "3x3"));
//! assert!(refused.unwrap_err().to_string().contains("window is not a parameter of integrated-gradients"));
//! # Ok::<(), xai_passive::PassiveError>(())
//! ```

use crate::baseline::Baseline;
use crate::{PassiveError, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;
use xai_tensor::Tensor;

/// A method's (or metric's) configuration: parameters with their defaults (`Default`), read
/// from [`Params`] by serde, checked by [`validate`](MethodConfig::validate), written back
/// to the report as JSON.
pub trait MethodConfig: Serialize + DeserializeOwned + Default {
    /// Checks every parameter's range; the first bad one is
    /// [`PassiveError::BadParameter`] naming it.
    fn validate(&self) -> Result<()>;
}

/// Parameters by name: JSON values (from a CLI's flags or a config file) and tensors
/// (baselines, masks, background data) kept as tensors. A method takes the names its
/// configuration has; a metric reads the ones it knows with its defaults.
#[derive(Clone, Debug, Default)]
pub struct Params {
    /// Numbers, strings, switches and lists, by name.
    pub values: Map<String, Value>,
    /// Tensors by name.
    pub tensors: BTreeMap<String, Tensor>,
}

/// A [`PassiveError::BadParameter`].
pub fn bad(name: &str, msg: impl Into<String>) -> PassiveError {
    PassiveError::BadParameter {
        name: name.into(),
        msg: msg.into(),
    }
}

impl Params {
    /// Sets value `name` (a builder for code and tests).
    pub fn with(mut self, name: &str, v: impl Into<Value>) -> Self {
        self.set(name, v);
        self
    }

    /// Sets tensor `name`.
    pub fn with_tensor(mut self, name: &str, t: Tensor) -> Self {
        self.set_tensor(name, t);
        self
    }

    /// Sets value `name` (replacing a tensor of that name).
    pub fn set(&mut self, name: &str, v: impl Into<Value>) {
        self.tensors.remove(name);
        self.values.insert(name.into(), v.into());
    }

    /// Sets tensor `name` (replacing a value of that name).
    pub fn set_tensor(&mut self, name: &str, t: Tensor) {
        self.values.remove(name);
        self.tensors.insert(name.into(), t);
    }

    /// Whether `name` is given (as a non-null value or a tensor).
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some() || self.tensors.contains_key(name)
    }

    /// Every given name, values then tensors.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values
            .keys()
            .chain(self.tensors.keys())
            .map(String::as_str)
    }

    /// The parameters whose names `keep` accepts.
    pub fn filtered(&self, keep: impl Fn(&str) -> bool) -> Params {
        Params {
            values: self
                .values
                .iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            tensors: self
                .tensors
                .iter()
                .filter(|(k, _)| keep(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }

    /// Value `name`, if given and not null.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|v| !v.is_null())
    }

    /// Tensor `name`, if given.
    pub fn tensor(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    /// A count ≥ 1.
    pub fn count(&self, name: &str, default: usize) -> Result<usize> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.as_i64() {
                Some(c) if c >= 1 => Ok(c as usize),
                _ => Err(bad(name, format!("must be at least 1, got {v}"))),
            },
        }
    }

    /// A finite number ≥ 0.
    pub fn non_negative(&self, name: &str, default: f64) -> Result<f64> {
        let v = self.number(name, default)?;
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(bad(name, format!("must be a finite number ≥ 0, got {v}")))
        }
    }

    /// A number (a string is parsed; NaN where it says so, for the caller's check).
    pub fn number(&self, name: &str, default: f64) -> Result<f64> {
        match self.get(name) {
            None => Ok(default),
            Some(Value::String(s)) => s
                .parse()
                .map_err(|_| bad(name, format!("must be a number, got '{s}'"))),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| bad(name, format!("must be a number, got {v}"))),
        }
    }

    /// A non-negative integer (a seed).
    pub fn unsigned(&self, name: &str, default: u64) -> Result<u64> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| bad(name, format!("must be an integer ≥ 0, got {v}"))),
        }
    }

    /// A switch.
    pub fn flag(&self, name: &str) -> Result<bool> {
        match self.get(name) {
            None => Ok(false),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| bad(name, format!("must be true or false, got {v}"))),
        }
    }

    /// A list of numbers.
    pub fn numbers(&self, name: &str, default: &[f64]) -> Result<Vec<f64>> {
        match self.get(name) {
            None => Ok(default.to_vec()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_f64()
                        .ok_or_else(|| bad(name, format!("must hold numbers, got {v}")))
                })
                .collect(),
            Some(v) => Err(bad(name, format!("must be a list of numbers, got {v}"))),
        }
    }

    /// A baseline: tensor `name`, or a value `zeros`, `constant:V` or `mean`; `zeros` when
    /// absent.
    pub fn baseline(&self, name: &str) -> Result<Baseline> {
        if let Some(t) = self.tensor(name) {
            return Ok(Baseline::Tensor(t.clone()));
        }
        match self.get(name) {
            None => Ok(Baseline::Zeros),
            Some(Value::String(s)) => s.parse().map_err(|e: String| bad(name, e)),
            Some(v) => Err(bad(name, format!("must be a string, got {v}"))),
        }
    }
}

/// The parameters of configuration `C` with their defaults, as a JSON object.
pub fn defaults<C: MethodConfig>() -> Value {
    serde_json::to_value(C::default()).expect("a configuration serializes")
}

/// The names configuration `C` takes.
pub fn names<C: MethodConfig>() -> Vec<String> {
    match defaults::<C>() {
        Value::Object(m) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Configuration `C` of method `method` from `params`, the defaults where a name is not
/// given, validated.
///
/// **Errors**: [`PassiveError::UnknownParameter`] for a name `C` does not take,
/// [`PassiveError::BadParameter`] naming the first parameter of the wrong type or out of
/// range.
pub fn from_params<C: MethodConfig>(method: &str, params: &Params) -> Result<C> {
    let Value::Object(mut fields) = defaults::<C>() else {
        return Ok(C::default());
    };
    let known: Vec<String> = fields.keys().cloned().collect();
    if let Some(unknown) = params.names().find(|n| !fields.contains_key(*n)) {
        return Err(PassiveError::UnknownParameter {
            name: unknown.into(),
            method: method.into(),
            known,
        });
    }
    let defaults = fields.clone();
    for (name, v) in &params.values {
        fields.insert(name.clone(), v.clone());
    }
    for name in params.tensors.keys() {
        fields.insert(name.clone(), serde_json::json!({ TENSOR_KEY: name }));
    }
    let config = deserialize::<C>(fields, &params.tensors).map_err(|e| {
        // Only on failure: one value at a time over the defaults, so the bad one is named.
        for (name, v) in &params.values {
            let mut one = defaults.clone();
            one.insert(name.clone(), v.clone());
            if let Err(e) = deserialize::<C>(one, &params.tensors) {
                return bad(name, wrong_value(v, &e));
            }
        }
        PassiveError::BadArgument(format!("{method}'s parameters do not fit together: {e}"))
    })?;
    config.validate()?;
    Ok(config)
}

/// What is wrong with value `v`, from serde's error `e`: the expected kind in words for a
/// value of the wrong type, else serde's own message.
fn wrong_value(v: &Value, e: &serde_json::Error) -> String {
    let e = e.to_string();
    let kind = if ["expected usize", "expected u64", "expected u32"]
        .iter()
        .any(|k| e.contains(k))
    {
        "a whole number ≥ 0"
    } else if e.contains("expected f64") {
        "a number"
    } else if e.contains("expected a boolean") {
        "true or false"
    } else {
        return format!("has a bad value {v}: {e}");
    };
    format!("must be {kind}, got {v}")
}

/// `fields` as `C`, tensor placeholders looked up in `tensors`.
fn deserialize<C: DeserializeOwned>(
    fields: Map<String, Value>,
    tensors: &BTreeMap<String, Tensor>,
) -> std::result::Result<C, serde_json::Error> {
    TENSORS.with(|t| *t.borrow_mut() = tensors.clone());
    let r = C::deserialize(Value::Object(fields));
    TENSORS.with(|t| t.borrow_mut().clear());
    r
}

/// The key of a placeholder `{"$tensor": NAME}` that stands for tensor NAME of the
/// [`Params`] being read.
const TENSOR_KEY: &str = "$tensor";

thread_local! {
    /// The tensors of the [`from_params`] call running on this thread (deserialization is
    /// synchronous, so the placeholders it meets are looked up here).
    static TENSORS: RefCell<BTreeMap<String, Tensor>> = const { RefCell::new(BTreeMap::new()) };
}

/// How a tensor parameter is written and read: written as `{"shape": [...]}` (a report
/// records the shape, not the values); read from a placeholder for a tensor of the
/// [`Params`], or inline as `{"shape": [...], "values": [...]}`.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum TensorSpec {
    Given {
        #[serde(rename = "$tensor")]
        name: String,
    },
    Inline {
        shape: Vec<usize>,
        values: Vec<f64>,
    },
    Recorded {
        shape: Vec<usize>,
    },
}

impl TensorSpec {
    fn of(t: &Tensor) -> Self {
        TensorSpec::Recorded {
            shape: t.shape().to_vec(),
        }
    }

    fn resolve<E: serde::de::Error>(self) -> std::result::Result<Tensor, E> {
        match self {
            TensorSpec::Given { name } => TENSORS
                .with(|t| t.borrow().get(&name).cloned())
                .ok_or_else(|| E::custom(format!("no tensor named '{name}' was given"))),
            TensorSpec::Inline { shape, values } => {
                Tensor::from_vec(values, &shape).map_err(|e| E::custom(e.to_string()))
            }
            TensorSpec::Recorded { shape } => Err(E::custom(format!(
                "a tensor of shape {shape:?} recorded by its shape only: give its values"
            ))),
        }
    }
}

/// Serde of `Option<Tensor>` parameters (`#[serde(with = "crate::config::tensor")]`).
pub mod tensor {
    use super::*;

    /// `null` or `{"shape": [...]}`.
    pub fn serialize<S: serde::Serializer>(
        t: &Option<Tensor>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        t.as_ref().map(TensorSpec::of).serialize(s)
    }

    /// `null`, a placeholder of a given tensor, or inline values.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<Tensor>, D::Error> {
        Option::<TensorSpec>::deserialize(d)?
            .map(TensorSpec::resolve)
            .transpose()
    }
}

impl Serialize for Baseline {
    /// `"zeros"`, `"mean"`, `"constant:V"` (as its parser reads them), or a tensor's
    /// `{"shape": [...]}`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Baseline::Zeros => s.serialize_str("zeros"),
            Baseline::Mean => s.serialize_str("mean"),
            Baseline::Constant(v) => s.serialize_str(&format!("constant:{v}")),
            Baseline::Tensor(t) => TensorSpec::of(t).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Baseline {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Spec {
            Name(String),
            Tensor(TensorSpec),
        }
        match Spec::deserialize(d)? {
            Spec::Name(s) => s.parse().map_err(serde::de::Error::custom),
            Spec::Tensor(t) => t.resolve().map(Baseline::Tensor),
        }
    }
}

/// Serde for a type spelled as text: written by `Display`, read by `FromStr` (an error of
/// either kind becomes the message).
macro_rules! serde_as_text {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_as_text;

/// The most sampled evaluations a count parameter may ask for per example (`samples` of the
/// sampling methods, perturbations): a million model evaluations per example is past any
/// published setting, and a larger count would run for days or exhaust memory in its
/// per-sample buffers.
pub const MAX_SAMPLES: usize = 1_000_000;

/// The most points of a path integral (`steps` of integrated gradients, conductance and their
/// layer and neuron variants): published settings use 20–300; Gauss–Legendre nodes cost
/// O(steps²) to compute.
pub const MAX_STEPS: usize = 10_000;

/// The most optimisation steps of a perturbation mask (`iterations`).
pub const MAX_ITERATIONS: usize = 100_000;

/// A count parameter in `1..=max` (with [`MAX_SAMPLES`], [`MAX_STEPS`], [`MAX_ITERATIONS`]).
///
/// **Errors** naming the parameter and the range.
pub fn count_in(name: &str, v: usize, max: usize) -> Result<()> {
    if v == 0 || v > max {
        return Err(bad(name, format!("must be in 1..={max}, got {v}")));
    }
    Ok(())
}

/// A count parameter ≥ 1.
pub(crate) fn at_least_one(name: &str, v: usize) -> Result<()> {
    if v == 0 {
        return Err(bad(name, "must be at least 1, got 0"));
    }
    Ok(())
}

/// A finite number parameter ≥ 0.
pub(crate) fn finite_non_negative(name: &str, v: f64) -> Result<()> {
    if !(v.is_finite() && v >= 0.0) {
        return Err(bad(name, format!("must be a finite number ≥ 0, got {v}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Serialize, Deserialize)]
    #[serde(default)]
    struct Demo {
        steps: usize,
        noise_std: f64,
        baseline: Baseline,
        #[serde(with = "tensor")]
        mask: Option<Tensor>,
    }

    impl Default for Demo {
        fn default() -> Self {
            Self {
                steps: 50,
                noise_std: 0.1,
                baseline: Baseline::Zeros,
                mask: None,
            }
        }
    }

    impl MethodConfig for Demo {
        fn validate(&self) -> Result<()> {
            at_least_one("steps", self.steps)?;
            finite_non_negative("noise_std", self.noise_std)
        }
    }

    #[test]
    fn params_become_a_validated_config_and_errors_name_the_parameter() {
        let d: Demo = from_params("demo", &Params::default()).unwrap();
        assert_eq!(d.steps, 50);
        let mask = Tensor::from_vec(vec![0.0f32, 1.0], &[2]).unwrap();
        let p = Params::default()
            .with("steps", 7)
            .with("baseline", "constant:0.5")
            .with_tensor("mask", mask);
        let d: Demo = from_params("demo", &p).unwrap();
        assert_eq!(d.steps, 7);
        assert_eq!(d.mask.as_ref().unwrap().to_vec_f32().unwrap(), [0.0, 1.0]);
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["baseline"], "constant:0.5");
        assert_eq!(v["mask"]["shape"], serde_json::json!([2]));
        // A tensor baseline.
        let b = Tensor::zeros(&[3], xai_tensor::DType::F32);
        let d: Demo = from_params("demo", &Params::default().with_tensor("baseline", b)).unwrap();
        assert!(matches!(d.baseline, Baseline::Tensor(ref t) if t.shape() == [3]));
        let err = |p: Params| from_params::<Demo>("demo", &p).unwrap_err().to_string();
        assert_eq!(
            err(Params::default().with("window", 3)),
            "window is not a parameter of demo (its parameters: baseline, mask, noise_std, steps)"
        );
        assert_eq!(
            err(Params::default().with("steps", "many")),
            "steps must be a whole number ≥ 0, got \"many\""
        );
        assert_eq!(
            err(Params::default().with("steps", -1)),
            "steps must be a whole number ≥ 0, got -1"
        );
        assert_eq!(
            err(Params::default().with("noise_std", "NaN")),
            "noise_std must be a number, got \"NaN\""
        );
        assert_eq!(
            err(Params::default().with("steps", 0)),
            "steps must be at least 1, got 0"
        );
        assert!(err(Params::default().with("baseline", "median")).starts_with("baseline"));
        // Inline values are read; a recorded shape alone is refused.
        let inline = serde_json::json!({"shape": [2], "values": [1.0, 2.0]});
        let d: Demo = from_params("demo", &Params::default().with("mask", inline)).unwrap();
        assert_eq!(d.mask.unwrap().shape(), [2]);
        let shape_only = serde_json::json!({"shape": [2]});
        assert!(err(Params::default().with("mask", shape_only)).contains("recorded by its shape"));
    }
}
