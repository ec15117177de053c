//! [`Trainable`]: what the trainer asks of a model — named parameters, a forward pass that
//! gives every named output (head) and node output, training or inference mode — and
//! [`ForwardPass`], what one such pass produced, which training objectives read.

use crate::layers::Ctx;
use crate::model::Forward;
use crate::{Graph, Result};
use std::sync::Arc;
use xai_autodiff::Var;
use xai_tensor::Tensor;

/// The outputs of one recorded forward pass: the model input as the first node got it (after
/// normalisation), every node's output in order, and the heads.
#[derive(Clone, Debug)]
pub struct ForwardPass {
    /// The normalised model input.
    pub input: Var,
    /// Every node's output by name, in node order.
    pub nodes: Vec<(Arc<str>, Var)>,
    /// Every head as (name, index into `nodes`), the default output first.
    pub heads: Vec<(String, usize)>,
}

impl ForwardPass {
    /// The default output.
    pub fn output(&self) -> &Var {
        &self.nodes[self.heads[0].1].1
    }
    /// The head called `name`, or `None` when there is none.
    pub fn head(&self, name: &str) -> Option<&Var> {
        self.heads
            .iter()
            .find(|(h, _)| h == name)
            .map(|&(_, i)| &self.nodes[i].1)
    }
    /// The output of the node called `name`.
    pub fn node(&self, name: &str) -> Option<&Var> {
        self.nodes
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v)
    }
    /// The head called `name`, the default output for `None`, or a one-line error naming the
    /// heads there are.
    pub fn head_or_default(&self, name: Option<&str>) -> Result<&Var> {
        match name {
            None => Ok(self.output()),
            Some(h) => self.head(h).ok_or_else(|| crate::NnError::Output {
                head: h.into(),
                msg: format!(
                    "is no output of the model (outputs: {})",
                    self.heads
                        .iter()
                        .map(|(h, _)| h.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }
}

/// A model the trainer can train (see [`train`](crate::train::train)).
pub trait Trainable: Forward {
    /// Trainable parameters by stable name (`"block1.conv1.weight"`, the state-dict names), in
    /// a fixed order.
    fn parameters(&self) -> Vec<(String, &Var)>;
    /// Mutable access to the parameters by name (optimizers replace them).
    fn parameters_mut(&mut self) -> Vec<(String, &mut Var)>;
    /// A recorded forward pass in `ctx`'s mode (training: dropout on, batch statistics).
    fn forward_pass(&self, x: &Var, ctx: &mut Ctx) -> Result<ForwardPass>;
    /// Updates non-trainable state (batch norm's running statistics) from a training pass.
    fn update_state(&mut self, _pass: &ForwardPass) -> Result<()> {
        Ok(())
    }
}

impl Trainable for Graph {
    fn parameters(&self) -> Vec<(String, &Var)> {
        self.named_params()
    }
    fn parameters_mut(&mut self) -> Vec<(String, &mut Var)> {
        self.nodes_mut()
            .iter_mut()
            .flat_map(|n| {
                let name = n.name.clone();
                n.layer
                    .params_mut()
                    .into_iter()
                    .map(move |(s, v)| (format!("{name}.{s}"), v))
            })
            .collect()
    }
    fn forward_pass(&self, x: &Var, ctx: &mut Ctx) -> Result<ForwardPass> {
        let input = self.normalized(x)?;
        let outs = self.trace_normalized(&input, ctx)?;
        Ok(ForwardPass {
            input,
            nodes: self
                .nodes()
                .iter()
                .map(|n| n.name.clone())
                .zip(outs)
                .collect(),
            heads: self.heads().to_vec(),
        })
    }
    fn update_state(&mut self, pass: &ForwardPass) -> Result<()> {
        let values: Vec<Tensor> = pass.nodes.iter().map(|(_, v)| v.value().clone()).collect();
        self.update_running_stats(pass.input.value(), &values)
    }
}
