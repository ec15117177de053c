//! The emulated CUDA device: host memory, and the kernel sources compiled for the host by the
//! system C++ compiler (see `emu/cuda_emu.h`). Launches go through the same launch code as a
//! real device; only allocation, copies and the final kernel call differ.

use super::gpu::{Arg, BufferPool, Gpu, LaunchDims, Packed};
use crate::{Device, Error, Result};
use std::alloc::Layout;
use std::ffi::{c_char, c_int, c_void, CString};

/// The ordinal under which the emulated device answers (`Device::Cuda(EMULATOR_ORDINAL)`).
pub const EMULATOR_ORDINAL: usize = 1000;

/// The emulated CUDA device.
pub fn emulator() -> Device {
    Device::Cuda(EMULATOR_ORDINAL)
}

extern "C" {
    fn xai_emu_launch(
        name: *const c_char,
        grid: *const u32,
        block: *const u32,
        args: *mut *mut c_void,
    ) -> c_int;
}

/// The emulated device; allocations go through the same size-class cache as a real device's.
#[derive(Default)]
pub(crate) struct Emulator {
    pool: BufferPool,
}

fn layout(bytes: usize) -> Result<Layout> {
    Layout::from_size_align(bytes, 16).map_err(|e| Error::Cuda(e.to_string()))
}

impl Gpu for Emulator {
    fn ordinal(&self) -> usize {
        EMULATOR_ORDINAL
    }
    fn alloc(&self, bytes: usize) -> Result<u64> {
        let class = BufferPool::class(bytes);
        if let Some(p) = self.pool.take(class) {
            return Ok(p);
        }
        // SAFETY: a non-zero size (the caller never allocates 0 bytes) and a valid layout.
        let p = unsafe { std::alloc::alloc(layout(class)?) };
        if p.is_null() {
            return Err(Error::Cuda(format!(
                "emulator: out of memory ({bytes} bytes)"
            )));
        }
        Ok(p as u64)
    }
    fn free(&self, ptr: u64, bytes: usize) {
        self.pool.put(ptr, BufferPool::class(bytes));
    }
    fn upload(&self, dst: u64, src: &[u8]) -> Result<()> {
        // SAFETY: `dst` is an allocation of at least `src.len()` bytes (the caller's contract).
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst as *mut u8, src.len()) };
        Ok(())
    }
    fn download(&self, src: u64, dst: &mut [u8]) -> Result<()> {
        // SAFETY: as for upload.
        unsafe { std::ptr::copy_nonoverlapping(src as *const u8, dst.as_mut_ptr(), dst.len()) };
        Ok(())
    }
    fn launch(&self, name: &str, dims: LaunchDims, args: &[Arg]) -> Result<()> {
        let c = CString::new(name).map_err(|e| Error::Cuda(e.to_string()))?;
        let mut packed = Packed::new(args);
        // SAFETY: the arguments are packed for this kernel's signature by the launch code
        // (the same packing a real device reads), and every pointer is a live host allocation.
        let rc = unsafe {
            xai_emu_launch(
                c.as_ptr(),
                dims.grid.as_ptr(),
                dims.block.as_ptr(),
                packed.ptrs.as_mut_ptr(),
            )
        };
        match rc {
            0 => Ok(()),
            1 => Err(Error::Cuda(format!("emulator: no kernel named {name}"))),
            _ => Err(Error::Cuda(format!(
                "emulator: bad launch shape {dims:?} for {name}"
            ))),
        }
    }
}
