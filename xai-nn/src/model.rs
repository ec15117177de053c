//! What an explanation method may ask of a model, as capability traits that build on each
//! other (Captum's split of perturbation, gradient and layer attribution):
//! [`Forward`] (black box) ⊂ [`Differentiable`] (gradients, gradient rules) ⊂ [`Layered`]
//! (named layers whose outputs can be tapped).

use crate::Result;
use xai_autodiff::Var;
use xai_tensor::{Device, Tensor};

/// A black box: a batch of inputs `[N, ...input_shape]` to outputs `[N, K]`.
pub trait Forward: Send + Sync {
    /// Shape of one example, without the batch axis.
    fn input_shape(&self) -> &[usize];
    /// Outputs for a batch, with nothing recorded.
    fn predict(&self, x: &Tensor) -> Result<Tensor>;
    /// Shape of one example's output, without the batch axis, when known without running the
    /// model (`[K]` for a classifier). `None` by default: callers then look at a prediction.
    fn output_shape(&self) -> Option<Vec<usize>> {
        None
    }
    /// Where the model's parameters live: batches built on the host go there before
    /// [`Forward::predict`]. The CPU unless a model says otherwise.
    fn device(&self) -> Device {
        Device::Cpu
    }
}

/// A model whose forward pass is recorded on the autodiff tape.
pub trait Differentiable: Forward {
    /// Forward pass on a recorded variable.
    fn forward(&self, x: &Var) -> Result<Var>;
}

/// A model made of named layers (the nodes of a graph) whose outputs can be tapped.
pub trait Layered: Differentiable {
    /// Layer names in order (a topological order of the graph).
    fn layer_names(&self) -> Vec<String>;
    /// Index (into [`layer_names`](Layered::layer_names)) of the layer whose output is the
    /// model output.
    fn output_layer(&self) -> usize;
    /// Forward pass returning the output of every layer, in order.
    fn forward_trace(&self, x: &Var) -> Result<Vec<Var>>;
    /// The model output for input `x` with layer `layer`'s output replaced by `activation`
    /// (as many rows as `x`): what depends on the layer runs on `activation`, every other
    /// branch the output needs (a residual connection's shortcut) on `x`. What methods that
    /// substitute a layer's activation need (Captum's layer hooks). In a chain `x` is unused.
    fn forward_from(&self, layer: &str, x: &Var, activation: &Var) -> Result<Var>;
    /// Bounds of the output over every input in the box `lo ≤ x ≤ hi` (interval bound
    /// propagation, [`crate::interval`]). By default refused: a model without interval rules.
    fn interval(&self, _lo: &Tensor, _hi: &Tensor) -> Result<crate::interval::Interval> {
        Err(crate::NnError::Data(
            "this model has no interval rules (interval bounds need a model file's layers)".into(),
        ))
    }
}
