//! Forward correctness of every op family of [`Tensor`] against slow, obviously right
//! references written here (naive loops in f64), one file per family. Each generic body
//! `fn name(dt: DType)` is instantiated for f32 and f64 by [`for_both_dtypes!`] as the tests
//! `family::name::on_f32` and `family::name::on_f64`. Inputs come from the seeded [`Rng`];
//! shapes are small and ragged. This file holds what the families share: the test device, the
//! instantiating macro, tolerances, input makers, comparisons and index arithmetic.
#![allow(clippy::needless_range_loop)]

use crate::{Conv2dParams, DType, Device, Rng, Tensor};
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

/// Instantiates each `fn name(dt: DType)` of the family file that invokes it as the tests
/// `name::on_f32` and `name::on_f64`; with the `cuda-emu` feature on the emulated CUDA device as
/// `name::on_f32_emu` and `name::on_f64_emu`; with the `cuda` feature on a real GPU, where one
/// is usable, as `name::on_f32_cuda` and `name::on_f64_cuda`.
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
                crate::tests::with_device(crate::cuda::emulator(), || super::$name(crate::DType::F32))
            }
            #[cfg(feature = "cuda-emu")]
            #[test]
            fn on_f64_emu() {
                crate::tests::with_device(crate::cuda::emulator(), || super::$name(crate::DType::F64))
            }
            #[cfg(feature = "cuda")]
            #[test]
            fn on_f32_cuda() {
                crate::tests::on_real_gpu(|| super::$name(crate::DType::F32))
            }
            #[cfg(feature = "cuda")]
            #[test]
            fn on_f64_cuda() {
                crate::tests::on_real_gpu(|| super::$name(crate::DType::F64))
            }
        }
    )*};
}

// ---- the families (declared after the macro they invoke) ------------------------------------

mod conv;
mod conv_transpose;
mod determinism;
mod elementwise;
mod layout;
mod matmul;
mod pool;
mod reduce;
mod resample;

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

/// Convolution parameters (the convolution tests and the determinism check).
fn params(stride: [usize; 2], padding: [usize; 2], dilation: [usize; 2]) -> Conv2dParams {
    Conv2dParams {
        stride,
        padding,
        dilation,
    }
}
