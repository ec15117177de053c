// Seeded random numbers from Philox4x32-10 (Salmon et al., SC 2011), bit for bit the
// counter/key layout of `random.rs`: element pair b of stream s under seed k is
// philox([b_lo, b_hi, s_lo, s_hi], [k_lo, k_hi]), so values never depend on the launch shape.

__device__ __forceinline__ void philox4x32_10(u32 c[4], u32 k0, u32 k1) {
    for (int r = 0; r < 10; ++r) {
        u64 p0 = (u64)0xD2511F53u * c[0];
        u64 p1 = (u64)0xCD9E8D57u * c[2];
        u32 n0 = (u32)(p1 >> 32) ^ c[1] ^ k0;
        u32 n2 = (u32)(p0 >> 32) ^ c[3] ^ k1;
        c[0] = n0;
        c[1] = (u32)p1;
        c[2] = n2;
        c[3] = (u32)p0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}

// A 53-bit uniform in [0, 1) from two words.
__device__ __forceinline__ double philox_unit(u32 hi, u32 lo) {
    return (double)((((u64)hi << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}

// kind 0: uniform on [p0, p1); 1: normal with mean p0, std p1 (Box–Muller); 2: Bernoulli(p0).
template <typename T>
__device__ void random_impl(T* y, u32 n, u32 seed_lo, u32 seed_hi, u32 stream_lo,
                            u32 stream_hi, u32 kind, double p0, double p1) {
    GRID_STRIDE(b, (n + 1) / 2) {
        u32 c[4] = {b, 0u, stream_lo, stream_hi};
        philox4x32_10(c, seed_lo, seed_hi);
        double a = philox_unit(c[0], c[1]), z = philox_unit(c[2], c[3]);
        double v0, v1;
        if (kind == 0) {
            v0 = p0 + (p1 - p0) * a;
            v1 = p0 + (p1 - p0) * z;
        } else if (kind == 1) {
            double r = sqrt(-2.0 * log(1.0 - a)), t = 2.0 * 3.141592653589793 * z;
            v0 = p0 + p1 * r * cos(t);
            v1 = p0 + p1 * r * sin(t);
        } else {
            v0 = a < p0 ? 1.0 : 0.0;
            v1 = z < p0 ? 1.0 : 0.0;
        }
        y[2 * b] = (T)v0;
        if (2 * b + 1 < n) y[2 * b + 1] = (T)v1;
    }
}
XAI_KERNELS(random,
            (T* y, u32 n, u32 seed_lo, u32 seed_hi, u32 stream_lo, u32 stream_hi, u32 kind,
             double p0, double p1),
            (y, n, seed_lo, seed_hi, stream_lo, stream_hi, kind, p0, p1))
