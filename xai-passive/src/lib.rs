#![warn(missing_docs)]
//! # xai-passive
//!
//! Methods that explain a trained network without changing it (Zhang et al., *A Survey on
//! Neural Network Interpretability*, §III; Fan et al., *On Interpretability of Artificial
//! Neural Networks*). Every attribution method is one file in [`methods`] implementing
//! [`Attribution`], stating in its impl bound what it needs from a model
//! ([`Forward`](xai_nn::Forward), [`Differentiable`](xai_nn::Differentiable),
//! [`Layered`](xai_nn::Layered)), owning its configuration ([`MethodConfig`]: serde,
//! `Default`, `validate`), and one line in [`registry`], which builds it from [`Params`] by
//! name.
//!
//! Later issues add here: the rest of the gradient family (integrated gradients, SmoothGrad,
//! guided backprop, LRP, DeepLIFT, Grad-CAM…), the perturbation family (occlusion, LIME,
//! KernelSHAP…), hidden semantics, rule extraction and example-based explanations.
//!
//! ```
//! use xai_autodiff::Var;
//! use xai_nn::layers::Linear;
//! use xai_nn::{Layered, Node, Graph};
//! use xai_passive::{registry, resolve_targets, Attribution, Params, Target};
//! use xai_tensor::Tensor;
//!
//! // A linear model f(x) = W x: saliency of class 1 is W's row 1, and integrated gradients
//! // from a zero baseline are x ⊙ W₁ (they sum to f₁(x) − f₁(0)).
//! let w = Tensor::from_slice(&[1.0f32, -2.0, 0.5, 3.0, 0.25, -1.0], &[2, 3])?;
//! let fc = Linear { weight: Var::leaf(w), bias: None };
//! let layers = vec![Node::new("fc", Box::new(fc))];
//! let model = Graph::sequential(vec![3], layers, None)?;
//! let model: &dyn Layered = &model;
//! let x = Tensor::from_slice(&[1.0f32, 2.0, 4.0], &[1, 3])?;
//! let targets = resolve_targets(model, &x, &Target::Class(1))?;
//! let saliency = registry::build("saliency", &Params::default())?;
//! let e = saliency.attribute(model, &x, &targets)?;
//! assert_eq!(e.attributions.to_vec_f32()?, [3.0, 0.25, -1.0]);
//! // Parameters by name; the configuration used is recorded.
//! let ig = registry::build("integrated-gradients", &Params::default().with("steps", 20))?;
//! assert_eq!(ig.config()["steps"], 20);
//! let ig = ig.attribute(model, &x, &targets)?;
//! for (a, want) in ig.attributions.to_vec_f32()?.iter().zip([3.0, 0.5, -4.0]) {
//!     assert!((a - want).abs() < 1e-5);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod attribution;
mod baseline;
mod batching;
pub mod config;
mod error;
pub mod methods;
mod objectives;
pub mod output;
mod quadrature;
pub mod registry;
pub mod report;
pub mod rules;
#[cfg(test)]
mod testing;

pub use attribution::{resolve_targets, Attribution, Diagnostic, Explanation, Target};
pub use config::{MethodConfig, Params};
pub use output::Output;

/// Examples (or rows) per model call where a method's configuration does not say.
pub const DEFAULT_BATCH_SIZE: usize = 256;
pub use batching::{map_rows, rows_done, Chunks};
pub use error::{PassiveError, Result};
