// Convolution by im2col + batched GEMM, its input gradient by GEMM + col2im, and pooling.
// col2im and the pooling backward are written as gathers (each input element sums what it
// contributed to), so no atomics are needed and sums run in a fixed order.

// Geometry of a convolution over `n` images: input [n, c, h, w], kernel kh×kw, output oh×ow.
struct ConvGeom {
    u32 n, c, h, w, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw;
};

// col[b, (ci·kh + i)·kw + j, oy·ow + ox] = x[b, ci, oy·sh + i·dh − ph, ox·sw + j·dw − pw]
// (0 outside the input).
template <typename T>
__device__ void im2col_impl(const T* x, T* col, ConvGeom g) {
    const u32 plane = g.oh * g.ow, rows = g.c * g.kh * g.kw;
    GRID_STRIDE(e, g.n * rows * plane) {
        u32 q = e % plane, r = (e / plane) % rows, b = e / (plane * rows);
        u32 j = r % g.kw, i = (r / g.kw) % g.kh, ci = r / (g.kw * g.kh);
        int iy = (int)((q / g.ow) * g.sh + i * g.dh) - (int)g.ph;
        int ix = (int)((q % g.ow) * g.sw + j * g.dw) - (int)g.pw;
        bool inside = iy >= 0 && iy < (int)g.h && ix >= 0 && ix < (int)g.w;
        col[e] = inside ? x[(((u64)b * g.c + ci) * g.h + iy) * g.w + ix] : T(0);
    }
}
XAI_KERNELS(im2col, (const T* x, T* col, ConvGeom g), (x, col, g))

// Adjoint of im2col: dx[b, ci, y, x] = Σ over kernel taps (i, j) whose output pixel exists of
// col[b, (ci·kh + i)·kw + j, oy·ow + ox], in (i, j) order.
template <typename T>
__device__ void col2im_impl(const T* col, T* dx, ConvGeom g) {
    const u32 plane = g.oh * g.ow, rows = g.c * g.kh * g.kw;
    GRID_STRIDE(e, g.n * g.c * g.h * g.w) {
        u32 x = e % g.w, y = (e / g.w) % g.h, ci = (e / (g.w * g.h)) % g.c;
        u32 b = e / (g.w * g.h * g.c);
        T acc = T(0);
        for (u32 i = 0; i < g.kh; ++i) {
            int ny = (int)(y + g.ph) - (int)(i * g.dh);
            if (ny < 0 || ny % (int)g.sh != 0) continue;
            u32 oy = (u32)ny / g.sh;
            if (oy >= g.oh) continue;
            for (u32 j = 0; j < g.kw; ++j) {
                int nx = (int)(x + g.pw) - (int)(j * g.dw);
                if (nx < 0 || nx % (int)g.sw != 0) continue;
                u32 ox = (u32)nx / g.sw;
                if (ox >= g.ow) continue;
                u32 r = (ci * g.kh + i) * g.kw + j;
                acc += col[((u64)b * rows + r) * plane + oy * g.ow + ox];
            }
        }
        dx[e] = acc;
    }
}
XAI_KERNELS(col2im, (const T* col, T* dx, ConvGeom g), (col, dx, g))

// Max pooling over `planes` planes of h×w: value and flat in-plane index of the winner
// (first on ties, NaN wins), one thread per output.
template <typename T>
__device__ void max_pool_impl(const T* x, T* val, T* idx, u32 planes, u32 h, u32 w, u32 oh,
                              u32 ow, u32 kh, u32 kw, u32 sh, u32 sw) {
    GRID_STRIDE(e, planes * oh * ow) {
        u32 ox = e % ow, oy = (e / ow) % oh, q = e / (ow * oh);
        const T* src = x + (u64)q * h * w;
        u32 first = oy * sh * w + ox * sw, at = first;
        T best = src[first];
        for (u32 i = 0; i < kh; ++i)
            for (u32 j = 0; j < kw; ++j) {
                u32 o = first + i * w + j;
                T s = src[o];
                if (s > best || s != s) {
                    best = s;
                    at = o;
                }
            }
        val[e] = best;
        idx[e] = T(at);
    }
}
XAI_KERNELS(max_pool,
            (const T* x, T* val, T* idx, u32 planes, u32 h, u32 w, u32 oh, u32 ow, u32 kh,
             u32 kw, u32 sh, u32 sw),
            (x, val, idx, planes, h, w, oh, ow, kh, kw, sh, sw))

// Average over windows [hb[2a], hb[2a+1]) × [wb[2b], wb[2b+1]) of each plane.
template <typename T>
__device__ void avg_pool_impl(const T* x, T* out, const u32* hb, const u32* wb, u32 planes,
                              u32 h, u32 w, u32 oh, u32 ow) {
    GRID_STRIDE(e, planes * oh * ow) {
        u32 b = e % ow, a = (e / ow) % oh, q = e / (ow * oh);
        const T* src = x + (u64)q * h * w;
        u32 y0 = hb[2 * a], y1 = hb[2 * a + 1], x0 = wb[2 * b], x1 = wb[2 * b + 1];
        T s = T(0);
        for (u32 y = y0; y < y1; ++y)
            for (u32 xx = x0; xx < x1; ++xx) s += src[y * w + xx];
        out[e] = s / T((y1 - y0) * (x1 - x0));
    }
}
XAI_KERNELS(avg_pool,
            (const T* x, T* out, const u32* hb, const u32* wb, u32 planes, u32 h, u32 w, u32 oh,
             u32 ow),
            (x, out, hb, wb, planes, h, w, oh, ow))

// Adjoint of avg_pool: dx[q, y, x] = Σ over windows (a, b) containing (y, x) of g[q, a, b] / |window|.
template <typename T>
__device__ void avg_pool_backward_impl(const T* g, T* dx, const u32* hb, const u32* wb,
                                       u32 planes, u32 h, u32 w, u32 oh, u32 ow) {
    GRID_STRIDE(e, planes * h * w) {
        u32 x = e % w, y = (e / w) % h, q = e / (w * h);
        const T* src = g + (u64)q * oh * ow;
        T acc = T(0);
        for (u32 a = 0; a < oh; ++a) {
            u32 y0 = hb[2 * a], y1 = hb[2 * a + 1];
            if (y < y0 || y >= y1) continue;
            for (u32 b = 0; b < ow; ++b) {
                u32 x0 = wb[2 * b], x1 = wb[2 * b + 1];
                if (x < x0 || x >= x1) continue;
                acc += src[a * ow + b] / T((y1 - y0) * (x1 - x0));
            }
        }
        dx[e] = acc;
    }
}
XAI_KERNELS(avg_pool_backward,
            (const T* g, T* dx, const u32* hb, const u32* wb, u32 planes, u32 h, u32 w, u32 oh,
             u32 ow),
            (g, dx, hb, wb, planes, h, w, oh, ow))
