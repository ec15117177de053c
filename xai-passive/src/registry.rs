//! The one list of explanation methods: name, description, place in the surveys' taxonomy,
//! what it needs from a model, and how to build it. Adding a method adds one line here.

use crate::attribution::{Attribution, MethodOptions};
use crate::methods::*;
use crate::{PassiveError, Result};
use xai_nn::Layered;

/// A boxed method usable on any layered model (what the CLI holds).
pub type BoxedMethod = Box<dyn Attribution<dyn Layered>>;

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
    /// Builds the method from the shared options.
    pub build: fn(&MethodOptions) -> Result<BoxedMethod>,
}

/// Every method, in the order `xai methods` lists them.
pub const METHODS: &[MethodInfo] = &[MethodInfo {
    name: "saliency",
    description:
        "gradient of the target logit w.r.t. the input (Simonyan et al. 2014); --abs for |gradient|",
    family: "attribution / local / passive",
    needs: "gradients",
    output: Output::Attributions,
    build: |o| Ok(Box::new(Saliency { opts: o.clone() })),
},
MethodInfo { name: "input-x-gradient", description: "input times gradient, x ⊙ ∂f_c/∂x (Shrikumar et al. 2016)", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(InputXGradient { opts: o.clone() })) },
MethodInfo { name: "integrated-gradients", description: "path integral of gradients from a baseline (Sundararajan et al. 2017); --baseline, --steps, --integration", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(IntegratedGradients { opts: o.clone() })) },
MethodInfo { name: "smoothgrad", description: "mean attribution over noisy inputs (Smilkov et al. 2017); --samples, --noise-std, --seed, --inner", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| build_noise_tunnel(o, NoiseKind::SmoothGrad) },
MethodInfo { name: "smoothgrad-squared", description: "mean squared attribution over noisy inputs (Hooker et al. 2019); --samples, --noise-std, --seed, --inner", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| build_noise_tunnel(o, NoiseKind::SmoothGradSquared) },
MethodInfo { name: "vargrad", description: "variance of the attribution over noisy inputs (Adebayo et al. 2018); --samples, --noise-std, --seed, --inner", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| build_noise_tunnel(o, NoiseKind::VarGrad) },
MethodInfo { name: "grad-cam", description: "ReLU of the layer's activations weighted by their mean gradients (Selvaraju et al. 2017); --layer, --no-upsample", family: "attribution / local / passive", needs: "layers", output: Output::Attributions, build: |o| Ok(Box::new(GradCam { opts: o.clone() })) },
MethodInfo { name: "cam", description: "class activation map of a layer before global average pooling (Zhou et al. 2016); --layer, --no-upsample", family: "attribution / local / passive", needs: "layers", output: Output::Attributions, build: |o| Ok(Box::new(Cam { opts: o.clone() })) },
MethodInfo { name: "guided-grad-cam", description: "guided backprop times the upsampled Grad-CAM map (Selvaraju et al. 2017); --layer", family: "attribution / local / passive", needs: "layers", output: Output::Attributions, build: |o| Ok(Box::new(GuidedGradCam { opts: o.clone() })) },
MethodInfo { name: "layer-gradient-x-activation", description: "a layer's activation times its gradient, A ⊙ ∂f_c/∂A (Captum); --layer; the layer's shape", family: "attribution / local / passive", needs: "layers", output: Output::Attributions, build: |o| Ok(Box::new(LayerGradientXActivation { opts: o.clone() })) },
MethodInfo { name: "layer-integrated-gradients", description: "integrated gradients of a layer's units along the input path (Sundararajan et al. 2017); --layer; the layer's shape", family: "attribution / local / passive", needs: "layers", output: Output::Attributions, build: |o| Ok(Box::new(LayerIntegratedGradients { opts: o.clone() })) },
MethodInfo { name: "layer-conductance", description: "conductance of a layer's units (Dhamdhere et al. 2019); --layer; the layer's shape", family: "attribution / local / passive", needs: "layers", output: Output::Attributions, build: |o| Ok(Box::new(LayerConductance { opts: o.clone() })) },
MethodInfo { name: "neuron-gradient", description: "gradient of a hidden unit w.r.t. the input (Captum's NeuronGradient); --neuron LAYER:INDEX", family: "attribution / local / passive", needs: "layers", output: Output::Attributions, build: |o| Ok(Box::new(NeuronGradient { opts: o.clone() })) },
MethodInfo { name: "neuron-integrated-gradients", description: "integrated gradients of a hidden unit (Sundararajan et al. 2017); --neuron LAYER:INDEX", family: "attribution / local / passive", needs: "layers", output: Output::Attributions, build: |o| Ok(Box::new(NeuronIntegratedGradients { opts: o.clone() })) },
MethodInfo { name: "gradient-shap", description: "expected gradients over a baseline distribution (Lundberg & Lee 2017; Erion et al. 2021); --baselines, --samples, --noise-std, --seed", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(GradientShap { opts: o.clone() })) },
MethodInfo { name: "guided-backprop", description: "gradient with ReLU backward g·1[x>0]·1[g>0] (Springenberg et al. 2015)", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(GuidedGradient { rule: ReluRule::Guided, opts: o.clone() })) },
MethodInfo { name: "deconvnet", description: "gradient with ReLU backward max(g, 0) (Zeiler & Fergus 2014)", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(GuidedGradient { rule: ReluRule::Deconv, opts: o.clone() })) },
MethodInfo { name: "lrp", description: "layer-wise relevance propagation with a Zennit composite (Bach et al. 2015; Montavon et al. 2019); --composite, --epsilon, --gamma, --low/--high", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(Lrp::build("lrp", o)?)) },
MethodInfo { name: "lrp-epsilon", description: "LRP-ε on every linear/conv layer, R_in = x ⊙ Wᵀ(R/(z + ε·sign z)) (Bach et al. 2015); --epsilon", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(Lrp::build("lrp-epsilon", o)?)) },
MethodInfo { name: "lrp-gamma", description: "LRP-γ on every linear/conv layer, weights W + γW⁺ (Montavon et al. 2019); --gamma", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(Lrp::build("lrp-gamma", o)?)) },
MethodInfo { name: "lrp-alpha-beta", description: "LRP-αβ on every linear/conv layer, α·positive − β·negative contributions (Bach et al. 2015); --alpha, --beta", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(Lrp::build("lrp-alpha-beta", o)?)) },
MethodInfo { name: "lrp-z-plus", description: "LRP-z⁺ on every linear/conv layer, positive contributions only (Montavon et al. 2017)", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(Lrp::build("lrp-z-plus", o)?)) },
MethodInfo { name: "lrp-zb", description: "LRP-z^B on the first layer for inputs in [low, high], LRP-ε above (Montavon et al. 2017); --low/--high, --epsilon", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(Lrp::build("lrp-zb", o)?)) },
MethodInfo { name: "deep-taylor", description: "deep Taylor decomposition: z⁺ rule, z^B (with --low/--high) or w² on the first layer (Montavon et al. 2017)", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(DeepTaylor::build(o)?)) },
MethodInfo { name: "deeplift", description: "contributions of x − baseline by multipliers Δy/Δx, Σa = f(x) − f(baseline) (Shrikumar et al. 2017); --baseline, --rule rescale|reveal-cancel", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(DeepLift { rule: o.deeplift_rule, opts: o.clone() })) },
MethodInfo { name: "occlusion", description: "mean output drop f(x) − f(x with a sliding window at the baseline) over the windows covering each feature (Zeiler & Fergus 2014; Captum Occlusion); --window, --stride, --baseline", family: "attribution / local / passive", needs: "forward", output: Output::Attributions, build: |o| Ok(Box::new(Occlusion { opts: o.clone() })) },
MethodInfo { name: "feature-ablation", description: "f(x) − f(x with a feature or group at the baseline) (Captum FeatureAblation); --mask, --segments, --baseline", family: "attribution / local / passive", needs: "forward", output: Output::Attributions, build: |o| Ok(Box::new(FeatureAblation { opts: o.clone() })) },
MethodInfo { name: "omission", description: "leave-one-out f(x) − f(x without feature i), = feature-ablation per feature (Li et al. 2016); --baseline", family: "attribution / local / passive", needs: "forward", output: Output::Attributions, build: |o| Ok(Box::new(Omission { opts: o.clone() })) },
MethodInfo { name: "shapley-exact", description: "exact Shapley values over all 2^d coalitions of features or groups, v(S) = mean over background of f(x_S, b) (Shapley 1953; Lundberg & Lee 2017); d ≤ 20; --mask, --segments, --baselines/--baseline", family: "attribution / local / passive", needs: "forward", output: Output::Attributions, build: |o| Ok(Box::new(ShapleyExact { opts: o.clone() })) },
MethodInfo { name: "kernel-shap", description: "Shapley values by Shapley-kernel weighted least squares over coalitions (Lundberg & Lee 2017, SHAP KernelExplainer); --samples, --seed, --mask, --segments, --baselines/--baseline", family: "attribution / local / passive", needs: "forward", output: Output::Attributions, build: |o| Ok(Box::new(KernelShap { opts: o.clone() })) },
MethodInfo { name: "shapley-sampling", description: "Shapley values by antithetic permutation sampling (Štrumbelj & Kononenko 2014); --samples (permutations), --seed, --mask, --segments, --baselines/--baseline", family: "attribution / local / passive", needs: "forward", output: Output::Attributions, build: |o| Ok(Box::new(ShapleySampling { opts: o.clone() })) },
MethodInfo { name: "lime", description: "coefficients of a kernel-weighted ridge surrogate over on/off perturbations against the baseline, or tabular samples from the training statistics (Ribeiro et al. 2016); --samples, --kernel-width, --seed, --mask, --segments grid:N|slic:N, --baseline, --lime-sampling on-off|training|around-instance|quartile, --data/--baselines", family: "attribution / local / passive", needs: "forward", output: Output::Attributions, build: |o| Ok(Box::new(Lime { opts: o.clone() })) },
MethodInfo { name: "meaningful-perturbation", description: "deletion mask minimising λ₁‖1−m‖₁ + λ₂TV(m) + p_c(x⊙m + x̃⊙(1−m)) by Adam, attribution 1 − m (Fong & Vedaldi 2017); --iterations, --lambda-l1, --lambda-tv, --mask-size, --reference blur|baseline, --noise-std, --seed", family: "attribution / local / passive", needs: "gradients", output: Output::Attributions, build: |o| Ok(Box::new(MeaningfulPerturbation { opts: o.clone() })) },
MethodInfo { name: "pdp", description: "partial dependence of the target logit on a feature or pair over the data's quantile grid, PD(v) = mean_i f_c(x_i with x_S = v) (Friedman 2001); --feature I[,J], --grid; JSON and PNG", family: "attribution / global / passive", needs: "forward", output: Output::Curves { individual: false }, build: |_| Err(global_only("pdp")) },
MethodInfo { name: "ice", description: "individual conditional expectation curves f_c(x_i with x_S = v), one per row, with their mean the PD (Goldstein et al. 2015); --feature I[,J], --grid; JSON and PNG", family: "attribution / semi-local / passive", needs: "forward", output: Output::Curves { individual: true }, build: |_| Err(global_only("ice")) },
];

/// The refusal of building a global method (PDP, ICE) as a per-example attribution.
fn global_only(name: &str) -> PassiveError {
    PassiveError::BadArgument(format!(
        "{name} gives curves, not attributions: use xai_passive::methods::partial_dependence (xai explain --method \
         {name} --feature I[,J])"
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

/// Builds the attribution method called `name`.
pub fn build(name: &str, opts: &MethodOptions) -> Result<BoxedMethod> {
    (info(name)?.build)(opts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_builds_or_gives_curves() {
        for m in METHODS {
            let built = build(m.name, &MethodOptions::default());
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
