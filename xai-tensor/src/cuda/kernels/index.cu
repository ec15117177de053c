// Gather / scatter-add along the middle axis of [outer, size, inner], index-select and its
// adjoint. Indices arrive as u32 (checked on the host). The adjoints are gathers over the
// source (each output sums its sources in order), so they need no atomics.

template <typename T>
__device__ void gather_impl(const T* v, const u32* idx, T* out, u32 outer, u32 size, u32 inner,
                            u32 len) {
    GRID_STRIDE(e, outer * len * inner) {
        u32 i = e % inner, o = e / (inner * len);
        out[e] = v[((u64)o * size + idx[e]) * inner + i];
    }
}
XAI_KERNELS(gather,
            (const T* v, const u32* idx, T* out, u32 outer, u32 size, u32 inner, u32 len),
            (v, idx, out, outer, size, inner, len))

// out[o, t, i] = Σ_j [idx[o, j, i] = t] · v[o, j, i].
template <typename T>
__device__ void scatter_add_impl(const T* v, const u32* idx, T* out, u32 outer, u32 len,
                                 u32 inner, u32 size) {
    GRID_STRIDE(e, outer * size * inner) {
        u32 i = e % inner, t = (e / inner) % size, o = e / (inner * size);
        T acc = T(0);
        for (u32 j = 0; j < len; ++j) {
            u64 k = ((u64)o * len + j) * inner + i;
            if (idx[k] == t) acc += v[k];
        }
        out[e] = acc;
    }
}
XAI_KERNELS(scatter_add,
            (const T* v, const u32* idx, T* out, u32 outer, u32 len, u32 inner, u32 size),
            (v, idx, out, outer, len, inner, size))

// out[o, j, i] = v[o, idx[j], i].
template <typename T>
__device__ void index_select_impl(const T* v, const u32* idx, T* out, u32 outer, u32 size,
                                  u32 inner, u32 len) {
    GRID_STRIDE(e, outer * len * inner) {
        u32 i = e % inner, j = (e / inner) % len, o = e / (inner * len);
        out[e] = v[((u64)o * size + idx[j]) * inner + i];
    }
}
XAI_KERNELS(index_select,
            (const T* v, const u32* idx, T* out, u32 outer, u32 size, u32 inner, u32 len),
            (v, idx, out, outer, size, inner, len))

// out[o, t, i] = Σ_j [idx[j] = t] · v[o, j, i].
template <typename T>
__device__ void index_add_impl(const T* v, const u32* idx, T* out, u32 outer, u32 len,
                               u32 inner, u32 size) {
    GRID_STRIDE(e, outer * size * inner) {
        u32 i = e % inner, t = (e / inner) % size, o = e / (inner * size);
        T acc = T(0);
        for (u32 j = 0; j < len; ++j)
            if (idx[j] == t) acc += v[((u64)o * len + j) * inner + i];
        out[e] = acc;
    }
}
XAI_KERNELS(index_add,
            (const T* v, const u32* idx, T* out, u32 outer, u32 len, u32 inner, u32 size),
            (v, idx, out, outer, len, inner, size))
