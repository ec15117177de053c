//! `Storage`: one enum over the backends; each method forwards to the backend holding the data.

use crate::backend::{
    BackendStorage, BinaryOp, Conv2dParams, Pool2dParams, PoolBins, ReduceOp, UnaryOp,
};
use crate::cpu::CpuStorage;
use crate::cuda::CudaStorage;
use crate::{DType, Device, Error, Result};

/// The data of a tensor, on some device.
#[derive(Clone, Debug)]
pub enum Storage {
    Cpu(CpuStorage),
    Cuda(CudaStorage),
}

macro_rules! unary_dispatch {
    ($self:expr, |$s:ident| $e:expr) => {
        match $self {
            Storage::Cpu($s) => Ok(Storage::Cpu($e?)),
            Storage::Cuda($s) => Ok(Storage::Cuda($e?)),
        }
    };
}

macro_rules! binary_dispatch {
    ($op:expr, $a:expr, $b:expr, |$x:ident, $y:ident| $e:expr) => {
        match ($a, $b) {
            (Storage::Cpu($x), Storage::Cpu($y)) => Ok(Storage::Cpu($e?)),
            (Storage::Cuda($x), Storage::Cuda($y)) => Ok(Storage::Cuda($e?)),
            (a, b) => Err(Error::DeviceMismatch {
                op: $op,
                lhs: a.device(),
                rhs: b.device(),
            }),
        }
    };
}

impl Storage {
    /// The device holding the data.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Cuda(s) => Device::Cuda(s.ordinal()),
        }
    }

    /// Element type.
    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(s) => s.dtype(),
            Storage::Cuda(s) => s.dtype(),
        }
    }

    /// Copies to `device` (a no-op when already there).
    pub fn to_device(&self, device: Device) -> Result<Self> {
        match (self, device) {
            (Storage::Cpu(s), Device::Cpu) => Ok(Storage::Cpu(s.clone())),
            (Storage::Cpu(s), Device::Cuda(i)) => Ok(Storage::Cuda(crate::cuda::upload(s, i)?)),
            (Storage::Cuda(s), Device::Cpu) => Ok(Storage::Cpu(s.download()?)),
            (Storage::Cuda(s), Device::Cuda(i)) if s.ordinal() == i => Ok(self.clone()),
            (Storage::Cuda(s), Device::Cuda(i)) => {
                Ok(Storage::Cuda(crate::cuda::upload(&s.download()?, i)?))
            }
        }
    }

    /// Zeros on `device`.
    pub fn zeros(dtype: DType, n: usize, device: Device) -> Result<Self> {
        Storage::Cpu(CpuStorage::zeros(dtype, n)).to_device(device)
    }

    pub(crate) fn to_dtype(&self, dtype: DType) -> Result<Self> {
        unary_dispatch!(self, |s| s.to_dtype(dtype))
    }
    pub(crate) fn unary(&self, op: UnaryOp) -> Result<Self> {
        unary_dispatch!(self, |s| s.unary(op))
    }
    pub(crate) fn binary(
        &self,
        op: BinaryOp,
        ls: &[usize],
        rhs: &Self,
        rs: &[usize],
        out: &[usize],
    ) -> Result<Self> {
        binary_dispatch!("binary", self, rhs, |a, b| a.binary(op, ls, b, rs, out))
    }
    pub(crate) fn where_cond(&self, t: &Self, f: &Self) -> Result<Self> {
        match (self, t, f) {
            (Storage::Cpu(m), Storage::Cpu(a), Storage::Cpu(b)) => {
                Ok(Storage::Cpu(m.where_cond(a, b)?))
            }
            (Storage::Cuda(m), Storage::Cuda(a), Storage::Cuda(b)) => {
                Ok(Storage::Cuda(m.where_cond(a, b)?))
            }
            (m, a, _) => Err(Error::DeviceMismatch {
                op: "where",
                lhs: m.device(),
                rhs: a.device(),
            }),
        }
    }
    pub(crate) fn reduce(&self, op: ReduceOp, shape: &[usize], axes: &[usize]) -> Result<Self> {
        unary_dispatch!(self, |s| s.reduce(op, shape, axes))
    }
    pub(crate) fn argmax(&self, shape: &[usize], axis: usize) -> Result<Self> {
        unary_dispatch!(self, |s| s.argmax(shape, axis))
    }
    pub(crate) fn broadcast_to(&self, shape: &[usize], out: &[usize]) -> Result<Self> {
        unary_dispatch!(self, |s| s.broadcast_to(shape, out))
    }
    pub(crate) fn matmul(&self, l: [usize; 3], rhs: &Self, r: [usize; 3]) -> Result<Self> {
        binary_dispatch!("matmul", self, rhs, |a, b| a.matmul(l, b, r))
    }
    pub(crate) fn permute(&self, shape: &[usize], perm: &[usize]) -> Result<Self> {
        unary_dispatch!(self, |s| s.permute(shape, perm))
    }
    pub(crate) fn narrow(&self, d: [usize; 3], start: usize, len: usize) -> Result<Self> {
        unary_dispatch!(self, |s| s.narrow(d, start, len))
    }
    pub(crate) fn cat(parts: &[(&Self, usize)], outer: usize, inner: usize) -> Result<Self> {
        let device = parts
            .first()
            .map(|(s, _)| s.device())
            .unwrap_or(Device::Cpu);
        if let Some((s, _)) = parts.iter().find(|(s, _)| s.device() != device) {
            return Err(Error::DeviceMismatch {
                op: "cat",
                lhs: device,
                rhs: s.device(),
            });
        }
        match device {
            Device::Cpu => {
                let p: Vec<(&CpuStorage, usize)> = parts
                    .iter()
                    .filter_map(|(s, n)| match s {
                        Storage::Cpu(c) => Some((c, *n)),
                        Storage::Cuda(_) => None,
                    })
                    .collect();
                Ok(Storage::Cpu(CpuStorage::cat(&p, outer, inner)?))
            }
            Device::Cuda(_) => {
                let p: Vec<(&CudaStorage, usize)> = parts
                    .iter()
                    .filter_map(|(s, n)| match s {
                        Storage::Cuda(c) => Some((c, *n)),
                        Storage::Cpu(_) => None,
                    })
                    .collect();
                Ok(Storage::Cuda(CudaStorage::cat(&p, outer, inner)?))
            }
        }
    }
    pub(crate) fn softmax(&self, d: [usize; 3], log: bool) -> Result<Self> {
        unary_dispatch!(self, |s| s.softmax(d, log))
    }
    /// An index built on the host may select from data on a device (it is copied there).
    fn index_on_device<'a>(&self, index: &'a Self) -> Result<std::borrow::Cow<'a, Self>> {
        Ok(match (self, index) {
            (Storage::Cuda(_), Storage::Cpu(_)) => {
                std::borrow::Cow::Owned(index.to_device(self.device())?)
            }
            _ => std::borrow::Cow::Borrowed(index),
        })
    }
    pub(crate) fn gather(&self, d: [usize; 3], index: &Self, len: usize) -> Result<Self> {
        let index = self.index_on_device(index)?;
        binary_dispatch!("gather", self, &*index, |a, i| a.gather(d, i, len))
    }
    pub(crate) fn scatter_add(&self, d: [usize; 3], index: &Self, size: usize) -> Result<Self> {
        let index = self.index_on_device(index)?;
        binary_dispatch!("scatter_add", self, &*index, |a, i| a
            .scatter_add(d, i, size))
    }
    pub(crate) fn index_select(&self, d: [usize; 3], index: &[usize]) -> Result<Self> {
        unary_dispatch!(self, |s| s.index_select(d, index))
    }
    pub(crate) fn index_add(&self, d: [usize; 3], index: &[usize], size: usize) -> Result<Self> {
        unary_dispatch!(self, |s| s.index_add(d, index, size))
    }
    pub(crate) fn conv2d(
        &self,
        x: [usize; 4],
        w: &Self,
        wd: [usize; 4],
        p: Conv2dParams,
        o: [usize; 2],
    ) -> Result<Self> {
        binary_dispatch!("conv2d", self, w, |a, b| a.conv2d(x, b, wd, p, o))
    }
    pub(crate) fn conv2d_input_grad(
        &self,
        g: [usize; 4],
        w: &Self,
        wd: [usize; 4],
        p: Conv2dParams,
        hw: [usize; 2],
    ) -> Result<Self> {
        binary_dispatch!("conv2d_input_grad", self, w, |a, b| a
            .conv2d_input_grad(g, b, wd, p, hw))
    }
    pub(crate) fn conv2d_weight_grad(
        &self,
        x: [usize; 4],
        g: &Self,
        gd: [usize; 4],
        p: Conv2dParams,
        k: [usize; 2],
    ) -> Result<Self> {
        binary_dispatch!("conv2d_weight_grad", self, g, |a, b| a
            .conv2d_weight_grad(x, b, gd, p, k))
    }
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn conv2d_backward(
        &self,
        g: [usize; 4],
        x: &Self,
        xd: [usize; 4],
        w: &Self,
        wd: [usize; 4],
        p: Conv2dParams,
    ) -> Result<(Self, Self)> {
        match (self, x, w) {
            (Storage::Cpu(a), Storage::Cpu(b), Storage::Cpu(c)) => {
                let (dx, dw) = a.conv2d_backward(g, b, xd, c, wd, p)?;
                Ok((Storage::Cpu(dx), Storage::Cpu(dw)))
            }
            (Storage::Cuda(a), Storage::Cuda(b), Storage::Cuda(c)) => {
                let (dx, dw) = a.conv2d_backward(g, b, xd, c, wd, p)?;
                Ok((Storage::Cuda(dx), Storage::Cuda(dw)))
            }
            (a, b, c) => Err(Error::DeviceMismatch {
                op: "conv2d_backward",
                lhs: a.device(),
                rhs: if a.device() != b.device() {
                    b.device()
                } else {
                    c.device()
                },
            }),
        }
    }
    pub(crate) fn max_pool2d(
        &self,
        x: [usize; 4],
        p: Pool2dParams,
        o: [usize; 2],
    ) -> Result<(Self, Self)> {
        match self {
            Storage::Cpu(s) => s
                .max_pool2d(x, p, o)
                .map(|(a, b)| (Storage::Cpu(a), Storage::Cpu(b))),
            Storage::Cuda(s) => s
                .max_pool2d(x, p, o)
                .map(|(a, b)| (Storage::Cuda(a), Storage::Cuda(b))),
        }
    }
    pub(crate) fn avg_pool2d(&self, x: [usize; 4], bins: &PoolBins) -> Result<Self> {
        unary_dispatch!(self, |s| s.avg_pool2d(x, bins))
    }
    pub(crate) fn avg_pool2d_backward(
        &self,
        g: [usize; 4],
        bins: &PoolBins,
        hw: [usize; 2],
    ) -> Result<Self> {
        unary_dispatch!(self, |s| s.avg_pool2d_backward(g, bins, hw))
    }
    pub(crate) fn to_f64_vec(&self) -> Result<Vec<f64>> {
        match self {
            Storage::Cpu(s) => s.to_f64_vec(),
            Storage::Cuda(s) => s.to_f64_vec(),
        }
    }
}
