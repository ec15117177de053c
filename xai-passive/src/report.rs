//! The record of one explanation run, serialisable (`xai explain --format json`): the
//! attributions with everything needed to reproduce and audit them — method, its
//! configuration (every parameter with the value used), the classes explained, the input's shape, SHA-256 digests of the
//! model files, timings, the completeness gap Σa − (f(x) − f(baseline)) where the method
//! defines one, and the xai version.

use crate::output::Output;
use serde::Serialize;

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
    /// The input's shape as read (a single example has no batch axis).
    pub input_shape: Vec<usize>,
    /// Digests of the model files.
    pub model: ModelDigest,
    /// Wall-clock seconds of the stages.
    pub timings: Timings,
    /// The explanation, [`Output::to_json`]: its `kind` and its fields, beside the envelope's
    /// (for attribution maps: `targets`, `completeness_gap` — Σa − (f(x) − f(baseline)) per
    /// example where the method has a completeness axiom, else `null` — `diagnostics` and
    /// `attributions`, as the `.npy` output holds them).
    #[serde(flatten)]
    pub explanation: serde_json::Map<String, serde_json::Value>,
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
    /// The report of `explanation` (any kind) by `method` with configuration `parameters`.
    pub fn new(
        method: &str,
        parameters: &serde_json::Value,
        explanation: &Output,
        input_shape: &[usize],
        model: ModelDigest,
        timings: Timings,
    ) -> Self {
        let explanation = match explanation.to_json() {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        Self {
            xai_version: XAI_VERSION.to_string(),
            method: method.to_string(),
            parameters: parameters.clone(),
            input_shape: input_shape.to_vec(),
            model,
            timings,
            explanation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Params;
    use crate::registry;
    use xai_tensor::Tensor;

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
        let e = crate::Explanation {
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
            &Output::Attributions(e),
            &[2],
            ModelDigest {
                json: digest.clone(),
                weights: digest,
            },
            Timings::default(),
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["kind"], "attributions");
        assert_eq!(v["attributions"]["shape"], serde_json::json!([1, 2]));
        assert_eq!(v["attributions"]["values"], serde_json::json!([1.0, -2.0]));
        assert_eq!(v["xai_version"], XAI_VERSION);
        assert_eq!(v["targets"], serde_json::json!([3]));
        assert_eq!(v["completeness_gap"], serde_json::json!([0.25]));
        assert_eq!(v["parameters"]["rule"], "reveal-cancel");
    }
}
