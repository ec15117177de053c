//! The op families every device implements. Adding a device means implementing
//! [`BackendStorage`] once; adding an op family means one method here and one per backend.

use crate::{DType, Result};

/// Elementwise maps of one tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Neg,
    Exp,
    Log,
    Sqrt,
    Abs,
    /// −1, 0 or 1.
    Sign,
    Relu,
    /// Heaviside step: 1 where x > 0, else 0 (the ReLU derivative).
    Step,
    Sigmoid,
    Tanh,
    /// log(1 + eˣ), computed stably.
    Softplus,
    Recip,
    Square,
    /// xᵖ.
    Powf(f64),
    /// a·x + b.
    Affine(f64, f64),
    /// x for x > 0, slope·x otherwise.
    LeakyRelu(f64),
    /// Clamp to [lo, hi].
    Clamp(f64, f64),
    /// 1 where x > c, else 0.
    GtScalar(f64),
}

/// Elementwise maps of two tensors, with NumPy broadcasting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
    /// 1 where lhs > rhs, else 0; likewise for the other comparisons.
    Gt,
    Ge,
    Lt,
    Le,
    Eq,
}

/// Reductions along axes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum,
    Max,
    Min,
}

/// Stride, padding and dilation of a 2-D convolution (groups = 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Self {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
        }
    }
}

impl Conv2dParams {
    /// Output size along one spatial axis, `⌊(n + 2p − d(k − 1) − 1)/s⌋ + 1`, or `None` when
    /// the kernel does not fit, the stride is 0 or the arithmetic overflows.
    pub fn out_size(&self, axis: usize, input: usize, kernel: usize) -> Option<usize> {
        let span = self.span(axis, kernel)?;
        let padded = input.checked_add(self.padding[axis].checked_mul(2)?)?;
        if padded < span || self.stride[axis] == 0 {
            return None;
        }
        Some((padded - span) / self.stride[axis] + 1)
    }

    /// Whether an `input`-long axis and an `output`-long one are the two sides of this
    /// convolution, as its gradients (a transposed convolution) accept them:
    /// `input = (output − 1)·s − 2p + d(k − 1) + 1 + op` for an output padding
    /// `op < max(s, d)` (PyTorch's rule). For `op < s` that is `output = out_size(input)`;
    /// for `s ≤ op < d` the convolution of `input` has `⌊op/s⌋` outputs more, which the
    /// gradients treat as zero.
    pub fn fits(&self, axis: usize, input: usize, kernel: usize, output: usize) -> bool {
        let sides = || -> Option<(usize, usize)> {
            let lo = output
                .checked_sub(1)?
                .checked_mul(self.stride[axis])?
                .checked_add(self.span(axis, kernel)?)?;
            let padded = input.checked_add(self.padding[axis].checked_mul(2)?)?;
            Some((lo, padded))
        };
        match sides() {
            Some((lo, padded)) => {
                self.stride[axis] > 0
                    && lo <= padded
                    && padded - lo < self.stride[axis].max(self.dilation[axis])
            }
            None => false,
        }
    }

    /// `d(k − 1) + 1`, the extent of a dilated kernel (`None` for `k = 0` or on overflow).
    fn span(&self, axis: usize, kernel: usize) -> Option<usize> {
        self.dilation[axis]
            .checked_mul(kernel.checked_sub(1)?)?
            .checked_add(1)
    }
}

/// Stride, padding, output padding and dilation of a 2-D transposed convolution (groups = 1):
/// PyTorch's `conv_transpose2d`, the adjoint (in its input) of the convolution with the same
/// stride, padding and dilation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConvTranspose2dParams {
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    /// Extra rows and columns at the bottom and right of the output, each below the stride or
    /// the dilation of its axis.
    pub output_padding: [usize; 2],
    pub dilation: [usize; 2],
}

impl Default for ConvTranspose2dParams {
    fn default() -> Self {
        Self {
            stride: [1, 1],
            padding: [0, 0],
            output_padding: [0, 0],
            dilation: [1, 1],
        }
    }
}

impl ConvTranspose2dParams {
    /// The convolution this one transposes.
    pub fn conv(&self) -> Conv2dParams {
        Conv2dParams {
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
        }
    }

    /// Output size along one spatial axis: `(n − 1)·s − 2p + d(k − 1) + op + 1`.
    ///
    /// **Errors** if the stride or the dilation is 0, the output padding is neither below the
    /// stride nor below the dilation (PyTorch's rule), `n` or `k` is 0, the size is not
    /// positive, or the arithmetic overflows.
    pub fn out_size(&self, axis: usize, input: usize, kernel: usize) -> Result<usize> {
        let (s, p, op, d) = (
            self.stride[axis],
            self.padding[axis],
            self.output_padding[axis],
            self.dilation[axis],
        );
        let op_name = "conv_transpose2d";
        if s == 0 || d == 0 {
            crate::bail!(
                op_name,
                "stride and dilation must be positive, got {self:?}"
            );
        }
        if op >= s && op >= d {
            crate::bail!(
                op_name,
                "output padding must be smaller than either stride or dilation, got \
                 output_padding {op}, stride {s}, dilation {d} on axis {axis}"
            );
        }
        let full = || -> Option<usize> {
            input
                .checked_sub(1)?
                .checked_mul(s)?
                .checked_add(d.checked_mul(kernel.checked_sub(1)?)?)?
                .checked_add(op)?
                .checked_add(1)?
                .checked_sub(p.checked_mul(2)?)
        };
        match full() {
            Some(n) if n > 0 => Ok(n),
            _ => crate::bail!(
                op_name,
                "no output of positive size for an input of {input} and a kernel of {kernel} \
                 along axis {axis} with {self:?}"
            ),
        }
    }
}

/// Kernel and stride of a 2-D pooling window (no padding, floor mode: PyTorch's defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dParams {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
}

/// Averaging windows `[start, end)` along H and W; one type for average and adaptive pooling.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PoolBins {
    pub h: Vec<(usize, usize)>,
    pub w: Vec<(usize, usize)>,
}

impl PoolBins {
    /// Windows of a `kernel`/`stride` pool over an `hw` input (floor mode).
    pub fn fixed(hw: [usize; 2], p: Pool2dParams) -> Option<Self> {
        let axis = |n: usize, k: usize, s: usize| -> Option<Vec<(usize, usize)>> {
            if k == 0 || s == 0 || n < k {
                return None;
            }
            Some((0..(n - k) / s + 1).map(|i| (i * s, i * s + k)).collect())
        };
        Some(Self {
            h: axis(hw[0], p.kernel[0], p.stride[0])?,
            w: axis(hw[1], p.kernel[1], p.stride[1])?,
        })
    }

    /// PyTorch's adaptive windows: bin i covers [⌊i·n/o⌋, ⌈(i+1)·n/o⌉).
    pub fn adaptive(hw: [usize; 2], out: [usize; 2]) -> Option<Self> {
        let axis = |n: usize, o: usize| -> Option<Vec<(usize, usize)>> {
            if o == 0 || n == 0 {
                return None;
            }
            Some(
                (0..o)
                    .map(|i| (i * n / o, ((i + 1) * n).div_ceil(o)))
                    .collect(),
            )
        };
        Some(Self {
            h: axis(hw[0], out[0])?,
            w: axis(hw[1], out[1])?,
        })
    }
}

/// What a device's storage must do. Shapes travel beside the storage (row-major, contiguous).
pub trait BackendStorage: Sized + Clone + Send + Sync {
    fn dtype(&self) -> DType;
    fn to_dtype(&self, dtype: DType) -> Result<Self>;
    fn unary(&self, op: UnaryOp) -> Result<Self>;
    /// `out` is the broadcast of `lhs_shape` and `rhs_shape`.
    fn binary(
        &self,
        op: BinaryOp,
        lhs_shape: &[usize],
        rhs: &Self,
        rhs_shape: &[usize],
        out: &[usize],
    ) -> Result<Self>;
    /// `mask != 0 ? on_true : on_false`, all three of shape `shape`.
    fn where_cond(&self, on_true: &Self, on_false: &Self) -> Result<Self>;
    /// Reduces along `axes` (sorted, distinct); the result has those axes set to 1.
    fn reduce(&self, op: ReduceOp, shape: &[usize], axes: &[usize]) -> Result<Self>;
    /// Index of the maximum along `axis` (first on ties), as floats; the axis becomes 1.
    fn argmax(&self, shape: &[usize], axis: usize) -> Result<Self>;
    /// Copy of a tensor broadcast to `out`.
    fn broadcast_to(&self, shape: &[usize], out: &[usize]) -> Result<Self>;
    /// Batched matmul `[b, m, k] @ [b, k, n]`; a batch of 1 on either side is shared.
    fn matmul(&self, lhs: [usize; 3], rhs: &Self, rhs_dims: [usize; 3]) -> Result<Self>;
    /// Axis permutation (materialised).
    fn permute(&self, shape: &[usize], perm: &[usize]) -> Result<Self>;
    /// `[outer, size, inner]` → `[outer, len, inner]` starting at `start`.
    fn narrow(&self, dims: [usize; 3], start: usize, len: usize) -> Result<Self>;
    /// Concatenation of `[outer, size_i, inner]` blocks along the middle axis.
    fn cat(parts: &[(&Self, usize)], outer: usize, inner: usize) -> Result<Self>;
    /// Softmax (or log-softmax) along the middle axis of `[outer, size, inner]`.
    fn softmax(&self, dims: [usize; 3], log: bool) -> Result<Self>;
    /// `out[o, j, i] = self[o, index[o, j, i], i]` with `index` of shape `[outer, len, inner]`.
    fn gather(&self, dims: [usize; 3], index: &Self, len: usize) -> Result<Self>;
    /// Adjoint of gather: `out[o, index[o, j, i], i] += self[o, j, i]`, `out` of shape `[outer, size, inner]`.
    fn scatter_add(&self, dims: [usize; 3], index: &Self, size: usize) -> Result<Self>;
    /// Rows `index` of the middle axis of `[outer, size, inner]`.
    fn index_select(&self, dims: [usize; 3], index: &[usize]) -> Result<Self>;
    /// Adjoint of index_select into `[outer, size, inner]`.
    fn index_add(&self, dims: [usize; 3], index: &[usize], size: usize) -> Result<Self>;
    /// `x: [n, c, h, w]`, `w: [o, c, kh, kw]` → `[n, o, ho, wo]`.
    fn conv2d(
        &self,
        x: [usize; 4],
        w: &Self,
        wd: [usize; 4],
        p: Conv2dParams,
        out_hw: [usize; 2],
    ) -> Result<Self>;
    /// Gradient of conv2d with respect to its input: `g: [n, o, ho, wo]` → `[n, c, h, w]`.
    fn conv2d_input_grad(
        &self,
        g: [usize; 4],
        w: &Self,
        wd: [usize; 4],
        p: Conv2dParams,
        in_hw: [usize; 2],
    ) -> Result<Self>;
    /// Gradient of conv2d with respect to its weight: `x`, `g` → `[o, c, kh, kw]`.
    fn conv2d_weight_grad(
        &self,
        x: [usize; 4],
        g: &Self,
        gd: [usize; 4],
        p: Conv2dParams,
        k_hw: [usize; 2],
    ) -> Result<Self>;
    /// Both gradients of conv2d from the upstream `self: g [n, o, ho, wo]`: the input gradient
    /// (`[n, c, h, w]`) and the weight gradient (`[o, c, kh, kw]`) of the convolution of `x:
    /// [n, c, h, w]` with `w: [o, c, kh, kw]`. By default the two kernels above; a backend may
    /// fuse them (the CPU arranges each group's upstream gradient once for both products), with
    /// the same values.
    #[allow(clippy::too_many_arguments)]
    fn conv2d_backward(
        &self,
        g: [usize; 4],
        x: &Self,
        xd: [usize; 4],
        w: &Self,
        wd: [usize; 4],
        p: Conv2dParams,
    ) -> Result<(Self, Self)> {
        let dx = self.conv2d_input_grad(g, w, wd, p, [xd[2], xd[3]])?;
        let dw = x.conv2d_weight_grad(xd, self, g, p, [wd[2], wd[3]])?;
        Ok((dx, dw))
    }
    /// Max pooling; returns values and the flat in-plane index of each winner (first on ties).
    fn max_pool2d(
        &self,
        x: [usize; 4],
        p: Pool2dParams,
        out_hw: [usize; 2],
    ) -> Result<(Self, Self)>;
    /// Average over `bins` per plane.
    fn avg_pool2d(&self, x: [usize; 4], bins: &PoolBins) -> Result<Self>;
    /// Adjoint of `avg_pool2d`: spreads `g: [n, c, oh, ow]` back over an `in_hw` plane.
    fn avg_pool2d_backward(
        &self,
        g: [usize; 4],
        bins: &PoolBins,
        in_hw: [usize; 2],
    ) -> Result<Self>;
    /// Copies to a host vector of f64 (for inspection and tests).
    fn to_f64_vec(&self) -> Result<Vec<f64>>;
}
