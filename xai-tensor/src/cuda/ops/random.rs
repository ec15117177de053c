//! Seeded random numbers on the device (`random.cu`).

use super::launch::linear;
use super::CudaStorage;
use crate::cuda::gpu::{device, Arg};
use crate::random::Dist;
use crate::shape::numel;
use crate::{DType, Result};

/// `shape` filled from Philox stream `stream` of `seed` on device `ordinal`, with the CPU's
/// counter layout (see `crate::random` and `random.cu`).
pub(crate) fn random(
    ordinal: usize,
    seed: u64,
    stream: u64,
    dist: Dist,
    shape: &[usize],
    dtype: DType,
) -> Result<CudaStorage> {
    let n = numel(shape);
    let out = CudaStorage::alloc(&device(ordinal)?, dtype, n)?;
    let (kind, p0, p1) = match dist {
        Dist::Uniform(lo, hi) => (0, lo, hi),
        Dist::Normal(mean, std) => (1, mean, std),
        Dist::Bernoulli(p) => (2, p, 0.0),
    };
    if n > 0 {
        out.run(
            "random",
            linear(n.div_ceil(2)),
            &[
                out.arg(),
                Arg::U32(n as u32),
                Arg::U32(seed as u32),
                Arg::U32((seed >> 32) as u32),
                Arg::U32(stream as u32),
                Arg::U32((stream >> 32) as u32),
                Arg::U32(kind),
                Arg::F64(p0),
                Arg::F64(p1),
            ],
        )?;
    }
    Ok(out)
}
