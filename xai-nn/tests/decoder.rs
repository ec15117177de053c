//! The decoder ops of graph models — a transposed convolution with output padding, bilinear
//! and nearest upsampling, a concat with the model input — exported from PyTorch by torch.fx:
//! output and input gradient equal PyTorch's (`tools/make_decoder_fixture.py`, in
//! `tests/fixtures/decoder/`).

use std::path::Path;
use xai_autodiff::{enable_grad, grad_tensors, Var};
use xai_nn::{file, Differentiable, Forward};
use xai_tensor::Tensor;

fn npy(name: &str) -> Tensor {
    Tensor::read_npy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/decoder/{name}.npy")),
    )
    .unwrap()
}

fn rel_l2(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.shape(), b.shape());
    let (a, b) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
    let num: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
    (num / b.iter().map(|y| y * y).sum::<f64>()).sqrt()
}

#[test]
fn a_decoder_graph_runs_and_differentiates_as_pytorch() {
    let m =
        file::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/decoder/model.json"))
            .unwrap();
    let x = npy("x");
    let y = m.predict(&x).unwrap();
    let e = rel_l2(&y, &npy("y"));
    assert!(e < 1e-6, "output vs PyTorch: relative L2 {e:e}");
    let gx = enable_grad(|| {
        let xv = Var::leaf(x.clone());
        let out = m.forward(&xv).unwrap();
        let obj = out
            .mul(&Var::constant(npy("r")))
            .unwrap()
            .sum_all()
            .unwrap();
        grad_tensors(&obj, None, &[&xv], None).unwrap().remove(0)
    });
    let e = rel_l2(&gx, &npy("gx"));
    assert!(e < 1e-6, "input gradient vs PyTorch: relative L2 {e:e}");
}
