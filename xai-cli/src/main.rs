//! `xai`: explain neural networks exported from PyTorch. Each subcommand lives in
//! `commands/`; errors, panics and interruptions ([`signals`]) end as one line on stderr and a
//! non-zero exit, and outputs are written all or nothing ([`xai_tensor::fs`]).

mod commands;
mod memory;
mod progress;
mod render;
mod report;
mod signals;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

/// Large allocations are counted against `--max-memory` ([`memory`]).
#[global_allocator]
static ALLOCATOR: memory::Budgeted = memory::Budgeted;

/// Neural-network interpretability: predictions and explanations of models exported from
/// PyTorch (model.json + safetensors).
#[derive(Parser)]
#[command(name = "xai", version, about, long_about = None)]
struct Cli {
    /// No progress bars or spinners on stderr (they are drawn only when stderr is a terminal).
    #[arg(long, global = true)]
    quiet: bool,
    /// Memory budget of the run, e.g. 16G or 512M (default: 90% of physical memory): an
    /// allocation past it ends the run with one line naming the figures, before the memory is
    /// used.
    #[arg(long, global = true, value_name = "SIZE", value_parser = memory::parse_size, allow_hyphen_values = true)]
    max_memory: Option<usize>,
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
    /// Rules that stand in for a network: a decision tree (CART) distilled from its
    /// predictions, or boxes certified by interval bounds (VIA), fitted on the training split
    /// and measured on the held-out split (fidelity, accuracy, coverage, size, average path
    /// length); printed one rule per line, then a JSON summary.
    Rules(commands::rules::Args),
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

/// The command line, or the exit code of a usage error (one line on stderr, code 2), of
/// `--help` / `--version` (printed, code 0), or of a bare `xai` (the short help, code 2).
/// Every flag that takes a value takes negative numbers as values, so the flag's own check
/// names what is wrong (`--target -1`), not clap's "unexpected argument".
fn parse() -> Result<Cli, ExitCode> {
    use clap::error::ErrorKind;
    let negative = |a: clap::Arg| {
        if a.get_action().takes_values() {
            a.allow_negative_numbers(true)
        } else {
            a
        }
    };
    let cmd = Cli::command().mut_subcommands(move |s| s.mut_args(negative));
    let parsed = cmd
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    parsed.map_err(|e| match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = Cli::command().print_help();
            ExitCode::from(2)
        }
        _ => {
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("error");
            let line = first.trim_start_matches("error: ");
            eprintln!("error: {line}");
            ExitCode::from(2)
        }
    })
}

fn main() -> ExitCode {
    default_sigpipe();
    // SIGINT/SIGTERM/SIGHUP: temp files removed, one line, exit 128 + the signal.
    signals::install();
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
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    progress::set_quiet(cli.quiet);
    memory::set_limit(cli.max_memory.unwrap_or_else(memory::default_limit));
    let result = match cli.command {
        Command::Predict(a) => commands::predict::run(&a),
        Command::Explain(a) => commands::explain::run(&a),
        Command::Train(a) => commands::train::run(&a),
        Command::Evaluate(a) => commands::evaluate::run(&a),
        Command::League(a) => commands::league::run(&a),
        Command::Rules(a) => commands::rules::run(&a),
        Command::Methods => commands::methods::run(),
        Command::Demo(a) => commands::demo::run(&a),
    };
    if !signals::claim_last_word() {
        // A signal is ending the run: its thread prints the one line and exits.
        loop {
            std::thread::park();
        }
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.to_string().replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
