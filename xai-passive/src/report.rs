//! The record of one explanation run, serialisable (`xai explain --format json`): the
//! attributions with everything needed to reproduce and audit them — method, its
//! configuration (every parameter with the value used), the classes explained, the input's shape, SHA-256 digests of the
//! model files, timings, the completeness gap Σa − (f(x) − f(baseline)) where the method
//! defines one, and the xai version.

use crate::Explanation;
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
    /// The method's configuration: every parameter with the value used (tensors by their
    /// shape), as [`BoxedMethod::config`](crate::registry::BoxedMethod::config) gives it.
    pub parameters: serde_json::Value,
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

impl ExplanationReport {
    /// The report of `explanation` by `method` with configuration `parameters`;
    /// `attributions` is the array as written out (possibly reshaped from
    /// `explanation.attributions`).
    pub fn new(
        method: &str,
        parameters: &serde_json::Value,
        explanation: &Explanation,
        attributions: &Tensor,
        input_shape: &[usize],
        model: ModelDigest,
        timings: Timings,
    ) -> crate::Result<Self> {
        Ok(Self {
            xai_version: XAI_VERSION.to_string(),
            method: method.to_string(),
            parameters: parameters.clone(),
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
    use crate::config::Params;
    use crate::registry;

    #[test]
    fn the_report_records_the_configuration_with_enums_spelled_as_parameters() {
        let p = Params::default()
            .with("baseline", "constant:0.5")
            .with("integration", "riemann-trapezoid")
            .with("steps", 7);
        let ig = registry::build("integrated-gradients", &p).unwrap();
        let c = ig.config();
        assert_eq!(c["baseline"], "constant:0.5");
        assert_eq!(c["integration"], "riemann-trapezoid");
        assert_eq!(
            (c["steps"].clone(), c["batch_size"].clone()),
            (7.into(), 256.into())
        );
        // Every configuration reads back as the same configuration.
        let again = registry::build(
            "integrated-gradients",
            &Params {
                values: c.as_object().unwrap().clone(),
                ..Params::default()
            },
        )
        .unwrap();
        assert_eq!(again.config(), c);
        let mask = Tensor::zeros(&[1, 4, 4], xai_tensor::DType::F32);
        let lime = registry::build(
            "lime",
            &Params::default()
                .with_tensor("mask", mask)
                .with("lime_sampling", "on-off"),
        )
        .unwrap();
        assert_eq!(lime.config()["mask"]["shape"], serde_json::json!([1, 4, 4]));
        assert_eq!(lime.config()["lime_sampling"], "on-off");
        let mp = registry::build(
            "meaningful-perturbation",
            &Params::default().with("reference", "blur:1.5"),
        )
        .unwrap();
        assert_eq!(mp.config()["reference"], "blur:1.5");
        let lrp = registry::build(
            "lrp",
            &Params::default().with("composite", "epsilon-alpha2-beta1"),
        )
        .unwrap();
        assert_eq!(lrp.config()["composite"], "epsilon-alpha2-beta1");
        let dl =
            registry::build("deeplift", &Params::default().with("rule", "reveal-cancel")).unwrap();
        assert_eq!(dl.config()["rule"], "reveal-cancel");
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
            dl.config(),
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
        assert_eq!(r.parameters["rule"], "reveal-cancel");
    }
}
