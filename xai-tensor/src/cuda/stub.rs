//! The CUDA backend in builds without the `cuda` feature: [`CudaStorage`] has no values, so
//! every `Storage::Cuda` arm is unreachable and asking for the device is
//! [`Error::NotCompiledWithCuda`].

use crate::backend::{
    BackendStorage, BinaryOp, Conv2dParams, Pool2dParams, PoolBins, ReduceOp, UnaryOp,
};
use crate::{DType, Error, Result};

/// Device memory of one tensor (uninhabited in builds without CUDA kernels).
#[derive(Clone, Debug)]
pub enum CudaStorage {}

/// Copies host data to CUDA device `ordinal`.
pub fn upload(_cpu: &crate::cpu::CpuStorage, _ordinal: usize) -> Result<CudaStorage> {
    Err(Error::NotCompiledWithCuda)
}

/// Seeded random numbers on device `ordinal`.
pub(crate) fn random(
    _ordinal: usize,
    _seed: u64,
    _stream: u64,
    _dist: crate::random::Dist,
    _shape: &[usize],
    _dtype: DType,
) -> Result<CudaStorage> {
    Err(Error::NotCompiledWithCuda)
}

impl CudaStorage {
    /// Copies back to the host.
    pub fn download(&self) -> Result<crate::cpu::CpuStorage> {
        match *self {}
    }
    /// The device ordinal.
    pub fn ordinal(&self) -> usize {
        match *self {}
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        match *self {}
    }
    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        match *self {}
    }
}

impl BackendStorage for CudaStorage {
    fn dtype(&self) -> DType {
        match *self {}
    }
    fn to_dtype(&self, _: DType) -> Result<Self> {
        match *self {}
    }
    fn unary(&self, _: UnaryOp) -> Result<Self> {
        match *self {}
    }
    fn binary(&self, _: BinaryOp, _: &[usize], _: &Self, _: &[usize], _: &[usize]) -> Result<Self> {
        match *self {}
    }
    fn where_cond(&self, _: &Self, _: &Self) -> Result<Self> {
        match *self {}
    }
    fn reduce(&self, _: ReduceOp, _: &[usize], _: &[usize]) -> Result<Self> {
        match *self {}
    }
    fn argmax(&self, _: &[usize], _: usize) -> Result<Self> {
        match *self {}
    }
    fn broadcast_to(&self, _: &[usize], _: &[usize]) -> Result<Self> {
        match *self {}
    }
    fn matmul(&self, _: [usize; 3], _: &Self, _: [usize; 3]) -> Result<Self> {
        match *self {}
    }
    fn permute(&self, _: &[usize], _: &[usize]) -> Result<Self> {
        match *self {}
    }
    fn narrow(&self, _: [usize; 3], _: usize, _: usize) -> Result<Self> {
        match *self {}
    }
    fn cat(_: &[(&Self, usize)], _: usize, _: usize) -> Result<Self> {
        Err(Error::NotCompiledWithCuda)
    }
    fn softmax(&self, _: [usize; 3], _: bool) -> Result<Self> {
        match *self {}
    }
    fn gather(&self, _: [usize; 3], _: &Self, _: usize) -> Result<Self> {
        match *self {}
    }
    fn scatter_add(&self, _: [usize; 3], _: &Self, _: usize) -> Result<Self> {
        match *self {}
    }
    fn index_select(&self, _: [usize; 3], _: &[usize]) -> Result<Self> {
        match *self {}
    }
    fn index_add(&self, _: [usize; 3], _: &[usize], _: usize) -> Result<Self> {
        match *self {}
    }
    fn conv2d(
        &self,
        _: [usize; 4],
        _: &Self,
        _: [usize; 4],
        _: Conv2dParams,
        _: [usize; 2],
    ) -> Result<Self> {
        match *self {}
    }
    fn conv2d_input_grad(
        &self,
        _: [usize; 4],
        _: &Self,
        _: [usize; 4],
        _: Conv2dParams,
        _: [usize; 2],
    ) -> Result<Self> {
        match *self {}
    }
    fn conv2d_weight_grad(
        &self,
        _: [usize; 4],
        _: &Self,
        _: [usize; 4],
        _: Conv2dParams,
        _: [usize; 2],
    ) -> Result<Self> {
        match *self {}
    }
    fn max_pool2d(&self, _: [usize; 4], _: Pool2dParams, _: [usize; 2]) -> Result<(Self, Self)> {
        match *self {}
    }
    fn avg_pool2d(&self, _: [usize; 4], _: &PoolBins) -> Result<Self> {
        match *self {}
    }
    fn avg_pool2d_backward(&self, _: [usize; 4], _: &PoolBins, _: [usize; 2]) -> Result<Self> {
        match *self {}
    }
    fn to_f64_vec(&self) -> Result<Vec<f64>> {
        match *self {}
    }
}
