//! Layer-wise relevance propagation rules (Bach et al. 2015; Montavon et al., *Layer-Wise
//! Relevance Propagation: An Overview*, 2019) as one [`GradRule`] of the autodiff engine: the
//! relevance flows backward in place of the gradient (Zhang et al., *A Survey on Neural Network
//! Interpretability*, Table IV), and each rule replaces the backward of the linear ops
//! (`linear`, `conv2d`). The formulas are Zennit's (`zennit.rules`), written once over the
//! op's linear map A (a dense product or a convolution): for z = A(x; W) + b, upstream relevance
//! R, and a stabiliser stab(z) = z + ε·sign(z) with sign(0) = 1,
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
//! The other ops, as in Zennit's `layer_map_base`: activations pass relevance unchanged (Pass);
//! average pooling distributes it in proportion to each input's contribution (Norm:
//! R_in = x ⊙ poolᵀ(R / stab(pool(x)))); max pooling, flatten and reshape use the ordinary
//! backward (the winner gets the relevance; reshapes move it); an elementwise add, subtract,
//! multiply or divide by a constant (the model's input normalisation, and batch norm, which runs
//! as such ops at inference) passes relevance unchanged, like Zennit's `(BatchNorm, Pass())`
//! without a canonizer. Relevance rules are first-order: they return constants.

use std::sync::Arc;
use xai_autodiff::{default_backward, GradRule, Op, RuleCtx, Var};
use xai_tensor::{bail, Conv2dParams, DType, Result, Tensor};

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
            LrpRule::Pass => unreachable!("returned above"),
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

/// A layer that a composite entry names beyond its kind (Zennit's
/// `SpecialFirstLayerMapComposite` and `NameMapComposite`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecialLayer {
    /// The first linear or convolutional layer (no such layer between it and the input).
    First,
    /// The first convolution (no convolution between it and the input; Zennit's
    /// `EpsilonGammaBox` puts z^B there).
    FirstConv,
    /// The layer of this name in the model file (the scope its ops were recorded in).
    Named(String),
}

/// Which rule each op gets: a Zennit-style composite (`LayerMapComposite`,
/// `SpecialFirstLayerMapComposite`, `NameMapComposite` in one): one rule for dense layers, one
/// for convolutions, rules for particular layers over those (the later entry winning where two
/// name one layer), and the rule of average pooling. Activations pass relevance unchanged and
/// max pooling gives it to each window's winner.
///
/// Written as a spec by [`Composite::from_spec`]: comma-separated `KEY=RULE`, e.g.
/// `linear=epsilon:1e-6,conv=gamma:0.25,first=zb:0:1`.
#[derive(Clone, Debug)]
pub struct Composite {
    /// Rule of `linear` ops.
    pub dense: LrpRule,
    /// Rule of `conv2d` ops.
    pub conv: LrpRule,
    /// Rules of particular linear or convolutional layers, over `dense`/`conv`; where two
    /// entries name one layer, the later wins.
    pub special: Vec<(SpecialLayer, LrpRule)>,
    /// Rule of average pooling: `None` is Zennit's `Norm` (ε-stabilised proportional
    /// redistribution with ε = `stabilizer`); `Epsilon(ε)` or `Flat` otherwise.
    pub pool: Option<LrpRule>,
    /// Stabiliser ε of every rule but LRP-ε (Zennit's `stabilizer`, default 1e-6).
    pub stabilizer: f64,
}

impl Composite {
    /// The same rule everywhere.
    pub fn uniform(rule: LrpRule) -> Self {
        Self {
            dense: rule.clone(),
            conv: rule,
            special: Vec::new(),
            pool: None,
            stabilizer: 1e-6,
        }
    }

    /// This composite with `rule` on the first linear or convolutional layer, over any
    /// earlier entry for it.
    pub fn with_first(mut self, rule: LrpRule) -> Self {
        self.special.push((SpecialLayer::First, rule));
        self
    }

    /// Parses a spec of comma-separated `KEY=RULE` entries.
    ///
    /// KEY: `linear`, `conv`, `first` (the first linear or convolutional layer), `first-conv`
    /// (the first convolution), `relu`, `pool` (average pooling) or `layer:NAME`. RULE:
    /// `epsilon:E`, `gamma:G`, `alpha-beta:A:B` (α − β = 1), `z-plus`, `zb:LOW:HIGH` (bounds
    /// in the model's input space before its normalisation, as `--low`/`--high`; on a named
    /// layer above the first, in that layer's input space), `w-square`, `flat` or `pass`.
    /// Unnamed kinds keep the default: ε = 1e-6 on dense layers and convolutions, `Norm` on
    /// average pooling, `pass` on activations (the only rule `relu` takes); `pool` takes
    /// `epsilon:E` or `flat`. Later entries win over earlier ones for the layers they name,
    /// and `first`, `first-conv` and `layer:` entries over `linear`/`conv`.
    ///
    /// **Errors** with one line naming the entry on an unknown key or rule, a missing or
    /// out-of-range number, or an empty spec; a `layer:NAME` that names no linear or
    /// convolutional layer of the model is refused when the composite runs
    /// ([`LrpGradRule::check_named_layers`]).
    pub fn from_spec(spec: &str) -> Result<Self> {
        let mut c = Composite::uniform(LrpRule::Epsilon(1e-6));
        if spec.trim().is_empty() {
            return Err(composite_error("the composite spec is empty".into()));
        }
        for entry in spec.split(',') {
            let entry = entry.trim();
            let Some((key, rule)) = entry.split_once('=') else {
                return Err(composite_error(format!(
                    "composite entry '{entry}' is not KEY=RULE (e.g. conv=gamma:0.25)"
                )));
            };
            let rule = parse_rule(rule.trim())
                .map_err(|e| composite_error(format!("composite entry '{entry}': {e}")))?;
            let key = key.trim();
            let only = |allowed: &str, ok: bool| -> Result<()> {
                if ok {
                    Ok(())
                } else {
                    Err(composite_error(format!(
                        "composite entry '{entry}': {key} takes {allowed}"
                    )))
                }
            };
            match key {
                "linear" => c.dense = rule,
                "conv" => c.conv = rule,
                "first" => c.special.push((SpecialLayer::First, rule)),
                "first-conv" => c.special.push((SpecialLayer::FirstConv, rule)),
                "relu" => only(
                    "only pass (activations pass relevance unchanged)",
                    matches!(rule, LrpRule::Pass),
                )?,
                "pool" => {
                    only(
                        "epsilon:E or flat",
                        matches!(rule, LrpRule::Epsilon(_) | LrpRule::Flat),
                    )?;
                    c.pool = Some(rule);
                }
                _ => match key.strip_prefix("layer:") {
                    Some(name) if !name.is_empty() => c
                        .special
                        .push((SpecialLayer::Named(name.to_string()), rule)),
                    _ => {
                        return Err(composite_error(format!(
                            "composite entry '{entry}': unknown key '{key}' (known: linear, conv, \
                             first, first-conv, relu, pool, layer:NAME)"
                        )))
                    }
                },
            }
        }
        Ok(c)
    }

    /// The rule of the linear op in `ctx` (its kind's, or a special entry's).
    fn rule_for(&self, ctx: &RuleCtx) -> &LrpRule {
        let conv = matches!(ctx.op, Op::Conv2d(_));
        let names = |s: &SpecialLayer| match s {
            SpecialLayer::First => no_linear_below(&ctx.inputs[0]),
            SpecialLayer::FirstConv => {
                conv && no_op_below(&ctx.inputs[0], |o| matches!(o, Op::Conv2d(_)))
            }
            SpecialLayer::Named(n) => ctx.scope == Some(n.as_str()),
        };
        match self.special.iter().rev().find(|(s, _)| names(s)) {
            Some((_, r)) => r,
            None if conv => &self.conv,
            None => &self.dense,
        }
    }
}

/// Whether LRP-αβ with these α, β conserves relevance: α − β = 1 (to 1e-9).
pub(crate) fn alpha_beta_conserves(alpha: f64, beta: f64) -> bool {
    (alpha - beta - 1.0).abs() <= 1e-9
}

fn composite_error(msg: String) -> xai_tensor::Error {
    xai_tensor::Error::BadArgument { op: "lrp", msg }
}

/// One rule of a composite spec: `epsilon:E`, `gamma:G`, `alpha-beta:A:B`, `z-plus`,
/// `zb:LOW:HIGH`, `w-square`, `flat`, `pass`.
fn parse_rule(s: &str) -> std::result::Result<LrpRule, String> {
    let mut parts = s.split(':');
    let name = parts.next().unwrap_or("");
    let nums: Vec<&str> = parts.collect();
    let num = |i: usize, what: &str| -> std::result::Result<f64, String> {
        let v: f64 = nums
            .get(i)
            .ok_or(format!("{name} needs {what}"))?
            .parse()
            .map_err(|_| format!("{what} of {name} must be a number, got '{}'", nums[i]))?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(format!("{what} of {name} must be finite, got {v}"))
        }
    };
    let arity = |n: usize| -> std::result::Result<(), String> {
        if nums.len() == n {
            Ok(())
        } else {
            Err(format!("{name} takes {n} number(s), got {}", nums.len()))
        }
    };
    let non_negative = |v: f64, what: &str| -> std::result::Result<f64, String> {
        if v >= 0.0 {
            Ok(v)
        } else {
            Err(format!("{what} of {name} must be ≥ 0, got {v}"))
        }
    };
    let rule = match name {
        "epsilon" => {
            arity(1)?;
            LrpRule::Epsilon(non_negative(num(0, "ε")?, "ε")?)
        }
        "gamma" => {
            arity(1)?;
            LrpRule::Gamma(non_negative(num(0, "γ")?, "γ")?)
        }
        "alpha-beta" => {
            arity(2)?;
            let (a, b) = (
                non_negative(num(0, "α")?, "α")?,
                non_negative(num(1, "β")?, "β")?,
            );
            if !alpha_beta_conserves(a, b) {
                return Err(format!(
                    "α − β must be 1 (relevance is conserved), got {a} and {b}"
                ));
            }
            LrpRule::AlphaBeta(a, b)
        }
        "zb" => {
            arity(2)?;
            let (l, h) = (num(0, "LOW")?, num(1, "HIGH")?);
            if l >= h {
                return Err(format!("LOW must be below HIGH, got {l} and {h}"));
            }
            LrpRule::ZBox(Tensor::scalar(l, DType::F32), Tensor::scalar(h, DType::F32))
        }
        "z-plus" | "w-square" | "flat" | "pass" => {
            arity(0)?;
            match name {
                "z-plus" => LrpRule::ZPlus,
                "w-square" => LrpRule::WSquare,
                "flat" => LrpRule::Flat,
                _ => LrpRule::Pass,
            }
        }
        _ => {
            return Err(format!(
                "unknown rule '{name}' (known: epsilon:E, gamma:G, alpha-beta:A:B, z-plus, \
                 zb:LOW:HIGH, w-square, flat, pass)"
            ))
        }
    };
    Ok(rule)
}

/// The LRP [`GradRule`]: relevance in place of the gradient (see the module documentation).
pub struct LrpGradRule {
    /// The rules per layer kind.
    pub composite: Composite,
    /// The layers (scopes) of the linear and convolutional ops the pass has met.
    linear_layers: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl LrpGradRule {
    /// A shared rule for [`target_gradient`](super::target_gradient)-style backward passes.
    pub fn new(composite: Composite) -> Arc<Self> {
        Arc::new(Self {
            composite,
            linear_layers: Default::default(),
        })
    }

    /// After a backward pass: refuses `layer:NAME` entries that named no linear or
    /// convolutional layer the pass went through (a misspelt name, or an activation's), so
    /// a composite never silently falls back to its kind's rule there.
    pub fn check_named_layers(&self) -> Result<()> {
        let seen = self.linear_layers.lock().expect("layer names");
        for (s, _) in &self.composite.special {
            if let SpecialLayer::Named(n) = s {
                if !seen.contains(n) {
                    let mut known: Vec<&str> = seen.iter().map(String::as_str).collect();
                    known.sort_unstable();
                    return Err(composite_error(format!(
                        "composite entry layer:{n} names no linear or convolutional layer of \
                         the model (those are: {})",
                        known.join(", ")
                    )));
                }
            }
        }
        Ok(())
    }
}

/// Whether no `linear`/`conv2d` op lies between the model input and `v` (so the op consuming
/// `v` is the first linear layer).
pub(crate) fn no_linear_below(v: &Var) -> bool {
    no_op_below(v, |o| matches!(o, Op::Linear | Op::Conv2d(_)))
}

/// Whether no op for which `is` holds lies between the model input and `v`.
fn no_op_below(v: &Var, is: impl Fn(&Op) -> bool) -> bool {
    let mut stack = vec![v.clone()];
    let mut seen = std::collections::HashSet::new();
    while let Some(v) = stack.pop() {
        if !seen.insert(v.id()) {
            continue;
        }
        if v.op().is_some_and(&is) {
            return false;
        }
        stack.extend(v.inputs().iter().filter(|i| i.requires_grad()).cloned());
    }
    true
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

/// A relevance map as the engine's per-input gradient list (only input 0 gets one).
fn first_only(ctx: &RuleCtx, r: Tensor) -> Option<Vec<Option<Var>>> {
    let mut out = vec![None; ctx.inputs.len()];
    if ctx.needs[0] {
        out[0] = Some(Var::constant(r));
    }
    Some(out)
}

impl GradRule for LrpGradRule {
    fn backward(&self, ctx: &RuleCtx) -> Result<Option<Vec<Option<Var>>>> {
        let r = ctx.grad.value();
        let x = ctx.inputs[0].value();
        match ctx.op {
            Op::Linear | Op::Conv2d(_) => {
                if !ctx.needs[0] {
                    return Ok(Some(vec![None; ctx.inputs.len()]));
                }
                let Some(a) = LinearMap::of(ctx.op, x) else {
                    bail!(
                        "lrp",
                        "conv2d input must be [N, C, H, W], got {:?}",
                        x.shape()
                    );
                };
                if let Some(scope) = ctx.scope {
                    self.linear_layers
                        .lock()
                        .expect("layer names")
                        .insert(scope.to_string());
                }
                let c = &self.composite;
                let rule = c.rule_for(ctx);
                let w = ctx.inputs[1].value();
                let b = ctx.inputs.get(2).map(|b| b.value());
                let mapped;
                let rule = match rule {
                    // Bounds are given in the model's input space: map them to the first
                    // layer's (a named layer above it takes them in its own).
                    LrpRule::ZBox(l, h) if no_linear_below(&ctx.inputs[0]) => {
                        mapped =
                            LrpRule::ZBox(replay(&ctx.inputs[0], l)?, replay(&ctx.inputs[0], h)?);
                        &mapped
                    }
                    _ => rule,
                };
                let rin = rule.relevance(&a, x, w, b, r, c.stabilizer)?;
                Ok(first_only(ctx, rin))
            }
            // Activations: Pass.
            Op::Relu | Op::LeakyRelu(_) | Op::Sigmoid | Op::Tanh | Op::Softplus => {
                Ok(first_only(ctx, r.clone()))
            }
            // Average pooling: Norm (ε-stabilised proportional), ε, or flat (uniform).
            Op::AvgPool2d { bins, .. } => {
                let hw = [x.shape()[2], x.shape()[3]];
                let c = &self.composite;
                let (x, eps) = match &c.pool {
                    Some(LrpRule::Flat) => (x.ones_like()?, c.stabilizer),
                    Some(LrpRule::Epsilon(e)) => (x.clone(), *e),
                    _ => (x.clone(), c.stabilizer),
                };
                let z = x.avg_pool_bins(bins)?;
                let s = r.div(&stabilize(&z, eps)?)?;
                Ok(first_only(
                    ctx,
                    x.mul(&s.avg_pool_bins_backward(bins, hw)?)?,
                ))
            }
            // Elementwise affine steps with a constant operand (normalisation, batch norm): Pass.
            Op::Add | Op::Sub | Op::Mul | Op::Div
                if ctx.needs.iter().filter(|&&n| n).count() == 1 =>
            {
                let i = if ctx.needs[0] { 0 } else { 1 };
                if ctx.inputs[i].shape() != ctx.output.shape() {
                    return Ok(None);
                }
                let mut out = vec![None; ctx.inputs.len()];
                out[i] = Some(Var::constant(r.clone()));
                Ok(Some(out))
            }
            // Sums of two variables: Norm (each side in proportion to its value).
            Op::Add if ctx.inputs[0].shape() == ctx.inputs[1].shape() => {
                let s = r.div(&stabilize(ctx.output.value(), self.composite.stabilizer)?)?;
                Ok(Some(vec![
                    Some(Var::constant(x.mul(&s)?)),
                    Some(Var::constant(ctx.inputs[1].value().mul(&s)?)),
                ]))
            }
            _ => Ok(None),
        }
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
    use xai_nn::Sequential;
    use xai_tensor::{Conv2dParams, Pool2dParams, Rng, Tensor};

    pub fn t(v: &[f32], s: &[usize]) -> Tensor {
        Tensor::from_slice(v, s).unwrap()
    }

    /// x ∈ ℝ² → W1 = [[1, 1], [−1, 2]], b1 → relu → W2 = [[2, −1]] → f (one output).
    pub fn hand(b1: Option<[f32; 2]>) -> Sequential {
        Sequential::new(
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
    pub fn mlp(seed: u64, bias: bool) -> Sequential {
        let mut r = Rng::new(seed);
        let mut b = |n: usize| bias.then(|| randn(&mut r, &[n], 0.3));
        let (b1, b2, b3) = (b(12), b(10), b(3));
        let mut r = Rng::new(seed + 100);
        Sequential::new(
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
    pub fn lenet(seed: u64, bias: bool) -> Sequential {
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
        Sequential::new(
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
