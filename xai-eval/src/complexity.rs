//! Complexity of an explanation: how concentrated its relevance is. Both metrics work on
//! |a| of each example, flattened.

use crate::{bad, rows, Result};
use xai_tensor::Tensor;

/// Entropy of the normalised absolute attribution (Samek et al. 2017; Quantus' `Complexity`):
/// p_j = |a_j| / Σ_k |a_k|, H(a) = −Σ_j p_j ln p_j (natural log, 0·ln 0 = 0). Lower is a less
/// complex explanation: 0 for one non-zero feature, ln d for a uniform map. An all-zero map
/// has H = 0.
pub fn entropy(a: &Tensor) -> Result<Vec<f64>> {
    per_example(a, |v| {
        let total: f64 = v.iter().map(|x| x.abs()).sum();
        if total == 0.0 {
            return 0.0;
        }
        -v.iter()
            .map(|x| x.abs() / total)
            .filter(|&p| p > 0.0)
            .map(|p| p * p.ln())
            .sum::<f64>()
    })
}

/// Sparseness as the Gini index of |a| (Chalasani et al., *Concise Explanations of Neural
/// Networks using Adversarial Training*, ICML 2020; Hurley & Rickard 2009): with |a| sorted
/// ascending v_(1) ≤ … ≤ v_(d), G = Σ_i (2i − d − 1) v_(i) / (d Σ_i v_(i)). 0 for a uniform map,
/// (d − 1)/d for one non-zero feature; higher is sparser. An all-zero map has G = 0.
pub fn sparseness(a: &Tensor) -> Result<Vec<f64>> {
    per_example(a, |v| {
        let mut s: Vec<f64> = v.iter().map(|x| x.abs()).collect();
        s.sort_by(f64::total_cmp);
        let d = s.len() as f64;
        let total: f64 = s.iter().sum();
        if total == 0.0 {
            return 0.0;
        }
        s.iter()
            .enumerate()
            .map(|(i, x)| (2.0 * (i + 1) as f64 - d - 1.0) * x)
            .sum::<f64>()
            / (d * total)
    })
}

fn per_example(a: &Tensor, f: impl Fn(&[f64]) -> f64) -> Result<Vec<f64>> {
    if a.rank() < 2 {
        return bad(format!(
            "attributions must be [N, ...], got shape {:?}",
            a.shape()
        ));
    }
    if a.has_non_finite()? {
        return bad("attributions contain NaN or infinite values");
    }
    Ok(rows(a)?.iter().map(|v| f(v)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn entropy_and_gini_by_hand() {
        let a = Tensor::from_slice(
            &[
                1.0, -1.0, 1.0, -1.0, 0.0, 0.0, -5.0, 0.0, 1.0, 1.0, 2.0, 0.0,
            ],
            &[3, 4],
        )
        .unwrap();
        let h = entropy(&a).unwrap();
        assert_abs_diff_eq!(h[0], 4f64.ln(), epsilon = 1e-12);
        assert_abs_diff_eq!(h[1], 0.0, epsilon = 1e-12);
        // p = (1/4, 1/4, 1/2, 0): H = 2·(1/4)ln4 + (1/2)ln2 = 1.5 ln 2.
        assert_abs_diff_eq!(h[2], 1.5 * 2f64.ln(), epsilon = 1e-12);
        let g = sparseness(&a).unwrap();
        assert_abs_diff_eq!(g[0], 0.0, epsilon = 1e-12);
        assert_abs_diff_eq!(g[1], 0.75, epsilon = 1e-12);
        // sorted (0, 1, 1, 2): (−3·0 − 1·1 + 1·1 + 3·2) / (4·4) = 6/16.
        assert_abs_diff_eq!(g[2], 0.375, epsilon = 1e-12);
        let z = Tensor::from_slice(&[0.0, 0.0], &[1, 2]).unwrap();
        assert_eq!(
            (entropy(&z).unwrap()[0], sparseness(&z).unwrap()[0]),
            (0.0, 0.0)
        );
    }
}
