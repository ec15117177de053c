//! Equality with PyTorch on fixed inputs: conv_transpose2d (output; input, weight and bias
//! gradients of a fixed upstream) and nearest/bilinear upsampling (output; input gradient),
//! against `tests/data/torch_upsample.json`, written by `tools/make_upsample_fixtures.py`.
//! Relative L2 error ≤ 1e-5 in f64, and for the f32 output against PyTorch's f32 output.

use serde_json::Value;
use xai_autodiff::{grad_tensors, Result, Var};
use xai_tensor::{ConvTranspose2dParams, DType, Tensor, UpsampleSize};

const TOL: f64 = 1e-5;

fn fixtures() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/torch_upsample.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn cases<'a>(f: &'a Value, family: &str) -> &'a [Value] {
    f[family].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// An array `{"shape": [...], "data": [...]}` as an f64 tensor.
fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = serde_json::from_value(v["shape"].clone()).unwrap();
    let data: Vec<f64> = serde_json::from_value(v["data"].clone()).unwrap();
    Tensor::from_vec(data, &shape).unwrap()
}

fn pair(v: &Value) -> [usize; 2] {
    serde_json::from_value(v.clone()).unwrap()
}

/// ‖got − want‖₂ / ‖want‖₂, after checking the shapes agree.
#[track_caller]
fn check(case: &str, what: &str, got: &Tensor, want: &Tensor) -> f64 {
    assert_eq!(got.shape(), want.shape(), "{case}: {what} shape");
    let (g, w) = (got.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
    let diff: f64 = g.iter().zip(&w).map(|(a, b)| (a - b).powi(2)).sum();
    let norm: f64 = w.iter().map(|b| b * b).sum();
    let err = (diff / norm).sqrt();
    eprintln!("{case:>26} {what:<4} rel L2 {err:.1e}");
    assert!(
        err <= TOL,
        "{case}: {what} relative L2 error {err:e} > {TOL:e}"
    );
    err
}

/// `f(inputs)` and the gradients of `Σ f(inputs) ⊙ gy` with respect to every input.
fn value_and_grads(
    f: impl Fn(&[Var]) -> Result<Var>,
    inputs: &[Tensor],
    gy: &Tensor,
) -> (Tensor, Vec<Tensor>) {
    let vars: Vec<Var> = inputs.iter().map(|t| Var::leaf(t.clone())).collect();
    let y = f(&vars).unwrap();
    let loss = y.mul_const(gy).unwrap().sum_all().unwrap();
    let refs: Vec<&Var> = vars.iter().collect();
    let grads = grad_tensors(&loss, None, &refs, None).unwrap();
    (y.value().clone(), grads)
}

/// The same inputs rounded to f32, as constants.
fn f32_constants(inputs: &[Tensor]) -> Vec<Var> {
    inputs
        .iter()
        .map(|t| Var::constant(t.to_dtype(DType::F32).unwrap()))
        .collect()
}

#[test]
fn conv_transpose2d_and_its_gradients_equal_pytorch() {
    let f = fixtures();
    let all = cases(&f, "conv_transpose2d");
    assert!(all.len() >= 4, "conv_transpose2d fixtures missing");
    for c in all {
        let name = c["name"].as_str().unwrap();
        let p = ConvTranspose2dParams {
            stride: pair(&c["stride"]),
            padding: pair(&c["padding"]),
            output_padding: pair(&c["output_padding"]),
            dilation: pair(&c["dilation"]),
        };
        let op = |v: &[Var]| v[0].conv_transpose2d(&v[1], Some(&v[2]), p);
        let inputs = [tensor(&c["x"]), tensor(&c["w"]), tensor(&c["b"])];
        let (y, g) = value_and_grads(op, &inputs, &tensor(&c["gy"]));
        check(name, "y", &y, &tensor(&c["y"]));
        check(name, "dx", &g[0], &tensor(&c["dx"]));
        check(name, "dw", &g[1], &tensor(&c["dw"]));
        check(name, "db", &g[2], &tensor(&c["db"]));
        let y32 = op(&f32_constants(&inputs)).unwrap();
        assert_eq!(y32.value().dtype(), DType::F32);
        check(name, "y32", y32.value(), &tensor(&c["y32"]));
    }
}

#[test]
fn nearest_and_bilinear_upsampling_and_their_gradients_equal_pytorch() {
    let f = fixtures();
    let all = cases(&f, "upsample");
    assert!(all.len() >= 8, "upsample fixtures missing");
    for c in all {
        let name = c["name"].as_str().unwrap();
        let size = match (&c["size"], &c["scale_factor"]) {
            (s, Value::Null) => UpsampleSize::Size(pair(s)),
            (Value::Null, s) => UpsampleSize::Scale(serde_json::from_value(s.clone()).unwrap()),
            _ => panic!("{name}: both a size and a scale factor"),
        };
        let align_corners = c["align_corners"].as_bool();
        let op = |v: &[Var]| match (c["mode"].as_str().unwrap(), align_corners) {
            ("nearest", None) => v[0].upsample_nearest2d(size),
            ("bilinear", Some(ac)) => v[0].upsample_bilinear2d(size, ac),
            (mode, ac) => panic!("{name}: mode {mode} with align_corners {ac:?}"),
        };
        let x = [tensor(&c["x"])];
        let (y, g) = value_and_grads(op, &x, &tensor(&c["gy"]));
        check(name, "y", &y, &tensor(&c["y"]));
        check(name, "dx", &g[0], &tensor(&c["dx"]));
        let y32 = op(&f32_constants(&x)).unwrap();
        assert_eq!(y32.value().dtype(), DType::F32);
        check(name, "y32", y32.value(), &tensor(&c["y32"]));
    }
}
