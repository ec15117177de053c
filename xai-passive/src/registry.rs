//! The one list of explanation methods: name, description, place in the surveys' taxonomy,
//! what it needs from a model, its parameters with their defaults, and how to build it from
//! [`Params`]. Adding a method adds its file and one line here.
//!
//! A built method keeps its capability bound ([`Needs`]): a black-box method runs on any
//! [`Forward`] model, a gradient method on any [`Differentiable`] one, a layer method on a
//! [`Layered`] one; [`BoxedMethod::explain`] takes the model as a [`ModelRef`] of what it is
//! and refuses a method that needs more. Global methods (PDP, ICE) are entries like the others
//! and give [`Output::Curves`].

use crate::attribution::{resolve_targets, Attribution, Explanation, Target};
use crate::config::{self, MethodConfig, Params};
use crate::methods::*;
use crate::output::Output;
use crate::{PassiveError, Result};
use serde::Serialize;
use serde_json::Value;
use xai_nn::{Differentiable, Forward, Layered};
use xai_tensor::Tensor;

/// What a method needs from a model: the bound of its implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Needs {
    /// Forward passes only (black box).
    Forward,
    /// Gradients of the output w.r.t. the input.
    Gradients,
    /// Named layers whose outputs can be tapped and resumed.
    Layers,
}

impl Needs {
    /// `forward`, `gradients` or `layers`.
    pub fn name(self) -> &'static str {
        match self {
            Needs::Forward => "forward",
            Needs::Gradients => "gradients",
            Needs::Layers => "layers",
        }
    }
}

impl std::fmt::Display for Needs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// A model as what it can do, for [`BoxedMethod::explain`].
#[derive(Clone, Copy)]
pub enum ModelRef<'a> {
    /// A black box: forward passes only.
    Forward(&'a (dyn Forward + 'static)),
    /// A model with gradients.
    Differentiable(&'a (dyn Differentiable + 'static)),
    /// A model with named layers (every model file `xai_nn` loads).
    Layered(&'a (dyn Layered + 'static)),
}

impl<'a> ModelRef<'a> {
    /// What the model can do.
    pub fn capability(self) -> Needs {
        match self {
            ModelRef::Forward(_) => Needs::Forward,
            ModelRef::Differentiable(_) => Needs::Gradients,
            ModelRef::Layered(_) => Needs::Layers,
        }
    }

    /// The model's forward passes.
    pub fn forward(self) -> &'a (dyn Forward + 'static) {
        match self {
            ModelRef::Forward(m) => m,
            ModelRef::Differentiable(m) => m,
            ModelRef::Layered(m) => m,
        }
    }
}

impl<'a> From<&'a (dyn Layered + 'static)> for ModelRef<'a> {
    fn from(m: &'a (dyn Layered + 'static)) -> Self {
        ModelRef::Layered(m)
    }
}

/// A method behind its capability bound.
pub enum Bound {
    /// Needs only forward passes.
    Forward(Box<dyn Attribution<dyn Forward>>),
    /// Needs gradients.
    Gradients(Box<dyn Attribution<dyn Differentiable>>),
    /// Needs layers.
    Layers(Box<dyn Attribution<dyn Layered>>),
    /// A global method giving curves over the data (PDP, ICE).
    Curves(DependenceConfig),
}

/// A method built from the registry, with the configuration it was built with (recorded in
/// reports).
pub struct BoxedMethod {
    name: &'static str,
    method: Bound,
    config: Value,
}

impl BoxedMethod {
    /// `method`, registered as `name`, with its configuration `config` (serialized here).
    pub fn new(name: &'static str, method: Bound, config: &impl Serialize) -> Self {
        Self {
            name,
            method,
            config: serde_json::to_value(config).expect("a configuration serializes"),
        }
    }

    /// The configuration, as JSON: every parameter with the value used (tensors by shape).
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// The registry name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// What the method needs from a model (`None` for the global methods, which need
    /// forward passes over a data set).
    pub fn needs(&self) -> Needs {
        match &self.method {
            Bound::Forward(_) | Bound::Curves(_) => Needs::Forward,
            Bound::Gradients(_) => Needs::Gradients,
            Bound::Layers(_) => Needs::Layers,
        }
    }

    /// The method behind its bound (to wrap it in another, as the noise tunnel does).
    pub fn into_bound(self) -> Bound {
        self.method
    }

    /// The explanation of the inputs `x` of `model` for `target`: attribution maps of each
    /// input, or for a global method the curves over the rows of `x`.
    ///
    /// **Errors** if the model cannot do what the method needs (a black box for a gradient
    /// method), or as the method does.
    pub fn explain(&self, model: ModelRef<'_>, x: &Tensor, target: &Target) -> Result<Output> {
        check_not_empty(self.name, x)?;
        check_scores(self.name, model.forward(), x)?;
        if let Bound::Curves(c) = &self.method {
            let m = model.forward();
            let t = dataset_target(m, x, target)?;
            let d = partial_dependence(m, x, &c.features()?, t, c.grid, c.batch_size)?;
            return Ok(Output::Curves(d));
        }
        let targets = resolve_targets(model.forward(), x, target)?;
        Ok(Output::Attributions(self.dispatch(model, x, &targets)?))
    }

    /// Attributions of `x` for `targets` (one class per example), on a model of any
    /// capability the method can use.
    ///
    /// **Errors** for a global method, or a model that cannot do what the method needs.
    pub fn attribute_ref(
        &self,
        model: ModelRef<'_>,
        x: &Tensor,
        targets: &[usize],
    ) -> Result<Explanation> {
        check_not_empty(self.name, x)?;
        check_scores(self.name, model.forward(), x)?;
        self.dispatch(model, x, targets)
    }

    /// [`attribute_ref`](Self::attribute_ref) once the batch and the model's output are
    /// checked: the method on the capability it needs.
    fn dispatch(&self, model: ModelRef<'_>, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        let short = |needs: Needs| {
            PassiveError::BadArgument(format!(
                "{} needs {needs} from the model; this model gives only {}",
                self.name,
                match model.capability() {
                    Needs::Forward => "forward passes",
                    Needs::Gradients => "gradients",
                    Needs::Layers => "layers",
                }
            ))
        };
        match (&self.method, model) {
            (Bound::Forward(a), m) => a.attribute(m.forward(), x, targets),
            (Bound::Gradients(a), ModelRef::Differentiable(m)) => a.attribute(m, x, targets),
            (Bound::Gradients(a), ModelRef::Layered(m)) => a.attribute(m, x, targets),
            (Bound::Layers(a), ModelRef::Layered(m)) => a.attribute(m, x, targets),
            (Bound::Gradients(_), _) => Err(short(Needs::Gradients)),
            (Bound::Layers(_), _) => Err(short(Needs::Layers)),
            (Bound::Curves(_), _) => Err(global_only(self.name)),
        }
    }

    /// [`Attribution::attribute`] on a layered model (callable without the trait in scope).
    pub fn attribute(
        &self,
        model: &(dyn Layered + 'static),
        x: &Tensor,
        targets: &[usize],
    ) -> Result<Explanation> {
        self.attribute_ref(ModelRef::Layered(model), x, targets)
    }
}

impl Attribution<dyn Layered> for BoxedMethod {
    fn name(&self) -> &'static str {
        self.name
    }
    fn attribute(
        &self,
        model: &(dyn Layered + 'static),
        x: &Tensor,
        targets: &[usize],
    ) -> Result<Explanation> {
        BoxedMethod::attribute(self, model, x, targets)
    }
}

impl AsRef<dyn Attribution<dyn Layered>> for BoxedMethod {
    fn as_ref(&self) -> &(dyn Attribution<dyn Layered> + 'static) {
        self
    }
}

/// What a method gives: attribution maps of each input, or curves over a data set (partial
/// dependence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputKind {
    /// One map per input, the input's shape (or a layer's).
    Attributions,
    /// PD curves over a grid, and with `individual` one ICE curve per row drawn too.
    Curves {
        /// Whether the individual (ICE) curves are the explanation, not only their mean.
        individual: bool,
    },
}

/// One registered method.
pub struct MethodInfo {
    /// CLI name.
    pub name: &'static str,
    /// One-line description with its paper.
    pub description: &'static str,
    /// Survey taxonomy: kind of explanation / scope / passive-or-active.
    pub family: &'static str,
    /// What it needs from the model (its implementation's bound; checked by a test against
    /// what [`MethodInfo::build`] gives).
    pub needs: Needs,
    /// What it gives.
    pub output: OutputKind,
    /// Its parameters with their defaults, a JSON object (a wrapper's without its inner
    /// method's).
    pub defaults: fn() -> Value,
    /// Builds it from parameters by name (this entry's name, the parameters).
    pub build: fn(&'static str, &Params) -> Result<BoxedMethod>,
}

impl MethodInfo {
    /// The names of its parameters; a wrapper (a `defaults` with `inner`) takes its inner
    /// method's (`params`' `inner`, else the default one) too.
    pub fn parameter_names(&self, params: &Params) -> Vec<String> {
        let defaults = (self.defaults)();
        let mut names: Vec<String> = defaults
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(default_inner) = defaults.get("inner").and_then(Value::as_str) {
            let inner = params
                .get("inner")
                .and_then(Value::as_str)
                .unwrap_or(default_inner);
            if let Ok(i) = info(inner) {
                names.extend(i.parameter_names(&Params::default()));
            }
        }
        names
    }

    /// The parameters of `shared` this method takes (for settings shared by several methods,
    /// as a league's: each method gets the ones it has).
    pub fn own(&self, shared: &Params) -> Params {
        let names = self.parameter_names(shared);
        shared.filtered(|n| names.iter().any(|k| k == n))
    }
}

/// Builds configuration `C` from `params` and the method from it with `make`, behind the
/// bound `make` gives it.
fn built<C: MethodConfig>(
    name: &'static str,
    params: &Params,
    make: impl FnOnce(&C) -> Result<Bound>,
) -> Result<BoxedMethod> {
    let c: C = config::from_params(name, params)?;
    Ok(BoxedMethod::new(name, make(&c)?, &c))
}

/// Builds configuration `C`, a black-box method that is its own configuration.
fn forward<C: MethodConfig + Clone + Attribution<dyn Forward> + 'static>(
    name: &'static str,
    params: &Params,
) -> Result<BoxedMethod> {
    built(name, params, |c: &C| {
        Ok(Bound::Forward(Box::new(c.clone())))
    })
}

/// Builds configuration `C`, a gradient method that is its own configuration.
fn gradients<C: MethodConfig + Clone + Attribution<dyn Differentiable> + 'static>(
    name: &'static str,
    params: &Params,
) -> Result<BoxedMethod> {
    gradients_with(name, params, |c: &C| Ok(c.clone()))
}

/// Builds configuration `C`, a layer method that is its own configuration.
fn layers<C: MethodConfig + Clone + Attribution<dyn Layered> + 'static>(
    name: &'static str,
    params: &Params,
) -> Result<BoxedMethod> {
    built(name, params, |c: &C| Ok(Bound::Layers(Box::new(c.clone()))))
}

/// Builds configuration `C` from `params` and the gradient method from it with `make`.
fn gradients_with<C: MethodConfig, A: Attribution<dyn Differentiable> + 'static>(
    name: &'static str,
    params: &Params,
    make: impl FnOnce(&C) -> Result<A>,
) -> Result<BoxedMethod> {
    built(name, params, |c: &C| {
        Ok(Bound::Gradients(Box::new(make(c)?)))
    })
}

/// Builds the global method `name` (PDP, ICE) from `params`.
fn curves(name: &'static str, params: &Params) -> Result<BoxedMethod> {
    built(name, params, |c: &DependenceConfig| {
        Ok(Bound::Curves(c.clone()))
    })
}

const ATTRIBUTION: &str = "attribution / local / passive";

/// Every method, in the order `xai methods` lists them.
pub const METHODS: &[MethodInfo] = &[
    MethodInfo { name: "saliency", description: "gradient of the target logit w.r.t. the input, ∂f_c/∂x, or |∂f_c/∂x| (Simonyan et al. 2014)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<Saliency>, build: gradients::<Saliency> },
    MethodInfo { name: "input-x-gradient", description: "input times gradient, x ⊙ ∂f_c/∂x (Shrikumar et al. 2016)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<InputXGradient>, build: gradients::<InputXGradient> },
    MethodInfo { name: "integrated-gradients", description: "path integral of gradients from a baseline, (x − b) ⊙ ∫₀¹ ∂f_c(b + α(x − b))/∂x dα (Sundararajan et al. 2017)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<IntegratedGradients>, build: gradients::<IntegratedGradients> },
    MethodInfo { name: "smoothgrad", description: "mean attribution of an inner method over noisy inputs (Smilkov et al. 2017)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<NoiseTunnelConfig>, build: |n, p| build_noise_tunnel(n, p, NoiseKind::SmoothGrad) },
    MethodInfo { name: "smoothgrad-squared", description: "mean squared attribution over noisy inputs (Hooker et al. 2019)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<NoiseTunnelConfig>, build: |n, p| build_noise_tunnel(n, p, NoiseKind::SmoothGradSquared) },
    MethodInfo { name: "vargrad", description: "variance of the attribution over noisy inputs (Adebayo et al. 2018)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<NoiseTunnelConfig>, build: |n, p| build_noise_tunnel(n, p, NoiseKind::VarGrad) },
    MethodInfo { name: "grad-cam", description: "ReLU of the layer's activations weighted by their mean gradients (Selvaraju et al. 2017)", family: ATTRIBUTION, needs: Needs::Layers, output: OutputKind::Attributions, defaults: config::defaults::<GradCam>, build: layers::<GradCam> },
    MethodInfo { name: "cam", description: "class activation map of a layer before global average pooling (Zhou et al. 2016)", family: ATTRIBUTION, needs: Needs::Layers, output: OutputKind::Attributions, defaults: config::defaults::<Cam>, build: layers::<Cam> },
    MethodInfo { name: "guided-grad-cam", description: "guided backprop times the upsampled Grad-CAM map (Selvaraju et al. 2017)", family: ATTRIBUTION, needs: Needs::Layers, output: OutputKind::Attributions, defaults: config::defaults::<GuidedGradCam>, build: layers::<GuidedGradCam> },
    MethodInfo { name: "layer-gradient-x-activation", description: "a layer's activation times its gradient, A ⊙ ∂f_c/∂A (Captum); the layer's shape", family: ATTRIBUTION, needs: Needs::Layers, output: OutputKind::Attributions, defaults: config::defaults::<LayerGradientXActivation>, build: layers::<LayerGradientXActivation> },
    MethodInfo { name: "layer-integrated-gradients", description: "integrated gradients of a layer's units along the input path (Sundararajan et al. 2017); the layer's shape", family: ATTRIBUTION, needs: Needs::Layers, output: OutputKind::Attributions, defaults: config::defaults::<LayerIntegratedGradients>, build: layers::<LayerIntegratedGradients> },
    MethodInfo { name: "layer-conductance", description: "conductance of a layer's units (Dhamdhere et al. 2019); the layer's shape", family: ATTRIBUTION, needs: Needs::Layers, output: OutputKind::Attributions, defaults: config::defaults::<LayerConductance>, build: layers::<LayerConductance> },
    MethodInfo { name: "neuron-gradient", description: "gradient of a hidden unit w.r.t. the input (Captum's NeuronGradient)", family: ATTRIBUTION, needs: Needs::Layers, output: OutputKind::Attributions, defaults: config::defaults::<NeuronGradient>, build: layers::<NeuronGradient> },
    MethodInfo { name: "neuron-integrated-gradients", description: "integrated gradients of a hidden unit (Sundararajan et al. 2017)", family: ATTRIBUTION, needs: Needs::Layers, output: OutputKind::Attributions, defaults: config::defaults::<NeuronIntegratedGradients>, build: layers::<NeuronIntegratedGradients> },
    MethodInfo { name: "gradient-shap", description: "expected gradients over a baseline distribution (Lundberg & Lee 2017; Erion et al. 2021)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<GradientShap>, build: gradients::<GradientShap> },
    MethodInfo { name: "guided-backprop", description: "gradient with ReLU backward g·1[x>0]·1[g>0] (Springenberg et al. 2015)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<GuidedGradient>, build: |n, p| gradients_with(n, p, |g: &GuidedGradient| Ok(GuidedGradient { rule: ReluRule::Guided, ..g.clone() })) },
    MethodInfo { name: "deconvnet", description: "gradient with ReLU backward max(g, 0) (Zeiler & Fergus 2014)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<GuidedGradient>, build: |n, p| gradients_with(n, p, |g: &GuidedGradient| Ok(GuidedGradient { rule: ReluRule::Deconv, ..g.clone() })) },
    MethodInfo { name: "lrp", description: "layer-wise relevance propagation with a Zennit composite or a KEY=RULE spec (Bach et al. 2015; Montavon et al. 2019)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<LrpComposite>, build: |n, p| gradients_with(n, p, |c: &LrpComposite| c.method(n)) },
    MethodInfo { name: "lrp-epsilon", description: "LRP-ε on every linear/conv layer, R_in = x ⊙ Wᵀ(R/(z + ε·sign z)) (Bach et al. 2015)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<LrpEpsilon>, build: |n, p| gradients_with(n, p, |c: &LrpEpsilon| c.method(n)) },
    MethodInfo { name: "lrp-gamma", description: "LRP-γ on every linear/conv layer, weights W + γW⁺ (Montavon et al. 2019)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<LrpGamma>, build: |n, p| gradients_with(n, p, |c: &LrpGamma| c.method(n)) },
    MethodInfo { name: "lrp-alpha-beta", description: "LRP-αβ on every linear/conv layer, α·positive − β·negative contributions (Bach et al. 2015)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<LrpAlphaBeta>, build: |n, p| gradients_with(n, p, |c: &LrpAlphaBeta| c.method(n)) },
    MethodInfo { name: "lrp-z-plus", description: "LRP-z⁺ on every linear/conv layer, positive contributions only (Montavon et al. 2017)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<LrpZPlus>, build: |n, p| gradients_with(n, p, |c: &LrpZPlus| c.method(n)) },
    MethodInfo { name: "lrp-zb", description: "LRP-z^B on the first layer for inputs in [low, high], LRP-ε above (Montavon et al. 2017)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<LrpZb>, build: |n, p| gradients_with(n, p, |c: &LrpZb| c.method(n)) },
    MethodInfo { name: "deep-taylor", description: "deep Taylor decomposition: z⁺ rule, z^B (with low/high) or w² on the first layer (Montavon et al. 2017)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<DeepTaylor>, build: gradients::<DeepTaylor> },
    MethodInfo { name: "deeplift", description: "contributions of x − baseline by multipliers Δy/Δx, Σa = f(x) − f(baseline), rescale or reveal-cancel (Shrikumar et al. 2017)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<DeepLift>, build: gradients::<DeepLift> },
    MethodInfo { name: "occlusion", description: "mean output drop f(x) − f(x with a sliding window at the baseline) over the windows covering each feature (Zeiler & Fergus 2014; Captum Occlusion)", family: ATTRIBUTION, needs: Needs::Forward, output: OutputKind::Attributions, defaults: config::defaults::<Occlusion>, build: forward::<Occlusion> },
    MethodInfo { name: "feature-ablation", description: "f(x) − f(x with a feature or group at the baseline) (Captum FeatureAblation)", family: ATTRIBUTION, needs: Needs::Forward, output: OutputKind::Attributions, defaults: config::defaults::<FeatureAblation>, build: forward::<FeatureAblation> },
    MethodInfo { name: "omission", description: "leave-one-out f(x) − f(x without feature i), = feature-ablation per feature (Li et al. 2016)", family: ATTRIBUTION, needs: Needs::Forward, output: OutputKind::Attributions, defaults: config::defaults::<Omission>, build: forward::<Omission> },
    MethodInfo { name: "shapley-exact", description: "exact Shapley values over all 2^d coalitions of features or groups, v(S) = mean over background of f(x_S, b) (Shapley 1953; Lundberg & Lee 2017); d ≤ 20", family: ATTRIBUTION, needs: Needs::Forward, output: OutputKind::Attributions, defaults: config::defaults::<ShapleyExact>, build: forward::<ShapleyExact> },
    MethodInfo { name: "kernel-shap", description: "Shapley values by Shapley-kernel weighted least squares over coalitions (Lundberg & Lee 2017, SHAP KernelExplainer)", family: ATTRIBUTION, needs: Needs::Forward, output: OutputKind::Attributions, defaults: config::defaults::<KernelShap>, build: forward::<KernelShap> },
    MethodInfo { name: "shapley-sampling", description: "Shapley values by antithetic permutation sampling (Štrumbelj & Kononenko 2014)", family: ATTRIBUTION, needs: Needs::Forward, output: OutputKind::Attributions, defaults: config::defaults::<ShapleySampling>, build: forward::<ShapleySampling> },
    MethodInfo { name: "lime", description: "coefficients of a kernel-weighted ridge surrogate over on/off perturbations against the baseline, or tabular samples from the training statistics (Ribeiro et al. 2016)", family: ATTRIBUTION, needs: Needs::Forward, output: OutputKind::Attributions, defaults: config::defaults::<Lime>, build: forward::<Lime> },
    MethodInfo { name: "meaningful-perturbation", description: "deletion mask minimising λ₁‖1−m‖₁ + λ₂TV(m) + p_c(x⊙m + x̃⊙(1−m)) by Adam, attribution 1 − m (Fong & Vedaldi 2017)", family: ATTRIBUTION, needs: Needs::Gradients, output: OutputKind::Attributions, defaults: config::defaults::<MeaningfulPerturbation>, build: gradients::<MeaningfulPerturbation> },
    MethodInfo { name: "pdp", description: "partial dependence of the target logit on a feature or pair over the data's quantile grid, PD(v) = mean_i f_c(x_i with x_S = v) (Friedman 2001); JSON and PNG", family: "attribution / global / passive", needs: Needs::Forward, output: OutputKind::Curves { individual: false }, defaults: config::defaults::<DependenceConfig>, build: curves },
    MethodInfo { name: "ice", description: "individual conditional expectation curves f_c(x_i with x_S = v), one per row, with their mean the PD (Goldstein et al. 2015); JSON and PNG", family: "attribution / semi-local / passive", needs: Needs::Forward, output: OutputKind::Curves { individual: true }, defaults: config::defaults::<DependenceConfig>, build: curves },
];

/// Every method refuses an empty batch the same way: one clear line, before any work.
fn check_not_empty(name: &str, x: &Tensor) -> Result<()> {
    if x.shape().first().is_none_or(|&n| n == 0) {
        return Err(PassiveError::BadArgument(format!(
            "{name} has nothing to explain: the input batch is empty (shape {:?})",
            x.shape()
        )));
    }
    Ok(())
}

/// Every method explains class scores: one vector `[K]` per example. Checked once per call,
/// from the model's declared output shape ([`Forward::output_shape`]), else from a prediction
/// of the first example.
///
/// **Errors** naming the shape otherwise (a model ending in a convolution).
fn check_scores(name: &str, model: &dyn Forward, x: &Tensor) -> Result<()> {
    let shape = match model.output_shape() {
        Some(s) => s,
        None => model.predict(&x.narrow(0, 0, 1)?)?.shape()[1..].to_vec(),
    };
    if shape.len() != 1 {
        return Err(PassiveError::BadArgument(format!(
            "{name} explains class scores, one vector [K] per example, but this model's output \
             has shape {shape:?} per example (end it in a linear layer, or a global pooling and \
             a flatten)"
        )));
    }
    Ok(())
}

/// The refusal of a global method (PDP, ICE) asked for per-example attributions.
fn global_only(name: &str) -> PassiveError {
    PassiveError::BadArgument(format!(
        "{name} gives curves over the data, not attributions per example (BoxedMethod::explain)"
    ))
}

/// The method called `name`.
///
/// **Errors** naming the known methods if there is none.
pub fn info(name: &str) -> Result<&'static MethodInfo> {
    METHODS.iter().find(|m| m.name == name).ok_or_else(|| {
        PassiveError::BadArgument(format!(
            "unknown method '{name}' (known: {})",
            METHODS
                .iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// Builds the attribution method called `name` from `params`.
///
/// **Errors** for an unknown method, a parameter it does not take, or a bad value (naming
/// the parameter).
pub fn build(name: &str, params: &Params) -> Result<BoxedMethod> {
    let info = info(name)?;
    (info.build)(info.name, params)
}

/// Builds `name` with the parameters of `shared` it takes (see [`MethodInfo::own`]).
pub fn build_shared(name: &str, shared: &Params) -> Result<BoxedMethod> {
    build(name, &info(name)?.own(shared))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::models::*;
    use xai_tensor::Rng;

    #[test]
    fn every_method_builds_with_the_bound_it_declares() {
        for m in METHODS {
            let built = build(m.name, &Params::default()).unwrap();
            assert_eq!(built.needs(), m.needs, "{}", m.name);
            assert_eq!(built.name(), m.name);
            assert_eq!(
                matches!(built.into_bound(), Bound::Curves(_)),
                matches!(m.output, OutputKind::Curves { .. }),
                "{}",
                m.name
            );
        }
        assert_eq!(
            info("ice").unwrap().output,
            OutputKind::Curves { individual: true }
        );
        assert!(info("nope").is_err());
    }

    /// A black box: only forward passes (what a user wraps around a model with no tape).
    struct BlackBox(xai_nn::Graph);

    impl Forward for BlackBox {
        fn input_shape(&self) -> &[usize] {
            self.0.input_shape()
        }
        fn predict(&self, x: &Tensor) -> xai_nn::Result<Tensor> {
            self.0.predict(x)
        }
    }

    #[test]
    fn every_method_refuses_an_empty_batch_with_one_line() {
        let model = mlp(2);
        let m: &dyn Layered = &model;
        let empty = Tensor::zeros(&[0, 6], xai_tensor::DType::F32);
        for info in METHODS {
            let method = build(info.name, &Params::default()).unwrap();
            let e = method
                .explain(m.into(), &empty, &Target::Argmax)
                .unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "{} has nothing to explain: the input batch is empty (shape [0, 6])",
                    info.name
                )
            );
            assert!(method.attribute(m, &empty, &[]).is_err());
        }
    }

    /// A model whose output is not a vector of class scores (it ends in a convolution), as a
    /// graph and as a black box that declares no output shape.
    #[test]
    fn every_method_refuses_a_model_without_class_scores_with_one_line() {
        let conv = conv_features(3);
        assert_eq!(conv.output_shape(), Some(vec![4, 5, 5]));
        let black = BlackBox(conv_features(3));
        let x = randn(&mut Rng::new(1), &[2, 2, 5, 5], 1.0);
        for info in METHODS {
            let method = build(info.name, &Params::default()).unwrap();
            let want = format!(
                "{} explains class scores, one vector [K] per example, but this model's output \
                 has shape [4, 5, 5] per example",
                info.name
            );
            let l: &dyn Layered = &conv;
            let f: &dyn Forward = &black;
            for model in [l.into(), ModelRef::Forward(f)] {
                let e = method
                    .explain(model, &x, &Target::Argmax)
                    .unwrap_err()
                    .to_string();
                assert!(e.starts_with(&want) && !e.contains('\n'), "{e}");
            }
        }
    }

    #[test]
    fn black_box_methods_run_on_a_forward_only_model_and_others_are_refused() {
        let model = mlp(2);
        let x = randn(&mut Rng::new(1), &[3, 6], 1.0);
        let black = BlackBox(mlp(2));
        let target = Target::Argmax;
        let window = Params::default().with("window", "2");
        let occlusion = build("occlusion", &window).unwrap();
        let on_black = occlusion
            .explain(ModelRef::Forward(&black), &x, &target)
            .unwrap();
        let layered: &dyn Layered = &model;
        let on_layered = occlusion.explain(layered.into(), &x, &target).unwrap();
        let (Output::Attributions(a), Output::Attributions(b)) = (on_black, on_layered) else {
            panic!("attributions expected")
        };
        assert_eq!(
            a.attributions.to_vec_f32().unwrap(),
            b.attributions.to_vec_f32().unwrap()
        );
        let saliency = build("saliency", &Params::default()).unwrap();
        let e = saliency
            .explain(ModelRef::Forward(&black), &x, &target)
            .unwrap_err()
            .to_string();
        assert!(e.contains("saliency needs gradients from the model"), "{e}");
        // A global method is an entry like the others, giving curves.
        let pdp = build("pdp", &Params::default().with("feature", "1")).unwrap();
        let Output::Curves(d) = pdp.explain(ModelRef::Forward(&black), &x, &target).unwrap() else {
            panic!("curves expected")
        };
        assert_eq!(d.features, vec![1]);
        assert!(pdp.attribute(layered, &x, &[0, 0, 0]).is_err());
    }
}
