//! [`CudaStorage`] and its ops: the launch code shared by the real and the emulated device
//! (grid and block sizes, argument packing, strides and broadcasting, chunking).
//!
//! Here the storage itself (device buffers, copies to and from the host) and the
//! [`BackendStorage`] implementation, which hands each op to its family, as `crate::cpu` does:
//! `elementwise` (casts, fills, unary, binary, where), `reduce` (reductions, argmax, softmax),
//! `matmul` (the batched GEMM), `conv` (convolutions and pooling), `layout` (strided and block
//! copies, gather/scatter, index_select/index_add) and `random`; `launch` holds the helpers they
//! share (launch shapes, argument packing, axis merging, the kernel call).

mod conv;
mod elementwise;
mod launch;
mod layout;
mod matmul;
mod random;
mod reduce;

pub(crate) use random::random;

use super::gpu::{device, Arg, Gpu};
use crate::backend::{
    BackendStorage, BinaryOp, Conv2dParams, Pool2dParams, PoolBins, ReduceOp, UnaryOp,
};
use crate::cpu::CpuStorage;
use crate::{DType, Error, Result};
use launch::u32_of;
use std::fmt;
use std::sync::Arc;

/// One device allocation, freed when the last storage sharing it drops.
struct Buffer {
    gpu: Arc<dyn Gpu>,
    ptr: u64,
    bytes: usize,
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.gpu.free(self.ptr, self.bytes);
        }
    }
}

impl Buffer {
    fn new(gpu: &Arc<dyn Gpu>, bytes: usize) -> Result<Self> {
        let ptr = if bytes > 0 { gpu.alloc(bytes)? } else { 0 };
        Ok(Self {
            gpu: gpu.clone(),
            ptr,
            bytes,
        })
    }

    /// A device copy of host indices, as the kernels' u32.
    fn indices(gpu: &Arc<dyn Gpu>, idx: &[usize]) -> Result<Self> {
        let v: Vec<u32> = idx.iter().map(|&i| i as u32).collect();
        let b = Self::new(gpu, v.len() * 4)?;
        if !v.is_empty() {
            b.gpu.upload(b.ptr, bytes_of(&v))?;
        }
        Ok(b)
    }
}

/// Device memory of one tensor: a contiguous row-major buffer of `len` elements of `dtype`.
#[derive(Clone)]
pub struct CudaStorage {
    buf: Arc<Buffer>,
    dtype: DType,
    len: usize,
}

impl fmt::Debug for CudaStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CudaStorage[{} × {:?} on cuda:{}]",
            self.len,
            self.dtype,
            self.buf.gpu.ordinal()
        )
    }
}

fn bytes_of<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: plain-old-data numbers viewed as bytes, same length in bytes.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast(), std::mem::size_of_val(v)) }
}

fn bytes_of_mut<T: Copy>(v: &mut [T]) -> &mut [u8] {
    // SAFETY: as above; every byte pattern is a valid f32/f64.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), std::mem::size_of_val(v)) }
}

/// Copies host data to CUDA device `ordinal` (the emulator for [`super::EMULATOR_ORDINAL`]).
pub fn upload(cpu: &CpuStorage, ordinal: usize) -> Result<CudaStorage> {
    let gpu = device(ordinal)?;
    let out = CudaStorage::alloc(&gpu, cpu.dtype(), cpu.len())?;
    if !cpu.is_empty() {
        let bytes = match cpu {
            CpuStorage::F32(v) => bytes_of(v),
            CpuStorage::F64(v) => bytes_of(v),
        };
        gpu.upload(out.ptr(), bytes)?;
    }
    Ok(out)
}

impl CudaStorage {
    fn alloc(gpu: &Arc<dyn Gpu>, dtype: DType, len: usize) -> Result<Self> {
        u32_of(len)?;
        Ok(Self {
            buf: Arc::new(Buffer::new(gpu, len * dtype.size_in_bytes())?),
            dtype,
            len,
        })
    }

    fn like(&self, len: usize) -> Result<Self> {
        Self::alloc(&self.buf.gpu, self.dtype, len)
    }

    fn gpu(&self) -> &Arc<dyn Gpu> {
        &self.buf.gpu
    }

    fn ptr(&self) -> u64 {
        self.buf.ptr
    }

    /// Device address of element `i`.
    fn at(&self, i: usize) -> Arg {
        Arg::Ptr(self.ptr() + (i * self.dtype.size_in_bytes()) as u64)
    }

    fn arg(&self) -> Arg {
        Arg::Ptr(self.ptr())
    }

    fn check_peer(&self, op: &'static str, other: &Self) -> Result<()> {
        if other.dtype != self.dtype {
            return Err(Error::DTypeMismatch {
                op,
                lhs: self.dtype,
                rhs: other.dtype,
            });
        }
        if !Arc::ptr_eq(self.gpu(), other.gpu()) {
            return Err(Error::DeviceMismatch {
                op,
                lhs: crate::Device::Cuda(self.ordinal()),
                rhs: crate::Device::Cuda(other.ordinal()),
            });
        }
        Ok(())
    }

    /// Copies back to the host.
    pub fn download(&self) -> Result<CpuStorage> {
        Ok(match self.dtype {
            DType::F32 => {
                let mut v = vec![0f32; self.len];
                if self.len > 0 {
                    self.gpu().download(self.ptr(), bytes_of_mut(&mut v))?;
                }
                CpuStorage::F32(v)
            }
            DType::F64 => {
                let mut v = vec![0f64; self.len];
                if self.len > 0 {
                    self.gpu().download(self.ptr(), bytes_of_mut(&mut v))?;
                }
                CpuStorage::F64(v)
            }
        })
    }

    /// The device ordinal.
    pub fn ordinal(&self) -> usize {
        self.gpu().ordinal()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl BackendStorage for CudaStorage {
    fn dtype(&self) -> DType {
        self.dtype
    }

    fn to_dtype(&self, dtype: DType) -> Result<Self> {
        elementwise::to_dtype(self, dtype)
    }

    fn unary(&self, op: UnaryOp) -> Result<Self> {
        elementwise::unary(self, op)
    }

    fn binary(
        &self,
        op: BinaryOp,
        ls: &[usize],
        rhs: &Self,
        rs: &[usize],
        out: &[usize],
    ) -> Result<Self> {
        elementwise::binary(self, op, ls, rhs, rs, out)
    }

    fn where_cond(&self, on_true: &Self, on_false: &Self) -> Result<Self> {
        elementwise::where_cond(self, on_true, on_false)
    }

    fn reduce(&self, op: ReduceOp, shape: &[usize], axes: &[usize]) -> Result<Self> {
        reduce::reduce(self, op, shape, axes)
    }

    fn argmax(&self, shape: &[usize], axis: usize) -> Result<Self> {
        reduce::argmax(self, shape, axis)
    }

    fn broadcast_to(&self, shape: &[usize], out: &[usize]) -> Result<Self> {
        layout::broadcast_to(self, shape, out)
    }

    fn matmul(&self, l: [usize; 3], rhs: &Self, r: [usize; 3]) -> Result<Self> {
        matmul::matmul(self, l, rhs, r)
    }

    fn permute(&self, shape: &[usize], perm: &[usize]) -> Result<Self> {
        layout::permute(self, shape, perm)
    }

    fn narrow(&self, d: [usize; 3], start: usize, len: usize) -> Result<Self> {
        layout::narrow(self, d, start, len)
    }

    fn cat(parts: &[(&Self, usize)], outer: usize, inner: usize) -> Result<Self> {
        layout::cat(parts, outer, inner)
    }

    fn softmax(&self, d: [usize; 3], log: bool) -> Result<Self> {
        reduce::softmax(self, d, log)
    }

    fn gather(&self, d: [usize; 3], index: &Self, len: usize) -> Result<Self> {
        layout::gather(self, d, index, len)
    }

    fn scatter_add(&self, d: [usize; 3], index: &Self, size: usize) -> Result<Self> {
        layout::scatter_add(self, d, index, size)
    }

    fn index_select(&self, d: [usize; 3], index: &[usize]) -> Result<Self> {
        layout::index_select(self, d, index)
    }

    fn index_add(&self, d: [usize; 3], index: &[usize], size: usize) -> Result<Self> {
        layout::index_add(self, d, index, size)
    }

    fn conv2d(
        &self,
        x: [usize; 4],
        w: &Self,
        wd: [usize; 4],
        p: Conv2dParams,
        o: [usize; 2],
    ) -> Result<Self> {
        conv::conv2d(self, x, w, wd, p, o)
    }

    fn conv2d_input_grad(
        &self,
        g: [usize; 4],
        w: &Self,
        wd: [usize; 4],
        p: Conv2dParams,
        hw: [usize; 2],
    ) -> Result<Self> {
        conv::conv2d_input_grad(self, g, w, wd, p, hw)
    }

    fn conv2d_weight_grad(
        &self,
        x: [usize; 4],
        g: &Self,
        gd: [usize; 4],
        p: Conv2dParams,
        k: [usize; 2],
    ) -> Result<Self> {
        conv::conv2d_weight_grad(self, x, g, gd, p, k)
    }

    fn max_pool2d(&self, x: [usize; 4], p: Pool2dParams, o: [usize; 2]) -> Result<(Self, Self)> {
        conv::max_pool2d(self, x, p, o)
    }

    fn avg_pool2d(&self, x: [usize; 4], bins: &PoolBins) -> Result<Self> {
        conv::avg_pool2d(self, x, bins)
    }

    fn avg_pool2d_backward(&self, g: [usize; 4], bins: &PoolBins, hw: [usize; 2]) -> Result<Self> {
        conv::avg_pool2d_backward(self, g, bins, hw)
    }

    fn to_f64_vec(&self) -> Result<Vec<f64>> {
        self.download()?.to_f64_vec()
    }
}
