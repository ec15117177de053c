//! [`Sequential`]: named layers in order, optional input normalisation, shape-checked at
//! construction so a bad architecture fails on load, naming the layer.

use crate::error::{arch, NnError};
use crate::layers::{Ctx, Module};
use crate::model::{Differentiable, Forward, Layered};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use xai_autodiff::{no_grad, with_scope, Var};
use xai_tensor::{DType, Device, Tensor};

/// A layer with its model-file name (the PyTorch `nn.Sequential` child name).
#[derive(Debug)]
pub struct NamedLayer {
    pub name: Arc<str>,
    pub layer: Box<dyn Module>,
}

/// Input standardisation applied before the first layer: x' = (x − mean)/std, per feature
/// (one value per input element) or per channel (one per `input_shape[0]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalize {
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

/// A feed-forward model: normalisation, then each layer in order.
#[derive(Debug)]
pub struct Sequential {
    input_shape: Vec<usize>,
    layers: Vec<NamedLayer>,
    normalize: Option<Normalize>,
    /// Per-example output shape of each layer.
    shapes: Vec<Vec<usize>>,
}

impl Sequential {
    /// Builds a model, checking that every layer accepts the shape arriving at it.
    ///
    /// **Errors** naming the first layer that cannot take its input, or a malformed `normalize`.
    pub fn new(
        input_shape: Vec<usize>,
        layers: Vec<NamedLayer>,
        normalize: Option<Normalize>,
    ) -> Result<Self> {
        if input_shape.is_empty() || input_shape.contains(&0) {
            return Err(NnError::Input(format!(
                "input_shape {input_shape:?} must be non-empty and positive"
            )));
        }
        check_normalize(&input_shape, normalize.as_ref())?;
        let mut shapes = Vec::with_capacity(layers.len());
        let mut cur = input_shape.clone();
        for l in &layers {
            cur = l
                .layer
                .out_shape(&cur)
                .map_err(|m| arch(&l.name, l.layer.op(), m))?;
            shapes.push(cur.clone());
        }
        if layers.is_empty() {
            return Err(NnError::Input("a model needs at least one layer".into()));
        }
        Ok(Self {
            input_shape,
            layers,
            normalize,
            shapes,
        })
    }

    /// Shape of one example (owned).
    pub fn input_shape_vec(&self) -> Vec<usize> {
        self.input_shape.clone()
    }

    /// Sets (or removes) the input normalisation. **Errors** if its length fits neither the
    /// channels nor the features.
    pub fn set_normalize(&mut self, normalize: Option<Normalize>) -> Result<()> {
        check_normalize(&self.input_shape, normalize.as_ref())?;
        self.normalize = normalize;
        Ok(())
    }

    /// The layers in order.
    pub fn layers(&self) -> &[NamedLayer] {
        &self.layers
    }

    /// Mutable layers (optimizers update parameters through these).
    pub fn layers_mut(&mut self) -> &mut [NamedLayer] {
        &mut self.layers
    }

    /// The input normalisation, if any.
    pub fn normalize(&self) -> Option<&Normalize> {
        self.normalize.as_ref()
    }

    /// Per-example output shape of each layer.
    pub fn layer_shapes(&self) -> &[Vec<usize>] {
        &self.shapes
    }

    /// Index of the layer called `name`.
    pub fn layer_index(&self, name: &str) -> Option<usize> {
        self.layers.iter().position(|l| &*l.name == name)
    }

    /// Number of outputs per example (the last layer's size).
    pub fn num_outputs(&self) -> usize {
        self.shapes.last().map(|s| s.iter().product()).unwrap_or(0)
    }

    /// Checks a batch `[N, ...input_shape]` (or one example `input_shape`, which gets a batch
    /// axis) and converts it to f32. NaN or infinite values are refused unless allowed.
    pub fn check_input(&self, x: &Tensor, allow_non_finite: bool) -> Result<Tensor> {
        let x = if x.shape() == self.input_shape.as_slice() {
            let mut s = vec![1];
            s.extend(&self.input_shape);
            x.reshape(&s)?
        } else if x.rank() == self.input_shape.len() + 1 && x.shape()[1..] == self.input_shape[..] {
            x.clone()
        } else {
            return Err(NnError::Input(format!(
                "shape {:?} does not match the model's input shape {:?} (expected [N, {}])",
                x.shape(),
                self.input_shape,
                self.input_shape
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        };
        // Checked after the conversion: an f64 value beyond f32's range becomes infinite.
        let x = x.to_dtype(DType::F32)?;
        if !allow_non_finite && x.has_non_finite()? {
            return Err(NnError::Input(
                "contains NaN or infinite values (in f32, the compute type)".into(),
            ));
        }
        Ok(x)
    }

    /// This model with every parameter and buffer (batch norm's running statistics) on
    /// `device`; its input normalisation follows the input's device. Parameters stay leaves
    /// that require gradients.
    ///
    /// **Errors** if the device cannot hold them (a build without CUDA, no usable GPU).
    pub fn to_device(mut self, device: Device) -> Result<Self> {
        for l in &mut self.layers {
            for (_, p) in l.layer.params_mut() {
                *p = Var::leaf(p.value().to_device(device)?);
            }
            for (_, b) in l.layer.buffers_mut() {
                *b = b.to_device(device)?;
            }
        }
        Ok(self)
    }

    /// This model with every parameter and buffer converted to `dtype`: `F64` for
    /// finite-difference checks and second-order references (its inputs must then be f64
    /// too). Parameters stay leaves that require gradients.
    ///
    /// **Errors** if a tensor cannot be converted on its device.
    pub fn to_dtype(mut self, dtype: DType) -> Result<Self> {
        for l in &mut self.layers {
            for (_, p) in l.layer.params_mut() {
                *p = Var::leaf(p.value().to_dtype(dtype)?);
            }
            for (_, b) in l.layer.buffers_mut() {
                *b = b.to_dtype(dtype)?;
            }
        }
        Ok(self)
    }

    pub(crate) fn normalized(&self, x: &Var) -> xai_tensor::Result<Var> {
        let Some(n) = &self.normalize else {
            return Ok(x.clone());
        };
        let mut shape = vec![1; self.input_shape.len() + 1];
        if n.mean.len() == self.input_shape.iter().product::<usize>() {
            shape[1..].copy_from_slice(&self.input_shape);
        } else {
            shape[1] = n.mean.len();
        }
        let (dtype, device) = (x.value().dtype(), x.value().device());
        let mean = Tensor::from_slice(&n.mean, &shape)?
            .to_dtype(dtype)?
            .to_device(device)?;
        let std = Tensor::from_slice(&n.std, &shape)?
            .to_dtype(dtype)?
            .to_device(device)?;
        x.sub(&Var::constant(mean))?.div(&Var::constant(std))
    }

    /// Forward pass returning every layer's output, each layer run in its own scope (its name
    /// tags the recorded ops, for gradient rules).
    pub fn forward_trace_ctx(&self, x: &Var, ctx: &mut Ctx) -> Result<Vec<Var>> {
        self.run_layers(0, self.normalized(x)?, ctx)
    }

    /// Runs layers `start..` on `x`, each in its own scope, returning every output.
    fn run_layers(&self, start: usize, x: Var, ctx: &mut Ctx) -> Result<Vec<Var>> {
        let mut cur = x;
        let mut outs = Vec::with_capacity(self.layers.len().saturating_sub(start));
        for l in self.layers.iter().skip(start) {
            cur = with_scope(&l.name, || l.layer.forward(&cur, ctx))
                .map_err(|e| arch(&l.name, l.layer.op(), e.to_string()))?;
            outs.push(cur.clone());
        }
        Ok(outs)
    }

    /// Forward pass with a given context (training or inference).
    pub fn forward_ctx(&self, x: &Var, ctx: &mut Ctx) -> Result<Var> {
        let mut outs = self.forward_trace_ctx(x, ctx)?;
        outs.pop()
            .ok_or_else(|| NnError::Input("a model needs at least one layer".into()))
    }

    /// All trainable parameters as (`layer.suffix`, var).
    pub fn named_params(&self) -> Vec<(String, &Var)> {
        self.layers
            .iter()
            .flat_map(|l| {
                l.layer
                    .params()
                    .into_iter()
                    .map(move |(s, v)| (format!("{}.{s}", l.name), v))
            })
            .collect()
    }
}

fn check_normalize(input_shape: &[usize], normalize: Option<&Normalize>) -> Result<()> {
    if let Some(n) = normalize {
        let ok_len = |l: usize| l == input_shape[0] || l == input_shape.iter().product::<usize>();
        if n.mean.len() != n.std.len() || !ok_len(n.mean.len()) {
            return Err(NnError::Input(format!(
                    "normalize needs one mean and std per channel ({}) or per feature ({}), got {} and {}",
                    input_shape[0],
                    input_shape.iter().product::<usize>(),
                    n.mean.len(),
                    n.std.len()
                )));
        }
        if n.std.iter().any(|&s| s <= 0.0 || !s.is_finite()) {
            return Err(NnError::Input(
                "normalize: every std must be positive".into(),
            ));
        }
    }
    Ok(())
}

impl Forward for Sequential {
    fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }
    fn predict(&self, x: &Tensor) -> Result<Tensor> {
        no_grad(|| self.forward_ctx(&Var::constant(x.clone()), &mut Ctx::eval()))
            .map(|v| v.value().clone())
    }
    /// The device of the first parameter (the CPU for a model without parameters).
    fn device(&self) -> Device {
        self.named_params()
            .first()
            .map_or(Device::Cpu, |(_, v)| v.value().device())
    }
}

impl Differentiable for Sequential {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.forward_ctx(x, &mut Ctx::eval())
    }
}

impl Layered for Sequential {
    fn layer_names(&self) -> Vec<String> {
        self.layers.iter().map(|l| l.name.to_string()).collect()
    }
    fn forward_trace(&self, x: &Var) -> Result<Vec<Var>> {
        self.forward_trace_ctx(x, &mut Ctx::eval())
    }
    fn forward_from(&self, layer: usize, activation: &Var) -> Result<Var> {
        let outs = self.run_layers(layer + 1, activation.clone(), &mut Ctx::eval())?;
        Ok(outs.last().cloned().unwrap_or_else(|| activation.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Activation, ActivationKind, BatchNorm, Dropout, Linear};
    use xai_autodiff::grad_tensors;
    use xai_tensor::Rng;

    fn t(v: &[f64], s: &[usize]) -> Tensor {
        Tensor::from_slice(v, s)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap()
    }

    fn layer(name: &str, layer: Box<dyn Module>) -> NamedLayer {
        NamedLayer {
            name: name.into(),
            layer,
        }
    }

    #[test]
    fn normalisation_is_part_of_the_model_so_gradients_stay_in_raw_input_space() {
        // f(x) = w·(x − m)/s: ∂f/∂x = w/s.
        let lin = Linear {
            weight: Var::leaf(t(&[1.0, 2.0, 3.0], &[1, 3])),
            bias: None,
        };
        let norm = Normalize {
            mean: vec![1.0, 2.0, 3.0],
            std: vec![2.0, 4.0, 0.5],
        };
        let m = Sequential::new(vec![3], vec![layer("l", Box::new(lin))], Some(norm)).unwrap();
        let x = Var::leaf(t(&[1.0, 1.0, 1.0], &[1, 3]));
        let y = m.forward(&x).unwrap();
        assert_eq!(
            y.value().to_vec_f32().unwrap(),
            vec![(0.0 * 1.0 + -1.0 / 4.0 * 2.0 + -2.0 / 0.5 * 3.0) as f32]
        );
        let g = grad_tensors(&y, None, &[&x], None).unwrap();
        assert_eq!(g[0].to_vec_f32().unwrap(), vec![0.5, 0.5, 6.0]);
    }

    #[test]
    fn batchnorm_uses_running_statistics_at_inference_and_batch_statistics_in_training() {
        let bn = BatchNorm {
            weight: Var::leaf(t(&[2.0], &[1])),
            bias: Var::leaf(t(&[1.0], &[1])),
            running_mean: t(&[1.0], &[1]),
            running_var: t(&[4.0], &[1]),
            eps: 0.0,
            spatial: false,
        };
        let m = Sequential::new(vec![1], vec![layer("bn", Box::new(bn))], None).unwrap();
        let x = Var::constant(t(&[3.0, 5.0], &[2, 1]));
        let eval = m
            .forward_ctx(&x, &mut Ctx::eval())
            .unwrap()
            .value()
            .to_vec_f32()
            .unwrap();
        assert_eq!(eval, vec![3.0, 5.0], "(x − 1)/2·2 + 1");
        let train = m
            .forward_ctx(&x, &mut Ctx::train(0))
            .unwrap()
            .value()
            .to_vec_f32()
            .unwrap();
        assert_eq!(train, vec![-1.0, 3.0], "batch mean 4, variance 1");
    }

    #[test]
    fn to_dtype_converts_parameters_and_buffers_and_keeps_the_function() {
        let bn = BatchNorm {
            weight: Var::leaf(t(&[2.0, 0.5], &[2])),
            bias: Var::leaf(t(&[1.0, -1.0], &[2])),
            running_mean: t(&[1.0, 0.0], &[2]),
            running_var: t(&[4.0, 1.0], &[2]),
            eps: 1e-5,
            spatial: false,
        };
        let lin = Linear {
            weight: Var::leaf(t(&[1.0, -2.0], &[1, 2])),
            bias: Some(Var::leaf(t(&[0.25], &[1]))),
        };
        let layers = vec![layer("bn", Box::new(bn)), layer("l", Box::new(lin))];
        let m = Sequential::new(vec![2], layers, None).unwrap();
        let x = t(&[3.0, 5.0, -1.0, 2.0], &[2, 2]);
        let y32 = m.predict(&x).unwrap().to_vec_f64().unwrap();
        let m = m.to_dtype(DType::F64).unwrap();
        assert!(m
            .named_params()
            .iter()
            .all(|(_, p)| p.value().dtype() == DType::F64 && p.requires_grad()));
        assert!(m.layers()[0]
            .layer
            .buffers()
            .iter()
            .all(|(_, b)| b.dtype() == DType::F64));
        let y64 = m.predict(&x.to_dtype(DType::F64).unwrap()).unwrap();
        assert_eq!(y64.dtype(), DType::F64);
        for (a, b) in y64.to_vec_f64().unwrap().iter().zip(y32) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn dropout_is_identity_at_inference_and_seeded_inverted_dropout_in_training() {
        let m = Sequential::new(
            vec![1000],
            vec![layer("d", Box::new(Dropout { p: 0.25 }))],
            None,
        )
        .unwrap();
        let x = Var::constant(Tensor::ones(&[1, 1000], DType::F32));
        assert!(m
            .forward(&x)
            .unwrap()
            .value()
            .to_vec_f32()
            .unwrap()
            .iter()
            .all(|&v| v == 1.0));
        let a = m
            .forward_ctx(&x, &mut Ctx::train(5))
            .unwrap()
            .value()
            .to_vec_f32()
            .unwrap();
        let b = m
            .forward_ctx(&x, &mut Ctx::train(5))
            .unwrap()
            .value()
            .to_vec_f32()
            .unwrap();
        assert_eq!(a, b);
        let kept = a.iter().filter(|&&v| v != 0.0).count();
        assert!(
            (700..800).contains(&kept)
                && a.iter().all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-6)
        );
    }

    #[test]
    fn inputs_are_checked_and_traces_tap_every_layer() {
        let lin = Linear {
            weight: Var::leaf(Rng::new(1).normal(&[2, 3], 0.0, 1.0, DType::F32).unwrap()),
            bias: None,
        };
        let m = Sequential::new(
            vec![3],
            vec![
                layer("l", Box::new(lin)),
                layer("r", Box::new(Activation::new(ActivationKind::Relu))),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            m.check_input(&t(&[1.0, 2.0, 3.0], &[3]), false)
                .unwrap()
                .shape(),
            &[1, 3]
        );
        assert!(m.check_input(&t(&[1.0, 2.0], &[2]), false).is_err());
        assert!(m
            .check_input(&t(&[1.0, f64::NAN, 3.0], &[1, 3]), false)
            .is_err());
        assert!(m
            .check_input(&t(&[1.0, f64::NAN, 3.0], &[1, 3]), true)
            .is_ok());
        // Finite in f64, infinite in f32: refused too.
        let huge = Tensor::from_slice(&[1.0f64, 1e300, 3.0], &[1, 3]).unwrap();
        let e = m.check_input(&huge, false).unwrap_err().to_string();
        assert!(e.contains("NaN or infinite values (in f32"), "{e}");
        let trace = m
            .forward_trace(&Var::leaf(t(&[1.0, -2.0, 0.5], &[1, 3])))
            .unwrap();
        assert_eq!(trace.len(), 2);
        assert_eq!(
            trace[1].value().to_vec_f32().unwrap(),
            trace[0].value().relu().unwrap().to_vec_f32().unwrap()
        );
        assert_eq!(trace[1].scope(), Some("r"));
        let from = m.forward_from(0, &trace[0]).unwrap();
        assert_eq!(
            from.value().to_vec_f32().unwrap(),
            trace[1].value().to_vec_f32().unwrap()
        );
    }
}
