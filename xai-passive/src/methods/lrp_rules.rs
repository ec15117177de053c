//! Layer-wise relevance propagation rules (Bach et al. 2015; Montavon et al., *Layer-Wise
//! Relevance Propagation: An Overview*, 2019) for the linear ops (`linear`, `conv2d`): the
//! relevance flows backward in place of the gradient (Zhang et al., *A Survey on Neural Network
//! Interpretability*, Table IV), each [`LrpRule`] replacing the backward of the layers a
//! [`Composite`](super::Composite) gives it to. The formulas are Zennit's (`zennit.rules`),
//! written once over the op's linear map A (a dense product or a convolution): for
//! z = A(x; W) + b, upstream relevance R, and a stabiliser stab(z) = z + ε·sign(z) with
//! sign(0) = 1,
//!
//! - **ε** (Bach et al. 2015): s = R / stab_ε(z), R_in = x ⊙ Aᵀ(s; W) (bias in z, so it absorbs
//!   relevance; ε = 0 is LRP-0).
//! - **z⁺** (Montavon et al. 2017): z = A(x⁺; W⁺) + b⁺ + A(x⁻; W⁻),
//!   R_in = x⁺ ⊙ Aᵀ(s; W⁺) + x⁻ ⊙ Aᵀ(s; W⁻) (α = 1, β = 0 generalised to negative inputs).
//! - **αβ** (Bach et al. 2015): positive part p = A(x⁺; W⁺) + b⁺ + A(x⁻; W⁻), negative part
//!   n = A(x⁺; W⁻) + b⁻ + A(x⁻; W⁺), R_in = α[x⁺ ⊙ Aᵀ(R/p; W⁺) + x⁻ ⊙ Aᵀ(R/p; W⁻)]
//!   − β[x⁺ ⊙ Aᵀ(R/n; W⁻) + x⁻ ⊙ Aᵀ(R/n; W⁺)], α − β = 1.
//! - **γ** (Montavon et al. 2019, generalised by Andéol et al. 2021 as in Zennit): with
//!   W↑ = W + γW⁺, W↓ = W + γW⁻ (biases likewise), where z = A(x; W) + b > 0 the relevance is
//!   distributed on A(x⁺; W↑) + b↑ + A(x⁻; W↓), where z < 0 on A(x⁺; W↓) + b↓ + A(x⁻; W↑).
//! - **z^B** (Montavon et al. 2017, bounded input l ≤ x ≤ h): z = A(x; W) − A(l; W⁺) − A(h; W⁻)
//!   (biases cancel), R_in = x ⊙ Aᵀ(s; W) − l ⊙ Aᵀ(s; W⁺) − h ⊙ Aᵀ(s; W⁻).
//! - **flat** (Lapuschkin et al. 2019): W and x replaced by ones, no bias: R_in = Aᵀ(R/A(1; 1)).
//! - **w²** (Montavon et al. 2017, unbounded real inputs): R_in = Aᵀ(R/A(1; W²); W²), no bias.
//!
//! - **gradient**: the ordinary backward, R_in = Aᵀ(R; W) (no relevance rule: the linear
//!   layers of guided backprop, DeconvNet and DeepLIFT).
//!
//! The rules of the other ops (activations, pooling, elementwise steps) are the composite's.
//! Relevance rules are first-order: they return constants.

use xai_autodiff::{default_backward, Op, RuleCtx, Var};
use xai_tensor::{bail, Conv2dParams, Result, Tensor};

/// Zennit's stabiliser: z + ε·sign(z), with sign(0) = 1 (`zennit.core.stabilize`).
pub fn stabilize(z: &Tensor, eps: f64) -> Result<Tensor> {
    // sgn = 1 − 2·1[z < 0]
    let sgn = z.neg()?.gt_scalar(0.0)?.affine(-2.0, 1.0)?;
    z.add(&sgn.mul_scalar(eps)?)
}

/// t⁺ = max(t, 0).
pub(crate) fn pos(t: &Tensor) -> Result<Tensor> {
    t.relu()
}

/// t⁻ = min(t, 0).
pub(crate) fn neg(t: &Tensor) -> Result<Tensor> {
    t.sub(&t.relu()?)
}

/// The linear map A of a `linear` or `conv2d` node, so every rule is written once.
#[derive(Clone, Copy, Debug)]
pub enum LinearMap {
    /// x·Wᵀ for x `[N, in]`, W `[out, in]`.
    Dense,
    /// conv2d(x, W) with these parameters, on an input of spatial size `in_hw`.
    Conv(Conv2dParams, [usize; 2]),
}

impl LinearMap {
    /// The map of `op` applied to input `x`, if it is a linear op.
    pub fn of(op: &Op, x: &Tensor) -> Option<Self> {
        match op {
            Op::Linear => Some(LinearMap::Dense),
            Op::Conv2d(p) if x.rank() == 4 => {
                Some(LinearMap::Conv(*p, [x.shape()[2], x.shape()[3]]))
            }
            _ => None,
        }
    }

    /// A(x; w) + b (b broadcast over the batch and, for convolutions, the plane).
    pub fn forward(&self, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
        let z = match self {
            LinearMap::Dense => x.matmul(&w.t()?)?,
            LinearMap::Conv(p, _) => x.conv2d(w, *p)?,
        };
        match b {
            None => Ok(z),
            Some(b) => match self {
                LinearMap::Dense => z.add(b),
                LinearMap::Conv(..) => z.add(&b.reshape(&[1, b.numel(), 1, 1])?),
            },
        }
    }

    /// Aᵀ(s; w): the adjoint of x ↦ A(x; w) applied to `s` (shape of the op's output).
    pub fn adjoint(&self, s: &Tensor, w: &Tensor) -> Result<Tensor> {
        match self {
            LinearMap::Dense => s.matmul(w),
            LinearMap::Conv(p, hw) => s.conv2d_input_grad(w, *p, *hw),
        }
    }
}

/// One LRP rule for a linear op (see the module documentation for the formulas).
#[derive(Clone, Debug)]
pub enum LrpRule {
    /// LRP-ε with this ε (Zennit's `Epsilon`).
    Epsilon(f64),
    /// LRP-γ with this γ (Zennit's `Gamma`).
    Gamma(f64),
    /// LRP-αβ with these α, β (Zennit's `AlphaBeta`).
    AlphaBeta(f64, f64),
    /// LRP-z⁺ (Zennit's `ZPlus`).
    ZPlus,
    /// LRP-z^B with the lowest and highest input values, each broadcastable against the
    /// layer input (Zennit's `ZBox`).
    ZBox(Tensor, Tensor),
    /// Flat rule (Zennit's `Flat`).
    Flat,
    /// w² rule, bias ignored (Montavon et al. 2017).
    WSquare,
    /// Relevance passes unchanged, R_in = R (Zennit's `Pass`; the layer's input and output
    /// must have one shape).
    Pass,
    /// The ordinary gradient, R_in = Aᵀ(R; W) (a composite leaves the op's own backward in
    /// place, so its bias and weight gradients are those of the plain gradient).
    Gradient,
}

impl LrpRule {
    /// Relevance of the input `x` of a linear op with map `a`, weight `w`, bias `b`, given the
    /// relevance `r` of its output; `stab` is the stabiliser of every rule but ε.
    pub fn relevance(
        &self,
        a: &LinearMap,
        x: &Tensor,
        w: &Tensor,
        b: Option<&Tensor>,
        r: &Tensor,
        stab: f64,
    ) -> Result<Tensor> {
        if let LrpRule::Pass = self {
            if r.shape() != x.shape() {
                bail!(
                    "lrp",
                    "the pass rule needs a layer whose input and output have one shape, got {:?} and {:?}",
                    x.shape(),
                    r.shape()
                );
            }
            return Ok(r.clone());
        }
        if let LrpRule::Gradient = self {
            return a.adjoint(r, w);
        }
        let (xp, xn) = (pos(x)?, neg(x)?);
        let (wp, wn) = (pos(w)?, neg(w)?);
        let bp = b.map(pos).transpose()?;
        let bn = b.map(neg).transpose()?;
        match self {
            LrpRule::Epsilon(eps) => {
                let s = r.div(&stabilize(&a.forward(x, w, b)?, *eps)?)?;
                x.mul(&a.adjoint(&s, w)?)
            }
            LrpRule::ZPlus => {
                let z = a
                    .forward(&xp, &wp, bp.as_ref())?
                    .add(&a.forward(&xn, &wn, None)?)?;
                let s = r.div(&stabilize(&z, stab)?)?;
                xp.mul(&a.adjoint(&s, &wp)?)?
                    .add(&xn.mul(&a.adjoint(&s, &wn)?)?)
            }
            LrpRule::AlphaBeta(alpha, beta) => {
                let p = a
                    .forward(&xp, &wp, bp.as_ref())?
                    .add(&a.forward(&xn, &wn, None)?)?;
                let n = a
                    .forward(&xp, &wn, bn.as_ref())?
                    .add(&a.forward(&xn, &wp, None)?)?;
                let sp = r.div(&stabilize(&p, stab)?)?;
                let sn = r.div(&stabilize(&n, stab)?)?;
                let rp = xp
                    .mul(&a.adjoint(&sp, &wp)?)?
                    .add(&xn.mul(&a.adjoint(&sp, &wn)?)?)?;
                let rn = xp
                    .mul(&a.adjoint(&sn, &wn)?)?
                    .add(&xn.mul(&a.adjoint(&sn, &wp)?)?)?;
                rp.mul_scalar(*alpha)?.sub(&rn.mul_scalar(*beta)?)
            }
            LrpRule::Gamma(g) => {
                let up = w.add(&wp.mul_scalar(*g)?)?;
                let down = w.add(&wn.mul_scalar(*g)?)?;
                let b_up = match (b, &bp) {
                    (Some(b), Some(bp)) => Some(b.add(&bp.mul_scalar(*g)?)?),
                    _ => None,
                };
                let b_down = match (b, &bn) {
                    (Some(b), Some(bn)) => Some(b.add(&bn.mul_scalar(*g)?)?),
                    _ => None,
                };
                let z = a.forward(x, w, b)?;
                let zp = a
                    .forward(&xp, &up, b_up.as_ref())?
                    .add(&a.forward(&xn, &down, None)?)?;
                let zn = a
                    .forward(&xp, &down, b_down.as_ref())?
                    .add(&a.forward(&xn, &up, None)?)?;
                let sp = r.mul(&z.gt_scalar(0.0)?)?.div(&stabilize(&zp, stab)?)?;
                let sn = r
                    .mul(&z.neg()?.gt_scalar(0.0)?)?
                    .div(&stabilize(&zn, stab)?)?;
                xp.mul(&a.adjoint(&sp, &up)?)?
                    .add(&xn.mul(&a.adjoint(&sp, &down)?)?)?
                    .add(&xp.mul(&a.adjoint(&sn, &down)?)?)?
                    .add(&xn.mul(&a.adjoint(&sn, &up)?)?)
            }
            LrpRule::ZBox(low, high) => {
                let l = low.broadcast_to(x.shape())?.mul_scalar(1.0)?;
                let h = high.broadcast_to(x.shape())?.mul_scalar(1.0)?;
                let z = a
                    .forward(x, w, None)?
                    .sub(&a.forward(&l, &wp, None)?)?
                    .sub(&a.forward(&h, &wn, None)?)?;
                let s = r.div(&stabilize(&z, stab)?)?;
                x.mul(&a.adjoint(&s, w)?)?
                    .sub(&l.mul(&a.adjoint(&s, &wp)?)?)?
                    .sub(&h.mul(&a.adjoint(&s, &wn)?)?)
            }
            LrpRule::Pass | LrpRule::Gradient => unreachable!("returned above"),
            LrpRule::Flat | LrpRule::WSquare => {
                let w2 = match self {
                    LrpRule::Flat => w.ones_like()?,
                    _ => w.square()?,
                };
                let z = a.forward(&x.ones_like()?, &w2, None)?;
                let s = r.div(&stabilize(&z, stab)?)?;
                a.adjoint(&s, &w2)
            }
        }
    }
}

/// Whether LRP-αβ with these α, β conserves relevance: α − β = 1 (to 1e-9).
pub(crate) fn alpha_beta_conserves(alpha: f64, beta: f64) -> bool {
    (alpha - beta - 1.0).abs() <= 1e-9
}

/// The value `v` would have if the model input (the leaf below it) were `t`: replays the
/// elementwise steps with constant operands and the reshapes between the input and `v` (the
/// model's input normalisation, a flatten). Used to carry z^B bounds to the first layer.
pub(crate) fn replay(v: &Var, t: &Tensor) -> Result<Tensor> {
    let Some(op) = v.op() else {
        // The model input: bounds given as scalars (a spec's zb:LOW:HIGH) take its shape.
        return t
            .to_device(v.value().device())?
            .to_dtype(v.value().dtype())?
            .broadcast_to(v.shape())?
            .mul_scalar(1.0);
    };
    let ins = v.inputs();
    let konst = |i: usize| ins.get(i).filter(|c| !c.requires_grad()).map(|c| c.value());
    let below = |i: usize| replay(&ins[i], t);
    match (op, konst(1)) {
        (Op::Add, Some(c)) => below(0)?.add(c),
        (Op::Sub, Some(c)) => below(0)?.sub(c),
        (Op::Mul, Some(c)) => below(0)?.mul(c),
        (Op::Div, Some(c)) => below(0)?.div(c),
        (Op::Reshape, _) => below(0)?.reshape(v.shape()),
        _ => bail!(
            "lrp",
            "z^B bounds cannot be carried through a {} op before the first layer",
            op.name()
        ),
    }
}

/// The ordinary backward of a node, as tensors (for rules that fall back per element).
pub(crate) fn plain_backward(ctx: &RuleCtx) -> Result<Vec<Option<Tensor>>> {
    Ok(default_backward(ctx)?
        .into_iter()
        .map(|g| g.map(|g| g.value().clone()))
        .collect())
}

/// Small networks for the rule tests (LRP, deep Taylor, DeepLIFT, guided backprop).
#[cfg(test)]
pub(crate) mod testnets {
    use crate::testing::models::{act, layer, linear, randn};
    use xai_autodiff::Var;
    use xai_nn::layers::{ActivationKind, Conv2d, Flatten, MaxPool2d};
    use xai_nn::Graph;
    use xai_tensor::{Conv2dParams, Pool2dParams, Rng, Tensor};

    pub fn t(v: &[f32], s: &[usize]) -> Tensor {
        Tensor::from_slice(v, s).unwrap()
    }

    /// x ∈ ℝ² → W1 = [[1, 1], [−1, 2]], b1 → relu → W2 = [[2, −1]] → f (one output).
    pub fn hand(b1: Option<[f32; 2]>) -> Graph {
        Graph::sequential(
            vec![2],
            vec![
                layer(
                    "fc1",
                    linear(t(&[1.0, 1.0, -1.0, 2.0], &[2, 2]), b1.map(|b| t(&b, &[2]))),
                ),
                layer("relu", act(ActivationKind::Relu)),
                layer("fc2", linear(t(&[2.0, -1.0], &[1, 2]), None)),
            ],
            None,
        )
        .unwrap()
    }

    /// 8 → 12 → relu → 10 → relu → 3, biases optional.
    pub fn mlp(seed: u64, bias: bool) -> Graph {
        let mut r = Rng::new(seed);
        let mut b = |n: usize| bias.then(|| randn(&mut r, &[n], 0.3));
        let (b1, b2, b3) = (b(12), b(10), b(3));
        let mut r = Rng::new(seed + 100);
        Graph::sequential(
            vec![8],
            vec![
                layer("0", linear(randn(&mut r, &[12, 8], 0.5), b1)),
                layer("1", act(ActivationKind::Relu)),
                layer("2", linear(randn(&mut r, &[10, 12], 0.5), b2)),
                layer("3", act(ActivationKind::Relu)),
                layer("4", linear(randn(&mut r, &[3, 10], 0.5), b3)),
            ],
            None,
        )
        .unwrap()
    }

    /// LeNet-style [1, 8, 8]: conv 3×3 p1 → relu → maxpool 2 → conv 3×3 → relu → maxpool 2
    /// → flatten → linear 4 → 3, biases optional.
    pub fn lenet(seed: u64, bias: bool) -> Graph {
        let mut r = Rng::new(seed);
        let mut b = |n: usize| bias.then(|| Var::leaf(randn(&mut r, &[n], 0.2)));
        let (b1, b2, b3) = (b(3), b(4), b(3));
        let mut r = Rng::new(seed + 100);
        let conv = |w: Tensor, b: Option<Var>, pad: usize| {
            Box::new(Conv2d {
                weight: Var::leaf(w),
                bias: b,
                params: Conv2dParams {
                    stride: [1, 1],
                    padding: [pad, pad],
                    dilation: [1, 1],
                },
            })
        };
        let pool = || {
            Box::new(MaxPool2d {
                params: Pool2dParams {
                    kernel: [2, 2],
                    stride: [2, 2],
                },
            })
        };
        Graph::sequential(
            vec![1, 8, 8],
            vec![
                layer("c1", conv(randn(&mut r, &[3, 1, 3, 3], 0.6), b1, 1)),
                layer("r1", act(ActivationKind::Relu)),
                layer("p1", pool()),
                layer("c2", conv(randn(&mut r, &[4, 3, 3, 3], 0.4), b2, 0)),
                layer("r2", act(ActivationKind::Relu)),
                layer("p2", pool()),
                layer("flat", Box::new(Flatten)),
                layer(
                    "fc",
                    linear(randn(&mut r, &[3, 4], 0.8), b3.map(|v| v.value().clone())),
                ),
            ],
            None,
        )
        .unwrap()
    }

    /// Relative distance |a − b| / max(|b|, 1e-12).
    pub fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs().max(1e-12)
    }
}
