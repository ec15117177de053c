//! `xai methods`: the registry as a table.

use super::CliResult;
use xai_passive::registry::METHODS;

/// Prints every method with its family, needs and description.
pub fn run() -> CliResult {
    let width = METHODS.iter().map(|m| m.name.len()).max().unwrap_or(0);
    for m in METHODS {
        println!(
            "{:<width$}  {:<31} needs {:<10} {}",
            m.name, m.family, m.needs, m.description
        );
    }
    Ok(())
}
