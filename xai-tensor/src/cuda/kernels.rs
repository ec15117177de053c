//! The kernel sources and their NVRTC compilation.

use crate::{Error, Result};

/// The kernel sources in program order (`common.cuh` first); each entry point exists as
/// `name_f32` and `name_f64`.
pub const SOURCES: [(&str, &str); 8] = [
    ("common.cuh", include_str!("kernels/common.cuh")),
    ("elementwise.cu", include_str!("kernels/elementwise.cu")),
    ("reduce.cu", include_str!("kernels/reduce.cu")),
    ("gemm.cu", include_str!("kernels/gemm.cu")),
    ("conv.cu", include_str!("kernels/conv.cu")),
    ("index.cu", include_str!("kernels/index.cu")),
    ("random.cu", include_str!("kernels/random.cu")),
    ("optim.cu", include_str!("kernels/optim.cu")),
];

/// The code of the family-kernel op called `name` (`UNARY_EXP`), as `common.cuh`'s op enums
/// declare it (one `NAME = CODE,` per line): the launch code selects ops by name, so the
/// codes live in one table, the kernels'.
///
/// # Panics
/// If `common.cuh` declares no such op (a test checks every name the launch code uses).
pub fn op_code(name: &str) -> u32 {
    static CODES: std::sync::OnceLock<std::collections::HashMap<&'static str, u32>> =
        std::sync::OnceLock::new();
    let codes = CODES.get_or_init(|| {
        SOURCES[0]
            .1
            .lines()
            .filter_map(|l| {
                let (k, v) = l.trim().strip_suffix(',')?.split_once(" = ")?;
                let is_name =
                    !k.is_empty() && k.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
                Some((k, v.parse().ok()?)).filter(|_| is_name)
            })
            .collect()
    });
    *codes
        .get(name)
        .unwrap_or_else(|| panic!("kernel op {name} is not declared in common.cuh"))
}

/// One NVRTC program: every source concatenated (the sources include nothing).
pub fn program() -> String {
    SOURCES
        .iter()
        .map(|(name, src)| format!("// ---- {name}\n{src}\n"))
        .collect()
}

/// Whether libnvrtc can be loaded (searched on the library path under its usual names).
pub fn nvrtc_available() -> bool {
    // SAFETY: only tries to open the shared library; loads nothing on failure.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// What NVRTC produced: the PTX and the compile log (empty when there was nothing to say).
#[derive(Debug)]
pub struct Compiled {
    pub ptx: Vec<u8>,
    pub log: String,
}

/// Compiles [`program`] with NVRTC for `arch` (e.g. `compute_80` for PTX that the driver
/// JIT-compiles, or `sm_90`). Errors name what is missing (libnvrtc) or what failed, with the
/// compile log.
pub fn compile(arch: &str) -> Result<Compiled> {
    use cudarc::nvrtc::result;
    use std::ffi::CString;
    if !nvrtc_available() {
        return Err(Error::Cuda(
            "NVRTC (libnvrtc.so) not found on the library path; install the CUDA toolkit or \
             the nvidia-cuda-nvrtc-cu12 wheel and add its lib folder to LD_LIBRARY_PATH"
                .into(),
        ));
    }
    let nvrtc_err = |what: &str, e: cudarc::nvrtc::result::NvrtcError| {
        Error::Cuda(format!("NVRTC {what}: {e:?}"))
    };
    let src = CString::new(program()).map_err(|e| Error::Cuda(format!("kernel source: {e}")))?;
    let name = CString::new("xai_kernels.cu").map_err(|e| Error::Cuda(e.to_string()))?;
    let prog = result::create_program(&src, Some(&name)).map_err(|e| nvrtc_err("create", e))?;
    let opts = [
        format!("--gpu-architecture={arch}"),
        "--std=c++17".to_string(),
        "--fmad=true".to_string(),
    ];
    // SAFETY: `prog` is a live program; options are plain strings.
    let compiled = unsafe { result::compile_program(prog, &opts) };
    // SAFETY: as above; the log exists after compilation whether or not it succeeded.
    let log = unsafe { result::get_program_log(prog) }
        .map(|raw| {
            let bytes: Vec<u8> = raw
                .iter()
                .map(|&c| c as u8)
                .take_while(|&c| c != 0)
                .collect();
            String::from_utf8_lossy(&bytes).trim().to_string()
        })
        .unwrap_or_default();
    let out = compiled
        .map_err(|e| Error::Cuda(format!("NVRTC compile for {arch} failed ({e:?}):\n{log}")))
        .and_then(|()| {
            // SAFETY: compilation succeeded, so the PTX exists.
            unsafe { result::get_ptx(prog) }
                .map(|p| p.iter().map(|&c| c as u8).collect())
                .map_err(|e| nvrtc_err("get_ptx", e))
        });
    // SAFETY: destroyed once, after its last use.
    let _ = unsafe { result::destroy_program(prog) };
    Ok(Compiled { ptx: out?, log })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles every kernel for `arch`; fails on any error or warning. Skips (saying why) only
    /// when libnvrtc cannot be found: `make test` provides it.
    fn check(arch: &str) {
        if !nvrtc_available() {
            eprintln!(
                "SKIPPED nvrtc check for {arch}: libnvrtc not found (run `make nvrtc` or set \
                 LD_LIBRARY_PATH to a folder holding libnvrtc.so.12)"
            );
            return;
        }
        let c = compile(arch).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.log.is_empty(), "NVRTC warnings for {arch}:\n{}", c.log);
        let ptx = String::from_utf8_lossy(&c.ptx);
        for (file, src) in SOURCES {
            for line in src.lines().filter(|l| l.starts_with("XAI_KERNELS(")) {
                let name = line["XAI_KERNELS(".len()..].split(',').next().unwrap_or("");
                for suffix in ["f32", "f64"] {
                    let entry = format!(".entry {name}_{suffix}(");
                    assert!(ptx.contains(&entry), "{file}: {entry} missing from the PTX");
                }
            }
        }
    }

    #[test]
    fn every_op_the_launch_code_names_is_declared_once_by_the_kernels() {
        // The launch code, one file per op family: every file of `ops/` is listed here.
        let files = [
            ("mod.rs", include_str!("ops/mod.rs")),
            ("launch.rs", include_str!("ops/launch.rs")),
            ("elementwise.rs", include_str!("ops/elementwise.rs")),
            ("reduce.rs", include_str!("ops/reduce.rs")),
            ("matmul.rs", include_str!("ops/matmul.rs")),
            ("conv.rs", include_str!("ops/conv.rs")),
            ("layout.rs", include_str!("ops/layout.rs")),
            ("random.rs", include_str!("ops/random.rs")),
        ];
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/cuda/ops");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".rs"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
        listed.sort_unstable();
        assert_eq!(on_disk, listed, "files of {dir}");
        let launch: String = files.iter().map(|(_, src)| *src).collect();
        let names: Vec<&str> = launch
            .split("op_code(\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .collect();
        assert!(names.len() >= 32, "{} op names", names.len());
        for name in &names {
            super::op_code(name);
        }
        // Codes are distinct within a family and dense from 0, as the switches expect.
        for family in ["UNARY_", "BINARY_", "REDUCE_"] {
            let mut codes: Vec<u32> = names
                .iter()
                .filter(|n| n.starts_with(family))
                .map(|n| super::op_code(n))
                .collect();
            codes.sort_unstable();
            assert_eq!(
                codes,
                (0..codes.len() as u32).collect::<Vec<_>>(),
                "{family}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "kernel op UNARY_NOPE is not declared")]
    fn an_undeclared_op_is_refused() {
        super::op_code("UNARY_NOPE");
    }

    #[test]
    fn nvrtc_compiles_every_kernel_for_sm_80() {
        check("sm_80");
    }

    #[test]
    fn nvrtc_compiles_every_kernel_for_sm_90() {
        check("sm_90");
    }
}
