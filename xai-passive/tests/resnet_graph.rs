//! Every attribution method on a graph model: a small ResNet (two residual blocks with `x + y`,
//! one with a 1×1 projection shortcut, batch norm, global average pooling), exported from
//! PyTorch by `tools/export_pytorch.py` (torch.fx, model format version 2), against Captum and
//! Zennit on the same weights — references made by `tools/make_resnet_fixtures.py`
//! (`xai-cli/tests/fixtures/resnet/{random,mnist}`), each example's argmax class explained.

use xai_nn::{file, Forward, Graph};
use xai_passive::config::Params;
use xai_passive::registry;
use xai_tensor::Tensor;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../xai-cli/tests/fixtures/resnet"
);

fn fixture(weights: &str) -> (Graph, Tensor, Vec<usize>) {
    let m = file::load(format!("{FIXTURES}/{weights}/model.json")).unwrap();
    let x = Tensor::read_npy(format!("{FIXTURES}/{weights}/input.npy")).unwrap();
    let t = m.predict(&x).unwrap().argmax(1).unwrap();
    (m, x, t)
}

fn reference(weights: &str, name: &str) -> Tensor {
    Tensor::read_npy(format!("{FIXTURES}/{weights}/{name}.npy")).unwrap()
}

fn rel_l2(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let (a, b) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
    let num: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
    (num / b.iter().map(|y| y * y).sum::<f64>()).sqrt()
}

/// Each method (registry name, parameters) against its reference file.
fn cases() -> Vec<(&'static str, Params, &'static str)> {
    let cam = |layer: &str| {
        Params::default()
            .with("layer", layer)
            .with("upsample", false)
    };
    vec![
        ("saliency", Params::default(), "saliency"),
        ("integrated-gradients", Params::default(), "ig"),
        ("grad-cam", cam("block2.conv2"), "gradcam_block2.conv2"),
        ("grad-cam", cam("add_1"), "gradcam_add_1"),
        (
            "layer-integrated-gradients",
            Params::default().with("layer", "block2.conv2"),
            "layer_ig_block2.conv2",
        ),
        ("deeplift", Params::default(), "deeplift"),
        ("lrp-epsilon", Params::default(), "lrp_epsilon"),
    ]
}

/// LRP-ε in f64 against Zennit's f64 relevance. Batch norm passing relevance unchanged amplifies
/// it (Σ R / f_c up to 10⁴ on the trained net), so in f32 Zennit itself is 7.5e-5 (relative L2)
/// from its f64 result, and xai 1.3e-4 with OpenBLAS's Cooperlake kernels, 6.2e-4 with its
/// Prescott ones (other GEMM rounding): f32's floor on this net depends on the CPU, so `check`
/// bounds f32 LRP loosely (an algorithmic difference is O(1)); in f64 the two implementations
/// must agree closely, which is the claim.
fn lrp_in_f64(weights: &str) {
    let (m, x, t) = fixture(weights);
    let m = m.to_dtype(xai_tensor::DType::F64).unwrap();
    let x = x.to_dtype(xai_tensor::DType::F64).unwrap();
    let b = registry::build("lrp-epsilon", &Params::default()).unwrap();
    let a = b.attribute(&m, &x, &t).unwrap().attributions;
    let e = rel_l2(&a, &reference(weights, "lrp_epsilon"));
    eprintln!("{weights}: lrp-epsilon in f64: relative L2 {e:.2e}");
    assert!(
        e < 1e-6,
        "{weights}: lrp-epsilon in f64 vs Zennit in f64: relative L2 {e:e}"
    );
}

fn check(weights: &str) {
    let (m, x, t) = fixture(weights);
    lrp_in_f64(weights);
    let logits = m.predict(&x).unwrap();
    let e = rel_l2(&logits, &reference(weights, "logits"));
    assert!(e < 1e-5, "{weights}: logits vs PyTorch: relative L2 {e:e}");
    for (method, params, file) in cases() {
        let b = registry::build(method, &params).unwrap();
        let a = b.attribute(&m, &x, &t).unwrap().attributions;
        let e = rel_l2(&a, &reference(weights, file));
        eprintln!("{weights}: {method} ({file}): relative L2 {e:.2e}");
        let tolerance = if file == "lrp_epsilon" { 2e-3 } else { 1e-4 };
        assert!(
            e < tolerance,
            "{weights}: {method} vs {file}: relative L2 {e:e}"
        );
    }
}

#[test]
fn a_resnet_with_random_weights_explains_as_captum_and_zennit() {
    check("random");
}

#[test]
fn a_resnet_trained_on_mnist_explains_as_captum_and_zennit() {
    check("mnist");
}

#[test]
fn the_references_can_fail_the_test() {
    // Grad-CAM on the block's conv is not Grad-CAM on its sum (the shortcut adds to it).
    let (m, x, t) = fixture("mnist");
    let b = registry::build(
        "grad-cam",
        &Params::default()
            .with("layer", "block2.conv2")
            .with("upsample", false),
    )
    .unwrap();
    let a = b.attribute(&m, &x, &t).unwrap().attributions;
    assert!(rel_l2(&a, &reference("mnist", "gradcam_add_1")) > 1e-2);
}
