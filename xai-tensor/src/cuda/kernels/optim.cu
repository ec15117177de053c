// Fused optimizer updates, in place, one thread per parameter (the formulas of xai-nn's
// `Optimizer::step`, PyTorch's SGD and Adam with L2 weight decay added to the gradient).

// SGD with momentum: g' = g + wd·p; buf = μ·buf + g' (buf = g' on the first step);
// d = nesterov ? g' + μ·buf : buf; p -= lr·d.
template <typename T>
__device__ void sgd_impl(T* p, const T* g, T* buf, u32 n, T lr, T wd, T momentum, u32 nesterov,
                         u32 first) {
    GRID_STRIDE(i, n) {
        T gi = g[i] + wd * p[i];
        T d = gi;
        if (momentum != T(0)) {
            T b = first ? gi : momentum * buf[i] + gi;
            buf[i] = b;
            d = nesterov ? gi + momentum * b : b;
        }
        p[i] -= lr * d;
    }
}
XAI_KERNELS(sgd,
            (T* p, const T* g, T* buf, u32 n, T lr, T wd, T momentum, u32 nesterov, u32 first),
            (p, g, buf, n, lr, wd, momentum, nesterov, first))

// Adam (Kingma & Ba, 2015): m = β₁m + (1−β₁)g', v = β₂v + (1−β₂)g'², g' = g + wd·p;
// p -= step_size · m / (√(v·inv_bc2) + ε) with step_size = lr/(1−β₁ᵗ), inv_bc2 = 1/(1−β₂ᵗ).
template <typename T>
__device__ void adam_impl(T* p, const T* g, T* m, T* v, u32 n, T wd, T beta1, T beta2, T eps,
                          T step_size, T inv_bc2) {
    GRID_STRIDE(i, n) {
        T gi = g[i] + wd * p[i];
        T mi = beta1 * m[i] + (T(1) - beta1) * gi;
        T vi = beta2 * v[i] + (T(1) - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * (mi / (x_sqrt(vi * inv_bc2) + eps));
    }
}
XAI_KERNELS(adam,
            (T* p, const T* g, T* m, T* v, u32 n, T wd, T beta1, T beta2, T eps, T step_size,
             T inv_bc2),
            (p, g, m, v, n, wd, beta1, beta2, eps, step_size, inv_bc2))
