//! The method league table: every attribution method of a list scored on the same model and
//! inputs by faithfulness (deletion and insertion AUC, Petsiuk et al. 2018; scaled infidelity,
//! Yeh et al. 2019), robustness (max-sensitivity, Yeh et al. 2019), complexity (Gini
//! sparseness, Chalasani et al. 2020) and the model-randomization sanity check (Adebayo et al.
//! 2018), ranked per metric and by mean rank — the side-by-side comparison the surveys say is
//! missing. Entry point: [`league`] with [`LeagueOptions`] ([`LeagueOptions::fast`] for demos).

use crate::faithfulness::{infidelity_scaled, perturbation_curves, Curve};
use crate::robustness::max_sensitivity;
use crate::sanity::similarity;
use crate::{bad, complexity, mean_std, Result};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;
use xai_nn::{Layered, Reinitialize};
use xai_passive::methods::Baseline;
use xai_passive::registry::{self, BoxedMethod};
use xai_passive::Params;
use xai_tensor::Tensor;

/// Methods ranked when none are named: the gradient, propagation and perturbation families
/// with kernel SHAP (LIME and Shapley sampling are left out for speed; name them to include
/// them).
pub const DEFAULT_METHODS: &[&str] = &[
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
    "gradient-shap",
    "occlusion",
    "feature-ablation",
    "kernel-shap",
];

/// The parameters method `name` is built with to explain the batch `x`: those of `shared` it
/// takes, and where they leave them unset, occlusion gets a 2×2 window on images (one
/// feature otherwise) and gradient SHAP the batch itself as its baseline distribution.
///
/// **Errors** for an unknown method.
pub fn params_on_batch(name: &str, shared: &Params, x: &Tensor) -> Result<Params> {
    let mut p = registry::info(name)?.own(shared);
    if name == "occlusion" && !p.has("window") {
        p.set("window", if x.rank() >= 4 { "2x2" } else { "1" });
    }
    if name == "gradient-shap" && !p.has("baselines") {
        p.set_tensor("baselines", x.clone());
    }
    Ok(p)
}

/// One column of the league.
#[derive(Clone, Debug, Serialize)]
pub struct LeagueMetric {
    /// Short name (`deletion`, …).
    pub name: &'static str,
    /// Whether a higher value is better.
    pub higher_is_better: bool,
    /// What is measured.
    pub description: &'static str,
}

/// The league's columns, in order: each column's name and the registry metric it reports
/// (the metric's direction and description are the registry's).
pub const COLUMNS: [(&str, &str); 6] = [
    ("deletion", "deletion"),
    ("insertion", "insertion"),
    ("infidelity", "infidelity-scaled"),
    ("max-sensitivity", "max-sensitivity"),
    ("sparseness", "sparseness"),
    ("randomization", "model-randomization"),
];

/// The league's metrics, in column order, from [`COLUMNS`] and the metric registry.
pub fn metrics() -> Vec<LeagueMetric> {
    COLUMNS
        .iter()
        .map(|&(name, metric)| {
            let info = crate::registry::find(metric).expect("league columns are registry metrics");
            LeagueMetric {
                name,
                higher_is_better: info.better == crate::registry::Better::Higher,
                description: info.description,
            }
        })
        .collect()
}

/// Settings of [`league`].
#[derive(Clone, Debug)]
pub struct LeagueOptions {
    /// Registry names of the methods to rank.
    pub methods: Vec<String>,
    /// Parameters shared by the methods (batch size, integration steps, layer, seed, …),
    /// each method taking those it has ([`params_on_batch`]). Where they leave them unset,
    /// occlusion gets a 2×2 window on images (1 feature otherwise) and gradient SHAP the
    /// scored batch as its baseline distribution.
    pub method_params: Params,
    /// Steps K of the deletion and insertion curves.
    pub steps: usize,
    /// Baseline of the deletion and insertion curves.
    pub baseline: Baseline,
    /// Draws of I per example for infidelity.
    pub infidelity_samples: usize,
    /// σ of infidelity's perturbations, in input units.
    pub noise_std: f64,
    /// Perturbations per example for max-sensitivity.
    pub sensitivity_samples: usize,
    /// L∞ radius of max-sensitivity's perturbations, in input units.
    pub radius: f64,
    /// Examples per model call of the metrics.
    pub batch_size: usize,
    /// Seed of the perturbations and of the randomized model.
    pub seed: u64,
}

impl Default for LeagueOptions {
    /// [`DEFAULT_METHODS`] with the metrics' usual settings: K = 20, 100 infidelity draws
    /// (σ = 0.1), 10 max-sensitivity draws (r = 0.2), zero baseline.
    fn default() -> Self {
        Self {
            methods: DEFAULT_METHODS.iter().map(|s| s.to_string()).collect(),
            method_params: Params::default(),
            steps: 20,
            baseline: Baseline::Zeros,
            infidelity_samples: 100,
            noise_std: 0.1,
            sensitivity_samples: 10,
            radius: 0.2,
            batch_size: 256,
            seed: 0,
        }
    }
}

impl LeagueOptions {
    /// A quick preset for demos: K = 10, 32 infidelity and 4 max-sensitivity draws, 16
    /// integration steps for path methods.
    pub fn fast() -> Self {
        Self {
            method_params: Params::default().with("steps", 16),
            steps: 10,
            infidelity_samples: 32,
            sensitivity_samples: 4,
            ..Self::default()
        }
    }
}

/// One method's line of the league.
#[derive(Clone, Debug, Serialize)]
pub struct LeagueRow {
    /// Registry name.
    pub method: String,
    /// Mean over the examples of each metric ([`COLUMNS`] order); `None` when it could not be
    /// computed.
    pub values: Vec<Option<f64>>,
    /// Rank among the methods per metric (1 = best, ties share their average rank).
    pub ranks: Vec<Option<f64>>,
    /// Mean of the available ranks.
    pub mean_rank: Option<f64>,
    /// Wall-clock seconds spent on this method.
    pub seconds: f64,
    /// Why the method or a metric was skipped.
    pub notes: Vec<String>,
}

impl LeagueRow {
    /// Each metric's cell as the tables print it: the mean (4 decimals in [1e-3, 1e4),
    /// scientific otherwise) and its rank in parentheses, or `–` where skipped.
    pub fn cells(&self) -> Vec<String> {
        self.values
            .iter()
            .zip(&self.ranks)
            .map(|(v, k)| match (v, k) {
                (Some(v), Some(k)) => format!("{} ({})", fmt_value(*v), fmt_rank(*k)),
                _ => "–".into(),
            })
            .collect()
    }
}

/// The league table: rows sorted by mean rank (skipped methods last).
#[derive(Clone, Debug, Serialize)]
pub struct League {
    /// The columns.
    pub metrics: Vec<LeagueMetric>,
    /// Examples scored.
    pub examples: usize,
    /// One row per method.
    pub rows: Vec<LeagueRow>,
}

/// Scores every method of `opts.methods` on `model`, inputs `x: [N, ...input_shape]` and one
/// target class per example, then ranks them ([`rank`]). Per method: its attributions a of
/// x; deletion and insertion AUC of a (K steps, `opts.baseline`); scaled infidelity;
/// max-sensitivity (re-running the method on N·S perturbed inputs); Gini sparseness; and the
/// sanity score, the mean over examples of |Spearman(a, a')| with a' the method's map of the
/// same input under a fully re-initialised copy of the model
/// ([`Reinitialize::reinitialized`], seeded): the
/// last step of the cascading randomization. Every value is the mean over the examples. A
/// method that cannot run on the model (unknown, needs a layer the model lacks, attributions
/// not of the input's shape) or a metric that fails is skipped with a note, not an error.
///
/// **Errors** if `targets` does not have one class per example or `x` has no examples.
pub fn league<M: Reinitialize + Layered + 'static>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    opts: &LeagueOptions,
) -> Result<League> {
    let n = x.shape().first().copied().unwrap_or(0);
    if n == 0 {
        return bad("the league needs at least one example");
    }
    if targets.len() != n {
        return bad(format!("{} targets for {n} examples", targets.len()));
    }
    // A misspelt method is an error, not a skipped row.
    for name in &opts.methods {
        registry::info(name)?;
    }
    // A seed apart from the usual init seeds (0, 1, …), so an untrained model file initialised
    // with `seed` is not its own "randomized" copy.
    let random = model.reinitialized(opts.seed ^ 0x5a17_c0de)?;
    let mut rows: Vec<LeagueRow> = opts
        .methods
        .iter()
        .map(|name| score_method(model, &random, x, targets, name, opts))
        .collect();
    let metrics = metrics();
    rank(&metrics, &mut rows);
    Ok(League {
        metrics,
        examples: n,
        rows,
    })
}

/// One method's row (values only; ranks are filled by [`rank`]).
fn score_method(
    model: &(dyn Layered + 'static),
    random: &(dyn Layered + 'static),
    x: &Tensor,
    targets: &[usize],
    name: &str,
    opts: &LeagueOptions,
) -> LeagueRow {
    let start = Instant::now();
    let mut row = LeagueRow {
        method: name.to_string(),
        values: vec![None; COLUMNS.len()],
        ranks: vec![None; COLUMNS.len()],
        mean_rank: None,
        seconds: 0.0,
        notes: Vec::new(),
    };
    let m: &dyn Layered = model;
    let method: BoxedMethod = match params_on_batch(name, &opts.method_params, x)
        .and_then(|p| registry::build(name, &p))
    {
        Ok(method) => method,
        Err(e) => {
            row.notes.push(format!("skipped: {e}"));
            return row;
        }
    };
    let a = match method.attribute(m, x, targets) {
        Ok(e) if e.attributions.shape() == x.shape() => e.attributions,
        Ok(e) => {
            row.notes.push(format!(
                "skipped: attributions of shape {:?}, not the input's {:?}",
                e.attributions.shape(),
                x.shape()
            ));
            return row;
        }
        Err(e) => {
            row.notes.push(format!("skipped: {e}"));
            return row;
        }
    };
    let bs = opts.batch_size;
    let curve = |c: Curve| -> Result<Vec<f64>> {
        Ok(perturbation_curves(m, x, &a, targets, c, opts.steps, &opts.baseline, bs)?.auc())
    };
    let sanity = || -> Result<Vec<f64>> {
        let r: &dyn Layered = random;
        let a_random = method.attribute(r, x, targets)?.attributions;
        let s = similarity("randomized".into(), &a, &a_random)?;
        Ok(s.spearman.iter().map(|v| v.abs()).collect())
    };
    let results: [Result<Vec<f64>>; 6] = [
        curve(Curve::Deletion),
        curve(Curve::Insertion),
        infidelity_scaled(
            m,
            x,
            &a,
            targets,
            opts.infidelity_samples,
            opts.noise_std,
            opts.seed,
            bs,
        ),
        max_sensitivity(
            m,
            method.as_ref(),
            x,
            Some(&a),
            targets,
            opts.sensitivity_samples,
            opts.radius,
            opts.seed,
        ),
        complexity::sparseness(&a),
        sanity(),
    ];
    for (k, r) in results.into_iter().enumerate() {
        match r {
            Ok(v) => {
                let mean = mean_std(&v).0;
                if mean.is_finite() {
                    row.values[k] = Some(mean);
                } else {
                    row.notes
                        .push(format!("{}: not a finite number", COLUMNS[k].0));
                }
            }
            Err(e) => row.notes.push(format!("{}: {e}", COLUMNS[k].0)),
        }
    }
    row.seconds = start.elapsed().as_secs_f64();
    row
}

/// Fills `ranks` and `mean_rank` of `rows` from their `values` and sorts the rows by mean rank
/// (rows without any value last; ties keep their order). Per metric, the rows with a value
/// are ranked 1 (best: lowest, or highest when `higher_is_better`) to n; equal values share the
/// mean of their ranks.
pub fn rank(metrics: &[LeagueMetric], rows: &mut [LeagueRow]) {
    for (k, metric) in metrics.iter().enumerate() {
        let mut have: Vec<(usize, f64)> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.values.get(k).copied().flatten().map(|v| (i, v)))
            .collect();
        have.sort_by(|a, b| {
            if metric.higher_is_better {
                b.1.total_cmp(&a.1)
            } else {
                a.1.total_cmp(&b.1)
            }
        });
        for r in rows.iter_mut() {
            r.ranks.resize(metrics.len(), None);
            r.ranks[k] = None;
        }
        let mut i = 0;
        while i < have.len() {
            let mut j = i;
            while j + 1 < have.len() && have[j + 1].1 == have[i].1 {
                j += 1;
            }
            let shared = (i + j) as f64 / 2.0 + 1.0;
            for &(row, _) in &have[i..=j] {
                rows[row].ranks[k] = Some(shared);
            }
            i = j + 1;
        }
    }
    for r in rows.iter_mut() {
        let got: Vec<f64> = r.ranks.iter().flatten().copied().collect();
        r.mean_rank = (!got.is_empty()).then(|| got.iter().sum::<f64>() / got.len() as f64);
    }
    rows.sort_by(|a, b| match (a.mean_rank, b.mean_rank) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

impl League {
    /// The place of `row` (1 = best), by standard competition ranking on the mean rank: equal
    /// mean ranks share a place (1, 1, 3). `None` for a method that was skipped.
    pub fn place(&self, row: &LeagueRow) -> Option<usize> {
        let m = row.mean_rank?;
        let ahead = self
            .rows
            .iter()
            .filter(|o| o.mean_rank.is_some_and(|o| o < m));
        Some(ahead.count() + 1)
    }

    /// Every row's notes as (method, note), in row order.
    pub fn notes(&self) -> impl Iterator<Item = (&str, &str)> {
        self.rows
            .iter()
            .flat_map(|r| r.notes.iter().map(move |n| (r.method.as_str(), n.as_str())))
    }

    /// The table as markdown: place (methods of equal mean rank share one), method, each
    /// metric's mean (its rank in parentheses), mean rank and seconds; notes below.
    pub fn markdown(&self) -> String {
        let arrow = |m: &LeagueMetric| if m.higher_is_better { "↑" } else { "↓" };
        let mut s = format!(
            "Method league on {} example{} (mean over examples; (rank), 1 = best; ↑ higher is better, ↓ lower is better).\n\n| place | method |",
            self.examples,
            if self.examples == 1 { "" } else { "s" }
        );
        for m in &self.metrics {
            s += &format!(" {} {} |", m.name, arrow(m));
        }
        s += " mean rank | seconds |\n| --- | --- |";
        s += &" --- |".repeat(self.metrics.len() + 2);
        s += "\n";
        for r in &self.rows {
            let place = self.place(r).map_or("–".into(), |p| p.to_string());
            s += &format!("| {place} | {} |", r.method);
            for cell in r.cells() {
                s += &format!(" {cell} |");
            }
            s += &match r.mean_rank {
                Some(m) => format!(" {m:.2} | {:.2} |\n", r.seconds),
                None => format!(" – | {:.2} |\n", r.seconds),
            };
        }
        let notes: Vec<String> = self
            .notes()
            .map(|(method, n)| format!("- `{method}`: {n}"))
            .collect();
        s += "\nMetrics:\n";
        for m in &self.metrics {
            s += &format!("- {} ({}): {}\n", m.name, arrow(m), m.description);
        }
        if !notes.is_empty() {
            s += "\nNotes:\n";
            s += &notes.join("\n");
            s += "\n";
        }
        s
    }

    /// The table as pretty JSON: `{"metrics": [{"name", "higher_is_better", "description"}],
    /// "examples", "rows": [{"method", "values", "ranks", "mean_rank", "seconds", "notes"}]}`
    /// (values in metric order, `null` where skipped).
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into()) + "\n"
    }

    /// Writes `league.md` and `league.json` into `dir` (created if missing), each atomically
    /// (temporary file, then rename).
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| {
            crate::PassiveError::BadArgument(format!("output dir {}: {e}", dir.display()))
        })?;
        xai_tensor::write_atomic(&dir.join("league.md"), self.markdown().as_bytes())?;
        xai_tensor::write_atomic(&dir.join("league.json"), self.json().as_bytes())?;
        Ok(())
    }
}

/// 4 decimals in [1e-3, 1e4) (and for 0), else scientific with 3 (4 significant digits).
fn fmt_value(v: f64) -> String {
    if v == 0.0 || (1e-3..1e4).contains(&v.abs()) {
        format!("{v:.4}")
    } else {
        format!("{v:.3e}")
    }
}

fn fmt_rank(k: f64) -> String {
    if k.fract() == 0.0 {
        format!("{k:.0}")
    } else {
        format!("{k:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xai_nn::Graph;

    fn row(method: &str, values: &[Option<f64>]) -> LeagueRow {
        LeagueRow {
            method: method.into(),
            values: values.to_vec(),
            ranks: Vec::new(),
            mean_rank: None,
            seconds: 0.0,
            notes: Vec::new(),
        }
    }

    #[test]
    fn ranks_by_hand() {
        let metrics = [
            LeagueMetric {
                name: "low",
                higher_is_better: false,
                description: "",
            },
            LeagueMetric {
                name: "high",
                higher_is_better: true,
                description: "",
            },
        ];
        let mut rows = vec![
            row("a", &[Some(0.3), Some(0.9)]),
            row("b", &[Some(0.1), Some(0.2)]),
            row("c", &[Some(0.3), None]),
            row("d", &[None, None]),
            row("e", &[Some(0.5), Some(0.95)]),
        ];
        rank(&metrics, &mut rows);
        // low: b 1, a and c tie for 2–3 (2.5), e 4. high: e 1, a 2, b 3.
        // Mean ranks: a (2.5 + 2)/2 = 2.25, b (1 + 3)/2 = 2, c 2.5, e (4 + 1)/2 = 2.5, d none.
        type Ranked<'a> = (&'a str, Vec<Option<f64>>, Option<f64>);
        let got: Vec<Ranked> = rows
            .iter()
            .map(|r| (r.method.as_str(), r.ranks.clone(), r.mean_rank))
            .collect();
        assert_eq!(
            got,
            vec![
                ("b", vec![Some(1.0), Some(3.0)], Some(2.0)),
                ("a", vec![Some(2.5), Some(2.0)], Some(2.25)),
                ("c", vec![Some(2.5), None], Some(2.5)),
                ("e", vec![Some(4.0), Some(1.0)], Some(2.5)),
                ("d", vec![None, None], None),
            ]
        );
    }

    #[test]
    fn equal_mean_ranks_share_a_place() {
        // a and b tie on the one metric (rank 1.5 each), c is third.
        let mut rows = vec![
            row("a", &[Some(0.1)]),
            row("b", &[Some(0.1)]),
            row("c", &[Some(0.5)]),
        ];
        rank(&metrics()[..1], &mut rows);
        let l = League {
            metrics: metrics()[..1].to_vec(),
            examples: 1,
            rows,
        };
        let md = l.markdown();
        for line in [
            "| 1 | a | 0.1000 (1.5) |",
            "| 1 | b | 0.1000 (1.5) |",
            "| 3 | c |",
        ] {
            assert!(md.contains(line), "{line}: {md}");
        }
    }

    #[test]
    fn markdown_and_json_show_values_ranks_and_notes() {
        let mut rows = vec![
            row(
                "x",
                &[
                    Some(0.25),
                    Some(0.5),
                    Some(1e-6),
                    Some(0.0),
                    Some(0.7),
                    Some(0.1),
                ],
            ),
            row("y", &[None; 6]),
        ];
        rows[1].notes.push("skipped: needs a layer".into());
        rank(&metrics(), &mut rows);
        let l = League {
            metrics: metrics(),
            examples: 2,
            rows,
        };
        let md = l.markdown();
        assert!(
            md.contains("| 1 | x | 0.2500 (1) | 0.5000 (1) | 1.000e-6 (1) | 0.0000 (1) | 0.7000 (1) | 0.1000 (1) | 1.00 |"),
            "{md}"
        );
        assert!(md.contains("| – | y | – | – | – | – | – | – | – |"), "{md}");
        assert!(md.contains("- `y`: skipped: needs a layer"), "{md}");
        let v: serde_json::Value = serde_json::from_str(&l.json()).unwrap();
        assert_eq!(v["rows"][0]["method"], "x");
        assert_eq!(v["rows"][1]["values"][0], serde_json::Value::Null);
        assert_eq!(v["metrics"][1]["higher_is_better"], true);
    }

    #[test]
    fn a_linear_model_league_scores_saliency_exactly_and_skips_what_cannot_run() {
        use xai_autodiff::Var;
        use xai_nn::layers::Linear;
        use xai_nn::Node;
        use xai_tensor::DType;
        let f32t = |v: &[f64], s: &[usize]| {
            Tensor::from_slice(v, s)
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap()
        };
        let lin = Linear {
            weight: Var::leaf(f32t(&[1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 1.0, 2.0], &[2, 4])),
            bias: Some(Var::leaf(f32t(&[0.1, -0.1], &[2]))),
        };
        let model = Graph::sequential(vec![4], vec![Node::new("0", Box::new(lin))], None).unwrap();
        let x = f32t(&[0.5, 1.0, -1.5, 2.0, 0.1, 0.2, 0.3, -0.4], &[2, 4]);
        let opts = LeagueOptions {
            methods: vec!["saliency".into(), "grad-cam".into()],
            ..LeagueOptions::fast()
        };
        // A misspelt method is refused, not skipped.
        let typo = LeagueOptions {
            methods: vec!["saliency".into(), "nope".into()],
            ..LeagueOptions::fast()
        };
        let e = league(&model, &x, &[0, 1], &typo).unwrap_err().to_string();
        assert!(e.contains("unknown method 'nope'"), "{e}");
        let l = league(&model, &x, &[0, 1], &opts).unwrap();
        assert_eq!(l.rows[0].method, "saliency");
        let v = &l.rows[0].values;
        // Saliency of a linear model: scaled infidelity 0, max-sensitivity 0, and the same
        // Gini as the weight rows' (|w| = (1, 2, 0.5, 3) and (0.25, 1, 1, 2)).
        assert!(v[2].unwrap() < 1e-9 && v[3].unwrap() == 0.0, "{v:?}");
        let gini = crate::complexity::sparseness(&f32t(
            &[1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 1.0, 2.0],
            &[2, 4],
        ))
        .unwrap();
        assert!((v[4].unwrap() - mean_std(&gini).0).abs() < 1e-6);
        assert!((0.0..=1.0).contains(&v[5].unwrap()));
        assert_eq!(l.rows[0].mean_rank, Some(1.0));
        for r in &l.rows[1..] {
            assert!(
                r.mean_rank.is_none() && r.notes[0].starts_with("skipped"),
                "{r:?}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("league");
        l.write(&out).unwrap();
        let md = std::fs::read_to_string(out.join("league.md")).unwrap();
        assert_eq!(md, l.markdown());
        assert!(md.contains("- `grad-cam`: skipped"), "{md}");
        assert!(std::fs::read_to_string(out.join("league.json"))
            .unwrap()
            .contains("\"method\": \"grad-cam\""));
        assert!(league(&model, &x, &[0], &opts).is_err());
    }
}
