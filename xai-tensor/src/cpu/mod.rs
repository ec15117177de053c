//! The CPU backend: contiguous row-major buffers and hand-written kernels, generic over
//! [`Elem`]; gemm through BLAS, rayon across rows, images and batches.

pub(crate) mod channel;
pub(crate) mod conv;
pub(crate) mod elementwise;
mod layout;
mod matmul;
mod reduce;
pub(crate) mod vmath;

/// Sets OpenBLAS to one thread per call (rayon owns the cores), as the products here do: call
/// it before using BLAS or LAPACK directly (ndarray-linalg), so that concurrent calls stay
/// single-threaded.
pub fn single_threaded_blas() {
    matmul::init_blas();
}

use crate::backend::{
    BackendStorage, BinaryOp, Conv2dParams, Pool2dParams, PoolBins, ReduceOp, UnaryOp,
};
use crate::{DType, Elem, Error, Result};

/// Host memory of one tensor.
#[derive(Clone, Debug, PartialEq)]
pub enum CpuStorage {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Below this many elements a kernel runs on one thread.
pub(crate) const PAR_MIN: usize = 1 << 15;

/// Below this many multiply-adds a convolution, pooling or batched product runs on the calling
/// thread: handing small work to the rayon pool costs more (wake-ups, latches) than it saves.
pub(crate) const PAR_WORK: usize = 1 << 18;

/// glibc hands every freed buffer above its (dynamic) mmap threshold back to the kernel and
/// trims the heap top eagerly, so the same few-MiB activation buffers of a forward/backward
/// pass are page-faulted in again on every chunk (a quarter of the run time of a batched
/// attribution). Keeps up to 32 MiB blocks on the heap and freed memory mapped instead.
/// Once per process, from the first gemm; other allocators and platforms are left alone.
pub(crate) fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(
                param: std::os::raw::c_int,
                value: std::os::raw::c_int,
            ) -> std::os::raw::c_int;
        }
        const M_TRIM_THRESHOLD: std::os::raw::c_int = -1;
        const M_TOP_PAD: std::os::raw::c_int = -2;
        const M_MMAP_THRESHOLD: std::os::raw::c_int = -3;
        // SAFETY: glibc's documented tuning call; it only changes allocation policy.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 32 << 20);
            mallopt(M_TRIM_THRESHOLD, 1 << 30);
            mallopt(M_TOP_PAD, 64 << 20);
        }
    }
}

/// Elements per parallel task of an elementwise kernel.
pub(crate) const ELEMS_PER_TASK: usize = 1 << 15;

/// A vector of `n` elements written by `fill(offset, chunk)` over pieces of [`ELEMS_PER_TASK`]
/// (in parallel from [`PAR_MIN`] elements), without zeroing it first. `fill` must write every
/// element of the chunk it is given: the callers zip it with an input slice of the chunk's
/// own length.
pub(crate) fn build<T: Elem>(
    n: usize,
    fill: impl Fn(usize, &mut [std::mem::MaybeUninit<T>]) + Sync + Send,
) -> Vec<T> {
    use rayon::prelude::*;
    let mut out = Vec::with_capacity(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    if n >= PAR_MIN {
        spare
            .par_chunks_mut(ELEMS_PER_TASK)
            .enumerate()
            .for_each(|(i, c)| fill(i * ELEMS_PER_TASK, c));
    } else {
        fill(0, spare);
    }
    // SAFETY: `fill` wrote all n elements (each call writes its whole chunk, see above).
    unsafe { out.set_len(n) };
    out
}

/// Runs `f(index, chunk)` over `chunk`-sized pieces of `data`, in parallel when `parallel`.
pub(crate) fn for_each_chunk<T: Send>(
    data: &mut [T],
    chunk: usize,
    parallel: bool,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    use rayon::prelude::*;
    let chunk = chunk.max(1);
    if parallel {
        data.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    } else {
        data.chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| f(i, c));
    }
}

/// Applies a generic expression to the buffer of either dtype, keeping the dtype.
macro_rules! map1 {
    ($s:expr, |$v:ident| $e:expr) => {
        match $s {
            CpuStorage::F32($v) => CpuStorage::F32($e),
            CpuStorage::F64($v) => CpuStorage::F64($e),
        }
    };
}

/// Like `map1!` for two buffers of the same dtype.
macro_rules! map2 {
    ($op:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {
        match ($a, $b) {
            (CpuStorage::F32($x), CpuStorage::F32($y)) => CpuStorage::F32($e),
            (CpuStorage::F64($x), CpuStorage::F64($y)) => CpuStorage::F64($e),
            (a, b) => {
                return Err(Error::DTypeMismatch {
                    op: $op,
                    lhs: a.dtype(),
                    rhs: b.dtype(),
                })
            }
        }
    };
}

impl CpuStorage {
    /// Wraps a typed vector.
    pub fn from_vec<T: Elem>(v: Vec<T>) -> Self {
        let any: Box<dyn std::any::Any> = Box::new(v);
        match any.downcast::<Vec<f32>>() {
            Ok(v) => CpuStorage::F32(*v),
            Err(any) => match any.downcast::<Vec<f64>>() {
                Ok(v) => CpuStorage::F64(*v),
                Err(_) => unreachable!("Elem is implemented for f32 and f64 only"),
            },
        }
    }

    /// Zeros of a dtype.
    pub fn zeros(dtype: DType, n: usize) -> Self {
        match dtype {
            DType::F32 => CpuStorage::F32(vec![0.0; n]),
            DType::F64 => CpuStorage::F64(vec![0.0; n]),
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::F64(v) => v.len(),
        }
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The f32 buffer, if this is one.
    pub fn as_f32(&self) -> Option<&[f32]> {
        match self {
            CpuStorage::F32(v) => Some(v),
            CpuStorage::F64(_) => None,
        }
    }

    /// The f64 buffer, if this is one.
    pub fn as_f64(&self) -> Option<&[f64]> {
        match self {
            CpuStorage::F64(v) => Some(v),
            CpuStorage::F32(_) => None,
        }
    }

    /// Index buffers are stored as floats; reads them back as integers, refusing negative,
    /// fractional or non-finite values.
    fn indices(&self, op: &'static str) -> Result<Vec<usize>> {
        let check = |x: f64| -> Result<usize> {
            if x.is_finite() && x >= 0.0 && x.fract() == 0.0 {
                Ok(x as usize)
            } else {
                crate::bail!(op, "index {x} is not a non-negative integer")
            }
        };
        // Fast path: exact small integers (the common case) convert directly, in one
        // branch-free pass.
        fn direct<T: Elem>(v: &[T]) -> Option<Vec<usize>> {
            let mut exact = true;
            let out = v
                .iter()
                .map(|&x| {
                    let f = Elem::to_f64(x);
                    let u = f as usize;
                    exact &= (u as f64 == f) & (u < (1 << 52));
                    u
                })
                .collect();
            exact.then_some(out)
        }
        let fast = match self {
            CpuStorage::F32(v) => direct(v),
            CpuStorage::F64(v) => direct(v),
        };
        match fast {
            Some(idx) => Ok(idx),
            None => self.to_f64_vec()?.into_iter().map(check).collect(),
        }
    }
}

impl BackendStorage for CpuStorage {
    fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
        }
    }

    fn to_dtype(&self, dtype: DType) -> Result<Self> {
        Ok(match (self, dtype) {
            (CpuStorage::F32(v), DType::F64) => {
                CpuStorage::F64(v.iter().map(|&x| x as f64).collect())
            }
            (CpuStorage::F64(v), DType::F32) => {
                CpuStorage::F32(v.iter().map(|&x| x as f32).collect())
            }
            _ => self.clone(),
        })
    }

    fn unary(&self, op: UnaryOp) -> Result<Self> {
        Ok(map1!(self, |v| elementwise::unary(v, op)))
    }

    fn binary(
        &self,
        op: BinaryOp,
        ls: &[usize],
        rhs: &Self,
        rs: &[usize],
        out: &[usize],
    ) -> Result<Self> {
        Ok(map2!("binary", self, rhs, |a, b| elementwise::binary(
            op, a, ls, b, rs, out
        )))
    }

    fn where_cond(&self, on_true: &Self, on_false: &Self) -> Result<Self> {
        let mask = self.to_f64_vec()?;
        Ok(map2!("where", on_true, on_false, |a, b| {
            elementwise::select(&mask, a, b)
        }))
    }

    fn reduce(&self, op: ReduceOp, shape: &[usize], axes: &[usize]) -> Result<Self> {
        Ok(map1!(self, |v| reduce::reduce(v, op, shape, axes)))
    }

    fn argmax(&self, shape: &[usize], axis: usize) -> Result<Self> {
        Ok(map1!(self, |v| reduce::argmax(v, shape, axis)))
    }

    fn broadcast_to(&self, shape: &[usize], out: &[usize]) -> Result<Self> {
        let st = crate::shape::broadcast_strides(shape, out);
        Ok(map1!(self, |v| layout::strided_copy(v, &st, out)))
    }

    fn matmul(&self, l: [usize; 3], rhs: &Self, r: [usize; 3]) -> Result<Self> {
        Ok(map2!("matmul", self, rhs, |a, b| matmul::batched(
            a, l, b, r
        )))
    }

    fn permute(&self, shape: &[usize], perm: &[usize]) -> Result<Self> {
        let st = crate::shape::strides(shape);
        let out: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let pst: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
        Ok(map1!(self, |v| layout::strided_copy(v, &pst, &out)))
    }

    fn narrow(&self, d: [usize; 3], start: usize, len: usize) -> Result<Self> {
        Ok(map1!(self, |v| layout::narrow(v, d, start, len)))
    }

    fn cat(parts: &[(&Self, usize)], outer: usize, inner: usize) -> Result<Self> {
        let dtype = parts.first().map(|(s, _)| s.dtype()).unwrap_or(DType::F32);
        for (s, _) in parts {
            if s.dtype() != dtype {
                return Err(Error::DTypeMismatch {
                    op: "cat",
                    lhs: dtype,
                    rhs: s.dtype(),
                });
            }
        }
        Ok(match dtype {
            DType::F32 => {
                let p: Vec<(&[f32], usize)> = parts
                    .iter()
                    .map(|(s, n)| (s.as_f32().unwrap_or(&[]), *n))
                    .collect();
                CpuStorage::F32(layout::cat(&p, outer, inner))
            }
            DType::F64 => {
                let p: Vec<(&[f64], usize)> = parts
                    .iter()
                    .map(|(s, n)| (s.as_f64().unwrap_or(&[]), *n))
                    .collect();
                CpuStorage::F64(layout::cat(&p, outer, inner))
            }
        })
    }

    fn softmax(&self, d: [usize; 3], log: bool) -> Result<Self> {
        Ok(map1!(self, |v| reduce::softmax(v, d, log)))
    }

    fn gather(&self, d: [usize; 3], index: &Self, len: usize) -> Result<Self> {
        let idx = index.indices("gather")?;
        if let Some(&bad) = idx.iter().find(|&&i| i >= d[1]) {
            crate::bail!(
                "gather",
                "index {bad} out of range for an axis of size {}",
                d[1]
            );
        }
        Ok(map1!(self, |v| layout::gather(v, d, &idx, len)))
    }

    fn scatter_add(&self, d: [usize; 3], index: &Self, size: usize) -> Result<Self> {
        let out = match (self, index) {
            (CpuStorage::F32(v), CpuStorage::F32(i)) => {
                layout::scatter_add(v, d, i, size).map(CpuStorage::F32)
            }
            (CpuStorage::F32(v), CpuStorage::F64(i)) => {
                layout::scatter_add(v, d, i, size).map(CpuStorage::F32)
            }
            (CpuStorage::F64(v), CpuStorage::F32(i)) => {
                layout::scatter_add(v, d, i, size).map(CpuStorage::F64)
            }
            (CpuStorage::F64(v), CpuStorage::F64(i)) => {
                layout::scatter_add(v, d, i, size).map(CpuStorage::F64)
            }
        };
        match out {
            Some(out) => Ok(out),
            // Some index is not an integer in 0..size: name it.
            None => match index
                .indices("scatter_add")?
                .into_iter()
                .find(|&i| i >= size)
            {
                Some(bad) => crate::bail!(
                    "scatter_add",
                    "index {bad} out of range for an axis of size {size}"
                ),
                None => crate::bail!(
                    "scatter_add",
                    "index out of range for an axis of size {size}"
                ),
            },
        }
    }

    fn index_select(&self, d: [usize; 3], index: &[usize]) -> Result<Self> {
        if let Some(&bad) = index.iter().find(|&&i| i >= d[1]) {
            crate::bail!(
                "index_select",
                "index {bad} out of range for an axis of size {}",
                d[1]
            );
        }
        Ok(map1!(self, |v| layout::index_select(v, d, index)))
    }

    fn index_add(&self, d: [usize; 3], index: &[usize], size: usize) -> Result<Self> {
        if let Some(&bad) = index.iter().find(|&&i| i >= size) {
            crate::bail!(
                "index_add",
                "index {bad} out of range for an axis of size {size}"
            );
        }
        Ok(map1!(self, |v| layout::index_add(v, d, index, size)))
    }

    fn conv2d(
        &self,
        x: [usize; 4],
        w: &Self,
        wd: [usize; 4],
        p: Conv2dParams,
        o: [usize; 2],
    ) -> Result<Self> {
        Ok(map2!("conv2d", self, w, |a, b| conv::conv2d(
            a, x, b, wd, p, o, None
        )))
    }

    fn conv2d_input_grad(
        &self,
        g: [usize; 4],
        w: &Self,
        wd: [usize; 4],
        p: Conv2dParams,
        hw: [usize; 2],
    ) -> Result<Self> {
        Ok(map2!("conv2d_input_grad", self, w, |a, b| {
            conv::conv2d_input_grad(a, g, b, wd, p, hw)
        }))
    }

    fn conv2d_weight_grad(
        &self,
        x: [usize; 4],
        g: &Self,
        gd: [usize; 4],
        p: Conv2dParams,
        k: [usize; 2],
    ) -> Result<Self> {
        Ok(map2!("conv2d_weight_grad", self, g, |a, b| {
            conv::conv2d_weight_grad(a, x, b, gd, p, k)
        }))
    }

    fn conv2d_backward(
        &self,
        g: [usize; 4],
        x: &Self,
        xd: [usize; 4],
        w: &Self,
        wd: [usize; 4],
        p: Conv2dParams,
    ) -> Result<(Self, Self)> {
        fn both<T: Elem>(
            g: (&[T], [usize; 4]),
            x: (&[T], [usize; 4]),
            w: &[T],
            k: [usize; 2],
            p: Conv2dParams,
        ) -> (Vec<T>, Vec<T>) {
            let (dx, dw) = conv::conv2d_backward(g.0, g.1, Some(x.0), Some(w), x.1, k, p);
            (dx.unwrap_or_default(), dw.unwrap_or_default())
        }
        let k = [wd[2], wd[3]];
        Ok(match (self, x, w) {
            (CpuStorage::F32(a), CpuStorage::F32(b), CpuStorage::F32(c)) => {
                let (dx, dw) = both((a, g), (b, xd), c, k, p);
                (CpuStorage::F32(dx), CpuStorage::F32(dw))
            }
            (CpuStorage::F64(a), CpuStorage::F64(b), CpuStorage::F64(c)) => {
                let (dx, dw) = both((a, g), (b, xd), c, k, p);
                (CpuStorage::F64(dx), CpuStorage::F64(dw))
            }
            (a, b, c) => {
                return Err(Error::DTypeMismatch {
                    op: "conv2d_backward",
                    lhs: a.dtype(),
                    rhs: if a.dtype() != b.dtype() {
                        b.dtype()
                    } else {
                        c.dtype()
                    },
                })
            }
        })
    }

    fn max_pool2d(&self, x: [usize; 4], p: Pool2dParams, o: [usize; 2]) -> Result<(Self, Self)> {
        Ok(match self {
            CpuStorage::F32(v) => {
                let (a, i) = conv::max_pool2d(v, x, p, o);
                (CpuStorage::F32(a), CpuStorage::F32(i))
            }
            CpuStorage::F64(v) => {
                let (a, i) = conv::max_pool2d(v, x, p, o);
                (CpuStorage::F64(a), CpuStorage::F64(i))
            }
        })
    }

    fn avg_pool2d(&self, x: [usize; 4], bins: &PoolBins) -> Result<Self> {
        Ok(map1!(self, |v| conv::avg_pool2d(v, x, bins)))
    }

    fn avg_pool2d_backward(&self, g: [usize; 4], bins: &PoolBins, hw: [usize; 2]) -> Result<Self> {
        Ok(map1!(self, |v| conv::avg_pool2d_backward(v, g, bins, hw)))
    }

    fn to_f64_vec(&self) -> Result<Vec<f64>> {
        Ok(match self {
            CpuStorage::F32(v) => v.iter().map(|&x| x as f64).collect(),
            CpuStorage::F64(v) => v.clone(),
        })
    }
}
