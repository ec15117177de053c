//! DeepLIFT (Shrikumar, Greenside & Kundaje, *Learning Important Features Through Propagating
//! Activation Differences*, ICML 2017): contributions of x − x̄ to f_c(x) − f_c(x̄) for a
//! reference input x̄ (`--baseline`, as integrated gradients'), by the chain rule over
//! *multipliers* m = Δy/Δx in place of derivatives (Zhang et al., survey Table IV):
//! a = (x − x̄) ⊙ m_x, with summation-to-delta Σᵢ aᵢ = f_c(x) − f_c(x̄).
//!
//! One backward pass of the model on the batch [x; x̄] (Captum's layout: the rule sees both
//! halves of every op; both halves are seeded with the target logit) through the composite
//! [`Composite::deeplift`], which selects these rules (the functions of this file):
//!
//! - linear ops (dense, convolution, pooling averages, reshapes, batch norm's affine steps)
//!   keep their gradient, which is their exact multiplier;
//! - **Rescale** on the activations (ReLU, leaky ReLU, sigmoid, tanh, softplus):
//!   m = Δy/Δx, or the gradient where |Δx| < 10⁻¹⁰ (Captum's `eps`);
//! - **RevealCancel** (`rule` reveal-cancel) on an activation fed by a dense or convolutional
//!   layer: Δx splits into its positive and negative terms Δx⁺ = Σ[wᵢΔxᵢ]₊,
//!   Δx⁻ = Σ[wᵢΔxᵢ]₋, with Δy⁺ = ½(f(x̄+Δx⁺) − f(x̄)) + ½(f(x̄+Δx⁻+Δx⁺) − f(x̄+Δx⁻)) and Δy⁻
//!   likewise, multipliers m⁺ = Δy⁺/Δx⁺, m⁻ = Δy⁻/Δx⁻, and the layer below sends m⁺ through
//!   the terms that were positive and m⁻ through the negative ones (½(m⁺ + m⁻) where Δxᵢ = 0),
//!   as in the authors' `deeplift` package (`SepPosAndNeg` dense mode). Activations fed by
//!   anything else use Rescale. The activation's rule thus decides the backward of the layer
//!   below it: the pass's [`CompositeRule`] carries the multipliers from one to the other;
//! - **max pooling**, Captum's rule: with o, ō the pooled outputs and the winners of each half,
//!   the output difference is split into max(o, ō) − ō sent to x's winners and o − max(o, ō)
//!   sent to x̄'s winners, and each input's multiplier is that sum over Δx (the gradient where
//!   |Δx| < 10⁻¹⁰). This keeps summation-to-delta exact where windows do not overlap. Each
//!   half keeps its own upstream and fallback gradient, as in Captum; a window's winner is its
//!   first maximum, as PyTorch's `max_pool2d` indices, with values within
//!   [`MAXPOOL_TIE_RTOL`] of the maximum counted as ties (a constant baseline's windows tie
//!   exactly in PyTorch, to the last bit only up to GEMM rounding here).
//!
//! [`Explanation::completeness_gap`] reports Σa − (f_c(x) − f_c(x̄)) per example (zero up to
//! rounding for piecewise-linear networks with non-overlapping pools, and for Rescale on any
//! network of the supported ops).

use super::composite::{Composite, CompositeRule};
use super::lrp_rules::{neg, plain_backward, pos, LinearMap};
use super::saliency::target_gradient;
use crate::attribution::{Attribution, Explanation};
use crate::baseline::Baseline;
use crate::batching::Chunks;
use crate::config::{at_least_one, MethodConfig};
use crate::objectives::target_logits;
use crate::Result;
use crate::DEFAULT_BATCH_SIZE;
use xai_autodiff::{default_backward, Op, RuleCtx, Var};
use xai_nn::Differentiable;
use xai_tensor::{DType, Tensor};

/// Captum's threshold below which |Δx| counts as zero (the gradient is used instead).
pub const DEEPLIFT_EPS: f64 = 1e-10;

/// The multiplier rule of the activations ([`ActivationRule::DeepLift`](super::ActivationRule)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeepLiftRule {
    /// m = Δy/Δx (Shrikumar et al. 2017, §3.5.2).
    #[default]
    Rescale,
    /// Separate multipliers for positive and negative contributions (§3.5.3).
    RevealCancel,
}

impl std::str::FromStr for DeepLiftRule {
    type Err = String;
    /// `rescale` or `reveal-cancel`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "rescale" => Ok(DeepLiftRule::Rescale),
            "reveal-cancel" | "revealcancel" => Ok(DeepLiftRule::RevealCancel),
            _ => Err(format!(
                "unknown DeepLIFT rule '{s}' (known: rescale, reveal-cancel)"
            )),
        }
    }
}

/// DeepLIFT with a reference input.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DeepLift {
    /// Rescale or RevealCancel.
    pub rule: DeepLiftRule,
    /// The reference input x̄.
    pub baseline: Baseline,
    /// Take the absolute value.
    pub abs: bool,
    /// Examples per model call.
    pub batch_size: usize,
}

impl Default for DeepLift {
    fn default() -> Self {
        Self {
            rule: DeepLiftRule::Rescale,
            baseline: Baseline::Zeros,
            abs: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for DeepLift {
    fn validate(&self) -> Result<()> {
        at_least_one("batch_size", self.batch_size)
    }
}

/// The two halves (input, reference) of a `[2n, …]` tensor.
fn halves(t: &Tensor) -> xai_tensor::Result<(Tensor, Tensor)> {
    let n = t.shape()[0] / 2;
    Ok((t.narrow(0, 0, n)?, t.narrow(0, n, n)?))
}

/// `[t; t]`.
fn twice(t: &Tensor) -> xai_tensor::Result<Tensor> {
    Tensor::cat(&[t.clone(), t.clone()], 0)
}

/// `num/den` where |den| ≥ ε, else `fallback`.
fn ratio_or(num: &Tensor, den: &Tensor, fallback: &Tensor) -> xai_tensor::Result<Tensor> {
    let small = den.abs()?.neg()?.gt_scalar(-DEEPLIFT_EPS)?; // |den| < ε
    let safe = small.where_cond(&den.ones_like()?, den)?;
    small.where_cond(fallback, &num.div(&safe)?)
}

/// `[num/Δx; num_r/Δx]`, each half falling back to its own half of `plain` (the ordinary
/// `[2n, …]` gradient) where |Δx| < ε, as Captum's rules do.
fn per_half(
    num: &Tensor,
    num_r: &Tensor,
    dx: &Tensor,
    plain: &Tensor,
) -> xai_tensor::Result<Tensor> {
    let (plain, plain_r) = halves(plain)?;
    Tensor::cat(
        &[ratio_or(num, dx, &plain)?, ratio_or(num_r, dx, &plain_r)?],
        0,
    )
}

/// Values within this relative distance of their window's maximum tie with it in DeepLIFT's
/// max-pooling rule. A baseline's activations are often equal across a window in exact
/// arithmetic (a constant baseline through a convolution), but our convolutions (im2col and
/// GEMM, whose kernels round edge columns differently) give them last-bit differences that
/// PyTorch's do not: as ties, they go to the first maximum as in PyTorch's `max_pool2d`.
pub const MAXPOOL_TIE_RTOL: f64 = 1e-5;

/// For each window of `x` (`[N, C, H, W]`), the flat in-plane index of its first value within
/// [`MAXPOOL_TIE_RTOL`] of the window's maximum (a NaN wins, as in PyTorch), in `x`'s dtype
/// and on its device: the `index` of [`Op::MaxPool2d`].
fn first_winners(
    x: &Tensor,
    [kh, kw]: [usize; 2],
    [sh, sw]: [usize; 2],
    out: &[usize],
) -> xai_tensor::Result<Tensor> {
    let (w, plane) = (x.shape()[3], x.shape()[2] * x.shape()[3]);
    let (oh, ow) = (out[2], out[3]);
    let v = x.to_vec_f64()?;
    let mut index = Vec::with_capacity(out.iter().product());
    for p in v.chunks(plane.max(1)) {
        for oy in 0..oh {
            for ox in 0..ow {
                let at = |i: usize, j: usize| (oy * sh + i) * w + ox * sw + j;
                let cells = (0..kh).flat_map(|i| (0..kw).map(move |j| (i, j)));
                let nan = cells
                    .clone()
                    .map(|(i, j)| at(i, j))
                    .find(|&q| p[q].is_nan());
                let m = cells
                    .clone()
                    .map(|(i, j)| p[at(i, j)])
                    .fold(f64::NEG_INFINITY, f64::max);
                let tol = MAXPOOL_TIE_RTOL * m.abs();
                let first = cells
                    .map(|(i, j)| at(i, j))
                    .find(|&q| p[q] >= m - tol)
                    .unwrap_or(at(0, 0));
                index.push(nan.unwrap_or(first) as f64);
            }
        }
    }
    Tensor::from_vec(index, out)?
        .to_dtype(x.dtype())?
        .to_device(x.device())
}

/// The activation of `op` applied to `t`, if `op` is one DeepLIFT treats as a nonlinearity.
fn activation(op: &Op, t: &Tensor) -> Option<xai_tensor::Result<Tensor>> {
    Some(match op {
        Op::Relu => t.relu(),
        Op::LeakyRelu(s) => t.leaky_relu(*s),
        Op::Sigmoid => t.sigmoid(),
        Op::Tanh => t.tanh(),
        Op::Softplus => t.softplus(),
        _ => return None,
    })
}

/// Rescale: g ⊙ Δy/Δx (the gradient where Δx ≈ 0), each half with its own upstream
/// gradient and its own plain gradient, as Captum's `nonlinear`: the halves differ once a
/// fallback has given each the gradient at its own point.
pub(crate) fn rescale(ctx: &RuleCtx) -> xai_tensor::Result<Tensor> {
    let (a, ar) = halves(ctx.inputs[0].value())?;
    let (y, yr) = halves(ctx.output.value())?;
    let (g, gr) = halves(ctx.grad.value())?;
    let plain = plain_backward(ctx)?.remove(0).expect("input 0 is needed");
    let dy = y.sub(&yr)?;
    per_half(&g.mul(&dy)?, &gr.mul(&dy)?, &a.sub(&ar)?, &plain)
}

/// RevealCancel on an activation fed by the linear node `lin`: the positive and negative
/// multipliers (times the upstream gradient) that `lin`'s backward sends on
/// ([`split_linear`]); the activation's own gradient for the engine is the Rescale one, which
/// `lin`'s backward then ignores.
pub(crate) fn reveal_cancel(ctx: &RuleCtx, lin: &Var) -> xai_tensor::Result<(Tensor, Tensor)> {
    let xl = lin.inputs()[0].value();
    let w = lin.inputs()[1].value();
    let map = LinearMap::of(lin.op().expect("a linear node"), xl).expect("linear op");
    let (x, xr) = halves(xl)?;
    let dx = x.sub(&xr)?;
    let (dp, dn) = (pos(&dx)?, neg(&dx)?);
    let (wp, wn) = (pos(w)?, neg(w)?);
    // Positive and negative parts of Δz = Σ wᵢΔxᵢ.
    let zp = map
        .forward(&dp, &wp, None)?
        .add(&map.forward(&dn, &wn, None)?)?;
    let zn = map
        .forward(&dp, &wn, None)?
        .add(&map.forward(&dn, &wp, None)?)?;
    let (_, r) = halves(ctx.inputs[0].value())?;
    let f = |t: &Tensor| activation(ctx.op, t).expect("an activation");
    let fr = f(&r)?;
    let (f_p, f_n, f_pn) = (
        f(&r.add(&zp)?)?,
        f(&r.add(&zn)?)?,
        f(&r.add(&zp)?.add(&zn)?)?,
    );
    let yp = f_p.sub(&fr)?.add(&f_pn.sub(&f_n)?)?.mul_scalar(0.5)?;
    let yn = f_n.sub(&fr)?.add(&f_pn.sub(&f_p)?)?.mul_scalar(0.5)?;
    let plain = plain_backward(ctx)?.remove(0).expect("input 0 is needed");
    let (g, _) = halves(ctx.grad.value())?;
    let (gplain, _) = halves(&plain)?;
    // Where a part is ≈ 0 its multiplier is irrelevant to the sum; use the gradient.
    let deriv = ratio_or(&gplain, &g, &gplain.zeros_like()?)?;
    let mp = g.mul(&ratio_or(&yp, &zp, &deriv)?)?;
    let mn = g.mul(&ratio_or(&yn, &zn, &deriv)?)?;
    Ok((mp, mn))
}

/// The input multipliers of a linear node whose activation used RevealCancel, from the
/// multipliers `mp`, `mn` that [`reveal_cancel`] gave.
pub(crate) fn split_linear(ctx: &RuleCtx, mp: &Tensor, mn: &Tensor) -> xai_tensor::Result<Tensor> {
    let xl = ctx.inputs[0].value();
    let w = ctx.inputs[1].value();
    let map = LinearMap::of(ctx.op, xl).expect("linear op");
    let (x, xr) = halves(xl)?;
    let dx = x.sub(&xr)?;
    let is_p = dx.gt_scalar(0.0)?;
    let is_n = dx.neg()?.gt_scalar(0.0)?;
    let is_0 = is_p.add(&is_n)?.affine(-1.0, 1.0)?;
    let (wp, wn) = (pos(w)?, neg(w)?);
    let on_p = map.adjoint(mp, &wp)?.add(&map.adjoint(mn, &wn)?)?;
    let on_n = map.adjoint(mp, &wn)?.add(&map.adjoint(mn, &wp)?)?;
    let on_0 = map.adjoint(&mp.add(mn)?.mul_scalar(0.5)?, w)?;
    let m = is_p
        .mul(&on_p)?
        .add(&is_n.mul(&on_n)?)?
        .add(&is_0.mul(&on_0)?)?;
    twice(&m)
}

/// Captum's max-pooling rule (see the module documentation). Each half's share of the
/// output difference is weighted by that half's upstream gradient and sent to that half's
/// window winners (the first maximum, as PyTorch's `max_pool2d` indices); where Δx ≈ 0,
/// each half takes its own plain gradient. With a baseline whose windows are all ties, the
/// baseline's winners and gradient are thus its own, not the input's.
pub(crate) fn maxpool(ctx: &RuleCtx) -> xai_tensor::Result<Tensor> {
    let (o, or) = halves(ctx.output.value())?;
    let (g, gr) = halves(ctx.grad.value())?;
    let xmax = o.maximum(&or)?;
    let delta = Tensor::cat(&[g.mul(&xmax.sub(&or)?)?, gr.mul(&o.sub(&xmax)?)?], 0)?;
    let seed = Var::constant(delta);
    let Op::MaxPool2d { kernel, stride, .. } = ctx.op else {
        unreachable!("called on max pooling only")
    };
    let op = Op::MaxPool2d {
        kernel: *kernel,
        stride: *stride,
        index: first_winners(ctx.inputs[0].value(), *kernel, *stride, ctx.output.shape())?,
    };
    let pooled = RuleCtx { op: &op, ..*ctx };
    let sub = RuleCtx {
        grad: &seed,
        ..pooled
    };
    let spread = default_backward(&sub)?
        .remove(0)
        .expect("input 0 is needed");
    let (sx, sr) = halves(spread.value())?;
    let plain = plain_backward(&pooled)?
        .remove(0)
        .expect("input 0 is needed");
    let (a, ar) = halves(ctx.inputs[0].value())?;
    let spread = sx.add(&sr)?;
    per_half(&spread, &spread, &a.sub(&ar)?, &plain)
}

impl<M: Differentiable + ?Sized> Attribution<M> for DeepLift {
    fn name(&self) -> &'static str {
        "deeplift"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let x = x.to_dtype(DType::F32)?;
        let base = self.baseline.resolve(&x)?;
        let n = x.shape()[0];
        // Chunks of examples; each goes through the model as [x; x̄].
        let a = Chunks::new(n, self.batch_size).concat(|rows| {
            let (start, m) = (rows.start, rows.len());
            let (xc, bc) = (x.narrow(0, start, m)?, base.narrow(0, start, m)?);
            let both = Tensor::cat(&[xc.clone(), bc.clone()], 0)?;
            let t = &targets[rows];
            let t2: Vec<usize> = t.iter().chain(t).copied().collect();
            let rule = CompositeRule::new(Composite::deeplift(self.rule));
            let g = target_gradient(model, &both, &t2, Some(rule))?;
            Ok(xc.sub(&bc)?.mul(&g.narrow(0, 0, m)?)?)
        })?;
        let fx = target_logits(model, &x, targets, self.batch_size)?;
        let fb = target_logits(model, &base, targets, self.batch_size)?;
        let f = a.numel() / n.max(1);
        let av = a.to_vec_f64()?;
        let gap = (0..n)
            .map(|i| av[i * f..(i + 1) * f].iter().sum::<f64>() - (fx[i] - fb[i]))
            .collect();
        let attributions = if self.abs { a.abs()? } else { a };
        Ok(Explanation {
            attributions,
            targets: targets.to_vec(),
            completeness_gap: Some(gap),
            diagnostics: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::lrp_rules::testnets::{hand, lenet, mlp, rel, t};
    use crate::methods::Baseline;
    use xai_nn::Graph;
    use xai_tensor::Rng;

    fn run(m: &Graph, x: &Tensor, o: DeepLift) -> Explanation {
        let targets: Vec<usize> = (0..x.shape()[0]).map(|i| i % 3).collect();
        let targets = if m.num_outputs() == 1 {
            vec![0; x.shape()[0]]
        } else {
            targets
        };
        o.attribute(m, x, &targets).unwrap()
    }

    #[test]
    fn hand_computed_multipliers() {
        // b1 = [−1, −4]: z1(x) = [2, −1], z1(0) = [−1, −4]; ReLU multipliers Δy/Δx =
        // [(2 − 0)/3, 0/3]; m_x = W1ᵀ([2, −1] ⊙ [2/3, 0]) = [4/3, 4/3]; a = x ⊙ m = [4/3, 8/3],
        // Σa = 4 = f(x) − f(0), where the gradient × input would give [2, 4].
        let e = run(
            &hand(Some([-1.0, -4.0])),
            &t(&[1.0, 2.0], &[1, 2]),
            DeepLift::default(),
        );
        let a = e.attributions.to_vec_f64().unwrap();
        assert!(
            (a[0] - 4.0 / 3.0).abs() < 1e-6 && (a[1] - 8.0 / 3.0).abs() < 1e-6,
            "{a:?}"
        );
        assert!(e.completeness_gap.unwrap()[0].abs() < 1e-6);
    }

    #[test]
    fn summation_to_delta_holds_exactly_on_piecewise_linear_nets() {
        let mut rng = Rng::new(11);
        for rule in [DeepLiftRule::Rescale, DeepLiftRule::RevealCancel] {
            for (m, shape) in [
                (mlp(5, true), vec![6, 8]),
                (lenet(6, true), vec![6, 1, 8, 8]),
            ] {
                let x = rng.normal(&shape, 0.0, 1.0, DType::F32).unwrap();
                for baseline in [Baseline::Zeros, Baseline::Constant(0.3), Baseline::Mean] {
                    let o = DeepLift {
                        baseline: baseline.clone(),
                        rule,
                        ..DeepLift::default()
                    };
                    let e = run(&m, &x, o);
                    let a = e.attributions.to_vec_f64().unwrap();
                    let per = a.len() / shape[0];
                    for (i, gap) in e.completeness_gap.unwrap().iter().enumerate() {
                        let s: f64 = a[i * per..(i + 1) * per].iter().sum();
                        // Σa − Δf relative to the size of Δf (= Σa − gap).
                        assert!(
                            rel(s, s - gap) < 1e-4 || gap.abs() < 1e-6,
                            "{rule:?} {baseline:?}: Σa = {s}, gap {gap}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn reveal_cancel_differs_from_rescale_and_batching_changes_nothing() {
        let mut rng = Rng::new(12);
        let x = rng.normal(&[5, 1, 8, 8], 0.0, 1.0, DType::F32).unwrap();
        let m = lenet(7, true);
        let get = |rule, bs| {
            run(
                &m,
                &x,
                DeepLift {
                    rule,
                    batch_size: bs,
                    baseline: Baseline::Mean,
                    ..DeepLift::default()
                },
            )
            .attributions
            .to_vec_f64()
            .unwrap()
        };
        let (r1, r256) = (
            get(DeepLiftRule::Rescale, 2),
            get(DeepLiftRule::Rescale, 256),
        );
        assert!(r1.iter().zip(&r256).all(|(a, b)| (a - b).abs() < 1e-5));
        let c = get(DeepLiftRule::RevealCancel, 3);
        assert!(c.iter().zip(&r256).any(|(a, b)| (a - b).abs() > 1e-4));
        assert!("x".parse::<DeepLiftRule>().is_err());
    }
}
