//! Training objectives: what the trainer minimises, composable with weights
//! (`20·CE + 1·reconstruction + …`, ProtoPNet's and the prototype autoencoder's losses), each
//! seeing the model, the batch, every named output and the tape, optionally owning trainable
//! parameters of its own (prototype vectors, a surrogate), with hooks at batch and epoch end
//! (refit a surrogate, project prototypes onto training patches).
//!
//! The active interpretability methods are objectives; so are the plain losses:
//! [`CrossEntropy`] (with label smoothing), [`MeanSquaredError`] against one-hot labels, and
//! [`Reconstruction`] (a head against the input). [`Weighted`] sums weighted terms.

use crate::data::Dataset;
use crate::layers::Ctx;
use crate::loss::{cross_entropy, mse};
use crate::trainable::{ForwardPass, Trainable};
use crate::{NnError, Result};
use xai_autodiff::{no_grad, Var};
use xai_tensor::Tensor;

/// One training batch, as an objective sees it.
pub struct Batch<'a> {
    /// The batch input as given (before the model's normalisation): a leaf, so input gradients
    /// (double backprop, with `create_graph`) are available.
    pub x: &'a Var,
    /// The labels.
    pub y: &'a [usize],
    /// The model's forward pass on `x`: every head and node output.
    pub pass: &'a ForwardPass,
    /// 0-based epoch and batch index.
    pub epoch: usize,
    pub batch: usize,
}

/// A training objective (see the module documentation).
pub trait Objective: Send {
    /// A short name for reports (`"cross-entropy"`).
    fn name(&self) -> String;
    /// Checks the objective against the model and the data once, before training (a head
    /// that exists, labels within its outputs).
    fn prepare(&mut self, _model: &dyn Trainable, _data: &Dataset) -> Result<()> {
        Ok(())
    }
    /// The loss of one batch, a scalar on the tape.
    fn loss(&self, model: &dyn Trainable, batch: &Batch) -> Result<Var>;
    /// Trainable parameters of the objective's own, by name (distinct from the model's).
    fn parameters(&self) -> Vec<(String, &Var)> {
        Vec::new()
    }
    /// Mutable access to them (the optimizer replaces them).
    fn parameters_mut(&mut self) -> Vec<(String, &mut Var)> {
        Vec::new()
    }
    /// Called after each optimizer step.
    fn on_batch_end(&mut self, _model: &mut dyn Trainable, _batch: &Batch) -> Result<()> {
        Ok(())
    }
    /// Called after each epoch (0-based), before validation.
    fn on_epoch_end(
        &mut self,
        _model: &mut dyn Trainable,
        _data: &Dataset,
        _epoch: usize,
    ) -> Result<()> {
        Ok(())
    }
}

/// The number of outputs per example of head `head` (the default for `None`), from one
/// example's forward pass.
fn head_size(model: &dyn Trainable, data: &Dataset, head: Option<&str>) -> Result<usize> {
    if data.is_empty() {
        return Err(NnError::Data(format!("{}: no examples", data.name)));
    }
    let x = Var::constant(data.x.narrow(0, 0, 1)?);
    let pass = no_grad(|| model.forward_pass(&x, &mut Ctx::eval()))?;
    Ok(pass.head_or_default(head)?.value().numel())
}

/// Mean cross-entropy of a head's logits against the labels, with label smoothing ε
/// (PyTorch's `F.cross_entropy(…, label_smoothing=ε)`; see [`cross_entropy`]).
#[derive(Clone, Debug, Default)]
pub struct CrossEntropy {
    /// The head (`None`: the default output).
    pub head: Option<String>,
    /// ε ∈ [0, 1).
    pub label_smoothing: f64,
}

impl Objective for CrossEntropy {
    fn name(&self) -> String {
        "cross-entropy".into()
    }
    fn prepare(&mut self, model: &dyn Trainable, data: &Dataset) -> Result<()> {
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return Err(NnError::Config(format!(
                "label smoothing must be in [0, 1), got {}",
                self.label_smoothing
            )));
        }
        let k = head_size(model, data, self.head.as_deref())?;
        if let Some(&bad) = data.y.iter().find(|&&c| c >= k) {
            return Err(NnError::Data(format!(
                "{}: class {bad} but the model has {k} outputs",
                data.name
            )));
        }
        Ok(())
    }
    fn loss(&self, _: &dyn Trainable, b: &Batch) -> Result<Var> {
        let logits = b.pass.head_or_default(self.head.as_deref())?;
        Ok(cross_entropy(logits, b.y, self.label_smoothing)?)
    }
}

/// Mean squared error of a head against the one-hot labels, mean over every element
/// (PyTorch's `F.mse_loss(out, F.one_hot(y, K).float())`).
#[derive(Clone, Debug, Default)]
pub struct MeanSquaredError {
    /// The head (`None`: the default output).
    pub head: Option<String>,
}

impl Objective for MeanSquaredError {
    fn name(&self) -> String {
        "mse".into()
    }
    fn prepare(&mut self, model: &dyn Trainable, data: &Dataset) -> Result<()> {
        let k = head_size(model, data, self.head.as_deref())?;
        if let Some(&bad) = data.y.iter().find(|&&c| c >= k) {
            return Err(NnError::Data(format!(
                "{}: class {bad} but the head has {k} outputs",
                data.name
            )));
        }
        Ok(())
    }
    fn loss(&self, _: &dyn Trainable, b: &Batch) -> Result<Var> {
        let out = b.pass.head_or_default(self.head.as_deref())?;
        let [n, k] = out.shape() else {
            return Err(NnError::Input(format!(
                "mse needs a [N, K] output, got {:?}",
                out.shape()
            )));
        };
        let mut onehot = vec![0.0f64; n * k];
        for (i, &c) in b.y.iter().enumerate() {
            onehot[i * k + c] = 1.0;
        }
        let target = Tensor::from_vec(onehot, &[*n, *k])?.to_dtype(out.value().dtype())?;
        Ok(mse(out, &target)?)
    }
}

/// Reconstruction error: the mean squared difference between a head (a decoder's output) and
/// the batch input as given, both flattened per example: (1/(N·D)) Σ ‖dec(x) − x‖²
/// (PyTorch's `F.mse_loss(dec.flatten(1), x.flatten(1))`).
#[derive(Clone, Debug)]
pub struct Reconstruction {
    /// The decoder's head.
    pub head: String,
}

impl Objective for Reconstruction {
    fn name(&self) -> String {
        format!("reconstruction ({})", self.head)
    }
    fn prepare(&mut self, model: &dyn Trainable, data: &Dataset) -> Result<()> {
        let d = head_size(model, data, Some(&self.head))?;
        let want = data.x.numel() / data.len().max(1);
        if d != want {
            return Err(NnError::Output {
                head: self.head.clone(),
                msg: format!(
                    "has {d} values per example; a reconstruction of the input needs {want}"
                ),
            });
        }
        Ok(())
    }
    fn loss(&self, _: &dyn Trainable, b: &Batch) -> Result<Var> {
        let out = b.pass.head_or_default(Some(&self.head))?.flatten_from(1)?;
        let x = b.x.value();
        let x = x
            .reshape(&[x.shape()[0], x.numel() / x.shape()[0].max(1)])?
            .to_dtype(out.value().dtype())?;
        Ok(mse(&out, &x)?)
    }
}

/// Σᵢ wᵢ·Lᵢ: objectives summed with weights; parameters and hooks of every term.
pub struct Weighted {
    pub terms: Vec<(f64, Box<dyn Objective>)>,
}

impl Weighted {
    /// The objective `Σ weight·term` of `terms`.
    pub fn new(terms: Vec<(f64, Box<dyn Objective>)>) -> Self {
        Self { terms }
    }
}

impl Objective for Weighted {
    fn name(&self) -> String {
        self.terms
            .iter()
            .map(|(w, t)| format!("{w}·{}", t.name()))
            .collect::<Vec<_>>()
            .join(" + ")
    }
    fn prepare(&mut self, model: &dyn Trainable, data: &Dataset) -> Result<()> {
        if self.terms.is_empty() {
            return Err(NnError::Config("a weighted objective needs a term".into()));
        }
        for (w, t) in &mut self.terms {
            if !w.is_finite() {
                return Err(NnError::Config(format!(
                    "the weight of {} must be finite, got {w}",
                    t.name()
                )));
            }
            t.prepare(model, data)?;
        }
        Ok(())
    }
    fn loss(&self, model: &dyn Trainable, b: &Batch) -> Result<Var> {
        let mut total: Option<Var> = None;
        for (w, t) in &self.terms {
            let l = t.loss(model, b)?.mul_scalar(*w)?;
            total = Some(match total {
                Some(s) => s.add(&l)?,
                None => l,
            });
        }
        total.ok_or_else(|| NnError::Config("a weighted objective needs a term".into()))
    }
    fn parameters(&self) -> Vec<(String, &Var)> {
        self.terms
            .iter()
            .flat_map(|(_, t)| t.parameters())
            .collect()
    }
    fn parameters_mut(&mut self) -> Vec<(String, &mut Var)> {
        self.terms
            .iter_mut()
            .flat_map(|(_, t)| t.parameters_mut())
            .collect()
    }
    fn on_batch_end(&mut self, model: &mut dyn Trainable, b: &Batch) -> Result<()> {
        for (_, t) in &mut self.terms {
            t.on_batch_end(model, b)?;
        }
        Ok(())
    }
    fn on_epoch_end(
        &mut self,
        model: &mut dyn Trainable,
        data: &Dataset,
        epoch: usize,
    ) -> Result<()> {
        for (_, t) in &mut self.terms {
            t.on_epoch_end(model, data, epoch)?;
        }
        Ok(())
    }
}
