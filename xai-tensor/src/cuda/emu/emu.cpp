// The host emulator's runtime: kernel registry and block scheduler (see cuda_emu.h), then the
// kernel sources themselves, in the order the NVRTC program concatenates them.
#include "cuda_emu.h"

#include <ucontext.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

namespace xai_emu {
thread_local dim3 thread_idx, block_idx, block_dim, grid_dim;

static std::unordered_map<std::string, Thunk>& registry() {
    static std::unordered_map<std::string, Thunk> kernels;
    return kernels;
}

int register_kernel(const char* name, Thunk thunk) {
    registry()[name] = thunk;
    return 0;
}

namespace {
const std::size_t STACK_BYTES = 64 * 1024;

struct Fiber {
    ucontext_t ctx;
    dim3 tid;
    bool done;
};

// The fiber stacks of one OS thread, kept across launches and freed when the thread ends.
struct Stacks {
    std::vector<char*> stacks;
    ~Stacks() {
        for (char* s : stacks) std::free(s);
    }
    char* get(std::size_t i) {
        while (stacks.size() <= i) stacks.push_back(static_cast<char*>(std::malloc(STACK_BYTES)));
        return stacks[i];
    }
};

struct Launch {
    ucontext_t scheduler;
    std::vector<Fiber> fibers;
    std::size_t current;
    Thunk kernel;
    void** args;
};

thread_local Launch* active = nullptr;
thread_local Stacks stacks;

// A fiber runs the kernel once per block, then parks until the scheduler starts the next.
void fiber_main() {
    for (;;) {
        Launch* l = active;
        l->kernel(l->args);
        Fiber& f = l->fibers[l->current];
        f.done = true;
        swapcontext(&f.ctx, &l->scheduler);
    }
}
}  // namespace

void sync_threads() {
    Launch* l = active;
    swapcontext(&l->fibers[l->current].ctx, &l->scheduler);
}
}  // namespace xai_emu

// Runs kernel `name` over grid × block with CUDA-style arguments. Returns 0, 1 for an unknown
// kernel, 2 for a block of more than 1024 threads or an empty launch.
extern "C" int xai_emu_launch(const char* name, const unsigned int* grid,
                              const unsigned int* block, void** args) {
    using namespace xai_emu;
    auto it = registry().find(name);
    if (it == registry().end()) return 1;
    const unsigned int threads = block[0] * block[1] * block[2];
    if (threads == 0 || threads > 1024 || grid[0] * grid[1] * grid[2] == 0) return 2;
    Launch launch;
    launch.kernel = it->second;
    launch.args = args;
    launch.fibers.resize(threads);
    Launch* outer = active;
    active = &launch;
    grid_dim = dim3{grid[0], grid[1], grid[2]};
    block_dim = dim3{block[0], block[1], block[2]};
    ucontext_t proto;
    getcontext(&proto);
    for (unsigned int t = 0; t < threads; ++t) {
        Fiber& f = launch.fibers[t];
        std::memcpy(&f.ctx, &proto, sizeof(ucontext_t));
        f.ctx.uc_stack.ss_sp = stacks.get(t);
        f.ctx.uc_stack.ss_size = STACK_BYTES;
        f.ctx.uc_link = nullptr;
        makecontext(&f.ctx, fiber_main, 0);
        f.tid = dim3{t % block[0], (t / block[0]) % block[1], t / (block[0] * block[1])};
    }
    for (unsigned int bz = 0; bz < grid[2]; ++bz)
        for (unsigned int by = 0; by < grid[1]; ++by)
            for (unsigned int bx = 0; bx < grid[0]; ++bx) {
                block_idx = dim3{bx, by, bz};
                for (Fiber& f : launch.fibers) f.done = false;
                // Round robin: each pass resumes every live thread up to its next barrier.
                bool live = true;
                while (live) {
                    live = false;
                    for (unsigned int t = 0; t < threads; ++t) {
                        Fiber& f = launch.fibers[t];
                        if (f.done) continue;
                        launch.current = t;
                        thread_idx = f.tid;
                        swapcontext(&launch.scheduler, &f.ctx);
                        live = live || !f.done;
                    }
                }
            }
    active = outer;
    return 0;
}

#include "../kernels/common.cuh"
#include "../kernels/elementwise.cu"
#include "../kernels/reduce.cu"
#include "../kernels/gemm.cu"
#include "../kernels/conv.cu"
#include "../kernels/index.cu"
#include "../kernels/random.cu"
#include "../kernels/optim.cu"
