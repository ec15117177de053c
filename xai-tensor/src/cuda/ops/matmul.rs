//! Batched matrix products (`gemm.cu`): one tiled GEMM kernel, transposes and shared operands
//! as strides; convolutions reuse it.

use super::launch::{scalar, u32_of};
use super::CudaStorage;
use crate::cuda::gpu::{Arg, LaunchDims};
use crate::Result;

/// Output tile of the GEMM kernel (`GEMM_TILE` in gemm.cu).
const GEMM_TILE: usize = 16;

/// Largest grid z (batch) of one GEMM launch.
const MAX_GRID_Z: usize = 65_535;

impl CudaStorage {
    /// Batched `c_b = op(a_b)·op(b_b) (+ beta·c_b)`, offsets and batch strides in elements
    /// (stride 0 shares an operand), split into launches of at most [`MAX_GRID_Z`] batches.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn gemm(
        a: (&Self, usize, usize, bool),
        b: (&Self, usize, usize, bool),
        c: (&Self, usize, usize),
        [m, n, k]: [usize; 3],
        batch: usize,
        beta: f64,
    ) -> Result<()> {
        if m * n * batch == 0 {
            return Ok(());
        }
        let mut done = 0;
        while done < batch {
            let nb = (batch - done).min(MAX_GRID_Z);
            let dims = LaunchDims {
                grid: [
                    n.div_ceil(GEMM_TILE) as u32,
                    m.div_ceil(GEMM_TILE) as u32,
                    nb as u32,
                ],
                block: [GEMM_TILE as u32, GEMM_TILE as u32, 1],
            };
            c.0.run(
                "gemm",
                dims,
                &[
                    a.0.at(a.1 + done * a.2),
                    b.0.at(b.1 + done * b.2),
                    c.0.at(c.1 + done * c.2),
                    Arg::U32(u32_of(m)?),
                    Arg::U32(u32_of(n)?),
                    Arg::U32(u32_of(k)?),
                    Arg::U64(a.2 as u64),
                    Arg::U64(b.2 as u64),
                    Arg::U64(c.2 as u64),
                    Arg::U32(a.3 as u32),
                    Arg::U32(b.3 as u32),
                    scalar(c.0.dtype, beta),
                ],
            )?;
            done += nb;
        }
        Ok(())
    }
}

pub(super) fn matmul(
    src: &CudaStorage,
    l: [usize; 3],
    rhs: &CudaStorage,
    r: [usize; 3],
) -> Result<CudaStorage> {
    src.check_peer("matmul", rhs)?;
    let ([ba, m, k], [bb, _, n]) = (l, r);
    let batch = ba.max(bb);
    let out = src.like(batch * m * n)?;
    let sa = if ba == 1 { 0 } else { m * k };
    let sb = if bb == 1 { 0 } else { k * n };
    CudaStorage::gemm(
        (src, 0, sa, false),
        (rhs, 0, sb, false),
        (&out, 0, m * n),
        [m, n, k],
        batch,
        0.0,
    )?;
    Ok(out)
}
