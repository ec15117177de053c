//! `xai rules`: rules that stand in for a network, extracted on the training split of the
//! seeded stratified split `xai train` uses and measured on its held-out split.

use super::{with_flag_names, CliResult};
use crate::report::Outputs;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Instant;
use xai_eval::rules::measure_rules;
use xai_passive::rules::{self, RuleData};
use xai_passive::Params;

/// Arguments of `xai rules`.
#[derive(clap::Args)]
pub struct Args {
    /// The network: model.json with its weights.
    #[arg(long)]
    pub model: PathBuf,
    /// Dataset: a bundled name (iris, wine, breast_cancer, digits, mnist) or a CSV file
    /// (header row of feature names, integer class in the last column).
    #[arg(long)]
    pub data: String,
    /// Shape of one example, e.g. 1,8,8 (default: the model's input shape).
    #[arg(long, value_delimiter = ',')]
    pub input_shape: Option<Vec<usize>>,
    /// Extraction method (`xai methods` lists them): cart | trepan | kt | m-of-n | via.
    #[arg(long, default_value = "cart")]
    pub method: String,
    /// cart: gini | entropy.
    #[arg(long)]
    pub criterion: Option<String>,
    /// cart: most decisions on a path (≥ 1; default: unlimited).
    #[arg(long)]
    pub max_depth: Option<i64>,
    /// cart: fewest training rows in a leaf (≥ 1; default 1).
    #[arg(long)]
    pub min_samples_leaf: Option<i64>,
    /// cart: fewest rows a node needs to be split (≥ 2; default 2).
    #[arg(long)]
    pub min_samples_split: Option<i64>,
    /// cart: cost-complexity pruning strength α ≥ 0 (default 0: no pruning).
    #[arg(long)]
    pub ccp_alpha: Option<f64>,
    /// cart: a regression tree on the network's class probabilities instead of a
    /// classification tree on its predicted classes.
    #[arg(long)]
    pub soft: bool,
    /// trepan: the tree's size budget in leaves (≥ 2; default 10).
    #[arg(long)]
    pub max_leaves: Option<i64>,
    /// trepan: examples per node, training rows topped up with drawn ones (default 300).
    #[arg(long)]
    pub min_samples: Option<i64>,
    /// trepan: most literals of an m-of-n split (default 4).
    #[arg(long)]
    pub max_literals: Option<i64>,
    /// kt: most literals of a unit's rule (default 6).
    #[arg(long)]
    pub max_antecedents: Option<i64>,
    /// m-of-n: weights within this share of a unit's largest |weight| form one cluster
    /// (default 0.25).
    #[arg(long)]
    pub tolerance: Option<f64>,
    /// via: training rows boxes are grown around (default 64).
    #[arg(long)]
    pub candidates: Option<i64>,
    /// via: most rules kept (default 10).
    #[arg(long)]
    pub max_rules: Option<i64>,
    /// via: bisection steps per growth (default 12).
    #[arg(long)]
    pub steps: Option<i64>,
    /// Rows per model call.
    #[arg(long)]
    pub batch_size: Option<i64>,
    /// Held-out fraction in [0, 1): the last `f` of a seeded stratified shuffle (as `xai
    /// train`); 0 fits and measures on every row.
    #[arg(long, default_value_t = 0.2)]
    pub test_fraction: f64,
    /// Seed of the split and of any sampling.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// text | json | dot: what --output receives (default: from its extension, else text);
    /// without --output, what is printed before the summary line.
    #[arg(long)]
    pub format: Option<String>,
    /// Where to write the rules in --format (written atomically).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Where to write a drawing of the tree (PNG; tree methods only, at most 64 leaves).
    #[arg(long)]
    pub png: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Json,
    Dot,
}

fn format_of(a: &Args) -> CliResult<Format> {
    let name = match (&a.format, &a.output) {
        (Some(f), _) => f.clone(),
        (None, Some(p)) => p
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("txt")
            .to_string(),
        (None, None) => "text".into(),
    };
    match name.as_str() {
        "text" | "txt" => Ok(Format::Text),
        "json" => Ok(Format::Json),
        "dot" | "gv" => Ok(Format::Dot),
        f if a.format.is_some() => Err(format!("unknown --format '{f}' (text, json, dot)").into()),
        _ => Ok(Format::Text),
    }
}

/// The method's parameters from the flags given.
fn params(a: &Args) -> Params {
    let mut p = Params::default();
    if let Some(c) = &a.criterion {
        p.set("criterion", c.as_str());
    }
    for (name, v) in [
        ("max_depth", a.max_depth),
        ("min_samples_leaf", a.min_samples_leaf),
        ("min_samples_split", a.min_samples_split),
        ("batch_size", a.batch_size),
        ("candidates", a.candidates),
        ("max_leaves", a.max_leaves),
        ("max_antecedents", a.max_antecedents),
        ("min_samples", a.min_samples),
        ("max_literals", a.max_literals),
        ("max_rules", a.max_rules),
        ("steps", a.steps),
    ] {
        if let Some(v) = v {
            p.set(name, v);
        }
    }
    if let Some(v) = a.ccp_alpha {
        p.set("ccp_alpha", v);
    }
    if let Some(v) = a.tolerance {
        p.set("tolerance", v);
    }
    if a.soft {
        p.set("soft", true);
    }
    p
}

/// A JSON number, `null` when not finite.
fn number(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

/// Runs `xai rules`; the last stdout line is a JSON summary.
pub fn run(a: &Args) -> CliResult {
    let start = Instant::now();
    if !(0.0..1.0).contains(&a.test_fraction) {
        return Err(format!("--test-fraction must be in [0, 1), got {}", a.test_fraction).into());
    }
    let format = format_of(a)?;
    let method = rules::build(&a.method, &params(a)).map_err(with_flag_names)?;
    let model = super::load_model(&a.model)?;
    let data = super::train::load_data(&model, &a.data, a.input_shape.as_deref())?;
    let (fit, held_out) = if a.test_fraction == 0.0 {
        (data.clone(), data)
    } else {
        data.stratified_split(a.test_fraction, a.seed)?
    };
    if held_out.is_empty() {
        return Err("the held-out split is empty; raise --test-fraction or give more rows".into());
    }
    let spinner = crate::progress::spinner(format!("extracting rules ({})", a.method));
    let found = method
        .extract(
            &model,
            &RuleData {
                x: &fit.x,
                feature_names: &fit.feature_names,
                seed: a.seed,
            },
        )
        .map_err(with_flag_names)?;
    let report = measure_rules(&found, &model, &held_out.x, &held_out.y)?;
    spinner.finish_and_clear();
    let rendered = match format {
        Format::Text => found.rules.to_text(),
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&found)?),
        Format::Dot => match &found.tree {
            Some(t) => t.to_dot(),
            None => {
                return Err(format!("{} gives a rule list, not a tree: no DOT", a.method).into())
            }
        },
    };
    let mut out = Outputs::new();
    match &a.output {
        Some(path) => out.add(path, rendered.as_bytes())?,
        None if format == Format::Text => {}
        None => out.add(std::path::Path::new("-"), rendered.as_bytes())?,
    }
    if let Some(png) = &a.png {
        let tree = found.tree.as_ref().ok_or_else(|| {
            format!(
                "{} gives a rule list, not a tree: nothing to draw",
                a.method
            )
        })?;
        let title = format!("{} rules of {}", a.method, a.model.display());
        out.add(png, &xai_eval::plot::tree_chart(tree, &title)?.to_png()?)?;
    }
    out.commit()?;
    if a.output.is_some() || format == Format::Text {
        print!("{}", found.rules.to_text());
    }
    let s = &report.stats;
    let summary = json!({
        "method": a.method,
        "fidelity": number(s.fidelity),
        "accuracy": number(report.accuracy),
        "coverage": number(s.coverage),
        "rules": s.n_rules,
        "antecedents": number(s.antecedents_per_rule),
        "apl": number(s.avg_path_length),
        "depth": s.tree_depth,
        "model_accuracy": number(report.model_accuracy),
        "train_rows": fit.len(),
        "test_rows": report.rows,
        "config": method.config(),
        "seconds": (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    });
    println!("{summary}");
    Ok(())
}
