//! `xai train` / `xai evaluate` on the bundled real datasets: the accuracies the training issue
//! asks for, seeded determinism, and one-line refusals of bad input.

use std::path::Path;

mod common;
use common::{example, xai};

/// Trains and returns the summary JSON's fields.
fn train(arch: &str, data: &str, extra: &[&str], out: &Path) -> serde_like::Summary {
    let mut args = vec![
        "train",
        "--model",
        arch,
        "--data",
        data,
        "--quiet",
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let o = xai(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    serde_like::parse(stdout.lines().last().expect("a summary line"))
}

/// A tiny reader of the flat summary object (keeps the test free of a JSON dependency).
mod serde_like {
    pub struct Summary {
        pub test_accuracy: f64,
        pub train_accuracy: f64,
        pub epochs: f64,
    }
    pub fn field(line: &str, key: &str) -> f64 {
        let at = line
            .find(&format!("\"{key}\": "))
            .unwrap_or_else(|| panic!("{key} missing in {line}"));
        let rest = &line[at + key.len() + 4..];
        rest[..rest.find([',', '}']).unwrap()]
            .trim()
            .parse()
            .unwrap()
    }
    pub fn parse(line: &str) -> Summary {
        Summary {
            test_accuracy: field(line, "test_accuracy"),
            train_accuracy: field(line, "train_accuracy"),
            epochs: field(line, "epochs"),
        }
    }
}

#[test]
fn digits_cnn_reaches_97_percent_held_out() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("digits.json");
    let s = train(
        example("digits_cnn.json").to_str().unwrap(),
        "digits",
        &[
            "--epochs",
            "30",
            "--batch-size",
            "32",
            "--lr",
            "1e-3",
            "--optimizer",
            "adam",
            "--test-fraction",
            "0.2",
        ],
        &out,
    );
    assert!(
        s.test_accuracy >= 0.97,
        "digits CNN test accuracy {}",
        s.test_accuracy
    );
    assert_eq!(s.epochs, 30.0);
    // The trained model file works with evaluate, which agrees on the whole set.
    let o = xai(&[
        "evaluate",
        "--model",
        out.to_str().unwrap(),
        "--data",
        "digits",
        "--metric",
        "accuracy",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap()
        .to_string();
    assert!(
        line.starts_with("{\"metric\": \"accuracy\", \"per_example\": [")
            && serde_like::field(&line, "mean") > 0.97,
        "{line}"
    );
}

#[test]
fn mlps_on_breast_cancer_and_iris_reach_their_targets() {
    let dir = tempfile::tempdir().unwrap();
    let s = train(
        example("breast_cancer_mlp.json").to_str().unwrap(),
        "breast_cancer",
        &["--epochs", "30", "--standardize"],
        &dir.path().join("bc.json"),
    );
    assert!(
        s.test_accuracy >= 0.95,
        "breast cancer MLP test accuracy {}",
        s.test_accuracy
    );
    let s = train(
        example("iris_mlp.json").to_str().unwrap(),
        "iris",
        &[
            "--epochs",
            "100",
            "--batch-size",
            "16",
            "--lr",
            "0.01",
            "--standardize",
        ],
        &dir.path().join("iris.json"),
    );
    assert!(
        s.test_accuracy >= 0.93 && s.train_accuracy >= 0.95,
        "iris MLP test accuracy {}",
        s.test_accuracy
    );
}

#[test]
fn same_seed_gives_identical_weights_and_another_seed_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let arch = example("digits_cnn.json");
    let run = |name: &str, seed: &str| {
        let out = dir.path().join(format!("{name}.json"));
        train(
            arch.to_str().unwrap(),
            "digits",
            &["--epochs", "1", "--seed", seed],
            &out,
        );
        // The weights the JSON names (content-named: same bytes, same name).
        let spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let weights = spec["weights"].as_str().unwrap().to_string();
        assert!(weights.starts_with(&format!("{name}.")) && weights.ends_with(".safetensors"));
        (
            weights.split('.').nth(1).unwrap().to_string(),
            std::fs::read(dir.path().join(weights)).unwrap(),
        )
    };
    let (a, b, c) = (run("a", "4"), run("b", "4"), run("c", "5"));
    assert_eq!(a, b, "same seed, same bytes (and the same content name)");
    assert_ne!(a.0, c.0);
    assert_ne!(a.1, c.1);
}

#[test]
fn predict_reads_csv_and_drops_the_target_column() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("iris.json");
    train(
        example("iris_mlp.json").to_str().unwrap(),
        "iris",
        &["--epochs", "5"],
        &model,
    );
    let csv = dir.path().join("rows.csv");
    std::fs::write(
        &csv,
        "a,b,c,d,target\n5.1,3.5,1.4,0.2,0\n6.3,3.3,6.0,2.5,2\n",
    )
    .unwrap();
    let out = dir.path().join("logits.npy");
    let o = xai(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--input",
        csv.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(xai_tensor::Tensor::read_npy(&out).unwrap().shape(), &[2, 3]);
}

fn assert_train_refused(data: &str, extra: &[&str], needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.json");
    let arch = example("iris_mlp.json");
    let mut args = vec![
        "train",
        "--model",
        arch.to_str().unwrap(),
        "--data",
        data,
        "--quiet",
        "--output",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let o = xai(&args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "expected failure for {needle}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(
        stderr.starts_with("error: ") && stderr.contains(needle),
        "'{needle}' not in: {stderr}"
    );
    assert!(
        !out.exists() && std::fs::read_dir(dir.path()).unwrap().count() == 0,
        "nothing written"
    );
}

fn csv_file(dir: &tempfile::TempDir, text: &str) -> String {
    let p = dir.path().join("d.csv");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn bad_training_input_is_one_line() {
    let d = tempfile::tempdir().unwrap();
    assert_train_refused("imagenet", &[], "unknown dataset");
    assert_train_refused(
        &csv_file(&d, "a,b,c,d,target\n1,2,3,4,0\n1,2,3\n"),
        &[],
        "line 3: expected 5 columns, found 3",
    );
    assert_train_refused(
        &csv_file(&d, "a,b,c,d,target\n1,2,x,4,0\n"),
        &[],
        "line 2, column 3 ('c'): 'x' is not a number",
    );
    assert_train_refused(
        &csv_file(&d, "a,b,c,d,target\n1,2,3,4,1.5\n"),
        &[],
        "label '1.5' is not a class index",
    );
    // A label that would size a billion-class model, or overflow: one line, no allocation.
    for label in ["1e9", "1e19", "1e300", "-2"] {
        assert_train_refused(
            &csv_file(&d, &format!("a,b,c,d,target\n1,2,3,4,0\n1,2,3,4,{label}\n")),
            &[],
            &format!("line 3, column 5 ('target'): label '{label}' is not a class index"),
        );
    }
    assert_train_refused(
        &csv_file(&d, "a,b,c,d,target\n1,2,nan,4,0\n"),
        &[],
        "line 2, column 3 ('c'): 'nan' is not finite",
    );
    assert_train_refused(
        "iris",
        &["--input-shape", "2,3"],
        "input shape [2, 3] does not match the 4 feature columns",
    );
    assert_train_refused("iris", &["--epochs", "0"], "epochs must be at least 1");
    assert_train_refused("iris", &["--lr", "-0.1"], "learning rate must be positive");
    assert_train_refused(
        "iris",
        &["--optimizer", "lbfgs"],
        "unknown optimizer 'lbfgs'",
    );
}

#[test]
fn a_graph_model_trains_saves_as_version_2_and_explains_by_node() {
    // The MNIST ResNet (model format version 2: residual sums, a projection shortcut, batch
    // norm) for two epochs; issue 17's benchmark (tools/bench_train_resnet.py) runs 15.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("resnet.json");
    let s = train(
        example("mnist_resnet.json").to_str().unwrap(),
        "mnist",
        &[
            "--epochs",
            "2",
            "--batch-size",
            "64",
            "--lr",
            "2e-3",
            "--standardize",
        ],
        &out,
    );
    assert!(
        s.test_accuracy > 0.8,
        "held-out accuracy {}",
        s.test_accuracy
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("\"version\": 2") && text.contains("\"inputs\""));
    let input = common::fixture("resnet/mnist").join("input.npy");
    let map = dir.path().join("cam.npy");
    let o = xai(&[
        "explain",
        "--model",
        out.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--method",
        "grad-cam",
        "--layer",
        "add_1",
        "--no-upsample",
        "--output",
        map.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cam = xai_tensor::Tensor::read_npy(&map).unwrap();
    assert_eq!(cam.shape(), &[4, 7, 7]);
}
