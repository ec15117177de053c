//! Subcommands, and the input/output steps they share.

pub mod demo;
pub mod dependence;
pub mod evaluate;
pub mod explain;
pub mod methods;
pub mod predict;
pub mod train;

use std::path::Path;
use xai_nn::{file, Sequential};
use xai_tensor::Tensor;

/// Errors of the CLI: any library error, shown as one line.
pub type CliResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Loads a model with weights.
pub fn load_model(path: &Path) -> CliResult<Sequential> {
    Ok(file::load(path)?)
}

/// Reads an input batch for `model` from .npy or .csv (a last column named `target` is dropped) (a single example gains a batch axis); returns the batch
/// and the input's own shape (to give outputs back in it).
pub fn read_input(
    model: &Sequential,
    path: &Path,
    allow_non_finite: bool,
) -> CliResult<(Tensor, Vec<usize>)> {
    let raw = if path.extension().is_some_and(|e| e == "csv") {
        xai_nn::data::read_csv_features(path)?
    } else {
        Tensor::read_npy(path)?
    };
    let batch = model
        .check_input(&raw, allow_non_finite)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((batch, raw.shape().to_vec()))
}
