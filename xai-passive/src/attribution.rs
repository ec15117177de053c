//! The attribution trait, targets and the result type shared by every method.

use crate::methods::{Baseline, Integration};
use crate::{PassiveError, Result};
use xai_nn::Forward;
use xai_tensor::Tensor;

/// Which output an attribution explains, per example.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The predicted class (argmax of the logits).
    Argmax,
    /// The same class for every example.
    Class(usize),
    /// One class per example.
    PerExample(Vec<usize>),
}

impl std::str::FromStr for Target {
    type Err = String;
    /// Parses `argmax` or a class index.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s == "argmax" {
            return Ok(Target::Argmax);
        }
        s.parse()
            .map(Target::Class)
            .map_err(|_| format!("target must be 'argmax' or a class index, got '{s}'"))
    }
}

/// Resolves `target` to one class per example of `x`, checking the range.
pub fn resolve_targets<M: Forward + ?Sized>(
    model: &M,
    x: &Tensor,
    target: &Target,
) -> Result<Vec<usize>> {
    let n = x.shape()[0];
    let logits = match target {
        Target::Argmax => Some(model.predict(x)?),
        _ => None,
    };
    let k = match &logits {
        Some(l) => l.shape()[1],
        None => model.predict(&x.narrow(0, 0, 1.min(n))?)?.shape()[1],
    };
    let classes = match target {
        Target::Argmax => logits.expect("computed above").argmax(1)?,
        Target::Class(c) => vec![*c; n],
        Target::PerExample(v) if v.len() == n => v.clone(),
        Target::PerExample(v) => {
            return Err(PassiveError::BadArgument(format!(
                "{} targets given for {n} examples",
                v.len()
            )));
        }
    };
    if let Some(&bad) = classes.iter().find(|&&c| c >= k) {
        return Err(PassiveError::BadArgument(format!(
            "target class {bad} is out of range for a model with {k} outputs"
        )));
    }
    Ok(classes)
}

/// An attribution of a batch: one map per example, with the input's shape.
#[derive(Clone, Debug)]
pub struct Explanation {
    /// Attributions `[N, ...input_shape]`.
    pub attributions: Tensor,
    /// The class explained for each example.
    pub targets: Vec<usize>,
    /// Σa − (f(x) − f(baseline)) per example, for methods with a completeness axiom.
    pub completeness_gap: Option<Vec<f64>>,
    /// The method's own per-example figures about this explanation (LIME's local R²), in
    /// the order the method gives them.
    pub diagnostics: Vec<Diagnostic>,
}

/// A figure a method reports about its explanation, one value per example (a surrogate's fit,
/// a convergence measure): carried in the result, so a front end shows any method's the same
/// way.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Diagnostic {
    /// Short name (`local_r2`).
    pub name: &'static str,
    /// What it measures, in words.
    pub description: &'static str,
    /// One value per example.
    pub per_example: Vec<f64>,
}

/// Options shared by the methods (each method reads the ones it understands).
#[derive(Clone, Debug)]
pub struct MethodOptions {
    /// Take the absolute value of the attribution (saliency's `--abs`).
    pub abs: bool,
    /// Saliency of images as Simonyan et al.: max over channels of |gradient|, broadcast back
    /// over the channels.
    pub channel_max: bool,
    /// Examples (or steps × examples) per model call.
    pub batch_size: usize,
    /// Reference input of path methods (integrated gradients and variants).
    pub baseline: Baseline,
    /// Quadrature of path integrals (Captum's `method`).
    pub integration: Integration,
    /// Integration steps of path methods (≥ 1; Captum's `n_steps`).
    pub steps: usize,
    /// Noisy samples per input (SmoothGrad family, gradient SHAP); `None`: the method's default.
    pub samples: Option<usize>,
    /// Noise standard deviation relative to each example's range max x − min x; `None`: the
    /// method's default.
    pub noise_std: Option<f64>,
    /// Seed of the random methods (same seed, same result).
    pub seed: u64,
    /// Layer of layer methods and Grad-CAM (its name in the model file).
    pub layer: Option<String>,
    /// Hidden unit of neuron methods: `LAYER:INDEX`, a flat index into one example's output.
    pub neuron: Option<String>,
    /// Upsample Grad-CAM/CAM maps to the input size (bilinear); `false` keeps the layer's.
    pub upsample: bool,
    /// Baseline distribution `[B, ...input_shape]` of gradient SHAP.
    pub baselines: Option<Tensor>,
    /// Gradient method wrapped by the SmoothGrad family (`None`: saliency).
    pub inner: Option<String>,
    /// LRP-ε's ε (Zennit's `epsilon`, default 1e-6): z + ε·sign(z) in the denominator.
    pub epsilon: f64,
    /// LRP-γ's γ (default 0.25): weights W + γW⁺.
    pub gamma: f64,
    /// LRP-αβ's α (default 2).
    pub alpha: f64,
    /// LRP-αβ's β (default 1; α − β = 1).
    pub beta: f64,
    /// Zennit composite of the `lrp` method.
    pub composite: crate::methods::CompositeKind,
    /// Lowest input value for the z^B rule (`None`: each example's minimum).
    pub low: Option<f64>,
    /// Highest input value for the z^B rule (`None`: each example's maximum).
    pub high: Option<f64>,
    /// DeepLIFT's multiplier rule for activations.
    pub deeplift_rule: crate::methods::DeepLiftRule,
    /// Occlusion's sliding window: `HxW` or `C,H,W` (missing leading axes span the example).
    pub window: Option<String>,
    /// Occlusion's strides, same form as `window` (default 1 on every axis).
    pub stride: Option<String>,
    /// Feature groups of the perturbation methods: integer group ids `[...input_shape]`.
    pub mask: Option<Tensor>,
    /// Superpixels of the perturbation methods: `grid:N` (an N×N grid over H, W) or
    /// `slic:N[,M]` (SLIC superpixels of each image).
    pub segments: Option<String>,
    /// LIME's kernel width σ (`None`: 0.75·√d, lime's default).
    pub kernel_width: Option<f64>,
    /// LIME's perturbations: on/off against the baseline, or tabular from the training data's
    /// statistics (`baselines` holds the training rows).
    pub lime_sampling: crate::methods::LimeSampling,
    /// Optimisation steps of meaningful perturbation (`None`: 300).
    pub iterations: Option<usize>,
    /// Meaningful perturbation's λ₁ on mean |1 − m| (default 0.1).
    pub lambda_l1: f64,
    /// Meaningful perturbation's λ₂ on the mask's total variation (default 0.05).
    pub lambda_tv: f64,
    /// Side of meaningful perturbation's low-resolution mask (`None`: ⌈max(H, W)/4⌉).
    pub mask_size: Option<usize>,
    /// What meaningful perturbation's deleted pixels become: blurred input or the baseline.
    pub reference: crate::methods::MaskReference,
}

impl Default for MethodOptions {
    fn default() -> Self {
        Self {
            abs: false,
            channel_max: false,
            batch_size: 256,
            baseline: Baseline::Zeros,
            integration: Integration::GaussLegendre,
            steps: 50,
            samples: None,
            noise_std: None,
            seed: 0,
            layer: None,
            neuron: None,
            upsample: true,
            baselines: None,
            inner: None,
            epsilon: 1e-6,
            gamma: 0.25,
            alpha: 2.0,
            beta: 1.0,
            composite: crate::methods::CompositeKind::EpsilonPlus,
            low: None,
            high: None,
            deeplift_rule: crate::methods::DeepLiftRule::Rescale,
            window: None,
            stride: None,
            mask: None,
            segments: None,
            kernel_width: None,
            lime_sampling: crate::methods::LimeSampling::OnOff,
            iterations: None,
            lambda_l1: 0.1,
            lambda_tv: 0.05,
            mask_size: None,
            reference: crate::methods::MaskReference::Blur(None),
        }
    }
}

/// An attribution method for models of type `M` (the method's impl bound says what it needs:
/// `Forward`, `Differentiable` or `Layered`).
pub trait Attribution<M: ?Sized>: Send + Sync {
    /// The registry name (`"saliency"`).
    fn name(&self) -> &'static str;
    /// Attributions of `x: [N, ...input_shape]` for the classes `targets` (one per example,
    /// already checked to be in range).
    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation>;
}
