//! One file per attribution method (and the rule and perturbation machinery they share).

mod composite;
mod deep_taylor;
mod deeplift;
mod dependence;
mod feature_ablation;
mod grad_cam;
mod gradient_shap;
mod guided;
mod input_x_gradient;
mod integrated_gradients;
mod kernel_shap;
mod layer_attribution;
mod least_squares;
mod lime;
mod lime_discretizer;
mod lrp;
mod lrp_rules;
mod meaningful_perturbation;
mod neuron_attribution;
mod noise_tunnel;
mod occlusion;
pub mod perturbation;
mod saliency;
mod segments;
mod shapley_exact;
mod shapley_sampling;

pub use crate::baseline::Baseline;
pub use crate::quadrature::{gauss_legendre, Integration};
pub use composite::{
    ActivationRule, Composite, CompositeRule, ElementwiseRule, MaxPoolRule, PoolRule, SpecialLayer,
};
pub use deep_taylor::DeepTaylor;
pub use deeplift::{DeepLift, DeepLiftRule, MAXPOOL_TIE_RTOL};
pub use dependence::{
    dataset_target, partial_dependence, quantile_grid, Dependence, DependenceConfig,
};
pub use feature_ablation::{FeatureAblation, Omission};
pub use grad_cam::{bilinear_resize, Cam, GradCam, GuidedGradCam};
pub use gradient_shap::GradientShap;
pub use guided::{GuidedGradient, ReluRule};
pub use input_x_gradient::InputXGradient;
pub use integrated_gradients::IntegratedGradients;
pub use kernel_shap::{kernel_coalitions, KernelShap};
pub use layer_attribution::{
    LayerConductance, LayerGradientXActivation, LayerIntegratedGradients, LayerPath,
};
pub use least_squares::WeightedLeastSquares;
pub use lime::{ridge_with_intercept, Lime, LimeFit, LimeSampling};
pub use lrp::{
    target_relevance, Bounds, CompositeKind, Lrp, LrpAlphaBeta, LrpComposite, LrpEpsilon, LrpGamma,
    LrpZPlus, LrpZb,
};
pub use lrp_rules::{stabilize, LinearMap, LrpRule};
pub use meaningful_perturbation::{MaskReference, MeaningfulPerturbation};
pub use neuron_attribution::{NeuronGradient, NeuronIntegratedGradients};
pub use noise_tunnel::{build_noise_tunnel, NoiseKind, NoiseTunnel, NoiseTunnelConfig};
pub use occlusion::{occlusion_geometry, Occlusion};
pub use perturbation::FeatureGroups;
pub use saliency::{target_gradient, Saliency};
pub use segments::{slic, Segmentation};
pub use shapley_exact::{ShapleyExact, MAX_EXACT_FEATURES};
pub use shapley_sampling::ShapleySampling;
