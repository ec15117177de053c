//! The `xai` binary against PyTorch: logits and saliency of models exported with
//! `tools/export_pytorch.py` (fixtures made by `tools/make_fixtures.py`), and every refused
//! input as one line on stderr with a non-zero exit and no output file.

use std::path::Path;
use xai_tensor::Tensor;

mod common;
use common::{assert_explain_refused, copy_fixture, fixture, rel_l2, run_demo, xai, xai_ok};

fn check_against_pytorch(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture(name);
    let (model, input) = (f.join("model.json"), f.join("input.npy"));
    let logits = dir.path().join("logits.npy");
    xai_ok(&[
        "predict",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        logits.to_str().unwrap(),
    ]);
    let e = rel_l2(
        &Tensor::read_npy(&logits).unwrap(),
        &Tensor::read_npy(f.join("logits.npy")).unwrap(),
    );
    assert!(e < 1e-5, "{name}: logits relative L2 error {e:e}");
    for (target, reference) in [("argmax", "saliency.npy"), ("1", "saliency_target1.npy")] {
        let out = dir.path().join(format!("sal_{target}.npy"));
        xai_ok(&[
            "explain",
            "--model",
            model.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--method",
            "saliency",
            "--target",
            target,
            "--output",
            out.to_str().unwrap(),
            "--batch-size",
            "3",
        ]);
        let e = rel_l2(
            &Tensor::read_npy(&out).unwrap(),
            &Tensor::read_npy(f.join(reference)).unwrap(),
        );
        assert!(
            e < 1e-4,
            "{name}: saliency (target {target}) relative L2 error {e:e}"
        );
    }
}

#[test]
fn mlp_logits_and_saliency_equal_pytorch() {
    check_against_pytorch("mlp");
}

#[test]
fn lenet_logits_and_saliency_equal_pytorch() {
    check_against_pytorch("lenet");
}

#[test]
fn batchnorm_pooling_and_activation_zoo_equals_pytorch() {
    check_against_pytorch("cnn_misc");
}

#[test]
fn abs_saliency_is_the_absolute_gradient_and_single_examples_keep_their_shape() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("mlp");
    let one = dir.path().join("one.npy");
    Tensor::read_npy(f.join("input.npy"))
        .unwrap()
        .narrow(0, 1, 1)
        .unwrap()
        .reshape(&[30])
        .unwrap()
        .write_npy(&one)
        .unwrap();
    let out = dir.path().join("a.npy");
    xai_ok(&[
        "explain",
        "--model",
        f.join("model.json").to_str().unwrap(),
        "--input",
        one.to_str().unwrap(),
        "--abs",
        "--output",
        out.to_str().unwrap(),
    ]);
    let got = Tensor::read_npy(&out).unwrap();
    assert_eq!(got.shape(), &[30]);
    let want = Tensor::read_npy(f.join("saliency.npy"))
        .unwrap()
        .narrow(0, 1, 1)
        .unwrap()
        .abs()
        .unwrap()
        .reshape(&[30])
        .unwrap();
    assert!(rel_l2(&got, &want) < 1e-4);
}

/// Copies a fixture model into a temporary folder so a test can break it.
fn broken_copy(name: &str, edit: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = copy_fixture(name);
    edit(dir.path());
    dir
}

fn edit_json(dir: &Path, f: impl FnOnce(String) -> String) {
    let p = dir.join("model.json");
    let text = std::fs::read_to_string(&p).unwrap();
    std::fs::write(&p, f(text)).unwrap();
}

#[test]
fn truncated_model_json_is_refused() {
    let d = broken_copy("mlp", |d| edit_json(d, |t| t[..t.len() / 2].to_string()));
    assert_explain_refused(d.path(), &[], "invalid model JSON");
}

#[test]
fn unknown_op_is_refused_naming_the_layer() {
    let d = broken_copy("mlp", |d| {
        edit_json(d, |t| t.replacen("\"tanh\"", "\"swish\"", 1))
    });
    assert_explain_refused(d.path(), &[], "unknown op 'swish'");
}

#[test]
fn missing_weights_file_is_refused() {
    let d = broken_copy("mlp", |d| {
        std::fs::remove_file(d.join("model.safetensors")).unwrap()
    });
    assert_explain_refused(d.path(), &[], "weights file not found");
}

#[test]
fn weight_shape_contradicting_the_layer_is_refused() {
    let d = broken_copy("mlp", |d| {
        edit_json(d, |t| {
            t.replacen("\"out_features\": 64", "\"out_features\": 65", 1)
        })
    });
    assert_explain_refused(
        d.path(),
        &[],
        "has shape [64, 30] but layer '0' needs [65, 30]",
    );
}

#[test]
fn input_of_the_wrong_shape_is_refused() {
    let d = broken_copy("mlp", |d| {
        Tensor::zeros(&[4, 29], xai_tensor::DType::F32)
            .write_npy(d.join("input.npy"))
            .unwrap()
    });
    assert_explain_refused(d.path(), &[], "does not match the model's input shape [30]");
}

#[test]
fn nan_in_the_input_is_refused_by_default() {
    let d = broken_copy("mlp", |d| {
        let mut v = vec![0.0f32; 60];
        v[7] = f32::NAN;
        Tensor::from_vec(v, &[2, 30])
            .unwrap()
            .write_npy(d.join("input.npy"))
            .unwrap();
    });
    assert_explain_refused(d.path(), &[], "NaN");
}

#[test]
fn a_file_that_is_not_npy_is_refused() {
    let d = broken_copy("mlp", |d| {
        std::fs::write(d.join("input.npy"), "a,b\n1,2\n").unwrap()
    });
    assert_explain_refused(d.path(), &[], "not a .npy file");
}

#[test]
fn target_class_out_of_range_is_refused() {
    let d = broken_copy("mlp", |_| {});
    assert_explain_refused(
        d.path(),
        &["--target", "2"],
        "target class 2 is out of range for a model with 2 outputs",
    );
}

#[test]
fn missing_input_file_is_refused() {
    let d = broken_copy("mlp", |d| {
        std::fs::remove_file(d.join("input.npy")).unwrap()
    });
    assert_explain_refused(d.path(), &[], "input.npy");
}

#[test]
fn unknown_method_is_refused() {
    let d = broken_copy("mlp", |_| {});
    assert_explain_refused(
        d.path(),
        &["--method", "telepathy"],
        "unknown method 'telepathy'",
    );
}

#[test]
fn predict_refuses_like_explain() {
    let d = broken_copy("lenet", |d| {
        std::fs::remove_file(d.join("model.safetensors")).unwrap()
    });
    let out = xai(&[
        "predict",
        "--model",
        d.path().join("model.json").to_str().unwrap(),
        "--input",
        d.path().join("input.npy").to_str().unwrap(),
        "--output",
        d.path().join("o.npy").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );
    assert!(!d.path().join("o.npy").exists());
}

#[test]
fn png_heatmaps_are_written_per_example() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("lenet");
    let out = dir.path().join("a.npy");
    let png = dir.path().join("png");
    xai_ok(&[
        "explain",
        "--model",
        f.join("model.json").to_str().unwrap(),
        "--input",
        f.join("input.npy").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    let mut names: Vec<String> = std::fs::read_dir(&png)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "saliency_0.png",
            "saliency_1.png",
            "saliency_2.png",
            "saliency_3.png"
        ]
    );
    let bytes = std::fs::read(png.join("saliency_0.png")).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"));
    // A tabular model cannot be drawn as a heatmap: one clear line, nothing written.
    let m = fixture("mlp");
    let o = xai(&[
        "explain",
        "--model",
        m.join("model.json").to_str().unwrap(),
        "--input",
        m.join("input.npy").to_str().unwrap(),
        "--output",
        dir.path().join("b.npy").to_str().unwrap(),
        "--png",
        png.to_str().unwrap(),
    ]);
    assert!(
        !o.status.success()
            && String::from_utf8_lossy(&o.stderr).contains("--png needs image inputs")
    );
}

#[test]
fn demo_writes_a_report_with_an_overlay_per_method() {
    let dir = tempfile::tempdir().unwrap();
    run_demo(dir.path());
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    let images: Vec<&str> = html
        .split("src=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert!(images.len() >= 12 * 6, "{} images", images.len());
    for img in images {
        assert!(dir.path().join(img).exists(), "{img} missing");
    }
    assert!(
        html.contains("grad-cam")
            && html.contains("deeplift")
            && html.contains("integrated-gradients")
    );
}

#[test]
fn channel_max_saliency_is_the_max_over_channels_of_the_absolute_gradient() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("cnn_misc");
    let out = dir.path().join("a.npy");
    let (model, input) = (f.join("model.json"), f.join("input.npy"));
    let args = [
        "explain",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--channel-max",
    ];
    let o = xai(&[&args[..], &["--output", out.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = Tensor::read_npy(&out).unwrap();
    let grad = Tensor::read_npy(f.join("saliency.npy")).unwrap();
    let want = grad
        .abs()
        .unwrap()
        .max(&[1], true)
        .unwrap()
        .broadcast_to(grad.shape())
        .unwrap();
    assert!(rel_l2(&got, &want) < 1e-4);
}

#[test]
fn usage_errors_are_one_line_naming_the_flag_and_bare_xai_prints_the_short_help() {
    let f = common::fixture("mlp");
    let (m, i) = (f.join("model.json"), f.join("input.npy"));
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("o.npy");
    let (m, i, o) = (
        m.to_str().unwrap(),
        i.to_str().unwrap(),
        o.to_str().unwrap(),
    );
    let base = ["explain", "--model", m, "--input", i, "--output", o];
    for (extra, needle) in [
        (&["--target", "-1"][..], "--target"),
        (&["--bogus"], "unexpected argument '--bogus'"),
        (&["--format", "yaml"], "--format"),
    ] {
        let args = [&base[..], extra].concat();
        let out = common::xai(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.lines().count() == 1 && stderr.starts_with("error: ") && stderr.contains(needle),
            "{args:?}: '{stderr}'"
        );
        assert!(!std::path::Path::new(o).exists());
    }
    let out = common::xai(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage: xai"));
    let out = common::xai(&["--version"]);
    assert!(out.status.success());
}
