//! Layers and merges: one small type per op, each a [`Module`], built from its model-file entry
//! by [`build`] (the one registry of ops).

mod activation;
mod batchnorm;
mod conv;
mod linear;
mod merge;
mod pool;
mod reshape;
mod softmax;
mod upsample;

pub use activation::{Activation, ActivationKind};
pub use batchnorm::BatchNorm;
pub use conv::{Conv2d, ConvTranspose2d};
pub use linear::Linear;
pub use merge::{Concat, Merge};
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, GlobalAvgPool2d, MaxPool2d};
pub use reshape::{Dropout, Flatten, Identity};
pub use softmax::Softmax;
pub use upsample::Upsample;

use crate::error::{arch, NnError};
use serde_json::{Map, Value};
use std::fmt::Debug;
use xai_autodiff::Var;
use xai_tensor::{Rng, Tensor};

/// Per-call state of a forward pass: training mode (dropout, batch statistics) and its RNG.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// Training behaviour (dropout active, batch norm on batch statistics).
    pub training: bool,
    /// Randomness for dropout masks.
    pub rng: Rng,
}

impl Ctx {
    /// Inference: dropout is the identity, batch norm uses running statistics.
    pub fn eval() -> Self {
        Self {
            training: false,
            rng: Rng::new(0),
        }
    }
    /// Training with a seeded RNG.
    pub fn train(seed: u64) -> Self {
        Self {
            training: true,
            rng: Rng::new(seed),
        }
    }
}

/// How many inputs an op takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// One: a layer.
    One,
    /// Two or more: a merge (`add`, `mul`, `concat`).
    Many,
}

impl Arity {
    /// Whether `n` inputs fit.
    pub fn admits(self, n: usize) -> bool {
        match self {
            Arity::One => n == 1,
            Arity::Many => n >= 2,
        }
    }
}

/// An op of a model: a layer, or a merge of several nodes' outputs. Shapes in
/// [`out_shape`](Module::out_shape) are per example (no batch axis). The model checks, once,
/// that a node gets as many inputs as its op's [`arity`](Module::arity) admits, so `forward`
/// and `out_shape` may index their inputs.
pub trait Module: Send + Sync + Debug {
    /// The op name of the model file (`"linear"`, `"conv2d"`, …).
    fn op(&self) -> &'static str;
    /// How many inputs it takes (one, unless overridden).
    fn arity(&self) -> Arity {
        Arity::One
    }
    /// Forward pass on a batch of each input (`[N, ...]`).
    fn forward(&self, inputs: &[Var], ctx: &mut Ctx) -> xai_tensor::Result<Var>;
    /// Output shape for one example of the input shapes `inputs`, or why the op cannot take them.
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String>;
    /// The layer's fields in the model file, besides `name` and `op`.
    fn spec(&self) -> Map<String, Value>;
    /// Trainable parameters by state-dict suffix (`"weight"`, `"bias"`).
    fn params(&self) -> Vec<(&'static str, &Var)> {
        Vec::new()
    }
    /// Mutable access to the parameters (optimizers replace them).
    fn params_mut(&mut self) -> Vec<(&'static str, &mut Var)> {
        Vec::new()
    }
    /// Updates non-trainable state from a training batch's input to this layer (batch norm's
    /// running statistics); called by the trainer after each training forward pass.
    fn update_running_stats(&mut self, _input: &xai_tensor::Tensor) -> xai_tensor::Result<()> {
        Ok(())
    }
    /// Non-trainable state saved with the weights (batch norm's running statistics).
    fn buffers(&self) -> Vec<(&'static str, &Tensor)> {
        Vec::new()
    }
    /// Mutable access to the buffers (moving a model to a device).
    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Tensor)> {
        Vec::new()
    }
}

/// A layer's `weight` and optional `bias`, as [`Module::params`] lists them.
pub(crate) fn weight_and_bias<'a>(
    weight: &'a Var,
    bias: &'a Option<Var>,
) -> Vec<(&'static str, &'a Var)> {
    let mut p = vec![("weight", weight)];
    p.extend(bias.as_ref().map(|b| ("bias", b)));
    p
}

/// Mutable [`weight_and_bias`], as [`Module::params_mut`] lists them.
pub(crate) fn weight_and_bias_mut<'a>(
    weight: &'a mut Var,
    bias: &'a mut Option<Var>,
) -> Vec<(&'static str, &'a mut Var)> {
    let mut p = vec![("weight", weight)];
    p.extend(bias.as_mut().map(|b| ("bias", b)));
    p
}

/// How a missing parameter is initialised (PyTorch's defaults).
#[derive(Clone, Copy, Debug)]
pub enum Init {
    /// U(−b, b): PyTorch's Linear/Conv default with b = 1/√fan_in.
    Uniform(f64),
    /// Constant value.
    Const(f64),
}

impl Init {
    /// A new f32 tensor of `shape` initialised this way (uniform draws from `rng`).
    pub fn draw(self, shape: &[usize], rng: &mut xai_tensor::Rng) -> crate::Result<Tensor> {
        Ok(match self {
            Init::Uniform(b) => rng.uniform(shape, -b, b, xai_tensor::DType::F32)?,
            Init::Const(c) => Tensor::full(shape, c, xai_tensor::DType::F32),
        })
    }
}

/// Provides a layer's tensors: from a weights file, or freshly initialised.
/// `get(suffix, shape, init, required)` returns the tensor, `None` for an absent optional one.
pub type WeightFn<'a> = dyn FnMut(&str, &[usize], Init, bool) -> crate::Result<Option<Tensor>> + 'a;

/// Reads typed fields of one layer entry, naming the layer in errors.
pub(crate) struct Fields<'a> {
    pub name: &'a str,
    pub op: &'a str,
    pub map: &'a Map<String, Value>,
}

impl Fields<'_> {
    fn err(&self, msg: String) -> NnError {
        arch(self.name, self.op, msg)
    }
    pub fn usize(&self, key: &str) -> crate::Result<usize> {
        match self.map.get(key) {
            Some(v) => v.as_u64().map(|x| x as usize).ok_or_else(|| {
                self.err(format!("'{key}' must be a non-negative integer, got {v}"))
            }),
            None => Err(self.err(format!("missing field '{key}'"))),
        }
    }
    pub fn usize_or(&self, key: &str, default: usize) -> crate::Result<usize> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(_) => self.usize(key),
        }
    }
    pub fn f64_or(&self, key: &str, default: f64) -> crate::Result<f64> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_f64()
                .ok_or_else(|| self.err(format!("'{key}' must be a number, got {v}"))),
        }
    }
    /// `[a, b]` or a single integer meaning `[a, a]`; `default` when absent (if given).
    pub fn pair(&self, key: &str, default: Option<[usize; 2]>) -> crate::Result<[usize; 2]> {
        let bad = || {
            self.err(format!(
                "'{key}' must be an integer or a list of two integers"
            ))
        };
        match self.map.get(key) {
            None | Some(Value::Null) => {
                default.ok_or_else(|| self.err(format!("missing field '{key}'")))
            }
            Some(Value::Number(n)) => n.as_u64().map(|x| [x as usize; 2]).ok_or_else(bad),
            Some(Value::Array(a)) if a.len() == 2 => {
                let x = a[0].as_u64().ok_or_else(bad)?;
                let y = a[1].as_u64().ok_or_else(bad)?;
                Ok([x as usize, y as usize])
            }
            Some(_) => Err(bad()),
        }
    }
}

/// The layer ops a model file may use.
pub const KNOWN_OPS: &[&str] = &[
    "linear",
    "conv2d",
    "relu",
    "leaky_relu",
    "sigmoid",
    "tanh",
    "softplus",
    "maxpool2d",
    "avgpool2d",
    "adaptive_avgpool2d",
    "flatten",
    "dropout",
    "batchnorm1d",
    "batchnorm2d",
    "add",
    "mul",
    "concat",
    "identity",
    "global_avgpool2d",
    "softmax",
    "log_softmax",
    "conv_transpose2d",
    "upsample_nearest2d",
    "upsample_bilinear2d",
];

/// Builds the layer `name` of op `op` from its model-file fields, taking its tensors from
/// `weights`. The one place that maps op names to layer types.
pub fn build(
    name: &str,
    op: &str,
    map: &Map<String, Value>,
    weights: &mut WeightFn,
) -> crate::Result<Box<dyn Module>> {
    let f = Fields { name, op, map };
    Ok(match op {
        "linear" => Box::new(Linear::build(&f, weights)?),
        "conv2d" => Box::new(Conv2d::build(&f, weights)?),
        "relu" => Box::new(Activation::new(ActivationKind::Relu)),
        "leaky_relu" => Box::new(Activation::new(ActivationKind::LeakyRelu(
            f.f64_or("negative_slope", 0.01)?,
        ))),
        "sigmoid" => Box::new(Activation::new(ActivationKind::Sigmoid)),
        "tanh" => Box::new(Activation::new(ActivationKind::Tanh)),
        "softplus" => Box::new(Activation::new(ActivationKind::Softplus)),
        "maxpool2d" => Box::new(MaxPool2d::build(&f)?),
        "avgpool2d" => Box::new(AvgPool2d::build(&f)?),
        "adaptive_avgpool2d" => Box::new(AdaptiveAvgPool2d {
            output_size: f.pair("output_size", None)?,
        }),
        "flatten" => Box::new(Flatten),
        "dropout" => Box::new(Dropout::build(&f)?),
        "batchnorm1d" | "batchnorm2d" => Box::new(BatchNorm::build(&f, weights)?),
        "add" => Box::new(Merge::Add),
        "mul" => Box::new(Merge::Mul),
        "concat" => Box::new(Concat::build(&f)?),
        "identity" => Box::new(Identity),
        "global_avgpool2d" => Box::new(GlobalAvgPool2d),
        "softmax" => Box::new(Softmax::build(&f, false)?),
        "log_softmax" => Box::new(Softmax::build(&f, true)?),
        "conv_transpose2d" => Box::new(ConvTranspose2d::build(&f, weights)?),
        "upsample_nearest2d" => Box::new(Upsample::build(&f, false)?),
        "upsample_bilinear2d" => Box::new(Upsample::build(&f, true)?),
        _ => {
            return Err(NnError::UnknownOp {
                layer: name.into(),
                op: op.into(),
                known: KNOWN_OPS.join(", "),
            });
        }
    })
}
