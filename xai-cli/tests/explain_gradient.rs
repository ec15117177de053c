//! The gradient family of `xai explain` against Captum (references from
//! `tools/make_captum_fixtures.py` in `tests/fixtures/captum/`), and its option errors as one
//! line on stderr with a non-zero exit and no output file.

use xai_tensor::{DType, Tensor};

mod common;
use common::{assert_fixture_refused, check_reference, explain, rel_l2};

fn check(model: &str, extra: &[&str], reference: &str, tol: f64) {
    check_reference("captum", model, extra, reference, tol);
}

#[test]
fn integrated_gradients_equal_captum() {
    check(
        "mlp",
        &["--method", "integrated-gradients", "--batch-size", "7"],
        "ig_mlp_gl",
        1e-3,
    );
    check(
        "mlp",
        &[
            "--method",
            "integrated-gradients",
            "--integration",
            "riemann-trapezoid",
            "--steps",
            "32",
            "--baseline",
            "constant:0.5",
        ],
        "ig_mlp_trapezoid_c05",
        1e-3,
    );
    check(
        "lenet",
        &["--method", "integrated-gradients"],
        "ig_lenet_gl",
        1e-3,
    );
    check(
        "cnn_misc",
        &["--method", "integrated-gradients", "--batch-size", "33"],
        "ig_cnn_misc_gl",
        1e-3,
    );
    check("mlp", &["--method", "input-x-gradient"], "ixg_mlp", 1e-4);
}

#[test]
fn grad_cam_equals_captum_upsampled_and_not() {
    check(
        "lenet",
        &["--method", "grad-cam", "--layer", "3", "--no-upsample"],
        "gradcam_lenet_3",
        1e-3,
    );
    check(
        "lenet",
        &["--method", "grad-cam", "--layer", "3"],
        "gradcam_lenet_3_up",
        1e-3,
    );
    check(
        "cnn_misc",
        &["--method", "grad-cam", "--layer", "1"],
        "gradcam_cnn_misc_1_up",
        1e-3,
    );
}

#[test]
fn layer_and_neuron_methods_equal_captum() {
    check(
        "mlp",
        &["--method", "layer-integrated-gradients", "--layer", "0"],
        "layer_ig_mlp_0",
        1e-3,
    );
    check(
        "mlp",
        &["--method", "layer-integrated-gradients", "--layer", "1"],
        "layer_ig_mlp_1",
        1e-4,
    );
    check(
        "mlp",
        &["--method", "layer-conductance", "--layer", "1"],
        "layer_cond_mlp_1",
        1e-3,
    );
    check(
        "lenet",
        &[
            "--method",
            "layer-conductance",
            "--layer",
            "2",
            "--steps",
            "20",
            "--batch-size",
            "16",
        ],
        "layer_cond_lenet_2",
        1e-3,
    );
    check(
        "mlp",
        &["--method", "layer-gradient-x-activation", "--layer", "3"],
        "layer_gxa_mlp_3",
        1e-4,
    );
    check(
        "mlp",
        &["--method", "neuron-gradient", "--neuron", "1:5"],
        "neuron_grad_mlp_1_5",
        1e-4,
    );
    check(
        "mlp",
        &["--method", "neuron-integrated-gradients", "--neuron", "3:7"],
        "neuron_ig_mlp_3_7",
        1e-3,
    );
}

#[test]
fn smoothgrad_is_seeded_and_wraps_other_methods() {
    let run = |seed: &str, method: &str| {
        explain(
            "mlp",
            &[
                "--method",
                method,
                "--samples",
                "8",
                "--noise-std",
                "0.1",
                "--seed",
                seed,
            ],
        )
    };
    let a = run("3", "smoothgrad");
    assert_eq!(
        a.to_vec_f32().unwrap(),
        run("3", "smoothgrad").to_vec_f32().unwrap()
    );
    assert!(rel_l2(&run("4", "smoothgrad"), &a) > 1e-4);
    assert!(run("3", "vargrad")
        .to_vec_f32()
        .unwrap()
        .iter()
        .all(|&v| v >= -1e-6));
    let ig = explain(
        "mlp",
        &[
            "--method",
            "smoothgrad",
            "--inner",
            "integrated-gradients",
            "--samples",
            "2",
            "--steps",
            "10",
        ],
    );
    assert_eq!(ig.shape(), &[4, 30]);
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b.npy");
    Tensor::zeros(&[3, 30], DType::F32).write_npy(&b).unwrap();
    let gs = explain(
        "mlp",
        &[
            "--method",
            "gradient-shap",
            "--baselines",
            b.to_str().unwrap(),
            "--samples",
            "5",
        ],
    );
    assert_eq!(gs.shape(), &[4, 30]);
}

#[test]
fn unknown_layer_is_refused() {
    assert_fixture_refused(
        "lenet",
        &["--method", "grad-cam", "--layer", "conv9"],
        "unknown layer 'conv9' (layers: 0, 1, 2",
    );
    assert_fixture_refused(
        "mlp",
        &["--method", "layer-conductance"],
        "--layer is needed by layer-conductance",
    );
    assert_fixture_refused(
        "lenet",
        &["--method", "grad-cam", "--layer", "7"],
        "layer '7' has output shape [120]; grad-cam needs a [C, H, W] layer",
    );
}

#[test]
fn neuron_index_out_of_range_is_refused() {
    assert_fixture_refused(
        "mlp",
        &["--method", "neuron-gradient", "--neuron", "1:64"],
        "neuron index 64 is out of range for layer '1' with 64 units",
    );
    assert_fixture_refused(
        "mlp",
        &["--method", "neuron-gradient", "--neuron", "1"],
        "LAYER:INDEX",
    );
}

#[test]
fn zero_or_negative_steps_are_refused() {
    for (s, needle) in [
        ("0", "--steps must be in 1..=10000, got 0"),
        (
            "1000000000000",
            "--steps must be in 1..=10000, got 1000000000000",
        ),
        ("-3", "--steps must be a whole number ≥ 0, got -3"),
    ] {
        assert_fixture_refused(
            "mlp",
            &["--method", "integrated-gradients", "--steps", s],
            needle,
        );
    }
    assert_fixture_refused(
        "mlp",
        &[
            "--method",
            "integrated-gradients",
            "--steps",
            "1",
            "--integration",
            "riemann-trapezoid",
        ],
        "riemann-trapezoid needs at least 2 steps",
    );
    assert_fixture_refused(
        "mlp",
        &["--method", "smoothgrad", "--samples", "0"],
        "samples must be in 1..=1000000, got 0",
    );
}

#[test]
fn baselines_of_the_wrong_shape_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let b = d.path().join("b.npy");
    Tensor::zeros(&[2, 29], DType::F32).write_npy(&b).unwrap();
    assert_fixture_refused(
        "mlp",
        &[
            "--method",
            "integrated-gradients",
            "--baseline",
            b.to_str().unwrap(),
        ],
        "baseline has shape [2, 29] but the input needs [30] (one baseline) or [4, 30]",
    );
    assert_fixture_refused(
        "mlp",
        &[
            "--method",
            "gradient-shap",
            "--baselines",
            b.to_str().unwrap(),
        ],
        "baselines have shape [2, 29] but the input needs [B, 30]",
    );
    assert_fixture_refused(
        "mlp",
        &["--method", "gradient-shap"],
        "--baselines is needed by gradient-shap",
    );
    assert_fixture_refused(
        "mlp",
        &[
            "--method",
            "integrated-gradients",
            "--baseline",
            "constant:x",
        ],
        "baseline must be zeros, mean, constant:V or a .npy file",
    );
    assert_fixture_refused(
        "mlp",
        &[
            "--method",
            "integrated-gradients",
            "--baseline",
            "missing.npy",
        ],
        "baseline missing.npy",
    );
}

#[test]
fn a_graph_model_explains_by_node_name_from_the_command_line() {
    // The ResNet of `tools/make_resnet_fixtures.py` (model format version 2): Grad-CAM on a
    // functional sum node and layer IG on a block's convolution, against Captum.
    let net = "resnet/mnist";
    let cam = ["--method", "grad-cam", "--layer", "add_1", "--no-upsample"];
    check_reference(net, net, &cam, "gradcam_add_1", 1e-4);
    let lig = [
        "--method",
        "layer-integrated-gradients",
        "--layer",
        "block2.conv2",
    ];
    check_reference(net, net, &lig, "layer_ig_block2.conv2", 1e-4);
}
