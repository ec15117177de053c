//! Every op's gradient, in one match, written in [`Var`] ops: run with recording off it costs
//! plain tensor ops; run with recording on (`create_graph`) the gradient is differentiable.

use crate::engine::RuleCtx;
use crate::op::Op;
use crate::var::Var;
use xai_tensor::Result;

/// The chain rule for `ctx.op`: gradients for each input (`None` where `ctx.needs` is false or
/// the input is not differentiable). Gradient rules can fall back to this.
pub fn default_backward(ctx: &RuleCtx) -> Result<Vec<Option<Var>>> {
    let (x, out, g, need) = (ctx.inputs, ctx.output, ctx.grad, ctx.needs);
    let a = &x[0];
    // Gradient for input i, computed only when needed.
    let want = |i: usize, f: &dyn Fn() -> Result<Var>| -> Result<Option<Var>> {
        if need.get(i).copied().unwrap_or(false) {
            f().map(Some)
        } else {
            Ok(None)
        }
    };
    let one = |f: &dyn Fn() -> Result<Var>| -> Result<Vec<Option<Var>>> { Ok(vec![want(0, f)?]) };
    let mask = |t: xai_tensor::Tensor| Var::constant(t);
    match ctx.op {
        Op::Add => Ok(vec![
            want(0, &|| g.sum_to(a.shape()))?,
            want(1, &|| g.sum_to(x[1].shape()))?,
        ]),
        Op::Sub => Ok(vec![
            want(0, &|| g.sum_to(a.shape()))?,
            want(1, &|| g.neg()?.sum_to(x[1].shape()))?,
        ]),
        Op::Mul => Ok(vec![
            want(0, &|| g.mul(&x[1])?.sum_to(a.shape()))?,
            want(1, &|| g.mul(a)?.sum_to(x[1].shape()))?,
        ]),
        Op::Div => Ok(vec![
            want(0, &|| g.div(&x[1])?.sum_to(a.shape()))?,
            want(1, &|| g.mul(out)?.div(&x[1])?.neg()?.sum_to(x[1].shape()))?,
        ]),
        Op::Maximum | Op::Minimum => {
            let m = if matches!(ctx.op, Op::Maximum) {
                a.value().ge(x[1].value())?
            } else {
                a.value().le(x[1].value())?
            };
            let zero = g.full_like(0.0)?;
            Ok(vec![
                want(0, &|| Var::where_cond(&m, g, &zero)?.sum_to(a.shape()))?,
                want(1, &|| Var::where_cond(&m, &zero, g)?.sum_to(x[1].shape()))?,
            ])
        }
        Op::Neg => one(&|| g.neg()),
        Op::Exp => one(&|| g.mul(out)),
        Op::Log => one(&|| g.div(a)),
        Op::Sqrt => one(&|| g.div(out)?.mul_scalar(0.5)),
        Op::Abs => one(&|| g.mul(&mask(a.value().sign()?))),
        Op::Relu if !crate::mode::is_grad_enabled() => {
            one(&|| Ok(Var::constant(g.value().gate_positive(a.value())?)))
        }
        Op::Relu => one(&|| {
            let ones = a.value().ones_like()?;
            g.mul(&mask(ones.gate_positive(a.value())?))
        }),
        Op::LeakyRelu(s) => one(&|| {
            let pos = a.value().step()?;
            g.mul(&mask(pos.affine(1.0 - s, *s)?))
        }),
        Op::Sigmoid => one(&|| g.mul(out)?.mul(&out.neg()?.add_scalar(1.0)?)),
        Op::Tanh => one(&|| g.mul(&out.square()?.neg()?.add_scalar(1.0)?)),
        Op::Softplus => one(&|| g.mul(&a.sigmoid()?)),
        Op::Square => one(&|| g.mul(a)?.mul_scalar(2.0)),
        Op::Recip => one(&|| g.mul(&out.square()?)?.neg()),
        Op::Powf(p) => one(&|| g.mul(&a.powf(p - 1.0)?)?.mul_scalar(*p)),
        Op::Affine(m, _) => one(&|| g.mul_scalar(*m)),
        Op::Sum { axes, keepdim } => one(&|| {
            let mut kept = a.shape().to_vec();
            for &ax in axes {
                kept[ax] = 1;
            }
            let g = if *keepdim {
                g.clone()
            } else {
                g.reshape(&kept)?
            };
            g.broadcast_to(a.shape())
        }),
        Op::MaxAxis {
            axis,
            keepdim,
            index,
        } => one(&|| {
            let g = if *keepdim {
                g.clone()
            } else {
                g.reshape(index.shape())?
            };
            g.scatter_add(*axis, index, a.shape()[*axis])
        }),
        Op::BroadcastTo => one(&|| g.sum_to(a.shape())),
        Op::Matmul => Ok(vec![
            want(0, &|| g.matmul(&x[1].t()?)?.sum_to(a.shape()))?,
            want(1, &|| a.t()?.matmul(g)?.sum_to(x[1].shape()))?,
        ]),
        Op::Linear => Ok(vec![
            want(0, &|| g.matmul(&x[1]))?,
            want(1, &|| g.t()?.matmul(a))?,
            want(2, &|| g.sum(&[0], false))?,
        ]),
        Op::Conv2d(p)
            if !crate::mode::is_grad_enabled()
                && need.first() == Some(&true)
                && need.get(1) == Some(&true) =>
        {
            // Both gradients in one pass (recording off: plain tensors).
            let (dx, dw) = g.value().conv2d_backward(a.value(), x[1].value(), *p)?;
            Ok(vec![
                Some(Var::constant(dx)),
                Some(Var::constant(dw)),
                want(2, &|| g.sum(&[0, 2, 3], false))?,
            ])
        }
        Op::Conv2d(p) => {
            let (w, hw) = (&x[1], [a.shape()[2], a.shape()[3]]);
            let k = [w.shape()[2], w.shape()[3]];
            Ok(vec![
                want(0, &|| g.conv2d_input_grad(w, *p, hw))?,
                want(1, &|| a.conv2d_weight_grad(g, *p, k))?,
                want(2, &|| g.sum(&[0, 2, 3], false))?,
            ])
        }
        Op::Conv2dInputGrad { p, .. } => {
            // out = T(a, w), adjoint in both arguments: <T(a, w), h> = <a, conv(h, w)>.
            let w = &x[1];
            let k = [w.shape()[2], w.shape()[3]];
            Ok(vec![
                want(0, &|| crop_plane(g.conv2d(w, None, *p)?, a.shape()))?,
                want(1, &|| g.conv2d_weight_grad(a, *p, k))?,
            ])
        }
        Op::ConvTranspose2d(tp) => {
            // out = T(a, w) + b with T as above, for the convolution tp.conv():
            // <T(a, w), h> = <a, conv(h, w)> = <w, conv2d_weight_grad(h, a)>.
            let (w, p) = (&x[1], tp.conv());
            let k = [w.shape()[2], w.shape()[3]];
            Ok(vec![
                want(0, &|| crop_plane(g.conv2d(w, None, p)?, a.shape()))?,
                want(1, &|| g.conv2d_weight_grad(a, p, k))?,
                want(2, &|| g.sum(&[0, 2, 3], false))?,
            ])
        }
        Op::Conv2dWeightGrad { p, .. } => {
            // out = W(a, gy) with <W(a, gy), k> = <gy, conv(a, k)>.
            let gy = &x[1];
            let hw = [a.shape()[2], a.shape()[3]];
            Ok(vec![
                want(0, &|| gy.conv2d_input_grad(g, *p, hw))?,
                want(1, &|| crop_plane(a.conv2d(g, None, *p)?, gy.shape()))?,
            ])
        }
        Op::Resample2d { plan } => one(&|| g.resample2d_adjoint(plan)),
        Op::Resample2dAdjoint { plan } => one(&|| g.resample2d(plan)),
        Op::MaxPool2d { index, .. } => one(&|| {
            let s = a.shape();
            let (n, c, plane) = (s[0], s[1], s[2] * s[3]);
            let flat = [n, c, index.numel() / (n * c).max(1)];
            g.reshape(&flat)?
                .scatter_add(2, &index.reshape(&flat)?, plane)?
                .reshape(s)
        }),
        Op::AvgPool2d { bins, .. } => {
            one(&|| g.avg_pool_bins_backward(bins, [a.shape()[2], a.shape()[3]]))
        }
        Op::AvgPool2dBackward { bins, .. } => one(&|| g.avg_pool_bins(bins)),
        Op::BatchNorm {
            eps, mean, invstd, ..
        } => batch_norm_backward(ctx, *eps, mean, invstd),
        Op::Softmax(axis) => one(&|| out.mul(&g.sub(&g.mul(out)?.sum(&[*axis], true)?)?)),
        Op::LogSoftmax(axis) => one(&|| g.sub(&out.exp()?.mul(&g.sum(&[*axis], true)?)?)),
        Op::Reshape => one(&|| g.reshape(a.shape())),
        Op::Permute(perm) => one(&|| {
            let mut inv = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inv[p] = i;
            }
            g.permute(&inv)
        }),
        Op::Narrow { axis, start } => one(&|| g.pad_axis(*axis, *start, a.shape()[*axis])),
        Op::PadAxis { axis, start } => one(&|| g.narrow(*axis, *start, a.shape()[*axis])),
        Op::Cat { axis } => {
            let mut start = 0;
            let mut grads = Vec::with_capacity(x.len());
            for (i, part) in x.iter().enumerate() {
                let len = part.shape()[*axis];
                grads.push(want(i, &|| g.narrow(*axis, start, len))?);
                start += len;
            }
            Ok(grads)
        }
        Op::IndexSelect { axis, index } => one(&|| g.index_add(*axis, index, a.shape()[*axis])),
        Op::IndexAdd { axis, index } => one(&|| g.index_select(*axis, index)),
        Op::Gather { axis, index } => one(&|| g.scatter_add(*axis, index, a.shape()[*axis])),
        Op::ScatterAdd { axis, index } => one(&|| g.gather(*axis, index)),
        Op::Where { mask } => {
            let zero = g.full_like(0.0)?;
            Ok(vec![
                want(0, &|| Var::where_cond(mask, g, &zero)?.sum_to(a.shape()))?,
                want(1, &|| Var::where_cond(mask, &zero, g)?.sum_to(x[1].shape()))?,
            ])
        }
    }
}

/// `v: [N, C, H', W']` cut to the plane of `shape`. The convolution of a transposed
/// convolution's output has `⌊op/s⌋` rows more than its input where the output padding `op`
/// reaches the stride `s` (it may while below the dilation); those rows are not outputs.
fn crop_plane(v: Var, shape: &[usize]) -> Result<Var> {
    let mut v = v;
    for axis in [2, 3] {
        if v.shape()[axis] != shape[axis] {
            v = v.narrow(axis, 0, shape[axis])?;
        }
    }
    Ok(v)
}

/// Batch normalisation's gradient (Ioffe & Szegedy 2015, §3): with x̂ = (x − μ)/σ and M
/// values per channel, `∂β = Σ g`, `∂γ = Σ g x̂`, `∂x = γ/σ · (g − ∂β/M − x̂ ∂γ/M)`. Recording
/// off, two fused passes; recording on (a gradient to differentiate again), the same formula
/// in ordinary ops with μ and σ recomputed from x, so that it is differentiable in x too.
fn batch_norm_backward(
    ctx: &RuleCtx,
    eps: f64,
    mean: &xai_tensor::Tensor,
    invstd: &xai_tensor::Tensor,
) -> Result<Vec<Option<Var>>> {
    let (x, gamma, g, need) = (&ctx.inputs[0], &ctx.inputs[1], ctx.grad, ctx.needs);
    let axes: Vec<usize> = [0].into_iter().chain(2..x.shape().len()).collect();
    let c = x.shape()[1];
    let m = (x.value().numel() / c.max(1)).max(1) as f64;
    let mut cs = vec![1; x.shape().len()];
    cs[1] = c;
    let needs = |i: usize| need.get(i).copied().unwrap_or(false);
    if crate::mode::is_grad_enabled() {
        let mu = x.mean(&axes, true)?;
        let centered = x.sub(&mu)?;
        let inv = centered
            .square()?
            .mean(&axes, true)?
            .add_scalar(eps)?
            .sqrt()?
            .recip()?;
        let xhat = centered.mul(&inv)?;
        let dbeta = g.sum(&axes, false)?;
        let dgamma = g.mul(&xhat)?.sum(&axes, false)?;
        let dx = if needs(0) {
            let mean_g = dbeta.reshape(&cs)?.mul_scalar(1.0 / m)?;
            let mean_gx = dgamma.reshape(&cs)?.mul_scalar(1.0 / m)?;
            Some(
                g.sub(&mean_g)?
                    .sub(&xhat.mul(&mean_gx)?)?
                    .mul(&inv)?
                    .mul(&gamma.reshape(&cs)?)?,
            )
        } else {
            None
        };
        return Ok(vec![
            dx,
            needs(1).then_some(dgamma),
            needs(2).then_some(dbeta),
        ]);
    }
    let (sg, sgx) = g.value().channel_sums(x.value())?;
    // Σ g x̂ = (Σ g x − μ Σ g)/σ.
    let dgamma = sgx.sub(&mean.mul(&sg)?)?.mul(invstd)?;
    let dx = if needs(0) {
        // ∂x = p·g + q·(x − μ) + r with p = γ/σ, q = −p ∂γ/(σ M), r = −p ∂β/M.
        let p = gamma.value().mul(invstd)?;
        let q = p.mul(&dgamma)?.mul(invstd)?.mul_scalar(-1.0 / m)?;
        let r = p.mul(&sg)?.mul_scalar(-1.0 / m)?;
        let dx = g
            .value()
            .channel_affine(&p, &r, Some((x.value(), mean, &q)))?;
        Some(Var::constant(dx))
    } else {
        None
    };
    Ok(vec![
        dx,
        needs(1).then(|| Var::constant(dgamma)),
        needs(2).then(|| Var::constant(sg)),
    ])
}
