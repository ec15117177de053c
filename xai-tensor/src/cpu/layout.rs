//! Copies that move data around: strided copy (permute, broadcast), narrow, cat, gather/scatter.

use super::{for_each_chunk, PAR_MIN};
use crate::shape::numel;
use crate::Elem;
use rayon::prelude::*;

/// Writes a contiguous `out`-shaped tensor whose element at multi-index i is `v[Σ i_d · st_d]`.
pub(crate) fn strided_copy<T: Elem>(v: &[T], st: &[usize], out: &[usize]) -> Vec<T> {
    let n = numel(out);
    if out.is_empty() {
        return v[..1].to_vec();
    }
    let rank = out.len();
    let last = out[rank - 1].max(1);
    let ls = st[rank - 1];
    let mut res = vec![T::zero(); n];
    let row = |r: usize, dst: &mut [T]| {
        let (mut off, mut rem) = (0, r);
        for d in (0..rank - 1).rev() {
            off += (rem % out[d]) * st[d];
            rem /= out[d];
        }
        if ls == 1 {
            dst.copy_from_slice(&v[off..off + dst.len()]);
        } else {
            for (j, o) in dst.iter_mut().enumerate() {
                *o = v[off + j * ls];
            }
        }
    };
    if n >= PAR_MIN {
        res.par_chunks_mut(last)
            .enumerate()
            .for_each(|(r, d)| row(r, d));
    } else {
        res.chunks_mut(last)
            .enumerate()
            .for_each(|(r, d)| row(r, d));
    }
    res
}

pub(crate) fn narrow<T: Elem>(
    v: &[T],
    [outer, size, inner]: [usize; 3],
    start: usize,
    len: usize,
) -> Vec<T> {
    let mut res = Vec::with_capacity(outer * len * inner);
    for o in 0..outer {
        let base = (o * size + start) * inner;
        res.extend_from_slice(&v[base..base + len * inner]);
    }
    res
}

pub(crate) fn cat<T: Elem>(parts: &[(&[T], usize)], outer: usize, inner: usize) -> Vec<T> {
    let total: usize = parts.iter().map(|(_, n)| n).sum();
    let mut res = Vec::with_capacity(outer * total * inner);
    for o in 0..outer {
        for (p, n) in parts {
            res.extend_from_slice(&p[o * n * inner..(o + 1) * n * inner]);
        }
    }
    res
}

pub(crate) fn gather<T: Elem>(
    v: &[T],
    [outer, size, inner]: [usize; 3],
    idx: &[usize],
    len: usize,
) -> Vec<T> {
    let mut res = vec![T::zero(); outer * len * inner];
    for o in 0..outer {
        for j in 0..len {
            for i in 0..inner {
                let k = (o * len + j) * inner + i;
                res[k] = v[(o * size + idx[k]) * inner + i];
            }
        }
    }
    res
}

/// `res[o, idx[o, j, i], i] += v[o, j, i]` into a zeroed `[outer, size, inner]` result.
pub(crate) fn scatter_add<T: Elem, I: Elem>(
    v: &[T],
    [outer, len, inner]: [usize; 3],
    idx: &[I],
    size: usize,
) -> Option<Vec<T>> {
    let mut res = vec![T::zero(); outer * size * inner];
    let plane = size * inner;
    // Indices are read as stored (floats), each checked to be an integer in 0..size as it is
    // used; any other value makes the whole result `None` (the caller names the bad index).
    let body = |o: usize, dst: &mut [T]| -> bool {
        let mut ok = true;
        for j in 0..len {
            let k0 = (o * len + j) * inner;
            for (i, (&x, &g)) in idx[k0..k0 + inner]
                .iter()
                .zip(&v[k0..k0 + inner])
                .enumerate()
            {
                let f = x.to_f64();
                let u = f as usize;
                let good = (u as f64 == f) & (u < size);
                ok &= good;
                if good {
                    dst[u * inner + i] += g;
                }
            }
        }
        ok
    };
    let ok = if res.len() >= PAR_MIN && plane > 0 {
        res.par_chunks_mut(plane)
            .enumerate()
            .map(|(o, d)| body(o, d))
            .reduce(|| true, |a, b| a & b)
    } else if plane > 0 {
        res.chunks_mut(plane)
            .enumerate()
            .fold(true, |a, (o, d)| body(o, d) & a)
    } else {
        true
    };
    ok.then_some(res)
}

pub(crate) fn index_select<T: Elem>(
    v: &[T],
    [outer, size, inner]: [usize; 3],
    idx: &[usize],
) -> Vec<T> {
    let mut res = vec![T::zero(); outer * idx.len() * inner];
    let par = res.len() >= PAR_MIN;
    for_each_chunk(&mut res, idx.len() * inner, par, |o, dst| {
        let src = &v[o * size * inner..(o + 1) * size * inner];
        if inner == 1 {
            for (d, &j) in dst.iter_mut().zip(idx) {
                *d = src[j];
            }
        } else {
            for (d, &j) in dst.chunks_mut(inner.max(1)).zip(idx) {
                d.copy_from_slice(&src[j * inner..(j + 1) * inner]);
            }
        }
    });
    res
}

pub(crate) fn index_add<T: Elem>(
    v: &[T],
    [outer, len, inner]: [usize; 3],
    idx: &[usize],
    size: usize,
) -> Vec<T> {
    let mut res = vec![T::zero(); outer * size * inner];
    let par = outer * len * inner >= PAR_MIN;
    // Each outer block of the result is summed by one task, in index order: deterministic.
    for_each_chunk(&mut res, size * inner, par, |o, dst| {
        let src = &v[o * len * inner..(o + 1) * len * inner];
        for (j, &t) in idx.iter().enumerate().take(len) {
            let (d, s) = (
                &mut dst[t * inner..(t + 1) * inner],
                &src[j * inner..(j + 1) * inner],
            );
            d.iter_mut().zip(s).for_each(|(d, &s)| *d += s);
        }
    });
    res
}
