// Reductions of rows (the backend first moves the reduced axes last, like the CPU), argmax,
// and softmax / log-softmax along the middle axis of [outer, size, inner].

// Reductions by their `ReduceCode` (common.cuh). Max and Min let NaN win, like the CPU fold.
template <typename T>
__device__ __forceinline__ T reduce_combine(u32 op, T m, T x) {
    switch (op) {
    case REDUCE_SUM: return m + x;
    case REDUCE_MAX: return (x > m || x != x) ? x : m;
    case REDUCE_MIN:
    default: return (x < m || x != x) ? x : m;
    }
}

// Short rows: one thread folds one row in order (the CPU's order, so sums agree exactly).
template <typename T>
__device__ void reduce_rows_serial_impl(const T* x, T* y, u32 rows, u32 len, u32 op, T init) {
    GRID_STRIDE(r, rows) {
        T acc = init;
        const T* row = x + (u64)r * len;
        for (u32 j = 0; j < len; ++j) acc = reduce_combine(op, acc, row[j]);
        y[r] = acc;
    }
}
XAI_KERNELS(reduce_rows_serial, (const T* x, T* y, u32 rows, u32 len, u32 op, T init),
            (x, y, rows, len, op, init))

#define REDUCE_MAX_THREADS 256

// Long rows: one block per row (grid-stride over rows); each thread folds a strided slice,
// then a shared-memory tree halves the partials. blockDim.x is a power of two ≤ 256.
template <typename T>
__device__ void reduce_rows_tree_impl(const T* x, T* y, u32 rows, u32 len, u32 op, T init) {
    __shared__ T partial[REDUCE_MAX_THREADS];
    const u32 t = threadIdx.x;
    for (u32 r = blockIdx.x; r < rows; r += gridDim.x) {
        const T* row = x + (u64)r * len;
        T acc = init;
        for (u32 j = t; j < len; j += blockDim.x) acc = reduce_combine(op, acc, row[j]);
        partial[t] = acc;
        __syncthreads();
        for (u32 s = blockDim.x / 2; s > 0; s >>= 1) {
            if (t < s) partial[t] = reduce_combine(op, partial[t], partial[t + s]);
            __syncthreads();
        }
        if (t == 0) y[r] = partial[0];
        __syncthreads();
    }
}
XAI_KERNELS(reduce_rows_tree, (const T* x, T* y, u32 rows, u32 len, u32 op, T init),
            (x, y, rows, len, op, init))

// Index of the maximum along the middle axis (first on ties), as a float.
template <typename T>
__device__ void argmax_impl(const T* x, T* y, u32 outer, u32 size, u32 inner) {
    GRID_STRIDE(q, outer * inner) {
        u32 o = q / inner, i = q % inner;
        const T* col = x + (u64)o * size * inner + i;
        u32 best = 0;
        for (u32 j = 1; j < size; ++j)
            if (col[j * inner] > col[best * inner] ||
                (col[j * inner] != col[j * inner] && col[best * inner] == col[best * inner]))
                best = j;  // the first NaN is the maximum, as in PyTorch
        y[q] = T(best);
    }
}
XAI_KERNELS(argmax, (const T* x, T* y, u32 outer, u32 size, u32 inner),
            (x, y, outer, size, inner))

// Stable softmax: one thread per (outer, inner) column, max subtracted first; `log` selects
// log-softmax z − ln Σ eᶻ.
template <typename T>
__device__ void softmax_impl(const T* x, T* y, u32 outer, u32 size, u32 inner, u32 log) {
    GRID_STRIDE(q, outer * inner) {
        u32 o = q / inner, i = q % inner;
        const u64 base = (u64)o * size * inner + i;
        T m = x[base];
        for (u32 j = 1; j < size; ++j) m = x_max(m, x[base + (u64)j * inner]);
        T s = T(0);
        for (u32 j = 0; j < size; ++j) s += x_exp(x[base + (u64)j * inner] - m);
        T ls = x_log(s);
        for (u32 j = 0; j < size; ++j) {
            T z = x[base + (u64)j * inner] - m;
            y[base + (u64)j * inner] = log ? z - ls : x_exp(z) / s;
        }
    }
}
XAI_KERNELS(softmax, (const T* x, T* y, u32 outer, u32 size, u32 inner, u32 log),
            (x, y, outer, size, inner, log))
