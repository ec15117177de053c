//! The one list of explanation methods: name, description, place in the surveys' taxonomy,
//! what it needs from a model, its parameters with their defaults, and how to build it from
//! [`Params`]. Adding a method adds its file and one line here.

use crate::attribution::{Attribution, Explanation};
use crate::config::{self, MethodConfig, Params};
use crate::methods::*;
use crate::{PassiveError, Result};
use serde::Serialize;
use serde_json::Value;
use xai_nn::Layered;
use xai_tensor::Tensor;

/// A method built from the registry, usable on any layered model, with the configuration it
/// was built with (recorded in reports).
pub struct BoxedMethod {
    method: Box<dyn Attribution<dyn Layered>>,
    config: Value,
}

impl BoxedMethod {
    /// `method` with its configuration `config` (serialized here).
    pub fn new(method: impl Attribution<dyn Layered> + 'static, config: &impl Serialize) -> Self {
        Self {
            method: Box::new(method),
            config: serde_json::to_value(config).expect("a configuration serializes"),
        }
    }

    /// The configuration, as JSON: every parameter with the value used (tensors by shape).
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// The registry name.
    pub fn name(&self) -> &'static str {
        self.method.name()
    }

    /// [`Attribution::attribute`] (callable without the trait in scope).
    pub fn attribute(
        &self,
        model: &(dyn Layered + 'static),
        x: &Tensor,
        targets: &[usize],
    ) -> Result<Explanation> {
        self.method.attribute(model, x, targets)
    }
}

impl Attribution<dyn Layered> for BoxedMethod {
    fn name(&self) -> &'static str {
        self.method.name()
    }
    fn attribute(
        &self,
        model: &(dyn Layered + 'static),
        x: &Tensor,
        targets: &[usize],
    ) -> Result<Explanation> {
        self.method.attribute(model, x, targets)
    }
}

impl AsRef<dyn Attribution<dyn Layered>> for BoxedMethod {
    fn as_ref(&self) -> &(dyn Attribution<dyn Layered> + 'static) {
        self.method.as_ref()
    }
}

/// What a method gives: attribution maps of each input (built by [`MethodInfo::build`]), or
/// curves over a data set (partial dependence, [`crate::methods::partial_dependence`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
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
    /// What it needs from the model.
    pub needs: &'static str,
    /// What it gives.
    pub output: Output,
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

/// Builds configuration `C` from `params` and boxes it as the method (for methods whose
/// configuration is the method itself).
fn configured<C: MethodConfig + Clone + Attribution<dyn Layered> + 'static>(
    name: &'static str,
    params: &Params,
) -> Result<BoxedMethod> {
    let c: C = config::from_params(name, params)?;
    Ok(BoxedMethod::new(c.clone(), &c))
}

/// Builds configuration `C` from `params` and the method from it with `make`.
fn built_with<C: MethodConfig, A: Attribution<dyn Layered> + 'static>(
    name: &'static str,
    params: &Params,
    make: impl FnOnce(&C) -> Result<A>,
) -> Result<BoxedMethod> {
    let c: C = config::from_params(name, params)?;
    Ok(BoxedMethod::new(make(&c)?, &c))
}

const ATTRIBUTION: &str = "attribution / local / passive";

/// Every method, in the order `xai methods` lists them.
pub const METHODS: &[MethodInfo] = &[
    MethodInfo { name: "saliency", description: "gradient of the target logit w.r.t. the input, ∂f_c/∂x, or |∂f_c/∂x| (Simonyan et al. 2014)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<Saliency>, build: configured::<Saliency> },
    MethodInfo { name: "input-x-gradient", description: "input times gradient, x ⊙ ∂f_c/∂x (Shrikumar et al. 2016)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<InputXGradient>, build: configured::<InputXGradient> },
    MethodInfo { name: "integrated-gradients", description: "path integral of gradients from a baseline, (x − b) ⊙ ∫₀¹ ∂f_c(b + α(x − b))/∂x dα (Sundararajan et al. 2017)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<IntegratedGradients>, build: configured::<IntegratedGradients> },
    MethodInfo { name: "smoothgrad", description: "mean attribution of an inner method over noisy inputs (Smilkov et al. 2017)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<NoiseTunnelConfig>, build: |n, p| build_noise_tunnel(n, p, NoiseKind::SmoothGrad) },
    MethodInfo { name: "smoothgrad-squared", description: "mean squared attribution over noisy inputs (Hooker et al. 2019)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<NoiseTunnelConfig>, build: |n, p| build_noise_tunnel(n, p, NoiseKind::SmoothGradSquared) },
    MethodInfo { name: "vargrad", description: "variance of the attribution over noisy inputs (Adebayo et al. 2018)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<NoiseTunnelConfig>, build: |n, p| build_noise_tunnel(n, p, NoiseKind::VarGrad) },
    MethodInfo { name: "grad-cam", description: "ReLU of the layer's activations weighted by their mean gradients (Selvaraju et al. 2017)", family: ATTRIBUTION, needs: "layers", output: Output::Attributions, defaults: config::defaults::<GradCam>, build: configured::<GradCam> },
    MethodInfo { name: "cam", description: "class activation map of a layer before global average pooling (Zhou et al. 2016)", family: ATTRIBUTION, needs: "layers", output: Output::Attributions, defaults: config::defaults::<Cam>, build: configured::<Cam> },
    MethodInfo { name: "guided-grad-cam", description: "guided backprop times the upsampled Grad-CAM map (Selvaraju et al. 2017)", family: ATTRIBUTION, needs: "layers", output: Output::Attributions, defaults: config::defaults::<GuidedGradCam>, build: configured::<GuidedGradCam> },
    MethodInfo { name: "layer-gradient-x-activation", description: "a layer's activation times its gradient, A ⊙ ∂f_c/∂A (Captum); the layer's shape", family: ATTRIBUTION, needs: "layers", output: Output::Attributions, defaults: config::defaults::<LayerGradientXActivation>, build: configured::<LayerGradientXActivation> },
    MethodInfo { name: "layer-integrated-gradients", description: "integrated gradients of a layer's units along the input path (Sundararajan et al. 2017); the layer's shape", family: ATTRIBUTION, needs: "layers", output: Output::Attributions, defaults: config::defaults::<LayerIntegratedGradients>, build: configured::<LayerIntegratedGradients> },
    MethodInfo { name: "layer-conductance", description: "conductance of a layer's units (Dhamdhere et al. 2019); the layer's shape", family: ATTRIBUTION, needs: "layers", output: Output::Attributions, defaults: config::defaults::<LayerConductance>, build: configured::<LayerConductance> },
    MethodInfo { name: "neuron-gradient", description: "gradient of a hidden unit w.r.t. the input (Captum's NeuronGradient)", family: ATTRIBUTION, needs: "layers", output: Output::Attributions, defaults: config::defaults::<NeuronGradient>, build: configured::<NeuronGradient> },
    MethodInfo { name: "neuron-integrated-gradients", description: "integrated gradients of a hidden unit (Sundararajan et al. 2017)", family: ATTRIBUTION, needs: "layers", output: Output::Attributions, defaults: config::defaults::<NeuronIntegratedGradients>, build: configured::<NeuronIntegratedGradients> },
    MethodInfo { name: "gradient-shap", description: "expected gradients over a baseline distribution (Lundberg & Lee 2017; Erion et al. 2021)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<GradientShap>, build: configured::<GradientShap> },
    MethodInfo { name: "guided-backprop", description: "gradient with ReLU backward g·1[x>0]·1[g>0] (Springenberg et al. 2015)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<GuidedGradient>, build: |n, p| built_with(n, p, |g: &GuidedGradient| Ok(GuidedGradient { rule: ReluRule::Guided, ..g.clone() })) },
    MethodInfo { name: "deconvnet", description: "gradient with ReLU backward max(g, 0) (Zeiler & Fergus 2014)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<GuidedGradient>, build: |n, p| built_with(n, p, |g: &GuidedGradient| Ok(GuidedGradient { rule: ReluRule::Deconv, ..g.clone() })) },
    MethodInfo { name: "lrp", description: "layer-wise relevance propagation with a Zennit composite or a KEY=RULE spec (Bach et al. 2015; Montavon et al. 2019)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<LrpComposite>, build: |n, p| built_with(n, p, |c: &LrpComposite| c.method(n)) },
    MethodInfo { name: "lrp-epsilon", description: "LRP-ε on every linear/conv layer, R_in = x ⊙ Wᵀ(R/(z + ε·sign z)) (Bach et al. 2015)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<LrpEpsilon>, build: |n, p| built_with(n, p, |c: &LrpEpsilon| c.method(n)) },
    MethodInfo { name: "lrp-gamma", description: "LRP-γ on every linear/conv layer, weights W + γW⁺ (Montavon et al. 2019)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<LrpGamma>, build: |n, p| built_with(n, p, |c: &LrpGamma| c.method(n)) },
    MethodInfo { name: "lrp-alpha-beta", description: "LRP-αβ on every linear/conv layer, α·positive − β·negative contributions (Bach et al. 2015)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<LrpAlphaBeta>, build: |n, p| built_with(n, p, |c: &LrpAlphaBeta| c.method(n)) },
    MethodInfo { name: "lrp-z-plus", description: "LRP-z⁺ on every linear/conv layer, positive contributions only (Montavon et al. 2017)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<LrpZPlus>, build: |n, p| built_with(n, p, |c: &LrpZPlus| c.method(n)) },
    MethodInfo { name: "lrp-zb", description: "LRP-z^B on the first layer for inputs in [low, high], LRP-ε above (Montavon et al. 2017)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<LrpZb>, build: |n, p| built_with(n, p, |c: &LrpZb| c.method(n)) },
    MethodInfo { name: "deep-taylor", description: "deep Taylor decomposition: z⁺ rule, z^B (with low/high) or w² on the first layer (Montavon et al. 2017)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<DeepTaylor>, build: configured::<DeepTaylor> },
    MethodInfo { name: "deeplift", description: "contributions of x − baseline by multipliers Δy/Δx, Σa = f(x) − f(baseline), rescale or reveal-cancel (Shrikumar et al. 2017)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<DeepLift>, build: configured::<DeepLift> },
    MethodInfo { name: "occlusion", description: "mean output drop f(x) − f(x with a sliding window at the baseline) over the windows covering each feature (Zeiler & Fergus 2014; Captum Occlusion)", family: ATTRIBUTION, needs: "forward", output: Output::Attributions, defaults: config::defaults::<Occlusion>, build: configured::<Occlusion> },
    MethodInfo { name: "feature-ablation", description: "f(x) − f(x with a feature or group at the baseline) (Captum FeatureAblation)", family: ATTRIBUTION, needs: "forward", output: Output::Attributions, defaults: config::defaults::<FeatureAblation>, build: configured::<FeatureAblation> },
    MethodInfo { name: "omission", description: "leave-one-out f(x) − f(x without feature i), = feature-ablation per feature (Li et al. 2016)", family: ATTRIBUTION, needs: "forward", output: Output::Attributions, defaults: config::defaults::<Omission>, build: configured::<Omission> },
    MethodInfo { name: "shapley-exact", description: "exact Shapley values over all 2^d coalitions of features or groups, v(S) = mean over background of f(x_S, b) (Shapley 1953; Lundberg & Lee 2017); d ≤ 20", family: ATTRIBUTION, needs: "forward", output: Output::Attributions, defaults: config::defaults::<ShapleyExact>, build: configured::<ShapleyExact> },
    MethodInfo { name: "kernel-shap", description: "Shapley values by Shapley-kernel weighted least squares over coalitions (Lundberg & Lee 2017, SHAP KernelExplainer)", family: ATTRIBUTION, needs: "forward", output: Output::Attributions, defaults: config::defaults::<KernelShap>, build: configured::<KernelShap> },
    MethodInfo { name: "shapley-sampling", description: "Shapley values by antithetic permutation sampling (Štrumbelj & Kononenko 2014)", family: ATTRIBUTION, needs: "forward", output: Output::Attributions, defaults: config::defaults::<ShapleySampling>, build: configured::<ShapleySampling> },
    MethodInfo { name: "lime", description: "coefficients of a kernel-weighted ridge surrogate over on/off perturbations against the baseline, or tabular samples from the training statistics (Ribeiro et al. 2016)", family: ATTRIBUTION, needs: "forward", output: Output::Attributions, defaults: config::defaults::<Lime>, build: configured::<Lime> },
    MethodInfo { name: "meaningful-perturbation", description: "deletion mask minimising λ₁‖1−m‖₁ + λ₂TV(m) + p_c(x⊙m + x̃⊙(1−m)) by Adam, attribution 1 − m (Fong & Vedaldi 2017)", family: ATTRIBUTION, needs: "gradients", output: Output::Attributions, defaults: config::defaults::<MeaningfulPerturbation>, build: configured::<MeaningfulPerturbation> },
    MethodInfo { name: "pdp", description: "partial dependence of the target logit on a feature or pair over the data's quantile grid, PD(v) = mean_i f_c(x_i with x_S = v) (Friedman 2001); JSON and PNG", family: "attribution / global / passive", needs: "forward", output: Output::Curves { individual: false }, defaults: config::defaults::<DependenceConfig>, build: |n, _| Err(global_only(n)) },
    MethodInfo { name: "ice", description: "individual conditional expectation curves f_c(x_i with x_S = v), one per row, with their mean the PD (Goldstein et al. 2015); JSON and PNG", family: "attribution / semi-local / passive", needs: "forward", output: Output::Curves { individual: true }, defaults: config::defaults::<DependenceConfig>, build: |n, _| Err(global_only(n)) },
];

/// The refusal of building a global method (PDP, ICE) as a per-example attribution.
fn global_only(name: &str) -> PassiveError {
    PassiveError::BadArgument(format!(
        "{name} gives curves, not attributions: use xai_passive::methods::partial_dependence"
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

    #[test]
    fn every_method_builds_or_gives_curves() {
        for m in METHODS {
            let built = build(m.name, &Params::default());
            match m.output {
                Output::Attributions => assert!(built.is_ok(), "{}", m.name),
                Output::Curves { .. } => assert!(built.is_err(), "{}", m.name),
            }
        }
        assert_eq!(
            info("ice").unwrap().output,
            Output::Curves { individual: true }
        );
        assert_eq!(
            info("pdp").unwrap().output,
            Output::Curves { individual: false }
        );
        assert!(info("nope").is_err());
    }
}
