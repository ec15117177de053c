//! Reductions along axes, argmax and (log-)softmax.

use crate::backend::ReduceOp;
use crate::shape::{numel, split_at_axis, strides};
use crate::Elem;
use rayon::prelude::*;

/// Reduces `axes` (sorted, distinct). Reduced axes are moved last (a copy only when they are
/// not already trailing), then each contiguous group is folded in order: deterministic.
pub(crate) fn reduce<T: Elem>(v: &[T], op: ReduceOp, shape: &[usize], axes: &[usize]) -> Vec<T> {
    let rank = shape.len();
    if matches!(op, ReduceOp::Sum) && rank >= 3 && axes.len() == rank - 1 && !axes.contains(&1) {
        // Every axis but the channel axis 1: strided row sums, no permuted copy.
        let dims = [shape[0], shape[1], shape[2..].iter().product()];
        return super::channel::sum(v, dims)
            .into_iter()
            .map(T::from_f64)
            .collect();
    }
    let keep: Vec<usize> = (0..rank).filter(|d| !axes.contains(d)).collect();
    let group: usize = axes.iter().map(|&a| shape[a]).product();
    let trailing = axes
        .iter()
        .enumerate()
        .all(|(i, &a)| a == rank - axes.len() + i);
    let moved;
    let data = if trailing {
        v
    } else {
        let perm: Vec<usize> = keep.iter().chain(axes).copied().collect();
        let st = strides(shape);
        let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let pst: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
        moved = super::layout::strided_copy(v, &pst, &out);
        &moved[..]
    };
    let groups = numel(shape) / group.max(1);
    if group == 0 {
        return vec![T::zero(); groups];
    }
    let fold = |g: &[T]| -> T {
        match op {
            ReduceOp::Sum => g.iter().fold(T::zero(), |s, &x| s + x),
            ReduceOp::Max => {
                g.iter().fold(
                    T::neg_infinity(),
                    |m, &x| if x > m || x.is_nan() { x } else { m },
                )
            }
            ReduceOp::Min => g.iter().fold(
                T::infinity(),
                |m, &x| if x < m || x.is_nan() { x } else { m },
            ),
        }
    };
    if v.len() >= super::PAR_MIN {
        data.par_chunks(group).map(fold).collect()
    } else {
        data.chunks(group).map(fold).collect()
    }
}

pub(crate) fn argmax<T: Elem>(v: &[T], shape: &[usize], axis: usize) -> Vec<T> {
    let (outer, size, inner) = split_at_axis(shape, axis);
    let mut res = vec![T::zero(); outer * inner];
    for o in 0..outer {
        for i in 0..inner {
            let mut best = 0;
            for j in 1..size {
                let (x, b) = (
                    v[(o * size + j) * inner + i],
                    v[(o * size + best) * inner + i],
                );
                // The first NaN is the maximum, as in PyTorch.
                if x > b || (x.is_nan() && !b.is_nan()) {
                    best = j;
                }
            }
            res[o * inner + i] = T::from_f64(best as f64);
        }
    }
    res
}

pub(crate) fn softmax<T: Elem>(v: &[T], [_outer, size, inner]: [usize; 3], log: bool) -> Vec<T> {
    let mut res = vec![T::zero(); v.len()];
    let block = size * inner;
    if block == 0 {
        return res;
    }
    let body = |o: usize, dst: &mut [T]| {
        let src = &v[o * block..(o + 1) * block];
        for i in 0..inner {
            let m = (0..size)
                .map(|j| src[j * inner + i])
                .fold(T::neg_infinity(), T::max);
            let s: T = (0..size).map(|j| (src[j * inner + i] - m).exp()).sum();
            let ls = s.ln();
            for j in 0..size {
                let z = src[j * inner + i] - m;
                dst[j * inner + i] = if log { z - ls } else { z.exp() / s };
            }
        }
    };
    if v.len() >= super::PAR_MIN {
        res.par_chunks_mut(block)
            .enumerate()
            .for_each(|(o, d)| body(o, d));
    } else {
        res.chunks_mut(block)
            .enumerate()
            .for_each(|(o, d)| body(o, d));
    }
    res
}
