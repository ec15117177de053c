//! # xai-nn
//!
//! Layers ([`Module`]), a [`Graph`] model whose named layers can be tapped, and the model
//! files users export from PyTorch (`model.json` architecture + safetensors weights, see
//! [`mod@file`]). The capability traits that attribution methods ask of a model live in [`model`].
//! Training: [`loss`], [`optim`], [`mod@train`] (with an extra-loss hook for active methods);
//! second order over parameters (gradients and Hessian-vector products by name) in
//! [`hessian`]; datasets in [`data`] (CSV, the bundled real sets, synthetic sets with ground truth).
//!
//! ```
//! use xai_autodiff::Var;
//! use xai_nn::layers::{Activation, ActivationKind, Linear};
//! use xai_nn::{Forward, Node, Graph};
//! use xai_tensor::Tensor;
//!
//! // 2 → 2 → ReLU → 1, the layers named as in a model file.
//! let t = |v: &[f32], s: &[usize]| Tensor::from_slice(v, s);
//! let layer = |name: &str, layer: Box<dyn xai_nn::Module>| Node::new(name, layer);
//! let fc1 = Linear { weight: Var::leaf(t(&[1.0, 1.0, -1.0, 2.0], &[2, 2])?), bias: None };
//! let fc2 = Linear { weight: Var::leaf(t(&[2.0, -1.0], &[1, 2])?), bias: None };
//! let model = Graph::sequential(
//!     vec![2],
//!     vec![
//!         layer("fc1", Box::new(fc1)),
//!         layer("relu", Box::new(Activation::new(ActivationKind::Relu))),
//!         layer("fc2", Box::new(fc2)),
//!     ],
//!     None,
//! )?;
//! // x = [1, 2]: relu([3, 3]) = [3, 3], 2·3 − 3 = 3.
//! assert_eq!(model.predict(&t(&[1.0, 2.0], &[1, 2])?)?.to_vec_f32()?, [3.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod data;
mod error;
pub mod file;
mod graph;
pub mod hessian;
pub mod interval;
pub mod layers;
pub mod loss;
pub mod model;
pub mod objective;
pub mod optim;
pub mod train;
mod trainable;

pub use data::Dataset;
pub use error::{NnError, Result};
pub use graph::{Graph, Node, Normalize, Outputs, INPUT};
pub use layers::{Ctx, Module};
pub use model::{Differentiable, Forward, Layered};
pub use objective::Objective;
pub use train::{train, train_with, ParamGroup, TrainConfig};
pub use trainable::{ForwardPass, Reinitialize, Trainable};
