//! What the launch code needs from a device, whether real ([`super::driver`]) or emulated:
//! allocations, copies and kernel launches with CUDA-style packed arguments.

use crate::{Error, Result};
use std::collections::HashMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex};

/// One kernel argument, packed as the kernel's parameter type.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    /// A device pointer (`T*`).
    Ptr(u64),
    U32(u32),
    U64(u64),
    F32(f32),
    F64(f64),
    /// A struct of 32-bit words passed by value (`Dims`, `ConvGeom`).
    Words(Vec<u32>),
}

/// The argument values laid out in 8-byte-aligned slots, and the `void**` array CUDA's
/// `cuLaunchKernel` (and the emulator) read them through.
pub(crate) struct Packed {
    _slots: Vec<Box<[u64]>>,
    pub ptrs: Vec<*mut c_void>,
}

impl Packed {
    pub fn new(args: &[Arg]) -> Self {
        let slots: Vec<Box<[u64]>> = args
            .iter()
            .map(|a| -> Box<[u64]> {
                match a {
                    Arg::Ptr(v) | Arg::U64(v) => Box::new([*v]),
                    Arg::U32(v) => Box::new([*v as u64]),
                    Arg::F32(v) => Box::new([v.to_bits() as u64]),
                    Arg::F64(v) => Box::new([v.to_bits()]),
                    Arg::Words(w) => {
                        let mut s = vec![0u64; w.len().div_ceil(2).max(1)];
                        for (i, &x) in w.iter().enumerate() {
                            s[i / 2] |= (x as u64) << (32 * (i % 2));
                        }
                        s.into_boxed_slice()
                    }
                }
            })
            .collect();
        // Little-endian: a u32/f32 value sits in the low bytes of its slot, where a pointer
        // to the slot reads it.
        let ptrs = slots.iter().map(|s| s.as_ptr() as *mut c_void).collect();
        Self {
            _slots: slots,
            ptrs,
        }
    }
}

/// A launch shape.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LaunchDims {
    pub grid: [u32; 3],
    pub block: [u32; 3],
}

/// A CUDA device as the launch code sees it. Pointers are device addresses (`CUdeviceptr`).
pub(crate) trait Gpu:
    Send + Sync + std::panic::RefUnwindSafe + std::panic::UnwindSafe
{
    /// The ordinal it was opened under.
    fn ordinal(&self) -> usize;
    /// A device allocation of `bytes` (> 0).
    fn alloc(&self, bytes: usize) -> Result<u64>;
    /// Frees an allocation of `bytes` made by [`alloc`](Self::alloc).
    fn free(&self, ptr: u64, bytes: usize);
    /// Host → device.
    fn upload(&self, dst: u64, src: &[u8]) -> Result<()>;
    /// Device → host.
    fn download(&self, src: u64, dst: &mut [u8]) -> Result<()>;
    /// Runs kernel `name` (an `extern "C"` entry point of [`super::kernels::SOURCES`]).
    fn launch(&self, name: &str, dims: LaunchDims, args: &[Arg]) -> Result<()>;
}

/// Freed device allocations kept for reuse, by size class. Every op allocates its output and
/// the same shapes come back batch after batch; freeing device memory synchronises the whole
/// device, so this cache is what makes per-op allocation cheap. Reuse is safe because all work
/// runs in order on one stream.
#[derive(Default)]
pub(crate) struct BufferPool {
    free: Mutex<HashMap<usize, Vec<u64>>>,
}

impl BufferPool {
    /// The size class of a request: whole 512-byte blocks.
    pub fn class(bytes: usize) -> usize {
        bytes.div_ceil(512) * 512
    }

    /// A cached allocation of size class `class`, if any.
    pub fn take(&self, class: usize) -> Option<u64> {
        self.free.lock().ok()?.get_mut(&class)?.pop()
    }

    /// Keeps `ptr` (of size class `class`) for reuse.
    pub fn put(&self, ptr: u64, class: usize) {
        if let Ok(mut m) = self.free.lock() {
            m.entry(class).or_default().push(ptr);
        }
    }

    /// Empties the cache (to free it for real when an allocation fails).
    pub fn drain(&self) -> Vec<(u64, usize)> {
        self.free
            .lock()
            .map(|mut m| {
                m.drain()
                    .flat_map(|(c, ptrs)| ptrs.into_iter().map(move |p| (p, c)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The opened devices, by ordinal (opened once, on first use).
fn opened() -> &'static Mutex<HashMap<usize, Arc<dyn Gpu>>> {
    static DEVICES: std::sync::OnceLock<Mutex<HashMap<usize, Arc<dyn Gpu>>>> =
        std::sync::OnceLock::new();
    DEVICES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The device with this ordinal: the emulator for [`super::EMULATOR_ORDINAL`] (with the
/// `cuda-emu` feature), else the real device, opened on first use.
pub(crate) fn device(ordinal: usize) -> Result<Arc<dyn Gpu>> {
    let mut map = opened()
        .lock()
        .map_err(|_| Error::Cuda("device table poisoned".into()))?;
    if let Some(d) = map.get(&ordinal) {
        return Ok(d.clone());
    }
    #[cfg(feature = "cuda-emu")]
    let d: Arc<dyn Gpu> = if ordinal == super::EMULATOR_ORDINAL {
        Arc::new(super::emu::Emulator::default())
    } else {
        Arc::new(super::driver::Driver::open(ordinal)?)
    };
    #[cfg(not(feature = "cuda-emu"))]
    let d: Arc<dyn Gpu> = Arc::new(super::driver::Driver::open(ordinal)?);
    map.insert(ordinal, d.clone());
    Ok(d)
}
