//! Helpers shared by the CLI test files: paths of the fixtures, running the binary, and the
//! relative L2 error the comparisons with PyTorch, Captum and Zennit use.
#![allow(dead_code)] // each test file uses a subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;
use xai_tensor::Tensor;

/// Names in `dir`, sorted.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `examples/<name>` at the repository root.
pub fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples")
        .join(name)
}

/// Runs the `xai` binary.
pub fn xai(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xai"))
        .args(args)
        .output()
        .expect("run xai")
}

/// Runs the `xai` binary with `args` and asserts it succeeded (its stderr in the message).
pub fn xai_ok(args: &[&str]) -> Output {
    let o = xai(args);
    assert!(
        o.status.success(),
        "xai {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Runs the `xai` binary with `args` and asserts a refusal: non-zero exit and one
/// `error: …` line containing `needle`.
pub fn assert_one_line_error(args: &[&str], needle: &str) {
    let o = xai(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{args:?} succeeded");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: ") && err.contains(needle),
        "{needle}: {err}"
    );
}

/// Runs `xai evaluate` with `args` and asserts a one-line refusal containing `needle`.
pub fn evaluate_fails(args: &[&str], needle: &str) {
    let mut all = vec!["evaluate"];
    all.extend(args);
    assert_one_line_error(&all, needle);
}

/// Runs `xai explain --model M --input I --output O` with `extra` flags; asserts success.
pub fn run_explain(model: &Path, input: &Path, output: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "explain",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output,
    ];
    args.extend(extra);
    xai_ok(&args)
}

/// Trains `examples/digits_cnn.json` on the bundled digits for `epochs` into `dir/m.json`
/// (quietly); returns the model path.
pub fn train_digits(dir: &Path, epochs: &str) -> String {
    let model = dir.join("m.json");
    xai_ok(&[
        "train",
        "--model",
        example("digits_cnn.json").to_str().unwrap(),
        "--data",
        "digits",
        "--epochs",
        epochs,
        "--quiet",
        "--output",
        model.to_str().unwrap(),
    ]);
    model.to_str().unwrap().into()
}

/// Runs `xai demo` (2 epochs) into `dir`; asserts success and returns the output.
pub fn run_demo(dir: &Path) -> Output {
    xai_ok(&[
        "demo",
        "--output-dir",
        dir.to_str().unwrap(),
        "--epochs",
        "2",
    ])
}

/// ‖got − want‖₂ / ‖want‖₂ (shapes must agree).
pub fn rel_l2(got: &Tensor, want: &Tensor) -> f64 {
    assert_eq!(got.shape(), want.shape());
    let (g, w) = (got.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
    let num: f64 = g.iter().zip(&w).map(|(a, b)| (a - b).powi(2)).sum();
    let den: f64 = w.iter().map(|b| b * b).sum();
    (num / den).sqrt()
}

/// A temporary copy of a fixture model (model.json, weights, input.npy), for tests that break it.
pub fn copy_fixture(name: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in ["model.json", "model.safetensors", "input.npy"] {
        std::fs::copy(fixture(name).join(file), dir.path().join(file)).unwrap();
    }
    dir
}

/// Runs `explain` on the model and input in `dir` with `extra` flags and asserts a refusal:
/// non-zero exit, one `error:` line naming `needle`, no panic, no output or temporary file.
pub fn assert_explain_refused(dir: &Path, extra: &[&str], needle: &str) {
    let out_file = dir.join("out.npy");
    let model = dir.join("model.json");
    let input = dir.join("input.npy");
    let mut args = vec![
        "explain",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        out_file.to_str().unwrap(),
    ];
    args.extend(extra);
    let out = xai(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure for {needle}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "one line expected, got: {stderr}"
    );
    assert!(
        stderr.starts_with("error: ") && stderr.contains(needle),
        "'{needle}' not in: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("internal error"),
        "{stderr}"
    );
    assert!(!out_file.exists(), "no output file may be left behind");
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

/// [`assert_explain_refused`] on a fresh copy of fixture `name`.
pub fn assert_fixture_refused(name: &str, extra: &[&str], needle: &str) {
    let d = copy_fixture(name);
    assert_explain_refused(d.path(), extra, needle);
}

/// Runs `xai explain` on a fixture model and its inputs with `extra` flags; returns the output.
pub fn explain(model: &str, extra: &[&str]) -> Tensor {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(model);
    let out = dir.path().join("a.npy");
    run_explain(
        &f.join("model.json"),
        &f.join("input.npy"),
        out.to_str().unwrap(),
        extra,
    );
    Tensor::read_npy(&out).unwrap()
}

/// Asserts that `xai explain` with `extra` flags on fixture `model` equals the reference
/// `tests/fixtures/{folder}/{reference}.npy` within relative L2 error `tol`.
pub fn check_reference(folder: &str, model: &str, extra: &[&str], reference: &str, tol: f64) {
    let want = Tensor::read_npy(fixture(folder).join(format!("{reference}.npy"))).unwrap();
    let e = rel_l2(&explain(model, extra), &want);
    eprintln!("{reference}: relative L2 {e:e}");
    assert!(e <= tol, "{reference}: relative L2 error {e:e}");
}
