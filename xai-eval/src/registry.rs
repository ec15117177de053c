//! The one list of metrics, like `xai_passive::registry` for methods: name, kind, what it
//! needs, how it reads its parameters, and a report that serializes. A front end (the CLI,
//! a pipeline) gathers the inputs a metric [`needs`](MetricInfo::needs), passes its
//! parameters by name ([`Params`]), and prints the [`MetricReport`]; it holds no metric
//! arithmetic, defaults or tables. Adding a metric adds one entry here.
//!
//! Parameters are named in snake case (`noise_std`); a bad value is
//! [`PassiveError::BadParameter`] naming it, so a CLI can say which flag was wrong.

use crate::faithfulness::{
    completeness_gap, infidelity, infidelity_scaled, perturbation_curves, Curve, DEFAULT_STEPS,
};
use crate::{complexity, localisation, mean_std, roar, robustness, sanity};
use serde::ser::SerializeMap;
use serde_json::Value;
use std::path::Path;
use xai_nn::train::TrainConfig;
use xai_nn::{Dataset, Forward, Graph, Layered};
use xai_passive::config::bad;
use xai_passive::{resolve_targets, Attribution, PassiveError, Result, Target};
use xai_tensor::Tensor;

/// The family of a metric (survey §V).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetricKind {
    /// Of the model itself (accuracy).
    Model,
    /// Does the explanation reflect what the model computes?
    Faithfulness,
    /// Does it stay put under small input changes?
    Robustness,
    /// How concentrated is it?
    Complexity,
    /// Does it point at the ground truth?
    Localisation,
    /// Does it depend on the model's weights and data at all?
    Sanity,
}

/// An input a metric needs besides the model and its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Examples to explain ([`MetricInputs::x`]).
    Input,
    /// Attributions of the examples, or a method to compute them.
    Attributions,
    /// A method, re-run on perturbed inputs or models.
    Method,
    /// A ground-truth mask of the input's shape.
    Mask,
    /// A labelled dataset (accuracy, retraining).
    Data,
    /// A folder for the metric's files (tables, plots).
    OutputDir,
}

/// Which direction is better, for tables and league ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Better {
    /// Lower values are better explanations.
    Lower,
    /// Higher values are better.
    Higher,
    /// Not a score to rank by.
    Neither,
}

/// What a metric is run on. Fields a metric does not [`need`](MetricInfo::needs) may be
/// `None`.
pub struct MetricInputs<'a> {
    /// The model (mutable: model randomization re-initialises it layer by layer and gives
    /// it back unchanged).
    pub model: &'a mut Graph,
    /// Which class each example's explanation and score are for.
    pub target: Target,
    /// Examples `[N, ...input_shape]`.
    pub x: Option<&'a Tensor>,
    /// Attributions of `x` (the input's shape); computed with `method` when absent.
    pub attributions: Option<&'a Tensor>,
    /// The explanation method.
    pub method: Option<&'a dyn Attribution<dyn Layered>>,
    /// Ground-truth mask of the input's shape (0/1).
    pub mask: Option<&'a Tensor>,
    /// Labelled data.
    pub data: Option<&'a Dataset>,
    /// Where metrics with files write them.
    pub output_dir: Option<&'a Path>,
}

impl<'a> MetricInputs<'a> {
    /// `model` and examples `x`, explained for their predicted classes; set the other fields
    /// with struct update syntax (`MetricInputs { method: Some(m), ..MetricInputs::new(..) }`).
    pub fn new(model: &'a mut Graph, x: &'a Tensor) -> Self {
        Self {
            model,
            target: Target::Argmax,
            x: Some(x),
            attributions: None,
            method: None,
            mask: None,
            data: None,
            output_dir: None,
        }
    }
}

pub use xai_passive::Params;

/// The trainer's settings of the retraining metrics from `p`: `epochs` (10), `lr` (1e-3,
/// Adam), `train_batch_size` (32), `seed`.
pub fn train_config(p: &Params) -> Result<TrainConfig> {
    let cfg = TrainConfig {
        epochs: p.count("epochs", 10)?,
        batch_size: p.count("train_batch_size", 32)?,
        lr: p.number("lr", 1e-3)?,
        seed: p.unsigned("seed", 0)?,
        ..TrainConfig::default()
    };
    cfg.validate()?;
    Ok(cfg)
}

/// A metric's result: one value per example with their mean and (population) standard
/// deviation, and details of the metric's own, in order. Serializes as one JSON object,
/// non-finite numbers as `null`.
#[derive(Clone, Debug)]
pub struct MetricReport {
    /// The metric's name.
    pub metric: String,
    /// One value per example (`None` for metrics of a whole set, as ROAR).
    pub per_example: Option<Vec<f64>>,
    /// More fields (`"method"`, `"fractions"`…), printed after the per-example values.
    pub details: Vec<(String, Value)>,
}

impl MetricReport {
    /// A report of per-example values.
    pub fn per_example(metric: &str, values: Vec<f64>) -> Self {
        Self {
            metric: metric.into(),
            per_example: Some(values),
            details: Vec::new(),
        }
    }

    /// Adds a detail field.
    pub fn with(mut self, name: &str, v: impl serde::Serialize) -> Self {
        let v = serde_json::to_value(v).unwrap_or(Value::Null);
        self.details.push((name.into(), v));
        self
    }

    /// The report as one line of JSON, `{"metric": "deletion", "per_example": [..], …}`.
    pub fn to_json_line(&self) -> String {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Spaced);
        serde::Serialize::serialize(self, &mut ser).expect("writing JSON to memory");
        String::from_utf8(out).expect("JSON is UTF-8")
    }
}

impl serde::Serialize for MetricReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("metric", &self.metric)?;
        if let Some(v) = &self.per_example {
            let (mean, std) = mean_std(v);
            m.serialize_entry("per_example", v)?;
            m.serialize_entry("mean", &mean)?;
            m.serialize_entry("std", &std)?;
        }
        for (k, v) in &self.details {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// JSON with `", "` and `": "` between items, on one line.
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.begin_array_value(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
}

/// One registered metric.
pub struct MetricInfo {
    /// Its name (`deletion`).
    pub name: &'static str,
    /// Its family.
    pub kind: MetricKind,
    /// One line with its paper and which direction is better.
    pub description: &'static str,
    /// Which direction is better.
    pub better: Better,
    /// The inputs it needs besides the model.
    pub needs: &'static [Need],
    /// Runs it (through [`MetricInfo::evaluate`]), given its own name.
    pub run: fn(MetricInputs, &Params, &'static str) -> Result<MetricReport>,
}

/// Every metric, in the order `xai evaluate --help` names them.
pub const METRICS: &[MetricInfo] = &[
    MetricInfo { name: "accuracy", kind: MetricKind::Model, better: Better::Higher, needs: &[Need::Data], description: "share of correctly classified rows of the data", run: accuracy },
    MetricInfo { name: "deletion", kind: MetricKind::Faithfulness, better: Better::Lower, needs: &[Need::Input, Need::Attributions], description: "AUC of the target probability as top features go to the baseline (Petsiuk et al. 2018); lower is better", run: curves },
    MetricInfo { name: "insertion", kind: MetricKind::Faithfulness, better: Better::Higher, needs: &[Need::Input, Need::Attributions], description: "AUC of the target probability as top features are revealed over the baseline (Petsiuk et al. 2018); higher is better", run: curves },
    MetricInfo { name: "aopc", kind: MetricKind::Faithfulness, better: Better::Higher, needs: &[Need::Input, Need::Attributions], description: "pixel flipping, area over the MoRF deletion curve (Samek et al. 2017); higher is better", run: curves },
    MetricInfo { name: "pixel-flipping", kind: MetricKind::Faithfulness, better: Better::Higher, needs: &[Need::Input, Need::Attributions], description: "same as aopc", run: curves },
    MetricInfo { name: "infidelity", kind: MetricKind::Faithfulness, better: Better::Lower, needs: &[Need::Input, Need::Attributions], description: "E[(Iᵀa − (f(x) − f(x − I)))²], I ~ N(0, σ²), target logit (Yeh et al. 2019); lower is better", run: infidelities },
    MetricInfo { name: "infidelity-scaled", kind: MetricKind::Faithfulness, better: Better::Lower, needs: &[Need::Input, Need::Attributions], description: "infidelity of the optimally scaled map βa (Yeh et al. 2019; Captum normalize=True); scale-invariant; lower is better", run: infidelities },
    MetricInfo { name: "completeness", kind: MetricKind::Faithfulness, better: Better::Lower, needs: &[Need::Input, Need::Attributions], description: "|Σa − (f(x) − f(baseline))| on the target logit (completeness axiom of IG, DeepLIFT, LRP); lower is better", run: completeness },
    MetricInfo { name: "max-sensitivity", kind: MetricKind::Robustness, better: Better::Lower, needs: &[Need::Input, Need::Method], description: "max ‖a(x + δ) − a(x)‖/‖a(x)‖, δ ~ U(−r, r) (Yeh et al. 2019); lower is better", run: sensitivities },
    MetricInfo { name: "local-lipschitz", kind: MetricKind::Robustness, better: Better::Lower, needs: &[Need::Input, Need::Method], description: "max ‖a(x) − a(x + δ)‖/‖δ‖, δ ~ U(−r, r) (Alvarez-Melis & Jaakkola 2018); lower is better", run: sensitivities },
    MetricInfo { name: "entropy", kind: MetricKind::Complexity, better: Better::Lower, needs: &[Need::Input, Need::Attributions], description: "entropy of |a|/Σ|a| (Samek et al. 2017); lower is less complex", run: |i, _, _| attribution_only(i, "entropy", complexity::entropy) },
    MetricInfo { name: "sparseness", kind: MetricKind::Complexity, better: Better::Higher, needs: &[Need::Input, Need::Attributions], description: "Gini index of |a| (Chalasani et al. 2020); higher is sparser", run: |i, _, _| attribution_only(i, "sparseness", complexity::sparseness) },
    MetricInfo { name: "relevance-mass", kind: MetricKind::Localisation, better: Better::Higher, needs: &[Need::Input, Need::Mask, Need::Attributions], description: "share of positive relevance inside the mask (Arras et al. 2022)", run: |i, _, n| masked(i, n, localisation::relevance_mass_accuracy) },
    MetricInfo { name: "relevance-rank", kind: MetricKind::Localisation, better: Better::Higher, needs: &[Need::Input, Need::Mask, Need::Attributions], description: "share of the |mask| top features inside the mask (Arras et al. 2022)", run: |i, _, n| masked(i, n, localisation::relevance_rank_accuracy) },
    MetricInfo { name: "pointing-game", kind: MetricKind::Localisation, better: Better::Higher, needs: &[Need::Input, Need::Mask, Need::Attributions], description: "whether the top feature lies in the mask (Zhang et al. 2018)", run: |i, _, n| masked(i, n, localisation::pointing_game) },
    MetricInfo { name: "data-randomization", kind: MetricKind::Sanity, better: Better::Lower, needs: &[Need::Data, Need::Method], description: "retrain on permuted labels and compare explanations (Adebayo et al. 2018); per example: Spearman; lower is better", run: data_randomization },
    MetricInfo { name: "roar", kind: MetricKind::Faithfulness, better: Better::Lower, needs: &[Need::Data, Need::Method], description: "remove and retrain (Hooker et al. 2019): test accuracy after replacing the top-t features by the training mean and retraining; lower is better", run: remove_and_retrain },
    MetricInfo { name: "kar", kind: MetricKind::Faithfulness, better: Better::Higher, needs: &[Need::Data, Need::Method], description: "keep and retrain (Hooker et al. 2019): test accuracy after replacing the t least important features and retraining; higher is better", run: remove_and_retrain },
    MetricInfo { name: "model-randomization", kind: MetricKind::Sanity, better: Better::Lower, needs: &[Need::Input, Need::Method, Need::OutputDir], description: "cascading (or independent) parameter randomization (Adebayo et al. 2018); per example: Spearman after randomizing every layer (independent: mean over the layers)", run: model_randomization },
];

/// The metric called `name`.
///
/// **Errors** naming the known metrics if there is none.
pub fn find(name: &str) -> Result<&'static MetricInfo> {
    METRICS.iter().find(|m| m.name == name).ok_or_else(|| {
        let known: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        PassiveError::BadArgument(format!(
            "unknown metric '{name}' (known: {})",
            known.join(", ")
        ))
    })
}

impl MetricInfo {
    /// Runs this metric on `inputs` with `params`.
    ///
    /// **Errors** on a missing input it needs, a bad parameter
    /// ([`PassiveError::BadParameter`]) or a failing model or method.
    pub fn evaluate(&self, inputs: MetricInputs, params: &Params) -> Result<MetricReport> {
        (self.run)(inputs, params, self.name)
    }
}

/// Runs the metric called `name` on `inputs` with `params` ([`MetricInfo::evaluate`]).
///
/// **Errors** on an unknown metric, and as [`MetricInfo::evaluate`].
pub fn evaluate(name: &str, inputs: MetricInputs, params: &Params) -> Result<MetricReport> {
    find(name)?.evaluate(inputs, params)
}

fn missing(what: &str) -> PassiveError {
    PassiveError::BadArgument(format!("needs {what}"))
}

fn input<'a>(i: &MetricInputs<'a>) -> Result<&'a Tensor> {
    i.x.ok_or_else(|| missing("an input"))
}

fn method<'a>(i: &MetricInputs<'a>) -> Result<&'a dyn Attribution<dyn Layered>> {
    i.method.ok_or_else(|| missing("a method"))
}

fn data<'a>(i: &MetricInputs<'a>) -> Result<&'a Dataset> {
    i.data.ok_or_else(|| missing("data"))
}

/// The examples, their targets and attributions (given, or computed with the method).
fn explained(i: &MetricInputs) -> Result<(Tensor, Vec<usize>, Tensor)> {
    let x = input(i)?;
    let m: &dyn Layered = &*i.model;
    let targets = resolve_targets(m, x, &i.target)?;
    let a = match (i.attributions, i.method) {
        (Some(a), _) => a.clone(),
        (None, Some(method)) => method.attribute(m, x, &targets)?.attributions,
        (None, None) => return Err(missing("attributions or a method")),
    };
    if a.shape() != x.shape() {
        return Err(PassiveError::BadArgument(format!(
            "attributions have shape {:?} but the input has {:?}",
            a.shape(),
            x.shape()
        )));
    }
    Ok((x.clone(), targets, a))
}

fn accuracy(i: MetricInputs, _: &Params, name: &'static str) -> Result<MetricReport> {
    let data = data(&i)?;
    let pred = i.model.predict(&data.x)?.argmax(1)?;
    let hits = pred
        .iter()
        .zip(&data.y)
        .map(|(p, y)| (p == y) as u8 as f64)
        .collect();
    Ok(MetricReport::per_example(name, hits))
}

fn curves(i: MetricInputs, p: &Params, name: &'static str) -> Result<MetricReport> {
    let steps = p.count("steps", DEFAULT_STEPS)?;
    let baseline = p.baseline("baseline")?;
    let bs = p.count("batch_size", 256)?;
    let (x, targets, a) = explained(&i)?;
    let curve = if name == "insertion" {
        Curve::Insertion
    } else {
        Curve::Deletion
    };
    let m: &dyn Layered = &*i.model;
    let c = perturbation_curves(m, &x, &a, &targets, curve, steps, &baseline, bs)?;
    let per = match name {
        "deletion" | "insertion" => c.auc(),
        _ => c.aopc(),
    };
    Ok(MetricReport::per_example(name, per))
}

fn infidelities(i: MetricInputs, p: &Params, name: &'static str) -> Result<MetricReport> {
    let samples = p.count("samples", 100)?;
    let noise_std = p.non_negative("noise_std", 0.1)?;
    let seed = p.unsigned("seed", 0)?;
    let bs = p.count("batch_size", 256)?;
    let (x, targets, a) = explained(&i)?;
    let f = if name == "infidelity" {
        infidelity::<dyn Layered>
    } else {
        infidelity_scaled::<dyn Layered>
    };
    let per = f(&*i.model, &x, &a, &targets, samples, noise_std, seed, bs)?;
    Ok(MetricReport::per_example(name, per))
}

fn completeness(i: MetricInputs, p: &Params, name: &'static str) -> Result<MetricReport> {
    let baseline = p.baseline("baseline")?;
    let bs = p.count("batch_size", 256)?;
    let (x, targets, a) = explained(&i)?;
    let m: &dyn Layered = &*i.model;
    let per = completeness_gap(m, &x, &a, &targets, &baseline, bs)?;
    Ok(MetricReport::per_example(name, per))
}

fn sensitivities(i: MetricInputs, p: &Params, name: &'static str) -> Result<MetricReport> {
    let samples = p.count("samples", 10)?;
    let radius = p.non_negative("radius", 0.2)?;
    let seed = p.unsigned("seed", 0)?;
    let method = method(&i)?;
    let (x, targets, a) = explained(&i)?;
    let f = if name == "max-sensitivity" {
        robustness::max_sensitivity::<dyn Layered>
    } else {
        robustness::local_lipschitz::<dyn Layered>
    };
    let per = f(
        &*i.model,
        method,
        &x,
        Some(&a),
        &targets,
        samples,
        radius,
        seed,
    )?;
    Ok(MetricReport::per_example(name, per))
}

fn attribution_only(
    i: MetricInputs,
    name: &'static str,
    f: fn(&Tensor) -> Result<Vec<f64>>,
) -> Result<MetricReport> {
    let (_, _, a) = explained(&i)?;
    Ok(MetricReport::per_example(name, f(&a)?))
}

fn masked(
    i: MetricInputs,
    name: &'static str,
    f: fn(&Tensor, &Tensor) -> Result<Vec<f64>>,
) -> Result<MetricReport> {
    let mask = i.mask.ok_or_else(|| missing("a mask"))?;
    let (_, _, a) = explained(&i)?;
    Ok(MetricReport::per_example(name, f(&a, mask)?))
}

fn model_randomization(i: MetricInputs, p: &Params, name: &'static str) -> Result<MetricReport> {
    let independent = p.flag("independent")?;
    let seed = p.unsigned("seed", 0)?;
    let method = method(&i)?;
    let dir = i.output_dir.ok_or_else(|| missing("an output folder"))?;
    let x = input(&i)?;
    let targets = resolve_targets(&*i.model as &dyn Layered, x, &i.target)?;
    let r = if independent {
        sanity::independent_randomization(i.model, method, x, &targets, seed)?
    } else {
        sanity::cascading_randomization(i.model, method, x, &targets, seed)?
    };
    r.write(dir)
        .map_err(|e| PassiveError::BadArgument(format!("output folder {}: {e}", dir.display())))?;
    // Cascading: after the last layer is randomized; independent: mean over the layers.
    let per = if independent {
        let steps = &r.rows[1..];
        (0..x.shape()[0])
            .map(|e| steps.iter().map(|s| s.spearman[e]).sum::<f64>() / steps.len() as f64)
            .collect()
    } else {
        r.rows.last().expect("at least one row").spearman.clone()
    };
    Ok(MetricReport::per_example(name, per))
}

/// The data of a retraining metric split as `xai train` splits it (`test_fraction`, `seed`).
fn split(i: &MetricInputs, p: &Params) -> Result<(Dataset, Dataset)> {
    let f = p.number("test_fraction", 0.2)?;
    if !(0.0..1.0).contains(&f) {
        return Err(bad("test_fraction", format!("must be in [0, 1), got {f}")));
    }
    Ok(data(i)?.stratified_split(f, p.unsigned("seed", 0)?)?)
}

fn data_randomization(i: MetricInputs, p: &Params, name: &'static str) -> Result<MetricReport> {
    let method = method(&i)?;
    let cfg = train_config(p)?;
    let (train_set, test_set) = split(&i, p)?;
    // The examples: as given, else the first 8 held-out rows.
    let x = match i.x {
        Some(x) => x.clone(),
        None => {
            let src = if test_set.is_empty() {
                &train_set
            } else {
                &test_set
            };
            src.x.narrow(0, 0, src.len().min(8))?
        }
    };
    let m: &dyn Layered = &*i.model;
    let targets = resolve_targets(m, &x, &i.target)?;
    let seed = p.unsigned("seed", 0)?;
    let r = sanity::data_randomization(i.model, &train_set, &cfg, method, &x, &targets, seed)?;
    let s = &r.similarity;
    Ok(MetricReport::per_example(name, s.spearman.clone())
        .with("method", &r.method)
        .with("spearman_abs", &s.spearman_abs)
        .with("ssim", &s.ssim)
        .with("mean_spearman_abs", mean_std(&s.spearman_abs).0)
        .with("mean_ssim", mean_std(&s.ssim).0)
        .with("random_label_train_accuracy", r.random_label_train_accuracy))
}

fn remove_and_retrain(i: MetricInputs, p: &Params, name: &'static str) -> Result<MetricReport> {
    let method = method(&i)?;
    let fractions = p.numbers("fractions", &roar::DEFAULT_FRACTIONS)?;
    if let Some(t) = fractions.iter().find(|t| !(0.0..=1.0).contains(*t)) {
        return Err(bad("fractions", format!("must be in [0, 1], got {t}")));
    }
    let cfg = train_config(p)?;
    let (train_set, test_set) = split(&i, p)?;
    if test_set.is_empty() {
        return Err(bad("test_fraction", "must be above 0 for retraining"));
    }
    let m: &dyn Layered = &*i.model;
    let explain = |x: &Tensor| -> Result<Tensor> {
        let targets = resolve_targets(m, x, &i.target)?;
        Ok(method.attribute(m, x, &targets)?.attributions)
    };
    let (a_train, a_test) = (explain(&train_set.x)?, explain(&test_set.x)?);
    let removal = if name == "roar" {
        roar::Removal::Roar
    } else {
        roar::Removal::Kar
    };
    let r = roar::remove_and_retrain(
        i.model, &train_set, &test_set, &a_train, &a_test, &fractions, removal, &cfg,
    )?;
    Ok(MetricReport {
        metric: name.into(),
        per_example: None,
        details: Vec::new(),
    }
    .with("method", method.name())
    .with("fractions", &r.fractions)
    .with("accuracy", &r.accuracy)
    .with("reference_accuracy", r.reference_accuracy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_print_as_one_spaced_json_line_with_null_for_non_finite() {
        let r = MetricReport::per_example("entropy", vec![0.5, 1.5]).with("method", "saliency");
        assert_eq!(
            r.to_json_line(),
            "{\"metric\": \"entropy\", \"per_example\": [0.5, 1.5], \"mean\": 1.0, \"std\": 0.5, \
             \"method\": \"saliency\"}"
        );
        let r = MetricReport::per_example("x", vec![f64::NAN]);
        assert!(r.to_json_line().contains("\"per_example\": [null]"));
    }

    #[test]
    fn parameters_are_checked_by_name() {
        let p = Params::default()
            .with("steps", 0)
            .with("noise_std", -1.0)
            .with("radius", "NaN")
            .with("seed", 3);
        let e = p.count("steps", 20).unwrap_err();
        assert!(
            matches!(&e, PassiveError::BadParameter { name, .. } if name == "steps"),
            "{e}"
        );
        assert_eq!(e.to_string(), "steps must be at least 1, got 0");
        assert!(p.non_negative("noise_std", 0.1).is_err());
        assert!(p.non_negative("radius", 0.2).is_err());
        assert_eq!(p.unsigned("seed", 0).unwrap(), 3);
        assert_eq!(p.count("samples", 100).unwrap(), 100);
        assert!(find("bogus").is_err_and(|e| e.to_string().contains("unknown metric 'bogus'")));
    }

    fn linear_model() -> Graph {
        let w = Tensor::from_slice(&[1.0f32, -2.0, 0.5, 3.0, 0.25, -1.0], &[2, 3]).unwrap();
        let fc = xai_nn::layers::Linear {
            weight: xai_autodiff::Var::leaf(w),
            bias: None,
        };
        let layers = vec![xai_nn::Node::new("fc", Box::new(fc))];
        Graph::sequential(vec![3], layers, None).unwrap()
    }

    fn inputs<'a>(
        model: &'a mut Graph,
        x: &'a Tensor,
        method: Option<&'a dyn Attribution<dyn Layered>>,
    ) -> MetricInputs<'a> {
        MetricInputs {
            method,
            ..MetricInputs::new(model, x)
        }
    }

    #[test]
    fn a_metric_run_through_the_registry_equals_the_function_it_names() {
        let x = xai_tensor::Rng::new(1)
            .normal(&[5, 3], 0.0, 1.0, xai_tensor::DType::F32)
            .unwrap();
        let saliency = xai_passive::registry::build("saliency", &Params::default()).unwrap();
        let mut m = linear_model();
        let t = resolve_targets(&m as &dyn Layered, &x, &Target::Argmax).unwrap();
        let a = saliency
            .attribute(&m as &dyn Layered, &x, &t)
            .unwrap()
            .attributions;
        let p = Params::default().with("steps", 3);
        let r = evaluate("deletion", inputs(&mut m, &x, Some(saliency.as_ref())), &p).unwrap();
        let want = perturbation_curves(
            &m,
            &x,
            &a,
            &t,
            Curve::Deletion,
            3,
            &xai_passive::methods::Baseline::Zeros,
            256,
        )
        .unwrap()
        .auc();
        assert_eq!(r.per_example.as_deref(), Some(&want[..]));
        let mut m2 = linear_model();
        let mut given = inputs(&mut m2, &x, None);
        given.attributions = Some(&a);
        let r = evaluate("sparseness", given, &Params::default()).unwrap();
        assert_eq!(r.per_example.unwrap(), complexity::sparseness(&a).unwrap());
        let e = evaluate("entropy", inputs(&mut m, &x, None), &Params::default()).unwrap_err();
        assert!(
            e.to_string().contains("needs attributions or a method"),
            "{e}"
        );
        let bad = Params::default().with("samples", 0);
        let e = evaluate(
            "infidelity",
            inputs(&mut m, &x, Some(saliency.as_ref())),
            &bad,
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "samples must be at least 1, got 0");
    }

    #[test]
    fn every_metric_is_listed_once_with_its_needs() {
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
        for m in METRICS {
            assert!(
                !m.description.is_empty() && !m.needs.is_empty(),
                "{}",
                m.name
            );
        }
    }
}
