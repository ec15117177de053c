//! Layer-wise relevance propagation (Bach et al., *On Pixel-Wise Explanations for Non-Linear
//! Classifier Decisions by Layer-Wise Relevance Propagation*, 2015; Montavon et al.,
//! *Layer-Wise Relevance Propagation: An Overview*, 2019), in Zennit's formulation: one backward
//! pass of the model through a [`Composite`] of relevance rules ([`CompositeRule`]) in place of
//! the chain rule, seeded with the target logit's value, R_out = f_c(x)·e_c. Relevance is then
//! conserved layer by layer up to what biases and stabilisers absorb: Σᵢ R_in,i = f_c(x) for
//! LRP-ε with zero biases and small ε.
//! (Zennit's `attr_output` is this seed; Captum's `LRP` seeds with the output value as well.)
//!
//! Methods: `lrp` (a composite, parameter `composite`), `lrp-epsilon`, `lrp-gamma`, `lrp-alpha-beta`,
//! `lrp-z-plus` (one rule on every linear and convolutional layer), `lrp-zb` (z^B on the first
//! layer, LRP-ε elsewhere).

use super::composite::{Composite, CompositeRule, SpecialLayer};
use super::lrp_rules::{alpha_beta_conserves, LrpRule};
use super::saliency::recorded_target_logits;
use crate::attribution::{Attribution, Explanation};
use crate::config::{at_least_one, bad, finite_non_negative, MethodConfig};
use crate::DEFAULT_BATCH_SIZE;
use crate::{map_rows, Result};
use std::sync::Arc;
use xai_autodiff::{enable_grad, grad_tensors, GradRule};
use xai_nn::Differentiable;
use xai_tensor::{DType, Tensor};

/// The composite of the `lrp` method: one of Zennit's built-in composites
/// (`zennit.composites`), or a spec of the user's own ([`Composite::from_spec`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CompositeKind {
    /// `EpsilonPlus`: LRP-ε for dense layers, z⁺ for convolutions.
    #[default]
    EpsilonPlus,
    /// `EpsilonPlusFlat`: as `EpsilonPlus`, with the flat rule on the first linear or
    /// convolutional layer.
    EpsilonPlusFlat,
    /// `EpsilonAlpha2Beta1`: LRP-ε for dense layers, α = 2, β = 1 for convolutions.
    EpsilonAlpha2Beta1,
    /// `EpsilonGammaBox`: z^B on the first convolution (`low`/`high`; a model without
    /// convolutions gets none, as in Zennit), γ for the other convolutions, LRP-ε for dense
    /// layers.
    EpsilonGammaBox,
    /// A spec of comma-separated `KEY=RULE` entries, checked when parsed
    /// (`linear=epsilon:1e-6,conv=gamma:0.25,first=zb:0:1`; see [`Composite::from_spec`]).
    Spec(String),
}

impl std::fmt::Display for CompositeKind {
    /// The preset's name or the spec, as [`FromStr`](std::str::FromStr) parses it back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CompositeKind::EpsilonPlus => "epsilon-plus",
            CompositeKind::EpsilonPlusFlat => "epsilon-plus-flat",
            CompositeKind::EpsilonAlpha2Beta1 => "epsilon-alpha2-beta1",
            CompositeKind::EpsilonGammaBox => "epsilon-gamma-box",
            CompositeKind::Spec(s) => s,
        })
    }
}

crate::config::serde_as_text!(CompositeKind);

impl std::str::FromStr for CompositeKind {
    type Err = String;
    /// `epsilon-plus`, `epsilon-plus-flat`, `epsilon-alpha2-beta1`, `epsilon-gamma-box`, or a
    /// spec with `=` in it (checked here).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s {
            "epsilon-plus" => CompositeKind::EpsilonPlus,
            "epsilon-plus-flat" => CompositeKind::EpsilonPlusFlat,
            "epsilon-alpha2-beta1" => CompositeKind::EpsilonAlpha2Beta1,
            "epsilon-gamma-box" => CompositeKind::EpsilonGammaBox,
            _ if s.contains('=') => {
                Composite::from_spec(s).map_err(|e| e.to_string())?;
                CompositeKind::Spec(s.to_string())
            }
            _ => {
                return Err(format!(
                    "unknown composite '{s}' (known: epsilon-plus, epsilon-plus-flat, \
                     epsilon-alpha2-beta1, epsilon-gamma-box, or KEY=RULE entries such as \
                     linear=epsilon:1e-6,conv=gamma:0.25,first=zb:0:1)"
                ))
            }
        })
    }
}

/// Bounds of the input domain for the z^B rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bounds {
    /// `low`, `high`, in the raw input space (the model's normalisation is applied to them).
    Given(f64, f64),
    /// Each example's own minimum and maximum (the default: always l ≤ x ≤ h, independent of
    /// the other examples and of the batch size).
    PerExample,
}

impl Bounds {
    /// Tensors of `x`'s shape holding the lowest and highest values for the examples of `x`.
    fn resolve(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        let n = x.shape()[0];
        let mut s = vec![1; x.rank()];
        s[0] = n;
        let full =
            |t: Tensor| -> Result<Tensor> { Ok(t.broadcast_to(x.shape())?.mul_scalar(1.0)?) };
        let (l, h) = match self {
            Bounds::Given(l, h) => (
                Tensor::full(&s, *l, x.dtype()),
                Tensor::full(&s, *h, x.dtype()),
            ),
            Bounds::PerExample => {
                let flat = x.reshape(&[n, x.numel() / n.max(1)])?;
                (
                    flat.min(&[1], true)?.reshape(&s)?,
                    flat.max(&[1], true)?.reshape(&s)?,
                )
            }
        };
        Ok((full(l)?, full(h)?))
    }

    /// Parameters `low` and `high` (both or neither).
    pub fn from_low_high(low: Option<f64>, high: Option<f64>) -> Result<Option<Bounds>> {
        match (low, high) {
            (None, None) => Ok(None),
            (Some(l), Some(h)) if l.is_finite() && h.is_finite() && l < h => {
                Ok(Some(Bounds::Given(l, h)))
            }
            (Some(l), Some(h)) => Err(bad(
                "low",
                format!("must be below high (both finite), got {l} and {h}"),
            )),
            (Some(_), None) => Err(bad("high", "must be given with low")),
            (None, Some(_)) => Err(bad("low", "must be given with high")),
        }
    }
}

/// An LRP method: the rules per layer kind, and the name it is registered under. Built from
/// a configuration ([`LrpComposite`], [`LrpEpsilon`], …) or written in code.
#[derive(Clone, Debug)]
pub struct Lrp {
    /// Registry name.
    pub name: &'static str,
    /// The rules.
    pub composite: Composite,
    /// z^B with these bounds on this layer, resolved per batch (they may be each example's
    /// own), over the composite's rule there.
    pub zbox: Option<(SpecialLayer, Bounds)>,
    /// Take the absolute value of the relevance.
    pub abs: bool,
    /// Examples per backward pass.
    pub batch_size: usize,
}

impl Lrp {
    /// The method `name` with these rules.
    pub fn new(
        name: &'static str,
        composite: Composite,
        zbox: Option<(SpecialLayer, Bounds)>,
        abs: bool,
        batch_size: usize,
    ) -> Self {
        Self {
            name,
            composite,
            zbox,
            abs,
            batch_size,
        }
    }
}

/// Parameters of `lrp`: a composite (a Zennit preset or a spec) with the presets' ε, γ and
/// z^B bounds.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LrpComposite {
    /// The composite.
    pub composite: CompositeKind,
    /// LRP-ε's ε ≥ 0 (Zennit's default 1e-6): z + ε·sign(z) in the denominator.
    pub epsilon: f64,
    /// LRP-γ's γ ≥ 0: weights W + γW⁺.
    pub gamma: f64,
    /// Lowest input value for the z^B rule, in the raw input space (with `high`; `None`:
    /// each example's minimum).
    pub low: Option<f64>,
    /// Highest input value for the z^B rule (with `low`; `None`: each example's maximum).
    pub high: Option<f64>,
    /// Take the absolute value.
    pub abs: bool,
    /// Examples per model call.
    pub batch_size: usize,
}

impl Default for LrpComposite {
    fn default() -> Self {
        Self {
            composite: CompositeKind::EpsilonPlus,
            epsilon: 1e-6,
            gamma: 0.25,
            low: None,
            high: None,
            abs: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for LrpComposite {
    fn validate(&self) -> Result<()> {
        finite_non_negative("epsilon", self.epsilon)?;
        finite_non_negative("gamma", self.gamma)?;
        Bounds::from_low_high(self.low, self.high)?;
        if let CompositeKind::Spec(s) = &self.composite {
            Composite::from_spec(s)?;
        }
        at_least_one("batch_size", self.batch_size)
    }
}

impl LrpComposite {
    /// The method, registered as `name`.
    pub fn method(&self, name: &'static str) -> Result<Lrp> {
        self.validate()?;
        let bounds = Bounds::from_low_high(self.low, self.high)?;
        let eps = self.epsilon;
        let (c, zbox) = match &self.composite {
            CompositeKind::EpsilonPlus => (Composite::epsilon_plus(eps), None),
            CompositeKind::EpsilonPlusFlat => (Composite::epsilon_plus_flat(eps), None),
            CompositeKind::EpsilonAlpha2Beta1 => (Composite::epsilon_alpha2_beta1(eps), None),
            CompositeKind::EpsilonGammaBox => (
                Composite::epsilon_gamma(eps, self.gamma),
                Some((
                    SpecialLayer::FirstConv,
                    bounds.unwrap_or(Bounds::PerExample),
                )),
            ),
            CompositeKind::Spec(spec) => (Composite::from_spec(spec)?, None),
        };
        Ok(Lrp::new(name, c, zbox, self.abs, self.batch_size))
    }
}
/// Parameters of `lrp-epsilon`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LrpEpsilon {
    /// LRP-ε's ε ≥ 0 (Zennit's default 1e-6): z + ε·sign(z) in the denominator.
    pub epsilon: f64,
    /// Take the absolute value.
    pub abs: bool,
    /// Examples per model call.
    pub batch_size: usize,
}

impl Default for LrpEpsilon {
    fn default() -> Self {
        Self {
            epsilon: 1e-6,
            abs: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for LrpEpsilon {
    fn validate(&self) -> Result<()> {
        finite_non_negative("epsilon", self.epsilon)?;
        at_least_one("batch_size", self.batch_size)
    }
}

impl LrpEpsilon {
    /// The method, registered as `name`.
    pub fn method(&self, name: &'static str) -> Result<Lrp> {
        self.validate()?;
        let c = Composite::uniform(LrpRule::Epsilon(self.epsilon));
        Ok(Lrp::new(name, c, None, self.abs, self.batch_size))
    }
}
/// Parameters of `lrp-gamma`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LrpGamma {
    /// LRP-γ's γ ≥ 0: weights W + γW⁺.
    pub gamma: f64,
    /// Take the absolute value.
    pub abs: bool,
    /// Examples per model call.
    pub batch_size: usize,
}

impl Default for LrpGamma {
    fn default() -> Self {
        Self {
            gamma: 0.25,
            abs: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for LrpGamma {
    fn validate(&self) -> Result<()> {
        finite_non_negative("gamma", self.gamma)?;
        at_least_one("batch_size", self.batch_size)
    }
}

impl LrpGamma {
    /// The method, registered as `name`.
    pub fn method(&self, name: &'static str) -> Result<Lrp> {
        self.validate()?;
        let c = Composite::uniform(LrpRule::Gamma(self.gamma));
        Ok(Lrp::new(name, c, None, self.abs, self.batch_size))
    }
}
/// Parameters of `lrp-alpha-beta`: α ≥ 0, β ≥ 0 with α − β = 1 (Zennit's conditions).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LrpAlphaBeta {
    /// α (weight of the positive contributions).
    pub alpha: f64,
    /// β (weight of the negative contributions).
    pub beta: f64,
    /// Take the absolute value.
    pub abs: bool,
    /// Examples per model call.
    pub batch_size: usize,
}

impl Default for LrpAlphaBeta {
    fn default() -> Self {
        Self {
            alpha: 2.0,
            beta: 1.0,
            abs: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for LrpAlphaBeta {
    fn validate(&self) -> Result<()> {
        finite_non_negative("alpha", self.alpha)?;
        finite_non_negative("beta", self.beta)?;
        if !alpha_beta_conserves(self.alpha, self.beta) {
            return Err(bad(
                "alpha",
                format!(
                    "minus beta must be 1 (relevance is conserved), got {} and {}",
                    self.alpha, self.beta
                ),
            ));
        }
        at_least_one("batch_size", self.batch_size)
    }
}

impl LrpAlphaBeta {
    /// The method, registered as `name`.
    pub fn method(&self, name: &'static str) -> Result<Lrp> {
        self.validate()?;
        let c = Composite::uniform(LrpRule::AlphaBeta(self.alpha, self.beta));
        Ok(Lrp::new(name, c, None, self.abs, self.batch_size))
    }
}
/// Parameters of `lrp-z-plus`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LrpZPlus {
    /// Take the absolute value.
    pub abs: bool,
    /// Examples per model call.
    pub batch_size: usize,
}

impl Default for LrpZPlus {
    fn default() -> Self {
        Self {
            abs: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for LrpZPlus {
    fn validate(&self) -> Result<()> {
        at_least_one("batch_size", self.batch_size)
    }
}

impl LrpZPlus {
    /// The method, registered as `name`.
    pub fn method(&self, name: &'static str) -> Result<Lrp> {
        self.validate()?;
        let c = Composite::uniform(LrpRule::ZPlus);
        Ok(Lrp::new(name, c, None, self.abs, self.batch_size))
    }
}
/// Parameters of `lrp-zb`: z^B on the first layer, LRP-ε above.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LrpZb {
    /// Lowest input value for the z^B rule, in the raw input space (with `high`; `None`:
    /// each example's minimum).
    pub low: Option<f64>,
    /// Highest input value for the z^B rule (with `low`; `None`: each example's maximum).
    pub high: Option<f64>,
    /// LRP-ε's ε ≥ 0 (Zennit's default 1e-6): z + ε·sign(z) in the denominator.
    pub epsilon: f64,
    /// Take the absolute value.
    pub abs: bool,
    /// Examples per model call.
    pub batch_size: usize,
}

impl Default for LrpZb {
    fn default() -> Self {
        Self {
            low: None,
            high: None,
            epsilon: 1e-6,
            abs: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for LrpZb {
    fn validate(&self) -> Result<()> {
        finite_non_negative("epsilon", self.epsilon)?;
        Bounds::from_low_high(self.low, self.high)?;
        at_least_one("batch_size", self.batch_size)
    }
}

impl LrpZb {
    /// The method, registered as `name`.
    pub fn method(&self, name: &'static str) -> Result<Lrp> {
        self.validate()?;
        let bounds = Bounds::from_low_high(self.low, self.high)?.unwrap_or(Bounds::PerExample);
        let c = Composite::uniform(LrpRule::Epsilon(self.epsilon));
        let zbox = Some((SpecialLayer::First, bounds));
        Ok(Lrp::new(name, c, zbox, self.abs, self.batch_size))
    }
}

/// Relevance at the input for each example of one batch: one backward pass through `rule`
/// seeded with R_out = f_t(x)·e_t (the target logit's value on its one-hot position).
pub fn target_relevance<M: Differentiable + ?Sized>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    rule: Arc<dyn GradRule>,
) -> Result<Tensor> {
    enable_grad(|| {
        let (input, picked) = recorded_target_logits(model, x, targets)?;
        let seed = picked.value().clone();
        Ok(grad_tensors(&picked, Some(&seed), &[&input], Some(rule))?.remove(0))
    })
}

/// Runs an LRP-style composite over `x` in chunks; a z^B layer gets each chunk's bounds. In
/// f32, or in f64 for f64 inputs (a model converted by `to_dtype(F64)`, for references).
pub(crate) fn relevance_batches<M: Differentiable + ?Sized>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    composite: &Composite,
    zbox: Option<&(SpecialLayer, Bounds)>,
    batch_size: usize,
) -> Result<Tensor> {
    let x = match x.dtype() {
        DType::F64 => x.clone(),
        _ => x.to_dtype(DType::F32)?,
    };
    map_rows(&x, batch_size, |chunk, rows| {
        let mut c = composite.clone();
        if let Some((layer, b)) = zbox {
            let (l, h) = b.resolve(chunk)?;
            c.special.push((layer.clone(), LrpRule::ZBox(l, h)));
        }
        let t = &targets[rows];
        let rule = CompositeRule::new(c);
        let r = target_relevance(model, chunk, t, rule.clone())?;
        rule.check_named_layers()?;
        Ok(r)
    })
}

impl<M: Differentiable + ?Sized> Attribution<M> for Lrp {
    fn name(&self) -> &'static str {
        self.name
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        let r = relevance_batches(
            model,
            x,
            targets,
            &self.composite,
            self.zbox.as_ref(),
            self.batch_size,
        )?;
        let attributions = if self.abs { r.abs()? } else { r };
        Ok(Explanation {
            attributions,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Params;
    use crate::methods::lrp_rules::testnets::{hand, lenet, mlp, rel, t};
    use xai_nn::{Forward, Graph};
    use xai_tensor::Rng;

    fn build(name: &str, p: &Params) -> Result<crate::registry::BoxedMethod> {
        crate::registry::build(name, p)
    }

    fn lrp(name: &'static str, model: &Graph, x: &Tensor, p: &Params) -> Vec<f64> {
        let targets = vec![0; x.shape()[0]];
        let model: &dyn xai_nn::Layered = model;
        build(name, p)
            .unwrap()
            .attribute(model, x, &targets)
            .unwrap()
            .attributions
            .to_vec_f64()
            .unwrap()
    }

    fn close(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= tol, "got {got:?}, want {want:?}");
        }
    }

    #[test]
    fn hand_computed_relevances_on_a_two_layer_net() {
        // x = [1, 2]; z1 = W1 x = [3, 3]; h = relu(z1) = [3, 3]; f = 2·3 − 3 = 3 (seed R = 3).
        let m = hand(None);
        let x = t(&[1.0, 2.0], &[1, 2]);
        let o = Params::default();
        // LRP-0 (ε = 1e-6): R_h = h ⊙ w2 · R/f = [6, −3];
        // R_x = 6·[1, 2]/3 + (−3)·[−1, 2·2]/3 = [2, 4] + [1, −4] = [3, 0].
        close(&lrp("lrp-epsilon", &m, &x, &o), &[3.0, 0.0], 1e-5);
        // z⁺: R_h = [6, 0]·3/6 = [3, 0]; R_x = 3·[1, 2]/3 = [1, 2].
        close(&lrp("lrp-z-plus", &m, &x, &o), &[1.0, 2.0], 1e-5);
        // α2β1: R_h = 2·3·[6, 0]/6 − 3·[0, −3]/(−3) = [6, −3];
        // unit 1 (only positive terms [1, 2]): 2·6·[1, 2]/3 = [4, 8];
        // unit 2: 2·(−3)·[0, 4]/4 − (−3)·[−1, 0]/(−1) = [0, −6] + [3, 0].
        close(&lrp("lrp-alpha-beta", &m, &x, &o), &[7.0, 2.0], 1e-5);
        // γ = 0.25 (all z > 0, inputs ≥ 0): W↑ = W + γW⁺.
        // Top: [3·2.5, 3·(−1)] = [7.5, −3], sum 4.5 → R_h = [5, −2].
        // Unit 1: [1.25, 2.5] / 3.75 · 5 = [5/3, 10/3]; unit 2: [−1, 5]/4 · (−2) = [0.5, −2.5].
        close(
            &lrp("lrp-gamma", &m, &x, &o),
            &[5.0 / 3.0 + 0.5, 10.0 / 3.0 - 2.5],
            1e-5,
        );
        // With a bias b1 = [−1, −4]: z1 = [2, −1], h = [2, 0], f = 4. LRP-ε: R_h = [4, 0];
        // R_x = 4·[1, 2]/2 (the bias is in the denominator) = [2, 4].
        let mb = hand(Some([-1.0, -4.0]));
        close(&lrp("lrp-epsilon", &mb, &x, &o), &[2.0, 4.0], 1e-5);
        // Flat first layer (epsilon-plus-flat): R_h = [4, 0]; R_x = 4·[1, 1]/2 = [2, 2].
        let flat = o.clone().with("composite", "epsilon-plus-flat");
        close(&lrp("lrp", &mb, &x, &flat), &[2.0, 2.0], 1e-5);
        // z^B with l = −1, h = 3 on the first layer: unit 1 (R = 4): terms
        // x w − l w⁺ − h w⁻ = [1 + 1, 2 + 1] = [2, 3] → 4·[2, 3]/5.
        let zb = o.clone().with("low", -1.0).with("high", 3.0);
        close(&lrp("lrp-zb", &mb, &x, &zb), &[1.6, 2.4], 1e-5);
        // Zennit's EpsilonGammaBox puts z^B on the first convolution: an MLP gets LRP-ε.
        let egb = zb.clone().with("composite", "epsilon-gamma-box");
        close(&lrp("lrp", &mb, &x, &egb), &[2.0, 4.0], 1e-5);
        // The same rules written as specs; by kind, by position and by name, the later of two
        // entries naming one layer winning, and a named layer over its kind.
        for (spec, want) in [
            ("linear=epsilon:1e-6,first=zb:-1:3", [1.6, 2.4]),
            ("first=flat", [2.0, 2.0]),
            ("layer:fc1=flat", [2.0, 2.0]),
            ("first=flat,layer:fc1=zb:-1:3", [1.6, 2.4]),
            ("layer:fc1=zb:-1:3,first=flat", [2.0, 2.0]),
            ("layer:fc1=flat,linear=z-plus", [2.0, 2.0]),
            ("first-conv=flat,relu=pass", [2.0, 4.0]),
        ] {
            let o = o.clone().with("composite", spec);
            close(&lrp("lrp", &mb, &x, &o), &want, 1e-5);
        }
        // A layer: entry that names no linear layer (misspelt, or an activation) is refused.
        for spec in ["layer:fc9=flat", "layer:relu=flat"] {
            let o = o.clone().with("composite", spec);
            let mb: &dyn xai_nn::Layered = &mb;
            let e = build("lrp", &o)
                .unwrap()
                .attribute(mb, &x, &[0])
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("names no linear or convolutional layer") && e.contains("fc1, fc2"),
                "{spec}: {e}"
            );
        }
        // pass needs one shape in and out: a dense 2 → 2 layer passes R_h = [4, 0] on.
        let pass = o.clone().with("composite", "first=pass");
        close(&lrp("lrp", &mb, &x, &pass), &[4.0, 0.0], 1e-5);
    }

    #[test]
    fn composite_specs_are_checked_entry_by_entry() {
        for (spec, needle) in [
            ("linear", "is not KEY=RULE"),
            ("dense=epsilon:1", "unknown key 'dense'"),
            ("layer:=flat", "unknown key 'layer:'"),
            ("conv=gamma", "gamma takes 1 number"),
            ("conv=gamma:-1", "must be ≥ 0"),
            ("conv=gamma:x", "must be a number"),
            ("conv=gamma:1:2", "takes 1 number"),
            ("conv=alpha-beta:3:1", "α − β must be 1"),
            ("first=zb:1:0", "LOW must be below HIGH"),
            ("first=zb:0:inf", "must be finite"),
            ("relu=flat", "relu takes only pass"),
            ("pool=z-plus", "pool takes epsilon:E or flat"),
            ("conv=magic", "unknown rule 'magic'"),
        ] {
            let e = Composite::from_spec(spec).unwrap_err().to_string();
            assert!(e.contains(needle) && !e.contains('\n'), "{spec}: {e}");
        }
        assert!("linear"
            .parse::<CompositeKind>()
            .unwrap_err()
            .contains("unknown composite"));
        assert!(Composite::from_spec(" ").is_err());
        let k: CompositeKind = "linear=epsilon:0.01,conv=gamma:0.25".parse().unwrap();
        assert_eq!(k.to_string().parse::<CompositeKind>(), Ok(k.clone()));
        assert_eq!(
            serde_json::to_string(&k).unwrap(),
            "\"linear=epsilon:0.01,conv=gamma:0.25\""
        );
    }

    fn f_c(m: &Graph, x: &Tensor) -> Vec<f64> {
        let l = m.predict(x).unwrap();
        let k = l.shape()[1];
        l.to_vec_f64().unwrap().chunks(k).map(|r| r[0]).collect()
    }

    fn sums(r: &[f64], n: usize) -> Vec<f64> {
        r.chunks(r.len() / n).map(|c| c.iter().sum()).collect()
    }

    #[test]
    fn lrp_epsilon_conserves_relevance_without_biases() {
        let o = Params::default().with("epsilon", 1e-9);
        let mut rng = Rng::new(7);
        for (m, shape) in [
            (mlp(1, false), vec![5, 8]),
            (lenet(2, false), vec![5, 1, 8, 8]),
        ] {
            let x = rng.normal(&shape, 0.0, 1.0, DType::F32).unwrap();
            let r = lrp("lrp-epsilon", &m, &x, &o);
            for (s, f) in sums(&r, 5).iter().zip(f_c(&m, &x)) {
                assert!(rel(*s, f) < 1e-4, "Σ R = {s}, f_c = {f}");
            }
            // z⁺ on the hidden layers too (every rule here conserves when nothing is absorbed).
            let r = lrp("lrp-z-plus", &m, &x, &Params::default());
            for (s, f) in sums(&r, 5).iter().zip(f_c(&m, &x)) {
                if f > 0.0 {
                    assert!(rel(*s, f) < 1e-4, "z⁺: Σ R = {s}, f_c = {f}");
                }
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_the_batch_size() {
        let mut rng = Rng::new(3);
        let x = rng.normal(&[7, 1, 8, 8], 0.0, 1.0, DType::F32).unwrap();
        let m = lenet(4, true);
        for name in ["lrp", "lrp-zb", "lrp-gamma", "lrp-alpha-beta"] {
            let one = Params::default().with("batch_size", 2);
            let a = lrp(name, &m, &x, &one);
            let b = lrp(name, &m, &x, &Params::default());
            // fp32 rounding may differ with the GEMM shapes of other batch sizes.
            close(&a, &b, 1e-5);
        }
    }

    #[test]
    fn bad_parameters_are_refused_naming_them() {
        for (name, p, needle) in [
            (
                "lrp-epsilon",
                Params::default().with("epsilon", -1.0),
                "epsilon must be",
            ),
            (
                "lrp-alpha-beta",
                Params::default().with("alpha", 3.0),
                "alpha minus beta must be 1",
            ),
            (
                "lrp-gamma",
                Params::default().with("gamma", f64::NAN),
                "gamma",
            ),
            (
                "lrp-zb",
                Params::default().with("low", 1.0),
                "high must be given with low",
            ),
            (
                "lrp-zb",
                Params::default().with("low", 1.0).with("high", 0.0),
                "low must be below high",
            ),
            (
                "lrp-zb",
                Params::default().with("gamma", 0.5),
                "gamma is not a parameter of lrp-zb",
            ),
            (
                "lrp",
                Params::default().with("composite", "conv=gamma:-1"),
                "must be ≥ 0",
            ),
        ] {
            let e = build(name, &p).err().expect(needle).to_string();
            assert!(e.contains(needle), "{name}: {e}");
        }
        assert!("nope".parse::<CompositeKind>().is_err());
    }
}
