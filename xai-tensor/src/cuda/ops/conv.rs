//! Convolution and pooling (`conv.cu`): conv2d and its two gradients as im2col (or col2im) of
//! a chunk of images plus batched GEMM; max, average and adaptive pooling.

use super::launch::{linear, u32_of};
use super::{Buffer, CudaStorage};
use crate::backend::{BackendStorage, BinaryOp, Conv2dParams, Pool2dParams, PoolBins, ReduceOp};
use crate::cuda::gpu::Arg;
use crate::Result;

/// Elements of im2col scratch per convolution chunk (256 MiB of f32).
const COL_ELEMS: usize = 1 << 26;

impl CudaStorage {
    fn conv_geom(
        n: usize,
        x: [usize; 4],
        k: [usize; 2],
        o: [usize; 2],
        p: Conv2dParams,
    ) -> Result<Arg> {
        let v = [
            n,
            x[1],
            x[2],
            x[3],
            k[0],
            k[1],
            o[0],
            o[1],
            p.stride[0],
            p.stride[1],
            p.padding[0],
            p.padding[1],
            p.dilation[0],
            p.dilation[1],
        ];
        Ok(Arg::Words(
            v.iter().map(|&x| u32_of(x)).collect::<Result<_>>()?,
        ))
    }

    /// im2col of images `b0..b0 + nb` of `x: [n, c, h, w]` into `col: [nb, c·kh·kw, oh·ow]`.
    fn im2col(
        &self,
        x: [usize; 4],
        b0: usize,
        nb: usize,
        k: [usize; 2],
        o: [usize; 2],
        p: Conv2dParams,
    ) -> Result<Self> {
        let rows = x[1] * k[0] * k[1];
        let n = nb * rows * o[0] * o[1];
        let col = self.like(n)?;
        if n > 0 {
            self.run(
                "im2col",
                linear(n),
                &[
                    self.at(b0 * x[1] * x[2] * x[3]),
                    col.arg(),
                    Self::conv_geom(nb, x, k, o, p)?,
                ],
            )?;
        }
        Ok(col)
    }

    /// Images per im2col chunk.
    fn conv_chunk(n: usize, col_per_image: usize) -> usize {
        (COL_ELEMS / col_per_image.max(1)).clamp(1, n.max(1))
    }

    fn pool_bins(&self, bins: &PoolBins) -> Result<(Buffer, Buffer)> {
        let flat =
            |v: &[(usize, usize)]| -> Vec<usize> { v.iter().flat_map(|&(a, b)| [a, b]).collect() };
        Ok((
            Buffer::indices(self.gpu(), &flat(&bins.h))?,
            Buffer::indices(self.gpu(), &flat(&bins.w))?,
        ))
    }

    /// Launches the average-pooling kernel `kernel` (forward or backward: both take the
    /// input, the output, the bins and N·C, H, W, OH, OW) over `m` outputs.
    fn run_avg_pool(
        &self,
        kernel: &str,
        m: usize,
        dims: [usize; 5],
        bins: &PoolBins,
    ) -> Result<Self> {
        let out = self.like(m)?;
        if m > 0 {
            let (hb, wb) = self.pool_bins(bins)?;
            let mut args = vec![self.arg(), out.arg(), Arg::Ptr(hb.ptr), Arg::Ptr(wb.ptr)];
            for d in dims {
                args.push(Arg::U32(u32_of(d)?));
            }
            self.run(kernel, linear(m), &args)?;
        }
        Ok(out)
    }
}

pub(super) fn conv2d(
    src: &CudaStorage,
    x: [usize; 4],
    w: &CudaStorage,
    wd: [usize; 4],
    p: Conv2dParams,
    o: [usize; 2],
) -> Result<CudaStorage> {
    src.check_peer("conv2d", w)?;
    let (n, oc, kk) = (x[0], wd[0], [wd[2], wd[3]]);
    let (k, plane) = (x[1] * kk[0] * kk[1], o[0] * o[1]);
    let out = src.like(n * oc * plane)?;
    let chunk = CudaStorage::conv_chunk(n, k * plane);
    for b0 in (0..n).step_by(chunk) {
        let nb = chunk.min(n - b0);
        let col = src.im2col(x, b0, nb, kk, o, p)?;
        // out[b] = w [o, k] · col[b] [k, plane], the weight shared by the batch.
        CudaStorage::gemm(
            (w, 0, 0, false),
            (&col, 0, k * plane, false),
            (&out, b0 * oc * plane, oc * plane),
            [oc, plane, k],
            nb,
            0.0,
        )?;
    }
    Ok(out)
}

pub(super) fn conv2d_input_grad(
    src: &CudaStorage,
    g: [usize; 4],
    w: &CudaStorage,
    wd: [usize; 4],
    p: Conv2dParams,
    hw: [usize; 2],
) -> Result<CudaStorage> {
    src.check_peer("conv2d_input_grad", w)?;
    let (n, oc, c) = (g[0], g[1], wd[1]);
    let (kk, o) = ([wd[2], wd[3]], [g[2], g[3]]);
    let (k, plane, img) = (c * kk[0] * kk[1], o[0] * o[1], c * hw[0] * hw[1]);
    let dx = src.like(n * img)?;
    let chunk = CudaStorage::conv_chunk(n, k * plane);
    for b0 in (0..n).step_by(chunk) {
        let nb = chunk.min(n - b0);
        // col[b] = wᵀ [k, o] · g[b] [o, plane], then col2im.
        let col = src.like(nb * k * plane)?;
        CudaStorage::gemm(
            (w, 0, 0, true),
            (src, b0 * oc * plane, oc * plane, false),
            (&col, 0, k * plane),
            [k, plane, oc],
            nb,
            0.0,
        )?;
        let m = nb * img;
        if m > 0 {
            src.run(
                "col2im",
                linear(m),
                &[
                    col.arg(),
                    dx.at(b0 * img),
                    CudaStorage::conv_geom(nb, [n, c, hw[0], hw[1]], kk, o, p)?,
                ],
            )?;
        }
    }
    Ok(dx)
}

pub(super) fn conv2d_weight_grad(
    src: &CudaStorage,
    x: [usize; 4],
    g: &CudaStorage,
    gd: [usize; 4],
    p: Conv2dParams,
    kk: [usize; 2],
) -> Result<CudaStorage> {
    src.check_peer("conv2d_weight_grad", g)?;
    let (n, oc, o) = (x[0], gd[1], [gd[2], gd[3]]);
    let (k, plane) = (x[1] * kk[0] * kk[1], o[0] * o[1]);
    let mut dw: Option<CudaStorage> = None;
    let chunk = CudaStorage::conv_chunk(n, k * plane + oc * k);
    for b0 in (0..n).step_by(chunk) {
        let nb = chunk.min(n - b0);
        let col = src.im2col(x, b0, nb, kk, o, p)?;
        // partial[b] = g[b] [o, plane] · col[b]ᵀ [plane, k], summed over the chunk.
        let partial = src.like(nb * oc * k)?;
        CudaStorage::gemm(
            (g, b0 * oc * plane, oc * plane, false),
            (&col, 0, k * plane, true),
            (&partial, 0, oc * k),
            [oc, k, plane],
            nb,
            0.0,
        )?;
        let sum = partial.reduce(ReduceOp::Sum, &[nb, oc * k], &[0])?;
        dw = Some(match dw {
            None => sum,
            Some(acc) => acc.binary(BinaryOp::Add, &[oc * k], &sum, &[oc * k], &[oc * k])?,
        });
    }
    match dw {
        Some(d) => Ok(d),
        None => src.filled(oc * k, 0.0),
    }
}

pub(super) fn max_pool2d(
    src: &CudaStorage,
    [n, c, h, w]: [usize; 4],
    p: Pool2dParams,
    [oh, ow]: [usize; 2],
) -> Result<(CudaStorage, CudaStorage)> {
    let m = n * c * oh * ow;
    let (vals, idx) = (src.like(m)?, src.like(m)?);
    if m > 0 {
        let u = |v: usize| u32_of(v).map(Arg::U32);
        src.run(
            "max_pool",
            linear(m),
            &[
                src.arg(),
                vals.arg(),
                idx.arg(),
                u(n * c)?,
                u(h)?,
                u(w)?,
                u(oh)?,
                u(ow)?,
                u(p.kernel[0])?,
                u(p.kernel[1])?,
                u(p.stride[0])?,
                u(p.stride[1])?,
            ],
        )?;
    }
    Ok((vals, idx))
}

pub(super) fn avg_pool2d(
    src: &CudaStorage,
    [n, c, h, w]: [usize; 4],
    bins: &PoolBins,
) -> Result<CudaStorage> {
    let (oh, ow) = (bins.h.len(), bins.w.len());
    src.run_avg_pool("avg_pool", n * c * oh * ow, [n * c, h, w, oh, ow], bins)
}

pub(super) fn avg_pool2d_backward(
    src: &CudaStorage,
    [n, c, oh, ow]: [usize; 4],
    bins: &PoolBins,
    [h, w]: [usize; 2],
) -> Result<CudaStorage> {
    src.run_avg_pool(
        "avg_pool_backward",
        n * c * h * w,
        [n * c, h, w, oh, ow],
        bins,
    )
}
