//! `xai`: explain neural networks exported from PyTorch. Each subcommand lives in
//! `commands/`; errors end as one line on stderr and a non-zero exit.

mod commands;
mod progress;
mod render;
mod report;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Neural-network interpretability: predictions and explanations of models exported from
/// PyTorch (model.json + safetensors).
#[derive(Parser)]
#[command(name = "xai", version, about, long_about = None)]
struct Cli {
    /// No progress bars or spinners on stderr (they are drawn only when stderr is a terminal).
    #[arg(long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Logits [N, K] of a model for a batch of inputs.
    Predict(commands::predict::Args),
    /// Attributions of the model's outputs to its inputs, with the input's shape.
    Explain(commands::explain::Args),
    /// Train a model file's architecture on a dataset.
    Train(commands::train::Args),
    /// Metrics of a model on a dataset (accuracy) or of explanations (deletion, infidelity,
    /// max-sensitivity, sanity checks, …).
    Evaluate(commands::evaluate::Args),
    /// Rank attribution methods on a model and inputs (deletion, insertion, infidelity,
    /// max-sensitivity, sparseness, randomization); writes league.md and league.json.
    League(commands::league::Args),
    /// List the explanation methods with their family and what they need.
    ///
    /// Family, in the taxonomy of Zhang et al. (A Survey on Neural Network Interpretability):
    /// what the explanation is (attribution | hidden semantics | rules | examples), its scope
    /// (local: one input | semi-local: a neighbourhood or group | global: the whole model) and
    /// its role (passive: explains a trained network as it is | active: changes training to
    /// make it interpretable). Needs: forward = outputs only (black box); gradients =
    /// backpropagation to the input; layers = named hidden layers and their gradients.
    Methods,
    /// Run the bundled end-to-end example (what `make demo` runs).
    Demo(commands::demo::Args),
}

/// Restores the default SIGPIPE action, so `xai ... | head` ends quietly when the reader
/// closes the pipe (Rust ignores SIGPIPE and would report a write error instead).
#[cfg(unix)]
fn default_sigpipe() {
    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const SIGPIPE: i32 = 13;
    const SIG_DFL: usize = 0;
    // SAFETY: installs the default disposition for SIGPIPE before any thread is started.
    unsafe {
        signal(SIGPIPE, SIG_DFL);
    }
}

#[cfg(not(unix))]
fn default_sigpipe() {}

fn main() -> ExitCode {
    default_sigpipe();
    // A bug must still end as one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned());
        eprintln!(
            "error: internal error: {}",
            msg.unwrap_or_else(|| "panic".into()).replace('\n', " ")
        );
    }));
    let cli = Cli::parse();
    progress::set_quiet(cli.quiet);
    let result = match cli.command {
        Command::Predict(a) => commands::predict::run(&a),
        Command::Explain(a) => commands::explain::run(&a),
        Command::Train(a) => commands::train::run(&a),
        Command::Evaluate(a) => commands::evaluate::run(&a),
        Command::League(a) => commands::league::run(&a),
        Command::Methods => commands::methods::run(),
        Command::Demo(a) => commands::demo::run(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
