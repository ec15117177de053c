//! `xai evaluate` on the metrics that retrain the model's architecture: data randomization,
//! ROAR and KAR. Each trains the 8×8-digits CNN for a few epochs (well under a second).

mod common;
use common::{evaluate_fails, train_digits, xai};

/// Runs `xai evaluate` and returns its last stdout line.
fn last_line(args: &[&str]) -> String {
    let mut all = vec!["evaluate"];
    all.extend(args);
    let o = xai(&all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .expect("a JSON line")
        .to_string()
}

/// The numbers of the JSON array after `"key": `.
fn array(line: &str, key: &str) -> Vec<f64> {
    let at = line.find(&format!("\"{key}\": [")).expect(key) + key.len() + 5;
    let end = at + line[at..].find(']').unwrap();
    line[at..end]
        .split(", ")
        .map(|v| v.parse().unwrap())
        .collect()
}

/// The number after `"key": `.
fn number(line: &str, key: &str) -> f64 {
    let at = line.find(&format!("\"{key}\": ")).expect(key) + key.len() + 4;
    let end = at + line[at..].find([',', '}']).unwrap();
    line[at..end].parse().unwrap()
}

#[test]
fn data_randomization_makes_the_gradient_forget_the_original_map() {
    let dir = tempfile::tempdir().unwrap();
    let m = train_digits(dir.path(), "5");
    let line = last_line(&[
        "--model",
        &m,
        "--data",
        "digits",
        "--metric",
        "data-randomization",
        "--method",
        "saliency",
        "--epochs",
        "5",
    ]);
    assert!(
        line.starts_with("{\"metric\": \"data-randomization\", \"per_example\": ["),
        "{line}"
    );
    let per = array(&line, "per_example");
    assert_eq!(per.len(), 8);
    assert_eq!(array(&line, "ssim").len(), 8);
    // The original map against itself would score 1; the random-label model's is unrelated.
    let mean = number(&line, "mean");
    assert!(mean.abs() < 0.5, "{line}");
    assert!(number(&line, "mean_spearman_abs") < 0.6, "{line}");
    let acc = number(&line, "random_label_train_accuracy");
    assert!((0.0..=1.0).contains(&acc));
    evaluate_fails(
        &[
            "--model",
            &m,
            "--metric",
            "data-randomization",
            "--method",
            "saliency",
        ],
        "needs --data",
    );
    evaluate_fails(
        &[
            "--model",
            &m,
            "--data",
            "digits",
            "--metric",
            "data-randomization",
        ],
        "needs --method",
    );
    evaluate_fails(
        &[
            "--model",
            &m,
            "--data",
            "digits",
            "--metric",
            "data-randomization",
            "--method",
            "saliency",
            "--epochs",
            "0",
        ],
        "epochs must be at least 1",
    );
}

#[test]
fn roar_and_kar_print_accuracy_per_fraction() {
    let dir = tempfile::tempdir().unwrap();
    let m = train_digits(dir.path(), "5");
    let run = |metric: &str| {
        let line = last_line(&[
            "--model",
            &m,
            "--data",
            "digits",
            "--metric",
            metric,
            "--method",
            "integrated-gradients",
            "--method-steps",
            "16",
            "--fractions",
            "0.1,0.9",
            "--epochs",
            "5",
        ]);
        assert!(
            line.starts_with(&format!(
                "{{\"metric\": \"{metric}\", \"method\": \"integrated-gradients\", \"fractions\": [0.1, 0.9], \"accuracy\": ["
            )),
            "{line}"
        );
        let acc = array(&line, "accuracy");
        assert_eq!(acc.len(), 2);
        assert!(acc.iter().all(|v| (0.0..=1.0).contains(v)), "{line}");
        (acc, number(&line, "reference_accuracy"))
    };
    let (roar, reference) = run("roar");
    let (kar, kar_reference) = run("kar");
    // Same seed and settings: the same reference model.
    assert_eq!(reference, kar_reference);
    assert!(reference > 0.85, "{reference}");
    // Replacing the 90% of the pixels IG ranks highest hurts far more than replacing the 90%
    // it ranks lowest.
    assert!(
        roar[1] < reference - 0.2 && roar[1] < kar[1] - 0.2,
        "{roar:?} {kar:?}"
    );
    evaluate_fails(
        &[
            "--model",
            &m,
            "--data",
            "digits",
            "--metric",
            "roar",
            "--method",
            "saliency",
            "--fractions",
            "0.5,1.5",
        ],
        "--fractions must be in [0, 1], got 1.5",
    );
    evaluate_fails(
        &["--model", &m, "--metric", "kar", "--method", "saliency"],
        "needs --data",
    );
}
