//! `xai evaluate`: metrics of a model on a dataset (accuracy) and of explanations
//! (faithfulness, robustness, complexity, localisation, sanity checks, remove-and-retrain).
//! The metrics, their defaults and reports are `xai_eval::registry`'s; this file gathers what
//! a metric needs from the flags and prints its report.

use super::{load_model, read_input, with_flag_names, CliResult};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use xai_eval::registry::{self, MetricInputs, Need, Params};
use xai_passive::registry::{self as methods, BoxedMethod};
use xai_passive::Target;
use xai_tensor::Tensor;

/// Arguments of `xai evaluate`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub device: super::DeviceArgs,
    /// Model JSON with weights.
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset of `--metric accuracy` and of the retraining metrics (data-randomization, roar,
    /// kar): a bundled name or a CSV file (class in the last column).
    #[arg(long)]
    pub data: Option<String>,
    /// Metric: accuracy, deletion, insertion, aopc (= pixel-flipping), infidelity,
    /// infidelity-scaled, completeness, max-sensitivity,
    /// local-lipschitz, entropy,
    /// sparseness, relevance-mass, relevance-rank, pointing-game, model-randomization,
    /// data-randomization, roar, kar.
    #[arg(long, default_value = "accuracy")]
    pub metric: String,
    /// Shape of one example of --data (default: the model's input shape).
    #[arg(long, value_delimiter = ',')]
    pub input_shape: Option<Vec<usize>>,
    /// Inputs of explanation metrics: .npy [N, ...input_shape] (or .csv).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Attributions to evaluate, .npy with the input's shape (else computed with --method).
    #[arg(long)]
    pub attributions: Option<PathBuf>,
    /// Explanation method (see `xai methods`): computes the attributions when
    /// --attributions is absent; re-run by max-sensitivity, local-lipschitz and
    /// model-randomization.
    #[arg(long)]
    pub method: Option<String>,
    /// Class explained and scored: `argmax` (the prediction) or a class index.
    #[arg(long, default_value = "argmax")]
    pub target: Target,
    /// Steps K of deletion/insertion/aopc (K + 1 points; default 20).
    #[arg(long, allow_negative_numbers = true)]
    pub steps: Option<i64>,
    /// Baseline of deletion/insertion/aopc (and of the method's path, e.g. integrated
    /// gradients): zeros, constant:V, mean, or a .npy file.
    #[arg(long, default_value = "zeros")]
    pub baseline: String,
    /// Perturbations per example: infidelity and infidelity-scaled (default 100),
    /// max-sensitivity and local-lipschitz (default 10).
    #[arg(long, allow_negative_numbers = true)]
    pub samples: Option<i64>,
    /// Infidelity's noise standard deviation σ, in input units (default 0.1).
    #[arg(long, allow_negative_numbers = true)]
    pub noise_std: Option<f64>,
    /// L∞ radius r of max-sensitivity and local-lipschitz, in input units (default 0.2, Quantus').
    #[arg(long, allow_negative_numbers = true)]
    pub radius: Option<f64>,
    /// Seed of the random perturbations and of the randomized weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Examples per model call.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: u64,
    /// Ground-truth mask of the localisation metrics: .npy of the input's shape, 0/1.
    #[arg(long)]
    pub mask: Option<PathBuf>,
    /// Model-randomization one layer at a time (the others trained) instead of cascading.
    #[arg(long)]
    pub independent: bool,
    /// Where model-randomization writes sanity.md, sanity.json and sanity.png.
    #[arg(long)]
    pub output_dir: Option<PathBuf>,
    /// The method's --abs (|attribution|).
    #[arg(long)]
    pub abs: bool,
    /// The method's --layer (grad-cam, layer methods).
    #[arg(long)]
    pub layer: Option<String>,
    /// The method's integration steps (path methods; default 50).
    #[arg(long, default_value_t = 50, allow_negative_numbers = true)]
    pub method_steps: i64,
    /// Fractions t of the features replaced: the most important (roar) or the least important
    /// (kar), each in [0, 1].
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub fractions: Option<Vec<f64>>,
    /// Training epochs of the retraining metrics (data-randomization, roar, kar).
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Learning rate of the retraining metrics (Adam).
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    pub lr: f64,
    /// Mini-batch size of the retraining metrics.
    #[arg(long, default_value_t = 32)]
    pub train_batch_size: usize,
    /// Held-out fraction of --data for the retraining metrics (the split of `xai train`).
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Accept NaN or infinite inputs (refused by default).
    #[arg(long)]
    pub allow_nan: bool,
}

fn count(flag: &str, v: Option<i64>, default: usize) -> CliResult<usize> {
    match v {
        None => Ok(default),
        Some(v) if v >= 1 => Ok(v as usize),
        Some(v) => Err(format!("{flag} must be at least 1, got {v}").into()),
    }
}

fn read_npy(what: &str, path: &Path) -> CliResult<Tensor> {
    Tensor::read_npy(path).map_err(|e| format!("{what} {}: {e}", path.display()).into())
}

/// A tensor of the batch's shape: as given, or one example gaining a batch axis.
fn like_input(what: &str, path: &Path, x: &Tensor) -> CliResult<Tensor> {
    let t = read_npy(what, path)?;
    if t.shape() == x.shape() || (x.shape()[0] == 1 && t.shape() == &x.shape()[1..]) {
        return Ok(t.reshape(x.shape())?);
    }
    Err(format!(
        "{what} {}: shape {:?} does not match the input's shape {:?}",
        path.display(),
        t.shape(),
        x.shape()
    )
    .into())
}

/// A float flag as a parameter (non-finite values as text, so the metric refuses them).
fn float(v: Option<f64>) -> Value {
    match v {
        Some(v) if !v.is_finite() => Value::String(v.to_string()),
        v => json!(v),
    }
}

/// The metrics' parameters from the flags: each flag is the parameter of the same name.
fn params(a: &Args) -> CliResult<Params> {
    let p = [
        ("steps", json!(a.steps)),
        ("samples", json!(a.samples)),
        ("noise_std", float(a.noise_std)),
        ("radius", float(a.radius)),
        ("seed", json!(a.seed)),
        ("batch_size", json!(a.batch_size)),
        ("independent", json!(a.independent)),
        ("fractions", json!(a.fractions)),
        ("epochs", json!(a.epochs)),
        ("lr", float(Some(a.lr))),
        ("train_batch_size", json!(a.train_batch_size)),
        ("test_fraction", float(Some(a.test_fraction))),
    ];
    let mut params = Params {
        values: p.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        ..Params::default()
    };
    super::explain::baseline_param(&mut params, "baseline", &a.baseline)?;
    Ok(params)
}

/// The flag that gives what a metric needs.
fn flag_of(need: Need) -> &'static str {
    match need {
        Need::Input => "--input",
        Need::Attributions => "--attributions or --method",
        Need::Method => "--method",
        Need::Mask => "--mask",
        Need::Data => "--data",
        Need::OutputDir => "--output-dir",
    }
}

/// Prints the metric's report as the last stdout line (`{"metric": .., "per_example": [..],
/// "mean": .., "std": .., …}`; roar and kar: `{"metric", "method", "fractions", "accuracy",
/// "reference_accuracy"}`).
pub fn run(a: &Args) -> CliResult {
    a.device.resolve()?;
    let info = registry::find(&a.metric)?;
    for &need in info.needs {
        let given = match need {
            Need::Input => a.input.is_some(),
            Need::Attributions => a.attributions.is_some() || a.method.is_some(),
            Need::Method => a.method.is_some(),
            Need::Mask => a.mask.is_some(),
            Need::Data => a.data.is_some(),
            Need::OutputDir => a.output_dir.is_some(),
        };
        if !given {
            return Err(format!("--metric {} needs {}", a.metric, flag_of(need)).into());
        }
    }
    let params = params(a)?;
    let method = match &a.method {
        Some(name) => Some(build_method(a, name, &params)?),
        None => None,
    };
    let spinner = crate::progress::spinner(format!("evaluating {}", a.metric));
    let mut model = load_model(&a.model)?;
    let x = match &a.input {
        Some(p) => Some(read_input(&model, p, a.allow_nan)?.0),
        None => None,
    };
    let given = |what: &str, path: &Option<PathBuf>| -> CliResult<Option<Tensor>> {
        match (path, &x) {
            (Some(p), Some(x)) => Ok(Some(like_input(what, p, x)?)),
            _ => Ok(None),
        }
    };
    let attributions = given("attributions", &a.attributions)?;
    let mask = given("mask", &a.mask)?;
    let data = match (&a.data, info.needs.contains(&Need::Data)) {
        (Some(d), true) => Some(super::train::load_data(
            &model,
            d,
            a.input_shape.as_deref(),
        )?),
        _ => None,
    };
    let inputs = MetricInputs {
        model: &mut model,
        target: a.target.clone(),
        x: x.as_ref(),
        attributions: attributions.as_ref(),
        method: method.as_ref().map(AsRef::as_ref),
        mask: mask.as_ref(),
        data: data.as_ref(),
        output_dir: a.output_dir.as_deref(),
    };
    let report = info.evaluate(inputs, &params).map_err(with_flag_names)?;
    spinner.finish_and_clear();
    println!("{}", report.to_json_line());
    Ok(())
}

/// The --method with the flags it takes (`--method-steps` as its `steps`).
fn build_method(a: &Args, name: &str, metric: &Params) -> CliResult<BoxedMethod> {
    let mut p = metric.filtered(|n| ["baseline", "seed", "batch_size"].contains(&n));
    p.set("steps", count("--method-steps", Some(a.method_steps), 50)?);
    if a.abs {
        p.set("abs", true);
    }
    if let Some(layer) = &a.layer {
        p.set("layer", layer.as_str());
    }
    methods::build_shared(name, &p).map_err(with_flag_names)
}
