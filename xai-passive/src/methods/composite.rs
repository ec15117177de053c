//! Which backward rule each op of a model gets during one backward pass: a [`Composite`], one
//! mapping from (op kind, layer name, first layer or not) to a rule — Zennit's
//! `LayerMapComposite`, `NameMapComposite` and `SpecialFirstLayerMapComposite` in one — used by
//! every modified-gradient method (Zhang et al., survey Table IV: the chain rule with g in
//! place of σ′):
//!
//! - guided backprop and DeconvNet: a ReLU rule, every other op its gradient
//!   ([`Composite::guided_backprop`], [`Composite::deconvnet`]);
//! - LRP and deep Taylor: relevance rules on the linear and convolutional layers over Zennit's
//!   base map ([`Composite::uniform`], [`Composite::epsilon_plus`], …, or a spec of the user's
//!   own, [`Composite::from_spec`]);
//! - DeepLIFT: multipliers on the nonlinear ops, the gradient on the linear ones
//!   ([`Composite::deeplift`]).
//!
//! The op kinds and the rules each takes:
//!
//! | kind | ops | rule |
//! |---|---|---|
//! | dense, convolution | `linear`, `conv2d` | [`LrpRule`] per kind ([`Composite::dense`], [`Composite::conv`]), over it one per particular layer ([`SpecialLayer`]: the first, the first convolution, a layer by name) |
//! | activation | ReLU, leaky ReLU, sigmoid, tanh, softplus | [`ActivationRule`] |
//! | average pooling | `avg_pool` | [`PoolRule`] |
//! | max pooling | `max_pool2d` | [`MaxPoolRule`] |
//! | elementwise steps | add, subtract, multiply, divide by a constant; a sum of two variables | [`ElementwiseRule`] |
//!
//! Every other op (flatten and reshapes among them) keeps its gradient. The tape records the
//! layer (scope) each op ran in, which is how a `layer:NAME` entry finds its layer; "first" is
//! read off the graph (no linear layer between the model input and the op).
//!
//! A composite runs as a [`CompositeRule`], made fresh for each backward pass.

use super::deeplift::{self, DeepLiftRule};
use super::lrp_rules::{alpha_beta_conserves, replay, stabilize, LinearMap, LrpRule};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use xai_autodiff::{GradRule, Op, RuleCtx, Var};
use xai_tensor::{bail, DType, PoolBins, Result, Tensor};

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

/// The rule of the activations (ReLU, leaky ReLU, sigmoid, tanh, softplus): spec key `relu`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivationRule {
    /// The upstream signal passes unchanged, R_in = R (Zennit's `Pass`; LRP's activations).
    Pass,
    /// The ordinary gradient.
    Gradient,
    /// Guided backprop (Springenberg et al. 2015) on ReLUs: g · 1\[x > 0\] · 1\[g > 0\] (Captum's
    /// `GuidedBackprop`: relu of the ReLU's ordinary input gradient). Other activations keep
    /// their gradient, as Captum overrides only `nn.ReLU`.
    Guided,
    /// DeconvNet (Zeiler & Fergus 2014) on ReLUs: max(g, 0) whatever the forward input
    /// (Captum's `Deconvolution`). Other activations keep their gradient.
    Deconv,
    /// DeepLIFT's multipliers (Rescale or RevealCancel) on every activation, over a batch of
    /// the form `[x; x̄]` (see [`DeepLift`](super::DeepLift)). RevealCancel also decides the
    /// backward of the dense or convolutional layer feeding the activation (see
    /// [`CompositeRule`]).
    DeepLift(DeepLiftRule),
}

/// The rule of average pooling: spec key `pool`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PoolRule {
    /// Zennit's `Norm`: relevance in proportion to each input's contribution,
    /// R_in = x ⊙ poolᵀ(R / stab(pool(x))), stabilised with the composite's `stabilizer`.
    Norm,
    /// As `Norm`, stabilised with this ε.
    Epsilon(f64),
    /// Uniform redistribution (the inputs replaced by ones).
    Flat,
    /// The ordinary gradient.
    Gradient,
}

/// The rule of max pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxPoolRule {
    /// The ordinary backward: each window's winner gets the upstream signal (also LRP's
    /// winner-takes-all).
    Gradient,
    /// DeepLIFT's rule, Captum's (see [`DeepLift`](super::DeepLift)), over a `[x; x̄]` batch.
    DeepLift,
}

/// The rule of the elementwise steps between layers: an add, subtract, multiply or divide by a
/// constant (the model's input normalisation; batch norm, which runs as such steps at
/// inference) and the sum of two variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElementwiseRule {
    /// LRP's: a step with a constant passes relevance unchanged (Zennit's `(BatchNorm, Pass())`
    /// without a canonizer) and a sum of two variables splits it in proportion to the summands
    /// (Zennit's `Norm` on `Sum`).
    Relevance,
    /// The ordinary gradient.
    Gradient,
}

/// Which rule each op gets (see the module documentation): one rule per op kind, and for
/// dense and convolutional layers rules for particular layers over their kind's (the later
/// entry winning where two name one layer).
///
/// Made by a preset ([`Composite::gradient`], [`Composite::guided_backprop`],
/// [`Composite::deconvnet`], [`Composite::deeplift`], [`Composite::uniform`] and Zennit's
/// [`Composite::epsilon_plus`], [`Composite::epsilon_plus_flat`],
/// [`Composite::epsilon_alpha2_beta1`], [`Composite::epsilon_gamma`],
/// [`Composite::deep_taylor`]), changed field by field, or parsed from a spec by
/// [`Composite::from_spec`]: comma-separated `KEY=RULE`, e.g.
/// `linear=epsilon:1e-6,conv=gamma:0.25,first=zb:0:1` or
/// `linear=gradient,conv=gradient,relu=guided`.
#[derive(Clone, Debug)]
pub struct Composite {
    /// Rule of `linear` ops.
    pub dense: LrpRule,
    /// Rule of `conv2d` ops.
    pub conv: LrpRule,
    /// Rules of particular linear or convolutional layers, over `dense`/`conv`; where two
    /// entries name one layer, the later wins.
    pub special: Vec<(SpecialLayer, LrpRule)>,
    /// Rule of the activations.
    pub activation: ActivationRule,
    /// Rule of average pooling.
    pub pool: PoolRule,
    /// Rule of max pooling.
    pub max_pool: MaxPoolRule,
    /// Rule of the elementwise steps (constant operands, sums of two variables).
    pub elementwise: ElementwiseRule,
    /// Stabiliser ε of every relevance rule but LRP-ε (Zennit's `stabilizer`, default 1e-6).
    pub stabilizer: f64,
}

impl Composite {
    /// Every op keeps its gradient (a backward pass through it is the plain gradient): the base
    /// of the gradient presets.
    pub fn gradient() -> Self {
        Self {
            dense: LrpRule::Gradient,
            conv: LrpRule::Gradient,
            special: Vec::new(),
            activation: ActivationRule::Gradient,
            pool: PoolRule::Gradient,
            max_pool: MaxPoolRule::Gradient,
            elementwise: ElementwiseRule::Gradient,
            stabilizer: 1e-6,
        }
    }

    /// Guided backpropagation: [`ActivationRule::Guided`], every other op its gradient
    /// (Captum's `GuidedBackprop`, Zennit's `GuidedBackprop` composite).
    pub fn guided_backprop() -> Self {
        Self {
            activation: ActivationRule::Guided,
            ..Self::gradient()
        }
    }

    /// DeconvNet: [`ActivationRule::Deconv`], every other op its gradient (Captum's
    /// `Deconvolution`).
    pub fn deconvnet() -> Self {
        Self {
            activation: ActivationRule::Deconv,
            ..Self::gradient()
        }
    }

    /// DeepLIFT with this multiplier rule on the activations and Captum's max-pooling rule;
    /// the linear ops keep their gradient, which is their exact multiplier. Runs on batches of
    /// the form `[x; x̄]` only.
    pub fn deeplift(rule: DeepLiftRule) -> Self {
        Self {
            activation: ActivationRule::DeepLift(rule),
            max_pool: MaxPoolRule::DeepLift,
            ..Self::gradient()
        }
    }

    /// LRP with `rule` on every dense and convolutional layer, over Zennit's base map
    /// (`layer_map_base`): activations pass relevance unchanged, average pooling and sums of
    /// two variables `Norm`, steps with a constant pass, max pooling gives it to each window's
    /// winner; stabiliser 1e-6.
    pub fn uniform(rule: LrpRule) -> Self {
        Self {
            dense: rule.clone(),
            conv: rule,
            special: Vec::new(),
            activation: ActivationRule::Pass,
            pool: PoolRule::Norm,
            max_pool: MaxPoolRule::Gradient,
            elementwise: ElementwiseRule::Relevance,
            stabilizer: 1e-6,
        }
    }

    /// Zennit's `EpsilonPlus`: LRP-ε for dense layers, z⁺ for convolutions.
    pub fn epsilon_plus(epsilon: f64) -> Self {
        Self {
            conv: LrpRule::ZPlus,
            ..Self::uniform(LrpRule::Epsilon(epsilon))
        }
    }

    /// Zennit's `EpsilonPlusFlat`: as [`Composite::epsilon_plus`], with the flat rule on the
    /// first linear or convolutional layer.
    pub fn epsilon_plus_flat(epsilon: f64) -> Self {
        Self::epsilon_plus(epsilon).with_first(LrpRule::Flat)
    }

    /// Zennit's `EpsilonAlpha2Beta1`: LRP-ε for dense layers, α = 2, β = 1 for convolutions.
    pub fn epsilon_alpha2_beta1(epsilon: f64) -> Self {
        Self {
            conv: LrpRule::AlphaBeta(2.0, 1.0),
            ..Self::uniform(LrpRule::Epsilon(epsilon))
        }
    }

    /// Zennit's `EpsilonGammaBox` without its box: LRP-ε for dense layers, γ for
    /// convolutions; z^B on the first convolution is added with its bounds
    /// ([`SpecialLayer::FirstConv`], as [`Lrp::zbox`](super::Lrp::zbox) does per batch).
    pub fn epsilon_gamma(epsilon: f64, gamma: f64) -> Self {
        Self {
            conv: LrpRule::Gamma(gamma),
            ..Self::uniform(LrpRule::Epsilon(epsilon))
        }
    }

    /// Deep Taylor decomposition (Montavon et al. 2017): z⁺ on every layer, and on the first
    /// the w² rule for unbounded inputs (`bounded` false); for bounded inputs the z^B rule is
    /// added there with its bounds.
    pub fn deep_taylor(bounded: bool) -> Self {
        let c = Self::uniform(LrpRule::ZPlus);
        if bounded {
            c
        } else {
            c.with_first(LrpRule::WSquare)
        }
    }

    /// This composite with `rule` on the first linear or convolutional layer, over any
    /// earlier entry for it.
    pub fn with_first(self, rule: LrpRule) -> Self {
        self.with_layer(SpecialLayer::First, rule)
    }

    /// This composite with `rule` on `layer`, over any earlier entry for it.
    pub fn with_layer(mut self, layer: SpecialLayer, rule: LrpRule) -> Self {
        self.special.push((layer, rule));
        self
    }

    /// Parses a spec of comma-separated `KEY=RULE` entries over LRP's base
    /// ([`Composite::uniform`] with ε = 1e-6).
    ///
    /// KEY: `linear`, `conv`, `first` (the first linear or convolutional layer), `first-conv`
    /// (the first convolution), `relu` (the activations), `pool` (average pooling) or
    /// `layer:NAME`. RULE of a linear or convolutional layer: `epsilon:E`, `gamma:G`,
    /// `alpha-beta:A:B` (α − β = 1), `z-plus`, `zb:LOW:HIGH` (bounds in the model's input
    /// space before its normalisation, as `--low`/`--high`; on a named layer above the first,
    /// in that layer's input space), `w-square`, `flat`, `pass` or `gradient` (its ordinary
    /// gradient). `relu` takes `pass` (the default), `gradient`, `guided` or `deconv`; `pool`
    /// takes `epsilon:E`, `flat` or `gradient` (`Norm` when not named). Unnamed kinds keep
    /// LRP's base: ε = 1e-6 on dense layers and convolutions. Later entries win over earlier
    /// ones for the layers they name, and `first`, `first-conv` and `layer:` entries over
    /// `linear`/`conv`.
    ///
    /// `linear=gradient,conv=gradient,relu=guided` is guided backprop and
    /// `linear=gradient,conv=gradient,relu=deconv` DeconvNet on networks without average
    /// pooling or elementwise steps (add `pool=gradient` for average pooling); run by `lrp`,
    /// they are seeded with the target logit's value as LRP is.
    ///
    /// **Errors** with one line naming the entry on an unknown key or rule, a rule its key
    /// does not take, a missing or out-of-range number, or an empty spec; a `layer:NAME` that
    /// names no linear or convolutional layer of the model is refused when the composite runs
    /// ([`CompositeRule::check_named_layers`]).
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
            let (key, rule) = (key.trim(), rule.trim());
            let bad = |e: String| composite_error(format!("composite entry '{entry}': {e}"));
            if key == "relu" {
                c.activation = parse_activation_rule(rule).ok_or_else(|| {
                    bad("relu takes only pass (relevance), gradient, guided or deconv".into())
                })?;
                continue;
            }
            let rule = parse_rule(rule).map_err(bad)?;
            match key {
                "linear" => c.dense = rule,
                "conv" => c.conv = rule,
                "first" => c.special.push((SpecialLayer::First, rule)),
                "first-conv" => c.special.push((SpecialLayer::FirstConv, rule)),
                "pool" => {
                    c.pool = match rule {
                        LrpRule::Epsilon(e) => PoolRule::Epsilon(e),
                        LrpRule::Flat => PoolRule::Flat,
                        LrpRule::Gradient => PoolRule::Gradient,
                        _ => {
                            return Err(bad(
                                "pool takes epsilon:E or flat (relevance) or gradient".into()
                            ))
                        }
                    }
                }
                _ => match key.strip_prefix("layer:") {
                    Some(name) if !name.is_empty() => c
                        .special
                        .push((SpecialLayer::Named(name.to_string()), rule)),
                    _ => {
                        return Err(bad(format!(
                            "unknown key '{key}' (known: linear, conv, first, first-conv, relu, \
                             pool, layer:NAME)"
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

fn composite_error(msg: String) -> xai_tensor::Error {
    xai_tensor::Error::BadArgument { op: "lrp", msg }
}

/// The rule of a spec's `relu` entry: `pass`, `gradient`, `guided`, `deconv`.
fn parse_activation_rule(s: &str) -> Option<ActivationRule> {
    Some(match s {
        "pass" => ActivationRule::Pass,
        "gradient" => ActivationRule::Gradient,
        "guided" => ActivationRule::Guided,
        "deconv" => ActivationRule::Deconv,
        _ => return None,
    })
}

/// One rule of a layer in a composite spec: `epsilon:E`, `gamma:G`, `alpha-beta:A:B`,
/// `z-plus`, `zb:LOW:HIGH`, `w-square`, `flat`, `pass`, `gradient`.
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
        "z-plus" | "w-square" | "flat" | "pass" | "gradient" => {
            arity(0)?;
            match name {
                "z-plus" => LrpRule::ZPlus,
                "w-square" => LrpRule::WSquare,
                "flat" => LrpRule::Flat,
                "pass" => LrpRule::Pass,
                _ => LrpRule::Gradient,
            }
        }
        "guided" | "deconv" => return Err(format!("{name} is a rule of relu only")),
        _ => {
            return Err(format!(
                "unknown rule '{name}' (known: epsilon:E, gamma:G, alpha-beta:A:B, z-plus, \
                 zb:LOW:HIGH, w-square, flat, pass, gradient)"
            ))
        }
    };
    Ok(rule)
}

/// A [`Composite`] as the autodiff engine's [`GradRule`], for one backward pass.
///
/// It holds what the pass learns as it goes, which is why it is made fresh for each pass:
/// the dense and convolutional layers met (so that a `layer:NAME` entry naming none of them
/// is refused, [`CompositeRule::check_named_layers`]), and the multipliers that DeepLIFT's
/// RevealCancel leaves for a linear node. RevealCancel is the one rule whose op decides the
/// backward of another: an activation fed by a dense or convolutional layer splits its
/// multiplier into positive and negative parts, which only that layer's backward can apply
/// (sending each through the terms of its sign). The activation's backward, which runs first,
/// stores them by the layer's node; the layer's backward takes them in place of its own rule.
pub struct CompositeRule {
    /// The rules.
    pub composite: Composite,
    /// The layers (scopes) of the linear and convolutional ops the pass has met.
    linear_layers: Mutex<HashSet<String>>,
    /// RevealCancel's (positive, negative) multipliers waiting for a linear node, by its id.
    handoff: Mutex<HashMap<u64, (Tensor, Tensor)>>,
}

impl CompositeRule {
    /// The rule of one backward pass through `composite` (for
    /// [`target_gradient`](super::target_gradient) and
    /// [`target_relevance`](super::target_relevance)).
    pub fn new(composite: Composite) -> Arc<Self> {
        Arc::new(Self {
            composite,
            linear_layers: Default::default(),
            handoff: Default::default(),
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

    /// A dense or convolutional layer: RevealCancel's multipliers if an activation left them,
    /// else the composite's rule for the layer.
    fn linear(&self, ctx: &RuleCtx) -> Result<Option<Vec<Option<Var>>>> {
        if let Some(scope) = ctx.scope {
            self.linear_layers
                .lock()
                .expect("layer names")
                .insert(scope.to_string());
        }
        if ctx.needs[0] {
            let left = self
                .handoff
                .lock()
                .expect("pending multipliers")
                .remove(&ctx.output.id());
            if let Some((mp, mn)) = left {
                return Ok(first_only(ctx, deeplift::split_linear(ctx, &mp, &mn)?));
            }
        }
        let c = &self.composite;
        let rule = c.rule_for(ctx);
        if let LrpRule::Gradient = rule {
            return Ok(None);
        }
        if !ctx.needs[0] {
            return Ok(Some(vec![None; ctx.inputs.len()]));
        }
        let x = ctx.inputs[0].value();
        let Some(a) = LinearMap::of(ctx.op, x) else {
            bail!(
                "lrp",
                "conv2d input must be [N, C, H, W], got {:?}",
                x.shape()
            );
        };
        let w = ctx.inputs[1].value();
        let b = ctx.inputs.get(2).map(|b| b.value());
        let mapped;
        let rule = match rule {
            // Bounds are given in the model's input space: map them to the first layer's (a
            // named layer above it takes them in its own).
            LrpRule::ZBox(l, h) if no_linear_below(&ctx.inputs[0]) => {
                mapped = LrpRule::ZBox(replay(&ctx.inputs[0], l)?, replay(&ctx.inputs[0], h)?);
                &mapped
            }
            _ => rule,
        };
        let rin = rule.relevance(&a, x, w, b, ctx.grad.value(), c.stabilizer)?;
        Ok(first_only(ctx, rin))
    }

    /// An activation (ReLU, leaky ReLU, sigmoid, tanh, softplus).
    fn activation(&self, ctx: &RuleCtx) -> Result<Option<Vec<Option<Var>>>> {
        let g = ctx.grad.value();
        match self.composite.activation {
            ActivationRule::Pass => Ok(first_only(ctx, g.clone())),
            ActivationRule::Gradient => Ok(None),
            ActivationRule::Guided | ActivationRule::Deconv if !matches!(ctx.op, Op::Relu) => {
                Ok(None)
            }
            ActivationRule::Guided => {
                let r = g.mul(&ctx.inputs[0].value().step()?)?.relu()?;
                Ok(Some(vec![Some(Var::constant(r))]))
            }
            ActivationRule::Deconv => Ok(Some(vec![Some(Var::constant(g.relu()?))])),
            ActivationRule::DeepLift(_) if !ctx.needs[0] => Ok(None),
            ActivationRule::DeepLift(rule) => {
                let below = &ctx.inputs[0];
                if rule == DeepLiftRule::RevealCancel
                    && matches!(below.op(), Some(Op::Linear | Op::Conv2d(_)))
                    && below.inputs()[0].requires_grad()
                {
                    let m = deeplift::reveal_cancel(ctx, below)?;
                    self.handoff
                        .lock()
                        .expect("pending multipliers")
                        .insert(below.id(), m);
                }
                Ok(first_only(ctx, deeplift::rescale(ctx)?))
            }
        }
    }

    /// Average pooling over `bins`.
    fn avg_pool(&self, ctx: &RuleCtx, bins: &PoolBins) -> Result<Option<Vec<Option<Var>>>> {
        let c = &self.composite;
        let x = ctx.inputs[0].value();
        let (x, eps) = match c.pool {
            PoolRule::Gradient => return Ok(None),
            PoolRule::Flat => (x.ones_like()?, c.stabilizer),
            PoolRule::Epsilon(e) => (x.clone(), e),
            PoolRule::Norm => (x.clone(), c.stabilizer),
        };
        let hw = [x.shape()[2], x.shape()[3]];
        let z = x.avg_pool_bins(bins)?;
        let s = ctx.grad.value().div(&stabilize(&z, eps)?)?;
        Ok(first_only(
            ctx,
            x.mul(&s.avg_pool_bins_backward(bins, hw)?)?,
        ))
    }

    /// Max pooling.
    fn max_pool(&self, ctx: &RuleCtx) -> Result<Option<Vec<Option<Var>>>> {
        match self.composite.max_pool {
            MaxPoolRule::Gradient => Ok(None),
            MaxPoolRule::DeepLift if !ctx.needs[0] => Ok(None),
            MaxPoolRule::DeepLift => Ok(first_only(ctx, deeplift::maxpool(ctx)?)),
        }
    }

    /// An add, subtract, multiply or divide (a step with a constant, or a sum).
    fn elementwise(&self, ctx: &RuleCtx) -> Result<Option<Vec<Option<Var>>>> {
        if self.composite.elementwise == ElementwiseRule::Gradient {
            return Ok(None);
        }
        let r = ctx.grad.value();
        if ctx.needs.iter().filter(|&&n| n).count() == 1 {
            // A step with a constant operand: Pass.
            let i = if ctx.needs[0] { 0 } else { 1 };
            if ctx.inputs[i].shape() != ctx.output.shape() {
                return Ok(None);
            }
            let mut out = vec![None; ctx.inputs.len()];
            out[i] = Some(Var::constant(r.clone()));
            return Ok(Some(out));
        }
        match ctx.op {
            // A sum of two variables: Norm (each side in proportion to its value).
            Op::Add if ctx.inputs[0].shape() == ctx.inputs[1].shape() => {
                let s = r.div(&stabilize(ctx.output.value(), self.composite.stabilizer)?)?;
                Ok(Some(vec![
                    Some(Var::constant(ctx.inputs[0].value().mul(&s)?)),
                    Some(Var::constant(ctx.inputs[1].value().mul(&s)?)),
                ]))
            }
            _ => Ok(None),
        }
    }
}

/// Whether `op` is an activation in the composite's sense.
fn is_activation(op: &Op) -> bool {
    matches!(
        op,
        Op::Relu | Op::LeakyRelu(_) | Op::Sigmoid | Op::Tanh | Op::Softplus
    )
}

impl GradRule for CompositeRule {
    fn backward(&self, ctx: &RuleCtx) -> Result<Option<Vec<Option<Var>>>> {
        match ctx.op {
            Op::Linear | Op::Conv2d(_) => self.linear(ctx),
            op if is_activation(op) => self.activation(ctx),
            Op::AvgPool2d { bins, .. } => self.avg_pool(ctx, bins),
            Op::MaxPool2d { .. } => self.max_pool(ctx),
            Op::Add | Op::Sub | Op::Mul | Op::Div => self.elementwise(ctx),
            _ => Ok(None),
        }
    }
}

/// A map for input 0 as the engine's per-input gradient list (the others get none).
fn first_only(ctx: &RuleCtx, r: Tensor) -> Option<Vec<Option<Var>>> {
    let mut out = vec![None; ctx.inputs.len()];
    if ctx.needs[0] {
        out[0] = Some(Var::constant(r));
    }
    Some(out)
}

/// Whether no `linear`/`conv2d` op lies between the model input and `v` (so the op consuming
/// `v` is the first linear layer).
pub(crate) fn no_linear_below(v: &Var) -> bool {
    no_op_below(v, |o| matches!(o, Op::Linear | Op::Conv2d(_)))
}

/// Whether no op for which `is` holds lies between the model input and `v`.
fn no_op_below(v: &Var, is: impl Fn(&Op) -> bool) -> bool {
    let mut stack = vec![v.clone()];
    let mut seen = HashSet::new();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Params;
    use crate::methods::lrp_rules::testnets::{hand, lenet, mlp, t};
    use crate::methods::{target_gradient, GuidedGradient, ReluRule, Saliency};
    use crate::testing::models;
    use crate::Attribution;
    use xai_nn::{Forward, Graph, Layered};
    use xai_tensor::Rng;

    /// Test models with inputs and targets: the hand-made net, an MLP with ReLUs, one with a
    /// tanh and a ReLU, a LeNet with max pooling.
    fn cases() -> Vec<(Graph, Tensor, Vec<usize>)> {
        let mut rng = Rng::new(21);
        let mut x = |s: &[usize]| rng.normal(s, 0.0, 1.0, DType::F32).unwrap();
        vec![
            (hand(Some([-1.0, -4.0])), t(&[1.0, 2.0], &[1, 2]), vec![0]),
            (mlp(3, true), x(&[4, 8]), vec![0, 1, 2, 0]),
            (models::mlp(4), x(&[4, 6]), vec![2, 1, 0, 2]),
            (lenet(5, true), x(&[3, 1, 8, 8]), vec![1, 0, 2]),
        ]
    }

    fn bits(t: &Tensor) -> Vec<u32> {
        t.to_vec_f32()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    }

    /// The gradient of each example's target logit through `composite`.
    fn through(composite: &Composite, m: &Graph, x: &Tensor, t: &[usize]) -> Tensor {
        target_gradient(m, x, t, Some(CompositeRule::new(composite.clone()))).unwrap()
    }

    /// `relu=guided` and `relu=deconv` with the linear layers at their gradient are guided
    /// backprop and DeconvNet, bit for bit; by `lrp` (the `composite` parameter, `--composite`
    /// on the command line) seeded with the target logit's value, so the same maps times that
    /// value where it is positive (the ReLU rules clip by the signal's sign). They are not the
    /// gradient (the test fails if the ReLU rule were not applied) and not each other.
    #[test]
    fn relu_guided_and_deconv_specs_are_guided_backprop_and_deconvnet() {
        for (i, (m, x, t)) in cases().into_iter().enumerate() {
            let saliency = Saliency::default().attribute(&m, &x, &t).unwrap();
            let logits = m.predict(&x).unwrap();
            let k = logits.shape()[1];
            let seed: Vec<f64> = (logits.to_vec_f64().unwrap().chunks(k))
                .zip(&t)
                .map(|(row, &c)| row[c])
                .collect();
            let mut got = Vec::new();
            for (word, rule) in [("guided", ReluRule::Guided), ("deconv", ReluRule::Deconv)] {
                let spec = format!("linear=gradient,conv=gradient,relu={word}");
                let want = GuidedGradient {
                    rule,
                    ..Default::default()
                }
                .attribute(&m, &x, &t)
                .unwrap()
                .attributions;
                let c = Composite::from_spec(&spec).unwrap();
                let a = through(&c, &m, &x, &t);
                assert_eq!(bits(&a), bits(&want), "model {i}: {spec}");
                assert_eq!(bits(&through(&rule.composite(), &m, &x, &t)), bits(&want));
                if i > 0 {
                    // (The hand-made net's one negative signal is clipped either way.)
                    assert_ne!(bits(&a), bits(&saliency.attributions), "model {i}: {spec}");
                }
                // By `lrp`: the same map times f_t(x).
                let lrp = crate::registry::build("lrp", &Params::default().with("composite", spec))
                    .unwrap();
                let model: &dyn Layered = &m;
                let r = lrp.attribute(model, &x, &t).unwrap().attributions;
                let (r, w) = (r.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
                let per = w.len() / t.len();
                for (j, (r, w)) in r.iter().zip(&w).enumerate() {
                    let f = seed[j / per];
                    if f > 0.0 {
                        let w = w * f;
                        assert!(
                            (r - w).abs() <= 1e-5 * (1.0 + w.abs()),
                            "model {i}: {r} vs {w}"
                        );
                    }
                }
                assert!(
                    seed.iter().any(|&f| f > 0.0),
                    "model {i}: no positive logit"
                );
                got.push(a);
            }
            if i > 1 {
                assert_ne!(bits(&got[0]), bits(&got[1]), "model {i}: guided vs deconv");
            }
        }
    }

    /// The gradient composite is the plain gradient, bit for bit; `relu=gradient` with the
    /// linear layers at their gradient too.
    #[test]
    fn the_gradient_composite_is_the_gradient() {
        for (m, x, t) in cases() {
            let want = Saliency::default().attribute(&m, &x, &t).unwrap();
            let spec = Composite::from_spec("linear=gradient,conv=gradient,relu=gradient");
            for c in [Composite::gradient(), spec.unwrap()] {
                assert_eq!(bits(&through(&c, &m, &x, &t)), bits(&want.attributions));
            }
        }
    }

    #[test]
    fn spec_words_select_the_rules_of_their_kinds() {
        let c = Composite::from_spec("relu=deconv,pool=gradient,first=gradient").unwrap();
        assert_eq!(c.activation, ActivationRule::Deconv);
        assert_eq!(c.pool, PoolRule::Gradient);
        assert!(matches!(
            c.special[..],
            [(SpecialLayer::First, LrpRule::Gradient)]
        ));
        // Unnamed kinds keep LRP's base.
        assert!(matches!(c.dense, LrpRule::Epsilon(e) if e == 1e-6));
        assert_eq!(c.elementwise, ElementwiseRule::Relevance);
        let c = Composite::from_spec("relu=guided,relu=pass,pool=epsilon:0.1").unwrap();
        assert_eq!(c.activation, ActivationRule::Pass);
        assert_eq!(c.pool, PoolRule::Epsilon(0.1));
        for (spec, needle) in [
            ("conv=guided", "guided is a rule of relu only"),
            ("layer:fc1=deconv", "deconv is a rule of relu only"),
            ("relu=guided:1", "relu takes only pass"),
            ("pool=pass", "pool takes epsilon:E or flat"),
            ("linear=gradient:1", "gradient takes 0 number"),
        ] {
            let e = Composite::from_spec(spec).unwrap_err().to_string();
            assert!(e.contains(needle) && !e.contains('\n'), "{spec}: {e}");
        }
        // DeepLIFT's preset: its multipliers on the nonlinear ops, the gradient elsewhere.
        let d = Composite::deeplift(DeepLiftRule::RevealCancel);
        assert_eq!(
            d.activation,
            ActivationRule::DeepLift(DeepLiftRule::RevealCancel)
        );
        assert_eq!(d.max_pool, MaxPoolRule::DeepLift);
        assert!(matches!(
            (&d.dense, &d.conv),
            (LrpRule::Gradient, LrpRule::Gradient)
        ));
    }
}
