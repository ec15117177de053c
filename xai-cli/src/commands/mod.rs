//! Subcommands, and the input/output steps they share.

pub mod demo;
pub mod dependence;
pub mod evaluate;
pub mod explain;
pub mod league;
pub mod methods;
pub mod predict;
pub mod rules;
pub mod train;

use std::path::Path;
use xai_nn::{file, Graph};
use xai_tensor::{DType, Device, Tensor};

/// Errors of the CLI: any library error, shown as one line.
pub type CliResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The flag of parameter `name` (`noise_std` → `--noise-std`; `upsample`, on by default,
/// is turned off by `--no-upsample`).
pub fn flag_name(name: &str) -> String {
    match name {
        "upsample" => "--no-upsample".into(),
        _ => format!("--{}", name.replace('_', "-")),
    }
}

/// A library error with the parameters it names spelled as the flags of those names
/// (`steps must be …` → `--steps must be …`).
pub fn with_flag_names(e: xai_passive::PassiveError) -> Box<dyn std::error::Error + Send + Sync> {
    use xai_passive::PassiveError;
    match e {
        PassiveError::BadParameter { name, msg } => format!("{} {msg}", flag_name(&name)).into(),
        PassiveError::UnknownParameter {
            name,
            method,
            known,
        } => {
            let flags: Vec<String> = known.iter().map(|k| flag_name(k)).collect();
            format!(
                "{} is not a flag of {method} (its flags: {})",
                flag_name(&name),
                flags.join(", ")
            )
            .into()
        }
        e => e.into(),
    }
}

/// Loads a model with weights (the loader refuses a JSON or weights file that is not a regular
/// file: a FIFO would block it, `/dev/zero` never ends).
pub fn load_model(path: &Path) -> CliResult<Graph> {
    Ok(file::load(path)?)
}

/// Reads an input batch for `model` from .npy or .csv (a last column named `target` is dropped) (a single example gains a batch axis); returns the batch
/// and the input's own shape (to give outputs back in it).
pub fn read_input(
    model: &Graph,
    path: &Path,
    allow_non_finite: bool,
) -> CliResult<(Tensor, Vec<usize>)> {
    let raw = if path.extension().is_some_and(|e| e == "csv") {
        let opts = xai_nn::data::CsvOptions { allow_non_finite };
        xai_nn::data::read_csv_features(path, opts)?
    } else {
        Tensor::read_npy(path)?
    };
    let batch = model
        .check_input(&raw, allow_non_finite)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((batch, raw.shape().to_vec()))
}

/// `--device cpu|cuda[:N]`, shared by predict, explain, train and evaluate.
#[derive(clap::Args, Clone, Debug)]
pub struct DeviceArgs {
    /// Where to compute: cpu, cuda (device 0) or cuda:N.
    #[arg(long, default_value = "cpu", value_parser = |s: &str| s.parse::<Device>())]
    pub device: Device,
}

impl DeviceArgs {
    /// The chosen device, checked usable: a CUDA device that cannot run (a build without the
    /// `cuda` feature, or no driver, device or libnvrtc) is a one-line error naming what is
    /// missing.
    pub fn usable(&self) -> CliResult<Device> {
        if self.device != Device::Cpu {
            Tensor::zeros(&[1], DType::F32).to_device(self.device)?;
        }
        Ok(self.device)
    }

    /// For commands that do not run on CUDA yet (train, evaluate): the CPU, or a one-line
    /// error (what is missing, or that the command does not run there yet).
    pub fn resolve(&self) -> CliResult<Device> {
        if self.usable()? != Device::Cpu {
            return Err(format!(
                "{}: this command does not run on CUDA yet; use --device cpu",
                self.device
            )
            .into());
        }
        Ok(Device::Cpu)
    }

    /// `model` with its parameters on the device (checked usable first).
    pub fn place_model(&self, model: Graph) -> CliResult<Graph> {
        if self.usable()? != Device::Cpu {
            return Ok(model.to_device(self.device)?);
        }
        Ok(model)
    }

    /// `x` on the device.
    pub fn place(&self, x: &Tensor) -> CliResult<Tensor> {
        Ok(x.to_device(self.device)?)
    }
}
