//! `xai league`: ranks attribution methods on one model and batch by deletion, insertion,
//! infidelity, max-sensitivity, sparseness and the randomization sanity check
//! (`xai_eval::league`); prints the markdown table and writes `league.md` and `league.json`.

use super::{load_model, read_input, CliResult};
use std::path::PathBuf;
use xai_eval::league::{league, LeagueOptions};
use xai_nn::Layered;
use xai_passive::methods::Baseline;
use xai_passive::{resolve_targets, Target};

/// Arguments of `xai league`.
#[derive(clap::Args)]
pub struct Args {
    /// Model JSON with weights.
    #[arg(long)]
    pub model: PathBuf,
    /// Inputs: .npy [N, ...input_shape] (or .csv).
    #[arg(long)]
    pub input: PathBuf,
    /// Classes explained: `argmax` (the predictions), one class for all, or one per example
    /// (comma-separated).
    #[arg(long, default_value = "argmax")]
    pub targets: String,
    /// Methods to rank, comma-separated (default: the gradient, propagation and perturbation
    /// families with kernel SHAP, `xai_eval::league::DEFAULT_METHODS`; see `xai methods`).
    #[arg(long, value_delimiter = ',')]
    pub methods: Option<Vec<String>>,
    /// Perturbations per example of infidelity and max-sensitivity (default 100 and 10; with
    /// --fast 32 and 4).
    #[arg(long, allow_negative_numbers = true)]
    pub samples: Option<i64>,
    /// Steps K of the deletion and insertion curves (default 20; with --fast 10).
    #[arg(long, allow_negative_numbers = true)]
    pub steps: Option<i64>,
    /// Infidelity's noise standard deviation σ, in input units (default 0.1).
    #[arg(long, allow_negative_numbers = true)]
    pub noise_std: Option<f64>,
    /// Max-sensitivity's L∞ radius r, in input units (default 0.2).
    #[arg(long, allow_negative_numbers = true)]
    pub radius: Option<f64>,
    /// Baseline of the deletion/insertion curves and of path methods: zeros, constant:V, mean.
    #[arg(long, default_value = "zeros")]
    pub baseline: String,
    /// The methods' --layer (Grad-CAM family).
    #[arg(long)]
    pub layer: Option<String>,
    /// Quick settings (fewer steps and draws), for demos.
    #[arg(long)]
    pub fast: bool,
    /// Seed of the perturbations, of random methods and of the randomized model.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder for league.md and league.json (created if absent).
    #[arg(long)]
    pub output_dir: PathBuf,
    /// Accept NaN or infinite inputs (refused by default).
    #[arg(long)]
    pub allow_nan: bool,
}

fn positive(flag: &str, v: Option<i64>) -> CliResult<Option<usize>> {
    match v {
        None => Ok(None),
        Some(v) if v >= 1 => Ok(Some(v as usize)),
        Some(v) => Err(format!("{flag} must be at least 1, got {v}").into()),
    }
}

fn parse_targets(s: &str) -> CliResult<Target> {
    if s == "argmax" {
        return Ok(Target::Argmax);
    }
    let classes = s
        .split(',')
        .map(|c| c.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            format!("--targets must be 'argmax' or class indices separated by commas, got '{s}'")
        })?;
    Ok(match classes.as_slice() {
        [c] => Target::Class(*c),
        _ => Target::PerExample(classes),
    })
}

/// Runs the league; prints the markdown table.
pub fn run(a: &Args) -> CliResult {
    let mut opts = if a.fast {
        LeagueOptions::fast()
    } else {
        LeagueOptions::default()
    };
    if let Some(methods) = &a.methods {
        opts.methods = methods.clone();
    }
    if let Some(s) = positive("--samples", a.samples)? {
        opts.infidelity_samples = s;
        opts.sensitivity_samples = s;
    }
    if let Some(k) = positive("--steps", a.steps)? {
        opts.steps = k;
    }
    for (flag, v, slot) in [
        ("--noise-std", a.noise_std, &mut opts.noise_std),
        ("--radius", a.radius, &mut opts.radius),
    ] {
        match v {
            Some(v) if v.is_finite() && v >= 0.0 => *slot = v,
            Some(v) => return Err(format!("{flag} must be a finite number ≥ 0, got {v}").into()),
            None => {}
        }
    }
    let baseline: Baseline = a.baseline.parse()?;
    opts.baseline = baseline.clone();
    // The methods share these flags, each taking those it has.
    let p = &mut opts.method_params;
    p.set("baseline", a.baseline.as_str());
    if let Some(layer) = &a.layer {
        p.set("layer", layer.as_str());
    }
    p.set("seed", a.seed);
    opts.seed = a.seed;
    let target = parse_targets(&a.targets)?;
    let model = load_model(&a.model)?;
    let (x, _) = read_input(&model, &a.input, a.allow_nan)?;
    let m: &dyn Layered = &model;
    let targets = resolve_targets(m, &x, &target)?;
    let table = league(&model, &x, &targets, &opts)?;
    table
        .write(&a.output_dir)
        .map_err(|e| format!("output dir {}: {e}", a.output_dir.display()))?;
    print!("{}", table.markdown());
    Ok(())
}
