//! Elementwise kernels: unary maps, broadcast binary maps, select.

use super::PAR_MIN;
use crate::backend::{BinaryOp, UnaryOp};
use crate::shape::{broadcast_strides, numel};
use crate::{Elem, Transcendental};
use rayon::prelude::*;

/// Maps `f` over `v`, in parallel blocks for large buffers.
pub(crate) fn map<T: Elem>(v: &[T], f: impl Fn(T) -> T + Sync + Send) -> Vec<T> {
    super::build(v.len(), |at, out| {
        let src = &v[at..at + out.len()];
        for (o, &x) in out.iter_mut().zip(src) {
            o.write(f(x));
        }
    })
}

/// `f(a[i], b[i])` for equally long `a` and `b`, in parallel blocks for large buffers.
fn zip<T: Elem>(a: &[T], b: &[T], f: impl Fn(T, T) -> T + Sync + Send) -> Vec<T> {
    assert_eq!(a.len(), b.len(), "zip of unequal lengths");
    super::build(a.len(), |at, out| {
        let n = out.len();
        let (a, b) = (&a[at..at + n], &b[at..at + n]);
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            o.write(f(x, y));
        }
    })
}

/// 0 where `x <= 0`, else `g` (ReLU's gradient, PyTorch's `threshold_backward`; NaN passes
/// `g`): one pass.
pub(crate) fn gate_positive<T: Elem>(g: &[T], x: &[T]) -> Vec<T> {
    let zero = T::zero();
    zip(g, x, move |g, x| if x <= zero { zero } else { g })
}

/// [`Elem::transcendental`] over `v`, in parallel blocks for large buffers.
fn transcendental<T: Elem>(v: &[T], f: Transcendental) -> Vec<T> {
    let mut out = vec![T::zero(); v.len()];
    if v.len() >= PAR_MIN {
        out.par_chunks_mut(PAR_MIN / 4)
            .zip(v.par_chunks(PAR_MIN / 4))
            .for_each(|(o, v)| T::transcendental(f, v, o));
    } else {
        T::transcendental(f, v, &mut out);
    }
    out
}

pub(crate) fn unary<T: Elem>(v: &[T], op: UnaryOp) -> Vec<T> {
    let (zero, one) = (T::zero(), T::one());
    match op {
        UnaryOp::Neg => map(v, |x| -x),
        UnaryOp::Exp => transcendental(v, Transcendental::Exp),
        UnaryOp::Log => map(v, |x| x.ln()),
        UnaryOp::Sqrt => map(v, |x| x.sqrt()),
        UnaryOp::Abs => map(v, |x| x.abs()),
        UnaryOp::Sign => map(v, |x| {
            if x > zero {
                one
            } else if x < zero {
                -one
            } else {
                zero
            }
        }),
        // NaN passes, as in PyTorch (`x <= 0` is false for NaN).
        UnaryOp::Relu => map(v, |x| if x <= zero { zero } else { x }),
        UnaryOp::Step => map(v, |x| if x > zero { one } else { zero }),
        UnaryOp::Sigmoid => transcendental(v, Transcendental::Sigmoid),
        UnaryOp::Tanh => transcendental(v, Transcendental::Tanh),
        UnaryOp::Softplus => map(v, |x| x.max(zero) + (-x.abs()).exp().ln_1p()),
        UnaryOp::Recip => map(v, |x| one / x),
        UnaryOp::Square => map(v, |x| x * x),
        UnaryOp::Powf(p) => {
            let p = T::from_f64(p);
            map(v, move |x| x.powf(p))
        }
        UnaryOp::Affine(a, b) => {
            let (a, b) = (T::from_f64(a), T::from_f64(b));
            map(v, move |x| a * x + b)
        }
        UnaryOp::LeakyRelu(s) => {
            let s = T::from_f64(s);
            map(v, move |x| if x > zero { x } else { s * x })
        }
        UnaryOp::Clamp(lo, hi) => {
            let (lo, hi) = (T::from_f64(lo), T::from_f64(hi));
            // NaN stays NaN, as in PyTorch (`f64::max` would return `lo`).
            map(v, move |x| {
                if x < lo {
                    lo
                } else if x > hi {
                    hi
                } else {
                    x
                }
            })
        }
        UnaryOp::GtScalar(c) => {
            let c = T::from_f64(c);
            map(v, move |x| if x > c { one } else { zero })
        }
    }
}

fn flag<T: Elem>(b: bool) -> T {
    if b {
        T::one()
    } else {
        T::zero()
    }
}

pub(crate) fn binary<T: Elem>(
    op: BinaryOp,
    a: &[T],
    ls: &[usize],
    b: &[T],
    rs: &[usize],
    out: &[usize],
) -> Vec<T> {
    match op {
        BinaryOp::Add => zip_broadcast(a, ls, b, rs, out, |x, y| x + y),
        BinaryOp::Sub => zip_broadcast(a, ls, b, rs, out, |x, y| x - y),
        BinaryOp::Mul => zip_broadcast(a, ls, b, rs, out, |x, y| x * y),
        BinaryOp::Div => zip_broadcast(a, ls, b, rs, out, |x, y| x / y),
        // A NaN on either side wins, as in PyTorch's maximum/minimum.
        BinaryOp::Maximum => {
            zip_broadcast(
                a,
                ls,
                b,
                rs,
                out,
                |x, y| {
                    if y > x || y.is_nan() {
                        y
                    } else {
                        x
                    }
                },
            )
        }
        BinaryOp::Minimum => {
            zip_broadcast(
                a,
                ls,
                b,
                rs,
                out,
                |x, y| {
                    if y < x || y.is_nan() {
                        y
                    } else {
                        x
                    }
                },
            )
        }
        BinaryOp::Gt => zip_broadcast(a, ls, b, rs, out, |x, y| flag(x > y)),
        BinaryOp::Ge => zip_broadcast(a, ls, b, rs, out, |x, y| flag(x >= y)),
        BinaryOp::Lt => zip_broadcast(a, ls, b, rs, out, |x, y| flag(x < y)),
        BinaryOp::Le => zip_broadcast(a, ls, b, rs, out, |x, y| flag(x <= y)),
        BinaryOp::Eq => zip_broadcast(a, ls, b, rs, out, |x, y| flag(x == y)),
    }
}

/// `out[i] = f(a[·], b[·])` with NumPy broadcasting; rows along the last axis run contiguously.
fn zip_broadcast<T: Elem>(
    a: &[T],
    ls: &[usize],
    b: &[T],
    rs: &[usize],
    out: &[usize],
    f: impl Fn(T, T) -> T + Sync + Send,
) -> Vec<T> {
    let n = numel(out);
    if ls == rs {
        return zip(a, b, f);
    }
    if b.len() == 1 {
        let y = b[0];
        return map(a, |x| f(x, y));
    }
    if a.len() == 1 {
        let x = a[0];
        return map(b, |y| f(x, y));
    }
    let (out, sa, sb) = coalesce(
        out,
        &broadcast_strides(ls, out),
        &broadcast_strides(rs, out),
    );
    let rank = out.len();
    let last = out[rank - 1].max(1);
    let (la, lb) = (sa[rank - 1], sb[rank - 1]);
    let mut res = vec![T::zero(); n];
    let row = |r: usize, dst: &mut [T]| {
        let (mut oa, mut ob, mut rem) = (0, 0, r);
        for d in (0..rank - 1).rev() {
            let i = rem % out[d];
            rem /= out[d];
            oa += i * sa[d];
            ob += i * sb[d];
        }
        let len = dst.len();
        match (la, lb) {
            (1, 1) => {
                let (ra, rb) = (&a[oa..oa + len], &b[ob..ob + len]);
                for ((o, &x), &y) in dst.iter_mut().zip(ra).zip(rb) {
                    *o = f(x, y);
                }
            }
            (1, 0) => {
                let y = b[ob];
                for (o, &x) in dst.iter_mut().zip(&a[oa..oa + len]) {
                    *o = f(x, y);
                }
            }
            (0, 1) => {
                let x = a[oa];
                for (o, &y) in dst.iter_mut().zip(&b[ob..ob + len]) {
                    *o = f(x, y);
                }
            }
            _ => {
                for (j, o) in dst.iter_mut().enumerate() {
                    *o = f(a[oa + j * la], b[ob + j * lb]);
                }
            }
        }
    };
    if n >= PAR_MIN {
        res.par_chunks_mut(last)
            .enumerate()
            .for_each(|(r, dst)| row(r, dst));
    } else {
        res.chunks_mut(last)
            .enumerate()
            .for_each(|(r, dst)| row(r, dst));
    }
    res
}

/// Merges adjacent output axes that both operands walk as one (`stride[d] = stride[d + 1] ·
/// out[d + 1]` for each, broadcast axes included), so rows are as long as possible.
fn coalesce(out: &[usize], sa: &[usize], sb: &[usize]) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    let (mut o, mut a, mut b) = (vec![out[0]], vec![sa[0]], vec![sb[0]]);
    for d in 1..out.len() {
        let k = o.len() - 1;
        if a[k] == sa[d] * out[d] && b[k] == sb[d] * out[d] {
            o[k] *= out[d];
            a[k] = sa[d];
            b[k] = sb[d];
        } else {
            o.push(out[d]);
            a.push(sa[d]);
            b.push(sb[d]);
        }
    }
    (o, a, b)
}

pub(crate) fn select<T: Elem>(mask: &[f64], a: &[T], b: &[T]) -> Vec<T> {
    mask.iter()
        .zip(a.iter().zip(b))
        .map(|(&m, (&x, &y))| if m != 0.0 { x } else { y })
        .collect()
}
