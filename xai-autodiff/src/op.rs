//! The kinds of recorded ops, with what their backward needs. Gradient rules match on these.

use std::sync::Arc;
use xai_tensor::{Conv2dParams, ConvTranspose2dParams, PoolBins, Resample2d, Tensor};

/// A recorded op. Inputs are stored beside it in the node, in the order listed.
#[derive(Clone, Debug)]
pub enum Op {
    /// a + b (broadcast).
    Add,
    /// a − b.
    Sub,
    /// a · b.
    Mul,
    /// a / b.
    Div,
    /// max(a, b) elementwise.
    Maximum,
    /// min(a, b) elementwise.
    Minimum,
    Neg,
    Exp,
    Log,
    Sqrt,
    Abs,
    Relu,
    LeakyRelu(f64),
    Sigmoid,
    Tanh,
    Softplus,
    Square,
    Recip,
    Powf(f64),
    /// m·x + c.
    Affine(f64, f64),
    /// Sum along axes.
    Sum {
        axes: Vec<usize>,
        keepdim: bool,
    },
    /// Max along one axis; `index` holds the winners (keepdim shape).
    MaxAxis {
        axis: usize,
        keepdim: bool,
        index: Tensor,
    },
    BroadcastTo,
    /// Batched matrix product (a, b).
    Matmul,
    /// x·Wᵀ + b: inputs (x `[N, in]`, W `[out, in]`, optional b `[out]`).
    Linear,
    /// Convolution: inputs (x, W, optional b).
    Conv2d(Conv2dParams),
    /// Transposed convolution (gradient of conv2d w.r.t. its input): inputs (g, W).
    Conv2dInputGrad {
        p: Conv2dParams,
        in_hw: [usize; 2],
    },
    /// Gradient of conv2d w.r.t. its weight: inputs (x, g).
    Conv2dWeightGrad {
        p: Conv2dParams,
        k_hw: [usize; 2],
    },
    /// Transposed convolution (PyTorch's `conv_transpose2d`): inputs (x, W `[C_in, C_out, kh,
    /// kw]`, optional b `[C_out]`).
    ConvTranspose2d(ConvTranspose2dParams),
    /// Separable resampling (nearest or bilinear upsampling) by `plan`.
    Resample2d {
        plan: Arc<Resample2d>,
    },
    /// Adjoint of resampling by `plan` (its gradient).
    Resample2dAdjoint {
        plan: Arc<Resample2d>,
    },
    /// Max pooling; `index` holds each winner's flat in-plane position.
    MaxPool2d {
        kernel: [usize; 2],
        stride: [usize; 2],
        index: Tensor,
    },
    /// Average or adaptive average pooling over `bins`.
    AvgPool2d {
        bins: Arc<PoolBins>,
        adaptive: bool,
    },
    /// Adjoint of average pooling.
    AvgPool2dBackward {
        bins: Arc<PoolBins>,
        in_hw: [usize; 2],
    },
    /// Batch normalisation with the batch's statistics (training mode): inputs (x `[N, C,
    /// ...]`, γ `[C]`, β `[C]`); `mean`, the biased variance `var` = σ² and `invstd = 1/√(σ² +
    /// ε)` are the batch's per-channel statistics, saved for the backward pass (and for the
    /// layer's running statistics, which read them from here instead of recomputing).
    BatchNorm {
        eps: f64,
        mean: Tensor,
        var: Tensor,
        invstd: Tensor,
    },
    Softmax(usize),
    LogSoftmax(usize),
    Reshape,
    Permute(Vec<usize>),
    Narrow {
        axis: usize,
        start: usize,
    },
    PadAxis {
        axis: usize,
        start: usize,
    },
    Cat {
        axis: usize,
    },
    IndexSelect {
        axis: usize,
        index: Arc<[usize]>,
    },
    IndexAdd {
        axis: usize,
        index: Arc<[usize]>,
    },
    Gather {
        axis: usize,
        index: Tensor,
    },
    ScatterAdd {
        axis: usize,
        index: Tensor,
    },
    /// `mask ? a : b` with a constant mask.
    Where {
        mask: Tensor,
    },
}

impl Op {
    /// A short name (for messages and rule tables).
    pub fn name(&self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Maximum => "maximum",
            Op::Minimum => "minimum",
            Op::Neg => "neg",
            Op::Exp => "exp",
            Op::Log => "log",
            Op::Sqrt => "sqrt",
            Op::Abs => "abs",
            Op::Relu => "relu",
            Op::LeakyRelu(_) => "leaky_relu",
            Op::Sigmoid => "sigmoid",
            Op::Tanh => "tanh",
            Op::Softplus => "softplus",
            Op::Square => "square",
            Op::Recip => "recip",
            Op::Powf(_) => "powf",
            Op::Affine(..) => "affine",
            Op::Sum { .. } => "sum",
            Op::MaxAxis { .. } => "max",
            Op::BroadcastTo => "broadcast_to",
            Op::Matmul => "matmul",
            Op::Linear => "linear",
            Op::BatchNorm { .. } => "batch_norm",
            Op::Conv2d(_) => "conv2d",
            Op::Conv2dInputGrad { .. } => "conv2d_input_grad",
            Op::Conv2dWeightGrad { .. } => "conv2d_weight_grad",
            Op::ConvTranspose2d(_) => "conv_transpose2d",
            Op::Resample2d { .. } => "resample2d",
            Op::Resample2dAdjoint { .. } => "resample2d_adjoint",
            Op::MaxPool2d { .. } => "maxpool2d",
            Op::AvgPool2d { .. } => "avgpool2d",
            Op::AvgPool2dBackward { .. } => "avgpool2d_backward",
            Op::Softmax(_) => "softmax",
            Op::LogSoftmax(_) => "log_softmax",
            Op::Reshape => "reshape",
            Op::Permute(_) => "permute",
            Op::Narrow { .. } => "narrow",
            Op::PadAxis { .. } => "pad_axis",
            Op::Cat { .. } => "cat",
            Op::IndexSelect { .. } => "index_select",
            Op::IndexAdd { .. } => "index_add",
            Op::Gather { .. } => "gather",
            Op::ScatterAdd { .. } => "scatter_add",
            Op::Where { .. } => "where",
        }
    }
}
