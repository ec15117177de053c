//! Softmax and log-softmax as layers (a probability head; PyTorch's `nn.Softmax(dim)`,
//! `nn.LogSoftmax(dim)`).

use super::{Fields, Module};
use serde_json::{json, Map, Value};
use xai_autodiff::Var;

/// softmax(x)ᵢ = e^{xᵢ}/Σⱼ e^{xⱼ} along axis `dim` of the batch tensor, or its logarithm
/// (`log`: xᵢ − log Σⱼ e^{xⱼ}, computed stably).
#[derive(Debug)]
pub struct Softmax {
    /// The axis, counting the batch axis as 0 (PyTorch's `dim`; 1 by default).
    pub dim: usize,
    /// Log-softmax instead of softmax.
    pub log: bool,
}

impl Softmax {
    pub(crate) fn build(f: &Fields, log: bool) -> crate::Result<Self> {
        let dim = f.usize_or("dim", 1)?;
        if dim == 0 {
            return Err(crate::error::arch(
                f.name,
                f.op,
                "dim must be at least 1 (0 is the batch axis)",
            ));
        }
        Ok(Self { dim, log })
    }
}

impl Module for Softmax {
    fn op(&self) -> &'static str {
        if self.log {
            "log_softmax"
        } else {
            "softmax"
        }
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        if self.log {
            inputs[0].log_softmax(self.dim)
        } else {
            inputs[0].softmax(self.dim)
        }
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let input = inputs[0];
        if self.dim > input.len() {
            return Err(format!(
                "dim {} is beyond an input of shape {input:?} (with the batch axis: rank {})",
                self.dim,
                input.len() + 1
            ));
        }
        Ok(input.to_vec())
    }
    fn spec(&self) -> Map<String, Value> {
        json!({"dim": self.dim})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }
}
