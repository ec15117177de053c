//! `xai train`: fits a model file's architecture on a dataset and writes the trained model.

use super::CliResult;
use std::path::PathBuf;
use std::time::Instant;
use xai_nn::optim::{OptimizerKind, Schedule};
use xai_nn::train::{evaluate, fit_normalize, train, TrainConfig};
use xai_nn::{file, Dataset, Graph};

/// Arguments of `xai train`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub device: super::DeviceArgs,
    /// Architecture (or model to fine-tune): model.json; initialised (seeded) when its weights file is absent.
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset: a bundled name (iris, wine, breast_cancer, digits, mnist) or a CSV file
    /// (header row, integer class in the last column).
    #[arg(long)]
    pub data: String,
    /// Shape of one example, e.g. 1,8,8 (default: the model's input shape).
    #[arg(long, value_delimiter = ',')]
    pub input_shape: Option<Vec<usize>>,
    /// Passes over the training split.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Examples per optimizer step.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Learning rate (> 0).
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    pub lr: f64,
    /// sgd | nesterov | adam | adamw.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Momentum of sgd/nesterov.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// Weight decay (L2 for sgd/adam, decoupled for adamw).
    #[arg(long, default_value_t = 0.0)]
    pub weight_decay: f64,
    /// constant | step:N:GAMMA | cosine.
    #[arg(long, default_value = "constant")]
    pub schedule: String,
    /// Label smoothing ε ∈ [0, 1) of the cross-entropy: targets (1 − ε)·one-hot + ε/K.
    #[arg(long, default_value_t = 0.0)]
    pub label_smoothing: f64,
    /// Held-out fraction: the last `f` of a seeded stratified shuffle of the data.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Fit per-feature (per-channel for images) mean/std on the training split and store them
    /// in the model as its input normalisation.
    #[arg(long)]
    pub standardize: bool,
    /// Stop after this many epochs without a lower validation loss (validation: 10% of the training split).
    #[arg(long)]
    pub early_stopping: Option<usize>,
    /// Seed of the initialisation, the shuffles and the split (same seed, same model).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to write the trained model.json (its safetensors goes beside it).
    #[arg(long)]
    pub output: PathBuf,
}

/// Loads a dataset and views its rows as the model's input shape (or `shape`).
pub fn load_data(model: &Graph, name: &str, shape: Option<&[usize]>) -> CliResult<Dataset> {
    let d = Dataset::load(name)?;
    let shape = shape.unwrap_or(model_shape(model));
    Ok(d.with_input_shape(shape)?)
}

fn model_shape(model: &Graph) -> &[usize] {
    use xai_nn::Forward;
    model.input_shape()
}

fn schedule(s: &str, epochs: usize) -> CliResult<Schedule> {
    let parts: Vec<&str> = s.split(':').collect();
    Ok(match parts.as_slice() {
        ["constant"] => Schedule::Constant,
        ["cosine"] => Schedule::Cosine { epochs },
        ["step", n, g] => match (n.parse(), g.parse()) {
            (Ok(step), Ok(gamma)) => Schedule::Step { step, gamma },
            _ => return Err(format!("schedule '{s}': expected step:N:GAMMA").into()),
        },
        _ => return Err(format!("unknown schedule '{s}' (constant, step:N:GAMMA, cosine)").into()),
    })
}

/// Runs `xai train`; the last stdout line is a JSON summary.
pub fn run(a: &Args) -> CliResult {
    a.device.resolve()?;
    let start = Instant::now();
    if !(0.0..1.0).contains(&a.test_fraction) {
        return Err(format!("test fraction must be in [0, 1), got {}", a.test_fraction).into());
    }
    let optimizer = OptimizerKind::parse(&a.optimizer, a.momentum).ok_or_else(|| {
        format!(
            "unknown optimizer '{}' (sgd, nesterov, adam, adamw)",
            a.optimizer
        )
    })?;
    let cfg = TrainConfig {
        epochs: a.epochs,
        batch_size: a.batch_size,
        lr: a.lr,
        optimizer,
        weight_decay: a.weight_decay,
        schedule: schedule(&a.schedule, a.epochs)?,
        label_smoothing: a.label_smoothing,
        seed: a.seed,
        early_stopping: a.early_stopping.map(|p| (p, 0.1)),
        groups: Vec::new(),
    };
    cfg.validate()?;
    let mut model = file::load_or_init(&a.model, a.seed)?;
    let data = load_data(&model, &a.data, a.input_shape.as_deref())?;
    let (train_set, test_set) = data.stratified_split(a.test_fraction, a.seed)?;
    if a.standardize {
        model.set_normalize(Some(fit_normalize(&train_set)?))?;
    }
    let bar = crate::progress::bar(
        (a.epochs * train_set.len().div_ceil(a.batch_size)) as u64,
        "batches",
    );
    let reports = train(&mut model, &train_set, &cfg, &mut |p| {
        bar.set_message(format!("epoch {}", p.epoch + 1));
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    file::save(&model, &a.output)?;
    let (train_acc, train_loss) = evaluate(&model, &train_set)?;
    let (test_acc, test_loss) = if test_set.is_empty() {
        (f64::NAN, f64::NAN)
    } else {
        evaluate(&model, &test_set)?
    };
    let num = |x: f64| {
        if x.is_finite() {
            format!("{x:.6}")
        } else {
            "null".into()
        }
    };
    println!(
        "{{\"train_accuracy\": {}, \"test_accuracy\": {}, \"train_loss\": {}, \"test_loss\": {}, \"epochs\": {}, \"train_seconds\": {:.3}, \"seconds\": {:.3}}}",
        num(train_acc),
        num(test_acc),
        num(train_loss),
        num(test_loss),
        reports.len(),
        reports.iter().map(|r| r.seconds).sum::<f64>(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
