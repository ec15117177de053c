//! Flatten, dropout and the identity.

use super::{Fields, Module};
use serde_json::{json, Map, Value};
use xai_autodiff::Var;
use xai_tensor::DType;

/// Flattens every axis after the batch axis (C, H, W in that order).
#[derive(Debug)]
pub struct Flatten;

impl Module for Flatten {
    /// Monotone non-decreasing: the op on both ends.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        Some(crate::interval::Interval::monotone(self, inputs))
    }

    fn op(&self) -> &'static str {
        "flatten"
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        let x = &inputs[0];
        x.flatten_from(1)
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let input = inputs[0];
        Ok(vec![input.iter().product()])
    }
    fn spec(&self) -> Map<String, Value> {
        Map::new()
    }
}

/// Dropout: identity at inference; in training, zeroes each unit with probability p and
/// scales the rest by 1/(1 − p) (inverted dropout, as PyTorch).
#[derive(Debug)]
pub struct Dropout {
    pub p: f64,
}

impl Dropout {
    pub(crate) fn build(f: &Fields) -> crate::Result<Self> {
        let p = f.f64_or("p", 0.5)?;
        if !(0.0..1.0).contains(&p) {
            return Err(crate::error::arch(
                f.name,
                f.op,
                format!("p must be in [0, 1), got {p}"),
            ));
        }
        Ok(Self { p })
    }
}

impl Module for Dropout {
    /// Monotone non-decreasing: the op on both ends.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        Some(crate::interval::Interval::monotone(self, inputs))
    }

    fn op(&self) -> &'static str {
        "dropout"
    }
    fn forward(&self, inputs: &[Var], ctx: &mut super::Ctx) -> xai_tensor::Result<Var> {
        let x = &inputs[0];
        if !ctx.training || self.p == 0.0 {
            return Ok(x.clone());
        }
        let keep = ctx
            .rng
            .bernoulli(x.shape(), 1.0 - self.p, DType::F64)?
            .to_dtype(x.value().dtype())?;
        x.mul_const(&keep.mul_scalar(1.0 / (1.0 - self.p))?)
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let input = inputs[0];
        Ok(input.to_vec())
    }
    fn spec(&self) -> Map<String, Value> {
        json!({"p": self.p})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }
}

/// The identity, y = x: a named tap point (PyTorch's `nn.Identity`).
#[derive(Debug)]
pub struct Identity;

impl Module for Identity {
    /// Monotone non-decreasing: the op on both ends.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        Some(crate::interval::Interval::monotone(self, inputs))
    }

    fn op(&self) -> &'static str {
        "identity"
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        Ok(inputs[0].clone())
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        Ok(inputs[0].to_vec())
    }
    fn spec(&self) -> Map<String, Value> {
        Map::new()
    }
}
