//! The trainer: seeded shuffling and mini-batches, cross-entropy with optional label
//! smoothing, an optimizer and schedule, early stopping on a validation split, per-epoch
//! metrics, and a hook for **extra loss terms** — the active interpretability methods (tree
//! regularization, prototype and filter losses, input-gradient penalties) plug in there.

use crate::data::Dataset;
use crate::error::NnError;
use crate::graph::{Graph, Normalize};
use crate::layers::Ctx;
use crate::loss::cross_entropy;
use crate::model::Forward;
use crate::optim::{Optimizer, OptimizerKind, Schedule};
use crate::Result;
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
        }
    }
}

impl TrainConfig {
    /// **Errors** on settings that cannot train.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(NnError::Config(m));
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

/// An extra loss term for each training batch, computed from the model, the batch input `x`
/// (a leaf variable: input gradients are available through [`xai_autodiff::grad`] with
/// `create_graph`, i.e. double backprop), the labels and every layer's output of this forward
/// pass. Returns `None` to add nothing.
pub trait ExtraLoss: Send + Sync {
    fn loss(
        &self,
        model: &Graph,
        x: &Var,
        y: &[usize],
        trace: &[Var],
    ) -> xai_tensor::Result<Option<Var>>;
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

/// Accuracy and mean cross-entropy of `model` on `data` (inference mode).
pub fn evaluate(model: &Graph, data: &Dataset) -> Result<(f64, f64)> {
    let logits = model.predict(&data.x)?;
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

fn snapshot(model: &Graph) -> Vec<Tensor> {
    model
        .named_params()
        .into_iter()
        .map(|(_, v)| v.value().clone())
        .collect()
}

fn restore(model: &mut Graph, values: Vec<Tensor>) {
    let mut it = values.into_iter();
    for l in model.nodes_mut() {
        for (_, p) in l.layer.params_mut() {
            if let Some(v) = it.next() {
                *p = Var::leaf(v);
            }
        }
    }
}

/// Trains `model` on `data` in place. Deterministic: the same seed gives bit-identical
/// weights. `on_progress` is called after every batch. Records gradients whatever the
/// caller's grad mode.
pub fn train(
    model: &mut Graph,
    data: &Dataset,
    cfg: &TrainConfig,
    extra: Option<&dyn ExtraLoss>,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<Vec<EpochReport>> {
    enable_grad(|| train_recorded(model, data, cfg, extra, on_progress))
}

fn train_recorded(
    model: &mut Graph,
    data: &Dataset,
    cfg: &TrainConfig,
    extra: Option<&dyn ExtraLoss>,
    on_progress: &mut dyn FnMut(Progress),
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
    if let Some(&bad) = data.y.iter().find(|&&c| c >= model.num_outputs()) {
        return Err(NnError::Data(format!(
            "{}: class {bad} but the model has {} outputs",
            data.name,
            model.num_outputs()
        )));
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
            let trace = model.forward_trace_ctx(&x, &mut ctx)?;
            let logits = &trace[model.output_node()].clone();
            let mut loss = cross_entropy(logits, &y, cfg.label_smoothing)?;
            if let Some(e) = extra {
                if let Some(term) = e.loss(model, &x, &y, &trace)? {
                    loss = loss.add(&term)?;
                }
            }
            loss_sum += loss.value().to_scalar()? * y.len() as f64;
            correct += logits
                .value()
                .argmax(1)?
                .iter()
                .zip(&y)
                .filter(|(p, t)| p == t)
                .count();
            let params = model.named_params();
            let refs: Vec<&Var> = params.iter().map(|(_, v)| *v).collect();
            let grads: Vec<Tensor> = grad(&loss, None, &refs, &GradOptions::default())?
                .into_iter()
                .map(|g| g.value().clone())
                .collect();
            let values: Vec<&Tensor> = refs.iter().map(|v| v.value()).collect();
            let updated = opt.step(lr, &values, &grads)?;
            drop(params);
            restore(model, updated);
            let values: Vec<Tensor> = trace.iter().map(|v| v.value().clone()).collect();
            model.update_running_stats(model.normalized(&x)?.value(), &values)?;
            on_progress(Progress {
                epoch,
                batch: b + 1,
                batches,
            });
        }
        let (val_accuracy, val_loss) = match &val {
            Some(v) => {
                let (a, l) = evaluate(model, v)?;
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
                (best_loss, stale, best) = (l, 0, Some(snapshot(model)));
            } else {
                stale += 1;
                if stale >= patience {
                    break;
                }
            }
        }
    }
    if let Some(b) = best {
        restore(model, b);
    }
    Ok(reports)
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

    fn model() -> Graph {
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

    /// Input-gradient penalty λ‖∂(Σ logits)/∂x‖² (Ross et al. 2017), by double backprop.
    struct InputGradientPenalty(f64);

    impl ExtraLoss for InputGradientPenalty {
        fn loss(
            &self,
            _: &Graph,
            x: &Var,
            _: &[usize],
            trace: &[Var],
        ) -> xai_tensor::Result<Option<Var>> {
            let out = trace.last().expect("layers").sum_all()?;
            let g = autograd(
                &out,
                None,
                &[x],
                &GradOptions {
                    create_graph: true,
                    rule: None,
                },
            )?;
            Ok(Some(g[0].square()?.mean_all()?.mul_scalar(self.0)?))
        }
    }

    fn input_gradient_norm(m: &Graph, d: &Dataset) -> f64 {
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
        train(&mut a, &d, &cfg, None, &mut |_| {}).unwrap();
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
        train(&mut b, &d, &cfg, None, &mut |_| {}).unwrap();
        let w = |m: &Graph| {
            m.named_params()
                .iter()
                .flat_map(|(_, v)| v.value().to_vec_f32().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(w(&a), w(&b));
    }

    #[test]
    fn an_extra_loss_with_double_backprop_shrinks_input_gradients() {
        let (d, _) = relevant_features(200, 6, 3, 4).unwrap();
        let cfg = TrainConfig {
            epochs: 10,
            lr: 0.01,
            ..TrainConfig::default()
        };
        let mut plain = model();
        train(&mut plain, &d, &cfg, None, &mut |_| {}).unwrap();
        let mut penalised = model();
        train(
            &mut penalised,
            &d,
            &cfg,
            Some(&InputGradientPenalty(1.0)),
            &mut |_| {},
        )
        .unwrap();
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
        let reports = train(&mut model(), &d, &cfg, None, &mut |_| {}).unwrap();
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
            assert!(train(&mut model(), &d, &bad, None, &mut |_| {}).is_err());
        }
    }
}
