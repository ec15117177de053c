// The host emulator's view of CUDA: maps the built-ins the xai kernels use onto the CPU so
// that the very same .cu sources compile with a C++17 compiler. Each CUDA thread of a block
// runs as a fiber (ucontext) on the calling OS thread; __syncthreads() yields to a round-robin
// scheduler that resumes every thread of the block before any passes the barrier, which keeps
// CUDA's barrier semantics. __shared__ variables are thread_local statics: one copy per block
// in flight (blocks of a launch run one after another on one OS thread). The kernels use no
// warp shuffles and no atomics, so none are mapped.
#pragma once

#include <cmath>
#include <cstddef>
#include <utility>

struct dim3 {
    unsigned int x, y, z;
};

namespace xai_emu {
extern thread_local dim3 thread_idx, block_idx, block_dim, grid_dim;
void sync_threads();

// A type-erased kernel entry point: unpacks CUDA-style `void** args` and calls the kernel.
typedef void (*Thunk)(void**);
int register_kernel(const char* name, Thunk thunk);

template <typename... A, std::size_t... I>
void call_with(void (*kernel)(A...), void** args, std::index_sequence<I...>) {
    kernel(*static_cast<A*>(args[I])...);
}
template <typename... A>
void invoke(void (*kernel)(A...), void** args) {
    call_with(kernel, args, std::index_sequence_for<A...>{});
}
}  // namespace xai_emu

#define threadIdx (xai_emu::thread_idx)
#define blockIdx (xai_emu::block_idx)
#define blockDim (xai_emu::block_dim)
#define gridDim (xai_emu::grid_dim)
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static thread_local
#define __syncthreads() xai_emu::sync_threads()
#define XAI_REGISTER(fn)                                                 \
    static const int xai_registered_##fn =                                \
        xai_emu::register_kernel(#fn, [](void** a) { xai_emu::invoke(&fn, a); });
