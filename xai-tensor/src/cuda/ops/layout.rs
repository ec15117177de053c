//! Copies that move data around (`elementwise.cu`'s strided and block copies, `index.cu`):
//! broadcast, permute, narrow, cat, gather/scatter_add and index_select/index_add.

use super::launch::{check_rank, coalesce, dims_arg, linear, u32_of};
use super::{Buffer, CudaStorage};
use crate::backend::BackendStorage;
use crate::cuda::gpu::Arg;
use crate::shape::{broadcast_strides, numel, strides};
use crate::{bail, Error, Result};

impl CudaStorage {
    /// `out[i] = self[Σ k_d·st_d]` over the multi-index k of `out`.
    pub(super) fn strided_copy(&self, st: &[usize], out: &[usize]) -> Result<Self> {
        let n = numel(out);
        let res = self.like(n)?;
        if n == 0 {
            return Ok(res);
        }
        let (shape, sets) = coalesce(out, &[st.to_vec()]);
        check_rank("strided copy", &shape)?;
        self.run(
            "strided_copy",
            linear(n),
            &[
                self.arg(),
                res.arg(),
                Arg::U32(n as u32),
                Arg::U32(shape.len() as u32),
                dims_arg(&shape)?,
                dims_arg(&sets[0])?,
            ],
        )?;
        Ok(res)
    }

    /// `blocks` runs of `len` from `src` (offset, stride) into `self` (offset, stride).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn copy_blocks_from(
        &self,
        src: &Self,
        blocks: usize,
        len: usize,
        src_stride: usize,
        src_off: usize,
        dst_stride: usize,
        dst_off: usize,
    ) -> Result<()> {
        if blocks * len == 0 {
            return Ok(());
        }
        self.run(
            "copy_blocks",
            linear(blocks * len),
            &[
                src.arg(),
                self.arg(),
                Arg::U32(u32_of(blocks)?),
                Arg::U32(u32_of(len)?),
                Arg::U32(u32_of(src_stride)?),
                Arg::U32(u32_of(src_off)?),
                Arg::U32(u32_of(dst_stride)?),
                Arg::U32(u32_of(dst_off)?),
            ],
        )
    }
}

/// Host index values (stored as floats) as integers below `bound`, with the CPU's messages.
fn checked_indices(op: &'static str, v: &[f64], bound: usize) -> Result<Vec<usize>> {
    v.iter()
        .map(|&x| {
            if !(x.is_finite() && x >= 0.0 && x.fract() == 0.0) {
                bail!(op, "index {x} is not a non-negative integer");
            }
            if x as usize >= bound {
                bail!(op, "index {x} out of range for an axis of size {bound}");
            }
            Ok(x as usize)
        })
        .collect()
}

pub(super) fn broadcast_to(
    src: &CudaStorage,
    shape: &[usize],
    out: &[usize],
) -> Result<CudaStorage> {
    src.strided_copy(&broadcast_strides(shape, out), out)
}

pub(super) fn permute(src: &CudaStorage, shape: &[usize], perm: &[usize]) -> Result<CudaStorage> {
    let st = strides(shape);
    let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let pst: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
    src.strided_copy(&pst, &out)
}

pub(super) fn narrow(
    src: &CudaStorage,
    [outer, size, inner]: [usize; 3],
    start: usize,
    len: usize,
) -> Result<CudaStorage> {
    let out = src.like(outer * len * inner)?;
    out.copy_blocks_from(
        src,
        outer,
        len * inner,
        size * inner,
        start * inner,
        len * inner,
        0,
    )?;
    Ok(out)
}

pub(super) fn cat(
    parts: &[(&CudaStorage, usize)],
    outer: usize,
    inner: usize,
) -> Result<CudaStorage> {
    let (first, _) = parts.first().ok_or_else(|| Error::BadArgument {
        op: "cat",
        msg: "nothing to concatenate".into(),
    })?;
    let total: usize = parts.iter().map(|(_, n)| n).sum();
    let out = first.like(outer * total * inner)?;
    let mut at = 0;
    for (p, n) in parts {
        first.check_peer("cat", p)?;
        out.copy_blocks_from(p, outer, n * inner, n * inner, 0, total * inner, at * inner)?;
        at += n;
    }
    Ok(out)
}

pub(super) fn gather(
    src: &CudaStorage,
    [outer, size, inner]: [usize; 3],
    index: &CudaStorage,
    len: usize,
) -> Result<CudaStorage> {
    let idx = checked_indices("gather", &index.to_f64_vec()?, size)?;
    let n = outer * len * inner;
    let out = src.like(n)?;
    if n > 0 {
        let ib = Buffer::indices(src.gpu(), &idx)?;
        src.run(
            "gather",
            linear(n),
            &[
                src.arg(),
                Arg::Ptr(ib.ptr),
                out.arg(),
                Arg::U32(u32_of(outer)?),
                Arg::U32(u32_of(size)?),
                Arg::U32(u32_of(inner)?),
                Arg::U32(u32_of(len)?),
            ],
        )?;
    }
    Ok(out)
}

pub(super) fn scatter_add(
    src: &CudaStorage,
    [outer, len, inner]: [usize; 3],
    index: &CudaStorage,
    size: usize,
) -> Result<CudaStorage> {
    let idx = checked_indices("scatter_add", &index.to_f64_vec()?, size)?;
    let n = outer * size * inner;
    let out = src.like(n)?;
    if n > 0 {
        let ib = Buffer::indices(src.gpu(), &idx)?;
        src.run(
            "scatter_add",
            linear(n),
            &[
                src.arg(),
                Arg::Ptr(ib.ptr),
                out.arg(),
                Arg::U32(u32_of(outer)?),
                Arg::U32(u32_of(len)?),
                Arg::U32(u32_of(inner)?),
                Arg::U32(u32_of(size)?),
            ],
        )?;
    }
    Ok(out)
}

pub(super) fn index_select(
    src: &CudaStorage,
    [outer, size, inner]: [usize; 3],
    index: &[usize],
) -> Result<CudaStorage> {
    if let Some(&bad) = index.iter().find(|&&i| i >= size) {
        bail!(
            "index_select",
            "index {bad} out of range for an axis of size {size}"
        );
    }
    let n = outer * index.len() * inner;
    let out = src.like(n)?;
    if n > 0 {
        let ib = Buffer::indices(src.gpu(), index)?;
        src.run(
            "index_select",
            linear(n),
            &[
                src.arg(),
                Arg::Ptr(ib.ptr),
                out.arg(),
                Arg::U32(u32_of(outer)?),
                Arg::U32(u32_of(size)?),
                Arg::U32(u32_of(inner)?),
                Arg::U32(u32_of(index.len())?),
            ],
        )?;
    }
    Ok(out)
}

pub(super) fn index_add(
    src: &CudaStorage,
    [outer, len, inner]: [usize; 3],
    index: &[usize],
    size: usize,
) -> Result<CudaStorage> {
    if let Some(&bad) = index.iter().find(|&&i| i >= size) {
        bail!(
            "index_add",
            "index {bad} out of range for an axis of size {size}"
        );
    }
    let n = outer * size * inner;
    let out = src.like(n)?;
    if n > 0 {
        let ib = Buffer::indices(src.gpu(), &index[..len.min(index.len())])?;
        src.run(
            "index_add",
            linear(n),
            &[
                src.arg(),
                Arg::Ptr(ib.ptr),
                out.arg(),
                Arg::U32(u32_of(outer)?),
                Arg::U32(u32_of(len.min(index.len()))?),
                Arg::U32(u32_of(inner)?),
                Arg::U32(u32_of(size)?),
            ],
        )?;
    }
    Ok(out)
}
