//! `xai evaluate`: metrics of a model on a dataset (accuracy) and of explanations
//! (faithfulness, robustness, complexity, localisation, sanity checks, remove-and-retrain;
//! see `xai_eval`).

use super::{load_model, read_input, CliResult};
use std::path::{Path, PathBuf};
use xai_eval::faithfulness::{
    completeness_gap, infidelity, infidelity_scaled, perturbation_curves, Curve, DEFAULT_STEPS,
};
use xai_eval::{complexity, localisation, mean_std, roar, robustness, sanity};
use xai_nn::train::TrainConfig;
use xai_nn::{Dataset, Forward, Layered, Sequential};
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
    ("infidelity-scaled", "infidelity of the optimally scaled map βa (Yeh et al. 2019; Captum normalize=True); scale-invariant; lower is better"),
    ("completeness", "|Σa − (f(x) − f(baseline))| on the target logit (completeness axiom of IG, DeepLIFT, LRP); --baseline; lower is better"),
    ("max-sensitivity", "max ‖a(x + δ) − a(x)‖/‖a(x)‖, δ ~ U(−r, r) (Yeh et al. 2019); needs --method; lower is better"),
    ("local-lipschitz", "max ‖a(x) − a(x + δ)‖/‖δ‖, δ ~ U(−r, r) (Alvarez-Melis & Jaakkola 2018); needs --method; lower is better"),
    ("entropy", "entropy of |a|/Σ|a| (Samek et al. 2017); lower is less complex"),
    ("sparseness", "Gini index of |a| (Chalasani et al. 2020); higher is sparser"),
    ("relevance-mass", "share of positive relevance inside --mask (Arras et al. 2022)"),
    ("relevance-rank", "share of the |mask| top features inside --mask (Arras et al. 2022)"),
    ("pointing-game", "whether the top feature lies in --mask (Zhang et al. 2018)"),
    ("data-randomization", "retrain on permuted labels and compare explanations (Adebayo et al. 2018); needs --data and --method; per example: Spearman; lower is better"),
    ("roar", "remove and retrain (Hooker et al. 2019): test accuracy after replacing the top-t features by the training mean and retraining; needs --data and --method; lower is better"),
    ("kar", "keep and retrain (Hooker et al. 2019): test accuracy after replacing the t least important features and retraining; needs --data and --method; higher is better"),
    ("model-randomization", "cascading (or --independent) parameter randomization (Adebayo et al. 2018); needs --method and --output-dir; per example: Spearman after randomizing every layer (independent: mean over the layers)"),
];

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
    let (mean, std) = mean_std(per);
    println!(
        "{{\"metric\": \"{metric}\", \"per_example\": {}, \"mean\": {}, \"std\": {}}}",
        list(per),
        num(mean),
        num(std)
    );
}

/// Prints `{"metric": .., "per_example": [..], "mean": .., "std": ..}` as the last stdout line;
/// data-randomization adds fields after these, roar and kar print `{"metric", "method",
/// "fractions", "accuracy", "reference_accuracy"}` instead.
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
    if a.metric == "data-randomization" {
        return data_randomization(a);
    }
    if a.metric == "roar" || a.metric == "kar" {
        return remove_and_retrain(a);
    }
    let steps = count("--steps", a.steps, DEFAULT_STEPS)?;
    let samples = count(
        "--samples",
        a.samples,
        if matches!(a.metric.as_str(), "max-sensitivity" | "local-lipschitz") {
            10
        } else {
            100
        },
    )?;
    let noise_std = non_negative("--noise-std", a.noise_std, 0.1)?;
    let radius = non_negative("--radius", a.radius, 0.2)?;
    let Some(input) = &a.input else {
        return Err(format!("--metric {} needs --input", a.metric).into());
    };
    let baseline = parse_baseline(a)?;
    let method = match &a.method {
        Some(_) => Some(build_method(a)?),
        None => None,
    };
    let needs_method = |m: &Option<BoxedMethod>| -> CliResult<()> {
        if m.is_none() {
            return Err(format!("--metric {} needs --method", a.metric).into());
        }
        Ok(())
    };
    if matches!(
        a.metric.as_str(),
        "max-sensitivity" | "local-lipschitz" | "model-randomization"
    ) {
        needs_method(&method)?;
    }
    if a.metric == "model-randomization" && a.output_dir.is_none() {
        return Err("--metric model-randomization needs --output-dir".into());
    }
    if (a.metric.starts_with("relevance-") || a.metric == "pointing-game") && a.mask.is_none() {
        return Err(format!("--metric {} needs --mask", a.metric).into());
    }
    let spinner = crate::progress::spinner(format!("evaluating {}", a.metric));
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
        "infidelity" | "infidelity-scaled" => {
            let f = if a.metric == "infidelity" {
                infidelity::<dyn Layered>
            } else {
                infidelity_scaled::<dyn Layered>
            };
            f(
                m,
                &x,
                &attributions,
                &targets,
                samples,
                noise_std,
                a.seed,
                bs,
            )?
        }
        "completeness" => completeness_gap(m, &x, &attributions, &targets, &baseline, bs)?,
        "max-sensitivity" | "local-lipschitz" => {
            let method = method.as_ref().expect("checked above");
            let f = if a.metric == "max-sensitivity" {
                robustness::max_sensitivity::<dyn Layered>
            } else {
                robustness::local_lipschitz::<dyn Layered>
            };
            f(
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
    spinner.finish_and_clear();
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
    let r = if a.independent {
        let mut model = model;
        sanity::independent_randomization(&mut model, method.as_ref(), x, targets, a.seed)?
    } else {
        sanity::cascading_randomization(model, method.as_ref(), x, targets, a.seed)?
    };
    r.write(dir)
        .map_err(|e| format!("output dir {}: {e}", dir.display()))?;
    if a.independent {
        let steps = &r.rows[1..];
        return Ok((0..x.shape()[0])
            .map(|i| steps.iter().map(|s| s.spearman[i]).sum::<f64>() / steps.len() as f64)
            .collect());
    }
    Ok(r.rows.last().expect("at least one row").spearman.clone())
}

/// A JSON number, `null` when not finite.
fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

/// A JSON array of numbers.
fn list(v: &[f64]) -> String {
    format!(
        "[{}]",
        v.iter().map(|&x| num(x)).collect::<Vec<_>>().join(", ")
    )
}

/// The dataset of a retraining metric, split as `xai train` splits it, with the trainer's
/// settings from the flags.
fn retraining_setup(a: &Args, model: &Sequential) -> CliResult<(Dataset, Dataset, TrainConfig)> {
    let Some(data) = &a.data else {
        return Err(format!("--metric {} needs --data", a.metric).into());
    };
    if !(0.0..1.0).contains(&a.test_fraction) {
        return Err(format!("test fraction must be in [0, 1), got {}", a.test_fraction).into());
    }
    let cfg = TrainConfig {
        epochs: a.epochs,
        batch_size: a.train_batch_size,
        lr: a.lr,
        seed: a.seed,
        ..TrainConfig::default()
    };
    cfg.validate()?;
    let data = super::train::load_data(model, data, a.input_shape.as_deref())?;
    let (train_set, test_set) = data.stratified_split(a.test_fraction, a.seed)?;
    Ok((train_set, test_set, cfg))
}

/// --baseline: zeros, constant:V, mean, or a .npy file.
fn parse_baseline(a: &Args) -> CliResult<Baseline> {
    match a.baseline.parse::<Baseline>() {
        Ok(b) => Ok(b),
        Err(_) if a.baseline.ends_with(".npy") || Path::new(&a.baseline).exists() => Ok(
            Baseline::Tensor(read_npy("baseline", Path::new(&a.baseline))?),
        ),
        Err(e) => Err(e.into()),
    }
}

/// The --method with its flags.
fn build_method(a: &Args) -> CliResult<BoxedMethod> {
    let Some(name) = &a.method else {
        return Err(format!("--metric {} needs --method", a.metric).into());
    };
    let opts = MethodOptions {
        abs: a.abs,
        batch_size: a.batch_size as usize,
        baseline: parse_baseline(a)?,
        steps: count("--method-steps", Some(a.method_steps), 50)?,
        seed: a.seed,
        layer: a.layer.clone(),
        ..MethodOptions::default()
    };
    Ok(registry::build(name, &opts)?)
}

/// Data randomization (Adebayo et al. 2018): explains --input (default: the first 8 held-out
/// rows of --data) with the model and with its architecture retrained on permuted labels.
/// Prints `{"metric", "per_example" (Spearman), "mean", "std", "method", "spearman_abs",
/// "ssim", "mean_spearman_abs", "mean_ssim", "random_label_train_accuracy"}`.
fn data_randomization(a: &Args) -> CliResult {
    let method = build_method(a)?;
    let model = load_model(&a.model)?;
    let (train_set, test_set, cfg) = retraining_setup(a, &model)?;
    let x = match &a.input {
        Some(p) => read_input(&model, p, a.allow_nan)?.0,
        None => {
            let src = if test_set.is_empty() {
                &train_set
            } else {
                &test_set
            };
            src.x.narrow(0, 0, src.len().min(8))?
        }
    };
    let m: &dyn Layered = &model;
    let targets = resolve_targets(m, &x, &a.target)?;
    let r = sanity::data_randomization(
        &model,
        &train_set,
        &cfg,
        method.as_ref(),
        &x,
        &targets,
        a.seed,
    )?;
    let s = &r.similarity;
    let (mean, std) = mean_std(&s.spearman);
    println!(
        "{{\"metric\": \"data-randomization\", \"per_example\": {}, \"mean\": {}, \"std\": {}, \"method\": \"{}\", \"spearman_abs\": {}, \"ssim\": {}, \"mean_spearman_abs\": {}, \"mean_ssim\": {}, \"random_label_train_accuracy\": {}}}",
        list(&s.spearman),
        num(mean),
        num(std),
        r.method,
        list(&s.spearman_abs),
        list(&s.ssim),
        num(mean_std(&s.spearman_abs).0),
        num(mean_std(&s.ssim).0),
        num(r.random_label_train_accuracy)
    );
    Ok(())
}

/// ROAR / KAR (Hooker et al. 2019): attributions of every training and test row of --data (for
/// --target), then one retraining per fraction. Prints `{"metric", "method", "fractions",
/// "accuracy" (test accuracy per fraction), "reference_accuracy" (retrained on unmodified
/// data)}`.
fn remove_and_retrain(a: &Args) -> CliResult {
    let method = build_method(a)?;
    let fractions = a
        .fractions
        .clone()
        .unwrap_or_else(|| roar::DEFAULT_FRACTIONS.to_vec());
    if let Some(t) = fractions.iter().find(|t| !(0.0..=1.0).contains(*t)) {
        return Err(format!("--fractions must be in [0, 1], got {t}").into());
    }
    let model = load_model(&a.model)?;
    let (train_set, test_set, cfg) = retraining_setup(a, &model)?;
    if test_set.is_empty() {
        return Err(format!("--metric {} needs a --test-fraction above 0", a.metric).into());
    }
    let m: &dyn Layered = &model;
    let explain = |x: &Tensor| -> CliResult<Tensor> {
        let targets = resolve_targets(m, x, &a.target)?;
        Ok(method.attribute(m, x, &targets)?.attributions)
    };
    let (a_train, a_test) = (explain(&train_set.x)?, explain(&test_set.x)?);
    let removal = if a.metric == "roar" {
        roar::Removal::Roar
    } else {
        roar::Removal::Kar
    };
    let r = roar::remove_and_retrain(
        &model, &train_set, &test_set, &a_train, &a_test, &fractions, removal, &cfg,
    )?;
    println!(
        "{{\"metric\": \"{}\", \"method\": \"{}\", \"fractions\": {}, \"accuracy\": {}, \"reference_accuracy\": {}}}",
        a.metric,
        method.name(),
        list(&r.fractions),
        list(&r.accuracy),
        num(r.reference_accuracy)
    );
    Ok(())
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
