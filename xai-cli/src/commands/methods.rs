//! `xai methods`: the registry as a table, with each method's place in the survey's taxonomy
//! (Zhang et al., *A Survey on Neural Network Interpretability*: what the explanation is /
//! its scope / passive or active) and what it needs from the model (legend: `xai methods
//! --help`).

use super::{flag_name, CliResult};
use xai_passive::registry::METHODS;
use xai_passive::Params;

/// Prints a header, then every method with its family, needs and description, grouped by
/// family (kind of explanation, then scope, then role; registry order within a group), and
/// under each the flags it takes with their defaults.
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
        let defaults = (m.defaults)();
        let flags: Vec<String> = m
            .parameter_names(&Params::default())
            .iter()
            .map(|p| match defaults.get(p) {
                Some(serde_json::Value::String(s)) => format!("{} {s}", flag_name(p)),
                Some(v) if !v.is_null() && !v.is_boolean() => format!("{} {v}", flag_name(p)),
                _ => flag_name(p),
            })
            .collect();
        println!("{:<width$}  flags: {}", "", flags.join(", "));
    }
    Ok(())
}
