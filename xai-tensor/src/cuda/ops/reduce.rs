//! Reductions along axes (`reduce.cu`): sums, maxima and minima of rows (serially or by a
//! block and a shared-memory tree), argmax and (log-)softmax.

use super::launch::{linear, scalar, u32_of, MAX_BLOCKS};
use super::CudaStorage;
use crate::backend::ReduceOp;
use crate::cuda::gpu::{Arg, LaunchDims};
use crate::cuda::kernels::op_code;
use crate::shape::{numel, split_at_axis, strides};
use crate::Result;

/// Rows up to this length are folded by one thread each (in the CPU's order); longer rows by
/// a block and a shared-memory tree.
const SERIAL_ROW: usize = 64;

impl CudaStorage {
    /// Folds rows of `len` contiguous elements: serial for short rows, a block per row for
    /// long ones.
    fn reduce_rows(&self, op: ReduceOp, rows: usize, len: usize) -> Result<Self> {
        let (code, init) = match op {
            ReduceOp::Sum => (op_code("REDUCE_SUM"), 0.0),
            ReduceOp::Max => (op_code("REDUCE_MAX"), f64::NEG_INFINITY),
            ReduceOp::Min => (op_code("REDUCE_MIN"), f64::INFINITY),
        };
        if len == 0 {
            return self.filled(rows, 0.0);
        }
        let out = self.like(rows)?;
        if rows == 0 {
            return Ok(out);
        }
        let args = [
            self.arg(),
            out.arg(),
            Arg::U32(u32_of(rows)?),
            Arg::U32(u32_of(len)?),
            Arg::U32(code),
            scalar(self.dtype, init),
        ];
        if len <= SERIAL_ROW {
            self.run("reduce_rows_serial", linear(rows), &args)?;
        } else {
            let threads = len.next_power_of_two().clamp(32, 256) as u32;
            let dims = LaunchDims {
                grid: [rows.min(MAX_BLOCKS) as u32, 1, 1],
                block: [threads, 1, 1],
            };
            self.run("reduce_rows_tree", dims, &args)?;
        }
        Ok(out)
    }
}

pub(super) fn reduce(
    src: &CudaStorage,
    op: ReduceOp,
    shape: &[usize],
    axes: &[usize],
) -> Result<CudaStorage> {
    let rank = shape.len();
    let keep: Vec<usize> = (0..rank).filter(|d| !axes.contains(d)).collect();
    let group: usize = axes.iter().map(|&a| shape[a]).product();
    let groups = numel(shape)
        .checked_div(group)
        .unwrap_or_else(|| keep.iter().map(|&d| shape[d]).product());
    let trailing = axes
        .iter()
        .enumerate()
        .all(|(i, &a)| a == rank - axes.len() + i);
    if trailing || group == 0 {
        return src.reduce_rows(op, groups, group);
    }
    let perm: Vec<usize> = keep.iter().chain(axes).copied().collect();
    let st = strides(shape);
    let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let pst: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
    src.strided_copy(&pst, &out)?.reduce_rows(op, groups, group)
}

pub(super) fn argmax(src: &CudaStorage, shape: &[usize], axis: usize) -> Result<CudaStorage> {
    let (outer, size, inner) = split_at_axis(shape, axis);
    let n = outer * inner;
    if size == 0 {
        return src.filled(n, 0.0);
    }
    let out = src.like(n)?;
    if n > 0 {
        src.run(
            "argmax",
            linear(n),
            &[
                src.arg(),
                out.arg(),
                Arg::U32(u32_of(outer)?),
                Arg::U32(u32_of(size)?),
                Arg::U32(u32_of(inner)?),
            ],
        )?;
    }
    Ok(out)
}

pub(super) fn softmax(
    src: &CudaStorage,
    [outer, size, inner]: [usize; 3],
    log: bool,
) -> Result<CudaStorage> {
    let out = src.like(src.len)?;
    if src.len > 0 {
        src.run(
            "softmax",
            linear(outer * inner),
            &[
                src.arg(),
                out.arg(),
                Arg::U32(u32_of(outer)?),
                Arg::U32(u32_of(size)?),
                Arg::U32(u32_of(inner)?),
                Arg::U32(log as u32),
            ],
        )?;
    }
    Ok(out)
}
