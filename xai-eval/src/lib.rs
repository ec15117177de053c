#![warn(missing_docs)]
//! # xai-eval
//!
//! Evaluation of explanations (survey §V): faithfulness (deletion/insertion, pixel flipping
//! AOPC, infidelity, completeness gap: [`faithfulness`]; remove-and-retrain ROAR/KAR:
//! [`roar`]), robustness (max-sensitivity, local Lipschitz estimate: [`robustness`]),
//! complexity (entropy, sparseness: [`complexity`]), sanity checks (cascading and independent
//! model-parameter randomization, data randomization: [`sanity`]; retraining from scratch in
//! [`retrain`]), localisation against ground-truth masks ([`localisation`]), proxy/rule metrics
//! ([`rules`]), and the method league table ranking methods on several of these
//! ([`league`]). Metrics that need explanations of perturbed inputs or models re-run methods
//! of `xai-passive`.
//!
//! Conventions: attributions have the input's shape `[N, ...input_shape]`; a *feature* is one
//! element of one example (for images, one pixel of one channel). Every metric returns one
//! value per example (ROAR/KAR: one accuracy per fraction); [`mean_std`] summarises them. Errors are
//! [`PassiveError`]s (`BadArgument` for inputs that do not fit).
//!
//! ```
//! use xai_eval::complexity::{entropy, sparseness};
//! use xai_tensor::Tensor;
//!
//! // Two attributions of one example each: all mass on one feature, and spread evenly.
//! let a = Tensor::from_slice(&[0.0f32, 0.0, 0.0, 5.0, 1.0, 1.0, 1.0, 1.0], &[2, 4])?;
//! let gini = sparseness(&a)?;
//! assert!((gini[0] - 0.75).abs() < 1e-12 && gini[1].abs() < 1e-12);
//! let h = entropy(&a)?;
//! assert!(h[0].abs() < 1e-12 && (h[1] - 4f64.ln()).abs() < 1e-12);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod complexity;
pub mod faithfulness;
pub mod league;
pub mod localisation;
pub mod plot;
pub mod registry;
pub mod retrain;
pub mod roar;
pub mod robustness;
pub mod rules;
pub mod sanity;

pub use xai_passive::{PassiveError, Result};

/// The README's code, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

use xai_tensor::Tensor;

/// Mean and population standard deviation √(Σ(v − mean)²/n) of `v` (NaN, NaN when empty).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// A `BadArgument` error.
pub(crate) fn bad<T>(msg: impl Into<String>) -> Result<T> {
    Err(PassiveError::BadArgument(msg.into()))
}

/// The rows of `t: [N, ...]` as f64 vectors (one per example).
pub(crate) fn rows(t: &Tensor) -> Result<Vec<Vec<f64>>> {
    let n = t.shape().first().copied().unwrap_or(0);
    let v = t.to_vec_f64()?;
    let d = v.len().checked_div(n).unwrap_or(0);
    Ok((0..n).map(|i| v[i * d..(i + 1) * d].to_vec()).collect())
}

/// Checks that `a` has the shape of `x` (named `what` in the error) and holds no NaN/inf.
pub(crate) fn check_like(x: &Tensor, a: &Tensor, what: &str) -> Result<()> {
    if a.shape() != x.shape() {
        return bad(format!(
            "{what} of shape {:?} do not match the input's shape {:?}",
            a.shape(),
            x.shape()
        ));
    }
    if a.has_non_finite()? {
        return bad(format!("{what} contain NaN or infinite values"));
    }
    Ok(())
}

/// The batch size N of `x: [N, ...]`, checked against one target per example.
pub(crate) fn check_targets(x: &Tensor, targets: &[usize]) -> Result<usize> {
    let Some(&n) = x.shape().first() else {
        return bad("inputs need a batch axis [N, ...], got a scalar");
    };
    if targets.len() != n {
        return bad(format!("{} targets for {n} examples", targets.len()));
    }
    Ok(n)
}

/// Feature indices sorted by `a` descending; ties keep index order (stable sort).
pub(crate) fn order_desc(a: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..a.len()).collect();
    idx.sort_by(|&i, &j| a[j].total_cmp(&a[i]));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_std_and_order() {
        assert_eq!(mean_std(&[1.0, 3.0]), (2.0, 1.0));
        assert_eq!(order_desc(&[1.0, 3.0, 1.0, 2.0]), vec![1, 3, 0, 2]);
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use xai_nn::{file, Graph};

    /// A `[d] → hidden → act → classes` MLP with the weights `file::load_or_init` draws for
    /// `seed`.
    pub fn mlp(d: usize, hidden: usize, act: &str, classes: usize, seed: u64) -> Graph {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        let arch = format!(
            r#"{{"format": "xai-model", "version": 1, "input_shape": [{d}],
            "weights": "w.safetensors",
            "layers": [{{"name": "0", "op": "linear", "in_features": {d}, "out_features": {hidden}}},
                       {{"name": "1", "op": "{act}"}},
                       {{"name": "2", "op": "linear", "in_features": {hidden},
                         "out_features": {classes}}}]}}"#
        );
        std::fs::write(&p, arch).unwrap();
        file::load_or_init(&p, seed).unwrap()
    }
}
