# Build, test and demo entry points. Needs a Rust toolchain; `deps` installs the
# system OpenBLAS that ndarray's BLAS backend links against (Debian/Ubuntu).

SUDO := $(shell if [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then echo sudo; fi)

.PHONY: all deps test demo bench

all: test

deps:
	dpkg -s libopenblas-dev >/dev/null 2>&1 || ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y libopenblas-dev)

test: deps
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test --workspace --release

demo: deps
	cargo run --release -p xai-cli --bin xai -- demo --output-dir demo-output

bench:
	cargo bench -p xai-benches
