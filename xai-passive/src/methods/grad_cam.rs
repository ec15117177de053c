//! Class activation maps of a convolutional layer's output A ∈ ℝ^{C×H×W}.
//!
//! - `grad-cam` (Selvaraju et al., *Grad-CAM: Visual Explanations from Deep Networks via
//!   Gradient-based Localization*, ICCV 2017): αₖ = (1/HW) Σᵢⱼ ∂y_c/∂Aₖᵢⱼ,
//!   L = ReLU(Σₖ αₖ Aₖ). Captum's `LayerGradCam(..., relu_attributions=True)`.
//! - `cam` (Zhou et al., *Learning Deep Features for Discriminative Localization*, CVPR 2016):
//!   for a layer followed by global average pooling, M = Σₖ w_{c,k} Aₖ with w_{c,k} the weights
//!   of the class-c output on the pooled features, read here as ∂y_c/∂pₖ (exactly the linear
//!   layer's weights when the head after the pooling is linear; its local linearisation
//!   otherwise). No ReLU, as in the paper.
//!
//! - `guided-grad-cam` (Selvaraju et al. 2017, §3.1): guided backpropagation ⊙ the upsampled
//!   Grad-CAM map, input-shaped (bilinear upsampling as in the paper; Captum's `GuidedGradCam`
//!   defaults to nearest).
//!
//! Maps are upsampled to the input's H×W by bilinear interpolation (PyTorch's
//! `F.interpolate(mode="bilinear", align_corners=False)`, what Captum's
//! `LayerAttribution.interpolate` does) and broadcast over the input's channels, so the result
//! has the input's shape `[N, C_in, H, W]`. With `upsample` off the result is
//! the layer's resolution `[N, H_l, W_l]`. The default layer is the last one whose output is
//! `[C, H, W]` with H·W > 1.

use crate::attribution::{Attribution, Explanation};
use crate::config::{at_least_one, MethodConfig};
use crate::objectives::{layer_gradient, resolve_layer, trace_values, Objective};
use crate::DEFAULT_BATCH_SIZE;
use crate::{map_rows, PassiveError, Result};
use xai_nn::Layered;
use xai_tensor::{DType, Tensor};

/// Grad-CAM on `layer` (default: the last `[C, H, W]` layer).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GradCam {
    /// The layer's name in the model (`None`: the last layer with a `[C, H, W]` output).
    pub layer: Option<String>,
    /// Upsample the maps to the input's size (bilinear); `false` keeps the layer's.
    pub upsample: bool,
    /// Examples per model call.
    pub batch_size: usize,
}

impl Default for GradCam {
    fn default() -> Self {
        Self {
            layer: None,
            upsample: true,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for GradCam {
    fn validate(&self) -> Result<()> {
        at_least_one("batch_size", self.batch_size)
    }
}

/// CAM on `layer` (default: the last `[C, H, W]` layer), which must be followed by global
/// average pooling. The same parameters as [`GradCam`].
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Cam(pub GradCam);

impl MethodConfig for Cam {
    fn validate(&self) -> Result<()> {
        self.0.validate()
    }
}

/// Guided Grad-CAM: guided backprop ⊙ upsampled Grad-CAM on `layer`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct GuidedGradCam {
    /// The layer's name in the model (`None`: the last layer with a `[C, H, W]` output).
    pub layer: Option<String>,
    /// Examples per model call.
    pub batch_size: usize,
}

impl Default for GuidedGradCam {
    fn default() -> Self {
        Self {
            layer: None,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for GuidedGradCam {
    fn validate(&self) -> Result<()> {
        at_least_one("batch_size", self.batch_size)
    }
}

impl<M: Layered + ?Sized> Attribution<M> for GuidedGradCam {
    fn name(&self) -> &'static str {
        "guided-grad-cam"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let cam = GradCam {
            layer: self.layer.clone(),
            upsample: true,
            batch_size: self.batch_size,
        }
        .attribute(model, x, targets)?;
        let guided = super::GuidedGradient {
            rule: super::ReluRule::Guided,
            abs: false,
            batch_size: self.batch_size,
        }
        .attribute(model, x, targets)?;
        Ok(Explanation {
            attributions: guided.attributions.mul(&cam.attributions)?,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

/// The layer to take maps of, with its per-example output shape `[C, H, W]`.
fn cam_layer<M: Layered + ?Sized>(
    model: &M,
    x: &Tensor,
    layer: &Option<String>,
    method: &str,
) -> Result<(usize, Vec<Vec<usize>>)> {
    let outs = trace_values(model, &x.narrow(0, 0, 1)?)?;
    let shapes: Vec<Vec<usize>> = outs.iter().map(|t| t.shape()[1..].to_vec()).collect();
    let names = model.layer_names();
    let l = match layer {
        Some(name) => resolve_layer(model, name)?,
        None => shapes
            .iter()
            .rposition(|s| s.len() == 3 && s[1] * s[2] > 1)
            .ok_or_else(|| {
                PassiveError::BadArgument(format!(
                    "{method} needs a layer with a [C, H, W] output; this model has none"
                ))
            })?,
    };
    if shapes[l].len() != 3 {
        return Err(PassiveError::BadArgument(format!(
            "layer '{}' has output shape {:?}; {method} needs a [C, H, W] layer",
            names[l], shapes[l]
        )));
    }
    Ok((l, shapes))
}

/// Bilinear resampling of `[P, h, w]` planes to `[P, oh, ow]` (PyTorch's `align_corners=False`:
/// source coordinate (d + ½)·in/out − ½, clamped at 0).
pub fn bilinear_resize(planes: &[f64], hw: [usize; 2], out: [usize; 2]) -> Vec<f64> {
    let axis = |n_in: usize, n_out: usize| -> Vec<(usize, usize, f64)> {
        let scale = n_in as f64 / n_out as f64;
        (0..n_out)
            .map(|d| {
                let src = ((d as f64 + 0.5) * scale - 0.5).max(0.0);
                let i0 = (src.floor() as usize).min(n_in - 1);
                let i1 = (i0 + 1).min(n_in - 1);
                (i0, i1, src - i0 as f64)
            })
            .collect()
    };
    let (ys, xs) = (axis(hw[0], out[0]), axis(hw[1], out[1]));
    let plane = hw[0] * hw[1];
    let mut v = Vec::with_capacity(planes.len() / plane * out[0] * out[1]);
    for p in planes.chunks(plane) {
        for &(y0, y1, ly) in &ys {
            for &(x0, x1, lx) in &xs {
                let at = |y: usize, x: usize| p[y * hw[1] + x];
                let top = (1.0 - lx) * at(y0, x0) + lx * at(y0, x1);
                let bottom = (1.0 - lx) * at(y1, x0) + lx * at(y1, x1);
                v.push((1.0 - ly) * top + ly * bottom);
            }
        }
    }
    v
}

/// `[n, h, w]` maps as the result: upsampled to the input's plane and broadcast over its
/// channels, or kept as they are.
fn finish(
    maps: Vec<f64>,
    n: usize,
    hw: [usize; 2],
    input: &[usize],
    upsample: bool,
) -> Result<Tensor> {
    if !upsample {
        return Ok(Tensor::from_vec(maps, &[n, hw[0], hw[1]])?.to_dtype(DType::F32)?);
    }
    let &[c, h, w] = input else {
        return Err(PassiveError::BadArgument(format!(
            "cannot upsample a map to an input of shape {input:?} (needs [C, H, W]); set upsample to false"
        )));
    };
    let up = bilinear_resize(&maps, hw, [h, w]);
    let v: Vec<f64> = up
        .chunks(h * w)
        .flat_map(|m| (0..c).flat_map(move |_| m.iter().copied()))
        .collect();
    Ok(Tensor::from_vec(v, &[n, c, h, w])?.to_dtype(DType::F32)?)
}

impl<M: Layered + ?Sized> Attribution<M> for GradCam {
    fn name(&self) -> &'static str {
        "grad-cam"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let x = x.to_dtype(DType::F32)?;
        let (l, shapes) = cam_layer(model, &x, &self.layer, "grad-cam")?;
        let [c, h, w] = shapes[l][..] else {
            unreachable!("checked above")
        };
        let maps = map_rows(&x, self.batch_size, |chunk, rows| {
            let n = chunk.shape()[0];
            let t = &targets[rows];
            let (g, a) = layer_gradient(model, chunk, Objective::Logit(t), Some(l))?;
            let (g, a) = (g.to_vec_f64()?, a.expect("layer activation").to_vec_f64()?);
            let mut out = vec![0.0f64; n * h * w];
            for i in 0..n {
                let o = &mut out[i * h * w..(i + 1) * h * w];
                for k in 0..c {
                    let base = (i * c + k) * h * w;
                    let alpha = g[base..base + h * w].iter().sum::<f64>() / (h * w) as f64;
                    for (o, a) in o.iter_mut().zip(&a[base..base + h * w]) {
                        *o += alpha * a;
                    }
                }
                o.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            Ok(Tensor::from_vec(out, &[n, h, w])?)
        })?;
        let n = x.shape()[0];
        Ok(Explanation {
            attributions: finish(
                maps.to_vec_f64()?,
                n,
                [h, w],
                &x.shape()[1..],
                self.upsample,
            )?,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

impl<M: Layered + ?Sized> Attribution<M> for Cam {
    fn name(&self) -> &'static str {
        "cam"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let Cam(o) = self;
        let x = x.to_dtype(DType::F32)?;
        let (l, shapes) = cam_layer(model, &x, &o.layer, "cam")?;
        let [c, h, w] = shapes[l][..] else {
            unreachable!("checked above")
        };
        let names = model.layer_names();
        let not_gap = || {
            PassiveError::BadArgument(format!(
                "cam needs layer '{}' to be followed by global average pooling (a [{c}, 1, 1] output); use grad-cam",
                names[l]
            ))
        };
        if shapes
            .get(l + 1)
            .map(|s| s[..] != [c, 1, 1])
            .unwrap_or(true)
        {
            return Err(not_gap());
        }
        let maps = map_rows(&x, o.batch_size, |chunk, rows| {
            let n = chunk.shape()[0];
            let t = &targets[rows];
            let (wts, p) = layer_gradient(model, chunk, Objective::Logit(t), Some(l + 1))?;
            let a = trace_values(model, chunk)?.swap_remove(l).to_vec_f64()?;
            let (wts, p) = (
                wts.to_vec_f64()?,
                p.expect("layer activation").to_vec_f64()?,
            );
            let mut out = vec![0.0f64; n * h * w];
            for i in 0..n {
                for k in 0..c {
                    let base = (i * c + k) * h * w;
                    let plane = &a[base..base + h * w];
                    let mean = plane.iter().sum::<f64>() / (h * w) as f64;
                    if (mean - p[i * c + k]).abs() > 1e-4 * (1.0 + mean.abs()) {
                        return Err(not_gap());
                    }
                    let o = &mut out[i * h * w..(i + 1) * h * w];
                    for (o, a) in o.iter_mut().zip(plane) {
                        *o += wts[i * c + k] * a;
                    }
                }
            }
            Ok(Tensor::from_vec(out, &[n, h, w])?)
        })?;
        let n = x.shape()[0];
        Ok(Explanation {
            attributions: finish(maps.to_vec_f64()?, n, [h, w], &x.shape()[1..], o.upsample)?,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::models::*;
    use xai_nn::layers::{AdaptiveAvgPool2d, Flatten};
    use xai_nn::Graph;
    use xai_tensor::Rng;

    #[test]
    fn bilinear_matches_pytorch_align_corners_false() {
        // F.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), (4, 4), mode="bilinear").
        let v = bilinear_resize(&[1.0, 2.0, 3.0, 4.0], [2, 2], [4, 4]);
        let want = [
            1.0, 1.25, 1.75, 2.0, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3.0, 3.25, 3.75, 4.0,
        ];
        assert_eq!(v, want);
        // Downsampling 3 → 2: source 0.25 and 1.75.
        let v = bilinear_resize(&[0.0, 1.0, 2.0], [1, 3], [1, 2]);
        assert_eq!(v, vec![0.25, 1.75]);
    }

    fn gap_model(seed: u64) -> Graph {
        let mut r = Rng::new(seed);
        let conv = xai_nn::layers::Conv2d {
            weight: xai_autodiff::Var::leaf(randn(&mut r, &[4, 2, 3, 3], 0.5)),
            bias: None,
            params: Default::default(),
        };
        Graph::sequential(
            vec![2, 6, 6],
            vec![
                layer("conv", Box::new(conv)),
                layer("relu", act(xai_nn::layers::ActivationKind::Relu)),
                layer(
                    "gap",
                    Box::new(AdaptiveAvgPool2d {
                        output_size: [1, 1],
                    }),
                ),
                layer("flat", Box::new(Flatten)),
                layer("fc", linear(randn(&mut r, &[3, 4], 1.0), None)),
            ],
            None,
        )
        .unwrap()
    }

    #[test]
    fn cam_is_grad_cam_without_relu_on_a_gap_linear_head_and_sums_to_the_logit() {
        let m = gap_model(1);
        let x = randn(&mut Rng::new(2), &[3, 2, 6, 6], 1.0);
        let t = [0, 1, 2];
        let opts = GradCam {
            upsample: false,
            ..Default::default()
        };
        let cam = Cam(opts.clone()).attribute(&m, &x, &t).unwrap();
        let gc = opts.attribute(&m, &x, &t).unwrap();
        assert_eq!(cam.attributions.shape(), &[3, 4, 4]);
        // Grad-CAM weights are the fc weights / HW, so Grad-CAM = ReLU(CAM)/16.
        let (c, g) = (
            cam.attributions.to_vec_f64().unwrap(),
            gc.attributions.to_vec_f64().unwrap(),
        );
        for (c, g) in c.iter().zip(&g) {
            assert!((c.max(0.0) / 16.0 - g).abs() < 1e-5);
        }
        // The mean of the CAM map is the logit (no bias).
        let logits = xai_nn::Forward::predict(&m, &x)
            .unwrap()
            .to_vec_f64()
            .unwrap();
        for i in 0..3 {
            let mean = c[i * 16..(i + 1) * 16].iter().sum::<f64>() / 16.0;
            assert!((mean - logits[i * 3 + t[i]]).abs() < 1e-4);
        }
        // Upsampled: the input's shape, the same map on every channel.
        let up = Cam::default().attribute(&m, &x, &t).unwrap().attributions;
        assert_eq!(up.shape(), &[3, 2, 6, 6]);
        let u = up.to_vec_f64().unwrap();
        assert_eq!(u[..36], u[36..72]);
    }

    #[test]
    fn grad_cam_picks_the_last_spatial_layer_and_refuses_bad_layers() {
        let m = cnn(3);
        let x = randn(&mut Rng::new(2), &[2, 2, 5, 5], 1.0);
        let e = GradCam {
            upsample: false,
            ..Default::default()
        }
        .attribute(&m, &x, &[0, 1])
        .unwrap();
        assert_eq!(e.attributions.shape(), &[2, 5, 5]);
        assert!(e
            .attributions
            .to_vec_f32()
            .unwrap()
            .iter()
            .all(|&v| v >= 0.0));
        let err = GradCam {
            layer: Some("fc".into()),
            ..Default::default()
        }
        .attribute(&m, &x, &[0, 1])
        .unwrap_err()
        .to_string();
        assert!(err.contains("needs a [C, H, W] layer"), "{err}");
        let gg = GuidedGradCam::default().attribute(&m, &x, &[0, 1]).unwrap();
        let cam = GradCam::default().attribute(&m, &x, &[0, 1]).unwrap();
        let gb = crate::methods::GuidedGradient::default()
            .attribute(&m, &x, &[0, 1])
            .unwrap();
        assert_eq!(
            gg.attributions.to_vec_f32().unwrap(),
            gb.attributions
                .mul(&cam.attributions)
                .unwrap()
                .to_vec_f32()
                .unwrap()
        );
        let err = Cam::default()
            .attribute(&m, &x, &[0, 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("global average pooling"), "{err}");
    }
}
