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
use crate::interval::Interval;
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
    /// Updates non-trainable state from a training batch's input to this layer and the output
    /// it gave (batch norm's running statistics); called by the trainer after each training
    /// forward pass.
    fn update_running_stats(
        &mut self,
        _input: &xai_tensor::Tensor,
        _output: &Var,
    ) -> xai_tensor::Result<()> {
        Ok(())
    }
    /// Bounds of the output over every input in the boxes `inputs` (interval bound
    /// propagation, [`crate::interval`]), or `None` where the op has no interval rule.
    fn interval(&self, _inputs: &[Interval]) -> Option<xai_tensor::Result<Interval>> {
        None
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

/// The bias `[out]` of a linear or convolution layer: required (in the weights file, or drawn
/// from U(−bound, bound)) unless the entry says `"bias": false`, as PyTorch's `bias=False`.
pub(crate) fn bias(
    f: &Fields,
    weights: &mut WeightFn,
    out: usize,
    bound: f64,
) -> crate::Result<Option<Var>> {
    if !f.bool_or("bias", true)? {
        return Ok(None);
    }
    Ok(weights("bias", &[out], Init::Uniform(bound), true)?.map(Var::leaf))
}

/// Writes `"bias": false` into a layer's spec when it has no bias.
pub(crate) fn note_no_bias(spec: &mut Map<String, Value>, bias: &Option<Var>) {
    if bias.is_none() {
        spec.insert("bias".into(), Value::Bool(false));
    }
}

/// Provides a layer's tensors: from a weights file, or freshly initialised.
/// `get(suffix, shape, init, required)` returns the tensor, `None` for an absent optional one.
pub type WeightFn<'a> = dyn FnMut(&str, &[usize], Init, bool) -> crate::Result<Option<Tensor>> + 'a;

/// Reads typed fields of one layer entry, naming the layer in errors, and remembers which
/// keys were read so that [`build`] can refuse the ones no layer reads.
pub(crate) struct Fields<'a> {
    pub name: &'a str,
    pub op: &'a str,
    map: &'a Map<String, Value>,
    read: std::cell::RefCell<Vec<String>>,
}

/// Keys of a layer entry that the model file itself reads, not the layer, and PyTorch's
/// `inplace` (which changes no value).
const ENTRY_KEYS: &[&str] = &["name", "op", "inputs", "inplace"];

/// Whether a pair field (`3` or `[3, 3]`) is `n` on both axes.
pub(crate) fn pair_is(v: &Value, n: u64) -> bool {
    match v {
        Value::Number(x) => x.as_u64() == Some(n),
        Value::Array(a) => a.len() == 2 && a.iter().all(|x| x.as_u64() == Some(n)),
        _ => false,
    }
}

impl<'a> Fields<'a> {
    fn new(name: &'a str, op: &'a str, map: &'a Map<String, Value>) -> Self {
        Self {
            name,
            op,
            map,
            read: Default::default(),
        }
    }
    /// The raw value of `key`, recorded as read.
    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.read.borrow_mut().push(key.to_string());
        self.map.get(key)
    }
    fn err(&self, msg: String) -> NnError {
        arch(self.name, self.op, msg)
    }
    /// The first key that no accessor read (PyTorch fields this op does not support, or a
    /// typo): such a file is refused rather than run with the field ignored.
    fn check_all_read(&self) -> crate::Result<()> {
        let read = self.read.borrow();
        match self
            .map
            .keys()
            .find(|k| !ENTRY_KEYS.contains(&k.as_str()) && !read.contains(k))
        {
            Some(k) => {
                let mut known: Vec<&str> = read.iter().map(String::as_str).collect();
                known.sort_unstable();
                known.dedup();
                let known = if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                };
                Err(self.err(format!("unknown field '{k}' (this op's fields: {known})")))
            }
            None => Ok(()),
        }
    }
    /// A field this op accepts only at PyTorch's default (`ok` says which values are that),
    /// refusing any other value with what is supported.
    pub fn only_default(
        &self,
        key: &str,
        ok: impl Fn(&Value) -> bool,
        supported: &str,
    ) -> crate::Result<()> {
        match self.get(key) {
            Some(v) if !v.is_null() && !ok(v) => {
                Err(self.err(format!("'{key}' {v} is not supported ({supported})")))
            }
            _ => Ok(()),
        }
    }
    /// A boolean field, `default` when absent.
    pub fn bool_or(&self, key: &str, default: bool) -> crate::Result<bool> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.err(format!("'{key}' must be true or false, got {v}"))),
        }
    }
    pub fn usize(&self, key: &str) -> crate::Result<usize> {
        match self.get(key) {
            Some(v) => v.as_u64().map(|x| x as usize).ok_or_else(|| {
                self.err(format!("'{key}' must be a non-negative integer, got {v}"))
            }),
            None => Err(self.err(format!("missing field '{key}'"))),
        }
    }
    pub fn usize_or(&self, key: &str, default: usize) -> crate::Result<usize> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(_) => self.usize(key),
        }
    }
    pub fn f64_or(&self, key: &str, default: f64) -> crate::Result<f64> {
        match self.get(key) {
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
        match self.get(key) {
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
    let f = Fields::new(name, op, map);
    let layer: Box<dyn Module> = match op {
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
        "flatten" => {
            f.only_default(
                "start_dim",
                |v| v.as_i64() == Some(1),
                "flattening from dim 1 only",
            )?;
            f.only_default(
                "end_dim",
                |v| v.as_i64() == Some(-1),
                "to the last dim only",
            )?;
            Box::new(Flatten)
        }
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
    };
    f.check_all_read()?;
    Ok(layer)
}
