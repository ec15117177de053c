//! Differentiable ops: each computes its value with a tensor op and records itself.
//! Their gradients live in one place, `backward.rs`.

use crate::op::Op;
use crate::var::Var;
use std::sync::Arc;
use xai_tensor::{
    bail, Conv2dParams, ConvTranspose2dParams, Pool2dParams, PoolBins, Resample2d, Result, Tensor,
    UpsampleSize,
};

macro_rules! unary {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {
        impl Var {
            $($(#[$doc])* pub fn $name(&self) -> Result<Var> {
                Ok(Var::from_op(self.value().$name()?, $op, vec![self.clone()]))
            })*
        }
    };
}

unary! {
    /// −x.
    neg => Op::Neg;
    /// eˣ.
    exp => Op::Exp;
    /// ln x.
    log => Op::Log;
    /// √x.
    sqrt => Op::Sqrt;
    /// |x|.
    abs => Op::Abs;
    /// max(x, 0).
    relu => Op::Relu;
    /// 1/(1 + e⁻ˣ).
    sigmoid => Op::Sigmoid;
    /// tanh x.
    tanh => Op::Tanh;
    /// ln(1 + eˣ).
    softplus => Op::Softplus;
    /// x².
    square => Op::Square;
    /// 1/x.
    recip => Op::Recip;
}

macro_rules! binary {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {
        impl Var {
            $($(#[$doc])* pub fn $name(&self, rhs: &Var) -> Result<Var> {
                Ok(Var::from_op(self.value().$name(rhs.value())?, $op, vec![self.clone(), rhs.clone()]))
            })*
        }
    };
}

binary! {
    /// a + b, broadcast.
    add => Op::Add;
    /// a − b, broadcast.
    sub => Op::Sub;
    /// a · b, broadcast.
    mul => Op::Mul;
    /// a / b, broadcast.
    div => Op::Div;
    /// max(a, b), broadcast.
    maximum => Op::Maximum;
    /// min(a, b), broadcast.
    minimum => Op::Minimum;
    /// Batched matrix product.
    matmul => Op::Matmul;
}

impl Var {
    fn unary_op(&self, value: Tensor, op: Op) -> Var {
        Var::from_op(value, op, vec![self.clone()])
    }

    /// Leaky ReLU.
    pub fn leaky_relu(&self, slope: f64) -> Result<Var> {
        Ok(self.unary_op(self.value().leaky_relu(slope)?, Op::LeakyRelu(slope)))
    }
    /// xᵖ.
    pub fn powf(&self, p: f64) -> Result<Var> {
        Ok(self.unary_op(self.value().powf(p)?, Op::Powf(p)))
    }
    /// m·x + c.
    pub fn affine(&self, m: f64, c: f64) -> Result<Var> {
        Ok(self.unary_op(self.value().affine(m, c)?, Op::Affine(m, c)))
    }
    /// x + c.
    pub fn add_scalar(&self, c: f64) -> Result<Var> {
        self.affine(1.0, c)
    }
    /// c·x.
    pub fn mul_scalar(&self, c: f64) -> Result<Var> {
        self.affine(c, 0.0)
    }

    /// Sum along `axes`.
    pub fn sum(&self, axes: &[usize], keepdim: bool) -> Result<Var> {
        let mut axes = axes.to_vec();
        axes.sort_unstable();
        axes.dedup();
        Ok(self.unary_op(self.value().sum(&axes, keepdim)?, Op::Sum { axes, keepdim }))
    }
    /// Sum of all elements.
    pub fn sum_all(&self) -> Result<Var> {
        self.sum(&(0..self.shape().len()).collect::<Vec<_>>(), false)
    }
    /// Mean along `axes`.
    pub fn mean(&self, axes: &[usize], keepdim: bool) -> Result<Var> {
        let s = self.sum(axes, keepdim)?;
        let n = self.value().numel() / s.value().numel().max(1);
        s.mul_scalar(1.0 / n.max(1) as f64)
    }
    /// Mean of all elements.
    pub fn mean_all(&self) -> Result<Var> {
        self.mean(&(0..self.shape().len()).collect::<Vec<_>>(), false)
    }
    /// Max along `axis` (the gradient goes to the first maximum).
    pub fn max(&self, axis: usize, keepdim: bool) -> Result<Var> {
        let index = self.value().argmax_keepdim(axis)?;
        let mut v = self.value().gather(axis, &index)?;
        if !keepdim {
            let s: Vec<usize> = v
                .shape()
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != axis)
                .map(|(_, &d)| d)
                .collect();
            v = v.reshape(&s)?;
        }
        Ok(self.unary_op(
            v,
            Op::MaxAxis {
                axis,
                keepdim,
                index,
            },
        ))
    }
    /// Broadcast to `shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Var> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        Ok(self.unary_op(self.value().broadcast_to(shape)?, Op::BroadcastTo))
    }
    /// Sum the broadcast axes away so the result has `shape`.
    pub fn sum_to(&self, shape: &[usize]) -> Result<Var> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let lead = self.shape().len().saturating_sub(shape.len());
        let mut axes: Vec<usize> = (0..lead).collect();
        axes.extend(
            (0..shape.len())
                .filter(|&i| shape[i] == 1 && self.shape()[lead + i] != 1)
                .map(|i| lead + i),
        );
        self.sum(&axes, false)?.reshape(shape)
    }

    /// `x·Wᵀ + b` for `x: [N, in]`, `W: [out, in]`, `b: [out]`: one op, so gradient rules
    /// (LRP, DeepLIFT) can replace a linear layer's backward as a whole.
    pub fn linear(&self, weight: &Var, bias: Option<&Var>) -> Result<Var> {
        let mut v = self.value().matmul(&weight.value().t()?)?;
        let mut inputs = vec![self.clone(), weight.clone()];
        if let Some(b) = bias {
            v = v.add(b.value())?;
            inputs.push(b.clone());
        }
        Ok(Var::from_op(v, Op::Linear, inputs))
    }

    /// 2-D convolution with optional bias `[O]`: one op (see [`linear`](Self::linear)).
    pub fn conv2d(&self, weight: &Var, bias: Option<&Var>, p: Conv2dParams) -> Result<Var> {
        let v = self
            .value()
            .conv2d_biased(weight.value(), bias.map(|b| b.value()), p)?;
        let mut inputs = vec![self.clone(), weight.clone()];
        inputs.extend(bias.cloned());
        Ok(Var::from_op(v, Op::Conv2d(p), inputs))
    }

    /// Transposed convolution with optional bias `[C_out]` (PyTorch's `conv_transpose2d`, see
    /// [`Tensor::conv_transpose2d`]): one op, as [`conv2d`](Self::conv2d). Its gradients are
    /// the convolution's kernels: `conv2d(g, W)` for x, `conv2d_weight_grad(g, x)` for W (the
    /// upstream in the input's place, x in the upstream's), `Σ g` over N, H, W for b.
    pub fn conv_transpose2d(
        &self,
        weight: &Var,
        bias: Option<&Var>,
        p: ConvTranspose2dParams,
    ) -> Result<Var> {
        let v = self.value().conv_transpose2d(weight.value(), p)?;
        let mut inputs = vec![self.clone(), weight.clone()];
        let v = add_channel_bias("conv_transpose2d", v, bias, &mut inputs)?;
        Ok(Var::from_op(v, Op::ConvTranspose2d(p), inputs))
    }

    /// Gradient of conv2d w.r.t. its input (a transposed convolution), differentiable.
    pub fn conv2d_input_grad(
        &self,
        weight: &Var,
        p: Conv2dParams,
        in_hw: [usize; 2],
    ) -> Result<Var> {
        let v = self.value().conv2d_input_grad(weight.value(), p, in_hw)?;
        Ok(Var::from_op(
            v,
            Op::Conv2dInputGrad { p, in_hw },
            vec![self.clone(), weight.clone()],
        ))
    }

    /// Gradient of conv2d w.r.t. its weight (`self` the input, `grad` upstream), differentiable.
    pub fn conv2d_weight_grad(&self, grad: &Var, p: Conv2dParams, k_hw: [usize; 2]) -> Result<Var> {
        let v = self.value().conv2d_weight_grad(grad.value(), p, k_hw)?;
        Ok(Var::from_op(
            v,
            Op::Conv2dWeightGrad { p, k_hw },
            vec![self.clone(), grad.clone()],
        ))
    }

    /// Batch normalisation with the batch's own statistics (training mode; Ioffe & Szegedy
    /// 2015): per channel c (axis 1 of `[N, C, ...]`), `y = γ_c (x − μ_c)/√(σ²_c + ε) + β_c`
    /// with μ and the biased σ² taken over every axis but 1. One op: the forward pass is two
    /// passes over x ([`Tensor::channel_moments`], [`Tensor::channel_affine`]), the backward
    /// two more; its gradient stays differentiable (`create_graph`), composed of ordinary ops
    /// then. Returns y with the batch's mean and biased variance `[C]` (for running
    /// statistics).
    pub fn batch_norm_train(
        &self,
        gamma: &Var,
        beta: &Var,
        eps: f64,
    ) -> Result<(Var, Tensor, Tensor)> {
        let c = match self.shape() {
            [_, c, ..] => *c,
            s => bail!("batch_norm", "expects an [N, C, ...] input, got {s:?}"),
        };
        if gamma.shape() != [c] || beta.shape() != [c] {
            bail!(
                "batch_norm",
                "γ {:?} and β {:?} must be [{c}] for {:?}",
                gamma.shape(),
                beta.shape(),
                self.shape()
            );
        }
        let x = self.value();
        let (mean, var) = x.channel_moments()?;
        let invstd = var.add_scalar(eps)?.sqrt()?.recip()?;
        let scale = gamma.value().mul(&invstd)?;
        let shift = beta.value().sub(&mean.mul(&scale)?)?;
        let y = x.channel_affine(&scale, &shift, None)?;
        let op = Op::BatchNorm {
            eps,
            mean: mean.clone(),
            var: var.clone(),
            invstd,
        };
        let inputs = vec![self.clone(), gamma.clone(), beta.clone()];
        Ok((Var::from_op(y, op, inputs), mean, var))
    }

    /// Max pooling (no padding, floor mode).
    pub fn max_pool2d(&self, p: Pool2dParams) -> Result<Var> {
        let (v, index) = self.value().max_pool2d(p)?;
        Ok(self.unary_op(
            v,
            Op::MaxPool2d {
                kernel: p.kernel,
                stride: p.stride,
                index,
            },
        ))
    }

    /// Average pooling (no padding, floor mode).
    pub fn avg_pool2d(&self, p: Pool2dParams) -> Result<Var> {
        let [h, w] = self.spatial("avg_pool2d")?;
        let bins = PoolBins::fixed([h, w], p).ok_or_else(|| xai_tensor::Error::BadArgument {
            op: "avg_pool2d",
            msg: format!("window {p:?} does not fit a {h}x{w} input"),
        })?;
        self.pool_bins(bins, false)
    }

    /// Adaptive average pooling to `out` (PyTorch's bins).
    pub fn adaptive_avg_pool2d(&self, out: [usize; 2]) -> Result<Var> {
        let [h, w] = self.spatial("adaptive_avg_pool2d")?;
        let bins =
            PoolBins::adaptive([h, w], out).ok_or_else(|| xai_tensor::Error::BadArgument {
                op: "adaptive_avg_pool2d",
                msg: format!("cannot pool {h}x{w} to {out:?}"),
            })?;
        self.pool_bins(bins, true)
    }

    fn spatial(&self, op: &'static str) -> Result<[usize; 2]> {
        match *self.shape() {
            [_, _, h, w] => Ok([h, w]),
            _ => bail!(op, "expects an [N, C, H, W] input, got {:?}", self.shape()),
        }
    }

    fn pool_bins(&self, bins: PoolBins, adaptive: bool) -> Result<Var> {
        let v = self.value().avg_pool_bins(&bins)?;
        Ok(self.unary_op(
            v,
            Op::AvgPool2d {
                bins: Arc::new(bins),
                adaptive,
            },
        ))
    }

    /// Adjoint of average pooling over `bins` onto an `in_hw` plane.
    pub fn avg_pool_bins_backward(&self, bins: &Arc<PoolBins>, in_hw: [usize; 2]) -> Result<Var> {
        let v = self.value().avg_pool_bins_backward(bins, in_hw)?;
        Ok(self.unary_op(
            v,
            Op::AvgPool2dBackward {
                bins: bins.clone(),
                in_hw,
            },
        ))
    }

    /// Average pooling over given `bins` (used by backward rules).
    pub fn avg_pool_bins(&self, bins: &Arc<PoolBins>) -> Result<Var> {
        let v = self.value().avg_pool_bins(bins)?;
        Ok(self.unary_op(
            v,
            Op::AvgPool2d {
                bins: bins.clone(),
                adaptive: false,
            },
        ))
    }

    /// Nearest upsampling (PyTorch's `F.interpolate(mode='nearest')`, formulas in
    /// [`xai_tensor::resample`]); its gradient sums the upstream over each pixel's copies.
    pub fn upsample_nearest2d(&self, size: UpsampleSize) -> Result<Var> {
        let hw = self.spatial("upsample_nearest2d")?;
        self.resample2d(&Arc::new(Resample2d::nearest(hw, size)?))
    }

    /// Bilinear upsampling (PyTorch's `F.interpolate(mode='bilinear', align_corners)`,
    /// formulas in [`xai_tensor::resample`]); its gradient scatters the upstream back with the
    /// interpolation weights.
    pub fn upsample_bilinear2d(&self, size: UpsampleSize, align_corners: bool) -> Result<Var> {
        let hw = self.spatial("upsample_bilinear2d")?;
        let dtype = self.value().dtype();
        let plan = Resample2d::bilinear(hw, size, align_corners, dtype)?;
        self.resample2d(&Arc::new(plan))
    }

    /// Separable resampling by `plan` ([`Tensor::resample2d`]); its gradient is the adjoint.
    pub fn resample2d(&self, plan: &Arc<Resample2d>) -> Result<Var> {
        let v = self.value().resample2d(plan)?;
        Ok(self.unary_op(v, Op::Resample2d { plan: plan.clone() }))
    }

    /// Adjoint of resampling by `plan` ([`Tensor::resample2d_adjoint`]), differentiable.
    pub fn resample2d_adjoint(&self, plan: &Arc<Resample2d>) -> Result<Var> {
        let v = self.value().resample2d_adjoint(plan)?;
        Ok(self.unary_op(v, Op::Resample2dAdjoint { plan: plan.clone() }))
    }

    /// Softmax along `axis`.
    pub fn softmax(&self, axis: usize) -> Result<Var> {
        Ok(self.unary_op(self.value().softmax(axis)?, Op::Softmax(axis)))
    }
    /// Log-softmax along `axis`.
    pub fn log_softmax(&self, axis: usize) -> Result<Var> {
        Ok(self.unary_op(self.value().log_softmax(axis)?, Op::LogSoftmax(axis)))
    }

    /// New shape, same elements.
    pub fn reshape(&self, shape: &[usize]) -> Result<Var> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        Ok(self.unary_op(self.value().reshape(shape)?, Op::Reshape))
    }
    /// Flattens every axis from `axis` on into one.
    pub fn flatten_from(&self, axis: usize) -> Result<Var> {
        let s = self.shape();
        if axis > s.len() {
            bail!("flatten", "axis {axis} out of range for shape {s:?}");
        }
        let mut shape = s[..axis].to_vec();
        shape.push(s[axis..].iter().product());
        self.reshape(&shape)
    }
    /// Axis permutation.
    pub fn permute(&self, perm: &[usize]) -> Result<Var> {
        Ok(self.unary_op(self.value().permute(perm)?, Op::Permute(perm.to_vec())))
    }
    /// Swap two axes.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Var> {
        let mut perm: Vec<usize> = (0..self.shape().len()).collect();
        if a >= perm.len() || b >= perm.len() {
            bail!(
                "transpose",
                "axes {a}, {b} out of range for shape {:?}",
                self.shape()
            );
        }
        perm.swap(a, b);
        self.permute(&perm)
    }
    /// Transpose of the last two axes.
    pub fn t(&self) -> Result<Var> {
        let r = self.shape().len();
        if r < 2 {
            bail!("t", "needs rank ≥ 2, got {:?}", self.shape());
        }
        self.transpose(r - 2, r - 1)
    }
    /// `len` entries of `axis` from `start`.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Var> {
        Ok(self.unary_op(
            self.value().narrow(axis, start, len)?,
            Op::Narrow { axis, start },
        ))
    }
    /// Zero-pads `axis` to `size`, placing `self` at `start`.
    pub fn pad_axis(&self, axis: usize, start: usize, size: usize) -> Result<Var> {
        Ok(self.unary_op(
            self.value().pad_axis(axis, start, size)?,
            Op::PadAxis { axis, start },
        ))
    }
    /// Concatenation along `axis`.
    pub fn cat(parts: &[Var], axis: usize) -> Result<Var> {
        let values: Vec<Tensor> = parts.iter().map(|p| p.value().clone()).collect();
        Ok(Var::from_op(
            Tensor::cat(&values, axis)?,
            Op::Cat { axis },
            parts.to_vec(),
        ))
    }
    /// Entries `index` of `axis`.
    pub fn index_select(&self, axis: usize, index: &[usize]) -> Result<Var> {
        let v = self.value().index_select(axis, index)?;
        Ok(self.unary_op(
            v,
            Op::IndexSelect {
                axis,
                index: index.into(),
            },
        ))
    }
    /// Adjoint of index_select into an axis of size `size`.
    pub fn index_add(&self, axis: usize, index: &[usize], size: usize) -> Result<Var> {
        let v = self.value().index_add(axis, index, size)?;
        Ok(self.unary_op(
            v,
            Op::IndexAdd {
                axis,
                index: index.into(),
            },
        ))
    }
    /// PyTorch's gather along `axis` with an index tensor (integers stored as floats).
    pub fn gather(&self, axis: usize, index: &Tensor) -> Result<Var> {
        Ok(self.unary_op(
            self.value().gather(axis, index)?,
            Op::Gather {
                axis,
                index: index.clone(),
            },
        ))
    }
    /// Adjoint of gather into an axis of size `size`.
    pub fn scatter_add(&self, axis: usize, index: &Tensor, size: usize) -> Result<Var> {
        let v = self.value().scatter_add(axis, index, size)?;
        Ok(self.unary_op(
            v,
            Op::ScatterAdd {
                axis,
                index: index.clone(),
            },
        ))
    }
    /// `mask ? a : b` for a constant mask (all broadcast together).
    pub fn where_cond(mask: &Tensor, a: &Var, b: &Var) -> Result<Var> {
        let v = mask.where_cond(a.value(), b.value())?;
        Ok(Var::from_op(
            v,
            Op::Where { mask: mask.clone() },
            vec![a.clone(), b.clone()],
        ))
    }
    /// Multiplies by a constant tensor (broadcast).
    pub fn mul_const(&self, c: &Tensor) -> Result<Var> {
        self.mul(&Var::constant(c.clone()))
    }
    /// Adds a constant tensor (broadcast).
    pub fn add_const(&self, c: &Tensor) -> Result<Var> {
        self.add(&Var::constant(c.clone()))
    }
}

/// `v + b` for a bias `b: [O]` broadcast over `v: [N, O, H, W]` (pushed onto `inputs`), or `v`.
fn add_channel_bias(
    op: &'static str,
    v: Tensor,
    bias: Option<&Var>,
    inputs: &mut Vec<Var>,
) -> Result<Tensor> {
    let Some(b) = bias else { return Ok(v) };
    let o = v.shape()[1];
    if b.shape() != [o] {
        bail!(op, "bias of shape {:?} for {o} output channels", b.shape());
    }
    inputs.push(b.clone());
    v.add(&b.value().reshape(&[1, o, 1, 1])?)
}
