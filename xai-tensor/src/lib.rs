//! # xai-tensor
//!
//! The tensor at the bottom of xai: an immutable n-dimensional array ([`Tensor`]) of f32 or
//! f64 on a [`Device`], with hand-written kernels. Each op family is a method of
//! [`backend::BackendStorage`], implemented once per device: [`cpu`] (contiguous buffers,
//! rayon, BLAS gemm) and [`cuda`] (hand-written `.cu` kernels compiled by NVRTC, behind the
//! `cuda` feature; with `cuda-emu` also a host emulator of them; a stub that reports
//! [`Error::NotCompiledWithCuda`] otherwise).
//!
//! Ops: elementwise unary/binary with NumPy broadcasting; reductions (sum, mean, max, min,
//! argmax); batched matmul; conv2d (im2col + gemm), its two gradients and conv_transpose2d;
//! max/avg/adaptive pooling; nearest and bilinear upsampling ([`resample`]); stable
//! softmax/log-softmax; reshape, permute, narrow, cat, index_select, gather, scatter_add,
//! where; seeded Philox random numbers ([`Rng`]); `.npy` files, and the file guarantees of
//! every reader and writer of the workspace ([`fs`]: regular files only, sizes checked before
//! allocating, all-or-nothing writes).
//!
//! ```
//! use xai_tensor::{DType, Rng, Tensor};
//!
//! let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2])?;
//! let b = a.matmul(&a.t()?)?; // a·aᵀ = [[5, 11], [11, 25]]
//! assert_eq!(b.to_vec_f32()?, [5.0, 11.0, 11.0, 25.0]);
//! assert_eq!(b.sum(&[1], false)?.to_vec_f64()?, [16.0, 36.0]);
//! // Seeded: the same seed draws the same numbers.
//! let x = Rng::new(7).normal(&[3], 0.0, 1.0, DType::F64)?;
//! assert_eq!(x.to_vec_f64()?, Rng::new(7).normal(&[3], 0.0, 1.0, DType::F64)?.to_vec_f64()?);
//! # Ok::<(), xai_tensor::Error>(())
//! ```

extern crate blas_src;

pub mod backend;
mod channel;
pub mod cpu;
pub mod cuda;
mod device;
mod dtype;
mod error;
pub mod fs;
mod npy;
pub mod random;
pub mod resample;
pub mod shape;
mod storage;
mod tensor;

pub use backend::{
    BinaryOp, Conv2dParams, ConvTranspose2dParams, Pool2dParams, PoolBins, ReduceOp, UnaryOp,
};
pub use device::Device;
pub use dtype::{DType, Elem, Transcendental};
pub use error::{Error, Result};
pub use fs::{check_regular_file, write_atomic};
pub use random::{NormalDraw, Rng};
pub use resample::{AxisTaps, Resample2d, UpsampleSize};
pub use storage::Storage;
pub use tensor::Tensor;

#[cfg(test)]
mod tests;
