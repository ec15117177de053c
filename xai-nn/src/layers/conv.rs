//! 2-D convolution and its transpose (PyTorch's `nn.Conv2d`, `nn.ConvTranspose2d`, groups = 1).

use super::{Fields, Init, Module, WeightFn};
use serde_json::{json, Map, Value};
use xai_autodiff::Var;
use xai_tensor::{Conv2dParams, ConvTranspose2dParams};

/// Cross-correlation of `[C, H, W]` inputs with `W: [O, C, kh, kw]`, plus optional bias `[O]`.
#[derive(Debug)]
pub struct Conv2d {
    pub weight: Var,
    pub bias: Option<Var>,
    pub params: Conv2dParams,
}

/// The fields both convolutions share: channels in and out, kernel size, stride, padding and
/// dilation (positive where they must be).
struct Geometry {
    c: usize,
    o: usize,
    k: [usize; 2],
    conv: Conv2dParams,
}

impl Geometry {
    fn read(f: &Fields) -> crate::Result<Self> {
        let (c, o) = (f.usize("in_channels")?, f.usize("out_channels")?);
        let k = f.pair("kernel_size", None)?;
        f.only_default("groups", |v| v.as_u64() == Some(1), "groups 1 only")?;
        f.only_default(
            "padding_mode",
            |v| v.as_str() == Some("zeros"),
            "'zeros' only",
        )?;
        let conv = Conv2dParams {
            stride: f.pair("stride", Some([1, 1]))?,
            padding: f.pair("padding", Some([0, 0]))?,
            dilation: f.pair("dilation", Some([1, 1]))?,
        };
        if conv.stride.contains(&0) || conv.dilation.contains(&0) || k.contains(&0) {
            return Err(crate::error::arch(
                f.name,
                f.op,
                "kernel_size, stride and dilation must be positive",
            ));
        }
        Ok(Self { c, o, k, conv })
    }

    /// PyTorch's initialisation bound 1/√fan_in for a fan-in of `channels`·kh·kw.
    fn bound(&self, f: &Fields, channels: usize) -> crate::Result<f64> {
        let fan_in = channels
            .checked_mul(self.k[0])
            .and_then(|v| v.checked_mul(self.k[1]))
            .ok_or_else(|| crate::error::arch(f.name, f.op, "the kernel is too large"))?;
        Ok(1.0 / (fan_in.max(1) as f64).sqrt())
    }
}

/// The `[H, W]` of a `[C, H, W]` input with `channels` channels, or why it is not one.
fn image_size(input: &[usize], channels: usize) -> Result<[usize; 2], String> {
    match input {
        [c, h, w] if *c == channels => Ok([*h, *w]),
        [_, _, _] => Err(format!(
            "expects {channels} input channels but receives shape {input:?}"
        )),
        _ => Err(format!(
            "expects a [C, H, W] input but receives shape {input:?}"
        )),
    }
}

impl Conv2d {
    pub(crate) fn build(f: &Fields, weights: &mut WeightFn) -> crate::Result<Self> {
        let g = Geometry::read(f)?;
        let (c, o, k, params) = (g.c, g.o, g.k, g.conv);
        let bound = g.bound(f, c)?;
        let weight =
            weights("weight", &[o, c, k[0], k[1]], Init::Uniform(bound), true)?.map(Var::leaf);
        let bias = super::bias(f, weights, o, bound)?;
        Ok(Self {
            weight: weight.expect("required tensor"),
            bias,
            params,
        })
    }
}

impl Module for Conv2d {
    /// Affine: centre through the layer, radius through |W| without the bias.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        Some(
            inputs[0].through_weights(&self.weight, self.bias.as_ref(), |x, w, b| {
                x.conv2d(w, b, self.params)
            }),
        )
    }
    fn op(&self) -> &'static str {
        "conv2d"
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        let x = &inputs[0];
        x.conv2d(&self.weight, self.bias.as_ref(), self.params)
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let input = inputs[0];
        let w = self.weight.shape();
        let [h, wd] = image_size(input, w[1])?;
        match (
            self.params.out_size(0, h, w[2]),
            self.params.out_size(1, wd, w[3]),
        ) {
            (Some(oh), Some(ow)) => Ok(vec![w[0], oh, ow]),
            _ => Err(format!(
                "a {}x{} kernel does not fit the input of shape {input:?}",
                w[2], w[3]
            )),
        }
    }
    fn spec(&self) -> Map<String, Value> {
        let w = self.weight.shape();
        let p = &self.params;
        let mut m = json!({"in_channels": w[1], "out_channels": w[0], "kernel_size": [w[2], w[3]],
            "stride": p.stride, "padding": p.padding})
        .as_object()
        .cloned()
        .unwrap_or_default();
        if p.dilation != [1, 1] {
            m.insert("dilation".into(), json!(p.dilation));
        }
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

/// Transposed 2-D convolution (PyTorch's `nn.ConvTranspose2d`, groups = 1): the adjoint of a
/// convolution in its input, `[C, H, W]` → `[O, Ho, Wo]` with
/// `Ho = (H − 1)·s − 2p + d(kh − 1) + output_padding + 1`, weight `W: [C, O, kh, kw]` (PyTorch's
/// layout), optional bias `[O]`.
#[derive(Debug)]
pub struct ConvTranspose2d {
    pub weight: Var,
    pub bias: Option<Var>,
    pub params: ConvTranspose2dParams,
}

impl ConvTranspose2d {
    pub(crate) fn build(f: &Fields, weights: &mut WeightFn) -> crate::Result<Self> {
        let g = Geometry::read(f)?;
        let (c, o, k) = (g.c, g.o, g.k);
        let params = ConvTranspose2dParams {
            stride: g.conv.stride,
            padding: g.conv.padding,
            output_padding: f.pair("output_padding", Some([0, 0]))?,
            dilation: g.conv.dilation,
        };
        for axis in 0..2 {
            let (op, s, d) = (
                params.output_padding[axis],
                params.stride[axis],
                params.dilation[axis],
            );
            if op >= s && op >= d {
                return Err(crate::error::arch(
                    f.name,
                    f.op,
                    format!("output_padding {op} must be below the stride {s} or the dilation {d}"),
                ));
            }
        }
        // PyTorch's fan-in of a transposed convolution: weight.size(1)·kh·kw.
        let bound = g.bound(f, o)?;
        let weight =
            weights("weight", &[c, o, k[0], k[1]], Init::Uniform(bound), true)?.map(Var::leaf);
        let bias = super::bias(f, weights, o, bound)?;
        Ok(Self {
            weight: weight.expect("required tensor"),
            bias,
            params,
        })
    }
}

impl Module for ConvTranspose2d {
    /// Affine: centre through the layer, radius through |W| without the bias.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        Some(
            inputs[0].through_weights(&self.weight, self.bias.as_ref(), |x, w, b| {
                x.conv_transpose2d(w, b, self.params)
            }),
        )
    }
    fn op(&self) -> &'static str {
        "conv_transpose2d"
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        inputs[0].conv_transpose2d(&self.weight, self.bias.as_ref(), self.params)
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let w = self.weight.shape();
        let [h, wd] = image_size(inputs[0], w[0])?;
        let oh = self
            .params
            .out_size(0, h, w[2])
            .map_err(|e| e.to_string())?;
        let ow = self
            .params
            .out_size(1, wd, w[3])
            .map_err(|e| e.to_string())?;
        Ok(vec![w[1], oh, ow])
    }
    fn spec(&self) -> Map<String, Value> {
        let w = self.weight.shape();
        let p = &self.params;
        let mut m = json!({"in_channels": w[0], "out_channels": w[1], "kernel_size": [w[2], w[3]],
            "stride": p.stride, "padding": p.padding, "output_padding": p.output_padding,
            "dilation": p.dilation})
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
