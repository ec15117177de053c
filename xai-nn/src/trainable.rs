//! [`Trainable`]: what the trainer asks of a model — named parameters, a forward pass that
//! gives every named output (head) and node output, training or inference mode — and
//! [`ForwardPass`], what one such pass produced, which training objectives read.

use crate::layers::{self, Ctx, Init};
use crate::model::Forward;
use crate::{Graph, Node, Result};
use std::sync::Arc;
use xai_autodiff::Var;
use xai_tensor::{Rng, Tensor};

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
        let trace: Vec<&Var> = pass.nodes.iter().map(|(_, v)| v).collect();
        self.update_running_stats(pass.input.value(), &trace)
    }
}

/// A model whose architecture can be instantiated afresh: the metrics that retrain from
/// scratch (remove-and-retrain, data randomization) and the league's fully randomised copy ask
/// this of a model, not a concrete type.
pub trait Reinitialize: Trainable + Sized {
    /// The same architecture (and input normalisation) with every parameter drawn anew as on
    /// creation, seeded; same seed → same bits.
    fn reinitialized(&self, seed: u64) -> Result<Self>;
}

impl Reinitialize for Graph {
    /// Every layer rebuilt from its model-file spec, its parameters drawn as PyTorch
    /// initialises a new layer (U(−1/√fan_in, 1/√fan_in) for linear/conv weights and biases,
    /// batch norm 1 and 0); optional tensors (biases) exist iff `self` has them. With the same
    /// seed this gives the weights [`crate::file::load_or_init`] draws for the architecture.
    fn reinitialized(&self, seed: u64) -> Result<Graph> {
        let mut rng = Rng::new(seed);
        let mut out = Vec::with_capacity(self.nodes().len());
        for (i, l) in self.nodes().iter().enumerate() {
            let have: Vec<&str> = l
                .layer
                .params()
                .iter()
                .map(|p| p.0)
                .chain(l.layer.buffers().iter().map(|b| b.0))
                .collect();
            let mut get = |suffix: &str,
                           shape: &[usize],
                           init: Init,
                           required: bool|
             -> Result<Option<Tensor>> {
                if !required && !have.contains(&suffix) {
                    return Ok(None);
                }
                Ok(Some(init.draw(shape, &mut rng)?))
            };
            let layer = layers::build(&l.name, l.layer.op(), &l.layer.spec(), &mut get)?;
            out.push(Node::with_inputs(&l.name, layer, self.input_names(i)));
        }
        Graph::new(
            self.input_shape().to_vec(),
            out,
            self.outputs().clone(),
            self.normalize().cloned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file;
    use crate::Graph;

    const MLP: &str = r#"{"format": "xai-model", "version": 1, "input_shape": [6], "weights": "w.safetensors",
        "layers": [{"name": "0", "op": "linear", "in_features": 6, "out_features": 8},
                   {"name": "bn", "op": "batchnorm1d", "num_features": 8},
                   {"name": "1", "op": "relu"},
                   {"name": "2", "op": "linear", "in_features": 8, "out_features": 3}]}"#;

    fn values(m: &Graph) -> Vec<Vec<f32>> {
        m.named_params()
            .iter()
            .map(|(_, v)| v.value().to_vec_f32().unwrap())
            .collect()
    }

    #[test]
    fn a_fresh_model_is_the_architecture_initialised_as_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        std::fs::write(&p, MLP).unwrap();
        let init = file::load_or_init(&p, 4).unwrap();
        let fresh = init.reinitialized(4).unwrap();
        assert_eq!(values(&fresh), values(&init));
        assert_eq!(fresh.node_shapes(), init.node_shapes());
        let other = init.reinitialized(5).unwrap();
        assert_ne!(values(&other), values(&init));
        // Batch norm starts at scale 1, shift 0.
        let bn = &values(&other)[2..4];
        assert!(bn[0].iter().all(|&v| v == 1.0) && bn[1].iter().all(|&v| v == 0.0));
    }
}
