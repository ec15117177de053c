//! Per-channel kernels over `[N, C, inner]` buffers (axis 1 the channel): the statistics,
//! affine maps and sums of batch normalisation, each one pass over the data.
//!
//! Every per-channel sum is taken in f64, row by row (`n` ascending) with four lanes per
//! row: a fixed order, so results never depend on the thread count.

use super::PAR_MIN;
use crate::Elem;
use rayon::prelude::*;

/// Σ f(row[i]) over one contiguous row, in f64 with four lanes.
#[inline]
fn row_sum<T: Elem>(row: &[T], f: impl Fn(f64) -> f64) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut chunks = row.chunks_exact(4);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f(x.to_f64());
        }
    }
    let tail: f64 = chunks.remainder().iter().map(|&x| f(x.to_f64())).sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `out[c] = f(c)` for every channel, in parallel when the data is large.
fn per_channel<R: Send>(c: usize, numel: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    if numel >= PAR_MIN && c > 1 {
        (0..c).into_par_iter().map(f).collect()
    } else {
        (0..c).map(f).collect()
    }
}

/// Per-channel mean and biased variance (two passes: the mean, then Σ (x − mean)²).
pub(crate) fn moments<T: Elem>(x: &[T], [n, c, inner]: [usize; 3]) -> (Vec<f64>, Vec<f64>) {
    let count = (n * inner).max(1) as f64;
    let rows = |ch: usize| (0..n).map(move |b| (b * c + ch) * inner);
    let stats = per_channel(c, x.len(), |ch| {
        let mean = rows(ch)
            .map(|r| row_sum(&x[r..r + inner], |v| v))
            .sum::<f64>()
            / count;
        let var = rows(ch)
            .map(|r| {
                row_sum(&x[r..r + inner], |v| {
                    let d = v - mean;
                    d * d
                })
            })
            .sum::<f64>()
            / count;
        [mean, var]
    });
    stats.into_iter().map(|[m, v]| (m, v)).unzip()
}

/// Per-channel Σ x (a sum over every axis but 1, as for a convolution's bias gradient).
pub(crate) fn sum<T: Elem>(x: &[T], [n, c, inner]: [usize; 3]) -> Vec<f64> {
    per_channel(c, x.len(), |ch| {
        (0..n)
            .map(|b| (b * c + ch) * inner)
            .map(|r| row_sum(&x[r..r + inner], |v| v))
            .sum()
    })
}

/// Per-channel Σ g and Σ g·x.
pub(crate) fn sums<T: Elem>(g: &[T], x: &[T], [n, c, inner]: [usize; 3]) -> (Vec<f64>, Vec<f64>) {
    let stats = per_channel(c, g.len(), |ch| {
        let (mut sg, mut sgx) = (0.0, 0.0);
        for b in 0..n {
            let r = (b * c + ch) * inner;
            let (gr, xr) = (&g[r..r + inner], &x[r..r + inner]);
            sg += row_sum(gr, |v| v);
            let mut acc = [0.0f64; 4];
            let (gc, xc) = (gr.chunks_exact(4), xr.chunks_exact(4));
            let (gt, xt) = (gc.remainder(), xc.remainder());
            for (a, b) in gc.zip(xc) {
                for ((s, &u), &v) in acc.iter_mut().zip(a).zip(b) {
                    *s += u.to_f64() * v.to_f64();
                }
            }
            let tail: f64 = gt
                .iter()
                .zip(xt)
                .map(|(&u, &v)| u.to_f64() * v.to_f64())
                .sum();
            sgx += (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail;
        }
        [sg, sgx]
    });
    stats.into_iter().map(|[a, b]| (a, b)).unzip()
}

/// `out = a·p[c] + (b − m[c])·q[c] + r[c]` (`b` absent: `a·p[c] + r[c]`).
pub(crate) fn affine<T: Elem>(
    a: &[T],
    b: Option<(&[T], &[T], &[T])>,
    [_, c, inner]: [usize; 3],
    p: &[T],
    r: &[T],
) -> Vec<T> {
    let mut out = vec![T::zero(); a.len()];
    let inner = inner.max(1);
    let row = |i: usize, dst: &mut [T]| {
        let ch = i % c;
        let src = &a[i * inner..(i + 1) * inner];
        let (p, r) = (p[ch], r[ch]);
        match b {
            None => {
                for (d, &u) in dst.iter_mut().zip(src) {
                    *d = u * p + r;
                }
            }
            Some((b, m, q)) => {
                let (m, q) = (m[ch], q[ch]);
                for ((d, &u), &v) in dst.iter_mut().zip(src).zip(&b[i * inner..(i + 1) * inner]) {
                    *d = u * p + (v - m) * q + r;
                }
            }
        }
    };
    if a.len() >= PAR_MIN {
        // Rows are independent: any split gives the same bits.
        let per = (PAR_MIN / 8 / inner).max(1);
        out.par_chunks_mut(per * inner)
            .enumerate()
            .for_each(|(k, d)| {
                d.chunks_mut(inner)
                    .enumerate()
                    .for_each(|(j, dst)| row(k * per + j, dst))
            });
    } else {
        out.chunks_mut(inner)
            .enumerate()
            .for_each(|(i, dst)| row(i, dst));
    }
    out
}
