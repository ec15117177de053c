// Helpers shared by every xai kernel. Plain CUDA C++ without includes, so NVRTC compiles the
// sources as they are and the host emulator (emu/cuda_emu.h) compiles them with a C++ compiler.
// Every kernel comes in an f32 and an f64 flavour (`name_f32`, `name_f64`) that instantiate
// one template; sizes are 32-bit (the backend refuses tensors of 2^31 elements or more).

typedef unsigned int u32;
typedef unsigned long long u64;

#define XAI_MAX_DIMS 8

// The ops of the family kernels (`unary`, `binary`, `reduce_rows_*`), by name: the launch code
// (cuda/ops/) selects each op by its name here (`kernels::op_code("UNARY_EXP")`), so this is
// the one table of their codes. One entry per line, `NAME = CODE,`.
enum UnaryCode : u32 {
    UNARY_NEG = 0,
    UNARY_EXP = 1,
    UNARY_LOG = 2,
    UNARY_SQRT = 3,
    UNARY_ABS = 4,
    UNARY_SIGN = 5,
    UNARY_RELU = 6,
    UNARY_STEP = 7,
    UNARY_SIGMOID = 8,
    UNARY_TANH = 9,
    UNARY_SOFTPLUS = 10,
    UNARY_RECIP = 11,
    UNARY_SQUARE = 12,
    UNARY_POWF = 13,
    UNARY_AFFINE = 14,
    UNARY_LEAKY_RELU = 15,
    UNARY_CLAMP = 16,
    UNARY_GT_SCALAR = 17,
};
enum BinaryCode : u32 {
    BINARY_ADD = 0,
    BINARY_SUB = 1,
    BINARY_MUL = 2,
    BINARY_DIV = 3,
    BINARY_MAXIMUM = 4,
    BINARY_MINIMUM = 5,
    BINARY_GT = 6,
    BINARY_GE = 7,
    BINARY_LT = 8,
    BINARY_LE = 9,
    BINARY_EQ = 10,
};
enum ReduceCode : u32 {
    REDUCE_SUM = 0,
    REDUCE_MAX = 1,
    REDUCE_MIN = 2,
};

// Shape and strides of a strided view, passed by value.
struct Dims {
    u32 d[XAI_MAX_DIMS];
};

// Loops `i` over 0..n with a grid-stride loop: any launch shape covers any n.
#define GRID_STRIDE(i, n) \
    for (u32 i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

__device__ __forceinline__ float x_exp(float x) { return expf(x); }
__device__ __forceinline__ double x_exp(double x) { return exp(x); }
__device__ __forceinline__ float x_log(float x) { return logf(x); }
__device__ __forceinline__ double x_log(double x) { return log(x); }
__device__ __forceinline__ float x_log1p(float x) { return log1pf(x); }
__device__ __forceinline__ double x_log1p(double x) { return log1p(x); }
__device__ __forceinline__ float x_sqrt(float x) { return sqrtf(x); }
__device__ __forceinline__ double x_sqrt(double x) { return sqrt(x); }
__device__ __forceinline__ float x_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double x_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float x_abs(float x) { return fabsf(x); }
__device__ __forceinline__ double x_abs(double x) { return fabs(x); }
__device__ __forceinline__ float x_pow(float x, float p) { return powf(x, p); }
__device__ __forceinline__ double x_pow(double x, double p) { return pow(x, p); }
__device__ __forceinline__ float x_max(float a, float b) { return fmaxf(a, b); }
__device__ __forceinline__ double x_max(double a, double b) { return fmax(a, b); }
__device__ __forceinline__ float x_min(float a, float b) { return fminf(a, b); }
__device__ __forceinline__ double x_min(double a, double b) { return fmin(a, b); }

// Declares the entry points `name_f32` and `name_f64` of the template `name_impl<T>`:
// PARAMS is the parameter list written with `T`, CALL the argument list passed on.
// XAI_REGISTER is empty here; the host emulator defines it to register each entry point.
#ifndef XAI_REGISTER
#define XAI_REGISTER(fn)
#endif
#define XAI_KERNELS(name, PARAMS, CALL)                                           \
    namespace xai_f32 {                                                           \
    typedef float T;                                                              \
    extern "C" __global__ void name##_f32 PARAMS { name##_impl<T> CALL; }         \
    XAI_REGISTER(name##_f32)                                                      \
    }                                                                             \
    namespace xai_f64 {                                                           \
    typedef double T;                                                             \
    extern "C" __global__ void name##_f64 PARAMS { name##_impl<T> CALL; }         \
    XAI_REGISTER(name##_f64)                                                      \
    }
