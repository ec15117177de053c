//! Elementwise activations.

use super::Module;
use serde_json::{json, Map, Value};
use xai_autodiff::Var;

/// Which activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActivationKind {
    /// max(x, 0).
    Relu,
    /// x for x > 0, slope·x otherwise.
    LeakyRelu(f64),
    /// 1/(1 + e⁻ˣ).
    Sigmoid,
    /// tanh x.
    Tanh,
    /// ln(1 + eˣ) (PyTorch's β = 1).
    Softplus,
}

/// An elementwise activation layer.
#[derive(Debug)]
pub struct Activation {
    pub kind: ActivationKind,
}

impl Activation {
    pub fn new(kind: ActivationKind) -> Self {
        Self { kind }
    }
}

impl Module for Activation {
    /// Monotone non-decreasing (a leaky ReLU with a negative slope is not: no rule).
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        match self.kind {
            ActivationKind::LeakyRelu(s) if s < 0.0 => None,
            _ => Some(crate::interval::Interval::monotone(self, inputs)),
        }
    }
    fn op(&self) -> &'static str {
        match self.kind {
            ActivationKind::Relu => "relu",
            ActivationKind::LeakyRelu(_) => "leaky_relu",
            ActivationKind::Sigmoid => "sigmoid",
            ActivationKind::Tanh => "tanh",
            ActivationKind::Softplus => "softplus",
        }
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        let x = &inputs[0];
        match self.kind {
            ActivationKind::Relu => x.relu(),
            ActivationKind::LeakyRelu(s) => x.leaky_relu(s),
            ActivationKind::Sigmoid => x.sigmoid(),
            ActivationKind::Tanh => x.tanh(),
            ActivationKind::Softplus => x.softplus(),
        }
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let input = inputs[0];
        Ok(input.to_vec())
    }
    fn spec(&self) -> Map<String, Value> {
        match self.kind {
            ActivationKind::LeakyRelu(s) => json!({"negative_slope": s})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            _ => Map::new(),
        }
    }
}
