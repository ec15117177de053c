//! `xai evaluate`: metrics of a model on a dataset (accuracy) and of explanations
//! (faithfulness, robustness, complexity, localisation, sanity checks; see `xai_eval`).

use super::{load_model, read_input, CliResult};
use std::path::{Path, PathBuf};
use xai_eval::faithfulness::{infidelity, perturbation_curves, Curve, DEFAULT_STEPS};
use xai_eval::{complexity, localisation, mean_std, robustness, sanity};
use xai_nn::{Forward, Layered, Sequential};
use xai_passive::methods::Baseline;
use xai_passive::registry::{self, BoxedMethod};
use xai_passive::{resolve_targets, MethodOptions, Target};
use xai_tensor::Tensor;

/// The metrics, with what each needs.
pub const METRICS: &[(&str, &str)] = &[
    ("accuracy", "--data: share of correctly classified rows"),
    ("deletion", "AUC of the target probability as top features go to the baseline (Petsiuk et al. 2018); lower is better"),
    ("insertion", "AUC of the target probability as top features are revealed over the baseline (Petsiuk et al. 2018); higher is better"),
    ("aopc", "pixel flipping, area over the MoRF deletion curve (Samek et al. 2017); higher is better"),
    ("pixel-flipping", "same as aopc"),
    ("infidelity", "E[(Iᵀa − (f(x) − f(x − I)))²], I ~ N(0, σ²), target logit (Yeh et al. 2019); lower is better"),
    ("max-sensitivity", "max ‖a(x + δ) − a(x)‖/‖a(x)‖, δ ~ U(−r, r) (Yeh et al. 2019); needs --method; lower is better"),
    ("entropy", "entropy of |a|/Σ|a| (Samek et al. 2017); lower is less complex"),
    ("sparseness", "Gini index of |a| (Chalasani et al. 2020); higher is sparser"),
    ("relevance-mass", "share of positive relevance inside --mask (Arras et al. 2022)"),
    ("relevance-rank", "share of the |mask| top features inside --mask (Arras et al. 2022)"),
    ("pointing-game", "whether the top feature lies in --mask (Zhang et al. 2018)"),
    ("model-randomization", "cascading parameter randomization (Adebayo et al. 2018); needs --method and --output-dir; per example: Spearman after randomizing every layer"),
];

/// Arguments of `xai evaluate`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub device: super::DeviceArgs,
    /// Model JSON with weights.
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset of `--metric accuracy`: a bundled name or a CSV file (class in the last column).
    #[arg(long)]
    pub data: Option<String>,
    /// Metric: accuracy, deletion, insertion, aopc (= pixel-flipping), infidelity, max-sensitivity, entropy,
    /// sparseness, relevance-mass, relevance-rank, pointing-game, model-randomization.
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
    /// --attributions is absent; re-run by max-sensitivity and model-randomization.
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
    /// Perturbations per example: infidelity (default 100), max-sensitivity (default 10).
    #[arg(long, allow_negative_numbers = true)]
    pub samples: Option<i64>,
    /// Infidelity's noise standard deviation σ, in input units (default 0.1).
    #[arg(long, allow_negative_numbers = true)]
    pub noise_std: Option<f64>,
    /// Max-sensitivity's L∞ radius r, in input units (default 0.2, Quantus').
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

fn non_negative(flag: &str, v: Option<f64>, default: f64) -> CliResult<f64> {
    match v {
        None => Ok(default),
        Some(v) if v.is_finite() && v >= 0.0 => Ok(v),
        Some(v) => Err(format!("{flag} must be a finite number ≥ 0, got {v}").into()),
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

fn print_result(metric: &str, per: &[f64]) {
    let num = |v: f64| {
        if v.is_finite() {
            format!("{v}")
        } else {
            "null".into()
        }
    };
    let (mean, std) = mean_std(per);
    let per: Vec<String> = per.iter().map(|&v| num(v)).collect();
    println!(
        "{{\"metric\": \"{metric}\", \"per_example\": [{}], \"mean\": {}, \"std\": {}}}",
        per.join(", "),
        num(mean),
        num(std)
    );
}

/// Prints `{"metric": .., "per_example": [..], "mean": .., "std": ..}` as the last stdout line.
pub fn run(a: &Args) -> CliResult {
    a.device.resolve()?;
    if !METRICS.iter().any(|(m, _)| *m == a.metric) {
        let known: Vec<&str> = METRICS.iter().map(|m| m.0).collect();
        return Err(format!(
            "unknown metric '{}' (known: {})",
            a.metric,
            known.join(", ")
        )
        .into());
    }
    if a.metric == "accuracy" {
        return accuracy(a);
    }
    let steps = count("--steps", a.steps, DEFAULT_STEPS)?;
    let samples = count(
        "--samples",
        a.samples,
        if a.metric == "max-sensitivity" {
            10
        } else {
            100
        },
    )?;
    let noise_std = non_negative("--noise-std", a.noise_std, 0.1)?;
    let radius = non_negative("--radius", a.radius, 0.2)?;
    let method_steps = count("--method-steps", Some(a.method_steps), 50)?;
    let Some(input) = &a.input else {
        return Err(format!("--metric {} needs --input", a.metric).into());
    };
    let baseline = match a.baseline.parse::<Baseline>() {
        Ok(b) => b,
        Err(_) if a.baseline.ends_with(".npy") || Path::new(&a.baseline).exists() => {
            Baseline::Tensor(read_npy("baseline", Path::new(&a.baseline))?)
        }
        Err(e) => return Err(e.into()),
    };
    let method = match &a.method {
        Some(name) => {
            let opts = MethodOptions {
                abs: a.abs,
                batch_size: a.batch_size as usize,
                baseline: baseline.clone(),
                steps: method_steps,
                seed: a.seed,
                layer: a.layer.clone(),
                ..MethodOptions::default()
            };
            Some(registry::build(name, &opts)?)
        }
        None => None,
    };
    let needs_method = |m: &Option<BoxedMethod>| -> CliResult<()> {
        if m.is_none() {
            return Err(format!("--metric {} needs --method", a.metric).into());
        }
        Ok(())
    };
    if matches!(a.metric.as_str(), "max-sensitivity" | "model-randomization") {
        needs_method(&method)?;
    }
    if a.metric == "model-randomization" && a.output_dir.is_none() {
        return Err("--metric model-randomization needs --output-dir".into());
    }
    if (a.metric.starts_with("relevance-") || a.metric == "pointing-game") && a.mask.is_none() {
        return Err(format!("--metric {} needs --mask", a.metric).into());
    }
    let model = load_model(&a.model)?;
    let (x, _) = read_input(&model, input, a.allow_nan)?;
    let m: &dyn Layered = &model;
    let targets = resolve_targets(m, &x, &a.target)?;
    let attributions = match (&a.attributions, &method) {
        (Some(p), _) => like_input("attributions", p, &x)?,
        (None, Some(method)) => method.attribute(m, &x, &targets)?.attributions,
        (None, None) => {
            return Err(format!("--metric {} needs --attributions or --method", a.metric).into())
        }
    };
    let bs = a.batch_size as usize;
    let per = match a.metric.as_str() {
        "deletion" | "insertion" | "aopc" | "pixel-flipping" => {
            let curve = if a.metric == "insertion" {
                Curve::Insertion
            } else {
                Curve::Deletion
            };
            let c =
                perturbation_curves(m, &x, &attributions, &targets, curve, steps, &baseline, bs)?;
            if a.metric != "deletion" && a.metric != "insertion" {
                c.aopc()
            } else {
                c.auc()
            }
        }
        "infidelity" => infidelity(
            m,
            &x,
            &attributions,
            &targets,
            samples,
            noise_std,
            a.seed,
            bs,
        )?,
        "max-sensitivity" => {
            let method = method.as_ref().expect("checked above");
            robustness::max_sensitivity(
                m,
                method.as_ref(),
                &x,
                Some(&attributions),
                &targets,
                samples,
                radius,
                a.seed,
            )?
        }
        "entropy" => complexity::entropy(&attributions)?,
        "sparseness" => complexity::sparseness(&attributions)?,
        "relevance-mass" | "relevance-rank" | "pointing-game" => {
            let mask = like_input("mask", a.mask.as_deref().expect("checked above"), &x)?;
            match a.metric.as_str() {
                "relevance-mass" => localisation::relevance_mass_accuracy(&attributions, &mask)?,
                "relevance-rank" => localisation::relevance_rank_accuracy(&attributions, &mask)?,
                _ => localisation::pointing_game(&attributions, &mask)?,
            }
        }
        _ => randomization(a, model, method.expect("checked above"), &x, &targets)?,
    };
    print_result(&a.metric, &per);
    Ok(())
}

fn randomization(
    a: &Args,
    model: Sequential,
    method: BoxedMethod,
    x: &Tensor,
    targets: &[usize],
) -> CliResult<Vec<f64>> {
    let dir = a.output_dir.as_deref().expect("checked above");
    let r = sanity::cascading_randomization(model, method.as_ref(), x, targets, a.seed)?;
    r.write(dir)
        .map_err(|e| format!("output dir {}: {e}", dir.display()))?;
    Ok(r.rows.last().expect("at least one row").spearman.clone())
}

fn accuracy(a: &Args) -> CliResult {
    let Some(data) = &a.data else {
        return Err("--metric accuracy needs --data".into());
    };
    let model = load_model(&a.model)?;
    let data = super::train::load_data(&model, data, a.input_shape.as_deref())?;
    let pred = model.predict(&data.x)?.argmax(1)?;
    let hits: Vec<f64> = pred
        .iter()
        .zip(&data.y)
        .map(|(p, y)| (p == y) as u8 as f64)
        .collect();
    let n = hits.len().max(1) as f64;
    let mean = hits.iter().sum::<f64>() / n;
    let std = (hits.iter().map(|h| (h - mean).powi(2)).sum::<f64>() / n).sqrt();
    let per: Vec<String> = hits.iter().map(|h| format!("{h}")).collect();
    println!("{{\"metric\": \"accuracy\", \"per_example\": [{}], \"mean\": {mean:.6}, \"std\": {std:.6}}}", per.join(", "));
    Ok(())
}
