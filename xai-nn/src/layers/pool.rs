//! Pooling layers (no padding, floor mode: PyTorch's defaults).

use super::{Fields, Module};
use serde_json::{json, Map, Value};
use xai_autodiff::Var;
use xai_tensor::{Pool2dParams, PoolBins};

fn pool_params(f: &Fields) -> crate::Result<Pool2dParams> {
    let kernel = f.pair("kernel_size", None)?;
    let stride = f.pair("stride", Some(kernel))?;
    let zero = |v: &serde_json::Value| super::pair_is(v, 0);
    f.only_default("padding", zero, "padding 0 only")?;
    f.only_default(
        "ceil_mode",
        |v| v.as_bool() == Some(false),
        "floor mode only",
    )?;
    if kernel.contains(&0) || stride.contains(&0) {
        return Err(crate::error::arch(
            f.name,
            f.op,
            "kernel_size and stride must be positive",
        ));
    }
    Ok(Pool2dParams { kernel, stride })
}

fn pooled_shape(input: &[usize], p: Pool2dParams) -> Result<Vec<usize>, String> {
    let [c, h, w] = input else {
        return Err(format!(
            "expects a [C, H, W] input but receives shape {input:?}"
        ));
    };
    let bins = PoolBins::fixed([*h, *w], p).ok_or_else(|| {
        format!(
            "window {:?} does not fit the input of shape {input:?}",
            p.kernel
        )
    })?;
    Ok(vec![*c, bins.h.len(), bins.w.len()])
}

fn pool_spec(p: &Pool2dParams) -> Map<String, Value> {
    json!({"kernel_size": p.kernel, "stride": p.stride})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// Max pooling.
#[derive(Debug)]
pub struct MaxPool2d {
    pub params: Pool2dParams,
}

impl MaxPool2d {
    pub(crate) fn build(f: &Fields) -> crate::Result<Self> {
        f.only_default("dilation", |v| super::pair_is(v, 1), "dilation 1 only")?;
        f.only_default(
            "return_indices",
            |v| v.as_bool() == Some(false),
            "false only",
        )?;
        Ok(Self {
            params: pool_params(f)?,
        })
    }
}

impl Module for MaxPool2d {
    /// Monotone non-decreasing: the op on both ends.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        Some(crate::interval::Interval::monotone(self, inputs))
    }

    fn op(&self) -> &'static str {
        "maxpool2d"
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        let x = &inputs[0];
        x.max_pool2d(self.params)
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let input = inputs[0];
        pooled_shape(input, self.params)
    }
    fn spec(&self) -> Map<String, Value> {
        pool_spec(&self.params)
    }
}

/// Average pooling.
#[derive(Debug)]
pub struct AvgPool2d {
    pub params: Pool2dParams,
}

impl AvgPool2d {
    pub(crate) fn build(f: &Fields) -> crate::Result<Self> {
        // Without padding, count_include_pad changes nothing.
        f.bool_or("count_include_pad", true)?;
        f.only_default("divisor_override", |_| false, "none only")?;
        Ok(Self {
            params: pool_params(f)?,
        })
    }
}

impl Module for AvgPool2d {
    /// Monotone non-decreasing: the op on both ends.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        Some(crate::interval::Interval::monotone(self, inputs))
    }

    fn op(&self) -> &'static str {
        "avgpool2d"
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        let x = &inputs[0];
        x.avg_pool2d(self.params)
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let input = inputs[0];
        pooled_shape(input, self.params)
    }
    fn spec(&self) -> Map<String, Value> {
        pool_spec(&self.params)
    }
}

/// Adaptive average pooling to a fixed output size.
#[derive(Debug)]
pub struct AdaptiveAvgPool2d {
    pub output_size: [usize; 2],
}

impl Module for AdaptiveAvgPool2d {
    /// Monotone non-decreasing: the op on both ends.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        Some(crate::interval::Interval::monotone(self, inputs))
    }

    fn op(&self) -> &'static str {
        "adaptive_avgpool2d"
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        let x = &inputs[0];
        x.adaptive_avg_pool2d(self.output_size)
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let input = inputs[0];
        match input {
            [c, h, w] if *h > 0 && *w > 0 && !self.output_size.contains(&0) => {
                Ok(vec![*c, self.output_size[0], self.output_size[1]])
            }
            _ => Err(format!(
                "cannot pool an input of shape {input:?} to {:?}",
                self.output_size
            )),
        }
    }
    fn spec(&self) -> Map<String, Value> {
        json!({"output_size": self.output_size})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }
}

/// Global average pooling: `[C, H, W]` → `[C]`, yᶜ = (1/HW) Σₕ,ᵥ xᶜₕᵥ (`x.mean((2, 3))`;
/// `nn.AdaptiveAvgPool2d(1)` followed by a flatten). Runs as average pooling, so LRP's pooling
/// rule applies to it.
#[derive(Debug)]
pub struct GlobalAvgPool2d;

impl Module for GlobalAvgPool2d {
    /// Monotone non-decreasing: the op on both ends.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        Some(crate::interval::Interval::monotone(self, inputs))
    }

    fn op(&self) -> &'static str {
        "global_avgpool2d"
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        inputs[0].adaptive_avg_pool2d([1, 1])?.flatten_from(1)
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        match inputs[0] {
            [c, h, w] if *h > 0 && *w > 0 => Ok(vec![*c]),
            input => Err(format!(
                "expects a [C, H, W] input but receives shape {input:?}"
            )),
        }
    }
    fn spec(&self) -> Map<String, Value> {
        Map::new()
    }
}
