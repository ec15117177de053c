//! With the `cuda-emu` feature, compiles the CUDA kernel sources for the host emulator.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "cuda-emu")]
    {
        let dir = "src/cuda";
        for f in std::fs::read_dir(format!("{dir}/kernels"))
            .into_iter()
            .flatten()
            .chain(
                std::fs::read_dir(format!("{dir}/emu"))
                    .into_iter()
                    .flatten(),
            )
            .flatten()
        {
            println!("cargo:rerun-if-changed={}", f.path().display());
        }
        cc::Build::new()
            .cpp(true)
            .std("c++17")
            .file(format!("{dir}/emu/emu.cpp"))
            .opt_level(2)
            .warnings(true)
            .extra_warnings(true)
            .warnings_into_errors(true)
            .compile("xai_cuda_emu");
    }
}
