//! Upsampling (PyTorch's `nn.Upsample` / `F.interpolate`, nearest and bilinear), a decoder's
//! way back to the input's size.

use super::{Fields, Module};
use serde_json::{json, Map, Value};
use xai_autodiff::Var;
use xai_tensor::UpsampleSize;

/// Nearest or bilinear resampling of `[C, H, W]` to a size or by scale factors (formulas in
/// [`xai_tensor::resample`]).
#[derive(Debug)]
pub struct Upsample {
    pub size: UpsampleSize,
    /// Bilinear (with `align_corners`) rather than nearest.
    pub bilinear: Option<bool>,
}

impl Upsample {
    /// `size: [H, W]` or `scale_factor` (a number or a pair); bilinear takes `align_corners`
    /// (false by default, PyTorch's).
    pub(crate) fn build(f: &Fields, bilinear: bool) -> crate::Result<Self> {
        let err = |m: &str| crate::error::arch(f.name, f.op, m);
        let size = match (f.get("size"), f.get("scale_factor")) {
            (Some(_), None) => UpsampleSize::Size(f.pair("size", None)?),
            (None, Some(v)) => {
                let s = match v {
                    Value::Number(n) => n.as_f64().map(|x| [x, x]),
                    Value::Array(a) if a.len() == 2 => {
                        a[0].as_f64().zip(a[1].as_f64()).map(|(a, b)| [a, b])
                    }
                    _ => None,
                }
                .ok_or_else(|| err("'scale_factor' must be a number or a list of two"))?;
                if !s.iter().all(|x| x.is_finite() && *x > 0.0) {
                    return Err(err("'scale_factor' must be finite and positive"));
                }
                UpsampleSize::Scale(s)
            }
            _ => return Err(err("needs exactly one of 'size' and 'scale_factor'")),
        };
        let align = match f.get("align_corners") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(err("'align_corners' must be true or false")),
        };
        if !bilinear && align {
            return Err(err("align_corners applies to bilinear upsampling only"));
        }
        Ok(Self {
            size,
            bilinear: bilinear.then_some(align),
        })
    }
}

impl Module for Upsample {
    /// Monotone non-decreasing: the op on both ends.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        Some(crate::interval::Interval::monotone(self, inputs))
    }

    fn op(&self) -> &'static str {
        if self.bilinear.is_some() {
            "upsample_bilinear2d"
        } else {
            "upsample_nearest2d"
        }
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        match self.bilinear {
            Some(align) => inputs[0].upsample_bilinear2d(self.size, align),
            None => inputs[0].upsample_nearest2d(self.size),
        }
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let [c, h, w] = inputs[0] else {
            return Err(format!(
                "expects a [C, H, W] input but receives shape {:?}",
                inputs[0]
            ));
        };
        let [oh, ow] = self.size.resolve([*h, *w]).map_err(|e| e.to_string())?;
        Ok(vec![*c, oh, ow])
    }
    fn spec(&self) -> Map<String, Value> {
        let mut m = match self.size {
            UpsampleSize::Size(s) => json!({ "size": s }),
            UpsampleSize::Scale(s) => json!({ "scale_factor": s }),
        }
        .as_object()
        .cloned()
        .unwrap_or_default();
        if let Some(align) = self.bilinear {
            m.insert("align_corners".into(), Value::Bool(align));
        }
        m
    }
}
