//! `xai methods`: the registries as a table, with each method's place in the survey's
//! taxonomy (Zhang et al., *A Survey on Neural Network Interpretability*: what the explanation
//! is / its scope / passive or active) and what it needs from the model (legend: `xai methods
//! --help`). Attribution methods run under `xai explain`, rule methods under `xai rules`.

use super::{flag_name, CliResult};
use serde_json::Value;
use xai_passive::Params;

/// One method of either registry, as listed.
struct Row {
    name: &'static str,
    family: &'static str,
    needs: String,
    description: &'static str,
    defaults: Value,
    parameters: Vec<String>,
}

fn rows() -> Vec<Row> {
    let attribution = xai_passive::registry::METHODS.iter().map(|m| Row {
        name: m.name,
        family: m.family,
        needs: m.needs.to_string(),
        description: m.description,
        defaults: (m.defaults)(),
        parameters: m.parameter_names(&Params::default()),
    });
    let rules = xai_passive::rules::METHODS.iter().map(|m| {
        let defaults = (m.defaults)();
        let parameters = defaults
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        Row {
            name: m.name,
            family: m.family,
            needs: m.needs.to_string(),
            description: m.description,
            defaults,
            parameters,
        }
    });
    attribution.chain(rules).collect()
}

/// Prints a header, then every method with its family, needs and description, grouped by
/// family (kind of explanation, then scope, then role; registry order within a group), and
/// under each the flags it takes with their defaults.
pub fn run() -> CliResult {
    let mut rows = rows();
    let width = rows.iter().map(|m| m.name.len()).max().unwrap_or(0);
    let family = rows.iter().map(|m| m.family.len()).max().unwrap_or(0);
    println!(
        "{:<width$}  {:<family$}  {:<9}  description",
        "method", "family (kind / scope / role)", "needs"
    );
    rows.sort_by_key(|m| m.family);
    for m in rows {
        println!(
            "{:<width$}  {:<family$}  {:<9}  {}",
            m.name, m.family, m.needs, m.description
        );
        let flags: Vec<String> = m
            .parameters
            .iter()
            .map(|p| match m.defaults.get(p) {
                Some(Value::String(s)) => format!("{} {s}", flag_name(p)),
                Some(v) if !v.is_null() && !v.is_boolean() => format!("{} {v}", flag_name(p)),
                _ => flag_name(p),
            })
            .collect();
        println!("{:<width$}  flags: {}", "", flags.join(", "));
    }
    Ok(())
}
