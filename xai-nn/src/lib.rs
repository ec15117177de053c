//! # xai-nn
//!
//! Layers ([`Module`]), a [`Sequential`] model whose named layers can be tapped, and the model
//! files users export from PyTorch (`model.json` architecture + safetensors weights, see
//! [`file`]). The capability traits that attribution methods ask of a model live in [`model`].
//! Training: [`loss`], [`optim`], [`train`] (with an extra-loss hook for active methods);
//! datasets in [`data`] (CSV, the bundled real sets, synthetic sets with ground truth).

pub mod data;
mod error;
pub mod file;
pub mod layers;
pub mod loss;
pub mod model;
pub mod optim;
mod sequential;
pub mod train;

pub use data::Dataset;
pub use error::{NnError, Result};
pub use layers::{Ctx, Module};
pub use model::{Differentiable, Forward, Layered};
pub use sequential::{NamedLayer, Normalize, Sequential};
pub use train::{train, TrainConfig};
