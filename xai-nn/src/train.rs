//! The trainer, over any [`Trainable`] model: seeded shuffling and mini-batches, an
//! [`Objective`] (cross-entropy with optional label smoothing by default; the active
//! interpretability methods — tree regularization, prototype and filter losses, input-gradient
//! penalties — are objectives too), an optimizer and schedule with per-parameter-group learning
//! rates and freezing ([`ParamGroup`]), early stopping on a validation split, per-epoch metrics,
//! and a stop with a one-line error at the first non-finite loss or parameter.

use crate::data::Dataset;
use crate::error::NnError;
use crate::graph::Normalize;
use crate::layers::Ctx;
use crate::loss::cross_entropy;
use crate::model::Forward;
use crate::objective::{Batch, CrossEntropy, Objective};
use crate::optim::{Optimizer, OptimizerKind, Schedule};
use crate::trainable::Trainable;
use crate::Result;
use std::collections::{HashMap, HashSet};
use std::time::Instant;
use xai_autodiff::{enable_grad, grad, no_grad, GradOptions, Var};
use xai_tensor::{Rng, Tensor};

/// Hyper-parameters of one training run.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub optimizer: OptimizerKind,
    pub weight_decay: f64,
    pub schedule: Schedule,
    pub label_smoothing: f64,
    pub seed: u64,
    /// Stop after this many epochs without a lower validation loss (restoring the best
    /// weights), holding out `validation_fraction` of the training data (stratified).
    pub early_stopping: Option<(usize, f64)>,
    /// Learning-rate scales and freezing by parameter name; a later group wins where two
    /// match. Parameters no group matches train at the base rate.
    pub groups: Vec<ParamGroup>,
}

/// A group of parameters by name prefix: `prefix` matches the name itself and every name
/// below it (`"block1"` matches `"block1.conv1.weight"`, not `"block10.conv1.weight"`; `""`
/// matches every parameter). ProtoPNet's stages are groups: warm-up trains the add-on layers
/// and prototypes with the features frozen.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamGroup {
    pub prefix: String,
    /// The group's learning rate as a multiple of the schedule's.
    pub lr_scale: f64,
    /// Not trained at all (no gradient taken, no optimizer state).
    pub frozen: bool,
}

impl ParamGroup {
    /// Whether parameter `name` is in the group.
    pub fn matches(&self, name: &str) -> bool {
        self.prefix.is_empty()
            || name == self.prefix
            || name
                .strip_prefix(self.prefix.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            batch_size: 32,
            lr: 1e-3,
            optimizer: OptimizerKind::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
            weight_decay: 0.0,
            schedule: Schedule::Constant,
            label_smoothing: 0.0,
            seed: 0,
            early_stopping: None,
            groups: Vec::new(),
        }
    }
}

impl TrainConfig {
    /// The learning-rate scale of parameter `name`, `None` when it is frozen.
    pub fn lr_scale(&self, name: &str) -> Option<f64> {
        match self.groups.iter().rev().find(|g| g.matches(name)) {
            Some(g) if g.frozen => None,
            Some(g) => Some(g.lr_scale),
            None => Some(1.0),
        }
    }

    /// **Errors** on settings that cannot train: non-finite or out-of-range numbers among them.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(NnError::Config(m));
        let finite = |what: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(NnError::Config(format!("{what} must be finite, got {v}")))
            }
        };
        finite("weight decay", self.weight_decay)?;
        finite("label smoothing", self.label_smoothing)?;
        match self.optimizer {
            OptimizerKind::Sgd { momentum, .. } => {
                finite("momentum", momentum)?;
                if !(0.0..1.0).contains(&momentum) {
                    return bad(format!("momentum must be in [0, 1), got {momentum}"));
                }
            }
            OptimizerKind::Adam { beta1, beta2, eps }
            | OptimizerKind::AdamW { beta1, beta2, eps } => {
                let ok = (0.0..1.0).contains(&beta1)
                    && (0.0..1.0).contains(&beta2)
                    && eps >= 0.0
                    && eps.is_finite();
                if !ok {
                    return bad(format!(
                        "Adam needs betas in [0, 1) and eps ≥ 0, got {beta1}, {beta2}, {eps}"
                    ));
                }
            }
        }
        match self.schedule {
            Schedule::Step { gamma, .. } if !(gamma > 0.0 && gamma.is_finite()) => {
                return bad(format!(
                    "the step schedule's gamma must be positive, got {gamma}"
                ));
            }
            _ => {}
        }
        for g in &self.groups {
            if !(g.lr_scale >= 0.0 && g.lr_scale.is_finite()) {
                return bad(format!(
                    "parameter group '{}': the learning-rate scale must be ≥ 0 and finite, got {}",
                    g.prefix, g.lr_scale
                ));
            }
        }
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        if self.batch_size == 0 {
            return bad("batch size must be at least 1".into());
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad(format!("learning rate must be positive, got {}", self.lr));
        }
        if self.weight_decay < 0.0 || !(0.0..1.0).contains(&self.label_smoothing) {
            return bad("weight decay must be ≥ 0 and label smoothing in [0, 1)".into());
        }
        if let Some((_, f)) = self.early_stopping {
            if !(f > 0.0 && f < 1.0) {
                return bad(format!("validation fraction must be in (0, 1), got {f}"));
            }
        }
        Ok(())
    }
}

/// Metrics of one epoch.
#[derive(Clone, Debug)]
pub struct EpochReport {
    pub epoch: usize,
    pub lr: f64,
    /// Mean loss and accuracy over the epoch's batches (training mode).
    pub train_loss: f64,
    pub train_accuracy: f64,
    /// On the held-out validation split, when early stopping is on.
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    pub seconds: f64,
}

/// Progress of a run, for progress bars.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub epoch: usize,
    pub batch: usize,
    pub batches: usize,
}

/// Rows per forward pass of [`evaluate`]: a fixed count, so the figures never depend on the
/// data size, and the activations of a whole data set never sit in memory at once.
pub const EVAL_ROWS: usize = 256;

/// Accuracy and mean cross-entropy of `model`'s output on `data` (inference mode), in
/// batches of [`EVAL_ROWS`].
pub fn evaluate(model: &dyn Forward, data: &Dataset) -> Result<(f64, f64)> {
    let n = data.len();
    let parts = (0..n)
        .step_by(EVAL_ROWS)
        .map(|s| model.predict(&data.x.narrow(0, s, EVAL_ROWS.min(n - s))?))
        .collect::<Result<Vec<_>>>()?;
    let logits = match parts.len() {
        0 => model.predict(&data.x)?,
        1 => parts.into_iter().next().expect("one part"),
        _ => Tensor::cat(&parts, 0)?,
    };
    let pred = logits.argmax(1)?;
    let correct = pred.iter().zip(&data.y).filter(|(p, y)| p == y).count();
    let loss = no_grad(|| cross_entropy(&Var::constant(logits), &data.y, 0.0))?
        .value()
        .to_scalar()?;
    Ok((correct as f64 / data.len().max(1) as f64, loss))
}

/// Per-feature (rank-1 examples) or per-channel (images) mean and standard deviation of the
/// data, for the model's input normalisation (`--standardize`). A zero std becomes 1.
pub fn fit_normalize(data: &Dataset) -> Result<Normalize> {
    let x = &data.x;
    let axes: Vec<usize> = if x.rank() == 2 {
        vec![0]
    } else {
        [0].into_iter().chain(2..x.rank()).collect()
    };
    let mean = x.mean(&axes, true)?;
    let var = x.sub(&mean)?.square()?.mean(&axes, false)?;
    let std = var
        .sqrt()?
        .to_vec_f64()?
        .into_iter()
        .map(|s| if s > 1e-12 { s } else { 1.0 })
        .collect();
    Ok(Normalize {
        mean: mean.to_vec_f64()?,
        std,
    })
}

/// The model's parameters' values by name.
fn snapshot(model: &dyn Trainable) -> Vec<(String, Tensor)> {
    model
        .parameters()
        .into_iter()
        .map(|(n, v)| (n, v.value().clone()))
        .collect()
}

/// Sets the parameters named in `values` (others keep theirs), each a fresh leaf.
fn restore(params: Vec<(String, &mut Var)>, values: &HashMap<String, Tensor>) {
    for (n, p) in params {
        if let Some(v) = values.get(&n) {
            *p = Var::leaf(v.clone());
        }
    }
}

/// Trains `model` on `data` in place with cross-entropy on its default output (label
/// smoothing `cfg.label_smoothing`): [`train_with`] and [`CrossEntropy`].
pub fn train(
    model: &mut dyn Trainable,
    data: &Dataset,
    cfg: &TrainConfig,
    on_progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Vec<EpochReport>> {
    let mut ce = CrossEntropy {
        head: None,
        label_smoothing: cfg.label_smoothing,
    };
    train_with(model, data, cfg, &mut ce, on_progress)
}

/// Trains `model` (and the objective's own parameters) on `data` in place, minimising
/// `objective`. Deterministic: the same seed gives bit-identical weights. `on_progress` is
/// called after every batch. Records gradients whatever the caller's grad mode.
///
/// **Errors** before training on settings or data that cannot work, and during it at the
/// first non-finite loss or parameter (naming the epoch and batch; the model then holds the
/// last finite parameters).
pub fn train_with(
    model: &mut dyn Trainable,
    data: &Dataset,
    cfg: &TrainConfig,
    objective: &mut dyn Objective,
    on_progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Vec<EpochReport>> {
    // On a pool thread: each parallel kernel then splits work with its caller, instead of
    // waking the pool and parking the caller once per op.
    let mut result = None;
    rayon::scope(|_| {
        result = Some(enable_grad(|| {
            train_recorded(model, data, cfg, objective, on_progress)
        }))
    });
    result.expect("the scope ran the training")
}

fn train_recorded(
    model: &mut dyn Trainable,
    data: &Dataset,
    cfg: &TrainConfig,
    objective: &mut dyn Objective,
    on_progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Vec<EpochReport>> {
    cfg.validate()?;
    if data.example_shape() != model.input_shape() {
        return Err(NnError::Data(format!(
            "{}: examples of shape {:?} do not match the model's input shape {:?}",
            data.name,
            data.example_shape(),
            model.input_shape()
        )));
    }
    objective.prepare(&*model, data)?;
    let model_names: HashSet<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
    if let Some((n, _)) = objective
        .parameters()
        .into_iter()
        .find(|(n, _)| model_names.contains(n))
    {
        return Err(NnError::Parameter {
            name: n,
            msg: format!("{} names a parameter of the model too", objective.name()),
        });
    }
    let (fit, val) = match cfg.early_stopping {
        Some((_, f)) => {
            let (a, b) = data.stratified_split(f, cfg.seed ^ 0x5eed)?;
            (a, Some(b))
        }
        None => (data.clone(), None),
    };
    let mut opt = Optimizer::new(cfg.optimizer.clone(), cfg.weight_decay);
    let mut rng = Rng::new(cfg.seed);
    let mut reports = Vec::new();
    let (mut best, mut best_loss, mut stale) = (None, f64::INFINITY, 0usize);
    let n = fit.len();
    let batches = n.div_ceil(cfg.batch_size);
    for epoch in 0..cfg.epochs {
        let start = Instant::now();
        let lr = cfg.schedule.rate(cfg.lr, epoch);
        let order = rng.permutation(n);
        let (mut loss_sum, mut correct) = (0.0, 0usize);
        for (b, idx) in order.chunks(cfg.batch_size).enumerate() {
            let x = Var::leaf(fit.x.index_select(0, idx)?);
            let y: Vec<usize> = idx.iter().map(|&i| fit.y[i]).collect();
            let mut ctx = Ctx::train(
                cfg.seed
                    .wrapping_mul(1_000_003)
                    .wrapping_add((epoch * batches + b) as u64),
            );
            let pass = model.forward_pass(&x, &mut ctx)?;
            let batch = Batch {
                x: &x,
                y: &y,
                pass: &pass,
                epoch,
                batch: b,
            };
            let loss = objective.loss(&*model, &batch)?;
            let value = loss.value().to_scalar()?;
            if !value.is_finite() {
                return Err(NnError::Training(format!(
                    "epoch {}, batch {}: the loss is {value} ({}); stopped, the model keeps its \
                     last finite weights (a lower learning rate, or finite data?)",
                    epoch + 1,
                    b + 1,
                    objective.name()
                )));
            }
            loss_sum += value * y.len() as f64;
            correct += accuracy_count(pass.output(), &y)?;
            let updated = {
                let mut named: Vec<(String, &Var)> = model.parameters();
                named.extend(objective.parameters());
                let trained: Vec<(String, &Var, f64)> = named
                    .into_iter()
                    .filter_map(|(n, v)| cfg.lr_scale(&n).map(|s| (n, v, s)))
                    .collect();
                let refs: Vec<&Var> = trained.iter().map(|(_, v, _)| *v).collect();
                let grads = grad(&loss, None, &refs, &GradOptions::default())?;
                let mut updated = HashMap::with_capacity(trained.len());
                for ((name, p, scale), g) in trained.iter().zip(grads) {
                    let new = opt.update(name, lr * scale, p.value(), g.value())?;
                    if new.has_non_finite()? {
                        return Err(NnError::Training(format!(
                            "epoch {}, batch {}: parameter '{name}' became non-finite; stopped, \
                             the model keeps its last finite weights (a lower learning rate?)",
                            epoch + 1,
                            b + 1
                        )));
                    }
                    updated.insert(name.clone(), new);
                }
                updated
            };
            restore(model.parameters_mut(), &updated);
            restore(objective.parameters_mut(), &updated);
            model.update_state(&pass)?;
            objective.on_batch_end(model, &batch)?;
            on_progress(Progress {
                epoch,
                batch: b + 1,
                batches,
            });
        }
        objective.on_epoch_end(model, &fit, epoch)?;
        let (val_accuracy, val_loss) = match &val {
            Some(v) => {
                let (a, l) = validate(&*model, objective, v, cfg.batch_size)?;
                (Some(a), Some(l))
            }
            None => (None, None),
        };
        reports.push(EpochReport {
            epoch: epoch + 1,
            lr,
            train_loss: loss_sum / n.max(1) as f64,
            train_accuracy: correct as f64 / n.max(1) as f64,
            val_loss,
            val_accuracy,
            seconds: start.elapsed().as_secs_f64(),
        });
        if let (Some((patience, _)), Some(l)) = (cfg.early_stopping, val_loss) {
            if l < best_loss {
                (best_loss, stale, best) = (l, 0, Some(snapshot(&*model)));
            } else {
                stale += 1;
                if stale >= patience {
                    break;
                }
            }
        }
    }
    if let Some(b) = best {
        restore(model.parameters_mut(), &b.into_iter().collect());
    }
    Ok(reports)
}

/// How many rows of `out` have their argmax at the label (0 unless `out` is `[N, K]`).
fn accuracy_count(out: &Var, y: &[usize]) -> Result<usize> {
    if out.shape().len() != 2 {
        return Ok(0);
    }
    Ok(out
        .value()
        .argmax(1)?
        .iter()
        .zip(y)
        .filter(|(p, t)| p == t)
        .count())
}

/// Accuracy of the default output and the objective's mean loss on `data`, in inference mode
/// (recorded, so objectives that differentiate, such as input-gradient penalties, work).
fn validate(
    model: &dyn Trainable,
    objective: &dyn Objective,
    data: &Dataset,
    batch_size: usize,
) -> Result<(f64, f64)> {
    let (mut loss_sum, mut correct) = (0.0, 0usize);
    let idx: Vec<usize> = (0..data.len()).collect();
    for (b, rows) in idx.chunks(batch_size).enumerate() {
        let x = Var::leaf(data.x.index_select(0, rows)?);
        let y: Vec<usize> = rows.iter().map(|&i| data.y[i]).collect();
        let pass = model.forward_pass(&x, &mut Ctx::eval())?;
        let batch = Batch {
            x: &x,
            y: &y,
            pass: &pass,
            epoch: 0,
            batch: b,
        };
        loss_sum += objective.loss(model, &batch)?.value().to_scalar()? * y.len() as f64;
        correct += accuracy_count(pass.output(), &y)?;
    }
    let n = data.len().max(1) as f64;
    Ok((correct as f64 / n, loss_sum / n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synthetic::relevant_features;
    use crate::file;
    use xai_autodiff::{grad as autograd, GradOptions};

    const MLP: &str = r#"{"format": "xai-model", "version": 1, "input_shape": [6], "weights": "none.safetensors",
        "layers": [{"name": "0", "op": "linear", "in_features": 6, "out_features": 16},
                   {"name": "bn", "op": "batchnorm1d", "num_features": 16},
                   {"name": "1", "op": "tanh"},
                   {"name": "2", "op": "linear", "in_features": 16, "out_features": 2}]}"#;

    fn model() -> crate::Graph {
        // One file per call: the tests run in parallel threads of one process, and a shared
        // file could be read while another thread rewrites it (seen as "EOF while parsing").
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xai-train-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(format!("m{call}.json"));
        std::fs::write(&p, MLP).unwrap();
        file::load_or_init(&p, 1).unwrap()
    }

    /// Input-gradient penalty ‖∂(Σ logits)/∂x‖² (Ross et al. 2017), by double backprop: an
    /// objective term.
    struct InputGradientPenalty;

    impl Objective for InputGradientPenalty {
        fn name(&self) -> String {
            "input-gradient penalty".into()
        }
        fn loss(&self, _: &dyn Trainable, b: &Batch) -> Result<Var> {
            let out = b.pass.output().sum_all()?;
            let g = autograd(
                &out,
                None,
                &[b.x],
                &GradOptions {
                    create_graph: true,
                    rule: None,
                },
            )?;
            Ok(g[0].square()?.mean_all()?)
        }
    }

    fn input_gradient_norm(m: &crate::Graph, d: &Dataset) -> f64 {
        let x = Var::leaf(d.x.clone());
        let out = m.forward(&x).unwrap().sum_all().unwrap();
        let g = autograd(&out, None, &[&x], &GradOptions::default()).unwrap();
        g[0].value()
            .square()
            .unwrap()
            .mean(&[0, 1], false)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    use crate::model::Differentiable;

    #[test]
    fn trains_learns_updates_batchnorm_statistics_and_is_deterministic() {
        let (d, _) = relevant_features(300, 6, 2, 3).unwrap();
        let cfg = TrainConfig {
            epochs: 15,
            lr: 0.01,
            ..TrainConfig::default()
        };
        let mut a = model();
        let before = evaluate(&a, &d).unwrap().0;
        train(&mut a, &d, &cfg, &mut |_| {}).unwrap();
        let after = evaluate(&a, &d).unwrap().0;
        assert!(
            after > 0.9 && after > before,
            "accuracy {before} -> {after}"
        );
        let bn = a.nodes()[1].layer.buffers();
        assert!(
            bn[0].1.to_vec_f64().unwrap().iter().any(|&m| m != 0.0),
            "running mean moved"
        );
        let mut b = model();
        train(&mut b, &d, &cfg, &mut |_| {}).unwrap();
        let w = |m: &crate::Graph| {
            m.named_params()
                .iter()
                .flat_map(|(_, v)| v.value().to_vec_f32().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(w(&a), w(&b));
    }

    #[test]
    fn an_objective_term_with_double_backprop_shrinks_input_gradients() {
        let (d, _) = relevant_features(200, 6, 3, 4).unwrap();
        let cfg = TrainConfig {
            epochs: 10,
            lr: 0.01,
            ..TrainConfig::default()
        };
        let mut plain = model();
        train(&mut plain, &d, &cfg, &mut |_| {}).unwrap();
        let mut penalised = model();
        let mut objective = crate::objective::Weighted::new(vec![
            (1.0, Box::new(CrossEntropy::default())),
            (1.0, Box::new(InputGradientPenalty)),
        ]);
        train_with(&mut penalised, &d, &cfg, &mut objective, &mut |_| {}).unwrap();
        let (np, ng) = (
            input_gradient_norm(&plain, &d),
            input_gradient_norm(&penalised, &d),
        );
        assert!(
            ng < 0.5 * np,
            "penalty should shrink ‖∂f/∂x‖²: {np} vs {ng}"
        );
    }

    #[test]
    fn early_stopping_stops_and_bad_settings_are_refused() {
        let (d, _) = relevant_features(200, 6, 2, 5).unwrap();
        let cfg = TrainConfig {
            epochs: 200,
            lr: 0.05,
            early_stopping: Some((2, 0.2)),
            ..TrainConfig::default()
        };
        let reports = train(&mut model(), &d, &cfg, &mut |_| {}).unwrap();
        assert!(reports.len() < 200 && reports.iter().all(|r| r.val_loss.is_some()));
        for bad in [
            TrainConfig {
                epochs: 0,
                ..cfg.clone()
            },
            TrainConfig {
                lr: -1.0,
                ..cfg.clone()
            },
            TrainConfig {
                batch_size: 0,
                ..cfg
            },
        ] {
            assert!(train(&mut model(), &d, &bad, &mut |_| {}).is_err());
        }
    }

    #[test]
    fn non_finite_settings_are_refused_and_a_diverging_run_stops_at_the_first_bad_batch() {
        let (d, _) = relevant_features(64, 6, 2, 5).unwrap();
        let sgd = |momentum| OptimizerKind::Sgd {
            momentum,
            nesterov: false,
        };
        for (bad, want) in [
            (
                TrainConfig {
                    optimizer: sgd(f64::NAN),
                    ..TrainConfig::default()
                },
                "momentum must be finite",
            ),
            (
                TrainConfig {
                    weight_decay: f64::NAN,
                    ..TrainConfig::default()
                },
                "weight decay must be finite",
            ),
            (
                TrainConfig {
                    lr: f64::INFINITY,
                    ..TrainConfig::default()
                },
                "learning rate must be positive",
            ),
        ] {
            let e = train(&mut model(), &d, &bad, &mut |_| {})
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
        }
        // A huge but finite rate: the weights overflow in the first step.
        let cfg = TrainConfig {
            lr: 1e300,
            optimizer: sgd(0.0),
            ..TrainConfig::default()
        };
        let mut m = model();
        let e = train(&mut m, &d, &cfg, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("training: epoch 1, batch 1: parameter '") && e.contains("non-finite"),
            "{e}"
        );
        assert!(m
            .named_params()
            .iter()
            .all(|(_, v)| !v.value().has_non_finite().unwrap()));
        // A NaN in the data: the loss is NaN in the batch that holds it.
        let mut x = d.x.to_vec_f64().unwrap();
        x[6 * 40] = f64::NAN;
        let nan = Dataset {
            x: Tensor::from_vec(x, d.x.shape())
                .unwrap()
                .to_dtype(xai_tensor::DType::F32)
                .unwrap(),
            ..d.clone()
        };
        let cfg = TrainConfig {
            batch_size: 64,
            ..TrainConfig::default()
        };
        let e = train(&mut model(), &nan, &cfg, &mut |_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains("epoch 1, batch 1: the loss is NaN"), "{e}");
    }
}
