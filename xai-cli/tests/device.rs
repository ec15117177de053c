//! `--device`: asking for CUDA where it cannot run (a build without the `cuda` feature, or a
//! machine without driver, device or libnvrtc) is one line naming what is missing, a non-zero
//! exit and no output file.

mod common;
use common::{fixture, xai};

#[test]
fn explain_on_cuda_without_a_usable_gpu_is_one_line_naming_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let f = fixture("lenet");
    let out_file = dir.path().join("attr.npy");
    for device in ["cuda", "cuda:1"] {
        let out = xai(&[
            "explain",
            "--model",
            f.join("model.json").to_str().unwrap(),
            "--input",
            f.join("input.npy").to_str().unwrap(),
            "--output",
            out_file.to_str().unwrap(),
            "--device",
            device,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "--device {device} must fail here");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        let named = if cfg!(feature = "cuda") {
            ["libcuda", "CUDA device", "libnvrtc", "cuInit"]
                .iter()
                .any(|w| err.contains(w))
        } else {
            err.contains("built without CUDA support")
        };
        assert!(named, "the error names what is missing: {err}");
        assert!(!out_file.exists(), "no output file");
    }
    let bad = xai(&[
        "predict", "--device", "tpu", "--model", "m", "--input", "i", "--output", "o",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown device 'tpu'"));
}

/// With the emulated CUDA device (`cuda:1000`, feature `cuda-emu`): predict and the gradient
/// and rule-based explanations run with the model and input on the device and equal the CPU
/// run, integrated gradients, SmoothGrad and DeepLIFT included (their path, noise and
/// baseline batches are built on the host and moved to the device), and so do the
/// perturbation methods (their batches are drawn on the host and sent to the model's device).
#[cfg(feature = "cuda-emu")]
#[test]
fn emu_predict_and_saliency_on_the_emulated_device_equal_cpu() {
    use xai_tensor::Tensor;
    let dir = tempfile::tempdir().unwrap();
    let run_on = |name: &str, cmd: &[&str], device: &str| -> Tensor {
        let f = fixture(name);
        let (model, input) = (f.join("model.json"), f.join("input.npy"));
        let out = dir.path().join(format!(
            "{name}_{}_{}.npy",
            cmd.join("_"),
            device.replace(':', "")
        ));
        let mut args = cmd.to_vec();
        args.extend([
            "--model",
            model.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--device",
            device,
        ]);
        let o = xai(&args);
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Tensor::read_npy(&out).unwrap()
    };
    // Batch norm (its running statistics move with the model), average and adaptive pooling,
    // and the smooth activations of the cnn_misc fixture.
    for cmd in [&["predict"][..], &["explain", "--method", "saliency"]] {
        let (cpu, emu) = (
            run_on("cnn_misc", cmd, "cpu"),
            run_on("cnn_misc", cmd, "cuda:1000"),
        );
        let e = common::rel_l2(&emu, &cpu);
        assert!(e < 1e-5, "cnn_misc {cmd:?}: relative L2 {e:e}");
    }
    let run = |cmd: &[&str], device: &str| run_on("lenet", cmd, device);
    for cmd in [
        &["predict"][..],
        &["explain", "--method", "saliency"],
        &["explain", "--method", "input-x-gradient"],
        &["explain", "--method", "guided-backprop"],
        &["explain", "--method", "grad-cam", "--layer", "3"],
        &["explain", "--method", "neuron-gradient", "--neuron", "3:5"],
        &["explain", "--method", "lrp-epsilon"],
        &["explain", "--method", "deep-taylor"],
        &[
            "explain",
            "--method",
            "integrated-gradients",
            "--steps",
            "8",
        ],
        &["explain", "--method", "smoothgrad", "--samples", "3"],
        &["explain", "--method", "deeplift"],
        &[
            "explain",
            "--method",
            "feature-ablation",
            "--segments",
            "grid:2",
        ],
        &[
            "explain",
            "--method",
            "kernel-shap",
            "--segments",
            "grid:2",
            "--samples",
            "14",
        ],
        &[
            "explain",
            "--method",
            "lime",
            "--segments",
            "grid:2",
            "--samples",
            "10",
        ],
        &[
            "explain",
            "--method",
            "occlusion",
            "--window",
            "14x14",
            "--stride",
            "14x14",
        ],
    ] {
        let (cpu, emu) = (run(cmd, "cpu"), run(cmd, "cuda:1000"));
        let e = common::rel_l2(&emu, &cpu);
        assert!(e < 1e-5, "{cmd:?}: relative L2 {e:e}");
    }
}
