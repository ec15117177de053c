//! Fully connected layer: y = x·Wᵀ + b (PyTorch's `nn.Linear`).

use super::{Fields, Init, Module, WeightFn};
use serde_json::{json, Map, Value};
use xai_autodiff::Var;

/// `y = x·Wᵀ + b` with `W: [out, in]`, `b: [out]` (optional).
#[derive(Debug)]
pub struct Linear {
    pub weight: Var,
    pub bias: Option<Var>,
}

impl Linear {
    pub(crate) fn build(f: &Fields, weights: &mut WeightFn) -> crate::Result<Self> {
        let (i, o) = (f.usize("in_features")?, f.usize("out_features")?);
        let bound = 1.0 / (i.max(1) as f64).sqrt();
        let weight = weights("weight", &[o, i], Init::Uniform(bound), true)?.map(Var::leaf);
        let bias = super::bias(f, weights, o, bound)?;
        Ok(Self {
            weight: weight.expect("required tensor"),
            bias,
        })
    }
    fn dims(&self) -> (usize, usize) {
        (self.weight.shape()[1], self.weight.shape()[0])
    }
}

impl Module for Linear {
    /// Affine: centre through the layer, radius through |W| without the bias.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        Some(inputs[0].through_weights(&self.weight, self.bias.as_ref(), |x, w, b| x.linear(w, b)))
    }
    fn op(&self) -> &'static str {
        "linear"
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        let x = &inputs[0];
        x.linear(&self.weight, self.bias.as_ref())
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let input = inputs[0];
        let (i, o) = self.dims();
        match input {
            [n] if *n == i => Ok(vec![o]),
            _ => Err(format!(
                "expects {i} input features but receives shape {input:?}"
            )),
        }
    }
    fn spec(&self) -> Map<String, Value> {
        let (i, o) = self.dims();
        let mut m = json!({"in_features": i, "out_features": o})
            .as_object()
            .cloned()
            .unwrap_or_default();
        super::note_no_bias(&mut m, &self.bias);
        m
    }
    fn params(&self) -> Vec<(&'static str, &Var)> {
        super::weight_and_bias(&self.weight, &self.bias)
    }
    fn params_mut(&mut self) -> Vec<(&'static str, &mut Var)> {
        super::weight_and_bias_mut(&mut self.weight, &mut self.bias)
    }
}
