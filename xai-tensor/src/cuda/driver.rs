//! The real CUDA device through cudarc's driver API, loaded at run time. Opening it checks, in
//! order, that libcuda loads, that the device exists and that libnvrtc loads, and reports the
//! first thing missing as one line; the kernels are compiled by NVRTC for the device's compute
//! capability once per device (per process).

use super::gpu::{Arg, BufferPool, Gpu, LaunchDims, Packed};
use crate::{Error, Result};
use cudarc::driver::{result, sys};
use std::collections::HashMap;
use std::ffi::CString;
use std::sync::Mutex;

pub(crate) struct Driver {
    ordinal: usize,
    ctx: sys::CUcontext,
    module: sys::CUmodule,
    functions: Mutex<HashMap<String, FunctionHandle>>,
    pool: BufferPool,
}

#[derive(Clone, Copy)]
struct FunctionHandle(sys::CUfunction);

// SAFETY: CUDA contexts, modules and functions are process-wide handles usable from any thread
// once the context is made current (every call below does so first).
unsafe impl Send for Driver {}
unsafe impl Sync for Driver {}
unsafe impl Send for FunctionHandle {}

fn driver_err(what: &str) -> impl Fn(result::DriverError) -> Error + '_ {
    move |e| Error::Cuda(format!("{what}: {e:?}"))
}

impl Driver {
    /// Opens device `ordinal`; the error names what is missing.
    pub fn open(ordinal: usize) -> Result<Self> {
        // SAFETY: only tries to open the shared library.
        if !unsafe { sys::is_culib_present() } {
            return Err(Error::Cuda(
                "no CUDA driver (libcuda.so not found); install the NVIDIA driver or use \
                 --device cpu"
                    .into(),
            ));
        }
        result::init().map_err(|e| {
            Error::Cuda(format!(
                "no usable CUDA device (cuInit failed: {e:?}); use --device cpu"
            ))
        })?;
        let count = result::device::get_count().map_err(driver_err("cuDeviceGetCount"))?;
        if ordinal >= count.max(0) as usize {
            return Err(Error::Cuda(format!(
                "no CUDA device {ordinal} (this machine has {count})"
            )));
        }
        let dev = result::device::get(ordinal as i32).map_err(driver_err("cuDeviceGet"))?;
        // SAFETY: `dev` comes from cuDeviceGet.
        let (major, minor) = unsafe {
            (
                result::device::get_attribute(
                    dev,
                    sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                ),
                result::device::get_attribute(
                    dev,
                    sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                ),
            )
        };
        let arch = format!(
            "compute_{}{}",
            major.map_err(driver_err("compute capability"))?,
            minor.map_err(driver_err("compute capability"))?
        );
        let compiled = super::kernels::compile(&arch)?;
        // SAFETY: `dev` is valid; the primary context is retained for the process lifetime.
        let ctx = unsafe { result::primary_ctx::retain(dev) }.map_err(driver_err("context"))?;
        // SAFETY: `ctx` was just retained.
        unsafe { result::ctx::set_current(ctx) }.map_err(driver_err("context"))?;
        let ptx = CString::new(
            compiled
                .ptx
                .into_iter()
                .filter(|&b| b != 0)
                .collect::<Vec<_>>(),
        )
        .map_err(|e| Error::Cuda(e.to_string()))?;
        // SAFETY: a NUL-terminated PTX image, loaded into the current context.
        let module = unsafe { result::module::load_data(ptx.as_ptr().cast()) }
            .map_err(driver_err("PTX load"))?;
        Ok(Self {
            ordinal,
            ctx,
            module,
            functions: Mutex::new(HashMap::new()),
            pool: BufferPool::default(),
        })
    }

    fn current(&self) -> Result<()> {
        // SAFETY: `ctx` stays retained while `self` lives.
        unsafe { result::ctx::set_current(self.ctx) }.map_err(driver_err("context"))
    }

    fn function(&self, name: &str) -> Result<sys::CUfunction> {
        let mut map = self
            .functions
            .lock()
            .map_err(|_| Error::Cuda("function table poisoned".into()))?;
        if let Some(f) = map.get(name) {
            return Ok(f.0);
        }
        let c = CString::new(name).map_err(|e| Error::Cuda(e.to_string()))?;
        // SAFETY: `module` is loaded and never unloaded.
        let f = unsafe { result::module::get_function(self.module, c) }
            .map_err(driver_err("cuModuleGetFunction"))?;
        map.insert(name.to_string(), FunctionHandle(f));
        Ok(f)
    }
}

impl Gpu for Driver {
    fn ordinal(&self) -> usize {
        self.ordinal
    }
    fn alloc(&self, bytes: usize) -> Result<u64> {
        let class = BufferPool::class(bytes);
        if let Some(p) = self.pool.take(class) {
            return Ok(p);
        }
        self.current()?;
        // SAFETY: a plain device allocation in the current context.
        match unsafe { result::malloc_sync(class) } {
            Ok(p) => Ok(p),
            Err(_) => {
                // Out of memory with buffers cached: free them for real and try once more.
                for (p, _) in self.pool.drain() {
                    // SAFETY: cached allocations are unused; each is freed once.
                    let _ = unsafe { result::free_sync(p) };
                }
                // SAFETY: as above.
                unsafe { result::malloc_sync(class) }.map_err(driver_err("cuMemAlloc"))
            }
        }
    }
    fn free(&self, ptr: u64, bytes: usize) {
        self.pool.put(ptr, BufferPool::class(bytes));
    }
    fn upload(&self, dst: u64, src: &[u8]) -> Result<()> {
        self.current()?;
        // SAFETY: `dst` holds at least `src.len()` bytes.
        unsafe { result::memcpy_htod_sync(dst, src) }.map_err(driver_err("cuMemcpyHtoD"))
    }
    fn download(&self, src: u64, dst: &mut [u8]) -> Result<()> {
        self.current()?;
        // SAFETY: `src` holds at least `dst.len()` bytes; the copy waits for earlier launches.
        unsafe { result::memcpy_dtoh_sync(dst, src) }.map_err(driver_err("cuMemcpyDtoH"))
    }
    fn launch(&self, name: &str, dims: LaunchDims, args: &[Arg]) -> Result<()> {
        self.current()?;
        let f = self.function(name)?;
        let mut packed = Packed::new(args);
        let [gx, gy, gz] = dims.grid;
        let [bx, by, bz] = dims.block;
        // SAFETY: arguments are packed for this kernel's signature; pointers are live device
        // allocations; the launch goes on the legacy default stream, which the synchronous
        // copies above wait for.
        unsafe {
            result::launch_kernel(
                f,
                (gx, gy, gz),
                (bx, by, bz),
                0,
                std::ptr::null_mut(),
                &mut packed.ptrs,
            )
        }
        .map_err(driver_err(name))
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Device, Tensor};

    /// On a machine with a usable GPU the copy works; elsewhere it is one line naming what is
    /// missing (driver, device or libnvrtc), never a panic.
    #[test]
    fn cuda_device_is_usable_or_one_line_naming_what_is_missing() {
        for ordinal in [0, 7] {
            match Tensor::ones(&[3], DType::F32).to_device(Device::Cuda(ordinal)) {
                Ok(t) => assert_eq!(t.to_vec_f64().unwrap(), [1.0; 3]),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(!msg.contains('\n'), "one line: {msg}");
                    assert!(
                        ["libcuda", "CUDA device", "libnvrtc", "cuInit"]
                            .iter()
                            .any(|w| msg.contains(w)),
                        "names what is missing: {msg}"
                    );
                }
            }
        }
    }
}
