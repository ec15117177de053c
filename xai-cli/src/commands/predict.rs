//! `xai predict`: logits of a model for a batch.

use super::{load_model, read_input, CliResult};
use std::path::PathBuf;
use xai_nn::Forward;

/// Arguments of `xai predict`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub device: super::DeviceArgs,
    /// Model JSON (with its safetensors weights beside it).
    #[arg(long)]
    pub model: PathBuf,
    /// Input batch, .npy (f32 or f64) of shape [N, ...input_shape] or one example.
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the logits [N, K] (f32 .npy).
    #[arg(long)]
    pub output: PathBuf,
    /// Accept NaN or infinite inputs (refused by default).
    #[arg(long)]
    pub allow_nan: bool,
}

/// Runs `xai predict`.
pub fn run(a: &Args) -> CliResult {
    let model = a.device.place_model(load_model(&a.model)?)?;
    let (x, _) = read_input(&model, &a.input, a.allow_nan)?;
    model.predict(&a.device.place(&x)?)?.write_npy(&a.output)?;
    Ok(())
}
