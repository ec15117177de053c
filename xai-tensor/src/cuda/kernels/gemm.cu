// Batched GEMM with shared-memory tiles: C_b = op(A_b)·op(B_b) (+ beta·C_b) for b in 0..batch
// (grid z), op = optional transpose, batch strides of 0 share an operand. Each 16×16 block
// stages a 16×16 tile of A and of B per step of k in shared memory (padded by one column
// against bank conflicts), so each global element is read once per tile instead of 16 times.

#define GEMM_TILE 16

template <typename T>
__device__ void gemm_impl(const T* a, const T* b, T* c, u32 m, u32 n, u32 k, u64 stride_a,
                          u64 stride_b, u64 stride_c, u32 trans_a, u32 trans_b, T beta) {
    __shared__ T as[GEMM_TILE][GEMM_TILE + 1];
    __shared__ T bs[GEMM_TILE][GEMM_TILE + 1];
    const u32 tx = threadIdx.x, ty = threadIdx.y;
    const u32 row = blockIdx.y * GEMM_TILE + ty, col = blockIdx.x * GEMM_TILE + tx;
    a += blockIdx.z * stride_a;
    b += blockIdx.z * stride_b;
    c += blockIdx.z * stride_c;
    T acc = T(0);
    for (u32 k0 = 0; k0 < k; k0 += GEMM_TILE) {
        const u32 ka = k0 + tx, kb = k0 + ty;
        as[ty][tx] = (row < m && ka < k) ? (trans_a ? a[(u64)ka * m + row] : a[(u64)row * k + ka])
                                         : T(0);
        bs[ty][tx] = (kb < k && col < n) ? (trans_b ? b[(u64)col * k + kb] : b[(u64)kb * n + col])
                                         : T(0);
        __syncthreads();
        for (u32 t = 0; t < GEMM_TILE; ++t) acc += as[ty][t] * bs[t][tx];
        __syncthreads();
    }
    if (row < m && col < n) {
        T* out = c + (u64)row * n + col;
        *out = beta == T(0) ? acc : acc + beta * *out;
    }
}
XAI_KERNELS(gemm,
            (const T* a, const T* b, T* c, u32 m, u32 n, u32 k, u64 stride_a, u64 stride_b,
             u64 stride_c, u32 trans_a, u32 trans_b, T beta),
            (a, b, c, m, n, k, stride_a, stride_b, stride_c, trans_a, trans_b, beta))
