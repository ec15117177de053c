//! Element types: f32 for models, f64 where gradient checks need it.

use std::fmt::Debug;

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float, the default.
    F32,
    /// 64-bit float, for finite-difference checks and references.
    F64,
}

impl DType {
    /// Bytes per element.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }
}

/// A float type the CPU kernels are written for (f32 and f64).
pub trait Elem:
    num_traits::Float
    + ndarray::LinalgScalar
    + ndarray::ScalarOperand
    + Send
    + Sync
    + Debug
    + Default
    + std::iter::Sum
    + std::ops::AddAssign
    + 'static
{
    /// The dtype tag of this element type.
    const DTYPE: DType;
    /// Converts from f64 (rounding for f32).
    fn from_f64(x: f64) -> Self;
    /// Widens to f64.
    fn to_f64(self) -> f64;
    /// `out[i] = f(v[i])` for f ∈ {exp, tanh, logistic}: the platform's libm by default; f32
    /// overrides it with the vectorized kernels of `cpu::vmath` (a few ulps, see there).
    fn transcendental(f: Transcendental, v: &[Self], out: &mut [Self]) {
        let g: fn(Self) -> Self = match f {
            Transcendental::Exp => |x| x.exp(),
            Transcendental::Tanh => |x| x.tanh(),
            Transcendental::Sigmoid => |x| {
                if x >= Self::zero() {
                    Self::one() / (Self::one() + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (Self::one() + e)
                }
            },
        };
        for (o, &x) in out.iter_mut().zip(v) {
            *o = g(x);
        }
    }
}

/// The transcendental maps with a vectorized f32 kernel ([`Elem::transcendental`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transcendental {
    /// e^x.
    Exp,
    /// tanh x.
    Tanh,
    /// 1/(1 + e^{−x}).
    Sigmoid,
}

impl Elem for f32 {
    const DTYPE: DType = DType::F32;
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn transcendental(f: Transcendental, v: &[f32], out: &mut [f32]) {
        use crate::cpu::vmath;
        match f {
            Transcendental::Exp => vmath::exp_slice(v, out),
            Transcendental::Tanh => vmath::tanh_slice(v, out),
            Transcendental::Sigmoid => vmath::sigmoid_slice(v, out),
        }
    }
}

impl Elem for f64 {
    const DTYPE: DType = DType::F64;
    fn from_f64(x: f64) -> Self {
        x
    }
    fn to_f64(self) -> f64 {
        self
    }
}
