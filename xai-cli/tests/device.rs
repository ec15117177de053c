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
            ["libcuda", "CUDA device", "libnvrtc", "not wired"]
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
