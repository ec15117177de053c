//! Convolution (im2col + gemm, col2im for its input gradient) and pooling kernels.

use super::matmul::{gemm, Mat};
use super::{for_each_chunk, PAR_WORK};
use crate::backend::{Conv2dParams, Pool2dParams, PoolBins};
use crate::Elem;
use rayon::prelude::*;
use std::mem::MaybeUninit;

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

    /// Writes one image's patch matrix `[c·kh·kw, oh·ow]` into columns `at..at + oh·ow` of
    /// `col` (rows `ld` long). Entries a padded window reads outside the image are not
    /// written: they must be zero already ([`Patches`] keeps them so).
    fn im2col_at<T: Elem>(&self, x: &[T], col: &mut [T], ld: usize, at: usize) {
        let sw = self.p.stride[1];
        self.for_each_run(|r, q, off, cnt| {
            let dst = &mut col[r * ld + at + q..r * ld + at + q + cnt];
            if sw == 1 {
                dst.copy_from_slice(&x[off..off + cnt]);
            } else {
                for (t, d) in dst.iter_mut().enumerate() {
                    *d = x[off + t * sw];
                }
            }
        });
    }

    /// Adds columns `at..at + oh·ow` of `col` (rows `ld` long) back onto one image: the
    /// adjoint of [`Geom::im2col_at`].
    fn col2im_at<T: Elem>(&self, col: &[T], ld: usize, at: usize, dx: &mut [T]) {
        let sw = self.p.stride[1];
        self.for_each_run(|r, q, off, cnt| {
            let src = &col[r * ld + at + q..r * ld + at + q + cnt];
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

    /// Whether the output is as wide as the input at unit stride and dilation ("same"
    /// padding, the common 3×3 convolution): then each patch row of an image is its input
    /// shifted by (i − ph, j − pw), one block copy per row.
    fn same_width(&self) -> bool {
        let p = &self.p;
        p.stride == [1, 1]
            && p.dilation == [1, 1]
            && self.ow == self.w
            && p.padding[0] < self.h
            && p.padding[1] < self.w
    }

    /// [`Geom::im2col_at`] for [`Geom::same_width`] geometry: one block copy per patch row,
    /// then the border columns it overwrote set back to zero. Rows a window reads from padding
    /// are not written: they must be zero already ([`Patches`] keeps them so).
    fn im2col_same_width<T: Elem>(&self, x: &[T], col: &mut [T], ld: usize, at: usize) {
        let (h, w, oh) = (self.h, self.w, self.oh);
        let [ph, pw] = self.p.padding;
        let zero = T::zero();
        for c in 0..self.c {
            for i in 0..self.kh {
                for j in 0..self.kw {
                    let r = (c * self.kh + i) * self.kw + j;
                    let dst = &mut col[r * ld + at..r * ld + at + oh * w];
                    // Output rows oy read input row oy + i − ph, in 0..h for oy in oy0..oy1.
                    let oy0 = ph.saturating_sub(i).min(oh);
                    let oy1 = (h + ph).saturating_sub(i).clamp(oy0, oh);
                    // dst[d] = x[base + d] over the valid rows, base = (c·h + i − ph)·w + j − pw,
                    // clipped to the image (what is clipped lies in the border columns).
                    let base = ((c * h + i) * w + j) as isize - (ph * w + pw) as isize;
                    let lo = ((oy0 * w) as isize).max(-base) as usize;
                    let hi = ((oy1 * w) as isize)
                        .min(x.len() as isize - base)
                        .max(lo as isize) as usize;
                    let from = (base + lo as isize) as usize;
                    dst[lo..hi].copy_from_slice(&x[from..from + hi - lo]);
                    // Columns whose ix = ox + j − pw falls outside 0..w.
                    let (left, right) = (pw.saturating_sub(j), (j + w).saturating_sub(pw + w));
                    if left + right > 0 {
                        // Element by element: one or two per row, too few for a memset call.
                        for row in dst[oy0 * w..oy1 * w].chunks_exact_mut(w) {
                            for v in &mut row[..left.min(w)] {
                                *v = zero;
                            }
                            for v in &mut row[w - right.min(w)..] {
                                *v = zero;
                            }
                        }
                    }
                }
            }
        }
    }

    /// [`Geom::col2im_at`] for [`Geom::same_width`] geometry: each patch row added back onto
    /// its shifted input, one contiguous run per output row (one per row block when the
    /// window column is centred).
    fn col2im_same_width<T: Elem>(&self, col: &[T], ld: usize, at: usize, dx: &mut [T]) {
        let (h, w, oh) = (self.h, self.w, self.oh);
        let [ph, pw] = self.p.padding;
        for c in 0..self.c {
            for i in 0..self.kh {
                for j in 0..self.kw {
                    let r = (c * self.kh + i) * self.kw + j;
                    let src = &col[r * ld + at..r * ld + at + oh * w];
                    let oy0 = ph.saturating_sub(i).min(oh);
                    let oy1 = (h + ph).saturating_sub(i).clamp(oy0, oh);
                    let (left, right) = (pw.saturating_sub(j), (j + w).saturating_sub(pw + w));
                    // dx[base + d] += src[d] for in-bounds d (see im2col_same_width).
                    let base = ((c * h + i) * w + j) as isize - (ph * w + pw) as isize;
                    let add = |dx: &mut [T], d0: usize, d1: usize| {
                        let from = (base + d0 as isize) as usize;
                        for (y, &v) in dx[from..from + d1 - d0].iter_mut().zip(&src[d0..d1]) {
                            *y += v;
                        }
                    };
                    if left + right == 0 {
                        add(dx, oy0 * w, oy1 * w);
                    } else {
                        for oy in oy0..oy1 {
                            let d = oy * w;
                            if left + right < w {
                                add(dx, d + left, d + w - right);
                            }
                        }
                    }
                }
            }
        }
    }

    /// The patch matrix `[c·kh·kw, imgs·oh·ow]` of `imgs` consecutive images of `x`, side by
    /// side, into `col`; returns it.
    fn im2col_group<'a, T: Elem>(&self, x: &[T], imgs: usize, col: &'a mut Patches<T>) -> &'a [T] {
        let img = self.c * self.h * self.w;
        let (pl, k) = (self.oh * self.ow, self.c * self.kh * self.kw);
        let ld = imgs * pl;
        let col = col.zeroed(k * ld, ld);
        let same = self.same_width();
        for j in 0..imgs {
            let x = &x[j * img..(j + 1) * img];
            if same {
                self.im2col_same_width(x, col, ld, j * pl);
            } else {
                self.im2col_at(x, col, ld, j * pl);
            }
        }
        col
    }
}

/// Scratch for patch matrices of one convolution's geometry. Entries a window reads from
/// padding are the same for every group of a layout (row length `ld`) and im2col never writes
/// them, so the buffer is cleared once per layout, not once per group.
#[derive(Default)]
struct Patches<T> {
    buf: Vec<T>,
    /// The row length whose padding entries `buf` holds as zeros.
    layout: Option<usize>,
}

impl<T: Elem> Patches<T> {
    /// `n` elements whose padding entries for rows `ld` long are zero.
    fn zeroed(&mut self, n: usize, ld: usize) -> &mut [T] {
        if self.layout != Some(ld) || self.buf.len() < n {
            self.buf.clear();
            self.buf.resize(n, T::zero());
            self.layout = Some(ld);
        }
        &mut self.buf[..n]
    }
}

/// Columns a convolution's products aim at: images are grouped so that each gemm multiplies
/// by about this many patch columns (one image's plane is small: 14×14 = 196 columns).
const COLS_PER_GEMM: usize = 1024;

/// Images per gemm for `n` images of `plane` output pixels: fixed by the shape alone, so the
/// sums never depend on the thread count.
fn images_per_group(n: usize, plane: usize) -> usize {
    let groups = (n * plane).div_ceil(COLS_PER_GEMM).clamp(1, n.max(1));
    n.div_ceil(groups).max(1)
}

/// `dst[r, j·plane..(j + 1)·plane] = src[j, r, :]` for `imgs` images of `rows` rows: image-major
/// data side by side as one `[rows, imgs·plane]` matrix.
fn side_by_side<T: Elem>(src: &[T], dst: &mut [T], rows: usize, imgs: usize, plane: usize) {
    let ld = imgs * plane;
    for j in 0..imgs {
        for r in 0..rows {
            let (a, b) = ((j * rows + r) * plane, r * ld + j * plane);
            dst[b..b + plane].copy_from_slice(&src[a..a + plane]);
        }
    }
}

/// The upstream gradient of images `first..first + imgs` as one `[o, imgs·plane]` matrix:
/// the slice itself for one image, else regrouped into `buf`.
fn upstream_group<'a, T: Elem>(
    gy: &'a [T],
    [first, imgs]: [usize; 2],
    o: usize,
    plane: usize,
    buf: &'a mut Vec<T>,
) -> &'a [T] {
    let src = &gy[first * o * plane..(first + imgs) * o * plane];
    if imgs == 1 {
        return src;
    }
    let dst = scratch(buf, o * imgs * plane);
    side_by_side(src, dst, o, imgs, plane);
    dst
}

/// Grows `buf` to at least `n` elements (never shrinking, never clearing) and returns them:
/// for scratch that is fully overwritten.
fn scratch<T: Elem>(buf: &mut Vec<T>, n: usize) -> &mut [T] {
    if buf.len() < n {
        buf.resize(n, T::zero());
    }
    &mut buf[..n]
}

/// Tasks a pass over `chunks` equal chunks is split into: one contiguous run of chunks per
/// thread (so each task's scratch is set up once), or one task when not `parallel`. Returns
/// the chunks per task.
fn chunks_per_task(chunks: usize, parallel: bool) -> usize {
    let tasks = if parallel {
        rayon::current_num_threads()
    } else {
        1
    };
    chunks.div_ceil(tasks.max(1)).max(1)
}

/// Like [`for_each_chunk`], with scratch `S` per task reused across its chunks: `f(index,
/// chunk, scratch)`.
fn for_each_chunk_scratch<S: Default + Send, D: Send>(
    data: &mut [D],
    chunk: usize,
    parallel: bool,
    f: impl Fn(usize, &mut [D], &mut S) + Sync + Send,
) {
    let chunk = chunk.max(1);
    let per = chunks_per_task(data.len().div_ceil(chunk), parallel);
    let run = |t: usize, run: &mut [D]| {
        let mut buf = S::default();
        for (i, c) in run.chunks_mut(chunk).enumerate() {
            f(t * per + i, c, &mut buf);
        }
    };
    if parallel {
        data.par_chunks_mut(chunk * per)
            .enumerate()
            .for_each(|(t, r)| run(t, r));
    } else {
        run(0, data);
    }
}

/// Convolution by im2col and one gemm per group of images (`W [o, k] · cols [k, imgs·oh·ow]`).
pub(crate) fn conv2d<T: Elem>(
    x: &[T],
    [n, c, h, w]: [usize; 4],
    wt: &[T],
    [o, _, kh, kw]: [usize; 4],
    p: Conv2dParams,
    [oh, ow]: [usize; 2],
    bias: Option<&[T]>,
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
    let (k, pl, img) = (c * kh * kw, oh * ow, c * h * w);
    let gs = images_per_group(n, pl);
    let par = n > gs && n * o * k * pl >= PAR_WORK;
    let total = n * o * pl;
    let mut out: Vec<T> = Vec::with_capacity(total);
    // Every element of a group's chunk is written once below (a fill then the product, or the
    // regrouped product plus bias), so the output is not zeroed first.
    for_each_chunk_scratch(
        &mut out.spare_capacity_mut()[..total],
        gs * o * pl,
        par,
        |gi, dst, (col, prod): &mut (Patches<T>, Vec<T>)| {
            let imgs = dst.len() / (o * pl).max(1);
            let ld = imgs * pl;
            let col = g.im2col_group(&x[gi * gs * img..], imgs, col);
            let a = Mat::new(wt, o, k);
            if imgs == 1 {
                let bias = bias.map(|b| &b[..o]);
                for (r, row) in dst.chunks_mut(pl.max(1)).enumerate() {
                    let v = bias.map_or(T::zero(), |b| b[r]);
                    row.iter_mut().for_each(|y| {
                        y.write(v);
                    });
                }
                // SAFETY: every element of `dst` was written just above.
                let dst = unsafe { &mut *(dst as *mut [MaybeUninit<T>] as *mut [T]) };
                let beta = if bias.is_some() { T::one() } else { T::zero() };
                gemm(a, Mat::new(col, k, ld), beta, dst);
            } else {
                let prod = scratch(prod, o * ld);
                gemm(a, Mat::new(col, k, ld), T::zero(), prod);
                // dst[j, r, :] = prod[r, j·pl..(j + 1)·pl] + bias[r].
                for j in 0..imgs {
                    for r in 0..o {
                        let v = bias.map_or(T::zero(), |b| b[r]);
                        let (a, b) = ((j * o + r) * pl, r * ld + j * pl);
                        for (y, &p) in dst[a..a + pl].iter_mut().zip(&prod[b..b + pl]) {
                            y.write(p + v);
                        }
                    }
                }
            }
        },
    );
    // SAFETY: the chunks cover all `total` elements and each was written in full above.
    unsafe { out.set_len(total) };
    out
}

/// The input gradient of a convolution (see [`conv2d_backward`]).
pub(crate) fn conv2d_input_grad<T: Elem>(
    gy: &[T],
    gd: [usize; 4],
    wt: &[T],
    [_, c, kh, kw]: [usize; 4],
    p: Conv2dParams,
    [h, w]: [usize; 2],
) -> Vec<T> {
    let dims = [gd[0], c, h, w];
    let (dx, _) = conv2d_backward(gy, gd, None, Some(wt), dims, [kh, kw], p);
    dx.unwrap_or_default()
}

/// The weight gradient of a convolution (see [`conv2d_backward`]).
pub(crate) fn conv2d_weight_grad<T: Elem>(
    x: &[T],
    xd: [usize; 4],
    gy: &[T],
    gd: [usize; 4],
    p: Conv2dParams,
    k_hw: [usize; 2],
) -> Vec<T> {
    let (_, dw) = conv2d_backward(gy, gd, Some(x), None, xd, k_hw, p);
    dw.unwrap_or_default()
}

/// Both gradients of a convolution from `gy: [n, o, oh, ow]` in one pass over the groups of
/// images, each group's upstream gradient arranged once as `G [o, imgs·oh·ow]` for both
/// products: the input gradient `col2im(Wᵀ [k, o] · G)` when the weight `wt` is given, the
/// weight gradient `Σ_groups G · colsᵀ` (one partial per group, summed in group order) when
/// the input `x` is given. `xd` is the input's shape `[n, c, h, w]`.
pub(crate) fn conv2d_backward<T: Elem>(
    gy: &[T],
    [n, o, oh, ow]: [usize; 4],
    x: Option<&[T]>,
    wt: Option<&[T]>,
    [_, c, h, w]: [usize; 4],
    [kh, kw]: [usize; 2],
    p: Conv2dParams,
) -> (Option<Vec<T>>, Option<Vec<T>>) {
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
    let (k, pl, img) = (c * kh * kw, oh * ow, c * h * w);
    let gs = images_per_group(n, pl);
    let groups = n.div_ceil(gs);
    let par = n > gs && n * o * k * pl >= PAR_WORK;
    let per = chunks_per_task(groups, par);
    let same = g.same_width();
    // Groups t·per.. of one task; `dx` the task's images of the input gradient.
    let run = |t: usize, mut dx: Option<&mut [T]>| -> Vec<Vec<T>> {
        let (mut patches, mut gt, mut cols) = (Patches::default(), Vec::new(), Vec::new());
        let mut partials = Vec::new();
        for gi in t * per..((t + 1) * per).min(groups) {
            let imgs = gs.min(n - gi * gs);
            let ld = imgs * pl;
            let b = upstream_group(gy, [gi * gs, imgs], o, pl, &mut gt);
            if let Some(x) = x {
                let col = g.im2col_group(&x[gi * gs * img..], imgs, &mut patches);
                let mut acc = vec![T::zero(); o * k];
                gemm(
                    Mat::new(b, o, ld),
                    Mat::new(col, k, ld).t(),
                    T::zero(),
                    &mut acc,
                );
                partials.push(acc);
            }
            if let (Some(wt), Some(dx)) = (wt, dx.as_deref_mut()) {
                let col = scratch(&mut cols, k * ld);
                gemm(Mat::new(wt, o, k).t(), Mat::new(b, o, ld), T::zero(), col);
                let first = (gi - t * per) * gs;
                for j in 0..imgs {
                    let dx = &mut dx[(first + j) * img..(first + j + 1) * img];
                    if same {
                        g.col2im_same_width(col, ld, j * pl, dx);
                    } else {
                        g.col2im_at(col, ld, j * pl, dx);
                    }
                }
            }
        }
        partials
    };
    let mut dx = wt.map(|_| vec![T::zero(); n * img]);
    let tasks = groups.div_ceil(per);
    let partials: Vec<Vec<Vec<T>>> = match (dx.as_deref_mut(), par) {
        (Some(d), true) => d
            .par_chunks_mut((per * gs * img).max(1))
            .enumerate()
            .map(|(t, d)| run(t, Some(d)))
            .collect(),
        (None, true) => (0..tasks).into_par_iter().map(|t| run(t, None)).collect(),
        (d, false) => vec![run(0, d)],
    };
    let dw = x.map(|_| {
        let mut dw = vec![T::zero(); o * k];
        for part in partials.into_iter().flatten() {
            dw.iter_mut().zip(part).for_each(|(d, v)| *d += v);
        }
        dw
    });
    (dx, dw)
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
            if kh == 2 && kw == 2 && sh == 2 && sw == 2 {
                // 2×2 windows at stride 2, the common case: adjacent pairs of two rows; the
                // same visiting order and NaN rule as below.
                let f0 = 2 * oy * w;
                let (r0, r1) = (&src[f0..f0 + 2 * ow], &src[f0 + w..f0 + w + 2 * ow]);
                let pairs = r0.chunks_exact(2).zip(r1.chunks_exact(2));
                for (ox, ((v, ix), (a, b))) in
                    v.iter_mut().zip(ix.iter_mut()).zip(pairs).enumerate()
                {
                    let f = f0 + 2 * ox;
                    let (mut best, mut at) = (a[0], f);
                    for (s, o) in [(a[1], f + 1), (b[0], f + w), (b[1], f + w + 1)] {
                        let take = (s > best) | s.is_nan();
                        best = if take { s } else { best };
                        at = if take { o } else { at };
                    }
                    *v = best;
                    *ix = T::from_f64(at as f64);
                }
                continue;
            }
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
