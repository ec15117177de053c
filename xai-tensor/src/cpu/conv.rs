//! Convolution (im2col + gemm, col2im for its input gradient) and pooling kernels.

use super::matmul::{gemm, Mat};
use super::{for_each_chunk, PAR_WORK};
use crate::backend::{Conv2dParams, Pool2dParams, PoolBins};
use crate::Elem;
use rayon::prelude::*;

/// Images per partial sum of the weight gradient: fixed, so the sum order never depends on threads.
const IMAGES_PER_PARTIAL: usize = 8;

/// Geometry shared by im2col and col2im.
struct Geom {
    c: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    p: Conv2dParams,
}

impl Geom {
    /// Calls `f(col_row, first_col, input_offset, count)` for every run of in-bounds output
    /// pixels of one patch element along one output row: col columns `first_col..first_col +
    /// count` read the input at `input_offset + t * stride_w`. Visits in (c, i, j, oy) order.
    #[inline]
    fn for_each_run(&self, mut f: impl FnMut(usize, usize, usize, usize)) {
        let Conv2dParams {
            stride: [sh, sw],
            padding: [ph, pw],
            dilation: [dh, dw],
        } = self.p;
        for c in 0..self.c {
            for i in 0..self.kh {
                for j in 0..self.kw {
                    let row = (c * self.kh + i) * self.kw + j;
                    // ix = ox * sw + j * dw - pw must lie in 0..w.
                    let shift = j * dw;
                    let lo = if pw > shift {
                        (pw - shift).div_ceil(sw)
                    } else {
                        0
                    };
                    let hi = if self.w + pw > shift {
                        (self.w + pw - shift).div_ceil(sw).min(self.ow)
                    } else {
                        0
                    };
                    if lo >= hi {
                        continue;
                    }
                    for oy in 0..self.oh {
                        let iy = (oy * sh + i * dh) as isize - ph as isize;
                        if iy < 0 || iy >= self.h as isize {
                            continue;
                        }
                        let base = (c * self.h + iy as usize) * self.w;
                        let ix0 = lo * sw + shift - pw;
                        f(row, oy * self.ow + lo, base + ix0, hi - lo);
                    }
                }
            }
        }
    }

    /// Writes the patch matrix `[c·kh·kw, oh·ow]` of one image into `col` (resized as needed).
    fn im2col_into<T: Elem>(&self, x: &[T], col: &mut Vec<T>) {
        let n = self.oh * self.ow;
        col.clear();
        col.resize(self.c * self.kh * self.kw * n, T::zero());
        let sw = self.p.stride[1];
        self.for_each_run(|r, q, off, cnt| {
            let dst = &mut col[r * n + q..r * n + q + cnt];
            if sw == 1 {
                dst.copy_from_slice(&x[off..off + cnt]);
            } else {
                for (t, d) in dst.iter_mut().enumerate() {
                    *d = x[off + t * sw];
                }
            }
        });
    }

    fn im2col<T: Elem>(&self, x: &[T]) -> Vec<T> {
        let mut col = Vec::new();
        self.im2col_into(x, &mut col);
        col
    }

    fn col2im<T: Elem>(&self, col: &[T], dx: &mut [T]) {
        let n = self.oh * self.ow;
        let sw = self.p.stride[1];
        self.for_each_run(|r, q, off, cnt| {
            let src = &col[r * n + q..r * n + q + cnt];
            if sw == 1 {
                for (d, &v) in dx[off..off + cnt].iter_mut().zip(src) {
                    *d += v;
                }
            } else {
                for (t, &v) in src.iter().enumerate() {
                    dx[off + t * sw] += v;
                }
            }
        });
    }
}

/// Like [`for_each_chunk`], with one scratch buffer per worker reused across chunks.
fn for_each_chunk_scratch<T: Elem>(
    data: &mut [T],
    chunk: usize,
    parallel: bool,
    f: impl Fn(usize, &mut [T], &mut Vec<T>) + Sync + Send,
) {
    let chunk = chunk.max(1);
    if parallel {
        data.par_chunks_mut(chunk)
            .enumerate()
            .for_each_init(Vec::new, |buf, (i, c)| f(i, c, buf));
    } else {
        let mut buf = Vec::new();
        data.chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c, &mut buf));
    }
}

pub(crate) fn conv2d<T: Elem>(
    x: &[T],
    [n, c, h, w]: [usize; 4],
    wt: &[T],
    [o, _, kh, kw]: [usize; 4],
    p: Conv2dParams,
    [oh, ow]: [usize; 2],
) -> Vec<T> {
    let g = Geom {
        c,
        h,
        w,
        kh,
        kw,
        oh,
        ow,
        p,
    };
    let k = c * kh * kw;
    let mut out = vec![T::zero(); n * o * oh * ow];
    let img = c * h * w;
    let par = n > 1 && n * o * k * oh * ow >= PAR_WORK;
    for_each_chunk_scratch(&mut out, o * oh * ow, par, |b, dst, col| {
        g.im2col_into(&x[b * img..(b + 1) * img], col);
        gemm(
            Mat::new(wt, o, k),
            Mat::new(col, k, oh * ow),
            T::zero(),
            dst,
        );
    });
    out
}

pub(crate) fn conv2d_input_grad<T: Elem>(
    gy: &[T],
    [n, o, oh, ow]: [usize; 4],
    wt: &[T],
    [_, c, kh, kw]: [usize; 4],
    p: Conv2dParams,
    [h, w]: [usize; 2],
) -> Vec<T> {
    let g = Geom {
        c,
        h,
        w,
        kh,
        kw,
        oh,
        ow,
        p,
    };
    let k = c * kh * kw;
    let mut dx = vec![T::zero(); n * c * h * w];
    let plane = o * oh * ow;
    let par = n > 1 && n * o * k * oh * ow >= PAR_WORK;
    for_each_chunk_scratch(&mut dx, c * h * w, par, |b, dst, col| {
        col.clear();
        col.resize(k * oh * ow, T::zero());
        gemm(
            Mat::new(wt, o, k).t(),
            Mat::new(&gy[b * plane..(b + 1) * plane], o, oh * ow),
            T::zero(),
            col,
        );
        g.col2im(col, dst);
    });
    dx
}

pub(crate) fn conv2d_weight_grad<T: Elem>(
    x: &[T],
    [n, c, h, w]: [usize; 4],
    gy: &[T],
    [_, o, oh, ow]: [usize; 4],
    p: Conv2dParams,
    [kh, kw]: [usize; 2],
) -> Vec<T> {
    let g = Geom {
        c,
        h,
        w,
        kh,
        kw,
        oh,
        ow,
        p,
    };
    let k = c * kh * kw;
    let (img, plane) = (c * h * w, o * oh * ow);
    let partial = |chunk: usize| {
        let mut acc = vec![T::zero(); o * k];
        for b in chunk * IMAGES_PER_PARTIAL..((chunk + 1) * IMAGES_PER_PARTIAL).min(n) {
            let col = g.im2col(&x[b * img..(b + 1) * img]);
            let gm = Mat::new(&gy[b * plane..(b + 1) * plane], o, oh * ow);
            gemm(gm, Mat::new(&col, k, oh * ow).t(), T::one(), &mut acc);
        }
        acc
    };
    let chunks = 0..n.div_ceil(IMAGES_PER_PARTIAL);
    let partials: Vec<Vec<T>> = if n * o * k * oh * ow >= PAR_WORK {
        chunks.into_par_iter().map(partial).collect()
    } else {
        chunks.map(partial).collect()
    };
    let mut dw = vec![T::zero(); o * k];
    for part in partials {
        dw.iter_mut().zip(part).for_each(|(d, v)| *d += v);
    }
    dw
}

pub(crate) fn max_pool2d<T: Elem>(
    x: &[T],
    [n, c, h, w]: [usize; 4],
    p: Pool2dParams,
    [oh, ow]: [usize; 2],
) -> (Vec<T>, Vec<T>) {
    let planes = n * c;
    let mut vals = vec![T::zero(); planes * oh * ow];
    let mut idx = vec![T::zero(); planes * oh * ow];
    let out_plane = (oh * ow).max(1);
    let ([kh, kw], [sh, sw]) = (p.kernel, p.stride);
    let body = |q: usize, v: &mut [T], ix: &mut [T]| {
        let src = &x[q * h * w..(q + 1) * h * w];
        for oy in 0..oh {
            let v = &mut v[oy * ow..(oy + 1) * ow];
            let ix = &mut ix[oy * ow..(oy + 1) * ow];
            if kh == 2 && kw == 2 {
                // The common 2×2 window, unrolled; same visiting order and NaN rule as below.
                for ox in 0..ow {
                    let f = oy * sh * w + ox * sw;
                    let (r0, r1) = (&src[f..f + 2], &src[f + w..f + w + 2]);
                    let (mut best, mut at) = (r0[0], f);
                    for (s, o) in [(r0[1], f + 1), (r1[0], f + w), (r1[1], f + w + 1)] {
                        // Branch-free (noisy inputs make the comparison unpredictable).
                        let take = (s > best) | s.is_nan();
                        best = if take { s } else { best };
                        at = if take { o } else { at };
                    }
                    v[ox] = best;
                    ix[ox] = T::from_f64(at as i64 as f64);
                }
                continue;
            }
            for ox in 0..ow {
                let first = oy * sh * w + ox * sw;
                let (mut best, mut at) = (src[first], first);
                for i in 0..kh {
                    let row0 = first + i * w;
                    for (j, &s) in src[row0..row0 + kw].iter().enumerate() {
                        if s > best || s.is_nan() {
                            best = s;
                            at = row0 + j;
                        }
                    }
                }
                v[ox] = best;
                ix[ox] = T::from_f64(at as i64 as f64);
            }
        }
    };
    if planes * h * w >= PAR_WORK {
        vals.par_chunks_mut(out_plane)
            .zip(idx.par_chunks_mut(out_plane))
            .enumerate()
            .for_each(|(q, (v, ix))| body(q, v, ix));
    } else {
        vals.chunks_mut(out_plane)
            .zip(idx.chunks_mut(out_plane))
            .enumerate()
            .for_each(|(q, (v, ix))| body(q, v, ix));
    }
    (vals, idx)
}

pub(crate) fn avg_pool2d<T: Elem>(x: &[T], [n, c, h, w]: [usize; 4], bins: &PoolBins) -> Vec<T> {
    let (oh, ow) = (bins.h.len(), bins.w.len());
    let mut out = vec![T::zero(); n * c * oh * ow];
    for_each_chunk(&mut out, oh * ow, n * c * h * w >= PAR_WORK, |q, dst| {
        let src = &x[q * h * w..(q + 1) * h * w];
        for (a, &(y0, y1)) in bins.h.iter().enumerate() {
            for (b, &(x0, x1)) in bins.w.iter().enumerate() {
                let mut s = T::zero();
                for y in y0..y1 {
                    for xx in x0..x1 {
                        s += src[y * w + xx];
                    }
                }
                dst[a * ow + b] = s / T::from_f64(((y1 - y0) * (x1 - x0)) as f64);
            }
        }
    });
    out
}

pub(crate) fn avg_pool2d_backward<T: Elem>(
    g: &[T],
    [n, c, oh, ow]: [usize; 4],
    bins: &PoolBins,
    [h, w]: [usize; 2],
) -> Vec<T> {
    let mut dx = vec![T::zero(); n * c * h * w];
    for_each_chunk(&mut dx, h * w, n * c * h * w >= PAR_WORK, |q, dst| {
        let src = &g[q * oh * ow..(q + 1) * oh * ow];
        for (a, &(y0, y1)) in bins.h.iter().enumerate() {
            for (b, &(x0, x1)) in bins.w.iter().enumerate() {
                let v = src[a * ow + b] / T::from_f64(((y1 - y0) * (x1 - x0)) as f64);
                for y in y0..y1 {
                    for xx in x0..x1 {
                        dst[y * w + xx] += v;
                    }
                }
            }
        }
    });
    dx
}
