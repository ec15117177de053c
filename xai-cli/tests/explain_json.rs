//! `xai explain --format json`: the report parses, records the run (method, parameters,
//! targets, shapes, model digests, timings, completeness gap, version) and holds exactly the
//! attributions the default .npy output holds.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;
use xai_tensor::Tensor;

mod common;
use common::{copy_fixture, fixture, run_explain as explain, xai};

fn sha256_hex(path: &Path) -> String {
    Sha256::digest(std::fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn json_report_holds_the_npy_attributions_and_the_run_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("mlp");
    let (model, input) = (f.join("model.json"), f.join("input.npy"));
    let flags = ["--method", "integrated-gradients", "--steps", "16"];
    let npy = dir.path().join("a.npy");
    let json = dir.path().join("a.json");
    explain(&model, &input, npy.to_str().unwrap(), &flags);
    let mut with_format = flags.to_vec();
    with_format.extend(["--format", "json"]);
    explain(&model, &input, json.to_str().unwrap(), &with_format);

    let r: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let want = Tensor::read_npy(&npy).unwrap();
    let x = Tensor::read_npy(&input).unwrap();
    let n = x.shape()[0];
    assert_eq!(r["xai_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(r["method"], "integrated-gradients");
    assert_eq!(r["parameters"]["steps"], 16);
    assert_eq!(r["parameters"]["integration"], "gauss-legendre");
    assert_eq!(r["parameters"]["baseline"], "zeros");
    assert_eq!(r["parameters"]["batch_size"], 256);
    // Only the method's own parameters are recorded.
    assert!(r["parameters"].get("seed").is_none(), "{}", r["parameters"]);
    let shape = |v: &Value| -> Vec<usize> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect()
    };
    assert_eq!(shape(&r["input_shape"]), x.shape());
    assert_eq!(shape(&r["attributions"]["shape"]), want.shape());
    // Bit for bit: f32 values written in shortest round-trip form.
    let got: Vec<f32> = r["attributions"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(got, want.to_vec_f32().unwrap());
    assert_eq!(r["targets"].as_array().unwrap().len(), n);
    // The targets are the argmax of the logits.
    let logits = Tensor::read_npy(f.join("logits.npy")).unwrap();
    let argmax: Vec<u64> = logits
        .argmax(1)
        .unwrap()
        .into_iter()
        .map(|c| c as u64)
        .collect();
    let targets: Vec<u64> = r["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap())
        .collect();
    assert_eq!(targets, argmax);
    let gap = r["completeness_gap"].as_array().unwrap();
    assert_eq!(gap.len(), n);
    assert!(
        gap.iter().all(|g| g.as_f64().unwrap().abs() < 1e-2),
        "{gap:?}"
    );
    assert_eq!(r["model"]["json"]["sha256"], sha256_hex(&model));
    assert_eq!(
        r["model"]["weights"]["sha256"],
        sha256_hex(&f.join("model.safetensors"))
    );
    let t = &r["timings"];
    let secs = |k: &str| t[k].as_f64().unwrap();
    assert!(secs("load_seconds") >= 0.0 && secs("attribute_seconds") >= 0.0);
    assert!(secs("total_seconds") >= secs("load_seconds") + secs("attribute_seconds") - 1e-9);
}

#[test]
fn json_report_to_stdout_and_null_gap_without_completeness() {
    let f = fixture("lenet");
    let out = explain(
        &f.join("model.json"),
        &f.join("input.npy"),
        "-",
        &["--format", "json", "--target", "1"],
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(r["method"], "saliency");
    assert!(r["completeness_gap"].is_null());
    assert!(r["targets"].as_array().unwrap().iter().all(|t| t == 1));
    // Same values as PyTorch's saliency for class 1 (the fixture), up to f32 rounding.
    let want = Tensor::read_npy(f.join("saliency_target1.npy")).unwrap();
    let got: Vec<f64> = r["attributions"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let w = want.to_vec_f64().unwrap();
    let num: f64 = got.iter().zip(&w).map(|(a, b)| (a - b).powi(2)).sum();
    let den: f64 = w.iter().map(|b| b * b).sum();
    assert!((num / den).sqrt() < 1e-4);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn npy_to_stdout_and_unknown_formats_are_refused() {
    let d = copy_fixture("mlp");
    let run = |output: &str, extra: &[&str]| {
        let (m, i) = (d.path().join("model.json"), d.path().join("input.npy"));
        let mut args = vec!["explain", "--model", m.to_str().unwrap()];
        args.extend(["--input", i.to_str().unwrap(), "--output", output]);
        args.extend(extra);
        xai(&args)
    };
    let out = run("-", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("needs --format json"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
    let file = d.path().join("o.json");
    let out = run(file.to_str().unwrap(), &["--format", "yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("yaml"), "{stderr}");
    assert!(!stderr.contains("panicked"));
    assert!(!file.exists());
}

#[test]
fn every_kind_goes_through_one_envelope_and_renders_as_text() {
    let f = fixture("mlp");
    let (model, input) = (f.join("model.json"), f.join("input.npy"));
    // Curves (pdp) in the same envelope as maps: method, parameters, model digest, kind.
    let out = explain(&model, &input, "-", &["--method", "pdp", "--feature", "3"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["kind"], "curves");
    assert_eq!(r["method"], "pdp");
    assert_eq!(r["parameters"]["feature"], "3");
    assert_eq!(r["parameters"]["grid"], 20);
    assert_eq!(r["model"]["json"]["sha256"], sha256_hex(&model));
    assert_eq!(r["features"], serde_json::json!([3]));
    assert!(r["pd"].as_array().unwrap().len() > 1);
    // Maps as JSON carry their kind too; as text, one line per example.
    let out = explain(&model, &input, "-", &["--format", "json"]);
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["kind"], "attributions");
    let out = explain(&model, &input, "-", &["--format", "text"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let n = Tensor::read_npy(&input).unwrap().shape()[0];
    assert_eq!(
        text.lines().filter(|l| l.starts_with("example ")).count(),
        n
    );
    let out = explain(
        &model,
        &input,
        "-",
        &["--method", "ice", "--feature", "0", "--format", "text"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("partial dependence of class"), "{text}");
    // Curves are not maps: no .npy of them; a flag the method does not take is refused,
    // naming the ones it takes.
    let (m, i) = (model.to_str().unwrap(), input.to_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("o.npy");
    for (extra, needle) in [
        (
            &["--method", "pdp", "--feature", "0", "--format", "npy"][..],
            "pdp gives no attribution maps",
        ),
        (
            &["--format", "json", "--steps", "5"],
            "--steps is not a flag of saliency (its flags: --abs, --batch-size, --channel-max)",
        ),
    ] {
        let mut args = vec!["explain", "--model", m, "--input", i];
        args.extend(["--output", o.to_str().unwrap()]);
        args.extend(extra);
        let out = xai(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success()
                && stderr.trim_end().lines().count() == 1
                && stderr.contains(needle),
            "{stderr}"
        );
        assert!(!o.exists());
    }
}
