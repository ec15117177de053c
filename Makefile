# Build, test and demo entry points. Needs a Rust toolchain; `deps` installs the
# system OpenBLAS that ndarray's BLAS backend links against (Debian/Ubuntu).

SUDO := $(shell if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then echo sudo; fi)

.PHONY: all deps nvrtc test demo bench

# libnvrtc for the nvrtc_* compile checks of the CUDA kernels: the NVRTC wheel from the Python
# package registry, unpacked outside the repository. Only this target downloads; building never does.
NVRTC_DIR := $(HOME)/.cache/xai/nvrtc
NVRTC_ENV := LD_LIBRARY_PATH=$(NVRTC_DIR)$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}

all: test

deps:
	dpkg -s libopenblas-dev >/dev/null 2>&1 || ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y libopenblas-dev)

nvrtc:
	@ls $(NVRTC_DIR)/libnvrtc.so.* >/dev/null 2>&1 || ( \
	  mkdir -p $(NVRTC_DIR)/wheel && \
	  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_$$(uname -m) \
	    --python-version 3.10 -d $(NVRTC_DIR)/wheel nvidia-cuda-nvrtc-cu12 && \
	  python3 -c "import glob,os,sys,zipfile; z=zipfile.ZipFile(sorted(glob.glob(sys.argv[1]+'/wheel/*.whl'))[-1]); \
	    [open(os.path.join(sys.argv[1],os.path.basename(n)),'wb').write(z.read(n)) for n in z.namelist() if '/lib/' in n and '.so' in n]" $(NVRTC_DIR) \
	) || echo "warning: could not fetch libnvrtc into $(NVRTC_DIR); the nvrtc_* tests will skip"

# The CUDA lines use one feature set, so their builds share artifacts: the backend (`cuda`, which
# is what `cargo build --workspace --features cuda` builds) plus the host emulator of its kernels.
CUDA_FEATURES := cuda,xai-tensor/cuda-emu,xai-passive/cuda-emu,xai-cli/cuda-emu

test: deps nvrtc
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --workspace --all-targets --features $(CUDA_FEATURES) -- -D warnings
	cargo test --workspace --release
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --quiet
	@# Every test again on another OpenBLAS kernel (Prescott: SSE3, runs on any x86-64 CPU), so a
	@# batch-size or determinism check that passes only with this CPU's kernel fails here too.
	if [ "$$(uname -m)" = x86_64 ]; then OPENBLAS_CORETYPE=Prescott cargo test --workspace --release; fi
	cargo build --release --workspace --features $(CUDA_FEATURES)
	$(NVRTC_ENV) cargo test --release -p xai-tensor --features cuda-emu
	cargo test --release -p xai-passive --features cuda-emu --test emu_lenet
	cargo test --release -p xai-cli --features $(CUDA_FEATURES) --test device

demo: deps
	cargo run --release -p xai-cli --bin xai -- demo --output-dir demo-output

bench:
	cargo bench -p xai-benches
