//! The record of one explanation run, serialisable (`xai explain --format json`): the
//! attributions with everything needed to reproduce and audit them — method, the
//! [`MethodOptions`] used, the classes explained, the input's shape, SHA-256 digests of the
//! model files, timings, the completeness gap Σa − (f(x) − f(baseline)) where the method
//! defines one, and the xai version.

use crate::methods::{Baseline, CompositeKind, DeepLiftRule, Integration, MaskReference};
use crate::{Explanation, MethodOptions};
use serde::Serialize;
use xai_tensor::Tensor;

/// The version of xai that wrote a report (the workspace version).
pub const XAI_VERSION: &str = env!("CARGO_PKG_VERSION");

/// One explanation run: metadata plus the attributions.
#[derive(Clone, Debug, Serialize)]
pub struct ExplanationReport {
    /// The xai version ([`XAI_VERSION`]).
    pub xai_version: String,
    /// The registry name of the method (`"integrated-gradients"`).
    pub method: String,
    /// The options the method was built with.
    pub parameters: MethodParameters,
    /// The class explained for each example.
    pub targets: Vec<usize>,
    /// The input's shape as read (a single example has no batch axis).
    pub input_shape: Vec<usize>,
    /// Digests of the model files.
    pub model: ModelDigest,
    /// Wall-clock seconds of the stages.
    pub timings: Timings,
    /// Σa − (f(x) − f(baseline)) per example, for methods with a completeness axiom (else
    /// `null`).
    pub completeness_gap: Option<Vec<f64>>,
    /// The method's diagnostics (LIME's `local_r2`), see [`crate::Diagnostic`].
    pub diagnostics: Vec<crate::Diagnostic>,
    /// The attributions, as the `.npy` output holds them.
    pub attributions: Array,
}

/// A dense array: its shape and its values in row-major (C) order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Array {
    /// The shape.
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values, row-major (NaN/inf are written as `null`).
    pub values: Vec<f32>,
}

impl Array {
    /// The values of `t` (converted to f32) with its shape.
    pub fn from_tensor(t: &Tensor) -> crate::Result<Self> {
        Ok(Self {
            shape: t.shape().to_vec(),
            values: t.to_vec_f32()?,
        })
    }
}

/// A file and the SHA-256 digest of its bytes (lowercase hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileDigest {
    /// The path as given (or as derived from the model JSON).
    pub path: String,
    /// SHA-256 of the file's bytes, 64 lowercase hex digits.
    pub sha256: String,
}

/// The two files of a model.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModelDigest {
    /// The architecture (`model.json`).
    pub json: FileDigest,
    /// The weights (safetensors) the JSON names.
    pub weights: FileDigest,
}

/// Wall-clock seconds of one run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Timings {
    /// Reading the model and the input.
    pub load_seconds: f64,
    /// Resolving targets and computing the attributions.
    pub attribute_seconds: f64,
    /// The whole run, writing included.
    pub total_seconds: f64,
}

/// How a [`Baseline`] is recorded: `zeros`, `mean`, `constant:V`, or a given tensor's shape.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum BaselineRecord {
    /// All zeros.
    Zeros,
    /// Every feature equal to `value`.
    Constant {
        /// The constant.
        value: f64,
    },
    /// The per-feature mean of the input batch.
    Mean,
    /// A given tensor (from a file), recorded by its shape.
    Tensor {
        /// Its shape.
        shape: Vec<usize>,
    },
}

impl From<&Baseline> for BaselineRecord {
    fn from(b: &Baseline) -> Self {
        match b {
            Baseline::Zeros => BaselineRecord::Zeros,
            Baseline::Constant(v) => BaselineRecord::Constant { value: *v },
            Baseline::Mean => BaselineRecord::Mean,
            Baseline::Tensor(t) => BaselineRecord::Tensor {
                shape: t.shape().to_vec(),
            },
        }
    }
}

/// [`MethodOptions`] as recorded: the same fields, given tensors (`baselines`, `mask`) by
/// their shape. Each method reads only the options it understands; all are recorded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MethodParameters {
    /// See [`MethodOptions::abs`].
    pub abs: bool,
    /// See [`MethodOptions::channel_max`].
    pub channel_max: bool,
    /// See [`MethodOptions::batch_size`].
    pub batch_size: usize,
    /// See [`MethodOptions::baseline`].
    pub baseline: BaselineRecord,
    /// See [`MethodOptions::integration`].
    pub integration: Integration,
    /// See [`MethodOptions::steps`].
    pub steps: usize,
    /// See [`MethodOptions::samples`] (`null`: the method's default).
    pub samples: Option<usize>,
    /// See [`MethodOptions::noise_std`] (`null`: the method's default).
    pub noise_std: Option<f64>,
    /// See [`MethodOptions::seed`].
    pub seed: u64,
    /// See [`MethodOptions::layer`].
    pub layer: Option<String>,
    /// See [`MethodOptions::neuron`].
    pub neuron: Option<String>,
    /// See [`MethodOptions::upsample`].
    pub upsample: bool,
    /// Shape of [`MethodOptions::baselines`].
    pub baselines_shape: Option<Vec<usize>>,
    /// See [`MethodOptions::inner`].
    pub inner: Option<String>,
    /// See [`MethodOptions::epsilon`].
    pub epsilon: f64,
    /// See [`MethodOptions::gamma`].
    pub gamma: f64,
    /// See [`MethodOptions::alpha`].
    pub alpha: f64,
    /// See [`MethodOptions::beta`].
    pub beta: f64,
    /// See [`MethodOptions::composite`].
    pub composite: CompositeKind,
    /// See [`MethodOptions::low`].
    pub low: Option<f64>,
    /// See [`MethodOptions::high`].
    pub high: Option<f64>,
    /// See [`MethodOptions::deeplift_rule`].
    pub deeplift_rule: DeepLiftRule,
    /// See [`MethodOptions::window`].
    pub window: Option<String>,
    /// See [`MethodOptions::stride`].
    pub stride: Option<String>,
    /// Shape of [`MethodOptions::mask`].
    pub mask_shape: Option<Vec<usize>>,
    /// See [`MethodOptions::segments`].
    pub segments: Option<String>,
    /// See [`MethodOptions::kernel_width`] (`null`: 0.75·√d).
    pub kernel_width: Option<f64>,
    /// See [`MethodOptions::lime_sampling`], as its flag spells it (`on-off`, …).
    pub lime_sampling: String,
    /// See [`MethodOptions::iterations`] (`null`: the method's default).
    pub iterations: Option<usize>,
    /// See [`MethodOptions::lambda_l1`].
    pub lambda_l1: f64,
    /// See [`MethodOptions::lambda_tv`].
    pub lambda_tv: f64,
    /// See [`MethodOptions::mask_size`] (`null`: the method's default).
    pub mask_size: Option<usize>,
    /// See [`MethodOptions::reference`], as its flag spells it (`blur`, `blur:S`, `baseline`).
    pub reference: String,
}

/// `blur`, `blur:S` or `baseline`: the spelling [`MaskReference`]'s parser reads back.
fn reference_name(r: &MaskReference) -> String {
    match r {
        MaskReference::Blur(None) => "blur".into(),
        MaskReference::Blur(Some(s)) => format!("blur:{s}"),
        MaskReference::Baseline => "baseline".into(),
    }
}

impl From<&MethodOptions> for MethodParameters {
    fn from(o: &MethodOptions) -> Self {
        // Exhaustive on purpose: a new option does not compile until it is recorded here.
        let MethodOptions {
            abs,
            channel_max,
            batch_size,
            baseline,
            integration,
            steps,
            samples,
            noise_std,
            seed,
            layer,
            neuron,
            upsample,
            baselines,
            inner,
            epsilon,
            gamma,
            alpha,
            beta,
            composite,
            low,
            high,
            deeplift_rule,
            window,
            stride,
            mask,
            segments,
            kernel_width,
            lime_sampling,
            iterations,
            lambda_l1,
            lambda_tv,
            mask_size,
            reference,
        } = o;
        let shape = |t: &Option<Tensor>| t.as_ref().map(|t| t.shape().to_vec());
        Self {
            abs: *abs,
            channel_max: *channel_max,
            batch_size: *batch_size,
            baseline: baseline.into(),
            integration: *integration,
            steps: *steps,
            samples: *samples,
            noise_std: *noise_std,
            seed: *seed,
            layer: layer.clone(),
            neuron: neuron.clone(),
            upsample: *upsample,
            baselines_shape: shape(baselines),
            inner: inner.clone(),
            epsilon: *epsilon,
            gamma: *gamma,
            alpha: *alpha,
            beta: *beta,
            composite: composite.clone(),
            low: *low,
            high: *high,
            deeplift_rule: *deeplift_rule,
            window: window.clone(),
            stride: stride.clone(),
            mask_shape: shape(mask),
            segments: segments.clone(),
            kernel_width: *kernel_width,
            lime_sampling: lime_sampling.name().into(),
            iterations: *iterations,
            lambda_l1: *lambda_l1,
            lambda_tv: *lambda_tv,
            mask_size: *mask_size,
            reference: reference_name(reference),
        }
    }
}

impl ExplanationReport {
    /// The report of `explanation` by `method` with options `opts`; `attributions` is the
    /// array as written out (possibly reshaped from `explanation.attributions`).
    pub fn new(
        method: &str,
        opts: &MethodOptions,
        explanation: &Explanation,
        attributions: &Tensor,
        input_shape: &[usize],
        model: ModelDigest,
        timings: Timings,
    ) -> crate::Result<Self> {
        Ok(Self {
            xai_version: XAI_VERSION.to_string(),
            method: method.to_string(),
            parameters: opts.into(),
            targets: explanation.targets.clone(),
            input_shape: input_shape.to_vec(),
            model,
            timings,
            completeness_gap: explanation.completeness_gap.clone(),
            diagnostics: explanation.diagnostics.clone(),
            attributions: Array::from_tensor(attributions)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_mirror_options_and_name_enums_as_the_cli_does() {
        let opts = MethodOptions {
            baseline: Baseline::Constant(0.5),
            mask: Some(Tensor::zeros(&[1, 4, 4], xai_tensor::DType::F32)),
            integration: Integration::RiemannTrapezoid,
            composite: CompositeKind::EpsilonAlpha2Beta1,
            deeplift_rule: DeepLiftRule::RevealCancel,
            ..MethodOptions::default()
        };
        let p = MethodParameters::from(&opts);
        assert_eq!(p.lime_sampling, "on-off");
        assert_eq!(p.reference, "blur");
        assert_eq!(p.baseline, BaselineRecord::Constant { value: 0.5 });
        assert_eq!(p.mask_shape, Some(vec![1, 4, 4]));
        assert_eq!(p.steps, 50);
        // Every enum is written with the spelling its flag parses back.
        let v = serde_json::to_value(&p).unwrap();
        let text = |k: &str| v[k].as_str().unwrap().to_string();
        assert_eq!(text("integration"), "riemann-trapezoid");
        assert_eq!(
            text("integration").parse::<Integration>(),
            Ok(p.integration)
        );
        assert_eq!(text("composite"), "epsilon-alpha2-beta1");
        assert_eq!(
            text("composite").parse::<CompositeKind>(),
            Ok(p.composite.clone())
        );
        assert_eq!(text("deeplift_rule"), "reveal-cancel");
        assert_eq!(
            text("deeplift_rule").parse::<DeepLiftRule>(),
            Ok(p.deeplift_rule)
        );
        assert_eq!(v["baseline"]["kind"], "constant");
        // Meaningful perturbation's and tabular LIME's options are recorded too.
        let mp = MethodOptions {
            lime_sampling: crate::methods::LimeSampling::AroundInstance,
            iterations: Some(40),
            lambda_l1: 0.3,
            lambda_tv: 0.02,
            mask_size: Some(7),
            reference: MaskReference::Blur(Some(1.5)),
            ..MethodOptions::default()
        };
        let w = serde_json::to_value(MethodParameters::from(&mp)).unwrap();
        assert_eq!(w["lime_sampling"], "around-instance");
        let lime: crate::methods::LimeSampling =
            w["lime_sampling"].as_str().unwrap().parse().unwrap();
        assert_eq!(lime, mp.lime_sampling);
        assert_eq!(
            (w["iterations"].clone(), w["mask_size"].clone()),
            (40.into(), 7.into())
        );
        assert_eq!(
            (w["lambda_l1"].clone(), w["lambda_tv"].clone()),
            (0.3.into(), 0.02.into())
        );
        assert_eq!(w["reference"], "blur:1.5");
        let reference: MaskReference = w["reference"].as_str().unwrap().parse().unwrap();
        assert_eq!(reference, mp.reference);
        assert_eq!(v["baseline"]["value"], 0.5);
        let e = Explanation {
            attributions: Tensor::from_vec(vec![1.0f32, -2.0], &[1, 2]).unwrap(),
            targets: vec![3],
            completeness_gap: Some(vec![0.25]),
            diagnostics: Vec::new(),
        };
        let digest = FileDigest {
            path: "m.json".into(),
            sha256: "0".repeat(64),
        };
        let r = ExplanationReport::new(
            "deeplift",
            &opts,
            &e,
            &e.attributions,
            &[2],
            ModelDigest {
                json: digest.clone(),
                weights: digest,
            },
            Timings::default(),
        )
        .unwrap();
        assert_eq!(r.attributions.shape, vec![1, 2]);
        assert_eq!(r.attributions.values, vec![1.0, -2.0]);
        assert_eq!(r.xai_version, XAI_VERSION);
        assert_eq!(r.targets, vec![3]);
    }
}
