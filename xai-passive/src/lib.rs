#![warn(missing_docs)]
//! # xai-passive
//!
//! Methods that explain a trained network without changing it (Zhang et al., *A Survey on
//! Neural Network Interpretability*, §III; Fan et al., *On Interpretability of Artificial
//! Neural Networks*). Every attribution method is one file in [`methods`] implementing
//! [`Attribution`], stating in its impl bound what it needs from a model
//! ([`Forward`](xai_nn::Forward), [`Differentiable`](xai_nn::Differentiable),
//! [`Layered`](xai_nn::Layered)), and one line in [`registry`].
//!
//! Later issues add here: the rest of the gradient family (integrated gradients, SmoothGrad,
//! guided backprop, LRP, DeepLIFT, Grad-CAM…), the perturbation family (occlusion, LIME,
//! KernelSHAP…), hidden semantics, rule extraction and example-based explanations.

mod attribution;
mod batching;
mod error;
pub mod methods;
pub mod registry;
pub mod report;

pub use attribution::{resolve_targets, Attribution, Explanation, MethodOptions, Target};
pub use batching::{map_batches, rows_done};
pub use error::{PassiveError, Result};
