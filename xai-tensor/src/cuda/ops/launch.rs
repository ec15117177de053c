//! The launch helpers every op family shares: grid-stride launch shapes, kernel arguments
//! (sizes as the kernels' u32, scalars of a storage's dtype, `Dims` words), the merging of axes
//! for the strided kernels, and [`CudaStorage::run`], which picks a kernel's f32 or f64 entry
//! point.

use super::CudaStorage;
use crate::cuda::gpu::{Arg, LaunchDims};
use crate::{bail, DType, Result};

/// Threads per block of the one-dimensional (grid-stride) kernels.
pub(super) const THREADS: u32 = 256;

/// Most blocks of a one-dimensional launch; larger tensors are covered by the grid-stride loop.
pub(super) const MAX_BLOCKS: usize = 65_535;

/// Axes a strided kernel accepts (`XAI_MAX_DIMS` in common.cuh).
pub(super) const MAX_DIMS: usize = 8;

/// A size as the kernels' u32 (tensors are limited to 2³¹ elements on the device).
pub(super) fn u32_of(n: usize) -> Result<u32> {
    if n > i32::MAX as usize {
        bail!("cuda", "{n} elements exceed the CUDA backend's 2^31 limit");
    }
    Ok(n as u32)
}

pub(super) fn scalar(dtype: DType, v: f64) -> Arg {
    match dtype {
        DType::F32 => Arg::F32(v as f32),
        DType::F64 => Arg::F64(v),
    }
}

/// Grid-stride launch shape for `n` items.
pub(super) fn linear(n: usize) -> LaunchDims {
    LaunchDims {
        grid: [
            n.div_ceil(THREADS as usize).clamp(1, MAX_BLOCKS) as u32,
            1,
            1,
        ],
        block: [THREADS, 1, 1],
    }
}

/// Up to [`MAX_DIMS`] words of a `Dims` argument.
pub(super) fn dims_arg(v: &[usize]) -> Result<Arg> {
    let mut w = vec![0u32; MAX_DIMS];
    for (d, &x) in w.iter_mut().zip(v) {
        *d = u32_of(x)?;
    }
    Ok(Arg::Words(w))
}

/// Merges adjacent axes that every stride set walks as one, so strided kernels see few axes.
pub(super) fn coalesce(out: &[usize], sets: &[Vec<usize>]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let (mut o, mut s): (Vec<usize>, Vec<Vec<usize>>) = (vec![], vec![vec![]; sets.len()]);
    for d in 0..out.len() {
        let merge = !o.is_empty()
            && sets
                .iter()
                .zip(&s)
                .all(|(st, acc)| acc[acc.len() - 1] == st[d] * out[d]);
        if merge {
            let k = o.len() - 1;
            o[k] *= out[d];
            for (st, acc) in sets.iter().zip(s.iter_mut()) {
                acc[k] = st[d];
            }
        } else {
            o.push(out[d]);
            for (st, acc) in sets.iter().zip(s.iter_mut()) {
                acc.push(st[d]);
            }
        }
    }
    (o, s)
}

pub(super) fn check_rank(op: &'static str, shape: &[usize]) -> Result<()> {
    if shape.len() > MAX_DIMS {
        bail!(
            op,
            "the CUDA backend handles up to {MAX_DIMS} (merged) axes, got {shape:?}"
        );
    }
    Ok(())
}

impl CudaStorage {
    /// Runs kernel `name` over `n` items in place on the buffers in `args` (tests of the
    /// kernels that no op calls yet: the fused optimizer updates).
    #[cfg(all(test, feature = "cuda-emu"))]
    pub(crate) fn run_linear(&self, name: &str, n: usize, args: &[Arg]) -> Result<()> {
        self.run(name, linear(n), args)
    }

    /// Device address of this buffer, as a kernel argument.
    #[cfg(all(test, feature = "cuda-emu"))]
    pub(crate) fn ptr_arg(&self) -> Arg {
        self.arg()
    }

    /// Runs `name_f32` or `name_f64` (this storage's dtype).
    pub(super) fn run(&self, name: &str, dims: LaunchDims, args: &[Arg]) -> Result<()> {
        let sfx = match self.dtype {
            DType::F32 => "f32",
            DType::F64 => "f64",
        };
        self.gpu().launch(&format!("{name}_{sfx}"), dims, args)
    }
}
