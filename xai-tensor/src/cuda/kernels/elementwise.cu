// Elementwise kernels: unary maps, broadcast binary maps (strided indexing), select, casts,
// strided copies (permute, broadcast) and block copies (narrow, cat), fill.
// One thread per output element in a grid-stride loop; the op is a kernel argument, so one
// kernel serves every op of a family (the switch is uniform across a warp: no divergence).

// Unary ops by their `UnaryCode` (common.cuh).
template <typename T>
__device__ __forceinline__ T unary_apply(u32 op, T x, T a, T b) {
    const T zero = T(0), one = T(1);
    switch (op) {
    case UNARY_NEG: return -x;
    case UNARY_EXP: return x_exp(x);
    case UNARY_LOG: return x_log(x);
    case UNARY_SQRT: return x_sqrt(x);
    case UNARY_ABS: return x_abs(x);
    case UNARY_SIGN: return x > zero ? one : (x < zero ? -one : zero);
    case UNARY_RELU: return x <= zero ? zero : x;  // NaN passes, as in PyTorch
    case UNARY_STEP: return x > zero ? one : zero;
    case UNARY_SIGMOID:
        if (x >= zero) return one / (one + x_exp(-x));
        else {
            T e = x_exp(x);
            return e / (one + e);
        }
    case UNARY_TANH: return x_tanh(x);
    case UNARY_SOFTPLUS: return x_max(x, zero) + x_log1p(x_exp(-x_abs(x)));
    case UNARY_RECIP: return one / x;
    case UNARY_SQUARE: return x * x;
    case UNARY_POWF: return x_pow(x, a);
    case UNARY_AFFINE: return a * x + b;
    case UNARY_LEAKY_RELU: return x > zero ? x : a * x;
    case UNARY_CLAMP: return x < a ? a : (x > b ? b : x);  // NaN stays NaN
    case UNARY_GT_SCALAR:
    default: return x > a ? one : zero;
    }
}

template <typename T>
__device__ void unary_impl(const T* x, T* y, u32 n, u32 op, T a, T b) {
    GRID_STRIDE(i, n) { y[i] = unary_apply(op, x[i], a, b); }
}
XAI_KERNELS(unary, (const T* x, T* y, u32 n, u32 op, T a, T b), (x, y, n, op, a, b))

// Binary ops by their `BinaryCode` (common.cuh).
template <typename T>
__device__ __forceinline__ T binary_apply(u32 op, T x, T y) {
    const T zero = T(0), one = T(1);
    switch (op) {
    case BINARY_ADD: return x + y;
    case BINARY_SUB: return x - y;
    case BINARY_MUL: return x * y;
    case BINARY_DIV: return x / y;
    case BINARY_MAXIMUM: return (y > x || y != y) ? y : x;  // a NaN on either side wins
    case BINARY_MINIMUM: return (y < x || y != y) ? y : x;
    case BINARY_GT: return x > y ? one : zero;
    case BINARY_GE: return x >= y ? one : zero;
    case BINARY_LT: return x < y ? one : zero;
    case BINARY_LE: return x <= y ? one : zero;
    case BINARY_EQ:
    default: return x == y ? one : zero;
    }
}

// out[i] = a[Σ k_d·sa_d] ∘ b[Σ k_d·sb_d] for the multi-index k of i in `shape`; broadcast
// axes have stride 0 (NumPy broadcasting as strides).
template <typename T>
__device__ void binary_impl(const T* a, const T* b, T* out, u32 n, u32 rank, Dims shape,
                            Dims sa, Dims sb, u32 op) {
    GRID_STRIDE(i, n) {
        u32 rem = i, oa = 0, ob = 0;
        for (int d = (int)rank - 1; d >= 0; --d) {
            u32 k = rem % shape.d[d];
            rem /= shape.d[d];
            oa += k * sa.d[d];
            ob += k * sb.d[d];
        }
        out[i] = binary_apply(op, a[oa], b[ob]);
    }
}
XAI_KERNELS(binary,
            (const T* a, const T* b, T* out, u32 n, u32 rank, Dims shape, Dims sa, Dims sb,
             u32 op),
            (a, b, out, n, rank, shape, sa, sb, op))

// out[i] = x[Σ k_d·st_d]: permutes, broadcasts and (with reduced axes moved last) gathers.
template <typename T>
__device__ void strided_copy_impl(const T* x, T* out, u32 n, u32 rank, Dims shape, Dims st) {
    GRID_STRIDE(i, n) {
        u32 rem = i, off = 0;
        for (int d = (int)rank - 1; d >= 0; --d) {
            off += (rem % shape.d[d]) * st.d[d];
            rem /= shape.d[d];
        }
        out[i] = x[off];
    }
}
XAI_KERNELS(strided_copy, (const T* x, T* out, u32 n, u32 rank, Dims shape, Dims st),
            (x, out, n, rank, shape, st))

// `blocks` runs of `len` elements: dst[dst_off + b·dst_stride + j] = src[src_off + b·src_stride + j].
template <typename T>
__device__ void copy_blocks_impl(const T* src, T* dst, u32 blocks, u32 len, u32 src_stride,
                                 u32 src_off, u32 dst_stride, u32 dst_off) {
    GRID_STRIDE(i, blocks * len) {
        u32 b = i / len, j = i % len;
        dst[dst_off + b * dst_stride + j] = src[src_off + b * src_stride + j];
    }
}
XAI_KERNELS(copy_blocks,
            (const T* src, T* dst, u32 blocks, u32 len, u32 src_stride, u32 src_off,
             u32 dst_stride, u32 dst_off),
            (src, dst, blocks, len, src_stride, src_off, dst_stride, dst_off))

template <typename T>
__device__ void where_impl(const T* mask, const T* a, const T* b, T* out, u32 n) {
    GRID_STRIDE(i, n) { out[i] = mask[i] != T(0) ? a[i] : b[i]; }
}
XAI_KERNELS(where, (const T* mask, const T* a, const T* b, T* out, u32 n),
            (mask, a, b, out, n))

template <typename T>
__device__ void fill_impl(T* y, u32 n, T value) {
    GRID_STRIDE(i, n) { y[i] = value; }
}
XAI_KERNELS(fill, (T* y, u32 n, T value), (y, n, value))

// Casts: `cast_f32` reads f64 and writes f32, `cast_f64` reads f32 and writes f64.
template <typename T>
__device__ void cast_impl(const void* x, T* y, u32 n) {
    GRID_STRIDE(i, n) {
        if (sizeof(T) == 4) y[i] = (T)((const double*)x)[i];
        else y[i] = (T)((const float*)x)[i];
    }
}
XAI_KERNELS(cast, (const void* x, T* y, u32 n), (x, y, n))
