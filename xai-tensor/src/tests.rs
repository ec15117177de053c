//! Forward correctness of every op family of [`Tensor`] against slow, obviously right
//! references written here (naive loops in f64). Each generic body `fn name(dt: DType)` is
//! instantiated for f32 and f64 by [`for_both_dtypes!`] as the tests `name::on_f32` and
//! `name::on_f64`. Inputs come from the seeded [`Rng`]; shapes are small and ragged.
#![allow(clippy::needless_range_loop)]

use crate::{BinaryOp, Conv2dParams, DType, Device, Pool2dParams, PoolBins, Rng, Tensor, UnaryOp};
use std::cell::Cell;

thread_local! {
    /// The device the test bodies put their inputs on (the CPU unless a test says otherwise).
    static TEST_DEVICE: Cell<Device> = const { Cell::new(Device::Cpu) };
}

/// `t` on the test device.
fn on(t: Tensor) -> Tensor {
    t.to_device(TEST_DEVICE.with(Cell::get)).unwrap()
}

/// Runs a test body with its inputs on `device`.
#[cfg(feature = "cuda-emu")]
fn with_device(device: Device, body: impl FnOnce()) {
    TEST_DEVICE.with(|d| d.set(device));
    body();
    TEST_DEVICE.with(|d| d.set(Device::Cpu));
}

/// Runs a test body on CUDA device 0 if this machine has a usable one; otherwise says why it
/// skips (the emulated runs prove the kernels there).
#[cfg(feature = "cuda")]
fn on_real_gpu(body: impl FnOnce()) {
    match Tensor::zeros(&[1], DType::F32).to_device(Device::Cuda(0)) {
        Ok(_) => {
            TEST_DEVICE.with(|d| d.set(Device::Cuda(0)));
            body();
            TEST_DEVICE.with(|d| d.set(Device::Cpu));
        }
        Err(e) => eprintln!("SKIPPED on a real GPU: {e}"),
    }
}

/// Instantiates each `fn name(dt: DType)` as the tests `name::on_f32` and `name::on_f64`; with
/// the `cuda-emu` feature on the emulated CUDA device as `name::on_f32_emu` and
/// `name::on_f64_emu`; with the `cuda` feature on a real GPU, where one is usable, as
/// `name::on_f32_cuda` and `name::on_f64_cuda`.
macro_rules! for_both_dtypes {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn on_f32() {
                super::$name(crate::DType::F32)
            }
            #[test]
            fn on_f64() {
                super::$name(crate::DType::F64)
            }
            #[cfg(feature = "cuda-emu")]
            #[test]
            fn on_f32_emu() {
                super::with_device(crate::cuda::emulator(), || super::$name(crate::DType::F32))
            }
            #[cfg(feature = "cuda-emu")]
            #[test]
            fn on_f64_emu() {
                super::with_device(crate::cuda::emulator(), || super::$name(crate::DType::F64))
            }
            #[cfg(feature = "cuda")]
            #[test]
            fn on_f32_cuda() {
                super::on_real_gpu(|| super::$name(crate::DType::F32))
            }
            #[cfg(feature = "cuda")]
            #[test]
            fn on_f64_cuda() {
                super::on_real_gpu(|| super::$name(crate::DType::F64))
            }
        }
    )*};
}

for_both_dtypes!(
    unary_ops,
    unary_stability,
    named_methods_match_ops,
    binary_ops,
    binary_errors,
    reductions,
    reductions_parallel_path,
    mean_over_a_repeated_axis,
    argmax_first_on_ties,
    broadcast_to_and_sum_to,
    matmul,
    conv2d_and_gradients,
    conv2d_errors,
    max_pool2d,
    avg_pools,
    softmax,
    reshape_permute_transpose,
    narrow_pad_cat,
    index_select_and_add,
    gather_scatter_add,
    where_cond,
    deterministic_across_thread_counts,
);

// ---- helpers -----------------------------------------------------------------------------

/// Relative tolerance of a dtype (f32 kernels against an f64 reference of the same inputs).
fn tol(dt: DType) -> f64 {
    match dt {
        DType::F32 => 2e-5,
        DType::F64 => 1e-12,
    }
}

fn vals(t: &Tensor) -> Vec<f64> {
    t.to_vec_f64().unwrap()
}

/// A tensor of `dt` from f64 values, with its values as actually stored (rounded for f32).
fn make(v: Vec<f64>, shape: &[usize], dt: DType) -> (Tensor, Vec<f64>) {
    let t = on(Tensor::from_vec(v, shape).unwrap().to_dtype(dt).unwrap());
    let v = vals(&t);
    (t, v)
}

fn normal(rng: &mut Rng, shape: &[usize], dt: DType) -> (Tensor, Vec<f64>) {
    let t = on(rng.normal(shape, 0.0, 1.0, dt).unwrap());
    let v = vals(&t);
    (t, v)
}

/// Values on a coarse grid (multiples of 0.5 in [-2, 2]) so that ties and equalities occur.
fn coarse(rng: &mut Rng, shape: &[usize], dt: DType) -> (Tensor, Vec<f64>) {
    let u = vals(&rng.uniform(shape, -2.25, 2.25, DType::F64).unwrap());
    make(
        u.iter().map(|x| (x * 2.0).round() / 2.0).collect(),
        shape,
        dt,
    )
}

/// Elementwise `|got − want| ≤ atol + tol(dtype)·|want|`; NaN and infinities must match exactly.
#[track_caller]
fn assert_close(got: &Tensor, shape: &[usize], want: &[f64], atol: f64, what: &str) {
    assert_eq!(got.shape(), shape, "{what}: shape");
    let g = vals(got);
    assert_eq!(g.len(), want.len(), "{what}: element count");
    let t = tol(got.dtype());
    for (i, (&a, &b)) in g.iter().zip(want).enumerate() {
        let ok = if b.is_nan() {
            a.is_nan()
        } else if b.is_infinite() {
            a == b
        } else {
            (a - b).abs() <= atol + t * b.abs()
        };
        assert!(
            ok,
            "{what}: element {i}: got {a:e}, want {b:e} ({:?})",
            got.dtype()
        );
    }
}

/// Exact equality of values and shape (for copies, comparisons, max/min and indices).
#[track_caller]
fn assert_exact(got: &Tensor, shape: &[usize], want: &[f64], what: &str) {
    assert_eq!(got.shape(), shape, "{what}: shape");
    assert_eq!(vals(got), want, "{what}: values ({:?})", got.dtype());
}

fn numel(s: &[usize]) -> usize {
    s.iter().product()
}

fn unravel(mut i: usize, s: &[usize]) -> Vec<usize> {
    let mut ix = vec![0; s.len()];
    for d in (0..s.len()).rev() {
        ix[d] = i % s[d];
        i /= s[d];
    }
    ix
}

fn ravel(ix: &[usize], s: &[usize]) -> usize {
    ix.iter().zip(s).fold(0, |acc, (&i, &n)| {
        assert!(i < n, "index {ix:?} out of shape {s:?}");
        acc * n + i
    })
}

/// Flat index into `s` of the element that NumPy broadcasting reads for output index `out_ix`.
fn bcast_index(out_ix: &[usize], s: &[usize]) -> usize {
    let off = out_ix.len() - s.len();
    let ix: Vec<usize> = s
        .iter()
        .enumerate()
        .map(|(k, &n)| if n == 1 { 0 } else { out_ix[off + k] })
        .collect();
    ravel(&ix, s)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn abs_dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x * y).abs()).sum()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// `<a, b>` computed two ways agree to a few ulps of the sum of |terms|.
#[track_caller]
fn assert_adjoint(lhs: (f64, f64), rhs: (f64, f64), what: &str) {
    let scale = lhs.1.max(rhs.1);
    assert!(
        (lhs.0 - rhs.0).abs() <= 1e-12 * scale,
        "{what}: {} vs {} (scale {scale})",
        lhs.0,
        rhs.0
    );
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

// ---- elementwise ---------------------------------------------------------------------------

fn sigmoid_ref(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        x.exp() / (1.0 + x.exp())
    }
}

fn softplus_ref(x: f64) -> f64 {
    if x > 30.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

type UnaryCase = (UnaryOp, bool, fn(f64) -> f64, f64);

fn unary_ops(dt: DType) {
    let mut rng = Rng::new(11);
    let shape = [3, 7, 5];
    let mut v = vals(&rng.normal(&shape, 0.0, 3.0, DType::F64).unwrap());
    v[..10].copy_from_slice(&[0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 0.25, 40.0, -40.0, 1e-3]);
    let (x, xv) = make(v.clone(), &shape, dt);
    let (xp, xpv) = make(v.iter().map(|a| a.abs() + 0.1).collect(), &shape, dt);
    // (op, positive inputs only, reference, absolute tolerance)
    let cases: Vec<UnaryCase> = vec![
        (UnaryOp::Neg, false, |x| -x, 0.0),
        (UnaryOp::Exp, false, f64::exp, 0.0),
        (UnaryOp::Log, true, f64::ln, 1e-40),
        (UnaryOp::Sqrt, true, f64::sqrt, 0.0),
        (UnaryOp::Abs, false, f64::abs, 0.0),
        (
            UnaryOp::Sign,
            false,
            |x| {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            },
            0.0,
        ),
        (UnaryOp::Relu, false, |x| if x > 0.0 { x } else { 0.0 }, 0.0),
        (
            UnaryOp::Step,
            false,
            |x| if x > 0.0 { 1.0 } else { 0.0 },
            0.0,
        ),
        (UnaryOp::Sigmoid, false, sigmoid_ref, 1e-40),
        (UnaryOp::Tanh, false, f64::tanh, 1e-40),
        (UnaryOp::Softplus, false, softplus_ref, 1e-40),
        (UnaryOp::Recip, false, |x| 1.0 / x, 0.0),
        (UnaryOp::Recip, true, |x| 1.0 / x, 0.0),
        (UnaryOp::Square, false, |x| x * x, 0.0),
        (UnaryOp::Powf(2.5), true, |x| x.powf(2.5), 0.0),
        (UnaryOp::Powf(-1.5), true, |x| x.powf(-1.5), 0.0),
        (UnaryOp::Powf(3.0), false, |x| x * x * x, 0.0),
        (UnaryOp::Powf(0.5), true, f64::sqrt, 0.0),
        (UnaryOp::Affine(1.5, -0.25), false, |x| 1.5 * x - 0.25, 1e-5),
        (
            UnaryOp::LeakyRelu(0.125),
            false,
            |x| if x > 0.0 { x } else { 0.125 * x },
            0.0,
        ),
        (
            UnaryOp::Clamp(-0.5, 0.75),
            false,
            |x| x.clamp(-0.5, 0.75),
            0.0,
        ),
        (
            UnaryOp::GtScalar(0.25),
            false,
            |x| if x > 0.25 { 1.0 } else { 0.0 },
            0.0,
        ),
        (
            UnaryOp::GtScalar(-1.0),
            false,
            |x| if x > -1.0 { 1.0 } else { 0.0 },
            0.0,
        ),
    ];
    for (op, positive, f, atol) in cases {
        let (input, iv) = if positive { (&xp, &xpv) } else { (&x, &xv) };
        let want: Vec<f64> = iv.iter().map(|&a| f(a)).collect();
        let got = input.unary(op).unwrap();
        assert_eq!(got.dtype(), dt);
        assert_close(&got, &shape, &want, atol, &format!("{op:?}"));
    }
    // Rank 0 and empty tensors.
    let s = on(Tensor::scalar(-2.0, dt)).unary(UnaryOp::Abs).unwrap();
    assert_exact(&s, &[], &[2.0], "abs of a scalar");
    let e = on(Tensor::zeros(&[0, 3], dt)).exp().unwrap();
    assert_exact(&e, &[0, 3], &[], "exp of an empty tensor");
    // Large enough for the parallel map.
    let (big, bv) = normal(&mut rng, &[131, 127], dt);
    let want: Vec<f64> = bv.iter().map(|&a| a.tanh()).collect();
    assert_close(
        &big.tanh().unwrap(),
        &[131, 127],
        &want,
        1e-40,
        "parallel tanh",
    );
}

fn unary_stability(dt: DType) {
    let xs = [
        -800.0, -100.0, -50.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 50.0, 100.0, 800.0,
    ];
    let (x, xv) = make(xs.to_vec(), &[xs.len()], dt);
    let sp = x.softplus().unwrap();
    assert!(
        !sp.has_non_finite().unwrap(),
        "softplus of large |x| is finite: {:?}",
        vals(&sp)
    );
    let want: Vec<f64> = xv.iter().map(|&a| softplus_ref(a)).collect();
    assert_close(
        &sp,
        &[xs.len()],
        &want,
        1e-40,
        "softplus stable for large |x|",
    );
    // ln(1 + e^-50) ≈ e^-50 must keep its relative precision, not round to 0.
    assert!(vals(&sp)[2] > 0.0, "softplus(-50) underflowed");
    let sg = x.sigmoid().unwrap();
    assert!(
        !sg.has_non_finite().unwrap(),
        "sigmoid of large |x| is finite: {:?}",
        vals(&sg)
    );
    let want: Vec<f64> = xv.iter().map(|&a| sigmoid_ref(a)).collect();
    assert_close(
        &sg,
        &[xs.len()],
        &want,
        1e-40,
        "sigmoid stable for large negative x",
    );
    assert!(vals(&sg)[2] > 0.0, "sigmoid(-50) underflowed");
    assert_exact(
        &x.tanh().unwrap().narrow(0, 9, 2).unwrap(),
        &[2],
        &[1.0, 1.0],
        "tanh saturates",
    );
}

type NamedUnary = fn(&Tensor) -> crate::Result<Tensor>;
type NamedBinary = fn(&Tensor, &Tensor) -> crate::Result<Tensor>;

fn named_methods_match_ops(dt: DType) {
    let mut rng = Rng::new(12);
    let (x, _) = make(
        vals(&rng.uniform(&[4, 3], 0.1, 2.0, DType::F64).unwrap()),
        &[4, 3],
        dt,
    );
    let (y, _) = coarse(&mut rng, &[3], dt);
    let unary: [(NamedUnary, UnaryOp); 13] = [
        (Tensor::neg, UnaryOp::Neg),
        (Tensor::exp, UnaryOp::Exp),
        (Tensor::log, UnaryOp::Log),
        (Tensor::sqrt, UnaryOp::Sqrt),
        (Tensor::abs, UnaryOp::Abs),
        (Tensor::sign, UnaryOp::Sign),
        (Tensor::relu, UnaryOp::Relu),
        (Tensor::step, UnaryOp::Step),
        (Tensor::sigmoid, UnaryOp::Sigmoid),
        (Tensor::tanh, UnaryOp::Tanh),
        (Tensor::softplus, UnaryOp::Softplus),
        (Tensor::recip, UnaryOp::Recip),
        (Tensor::square, UnaryOp::Square),
    ];
    for (f, op) in unary {
        assert_eq!(vals(&f(&x).unwrap()), vals(&x.unary(op).unwrap()), "{op:?}");
    }
    let param = [
        (x.powf(1.7).unwrap(), UnaryOp::Powf(1.7)),
        (x.affine(2.0, 3.0).unwrap(), UnaryOp::Affine(2.0, 3.0)),
        (x.add_scalar(0.5).unwrap(), UnaryOp::Affine(1.0, 0.5)),
        (x.mul_scalar(-3.0).unwrap(), UnaryOp::Affine(-3.0, 0.0)),
        (x.leaky_relu(0.2).unwrap(), UnaryOp::LeakyRelu(0.2)),
        (x.clamp(0.5, 1.0).unwrap(), UnaryOp::Clamp(0.5, 1.0)),
        (x.gt_scalar(1.0).unwrap(), UnaryOp::GtScalar(1.0)),
    ];
    for (got, op) in param {
        assert_eq!(vals(&got), vals(&x.unary(op).unwrap()), "{op:?}");
    }
    let binary: [(NamedBinary, BinaryOp); 11] = [
        (Tensor::add, BinaryOp::Add),
        (Tensor::sub, BinaryOp::Sub),
        (Tensor::mul, BinaryOp::Mul),
        (Tensor::div, BinaryOp::Div),
        (Tensor::maximum, BinaryOp::Maximum),
        (Tensor::minimum, BinaryOp::Minimum),
        (Tensor::gt, BinaryOp::Gt),
        (Tensor::ge, BinaryOp::Ge),
        (Tensor::lt, BinaryOp::Lt),
        (Tensor::le, BinaryOp::Le),
        (Tensor::eq_mask, BinaryOp::Eq),
    ];
    for (f, op) in binary {
        assert_eq!(
            vals(&f(&x, &y).unwrap()),
            vals(&x.binary(op, &y).unwrap()),
            "{op:?}"
        );
    }
}

type BinaryCase = (BinaryOp, fn(f64, f64) -> f64);

fn binary_ops(dt: DType) {
    let ops: [BinaryCase; 11] = [
        (BinaryOp::Add, |a, b| a + b),
        (BinaryOp::Sub, |a, b| a - b),
        (BinaryOp::Mul, |a, b| a * b),
        (BinaryOp::Div, |a, b| a / b),
        (BinaryOp::Maximum, f64::max),
        (BinaryOp::Minimum, f64::min),
        (BinaryOp::Gt, |a, b| (a > b) as u8 as f64),
        (BinaryOp::Ge, |a, b| (a >= b) as u8 as f64),
        (BinaryOp::Lt, |a, b| (a < b) as u8 as f64),
        (BinaryOp::Le, |a, b| (a <= b) as u8 as f64),
        (BinaryOp::Eq, |a, b| (a == b) as u8 as f64),
    ];
    let cases: [(&[usize], &[usize], &[usize]); 12] = [
        (&[2, 1, 3], &[4, 1], &[2, 4, 3]),
        (&[4, 1], &[2, 1, 3], &[2, 4, 3]),
        (&[3, 5], &[3, 5], &[3, 5]),
        (&[], &[2, 3], &[2, 3]),
        (&[2, 3], &[], &[2, 3]),
        (&[], &[], &[]),
        (&[5], &[3, 1], &[3, 5]),
        (&[1, 4, 1], &[3, 1, 2], &[3, 4, 2]),
        (&[2, 3, 4], &[4], &[2, 3, 4]),
        (&[1], &[2, 1, 3], &[2, 1, 3]),
        (&[3, 1], &[1, 1, 1], &[1, 3, 1]),
        // 22 440 elements: the parallel broadcast path.
        (&[40, 1, 33], &[1, 17, 33], &[40, 17, 33]),
    ];
    let mut rng = Rng::new(13);
    for (ls, rs, os) in cases {
        let (a, av) = coarse(&mut rng, ls, dt);
        let bv: Vec<f64> = coarse(&mut rng, rs, DType::F64)
            .1
            .into_iter()
            .map(|x| if x == 0.0 { 1.5 } else { x })
            .collect();
        let (b, bv) = make(bv, rs, dt);
        for (op, f) in ops {
            let want: Vec<f64> = (0..numel(os))
                .map(|q| {
                    let ix = unravel(q, os);
                    f(av[bcast_index(&ix, ls)], bv[bcast_index(&ix, rs)])
                })
                .collect();
            let got = a.binary(op, &b).unwrap();
            assert_eq!(got.dtype(), dt);
            assert_close(&got, os, &want, 0.0, &format!("{op:?} {ls:?} {rs:?}"));
        }
    }
    // Comparisons saw ties: the coarse grid makes Eq fire somewhere.
    let (a, _) = coarse(&mut rng, &[50], dt);
    let (b, _) = coarse(&mut rng, &[50], dt);
    assert!(
        vals(&a.eq_mask(&b).unwrap()).contains(&1.0),
        "no ties drawn"
    );
}

fn binary_errors(dt: DType) {
    let z = |s: &[usize]| on(Tensor::zeros(s, dt));
    for (l, r) in [
        (&[2, 3][..], &[4][..]),
        (&[3, 2], &[2, 3]),
        (&[2, 1, 3], &[4, 2]),
        (&[0], &[2]),
    ] {
        for op in [BinaryOp::Add, BinaryOp::Mul, BinaryOp::Gt] {
            assert!(
                z(l).binary(op, &z(r)).is_err(),
                "{op:?} {l:?} {r:?} must be Err"
            );
        }
    }
    let other = if dt == DType::F32 {
        DType::F64
    } else {
        DType::F32
    };
    assert!(
        z(&[2]).add(&on(Tensor::zeros(&[2], other))).is_err(),
        "dtype mismatch"
    );
    assert!(
        Tensor::from_vec(vec![1.0f64; 5], &[2, 3]).is_err(),
        "from_vec count mismatch"
    );
}

// ---- reductions ----------------------------------------------------------------------------

struct Reduced {
    kept: Vec<usize>,
    squeezed: Vec<usize>,
    sum: Vec<f64>,
    abs_sum: Vec<f64>,
    max: Vec<f64>,
    min: Vec<f64>,
    count: usize,
}

fn naive_reduce(x: &[f64], shape: &[usize], axes: &[usize]) -> Reduced {
    let red = |d: usize| axes.contains(&d);
    let kept: Vec<usize> = (0..shape.len())
        .map(|d| if red(d) { 1 } else { shape[d] })
        .collect();
    let squeezed: Vec<usize> = (0..shape.len())
        .filter(|&d| !red(d))
        .map(|d| shape[d])
        .collect();
    let n = numel(&kept);
    let (mut sum, mut abs_sum) = (vec![0.0; n], vec![0.0; n]);
    let (mut max, mut min) = (vec![f64::NEG_INFINITY; n], vec![f64::INFINITY; n]);
    for q in 0..x.len() {
        let mut ix = unravel(q, shape);
        for d in 0..shape.len() {
            if red(d) {
                ix[d] = 0;
            }
        }
        let o = ravel(&ix, &kept);
        sum[o] += x[q];
        abs_sum[o] += x[q].abs();
        max[o] = max[o].max(x[q]);
        min[o] = min[o].min(x[q]);
    }
    let count = (0..shape.len())
        .filter(|&d| red(d))
        .map(|d| shape[d])
        .product();
    Reduced {
        kept,
        squeezed,
        sum,
        abs_sum,
        max,
        min,
        count,
    }
}

fn check_reductions(x: &Tensor, xv: &[f64], shape: &[usize], axes: &[usize]) {
    let r = naive_reduce(xv, shape, axes);
    let atol = tol(x.dtype()) * max_abs(&r.abs_sum);
    for keepdim in [false, true] {
        let s = if keepdim { &r.kept } else { &r.squeezed };
        let what = |op: &str| format!("{op} over {axes:?} of {shape:?}, keepdim {keepdim}");
        assert_close(
            &x.sum(axes, keepdim).unwrap(),
            s,
            &r.sum,
            atol,
            &what("sum"),
        );
        let mean: Vec<f64> = r.sum.iter().map(|v| v / r.count as f64).collect();
        assert_close(
            &x.mean(axes, keepdim).unwrap(),
            s,
            &mean,
            atol,
            &what("mean"),
        );
        assert_exact(&x.max(axes, keepdim).unwrap(), s, &r.max, &what("max"));
        assert_exact(&x.min(axes, keepdim).unwrap(), s, &r.min, &what("min"));
    }
}

fn reductions(dt: DType) {
    let mut rng = Rng::new(14);
    let shape = [3, 5, 2, 7];
    let (x, xv) = normal(&mut rng, &shape, dt);
    let sets: [&[usize]; 10] = [
        &[],
        &[0],
        &[1],
        &[3],
        &[0, 2],
        &[1, 3],
        &[2, 1],
        &[0, 1, 3],
        &[3, 0],
        &[0, 1, 2, 3],
    ];
    for axes in sets {
        check_reductions(&x, &xv, &shape, axes);
    }
    let all = x.sum_all().unwrap();
    assert_eq!(all.shape(), &[] as &[usize]);
    let r = naive_reduce(&xv, &shape, &[0, 1, 2, 3]);
    assert!((all.to_scalar().unwrap() - r.sum[0]).abs() <= tol(dt) * r.abs_sum[0]);
    // Rank 0.
    let s = on(Tensor::scalar(2.5, dt));
    assert_exact(&s.sum_all().unwrap(), &[], &[2.5], "sum_all of a scalar");
    assert_exact(
        &s.max(&[], true).unwrap(),
        &[],
        &[2.5],
        "max over no axes of a scalar",
    );
    // Errors.
    assert!(x.sum(&[4], false).is_err());
    assert!(x.max(&[0, 9], true).is_err());
    assert!(x.mean(&[7], false).is_err());
}

/// A repeated axis is that axis once (the reduction dedups it): mean must divide by its size once.
fn mean_over_a_repeated_axis(dt: DType) {
    let mut rng = Rng::new(30);
    let (y, yv) = normal(&mut rng, &[4, 6], dt);
    let r = naive_reduce(&yv, &[4, 6], &[1]);
    let mean: Vec<f64> = r.sum.iter().map(|v| v / 6.0).collect();
    let atol = tol(dt) * max_abs(&r.abs_sum);
    assert_close(
        &y.sum(&[1, 1], false).unwrap(),
        &[4],
        &r.sum,
        atol,
        "sum over [1, 1]",
    );
    assert_close(
        &y.mean(&[1, 1], false).unwrap(),
        &[4],
        &mean,
        atol,
        "mean over [1, 1]",
    );
}

fn reductions_parallel_path(dt: DType) {
    let mut rng = Rng::new(15);
    let shape = [129, 131];
    let (x, xv) = normal(&mut rng, &shape, dt);
    for axes in [&[0][..], &[1], &[0, 1]] {
        check_reductions(&x, &xv, &shape, axes);
    }
    let shape = [3, 61, 97];
    let (x, xv) = normal(&mut rng, &shape, dt);
    check_reductions(&x, &xv, &shape, &[0, 2]);
}

fn naive_argmax(x: &[f64], shape: &[usize], axis: usize) -> (Vec<usize>, Vec<f64>) {
    let mut out = shape.to_vec();
    out[axis] = 1;
    let best: Vec<usize> = (0..numel(&out))
        .map(|q| {
            let base = unravel(q, &out);
            let at = |j: usize| {
                let mut ix = base.clone();
                ix[axis] = j;
                x[ravel(&ix, shape)]
            };
            let mut best = 0;
            for j in 1..shape[axis] {
                if at(j) > at(best) {
                    best = j;
                }
            }
            best
        })
        .collect();
    let f = best.iter().map(|&b| b as f64).collect();
    (best, f)
}

fn argmax_first_on_ties(dt: DType) {
    let mut rng = Rng::new(16);
    let shape = [4, 6, 5];
    let (x, xv) = coarse(&mut rng, &shape, dt);
    for axis in 0..3 {
        let (want, wantf) = naive_argmax(&xv, &shape, axis);
        assert_eq!(x.argmax(axis).unwrap(), want, "argmax along {axis}");
        let mut s = shape.to_vec();
        s[axis] = 1;
        assert_exact(
            &x.argmax_keepdim(axis).unwrap(),
            &s,
            &wantf,
            "argmax_keepdim",
        );
    }
    let (t, _) = make(vec![1.0, 3.0, 3.0, 2.0, 3.0, -1.0, -1.0, -1.0], &[2, 4], dt);
    assert_eq!(t.argmax(1).unwrap(), vec![1, 0], "first maximum on ties");
    assert!(x.argmax(3).is_err());
}

fn broadcast_to_and_sum_to(dt: DType) {
    let mut rng = Rng::new(17);
    let (x, xv) = normal(&mut rng, &[3, 1, 4], dt);
    let big = [2, 3, 5, 4];
    let b = x.broadcast_to(&big).unwrap();
    let want: Vec<f64> = (0..numel(&big))
        .map(|q| xv[bcast_index(&unravel(q, &big), &[3, 1, 4])])
        .collect();
    assert_exact(&b, &big, &want, "broadcast_to");
    // Round trip: each element was copied 2·5 times.
    let back = b.sum_to(&[3, 1, 4]).unwrap();
    let want: Vec<f64> = xv.iter().map(|v| v * 10.0).collect();
    assert_close(
        &back,
        &[3, 1, 4],
        &want,
        tol(dt) * 10.0 * max_abs(&xv),
        "sum_to ∘ broadcast_to",
    );
    // sum_to against naive sums, for several targets.
    let (y, yv) = normal(&mut rng, &big, dt);
    let targets: [&[usize]; 7] = [
        &[3, 1, 4],
        &[5, 4],
        &[1, 4],
        &[4],
        &[],
        &[1, 1, 1, 1],
        &[2, 1, 5, 1],
    ];
    for t in targets {
        let mut want = vec![0.0; numel(t)];
        let mut scale = vec![0.0; numel(t)];
        for q in 0..yv.len() {
            let o = bcast_index(&unravel(q, &big), t);
            want[o] += yv[q];
            scale[o] += yv[q].abs();
        }
        let got = y.sum_to(t).unwrap();
        assert_close(
            &got,
            t,
            &want,
            tol(dt) * max_abs(&scale),
            &format!("sum_to {t:?}"),
        );
    }
    // Adjoint: <broadcast(x), y> = <x, sum_to(y)> (f64 only: exact to rounding).
    if dt == DType::F64 {
        let l = (dot(&vals(&b), &yv), abs_dot(&vals(&b), &yv));
        let s = vals(&y.sum_to(&[3, 1, 4]).unwrap());
        assert_adjoint(
            l,
            (dot(&xv, &s), abs_dot(&xv, &s)),
            "broadcast_to/sum_to adjoint",
        );
    }
    // A scalar broadcast.
    let s = on(Tensor::scalar(1.5, dt)).broadcast_to(&[2, 3]).unwrap();
    assert_exact(&s, &[2, 3], &[1.5; 6], "scalar broadcast");
    // Errors.
    assert!(x.broadcast_to(&[2, 4]).is_err());
    assert!(x.broadcast_to(&[3, 5, 5]).is_err());
    assert!(x.broadcast_to(&[3, 2]).is_err());
    assert!(y.sum_to(&[3, 4]).is_err());
    assert!(y.sum_to(&[1, 2, 3, 5, 4]).is_err());
    assert!(y.sum_to(&[3, 2, 4]).is_err());
    assert_eq!(y.sum_to(&[3, 5, 1]).unwrap().shape(), &[3, 5, 1]);
}

// ---- matmul ----------------------------------------------------------------------------------

/// `[ba, m, k] @ [bb, k, n]` with a batch of 1 shared; returns the product and Σ|terms|.
fn naive_matmul(
    a: &[f64],
    [ba, m, k]: [usize; 3],
    b: &[f64],
    [bb, _, n]: [usize; 3],
) -> (Vec<f64>, Vec<f64>) {
    let batch = ba.max(bb);
    let (mut out, mut scale) = (vec![0.0; batch * m * n], vec![0.0; batch * m * n]);
    for t in 0..batch {
        let (ta, tb) = (if ba == 1 { 0 } else { t }, if bb == 1 { 0 } else { t });
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    let v = a[(ta * m + i) * k + p] * b[(tb * k + p) * n + j];
                    out[(t * m + i) * n + j] += v;
                    scale[(t * m + i) * n + j] += v.abs();
                }
            }
        }
    }
    (out, scale)
}

fn matmul(dt: DType) {
    let mut rng = Rng::new(18);
    // (lhs, rhs, out, lhs as [b, m, k], rhs as [b, k, n])
    type Case<'a> = (
        &'a [usize],
        &'a [usize],
        &'a [usize],
        [usize; 3],
        [usize; 3],
    );
    let cases: [Case; 8] = [
        (&[7, 5], &[5, 3], &[7, 3], [1, 7, 5], [1, 5, 3]),
        (&[1, 1], &[1, 9], &[1, 9], [1, 1, 1], [1, 1, 9]),
        (
            &[2, 3, 7, 5],
            &[2, 3, 5, 4],
            &[2, 3, 7, 4],
            [6, 7, 5],
            [6, 5, 4],
        ),
        (&[4, 6, 5], &[5, 3], &[4, 6, 3], [4, 6, 5], [1, 5, 3]),
        (&[6, 5], &[3, 5, 4], &[3, 6, 4], [1, 6, 5], [3, 5, 4]),
        (&[3, 0, 4], &[3, 4, 2], &[3, 0, 2], [3, 0, 4], [3, 4, 2]),
        // More rows than one parallel task (128): the row-split path, ragged last block.
        (&[300, 70], &[70, 50], &[300, 50], [1, 300, 70], [1, 70, 50]),
        (&[257, 13], &[13, 3], &[257, 3], [1, 257, 13], [1, 13, 3]),
    ];
    for (ls, rs, os, l3, r3) in cases {
        let (a, av) = normal(&mut rng, ls, dt);
        let (b, bv) = normal(&mut rng, rs, dt);
        let (want, scale) = naive_matmul(&av, l3, &bv, r3);
        let got = a.matmul(&b).unwrap();
        assert_close(
            &got,
            os,
            &want,
            tol(dt) * max_abs(&scale),
            &format!("matmul {ls:?} @ {rs:?}"),
        );
    }
    // t() feeds matmul: (A Bᵀ) against naive.
    let (a, av) = normal(&mut rng, &[4, 3], dt);
    let (b, bv) = normal(&mut rng, &[5, 3], dt);
    let bt: Vec<f64> = (0..15).map(|q| bv[(q % 5) * 3 + q / 5]).collect();
    let (want, scale) = naive_matmul(&av, [1, 4, 3], &bt, [1, 3, 5]);
    assert_close(
        &a.matmul(&b.t().unwrap()).unwrap(),
        &[4, 5],
        &want,
        tol(dt) * max_abs(&scale),
        "A Bᵀ",
    );
    // Errors.
    let z = |s: &[usize]| on(Tensor::zeros(s, dt));
    let bad: [(&[usize], &[usize]); 6] = [
        (&[3, 4], &[5, 2]),
        (&[2, 3, 4], &[3, 4, 5]),
        (&[4], &[4, 2]),
        (&[2, 3], &[3]),
        (&[2, 2, 3], &[3, 3, 4]),
        (&[2, 2, 3], &[2, 1, 3, 4]),
    ];
    for (l, r) in bad {
        assert!(
            z(l).matmul(&z(r)).is_err(),
            "matmul {l:?} @ {r:?} must be Err"
        );
    }
    let other = if dt == DType::F32 {
        DType::F64
    } else {
        DType::F32
    };
    assert!(
        z(&[2, 3])
            .matmul(&on(Tensor::zeros(&[3, 2], other)))
            .is_err(),
        "dtype mismatch"
    );
}

// ---- convolution -----------------------------------------------------------------------------

fn conv_out(x: [usize; 4], w: [usize; 4], p: Conv2dParams) -> [usize; 4] {
    let o = |a: usize| {
        (x[2 + a] + 2 * p.padding[a] - p.dilation[a] * (w[2 + a] - 1) - 1) / p.stride[a] + 1
    };
    [x[0], w[0], o(0), o(1)]
}

/// Calls `f(x_offset, w_offset, y_offset)` for every term of a direct convolution.
fn conv_taps(
    xs: [usize; 4],
    ws: [usize; 4],
    p: Conv2dParams,
    mut f: impl FnMut(usize, usize, usize),
) {
    let [n, c, h, w] = xs;
    let [o, _, kh, kw] = ws;
    let [_, _, oh, ow] = conv_out(xs, ws, p);
    for b in 0..n {
        for oc in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ic in 0..c {
                        for i in 0..kh {
                            for j in 0..kw {
                                let iy = (oy * p.stride[0] + i * p.dilation[0]) as isize
                                    - p.padding[0] as isize;
                                let ix = (ox * p.stride[1] + j * p.dilation[1]) as isize
                                    - p.padding[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let xo = ((b * c + ic) * h + iy as usize) * w + ix as usize;
                                let wo = ((oc * c + ic) * kh + i) * kw + j;
                                let yo = ((b * o + oc) * oh + oy) * ow + ox;
                                f(xo, wo, yo);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn params(stride: [usize; 2], padding: [usize; 2], dilation: [usize; 2]) -> Conv2dParams {
    Conv2dParams {
        stride,
        padding,
        dilation,
    }
}

fn conv_cases() -> Vec<([usize; 4], [usize; 4], Conv2dParams)> {
    vec![
        ([2, 3, 9, 11], [4, 3, 3, 2], Conv2dParams::default()),
        ([2, 3, 9, 11], [4, 3, 3, 2], params([2, 1], [1, 2], [1, 1])),
        ([2, 3, 9, 11], [4, 3, 3, 2], params([1, 2], [2, 0], [2, 1])),
        ([2, 3, 9, 11], [4, 3, 3, 2], params([3, 2], [1, 1], [2, 3])),
        ([1, 2, 5, 4], [3, 2, 5, 4], params([1, 1], [0, 0], [1, 1])),
        ([3, 1, 6, 7], [2, 1, 1, 1], params([2, 3], [1, 0], [1, 1])),
        ([1, 2, 4, 3], [2, 2, 4, 3], params([5, 4], [3, 2], [2, 2])),
        // 17 images: three chunked partial sums in the weight gradient.
        ([17, 2, 5, 6], [3, 2, 2, 3], params([1, 2], [1, 1], [1, 1])),
    ]
}

fn conv2d_and_gradients(dt: DType) {
    let mut rng = Rng::new(19);
    for (xs, ws, p) in conv_cases() {
        let ys = conv_out(xs, ws, p);
        let (x, xv) = normal(&mut rng, &xs, dt);
        let (w, wv) = normal(&mut rng, &ws, dt);
        let (g, gv) = normal(&mut rng, &ys, dt);
        let mut y = vec![0.0; numel(&ys)];
        let mut dx = vec![0.0; numel(&xs)];
        let mut dw = vec![0.0; numel(&ws)];
        let (mut ys_abs, mut dx_abs, mut dw_abs) = (y.clone(), dx.clone(), dw.clone());
        conv_taps(xs, ws, p, |xo, wo, yo| {
            y[yo] += xv[xo] * wv[wo];
            ys_abs[yo] += (xv[xo] * wv[wo]).abs();
            dx[xo] += gv[yo] * wv[wo];
            dx_abs[xo] += (gv[yo] * wv[wo]).abs();
            dw[wo] += gv[yo] * xv[xo];
            dw_abs[wo] += (gv[yo] * xv[xo]).abs();
        });
        let what = |op: &str| format!("{op} x {xs:?} w {ws:?} {p:?}");
        let t = tol(dt);
        assert_close(
            &x.conv2d(&w, p).unwrap(),
            &ys,
            &y,
            t * max_abs(&ys_abs),
            &what("conv2d"),
        );
        let gi = g.conv2d_input_grad(&w, p, [xs[2], xs[3]]).unwrap();
        assert_close(
            &gi,
            &xs,
            &dx,
            t * max_abs(&dx_abs),
            &what("conv2d_input_grad"),
        );
        let gw = x.conv2d_weight_grad(&g, p, [ws[2], ws[3]]).unwrap();
        assert_close(
            &gw,
            &ws,
            &dw,
            t * max_abs(&dw_abs),
            &what("conv2d_weight_grad"),
        );
        // Adjoint identities <conv(x,w), g> = <x, input_grad(g,w)> = <w, weight_grad(x,g)> in f64.
        if dt == DType::F64 {
            let yv = vals(&x.conv2d(&w, p).unwrap());
            let (gi, gw) = (vals(&gi), vals(&gw));
            let a = (
                dot(&yv, &gv),
                abs_dot(&ys_abs, &gv.iter().map(|v| v.abs()).collect::<Vec<_>>()),
            );
            assert_adjoint(
                a,
                (dot(&xv, &gi), abs_dot(&xv, &dx_abs)),
                &what("<conv, g> = <x, input_grad>"),
            );
            assert_adjoint(
                a,
                (dot(&wv, &gw), abs_dot(&wv, &dw_abs)),
                &what("<conv, g> = <w, weight_grad>"),
            );
        }
    }
}

fn conv2d_errors(dt: DType) {
    let z = |s: &[usize]| on(Tensor::zeros(s, dt));
    let p0 = Conv2dParams::default();
    // Kernel bigger than the (padded) input.
    assert!(z(&[1, 2, 3, 3]).conv2d(&z(&[1, 2, 5, 5]), p0).is_err());
    assert!(z(&[1, 2, 3, 3])
        .conv2d(&z(&[1, 2, 5, 5]), params([1, 1], [1, 1], [1, 1]))
        .is_ok());
    assert!(z(&[1, 2, 3, 3])
        .conv2d(&z(&[1, 2, 5, 5]), params([1, 1], [1, 0], [1, 1]))
        .is_err());
    assert!(z(&[1, 2, 3, 3])
        .conv2d(&z(&[1, 2, 2, 2]), params([1, 1], [0, 0], [3, 1]))
        .is_err());
    // Channels, ranks, zero stride.
    assert!(z(&[1, 2, 6, 6]).conv2d(&z(&[1, 3, 2, 2]), p0).is_err());
    assert!(z(&[2, 6, 6]).conv2d(&z(&[1, 2, 2, 2]), p0).is_err());
    assert!(z(&[1, 2, 6, 6]).conv2d(&z(&[2, 2, 2]), p0).is_err());
    assert!(z(&[1, 2, 6, 6])
        .conv2d(&z(&[1, 2, 2, 2]), params([0, 1], [0, 0], [1, 1]))
        .is_err());
    let other = if dt == DType::F32 {
        DType::F64
    } else {
        DType::F32
    };
    assert!(z(&[1, 2, 6, 6])
        .conv2d(&on(Tensor::zeros(&[1, 2, 2, 2], other)), p0)
        .is_err());
    // Gradients with inconsistent shapes.
    let g = z(&[1, 4, 5, 5]);
    assert!(g.conv2d_input_grad(&z(&[4, 2, 2, 2]), p0, [6, 6]).is_ok());
    assert!(g.conv2d_input_grad(&z(&[4, 2, 2, 2]), p0, [7, 6]).is_err());
    assert!(g.conv2d_input_grad(&z(&[3, 2, 2, 2]), p0, [6, 6]).is_err());
    assert!(z(&[1, 2, 6, 6]).conv2d_weight_grad(&g, p0, [2, 2]).is_ok());
    assert!(z(&[2, 2, 6, 6]).conv2d_weight_grad(&g, p0, [2, 2]).is_err());
    assert!(z(&[1, 2, 6, 6]).conv2d_weight_grad(&g, p0, [3, 2]).is_err());
    assert!(z(&[1, 2, 6, 6]).conv2d_weight_grad(&g, p0, [7, 7]).is_err());
}

// ---- pooling ---------------------------------------------------------------------------------

fn naive_max_pool(
    x: &[f64],
    [n, c, h, w]: [usize; 4],
    p: Pool2dParams,
) -> ([usize; 4], Vec<f64>, Vec<f64>) {
    let oh = (h - p.kernel[0]) / p.stride[0] + 1;
    let ow = (w - p.kernel[1]) / p.stride[1] + 1;
    let (mut v, mut ix) = (vec![], vec![]);
    for q in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best: Option<(f64, usize)> = None;
                for i in 0..p.kernel[0] {
                    for j in 0..p.kernel[1] {
                        let at = (oy * p.stride[0] + i) * w + ox * p.stride[1] + j;
                        let val = x[q * h * w + at];
                        let better = match best {
                            Some((b, _)) => val > b,
                            None => true,
                        };
                        if better {
                            best = Some((val, at));
                        }
                    }
                }
                let (b, at) = best.unwrap();
                v.push(b);
                ix.push(at as f64);
            }
        }
    }
    ([n, c, oh, ow], v, ix)
}

fn max_pool2d(dt: DType) {
    let mut rng = Rng::new(20);
    let xs = [2, 3, 7, 9];
    let (x, xv) = coarse(&mut rng, &xs, dt);
    let pools = [
        ([2, 3], [2, 2]),
        ([3, 2], [1, 3]),
        ([7, 9], [1, 1]),
        ([1, 1], [2, 4]),
        ([2, 2], [3, 3]),
    ];
    for (kernel, stride) in pools {
        let p = Pool2dParams { kernel, stride };
        let (os, v, ix) = naive_max_pool(&xv, xs, p);
        let (gv, gi) = x.max_pool2d(p).unwrap();
        assert_exact(&gv, &os, &v, &format!("max_pool2d values {p:?}"));
        assert_exact(&gi, &os, &ix, &format!("max_pool2d indices {p:?}"));
    }
    // Ties: the first maximum in row-major window order wins.
    let (t, _) = make(
        vec![1.0, 5.0, 5.0, 0.0, 5.0, 5.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0],
        &[1, 1, 3, 4],
        dt,
    );
    let (v, i) = t
        .max_pool2d(Pool2dParams {
            kernel: [2, 2],
            stride: [1, 2],
        })
        .unwrap();
    assert_exact(&v, &[1, 1, 2, 2], &[5.0, 5.0, 5.0, 2.0], "tie values");
    assert_exact(&i, &[1, 1, 2, 2], &[1.0, 2.0, 4.0, 6.0], "tie indices");
    // Errors.
    let z = on(Tensor::zeros(&[1, 2, 4, 5], dt));
    for (kernel, stride) in [
        ([5, 1], [1, 1]),
        ([1, 6], [1, 1]),
        ([0, 1], [1, 1]),
        ([2, 2], [0, 1]),
    ] {
        assert!(
            z.max_pool2d(Pool2dParams { kernel, stride }).is_err(),
            "{kernel:?} {stride:?}"
        );
    }
    assert!(on(Tensor::zeros(&[2, 4, 5], dt))
        .max_pool2d(Pool2dParams {
            kernel: [2, 2],
            stride: [2, 2]
        })
        .is_err());
}

/// A window of all −∞ (e.g. a masked region) has its first element as the winner, inside the
/// window, as in PyTorch; the index must never point outside the window.
#[test]
fn max_pool2d_index_of_an_all_neg_infinity_window_is_inside_the_window() {
    let inf = f64::INFINITY;
    let (x, xv) = make(
        vec![1.0, 2.0, -inf, -inf, 3.0, 4.0, -inf, -inf],
        &[1, 1, 2, 4],
        DType::F32,
    );
    let p = Pool2dParams {
        kernel: [2, 2],
        stride: [2, 2],
    };
    let (os, v, ix) = naive_max_pool(&xv, [1, 1, 2, 4], p);
    assert_eq!(ix, vec![5.0, 2.0]);
    let (gv, gi) = x.max_pool2d(p).unwrap();
    assert_exact(&gv, &os, &v, "values");
    assert_exact(&gi, &os, &ix, "indices");
}

/// PyTorch's adaptive bins: start = ⌊i·n/o⌋, end = ⌈(i+1)·n/o⌉, computed independently in f64.
fn torch_adaptive_bins(n: usize, o: usize) -> Vec<(usize, usize)> {
    (0..o)
        .map(|i| {
            let start = (i as f64 * n as f64 / o as f64).floor() as usize;
            let end = ((i + 1) as f64 * n as f64 / o as f64).ceil() as usize;
            (start, end)
        })
        .collect()
}

fn naive_avg_pool(
    x: &[f64],
    [n, c, h, w]: [usize; 4],
    bh: &[(usize, usize)],
    bw: &[(usize, usize)],
) -> Vec<f64> {
    let mut out = vec![];
    for q in 0..n * c {
        for &(y0, y1) in bh {
            for &(x0, x1) in bw {
                let mut s = 0.0;
                for y in y0..y1 {
                    for xx in x0..x1 {
                        s += x[q * h * w + y * w + xx];
                    }
                }
                out.push(s / ((y1 - y0) * (x1 - x0)) as f64);
            }
        }
    }
    out
}

fn naive_avg_pool_backward(
    g: &[f64],
    [n, c]: [usize; 2],
    bh: &[(usize, usize)],
    bw: &[(usize, usize)],
    [h, w]: [usize; 2],
) -> Vec<f64> {
    let mut dx = vec![0.0; n * c * h * w];
    let mut k = 0;
    for q in 0..n * c {
        for &(y0, y1) in bh {
            for &(x0, x1) in bw {
                let share = g[k] / ((y1 - y0) * (x1 - x0)) as f64;
                k += 1;
                for y in y0..y1 {
                    for xx in x0..x1 {
                        dx[q * h * w + y * w + xx] += share;
                    }
                }
            }
        }
    }
    dx
}

fn avg_pools(dt: DType) {
    let mut rng = Rng::new(21);
    let xs = [2, 3, 7, 10];
    let (x, xv) = normal(&mut rng, &xs, dt);
    let atol = tol(dt) * max_abs(&xv);
    // Fixed windows.
    for (kernel, stride) in [
        ([2, 3], [2, 2]),
        ([3, 2], [1, 3]),
        ([7, 10], [1, 1]),
        ([1, 1], [3, 4]),
    ] {
        let p = Pool2dParams { kernel, stride };
        let axis = |n: usize, a: usize| -> Vec<(usize, usize)> {
            (0..=(n - kernel[a]) / stride[a])
                .map(|i| (i * stride[a], i * stride[a] + kernel[a]))
                .collect()
        };
        let (bh, bw) = (axis(7, 0), axis(10, 1));
        assert_eq!(
            PoolBins::fixed([7, 10], p).unwrap(),
            PoolBins {
                h: bh.clone(),
                w: bw.clone()
            }
        );
        let want = naive_avg_pool(&xv, xs, &bh, &bw);
        assert_close(
            &x.avg_pool2d(p).unwrap(),
            &[2, 3, bh.len(), bw.len()],
            &want,
            atol,
            &format!("avg_pool2d {p:?}"),
        );
    }
    // Adaptive windows, shrinking, identity, growing and global.
    for (inp, out) in [
        ([7, 10], [3, 4]),
        ([7, 10], [7, 10]),
        ([7, 10], [9, 13]),
        ([7, 10], [1, 1]),
        ([7, 10], [5, 3]),
    ] {
        let (x, xv) = normal(&mut rng, &[2, 3, inp[0], inp[1]], dt);
        let (bh, bw) = (
            torch_adaptive_bins(inp[0], out[0]),
            torch_adaptive_bins(inp[1], out[1]),
        );
        let bins = PoolBins::adaptive(inp, out).unwrap();
        assert_eq!(
            bins,
            PoolBins {
                h: bh.clone(),
                w: bw.clone()
            },
            "adaptive bins {inp:?} -> {out:?}"
        );
        let want = naive_avg_pool(&xv, [2, 3, inp[0], inp[1]], &bh, &bw);
        let got = x.adaptive_avg_pool2d(out).unwrap();
        assert_close(
            &got,
            &[2, 3, out[0], out[1]],
            &want,
            atol,
            &format!("adaptive {inp:?} -> {out:?}"),
        );
        assert_close(
            &x.avg_pool_bins(&bins).unwrap(),
            &[2, 3, out[0], out[1]],
            &want,
            atol,
            "avg_pool_bins",
        );
        // Backward against naive, and the adjoint identity <avg(x), g> = <x, avg_backward(g)>.
        let (g, gv) = normal(&mut rng, &[2, 3, out[0], out[1]], dt);
        let dx = g.avg_pool_bins_backward(&bins, inp).unwrap();
        let want = naive_avg_pool_backward(&gv, [2, 3], &bh, &bw, inp);
        let xshape = [2, 3, inp[0], inp[1]];
        assert_close(
            &dx,
            &xshape,
            &want,
            tol(dt) * max_abs(&gv),
            &format!("avg backward {inp:?} -> {out:?}"),
        );
        if dt == DType::F64 {
            let y = vals(&got);
            let d = vals(&dx);
            assert_adjoint(
                (dot(&y, &gv), abs_dot(&y, &gv)),
                (dot(&xv, &d), abs_dot(&xv, &d)),
                "avg pool adjoint",
            );
        }
    }
    // Errors.
    assert!(x
        .avg_pool2d(Pool2dParams {
            kernel: [8, 1],
            stride: [1, 1]
        })
        .is_err());
    assert!(x.adaptive_avg_pool2d([0, 3]).is_err());
    assert!(on(Tensor::zeros(&[3, 7, 10], dt))
        .adaptive_avg_pool2d([2, 2])
        .is_err());
    let too_big = PoolBins {
        h: vec![(0, 8)],
        w: vec![(0, 2)],
    };
    assert!(x.avg_pool_bins(&too_big).is_err());
    let empty = PoolBins {
        h: vec![(3, 3)],
        w: vec![(0, 2)],
    };
    assert!(x.avg_pool_bins(&empty).is_err());
    let bins = PoolBins::adaptive([7, 10], [2, 2]).unwrap();
    assert!(
        on(Tensor::zeros(&[2, 3, 3, 2], dt))
            .avg_pool_bins_backward(&bins, [7, 10])
            .is_err(),
        "gradient shape"
    );
}

/// The backward of average pooling, like its forward, must refuse windows that do not fit the
/// plane it writes to (an `Err`, not an out-of-bounds panic or a silent wrap into the next row).
#[test]
fn avg_pool_bins_backward_rejects_windows_outside_the_input() {
    let bins = PoolBins::adaptive([7, 10], [3, 4]).unwrap();
    let g = on(Tensor::ones(&[1, 1, 3, 4], DType::F64));
    let wraps = std::panic::catch_unwind(|| g.avg_pool_bins_backward(&bins, [7, 5]).is_err());
    assert!(
        matches!(wraps, Ok(true)),
        "windows up to column 10 on a width-5 plane: {wraps:?}"
    );
    let overflows = std::panic::catch_unwind(|| g.avg_pool_bins_backward(&bins, [2, 2]).is_err());
    assert!(
        matches!(overflows, Ok(true)),
        "windows up to row 7 on a 2x2 plane: {overflows:?}"
    );
}

// ---- softmax ---------------------------------------------------------------------------------

fn naive_softmax(x: &[f64], shape: &[usize], axis: usize, log: bool) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    let mut line = shape.to_vec();
    line[axis] = 1;
    for q in 0..numel(&line) {
        let base = unravel(q, &line);
        let at = |j: usize| {
            let mut ix = base.clone();
            ix[axis] = j;
            ravel(&ix, shape)
        };
        let m = (0..shape[axis])
            .map(|j| x[at(j)])
            .fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = (0..shape[axis]).map(|j| (x[at(j)] - m).exp()).sum();
        for j in 0..shape[axis] {
            let z = x[at(j)] - m;
            out[at(j)] = if log { z - s.ln() } else { z.exp() / s };
        }
    }
    out
}

fn softmax(dt: DType) {
    let mut rng = Rng::new(22);
    let shape = [3, 5, 4];
    for shift in [0.0, 1000.0, -1000.0] {
        let v: Vec<f64> = vals(&rng.normal(&shape, shift, 3.0, DType::F64).unwrap());
        let (x, xv) = make(v, &shape, dt);
        for axis in 0..3 {
            let what = |op: &str| format!("{op} along {axis}, inputs around {shift}");
            let s = x.softmax(axis).unwrap();
            assert!(!s.has_non_finite().unwrap(), "{}", what("softmax finite"));
            assert_close(
                &s,
                &shape,
                &naive_softmax(&xv, &shape, axis, false),
                1e-40,
                &what("softmax"),
            );
            let l = x.log_softmax(axis).unwrap();
            assert!(
                !l.has_non_finite().unwrap(),
                "{}",
                what("log_softmax finite")
            );
            let atol = tol(dt) * 16.0;
            assert_close(
                &l,
                &shape,
                &naive_softmax(&xv, &shape, axis, true),
                atol,
                &what("log_softmax"),
            );
            let sums = s.sum(&[axis], false).unwrap();
            assert!(
                vals(&sums).iter().all(|v| (v - 1.0).abs() < 1e-5),
                "{}",
                what("rows sum to 1")
            );
        }
    }
    // All-equal large rows are uniform.
    let x = on(Tensor::full(&[2, 3], 1000.0, dt));
    assert_close(
        &x.softmax(1).unwrap(),
        &[2, 3],
        &[1.0 / 3.0; 6],
        0.0,
        "uniform softmax",
    );
    assert_close(
        &x.log_softmax(1).unwrap(),
        &[2, 3],
        &[-(3f64.ln()); 6],
        0.0,
        "uniform log_softmax",
    );
    // Large enough for the parallel path.
    let big = [7, 41, 61];
    let (x, xv) = normal(&mut rng, &big, dt);
    assert_close(
        &x.softmax(1).unwrap(),
        &big,
        &naive_softmax(&xv, &big, 1, false),
        1e-40,
        "parallel softmax",
    );
    assert!(x.softmax(3).is_err());
    assert!(x.log_softmax(5).is_err());
}

// ---- layout ----------------------------------------------------------------------------------

fn naive_permute(x: &[f64], xs: &[usize], perm: &[usize]) -> (Vec<usize>, Vec<f64>) {
    let os: Vec<usize> = perm.iter().map(|&p| xs[p]).collect();
    let out = (0..numel(&os))
        .map(|q| {
            let oix = unravel(q, &os);
            let mut xix = vec![0; xs.len()];
            for (i, &p) in perm.iter().enumerate() {
                xix[p] = oix[i];
            }
            x[ravel(&xix, xs)]
        })
        .collect();
    (os, out)
}

fn reshape_permute_transpose(dt: DType) {
    let mut rng = Rng::new(23);
    let xs = [2, 3, 4, 5];
    let (x, xv) = normal(&mut rng, &xs, dt);
    // Reshape keeps row-major data.
    let r = x.reshape(&[6, 20]).unwrap();
    assert_exact(&r, &[6, 20], &xv, "reshape");
    assert_exact(
        &on(Tensor::scalar(3.0, dt)).reshape(&[1, 1]).unwrap(),
        &[1, 1],
        &[3.0],
        "scalar reshape",
    );
    assert!(x.reshape(&[7, 17]).is_err());
    assert!(x.reshape(&[120, 2]).is_err());
    assert!(x.reshape(&[]).is_err());
    // Permutations.
    let perms: [&[usize]; 5] = [
        &[0, 1, 2, 3],
        &[3, 2, 1, 0],
        &[1, 3, 0, 2],
        &[2, 0, 3, 1],
        &[0, 2, 1, 3],
    ];
    for perm in perms {
        let (os, want) = naive_permute(&xv, &xs, perm);
        assert_exact(
            &x.permute(perm).unwrap(),
            &os,
            &want,
            &format!("permute {perm:?}"),
        );
    }
    let (os, want) = naive_permute(&xv, &xs, &[2, 1, 0, 3]);
    assert_exact(&x.transpose(0, 2).unwrap(), &os, &want, "transpose(0, 2)");
    assert_exact(&x.transpose(2, 0).unwrap(), &os, &want, "transpose(2, 0)");
    let (os, want) = naive_permute(&xv, &xs, &[0, 1, 3, 2]);
    assert_exact(&x.t().unwrap(), &os, &want, "t()");
    // A large permute: the parallel strided copy.
    let bs = [37, 29, 19];
    let (b, bv) = normal(&mut rng, &bs, dt);
    let (os, want) = naive_permute(&bv, &bs, &[2, 0, 1]);
    assert_exact(&b.permute(&[2, 0, 1]).unwrap(), &os, &want, "large permute");
    // Errors.
    assert!(x.permute(&[0, 0, 1, 2]).is_err());
    assert!(x.permute(&[0, 1, 2]).is_err());
    assert!(x.permute(&[0, 1, 2, 4]).is_err());
    assert!(x.transpose(1, 4).is_err());
    assert!(on(Tensor::zeros(&[3], dt)).t().is_err());
}

fn narrow_pad_cat(dt: DType) {
    let mut rng = Rng::new(24);
    let xs = [3, 5, 4];
    let (x, xv) = normal(&mut rng, &xs, dt);
    for (axis, start, len) in [(0, 1, 2), (1, 0, 5), (1, 2, 3), (2, 3, 1), (1, 4, 0)] {
        let mut os = xs.to_vec();
        os[axis] = len;
        let want: Vec<f64> = (0..numel(&os))
            .map(|q| {
                let mut ix = unravel(q, &os);
                ix[axis] += start;
                xv[ravel(&ix, &xs)]
            })
            .collect();
        let n = x.narrow(axis, start, len).unwrap();
        assert_exact(&n, &os, &want, &format!("narrow({axis}, {start}, {len})"));
        // pad_axis is the adjoint: narrow(pad(n)) = n, zeros elsewhere.
        let size = xs[axis] + 2;
        let p = n.pad_axis(axis, start + 1, size).unwrap();
        let mut ps = xs.to_vec();
        ps[axis] = size;
        let mut want_p = vec![0.0; numel(&ps)];
        for q in 0..numel(&os) {
            let mut ix = unravel(q, &os);
            ix[axis] += start + 1;
            want_p[ravel(&ix, &ps)] = want[q];
        }
        assert_exact(
            &p,
            &ps,
            &want_p,
            &format!("pad_axis({axis}, {}, {size})", start + 1),
        );
    }
    assert!(x.narrow(1, 3, 3).is_err());
    assert!(x.narrow(3, 0, 1).is_err());
    assert!(x.narrow(0, 4, 0).is_err());
    assert!(x.pad_axis(1, 1, 5).is_err());
    assert!(x.pad_axis(3, 0, 9).is_err());
    // cat along each axis, with ragged part sizes.
    for axis in 0..3 {
        let sizes = [2, 1, 3];
        let parts: Vec<(Tensor, Vec<f64>, Vec<usize>)> = sizes
            .iter()
            .map(|&n| {
                let mut s = xs.to_vec();
                s[axis] = n;
                let (t, v) = normal(&mut rng, &s, dt);
                (t, v, s)
            })
            .collect();
        let mut os = xs.to_vec();
        os[axis] = 6;
        let mut want = vec![0.0; numel(&os)];
        let mut off = 0;
        for (_, v, s) in &parts {
            for q in 0..v.len() {
                let mut ix = unravel(q, s);
                ix[axis] += off;
                want[ravel(&ix, &os)] = v[q];
            }
            off += s[axis];
        }
        let list: Vec<Tensor> = parts.iter().map(|p| p.0.clone()).collect();
        assert_exact(
            &Tensor::cat(&list, axis).unwrap(),
            &os,
            &want,
            &format!("cat along {axis}"),
        );
    }
    assert_exact(
        &Tensor::cat(std::slice::from_ref(&x), 1).unwrap(),
        &xs,
        &xv,
        "cat of one",
    );
    assert!(Tensor::cat(&[], 0).is_err());
    assert!(Tensor::cat(&[x.clone(), on(Tensor::zeros(&[3, 5], dt))], 0).is_err());
    assert!(Tensor::cat(&[x.clone(), on(Tensor::zeros(&[3, 2, 3], dt))], 1).is_err());
    assert!(Tensor::cat(&[x.clone(), x.clone()], 3).is_err());
    let other = if dt == DType::F32 {
        DType::F64
    } else {
        DType::F32
    };
    assert!(Tensor::cat(&[x.clone(), on(Tensor::zeros(&xs, other))], 0).is_err());
}

fn index_select_and_add(dt: DType) {
    let mut rng = Rng::new(25);
    let xs = [3, 5, 4];
    let (x, xv) = normal(&mut rng, &xs, dt);
    for (axis, index) in [
        (0, vec![2, 0, 2]),
        (1, vec![4, 1, 1, 0, 3, 4, 2]),
        (2, vec![3]),
        (1, vec![]),
    ] {
        let mut os = xs.to_vec();
        os[axis] = index.len();
        let want: Vec<f64> = (0..numel(&os))
            .map(|q| {
                let mut ix = unravel(q, &os);
                ix[axis] = index[ix[axis]];
                xv[ravel(&ix, &xs)]
            })
            .collect();
        let got = x.index_select(axis, &index).unwrap();
        assert_exact(
            &got,
            &os,
            &want,
            &format!("index_select({axis}, {index:?})"),
        );
        // index_add of a random upstream, repeated indices accumulate.
        let (g, gv) = normal(&mut rng, &os, dt);
        let mut want = vec![0.0; xv.len()];
        let mut scale = vec![0.0; xv.len()];
        for q in 0..gv.len() {
            let mut ix = unravel(q, &os);
            ix[axis] = index[ix[axis]];
            want[ravel(&ix, &xs)] += gv[q];
            scale[ravel(&ix, &xs)] += gv[q].abs();
        }
        let got = g.index_add(axis, &index, xs[axis]).unwrap();
        assert_close(
            &got,
            &xs,
            &want,
            tol(dt) * max_abs(&scale),
            &format!("index_add({axis}, {index:?})"),
        );
    }
    assert!(x.index_select(1, &[0, 5]).is_err(), "index out of range");
    assert!(x.index_select(3, &[0]).is_err());
    assert!(
        x.index_add(1, &[0, 1], 5).is_err(),
        "index count differs from axis size"
    );
    assert!(x.index_add(0, &[0, 1, 3], 3).is_err(), "index out of range");
    assert!(x.index_add(3, &[0], 3).is_err());
}

fn gather_scatter_add(dt: DType) {
    let mut rng = Rng::new(26);
    let xs = [3, 5, 4];
    let (x, xv) = normal(&mut rng, &xs, dt);
    for axis in 0..3 {
        for len in [1, 2, 7] {
            let mut is = xs.to_vec();
            is[axis] = len;
            let idx: Vec<usize> = (0..numel(&is)).map(|_| rng.below(xs[axis])).collect();
            let (index, _) = make(idx.iter().map(|&i| i as f64).collect(), &is, dt);
            let want: Vec<f64> = (0..numel(&is))
                .map(|q| {
                    let mut ix = unravel(q, &is);
                    ix[axis] = idx[q];
                    xv[ravel(&ix, &xs)]
                })
                .collect();
            let what = format!("gather along {axis}, {len} per line");
            assert_exact(&x.gather(axis, &index).unwrap(), &is, &want, &what);
            // scatter_add: out[.., index[q], ..] += src[q], onto an axis of size xs[axis] + 1.
            let (src, sv) = normal(&mut rng, &is, dt);
            let mut os = xs.to_vec();
            os[axis] += 1;
            let (mut want, mut scale) = (vec![0.0; numel(&os)], vec![0.0; numel(&os)]);
            for q in 0..sv.len() {
                let mut ix = unravel(q, &is);
                ix[axis] = idx[q];
                want[ravel(&ix, &os)] += sv[q];
                scale[ravel(&ix, &os)] += sv[q].abs();
            }
            let got = src.scatter_add(axis, &index, os[axis]).unwrap();
            assert_close(
                &got,
                &os,
                &want,
                tol(dt) * max_abs(&scale),
                &format!("scatter_add along {axis}"),
            );
        }
    }
    // Index tensors of the other dtype work too.
    let other = if dt == DType::F32 {
        DType::F64
    } else {
        DType::F32
    };
    let (i2, _) = make(vec![1.0, 0.0, 2.0], &[3, 1], other);
    let (m, mv) = normal(&mut rng, &[3, 3], dt);
    assert_exact(
        &m.gather(1, &i2).unwrap(),
        &[3, 1],
        &[mv[1], mv[3], mv[8]],
        "gather with other-dtype index",
    );
    // Errors: out-of-range indices, shape mismatches, bad axis.
    let (bad, _) = make(vec![0.0, 5.0, 1.0], &[3, 1, 1], dt);
    let (x2, _) = normal(&mut rng, &[3, 5, 1], dt);
    assert!(
        x2.gather(1, &bad).is_err(),
        "gather index 5 on an axis of size 5"
    );
    assert!(
        x2.narrow(1, 0, 1).unwrap().scatter_add(1, &bad, 5).is_err(),
        "scatter_add index 5 into size 5"
    );
    assert!(x2.narrow(1, 0, 1).unwrap().scatter_add(1, &bad, 6).is_ok());
    let (wrong, _) = make(vec![0.0; 6], &[2, 3, 1], dt);
    assert!(
        x2.gather(1, &wrong).is_err(),
        "index shape differs off the axis"
    );
    assert!(x2.gather(3, &bad).is_err());
    let (ok_idx, _) = make(vec![0.0; 6], &[3, 2, 1], dt);
    assert!(
        x2.scatter_add(1, &ok_idx, 5).is_err(),
        "scatter_add source and index shapes differ"
    );
}

/// Indices are integers stored as floats; a negative one is out of range, not index 0.
#[test]
fn gather_and_scatter_add_reject_negative_indices() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).unwrap();
    let neg = Tensor::from_vec(vec![-1.0f64, 0.0], &[2]).unwrap();
    let got = x.gather(0, &neg);
    assert!(
        got.is_err(),
        "gather with index -1 must be Err, got {:?}",
        got.map(|t| vals(&t))
    );
    let src = Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap();
    let got = src.scatter_add(0, &neg, 3);
    assert!(
        got.is_err(),
        "scatter_add with index -1 must be Err, got {:?}",
        got.map(|t| vals(&t))
    );
}

fn where_cond(dt: DType) {
    let mut rng = Rng::new(27);
    let other = if dt == DType::F32 {
        DType::F64
    } else {
        DType::F32
    };
    // Mask of the other dtype, all three operands broadcast: [3,1] × [1,4] × [] → [3,4].
    let (mask, mv) = make(vec![0.0, 2.0, -0.5], &[3, 1], other);
    let (t, tv) = normal(&mut rng, &[1, 4], dt);
    let f = on(Tensor::scalar(-7.0, dt));
    let want: Vec<f64> = (0..12)
        .map(|q| if mv[q / 4] != 0.0 { tv[q % 4] } else { -7.0 })
        .collect();
    let got = mask.where_cond(&t, &f).unwrap();
    assert_eq!(got.dtype(), dt);
    assert_exact(&got, &[3, 4], &want, "where with broadcasting");
    // Full-shape operands and a ragged broadcast on the middle axis.
    let ms = [2, 1, 5];
    let (m, mv) = coarse(&mut rng, &ms, dt);
    let (a, av) = normal(&mut rng, &[2, 3, 5], dt);
    let (b, bv) = normal(&mut rng, &[3, 1], dt);
    let os = [2, 3, 5];
    let want: Vec<f64> = (0..30)
        .map(|q| {
            let ix = unravel(q, &os);
            if mv[bcast_index(&ix, &ms)] != 0.0 {
                av[q]
            } else {
                bv[bcast_index(&ix, &[3, 1])]
            }
        })
        .collect();
    assert_exact(
        &m.where_cond(&a, &b).unwrap(),
        &os,
        &want,
        "where, mask [2,1,5]",
    );
    // Errors.
    assert!(
        m.where_cond(&a, &on(Tensor::zeros(&[4, 1], dt))).is_err(),
        "broadcast"
    );
    assert!(
        m.where_cond(&on(Tensor::zeros(&[2], dt)), &b).is_err(),
        "broadcast"
    );
    assert!(
        m.where_cond(&a, &on(Tensor::zeros(&[3, 1], other)))
            .is_err(),
        "dtype mismatch"
    );
}

// ---- conversion and determinism --------------------------------------------------------------

#[test]
fn to_dtype_round_trips() {
    let mut rng = Rng::new(28);
    let x32 = on(rng.normal(&[7, 13], 0.0, 10.0, DType::F32).unwrap());
    let v32 = x32.to_vec_f32().unwrap();
    let x64 = x32.to_dtype(DType::F64).unwrap();
    assert_eq!(x64.dtype(), DType::F64);
    assert_eq!(x64.shape(), &[7, 13]);
    let back = x64.to_dtype(DType::F32).unwrap().to_vec_f32().unwrap();
    assert_eq!(
        v32.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        back.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(
        vals(&x64),
        v32.iter().map(|&x| x as f64).collect::<Vec<_>>()
    );
    // f64 → f32 rounds to nearest, like `as f32`.
    let y64 = on(rng.normal(&[5, 11], 0.0, 1e3, DType::F64).unwrap());
    let yv = vals(&y64);
    let y32 = y64.to_dtype(DType::F32).unwrap();
    assert_eq!(
        y32.to_vec_f32().unwrap(),
        yv.iter().map(|&x| x as f32).collect::<Vec<_>>()
    );
    assert_eq!(y64.to_vec_f32().unwrap(), y32.to_vec_f32().unwrap());
    // Same dtype is a cheap clone.
    assert!(y64.to_dtype(DType::F64).unwrap().same_data(&y64));
    // Constructors.
    assert_exact(
        &on(Tensor::full(&[2, 2], 0.1, DType::F32)),
        &[2, 2],
        &[0.1f32 as f64; 4],
        "full f32",
    );
    assert_exact(&on(Tensor::ones(&[3], DType::F64)), &[3], &[1.0; 3], "ones");
    assert_eq!(
        on(Tensor::scalar(4.0, DType::F32)).to_scalar().unwrap(),
        4.0
    );
    assert!(on(Tensor::zeros(&[2], DType::F64)).to_scalar().is_err());
}

#[test]
fn same_seed_gives_bit_identical_draws() {
    let draw = |seed: u64| {
        let mut rng = Rng::new(seed);
        let mut out = vec![];
        for dt in [DType::F32, DType::F64] {
            out.extend(vals(&rng.normal(&[3, 7], 0.5, 2.0, dt).unwrap()));
            out.extend(vals(&rng.uniform(&[5, 3], -1.0, 3.0, dt).unwrap()));
            out.extend(vals(&rng.bernoulli(&[11], 0.3, dt).unwrap()));
        }
        out.extend(rng.permutation(13).into_iter().map(|i| i as f64));
        out.push(rng.below(17) as f64);
        out
    };
    assert_eq!(bits(&draw(5)), bits(&draw(5)));
    assert_ne!(bits(&draw(5)), bits(&draw(6)));
    let u = vals(&Rng::new(1).uniform(&[1001], -1.0, 3.0, DType::F64).unwrap());
    assert!(u.iter().all(|&x| (-1.0..3.0).contains(&x)));
    let b = vals(&Rng::new(1).bernoulli(&[1001], 0.3, DType::F64).unwrap());
    assert!(b.iter().all(|&x| x == 0.0 || x == 1.0));
}

/// The heavy parallel kernels give bit-identical results on 1, 5 and the default number of
/// rayon threads.
fn deterministic_across_thread_counts(dt: DType) {
    // The pools' worker threads do not see this thread's test device: pass it along.
    let device = TEST_DEVICE.with(Cell::get);
    let on = |t: Tensor| t.to_device(device).unwrap();
    let run = || {
        let mut rng = Rng::new(29);
        let p = params([1, 2], [1, 1], [1, 1]);
        let x = on(rng.normal(&[17, 3, 12, 11], 0.0, 1.0, dt).unwrap());
        let w = on(rng.normal(&[5, 3, 3, 3], 0.0, 1.0, dt).unwrap());
        let y = x.conv2d(&w, p).unwrap();
        let g = on(rng.normal(y.shape(), 0.0, 1.0, dt).unwrap());
        let wg = x.conv2d_weight_grad(&g, p, [3, 3]).unwrap();
        let xg = g.conv2d_input_grad(&w, p, [12, 11]).unwrap();
        let a = on(rng.normal(&[300, 70], 0.0, 1.0, dt).unwrap());
        let b = on(rng.normal(&[70, 50], 0.0, 1.0, dt).unwrap());
        let m = a.matmul(&b).unwrap();
        let big = on(rng.normal(&[130, 140], 0.0, 1.0, dt).unwrap());
        let s = big.sum(&[0], false).unwrap();
        let sm = big.softmax(0).unwrap();
        [wg, y, xg, m, s, sm].map(|t| bits(&vals(&t)))
    };
    let pool = |n: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let default = run();
    let one = pool(1).install(run);
    let five = pool(5).install(run);
    let names = [
        "conv2d_weight_grad",
        "conv2d",
        "conv2d_input_grad",
        "matmul",
        "sum",
        "softmax",
    ];
    for i in 0..names.len() {
        assert!(
            default[i] == one[i],
            "{} differs between 1 thread and the default pool",
            names[i]
        );
        assert!(
            five[i] == one[i],
            "{} differs between 1 and 5 threads",
            names[i]
        );
    }
}
