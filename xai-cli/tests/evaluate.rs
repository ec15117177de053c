//! `xai evaluate` on explanation metrics: the JSON line, agreement with the library, known
//! values on a linear model, the sanity-check files, and one-line refusals of bad values.

use std::path::Path;
use xai_autodiff::Var;
use xai_nn::layers::Linear;
use xai_nn::{file, Graph, Node};
use xai_tensor::{DType, Tensor};

mod common;
use common::{evaluate_fails, xai};

fn t(v: &[f64], s: &[usize]) -> Tensor {
    Tensor::from_slice(v, s)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
}

const W: [f64; 12] = [
    1.0, -2.0, 0.5, 3.0, 0.25, -1.0, 1.0, 2.0, -0.5, 0.75, 1.5, -1.0,
];
const X: [f64; 12] = [
    0.5, 1.0, -1.5, 2.0, 0.1, 0.2, 0.3, -0.4, 1.0, 0.0, -1.0, 0.5,
];

fn linear() -> Graph {
    let lin = Linear {
        weight: Var::leaf(t(&W, &[3, 4])),
        bias: Some(Var::leaf(t(&[0.1, -0.2, 0.3], &[3]))),
    };
    Graph::sequential(vec![4], vec![Node::new("0", Box::new(lin))], None).unwrap()
}

/// A linear model and a batch of 3 inputs in `dir`.
fn setup(dir: &Path) -> (String, String) {
    let model = dir.join("m.json");
    file::save(&linear(), &model).unwrap();
    let x = dir.join("x.npy");
    t(&X, &[3, 4]).write_npy(&x).unwrap();
    (model.to_str().unwrap().into(), x.to_str().unwrap().into())
}

/// Runs `xai evaluate` and returns (per_example, mean) of its last line.
fn evaluate(args: &[&str]) -> (Vec<f64>, f64) {
    let mut all = vec!["evaluate"];
    all.extend(args);
    let o = xai(&all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out.lines().last().expect("a JSON line");
    let metric = args[args.iter().position(|a| *a == "--metric").unwrap() + 1];
    assert!(
        line.starts_with(&format!("{{\"metric\": \"{metric}\", \"per_example\": [")),
        "{line}"
    );
    let per = &line[line.find('[').unwrap() + 1..line.find(']').unwrap()];
    let per: Vec<f64> = per.split(", ").map(|v| v.parse().unwrap()).collect();
    let at = line.find("\"mean\": ").unwrap() + 8;
    let mean = line[at..line[at..].find(',').unwrap() + at]
        .parse()
        .unwrap();
    assert!(line.contains("\"std\": "));
    (per, mean)
}

#[test]
fn deletion_and_insertion_agree_with_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let (m, x) = setup(dir.path());
    let model = linear();
    let xt = t(&X, &[3, 4]);
    let targets = xai_passive::resolve_targets(&model, &xt, &xai_passive::Target::Argmax).unwrap();
    // Saliency of a linear model: the target's weight row.
    let a: Vec<f64> = targets
        .iter()
        .flat_map(|&c| W[c * 4..c * 4 + 4].to_vec())
        .collect();
    let a = t(&a, &[3, 4]);
    for (metric, curve) in [
        ("deletion", xai_eval::faithfulness::Curve::Deletion),
        ("insertion", xai_eval::faithfulness::Curve::Insertion),
    ] {
        let (per, mean) = evaluate(&[
            "--model",
            &m,
            "--input",
            &x,
            "--method",
            "saliency",
            "--metric",
            metric,
            "--steps",
            "4",
            "--baseline",
            "constant:0.5",
        ]);
        let lib = xai_eval::faithfulness::perturbation_curves(
            &model,
            &xt,
            &a,
            &targets,
            curve,
            4,
            &xai_passive::methods::Baseline::Constant(0.5),
            8,
        )
        .unwrap()
        .auc();
        for (p, q) in per.iter().zip(&lib) {
            assert!((p - q).abs() < 1e-6, "{metric}: {per:?} vs {lib:?}");
        }
        assert!((mean - lib.iter().sum::<f64>() / 3.0).abs() < 1e-6);
    }
    let (aopc, _) = evaluate(&[
        "--model", &m, "--input", &x, "--method", "saliency", "--metric", "aopc",
    ]);
    let (flip, _) = evaluate(&[
        "--model",
        &m,
        "--input",
        &x,
        "--method",
        "saliency",
        "--metric",
        "pixel-flipping",
    ]);
    // AOPC = mean of p_0 − p_k over the deletion curve: from the library's curves.
    let c = xai_eval::faithfulness::perturbation_curves(
        &model,
        &xt,
        &a,
        &targets,
        xai_eval::faithfulness::Curve::Deletion,
        20,
        &xai_passive::methods::Baseline::Zeros,
        8,
    )
    .unwrap();
    for ((p, q), curve) in aopc.iter().zip(&flip).zip(&c.curves) {
        let by_hand = curve.iter().map(|v| curve[0] - v).sum::<f64>() / 21.0;
        assert!((p - by_hand).abs() < 1e-6 && p == q, "{p} {q} {by_hand}");
    }
}

#[test]
fn saliency_of_a_linear_model_has_zero_infidelity_sensitivity_and_lipschitz_constant() {
    let dir = tempfile::tempdir().unwrap();
    let (m, x) = setup(dir.path());
    for metric in [
        "infidelity",
        "infidelity-scaled",
        "max-sensitivity",
        "local-lipschitz",
    ] {
        let (per, mean) = evaluate(&[
            "--model",
            &m,
            "--input",
            &x,
            "--method",
            "saliency",
            "--metric",
            metric,
            "--samples",
            "20",
            "--seed",
            "3",
        ]);
        assert_eq!(per.len(), 3);
        assert!(
            mean.abs() <= 1e-6 && per.iter().all(|v| v.abs() <= 1e-6),
            "{metric}: {per:?}"
        );
    }
}

#[test]
fn input_x_gradient_and_integrated_gradients_of_a_linear_model_are_complete() {
    let dir = tempfile::tempdir().unwrap();
    let (m, x) = setup(dir.path());
    for method in ["input-x-gradient", "integrated-gradients"] {
        let (per, _) = evaluate(&[
            "--model",
            &m,
            "--input",
            &x,
            "--method",
            method,
            "--metric",
            "completeness",
        ]);
        assert_eq!(per.len(), 3);
        assert!(per.iter().all(|g| *g <= 1e-5), "{method}: {per:?}");
    }
    // Saliency against the zero baseline: |Σw_c − w_c·x|, with c = argmax of each example.
    let (per, _) = evaluate(&[
        "--model",
        &m,
        "--input",
        &x,
        "--method",
        "saliency",
        "--metric",
        "completeness",
    ]);
    let model = linear();
    let xt = t(&X, &[3, 4]);
    let targets = xai_passive::resolve_targets(&model, &xt, &xai_passive::Target::Argmax).unwrap();
    for (i, &c) in targets.iter().enumerate() {
        let want: f64 = (0..4)
            .map(|j| W[c * 4 + j] * (1.0 - X[i * 4 + j]))
            .sum::<f64>()
            .abs();
        assert!((per[i] - want).abs() <= 1e-5, "{per:?} {want}");
    }
}

#[test]
fn complexity_and_localisation_from_given_attributions() {
    let dir = tempfile::tempdir().unwrap();
    let (m, x) = setup(dir.path());
    let a = dir.path().join("a.npy");
    t(
        &[
            1.0, -1.0, 1.0, -1.0, 0.0, 0.0, -5.0, 0.0, 1.0, 1.0, 2.0, 0.0,
        ],
        &[3, 4],
    )
    .write_npy(&a)
    .unwrap();
    let mask = dir.path().join("mask.npy");
    t(
        &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0],
        &[3, 4],
    )
    .write_npy(&mask)
    .unwrap();
    let a = a.to_str().unwrap();
    let mask = mask.to_str().unwrap();
    let run = |metric: &str| {
        evaluate(&[
            "--model",
            &m,
            "--input",
            &x,
            "--attributions",
            a,
            "--metric",
            metric,
            "--mask",
            mask,
        ])
        .0
    };
    let h = run("entropy");
    assert!(
        (h[0] - 4f64.ln()).abs() < 1e-6
            && h[1].abs() < 1e-9
            && (h[2] - 1.5 * 2f64.ln()).abs() < 1e-6
    );
    assert_eq!(run("sparseness"), vec![0.0, 0.75, 0.375]);
    // Example 0: all ties, the first (index 0) is the top and lies in the mask.
    assert_eq!(run("pointing-game"), vec![1.0, 0.0, 0.0]);
    assert_eq!(run("relevance-mass"), vec![0.5, 0.0, 0.25]);
    assert_eq!(run("relevance-rank"), vec![1.0, 0.0, 0.0]);
}

#[test]
fn model_randomization_writes_table_json_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let (m, x) = setup(dir.path());
    let out = dir.path().join("sanity");
    let (per, _) = evaluate(&[
        "--model",
        &m,
        "--input",
        &x,
        "--method",
        "saliency",
        "--metric",
        "model-randomization",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(per.len(), 3);
    for f in ["sanity.md", "sanity.json", "sanity.png"] {
        assert!(out.join(f).exists(), "{f}");
    }
    let md = std::fs::read_to_string(out.join("sanity.md")).unwrap();
    assert!(md.contains("| 0 | original | 1.0000 ± 0.0000 |"), "{md}");
    let (per, _) = evaluate(&[
        "--model",
        &m,
        "--input",
        &x,
        "--method",
        "saliency",
        "--metric",
        "model-randomization",
        "--independent",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert_eq!(per.len(), 3);
    let md = std::fs::read_to_string(out.join("sanity.md")).unwrap();
    assert!(
        md.starts_with("Independent randomization of `saliency`"),
        "{md}"
    );
}

#[test]
fn bad_values_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (m, x) = setup(dir.path());
    let base = [
        "--model",
        m.as_str(),
        "--input",
        x.as_str(),
        "--method",
        "saliency",
    ];
    let with = |extra: &[&'static str]| -> Vec<String> {
        base.iter()
            .map(|s| s.to_string())
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let cases: &[(&[&str], &str)] = &[
        (&["--metric", "bogus"], "unknown metric 'bogus'"),
        (
            &["--metric", "deletion", "--steps", "0"],
            "--steps must be at least 1",
        ),
        (
            &["--metric", "infidelity", "--samples", "-2"],
            "--samples must be at least 1",
        ),
        (
            &["--metric", "infidelity", "--noise-std", "-1"],
            "--noise-std must be a finite number",
        ),
        (
            &["--metric", "max-sensitivity", "--radius", "NaN"],
            "--radius must be a finite number",
        ),
        (
            &["--metric", "deletion", "--baseline", "nope"],
            "baseline must be",
        ),
        (&["--metric", "pointing-game"], "needs --mask"),
        (&["--metric", "model-randomization"], "needs --output-dir"),
        (&["--metric", "deletion", "--target", "7"], "out of range"),
        (
            &["--metric", "deletion", "--method-steps", "0"],
            "--method-steps must be at least 1",
        ),
    ];
    for (extra, expect) in cases {
        let args = with(extra);
        evaluate_fails(&args.iter().map(String::as_str).collect::<Vec<_>>(), expect);
    }
    evaluate_fails(
        &["--model", &m, "--input", &x, "--metric", "max-sensitivity"],
        "needs --method",
    );
    evaluate_fails(
        &["--model", &m, "--input", &x, "--metric", "entropy"],
        "needs --attributions or --method",
    );
    evaluate_fails(
        &["--model", &m, "--metric", "entropy", "--method", "saliency"],
        "needs --input",
    );
    evaluate_fails(&["--model", &m, "--metric", "accuracy"], "needs --data");
    evaluate_fails(
        &[
            "--model", &m, "--input", &x, "--metric", "entropy", "--method", "nope",
        ],
        "unknown method 'nope'",
    );
    let bad = dir.path().join("bad.npy");
    t(&[1.0, 2.0], &[1, 2]).write_npy(&bad).unwrap();
    evaluate_fails(
        &[
            "--model",
            &m,
            "--input",
            &x,
            "--metric",
            "entropy",
            "--attributions",
            bad.to_str().unwrap(),
        ],
        "does not match the input's shape",
    );
}
