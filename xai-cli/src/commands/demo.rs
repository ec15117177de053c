//! `xai demo`: the bundled end-to-end run, offline. Trains the 8×8-digits CNN on the bundled
//! digits (30 epochs, a couple of seconds), explains one held-out digit per class with the
//! gradient- and perturbation-family methods (heatmaps), judges the explanations (deletion and insertion curves,
//! infidelity, cascading-randomization sanity checks, the method league table), explains a breast-cancer MLP with
//! KernelSHAP, LIME and integrated gradients (bar charts over feature names), distils it into a
//! decision tree (CART rules, drawn), and writes
//! `report.html` linking every image, plus a summary table on stdout.

use super::CliResult;
use crate::report::Outputs;
use indicatif::ProgressBar;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;
use xai_eval::faithfulness::{FaithfulnessSummary, SummarySettings, DEFAULT_STEPS};
use xai_eval::league::{league, params_on_batch, League, LeagueOptions};
use xai_eval::plot::{tree_chart, write_bar_chart, write_line_chart, BarChart, LineChart, Series};
use xai_eval::rules::{measure_rules, RuleReport};
use xai_eval::sanity;
use xai_nn::train::{evaluate, fit_normalize, train, TrainConfig};
use xai_nn::{file, Dataset, Forward, Graph, Layered};
use xai_passive::methods::Baseline;
use xai_passive::rules::{self, RuleData};
use xai_passive::{registry, Params};
use xai_tensor::{write_atomic, DType, Rng, Tensor};

const DIGITS_ARCH: &[u8] = include_bytes!("../../../examples/digits_cnn.json");
const CANCER_ARCH: &[u8] = include_bytes!("../../../examples/breast_cancer_mlp.json");

/// Methods shown on the digits by family, in report order.
const FAMILIES: &[(&str, &[&str])] = &[("gradient", GRADIENT), ("perturbation", PERTURBATION)];

/// Gradient-family methods (white box).
const GRADIENT: &[&str] = &[
    "saliency",
    "input-x-gradient",
    "integrated-gradients",
    "smoothgrad",
    "guided-backprop",
    "deconvnet",
    "grad-cam",
    "guided-grad-cam",
    "lrp",
    "deep-taylor",
    "deeplift",
];

/// Perturbation-family methods (black box; removed pixels take the baseline 0, the
/// digits' background).
const PERTURBATION: &[&str] = &[
    "occlusion",
    "feature-ablation",
    "shapley-sampling",
    "kernel-shap",
    "lime",
];

/// Colour of the random reference map in the curves.
const RANDOM_COLOUR: [u8; 3] = [0, 0, 0];

/// Methods whose cascading-randomization sanity check is shown.
const SANITY_METHODS: &[&str] = &["saliency", "integrated-gradients"];

/// Methods shown on the breast-cancer MLP.
const TABULAR_METHODS: &[&str] = &["kernel-shap", "lime", "integrated-gradients"];

/// Held-out digits explained (one per class), breast-cancer test rows explained, and the
/// features drawn per bar chart.
const EXAMPLES: usize = 6;
const TABULAR_ROWS: usize = 3;
const TOP_FEATURES: usize = 10;

/// Infidelity's perturbations per example and noise σ (input units): `xai evaluate`'s defaults.
const INFIDELITY_SAMPLES: usize = 100;
const INFIDELITY_STD: f64 = 0.1;

/// Arguments of `xai demo`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder for the trained models, heatmaps, charts and report.html (created if absent).
    #[arg(long, default_value = "demo-output")]
    pub output_dir: PathBuf,
    /// Training epochs of the digits CNN and of the breast-cancer MLP.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
}

/// A digits method's name, family, seconds and mean completeness gap.
type ExplainedRow = (String, &'static str, f64, Option<f64>);

/// One digits method's row of the summary.
struct MethodRow {
    name: String,
    family: &'static str,
    seconds: f64,
    /// Mean |Σa − Δf| over examples, for methods with a completeness axiom.
    gap: Option<f64>,
    deletion_auc: f64,
    insertion_auc: f64,
    infidelity: f64,
}

/// Runs the demo and prints a summary and the report's path.
pub fn run(a: &Args) -> CliResult {
    let dir = &a.output_dir;
    for sub in ["png", "charts"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let start = Instant::now();
    let mut html = Html::default();

    let (model, test_set, acc) = train_digits(dir, a.epochs)?;
    println!(
        "trained  digits CNN, {} epochs, held-out accuracy {:.1}% ({:.1} s)",
        a.epochs,
        100.0 * acc,
        start.elapsed().as_secs_f64()
    );
    let (x, labels) = pick_one_per_class(&test_set, EXAMPLES)?;
    let pred = model.predict(&x)?.argmax(1)?;
    let mut out = Outputs::new();
    out.add(&dir.join("inputs.npy"), &x.to_npy_bytes()?)?;
    crate::render::write_heatmaps(&mut out, &dir.join("png"), "input", &x, &x, false)?;
    out.commit()?;

    let methods: Vec<(&'static str, &'static str)> = FAMILIES
        .iter()
        .flat_map(|(family, names)| names.iter().map(move |n| (*family, *n)))
        .collect();
    let total = 2 * methods.len() + 3 + SANITY_METHODS.len() + 1 + TABULAR_METHODS.len();
    let bar = crate::progress::bar(total as u64, "steps");
    let m: &dyn Layered = &model;
    let mut attributions = Vec::new();
    let mut rows = Vec::new();
    for &(family, name) in &methods {
        bar.set_message(format!("explain {name}"));
        let t = Instant::now();
        let e = registry::build(name, &params_on_batch(name, &Params::default(), &x)?)?
            .attribute(m, &x, &pred)?;
        let seconds = t.elapsed().as_secs_f64();
        let mut out = Outputs::new();
        out.add(
            &dir.join(format!("{name}.npy")),
            &e.attributions.to_npy_bytes()?,
        )?;
        crate::render::write_heatmaps(&mut out, &dir.join("png"), name, &x, &e.attributions, true)?;
        out.commit()?;
        let gap = e.mean_completeness_gap();
        attributions.push(e.attributions);
        rows.push((name.to_string(), family, seconds, gap));
        bar.inc(1);
    }
    html.heatmaps(&labels, &pred, &rows);

    // Faithfulness of each method's maps, next to a random map as a reference.
    let reference = Rng::new(0).normal(x.shape(), 0.0, 1.0, DType::F32)?;
    let mut summary = Vec::new();
    let (mut deletion, mut insertion) = (Vec::new(), Vec::new());
    for (k, (name, family, seconds, gap)) in rows
        .into_iter()
        .chain([("random".to_string(), "reference", 0.0, None)])
        .enumerate()
    {
        bar.set_message(format!("evaluate {name}"));
        let attr = attributions.get(k).unwrap_or(&reference);
        let settings = SummarySettings {
            steps: DEFAULT_STEPS,
            baseline: Baseline::Zeros,
            infidelity_samples: INFIDELITY_SAMPLES,
            noise_std: INFIDELITY_STD,
            seed: 0,
            batch_size: 256,
        };
        let f = FaithfulnessSummary::of(m, &x, attr, &pred, &settings)?;
        deletion.push((family, Series::new(&name, f.deletion_curve.clone())));
        insertion.push((family, Series::new(&name, f.insertion_curve.clone())));
        summary.push(MethodRow {
            name,
            family,
            seconds,
            gap,
            deletion_auc: f.deletion_auc,
            insertion_auc: f.insertion_auc,
            infidelity: f.infidelity,
        });
        bar.inc(1);
    }
    html.summary(&summary, x.shape()[0]);
    for ((curve, all, better), (family, _)) in [
        ("deletion", &deletion, "lower"),
        ("insertion", &insertion, "higher"),
    ]
    .into_iter()
    .flat_map(|c| FAMILIES.iter().map(move |f| (c, f)))
    {
        // The family's methods, then the random reference in black.
        let series = all
            .iter()
            .filter(|(f, _)| f == family)
            .map(|(_, s)| s.clone())
            .chain(
                all.iter()
                    .filter(|(f, _)| *f == "reference")
                    .map(|(_, s)| s.clone().with_colour(RANDOM_COLOUR)),
            )
            .collect();
        let file = format!("charts/{curve}_{family}.png");
        write_line_chart(
            &dir.join(&file),
            &LineChart {
                title: format!(
                    "{curve}, {family} methods, mean over {} digits",
                    x.shape()[0]
                ),
                x_label: format!(
                    "fraction of pixels {}",
                    if curve == "deletion" {
                        "removed"
                    } else {
                        "revealed"
                    }
                ),
                y_label: "probability of the predicted class".into(),
                series,
                y_range: Some((0.0, 1.0)),
                size: (720, 440),
                ..LineChart::default()
            },
        )?;
        html.figure(
            &file,
            &format!(
                "{curve} curves of the {family} methods (Petsiuk et al. 2018): pixels in order \
                 of attribution, most relevant first, {} zeros; the area under the curve is in \
                 the summary ({better} is better). <code>random</code> (black) is a random map \
                 for reference.",
                if curve == "deletion" {
                    "set to"
                } else {
                    "revealed from"
                }
            ),
        );
    }

    for name in SANITY_METHODS {
        bar.set_message(format!("sanity {name}"));
        let method = registry::build(name, &Params::default())?;
        let mut fresh = file::load(dir.join("model.json"))?;
        let report = sanity::cascading_randomization(&mut fresh, method.as_ref(), &x, &pred, 0)?;
        let sub = format!("sanity/{name}");
        report
            .write(&dir.join(&sub))
            .map_err(|e| format!("{}: {e}", dir.join(&sub).display()))?;
        html.figure(
            &format!("{sub}/sanity.png"),
            &format!(
                "Sanity check of {name} (Adebayo et al. 2018): layers re-initialised from the \
                 top down; a map that stays similar to the original does not explain the \
                 model. Table: <a href=\"{sub}/sanity.md\">{sub}/sanity.md</a>."
            ),
        );
        bar.inc(1);
    }
    bar.set_message("league table");
    let table = league(&model, &x, &pred, &LeagueOptions::fast())?;
    table.write(&dir.join("league"))?;
    html.league(&table);
    bar.inc(1);

    bar.set_message("train breast-cancer MLP");
    let cancer = tabular(dir, a.epochs, &bar, &mut html)?;
    bar.finish_and_clear();

    print_summary(&summary);
    println!("{cancer}");
    let page = html.page(a.epochs, acc, &cancer);
    write_atomic(&dir.join("report.html"), page.as_bytes())?;
    println!(
        "report   {} ({:.1} s)",
        dir.join("report.html").display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Trains the digits CNN; returns it, the held-out split and its accuracy.
fn train_digits(dir: &Path, epochs: usize) -> CliResult<(Graph, Dataset, f64)> {
    let arch = dir.join("digits_cnn.json");
    write_atomic(&arch, DIGITS_ARCH)?;
    let mut model = file::load_or_init(&arch, 0)?;
    let data = Dataset::bundled("digits")?.with_input_shape(&[1, 8, 8])?;
    let (train_set, test_set) = data.stratified_split(0.2, 0)?;
    let cfg = TrainConfig {
        epochs,
        ..TrainConfig::default()
    };
    let bar = crate::progress::bar(epochs as u64, "epochs");
    bar.set_message("train digits CNN");
    train(&mut model, &train_set, &cfg, &mut |p| {
        bar.set_position(p.epoch as u64 + 1)
    })?;
    bar.finish_and_clear();
    file::save(&model, dir.join("model.json"))?;
    let (acc, _) = evaluate(&model, &test_set)?;
    Ok((model, test_set, acc))
}

/// The first example of each of the first `k` classes met, and their labels.
fn pick_one_per_class(set: &Dataset, k: usize) -> CliResult<(Tensor, Vec<usize>)> {
    let mut picked: Vec<usize> = Vec::new();
    for (i, y) in set.y.iter().enumerate() {
        if picked.len() < k && !picked.iter().any(|&j| set.y[j] == *y) {
            picked.push(i);
        }
    }
    let labels = picked.iter().map(|&i| set.y[i]).collect();
    Ok((set.x.index_select(0, &picked)?, labels))
}

fn print_summary(rows: &[MethodRow]) {
    println!(
        "{:<22} {:>8} {:>10} {:>9} {:>9} {:>11}",
        "method", "seconds", "gap", "del AUC↓", "ins AUC↑", "infidelity↓"
    );
    for r in rows {
        println!(
            "{:<22} {:>8.3} {:>10} {:>9.3} {:>9.3} {:>11.3e}",
            r.name,
            r.seconds,
            r.gap.map_or("-".into(), |g| format!("{g:.2e}")),
            r.deletion_auc,
            r.insertion_auc,
            r.infidelity
        );
    }
}

/// Trains the breast-cancer MLP as `xai train --standardize` does and explains a few test rows
/// with [`TABULAR_METHODS`] against the training mean; writes one bar chart per row and
/// method. Returns a one-line summary.
fn tabular(dir: &Path, epochs: usize, bar: &ProgressBar, html: &mut Html) -> CliResult<String> {
    let arch = dir.join("breast_cancer_mlp.json");
    write_atomic(&arch, CANCER_ARCH)?;
    let mut model = file::load_or_init(&arch, 0)?;
    let data = Dataset::bundled("breast_cancer")?;
    let (train_set, test_set) = data.stratified_split(0.2, 0)?;
    model.set_normalize(Some(fit_normalize(&train_set)?))?;
    let cfg = TrainConfig {
        epochs,
        ..TrainConfig::default()
    };
    train(&mut model, &train_set, &cfg, &mut |_| {})?;
    file::save(&model, dir.join("breast_cancer_model.json"))?;
    let (acc, _) = evaluate(&model, &test_set)?;
    bar.inc(1);
    let rows: Vec<usize> = (0..TABULAR_ROWS.min(test_set.len())).collect();
    let x = test_set.x.index_select(0, &rows)?;
    let pred = model.predict(&x)?.argmax(1)?;
    let mean = train_set.x.mean(&[0], false)?;
    // Each method's baseline is the training mean.
    let opts = Params::default().with_tensor("baseline", mean);
    let m: &dyn Layered = &model;
    let mut charts = vec![Vec::new(); rows.len()];
    for name in TABULAR_METHODS {
        bar.set_message(format!("explain {name}"));
        let e = registry::build_shared(name, &opts)?.attribute(m, &x, &pred)?;
        let a = e.attributions.to_vec_f64()?;
        let d = test_set.feature_names.len();
        for (i, row) in a.chunks(d).enumerate() {
            let mut order: Vec<usize> = (0..d).collect();
            order.sort_by(|&p, &q| row[q].abs().total_cmp(&row[p].abs()));
            let file = format!("charts/{name}_row{i}.png");
            write_bar_chart(
                &dir.join(&file),
                &BarChart {
                    title: format!("{name}: test row {i}, class {}", pred[i]),
                    x_label: "attribution (vs. the training mean)".into(),
                    bars: order[..TOP_FEATURES.min(d)]
                        .iter()
                        .map(|&j| (test_set.feature_names[j].clone(), row[j]))
                        .collect(),
                    size: (560, 340),
                },
            )?;
            charts[i].push(file);
        }
        bar.inc(1);
    }
    let labels: Vec<usize> = rows.iter().map(|&i| test_set.y[i]).collect();
    html.tabular(&charts, &labels, &pred);
    bar.set_message("rules");
    let rules = distilled_rules(dir, &model, &train_set, &test_set, html)?;
    bar.inc(1);
    Ok(format!(
        "trained  breast-cancer MLP (standardized), {epochs} epochs, held-out accuracy {:.1}%; \
         {} rows explained with {}\n{rules}",
        100.0 * acc,
        rows.len(),
        TABULAR_METHODS.join(", ")
    ))
}

/// Depth of the tree the demo distils from the breast-cancer MLP.
const RULES_DEPTH: usize = 3;

/// Distils the breast-cancer MLP into a CART tree on its training split (the network's
/// predicted classes as labels), measures it on the held-out split, and adds the rules, the
/// drawn tree and the measures to the report; returns a summary line.
fn distilled_rules(
    dir: &Path,
    model: &Graph,
    train_set: &Dataset,
    test_set: &Dataset,
    html: &mut Html,
) -> CliResult<String> {
    let method = rules::build("cart", &Params::default().with("max_depth", RULES_DEPTH))?;
    let data = RuleData {
        x: &train_set.x,
        feature_names: &train_set.feature_names,
        seed: 0,
    };
    let found = method.extract(model, &data)?;
    let report = measure_rules(&found, model, &test_set.x, &test_set.y)?;
    let tree = found.tree.as_ref().ok_or("cart gives a tree")?;
    let mut out = Outputs::new();
    out.create_dir_all(&dir.join("rules"))?;
    out.add(
        &dir.join("rules/breast_cancer_rules.txt"),
        found.rules.to_text().as_bytes(),
    )?;
    out.add(
        &dir.join("rules/breast_cancer_tree.dot"),
        tree.to_dot().as_bytes(),
    )?;
    let title = format!("CART (depth ≤ {RULES_DEPTH}) distilled from the breast-cancer MLP");
    out.add(
        &dir.join("rules/breast_cancer_tree.png"),
        &tree_chart(tree, &title)?.to_png()?,
    )?;
    out.commit()?;
    html.rules(&found.rules.to_text(), &report, RULES_DEPTH);
    let s = &report.stats;
    Ok(format!(
        "rules    CART of depth {} distilled from the MLP: {} rules, fidelity {:.1}%, accuracy \
         {:.1}% (the MLP's {:.1}%), average path length {:.2}",
        s.tree_depth,
        s.n_rules,
        100.0 * s.fidelity,
        100.0 * report.accuracy,
        100.0 * report.model_accuracy,
        s.avg_path_length
    ))
}

/// The report's sections, in order.
#[derive(Default)]
struct Html {
    sections: String,
}

impl Html {
    /// The grid of inputs and heatmaps, one row per method, a header row per family.
    fn heatmaps(&mut self, labels: &[usize], pred: &[usize], rows: &[ExplainedRow]) {
        let s = &mut self.sections;
        s.push_str(
            "<h2>Heatmaps</h2><p>Each heatmap explains the predicted class: red supports it, \
             blue speaks against it.</p><table class=\"grid\">\n<tr><th>input</th>",
        );
        for (i, (l, p)) in labels.iter().zip(pred).enumerate() {
            let _ = write!(s, "<td><img src=\"png/input_{i}.png\" alt=\"input {i}\"><br>label {l}, predicted {p}</td>");
        }
        s.push_str("</tr>\n");
        let mut last = "";
        for (name, family, secs, _) in rows {
            if *family != last {
                let _ = writeln!(
                    s,
                    "<tr><th class=\"family\" colspan=\"{}\">{family} methods</th></tr>",
                    labels.len() + 1
                );
                last = family;
            }
            let _ = write!(s, "<tr><th>{name}<br><small>{secs:.2} s</small></th>");
            for i in 0..labels.len() {
                let _ = write!(
                    s,
                    "<td><img src=\"png/{name}_{i}.png\" alt=\"{name} {i}\"></td>"
                );
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
    }

    /// One chart with a caption.
    fn figure(&mut self, src: &str, caption: &str) {
        let _ = writeln!(
            self.sections,
            "<figure><img class=\"chart\" src=\"{src}\" alt=\"{src}\"><figcaption>{caption}</figcaption></figure>"
        );
    }

    /// The metric table of the digits methods.
    fn summary(&mut self, rows: &[MethodRow], n: usize) {
        let s = &mut self.sections;
        let _ = writeln!(
            s,
            "<h2>Faithfulness</h2><table class=\"metrics\"><tr><th>method</th><th>family</th><th>seconds</th>\
             <th>completeness gap<br><small>mean |Σa − Δf|</small></th><th>deletion AUC ↓</th>\
             <th>insertion AUC ↑</th><th>infidelity ↓<br><small>{INFIDELITY_SAMPLES} draws, σ = {INFIDELITY_STD}</small></th></tr>"
        );
        for r in rows {
            let _ = writeln!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3e}</td></tr>",
                r.name,
                r.family,
                r.seconds,
                r.gap.map_or("–".into(), |g| format!("{g:.2e}")),
                r.deletion_auc,
                r.insertion_auc,
                r.infidelity
            );
        }
        let _ = writeln!(s, "</table><p>Means over the {n} digits above.</p>");
    }

    /// The method league table (`xai_eval::league`): every method ranked by each metric and
    /// by mean rank, as written to `league/league.md`.
    fn league(&mut self, table: &League) {
        let s = &mut self.sections;
        let _ = writeln!(
            s,
            "<h2 id=\"league\">Method league table</h2>\n<p>Each method ranked on the {} digits \
             by every metric (rank in parentheses, 1 = best; &uarr; higher is better, &darr; \
             lower is better) and by its mean rank. Also as \
             <a href=\"league/league.md\">markdown</a> and <a href=\"league/league.json\">JSON</a>.</p>\n\
             <table><tr><th>place</th><th>method</th>",
            table.examples
        );
        for m in &table.metrics {
            let arrow = if m.higher_is_better {
                "&uarr;"
            } else {
                "&darr;"
            };
            let _ = write!(s, "<th title=\"{}\">{} {arrow}</th>", m.description, m.name);
        }
        let _ = writeln!(s, "<th>mean rank</th><th>seconds</th></tr>");
        for r in &table.rows {
            let place = table.place(r).map_or("–".into(), |p| p.to_string());
            let _ = write!(s, "<tr><td>{place}</td><td>{}</td>", r.method);
            for cell in r.cells() {
                let _ = write!(s, "<td>{cell}</td>");
            }
            let mean = r.mean_rank.map_or("–".into(), |m| format!("{m:.2}"));
            let _ = writeln!(s, "<td>{mean}</td><td>{:.2}</td></tr>", r.seconds);
        }
        let _ = writeln!(s, "</table>");
        let notes: String = table
            .notes()
            .map(|(method, n)| format!("<li><code>{method}</code>: {n}</li>"))
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(s, "<p>Notes:</p><ul>{notes}</ul>");
        }
    }

    /// The bar charts of the tabular model, one row per explained test row.
    fn tabular(&mut self, charts: &[Vec<String>], labels: &[usize], pred: &[usize]) {
        let s = &mut self.sections;
        let _ = write!(
            s,
            "<h2>Breast-cancer MLP</h2><p>The {TOP_FEATURES} features with the largest |attribution| \
             for the predicted class (0 malignant, 1 benign), against the training mean: \
             red pushes toward the prediction, blue away from it.</p><table class=\"bars\">\n<tr><th></th>"
        );
        for name in TABULAR_METHODS {
            let _ = write!(s, "<th>{name}</th>");
        }
        s.push_str("</tr>\n");
        for (i, row) in charts.iter().enumerate() {
            let _ = write!(
                s,
                "<tr><th>row {i}<br><small>label {}, predicted {}</small></th>",
                labels[i], pred[i]
            );
            for src in row {
                let _ = write!(
                    s,
                    "<td><img class=\"bar\" src=\"{src}\" alt=\"{src}\"></td>"
                );
            }
            s.push_str("</tr>\n");
        }
        s.push_str("</table>\n");
    }

    /// The rules distilled from the breast-cancer MLP, the drawn tree and their measures.
    fn rules(&mut self, text: &str, r: &RuleReport, depth: usize) {
        let s = &mut self.sections;
        let st = &r.stats;
        let _ = writeln!(
            s,
            "<h2 id=\"rules\">Rules: a decision tree distilled from the breast-cancer MLP</h2>\
             <p>CART (Breiman et al. 1984; Gini, depth ≤ {depth}) fitted to the MLP's own \
             predictions on the training split — the network as an oracle (Craven &amp; Shavlik \
             1996). On the {} held-out rows: fidelity to the MLP {:.1}%, accuracy {:.1}% (the \
             MLP's {:.1}%), {} rules of {:.1} conditions on average, average path length {:.2} \
             decisions (Wu et al. 2018). Class 0 is malignant, 1 benign. \
             (<code>xai rules --model breast_cancer_model.json --data breast_cancer --max-depth \
             {depth}</code>; DOT: <a href=\"rules/breast_cancer_tree.dot\">rules/breast_cancer_tree.dot</a>.)</p>\
             <pre>{}</pre>\
             <figure style=\"width:98%\"><img class=\"chart\" src=\"rules/breast_cancer_tree.png\">\
             <figcaption>The tree: a row goes left when its test holds.</figcaption></figure>",
            r.rows,
            100.0 * st.fidelity,
            100.0 * r.accuracy,
            100.0 * r.model_accuracy,
            st.n_rules,
            st.antecedents_per_rule,
            st.avg_path_length,
            text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
        );
    }

    /// The whole page.
    fn page(&self, epochs: usize, acc: f64, cancer: &str) -> String {
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>xai demo</title><style>\
             body{{font-family:sans-serif;max-width:1200px;margin:auto;padding:0 1em}} \
             td,th{{padding:4px;text-align:center}} .grid img{{width:84px;image-rendering:pixelated}} \
             .metrics td{{text-align:right}} .chart{{width:100%}} .bar{{width:360px}} \
             .family{{text-align:left;padding-top:1em;font-size:110%}} figure{{display:inline-block;vertical-align:top;width:48%;margin:1em 0.5%}} figcaption{{font-size:90%}}</style></head>\
             <body><h1>xai demo: explaining a digits CNN and a breast-cancer MLP</h1>\
             <p>CNN trained on the bundled 8×8 digits ({epochs} epochs), held-out accuracy {:.1}%. \
             {}.</p>\n{}</body></html>\n",
            100.0 * acc,
            cancer.trim_start_matches("trained  "),
            self.sections
        )
    }
}
