//! The perturbation (black-box) family of `xai explain` against Captum (references from
//! `tools/make_perturbation_fixtures.py` in `tests/fixtures/perturbation/`), seeding of the
//! sampled methods, and their option errors as one line on stderr with no output file.

use xai_tensor::{DType, Tensor};

mod common;
use common::{assert_fixture_refused, check_reference, explain, fixture, rel_l2};

fn check(model: &str, extra: &[&str], reference: &str, tol: f64) {
    check_reference("perturbation", model, extra, reference, tol);
}

#[test]
fn occlusion_equals_captum() {
    check(
        "lenet",
        &[
            "--method",
            "occlusion",
            "--window",
            "6x6",
            "--stride",
            "2x2",
            "--batch-size",
            "100",
        ],
        "occlusion_lenet_6x6_s2",
        1e-4,
    );
    check(
        "lenet",
        &[
            "--method",
            "occlusion",
            "--window",
            "1,5,5",
            "--stride",
            "3x3",
            "--baseline",
            "constant:0.1",
        ],
        "occlusion_lenet_5x5_s3_c01",
        1e-4,
    );
}

#[test]
fn feature_ablation_equals_captum() {
    check(
        "mlp",
        &["--method", "feature-ablation", "--batch-size", "7"],
        "ablation_mlp",
        1e-4,
    );
    check("mlp", &["--method", "omission"], "ablation_mlp", 1e-4);
    let mask = fixture("perturbation").join("mask_lenet_grid4.npy");
    check(
        "lenet",
        &[
            "--method",
            "feature-ablation",
            "--mask",
            mask.to_str().unwrap(),
        ],
        "ablation_lenet_grid4",
        1e-4,
    );
    check(
        "lenet",
        &["--method", "feature-ablation", "--segments", "grid:4"],
        "ablation_lenet_grid4",
        1e-4,
    );
    // The same group ids as NumPy's default int64 array (`np.save(f, ids)`): '<i8'.
    let ids = Tensor::read_npy(&mask).unwrap().to_vec_f64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let int_mask = dir.path().join("mask_i8.npy");
    write_int64_npy(&int_mask, &ids, &[1, 28, 28]);
    check(
        "lenet",
        &[
            "--method",
            "feature-ablation",
            "--mask",
            int_mask.to_str().unwrap(),
        ],
        "ablation_lenet_grid4",
        1e-4,
    );
}

/// An int64 `.npy` file (format 1.0) of `values`, as `np.save` writes one.
fn write_int64_npy(path: &std::path::Path, values: &[f64], shape: &[usize]) {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let mut header = format!(
        "{{'descr': '<i8', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    for &v in values {
        bytes.extend((v as i64).to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn sampled_methods_are_seeded_and_efficient() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b.npy");
    Tensor::zeros(&[2, 30], DType::F32).write_npy(&b).unwrap();
    let bp = b.to_str().unwrap();
    for (method, samples) in [
        ("kernel-shap", "300"),
        ("shapley-sampling", "20"),
        ("lime", "500"),
    ] {
        let run = |seed: &str| {
            explain(
                "mlp",
                &[
                    "--method",
                    method,
                    "--samples",
                    samples,
                    "--seed",
                    seed,
                    "--baselines",
                    bp,
                ],
            )
        };
        let a = run("1");
        assert_eq!(a.shape(), &[4, 30]);
        assert_eq!(
            a.to_vec_f32().unwrap(),
            run("1").to_vec_f32().unwrap(),
            "{method}"
        );
        assert!(rel_l2(&run("2"), &a) > 1e-6, "{method}");
    }
    // Shapley values over 3×3 grid cells of LeNet: exact, and kernel-shap with every coalition.
    let exact = explain(
        "lenet",
        &["--method", "shapley-exact", "--segments", "grid:3"],
    );
    let kernel = explain(
        "lenet",
        &[
            "--method",
            "kernel-shap",
            "--segments",
            "grid:3",
            "--samples",
            "600",
        ],
    );
    assert!(rel_l2(&kernel, &exact) < 1e-3);
    let lime = explain(
        "lenet",
        &[
            "--method",
            "lime",
            "--segments",
            "grid:4",
            "--samples",
            "200",
        ],
    );
    assert_eq!(lime.shape(), &[4, 1, 28, 28]);
}

#[test]
fn tabular_lime_uses_training_statistics_and_reports_fidelity() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.npy");
    let (model, input) = (
        fixture("mlp").join("model.json"),
        fixture("mlp").join("input.npy"),
    );
    let run = |extra: &[&str]| {
        let flags = [&["--method", "lime", "--samples", "400"], extra].concat();
        let o = common::run_explain(&model, &input, out.to_str().unwrap(), &flags);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        (Tensor::read_npy(&out).unwrap(), err)
    };
    let (a, err) = run(&["--lime-sampling", "training", "--data", "breast_cancer"]);
    assert_eq!(a.shape(), &[4, 30]);
    let r2: Vec<f64> = err
        .trim()
        .rsplit(": ")
        .next()
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    assert!(err.contains("lime local fidelity"), "{err}");
    assert_eq!(r2.len(), 4);
    // The JSON report carries the same figures as the method's diagnostic.
    let json = dir.path().join("a.json");
    let flags = [
        "--method",
        "lime",
        "--samples",
        "400",
        "--lime-sampling",
        "training",
        "--data",
        "breast_cancer",
        "--format",
        "json",
    ];
    common::run_explain(&model, &input, json.to_str().unwrap(), &flags);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(r["diagnostics"][0]["name"], "local_r2");
    let got: Vec<f64> = r["diagnostics"][0]["per_example"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(
        got.iter().zip(&r2).all(|(g, p)| (g - p).abs() < 1e-4),
        "{got:?} vs {r2:?}"
    );
    assert!(r2.iter().all(|r| (-1.0..=1.0).contains(r)), "{r2:?}");
    let (b, _) = run(&["--lime-sampling", "training", "--data", "breast_cancer"]);
    assert_eq!(a.to_vec_f32().unwrap(), b.to_vec_f32().unwrap());
    let (c, _) = run(&[
        "--lime-sampling",
        "around-instance",
        "--data",
        "breast_cancer",
    ]);
    assert!(rel_l2(&c, &a) > 1e-6);
    let (q, _) = run(&["--lime-sampling", "quartile", "--data", "breast_cancer"]);
    assert!(q.to_vec_f32().unwrap().iter().all(|v| v.is_finite()));
    assert!(rel_l2(&q, &a) > 1e-6);
}

#[test]
fn meaningful_perturbation_gives_a_seeded_deletion_map() {
    let run = |seed: &str| {
        explain(
            "lenet",
            &[
                "--method",
                "meaningful-perturbation",
                "--iterations",
                "20",
                "--mask-size",
                "7",
                "--noise-std",
                "0.05",
                "--seed",
                seed,
            ],
        )
    };
    let a = run("1");
    assert_eq!(a.shape(), &[4, 1, 28, 28]);
    let v = a.to_vec_f32().unwrap();
    assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
    assert!(v.iter().any(|&x| x > 0.0), "the mask never moved");
    assert_eq!(v, run("1").to_vec_f32().unwrap());
    assert!(rel_l2(&run("2"), &a) > 1e-6);
}

/// Runs `xai explain` on fixture `model` with `extra` flags and no --output; returns stdout.
fn explain_stdout(model: &str, extra: &[&str]) -> String {
    let f = fixture(model);
    let (m, i) = (f.join("model.json"), f.join("input.npy"));
    let mut args = vec![
        "explain",
        "--model",
        m.to_str().unwrap(),
        "--input",
        i.to_str().unwrap(),
    ];
    args.extend(extra);
    let o = common::xai(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn pdp_and_ice_write_curves_as_json_and_png() {
    let v: serde_json::Value = serde_json::from_str(&explain_stdout(
        "mlp",
        &[
            "--method",
            "pdp",
            "--feature",
            "3",
            "--grid",
            "5",
            "--target",
            "1",
        ],
    ))
    .unwrap();
    assert_eq!(v["method"], "pdp");
    assert_eq!(v["target"], 1);
    assert_eq!(v["features"], serde_json::json!([3]));
    let grid: Vec<f64> = serde_json::from_value(v["grid"][0].clone()).unwrap();
    let pd: Vec<f64> = serde_json::from_value(v["pd"].clone()).unwrap();
    let ice: Vec<Vec<f64>> = serde_json::from_value(v["ice"].clone()).unwrap();
    // 4 input rows: at most 4 distinct values, so the grid is those values, sorted.
    assert!(grid.len() >= 2 && grid.len() <= 4);
    assert!(grid.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(pd.len(), grid.len());
    assert_eq!(ice.len(), 4);
    for (k, p) in pd.iter().enumerate() {
        let mean = ice.iter().map(|c| c[k]).sum::<f64>() / 4.0;
        assert!((p - mean).abs() < 1e-9 * (1.0 + mean.abs()));
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("ice.json");
    let png = dir.path().join("png");
    for (method, feature, file) in [
        ("ice", "3", "ice_feature_3.png"),
        ("pdp", "0,2", "pdp_feature_0_2.png"),
    ] {
        let out = explain_stdout(
            "mlp",
            &[
                "--method",
                method,
                "--feature",
                feature,
                "--output",
                json.to_str().unwrap(),
                "--png",
                png.to_str().unwrap(),
            ],
        );
        assert!(out.is_empty());
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(v["method"], method);
        let bytes = std::fs::read(png.join(file)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
    // The pair's PD is a surface: one row per value of the first feature.
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let surface: Vec<Vec<f64>> = serde_json::from_value(v["pd"].clone()).unwrap();
    assert_eq!(surface.len(), v["grid"][0].as_array().unwrap().len());
    assert_eq!(surface[0].len(), v["grid"][1].as_array().unwrap().len());
}

#[test]
fn slic_superpixels_group_the_perturbation_methods() {
    for method in ["lime", "kernel-shap", "feature-ablation"] {
        // feature-ablation has no samples (a flag a method does not take is refused).
        let samples: &[&str] = if method == "feature-ablation" {
            &[]
        } else {
            &["--samples", "100"]
        };
        let flags = [&["--method", method, "--segments", "slic:12"][..], samples].concat();
        let a = explain("lenet", &flags);
        assert_eq!(a.shape(), &[4, 1, 28, 28]);
        // Piecewise constant on about 12 superpixels per image.
        for img in a.to_vec_f32().unwrap().chunks(784) {
            let mut v: Vec<u32> = img.iter().map(|x| x.to_bits()).collect();
            v.sort_unstable();
            v.dedup();
            assert!((2..=24).contains(&v.len()), "{method}: {} values", v.len());
        }
    }
}

#[test]
fn bad_perturbation_options_are_refused() {
    assert_fixture_refused(
        "lenet",
        &["--method", "occlusion"],
        "--window is needed by occlusion",
    );
    assert_fixture_refused(
        "lenet",
        &["--method", "occlusion", "--window", "3xq"],
        "--window must be sizes ≥ 1 like 3x3 or 1,3,3, got '3xq'",
    );
    assert_fixture_refused(
        "lenet",
        &[
            "--method",
            "occlusion",
            "--window",
            "3x3",
            "--stride",
            "0x1",
        ],
        "--stride must be sizes ≥ 1",
    );
    assert_fixture_refused(
        "lenet",
        &["--method", "occlusion", "--window", "30x3"],
        "is larger than the example shape [1, 28, 28]",
    );
    assert_fixture_refused(
        "mlp",
        &["--method", "shapley-exact"],
        "allows at most 20 features or groups, got 30",
    );
    assert_fixture_refused(
        "mlp",
        &["--method", "lime", "--segments", "grid:2"],
        "--segments grid:N needs image inputs",
    );
    for seg in ["slic:0", "slic:5,-2", "slic", "grid:x"] {
        assert_fixture_refused(
            "lenet",
            &["--method", "lime", "--segments", seg],
            &format!("segments must be grid:N or slic:N[,M] with N ≥ 1 and compactness M > 0, got '{seg}'"),
        );
    }
    assert_fixture_refused(
        "mlp",
        &["--method", "kernel-shap", "--segments", "slic:4"],
        "--segments slic:N needs image inputs",
    );
    assert_fixture_refused(
        "lenet",
        &["--method", "feature-ablation", "--segments", "slic:1000"],
        "asks for more superpixels than the image's 28×28 pixels",
    );
    assert_fixture_refused(
        "mlp",
        &["--method", "lime", "--lime-sampling", "gaussian"],
        "lime sampling must be on-off, training, around-instance or quartile, got 'gaussian'",
    );
    assert_fixture_refused(
        "mlp",
        &["--method", "lime", "--lime-sampling", "training"],
        "--baselines (the training rows) are needed by lime's training sampling",
    );
    assert_fixture_refused(
        "mlp",
        &[
            "--method",
            "lime",
            "--lime-sampling",
            "training",
            "--data",
            "iris",
        ],
        "lime's training data has shape [150, 4] but needs finite rows of 30 features",
    );
    assert_fixture_refused(
        "mlp",
        &["--method", "lime", "--data", "no-such-set"],
        "unknown dataset",
    );
    for (flag, v, needle) in [
        (
            "--iterations",
            "0",
            "iterations must be in 1..=100000, got 0",
        ),
        (
            "--lambda-l1",
            "-1",
            "--lambda-l1 must be a finite number ≥ 0, got -1",
        ),
        ("--lambda-tv", "x", "--lambda-tv must be a number, got 'x'"),
        ("--mask-size", "0", "mask-size must be at least 1, got 0"),
        (
            "--mask-size",
            "29",
            "mask-size must be between 1 and the image's larger side 28, got 29",
        ),
        (
            "--reference",
            "blur:-1",
            "reference must be blur, blur:SIGMA with SIGMA > 0, or baseline, got 'blur:-1'",
        ),
    ] {
        assert_fixture_refused(
            "lenet",
            &["--method", "meaningful-perturbation", flag, v],
            needle,
        );
    }
    assert_fixture_refused(
        "mlp",
        &["--method", "meaningful-perturbation"],
        "meaningful-perturbation needs image inputs",
    );
    for (extra, needle) in [
        (vec!["--method", "pdp"], "--feature is needed: I or I,J"),
        (
            vec!["--method", "ice", "--feature", "1,x"],
            "--feature must be I or I,J (feature indices), got '1,x'",
        ),
        (
            vec!["--method", "pdp", "--feature", "1,2,3"],
            "--feature must be I or I,J",
        ),
        (
            vec!["--method", "pdp", "--feature", "30"],
            "feature 30 is out of range for inputs of 30 features",
        ),
        (
            vec!["--method", "pdp", "--feature", "2,2"],
            "the pair needs two different features",
        ),
        (
            vec!["--method", "pdp", "--feature", "2", "--grid", "1"],
            "--grid must be at least 2, got 1",
        ),
        (
            vec!["--method", "pdp", "--feature", "2", "--target", "7"],
            "target class 7 is out of range",
        ),
    ] {
        assert_fixture_refused("mlp", &extra, needle);
    }
    let d = common::copy_fixture("mlp");
    let (m, i) = (d.path().join("model.json"), d.path().join("input.npy"));
    let o = common::xai(&[
        "explain",
        "--model",
        m.to_str().unwrap(),
        "--input",
        i.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("--output is required"), "{err}");
    for w in ["0", "-1", "abc"] {
        assert_fixture_refused(
            "mlp",
            &["--method", "lime", "--kernel-width", w],
            "--kernel-width must be a number",
        );
    }
    assert_fixture_refused(
        "mlp",
        &["--method", "kernel-shap", "--samples", "0"],
        "samples must be in 1..=1000000, got 0",
    );
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m.npy");
    Tensor::zeros(&[29], DType::F32).write_npy(&m).unwrap();
    assert_fixture_refused(
        "mlp",
        &[
            "--method",
            "feature-ablation",
            "--mask",
            m.to_str().unwrap(),
        ],
        "mask has shape [29] but the input needs [30]",
    );
    Tensor::full(&[30], 0.5, DType::F32).write_npy(&m).unwrap();
    assert_fixture_refused(
        "mlp",
        &["--method", "kernel-shap", "--mask", m.to_str().unwrap()],
        "mask must hold integer group ids",
    );
    let b = d.path().join("b.npy");
    Tensor::zeros(&[2, 29], DType::F32).write_npy(&b).unwrap();
    assert_fixture_refused(
        "mlp",
        &[
            "--method",
            "kernel-shap",
            "--baselines",
            b.to_str().unwrap(),
        ],
        "baselines have shape [2, 29] but the input needs [B, 30]",
    );
}
