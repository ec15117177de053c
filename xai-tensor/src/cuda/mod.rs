//! The CUDA backend: hand-written kernels (`kernels/*.cu`, brought in with `include_str!`),
//! compiled by NVRTC at first use for the device's architecture and cached per device; data in
//! plain device allocations with explicit host↔device copies.
//!
//! The launch code ([`CudaStorage`]'s ops: grid and block sizes, argument packing, strides,
//! broadcasting) runs against a `gpu::Gpu`: the real device through cudarc (driver and NVRTC
//! loaded at run time, so building needs neither), or, with the `cuda-emu` feature, the host
//! emulator, which compiles the same kernel sources with the system C++ compiler and runs them
//! on host memory (`emulator`). Without the `cuda` feature this module is a stub whose every
//! use is [`crate::Error::NotCompiledWithCuda`].

#[cfg(not(feature = "cuda"))]
mod stub;
#[cfg(not(feature = "cuda"))]
pub(crate) use stub::random;
#[cfg(not(feature = "cuda"))]
pub use stub::{upload, CudaStorage};

#[cfg(feature = "cuda")]
mod driver;
#[cfg(feature = "cuda-emu")]
mod emu;
#[cfg(feature = "cuda")]
pub(crate) mod gpu;
#[cfg(feature = "cuda")]
pub mod kernels;
#[cfg(feature = "cuda")]
mod ops;

#[cfg(feature = "cuda")]
pub(crate) use ops::random;
#[cfg(feature = "cuda")]
pub use ops::{upload, CudaStorage};

#[cfg(feature = "cuda-emu")]
pub use emu::{emulator, EMULATOR_ORDINAL};

#[cfg(all(test, feature = "cuda-emu"))]
mod emu_tests;
