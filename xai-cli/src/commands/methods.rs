//! `xai methods`: the registry as a table, with each method's place in the survey's taxonomy
//! (Zhang et al., *A Survey on Neural Network Interpretability*: what the explanation is /
//! its scope / passive or active) and what it needs from the model (legend: `xai methods
//! --help`).

use super::CliResult;
use xai_passive::registry::METHODS;

/// Prints a header, then every method with its family, needs and description, grouped by
/// family (kind of explanation, then scope, then role; registry order within a group).
pub fn run() -> CliResult {
    let width = METHODS.iter().map(|m| m.name.len()).max().unwrap_or(0);
    let family = METHODS.iter().map(|m| m.family.len()).max().unwrap_or(0);
    println!(
        "{:<width$}  {:<family$}  {:<9}  description",
        "method", "family (kind / scope / role)", "needs"
    );
    let mut rows: Vec<_> = METHODS.iter().collect();
    rows.sort_by_key(|m| m.family);
    for m in rows {
        println!(
            "{:<width$}  {:<family$}  {:<9}  {}",
            m.name, m.family, m.needs, m.description
        );
    }
    Ok(())
}
