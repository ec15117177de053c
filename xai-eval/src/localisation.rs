//! Localisation: does the explanation point at the ground-truth region (a binary mask of the
//! input's shape, e.g. the patch masks of `xai_nn::data::synthetic::planted_patch`)? Features
//! are the elements of each example, as everywhere in this crate.

use crate::{bad, check_like, order_desc, rows, Result};
use xai_tensor::Tensor;

/// Relevance mass accuracy (Arras, Osman & Samek, *CLEVR-XAI*, Information Fusion 2022):
/// the share of positive relevance inside the mask, R_in / R_tot = Σ_{j∈GT} max(a_j, 0) /
/// Σ_j max(a_j, 0) (as in the paper, only positive relevance counts). In [0, 1]; 0 when no
/// relevance is positive.
pub fn relevance_mass_accuracy(a: &Tensor, mask: &Tensor) -> Result<Vec<f64>> {
    per_example(a, mask, |a, m| {
        let pos = |j: usize| a[j].max(0.0);
        let total: f64 = (0..a.len()).map(pos).sum();
        if total == 0.0 {
            return 0.0;
        }
        m.iter().map(|&j| pos(j)).sum::<f64>() / total
    })
}

/// Relevance rank accuracy (Arras et al. 2022): with K = |GT| the mask's size, the share of
/// the K highest-relevance features (stable order: ties go to the lower index) that lie in
/// the mask, |top_K ∩ GT| / K. In [0, 1].
pub fn relevance_rank_accuracy(a: &Tensor, mask: &Tensor) -> Result<Vec<f64>> {
    per_example(a, mask, |a, m| {
        let top = order_desc(a);
        let inside = top[..m.len()]
            .iter()
            .filter(|j| m.binary_search(j).is_ok())
            .count();
        inside as f64 / m.len() as f64
    })
}

/// Pointing game (Zhang et al., *Top-down Neural Attention by Excitation Backprop*, IJCV
/// 2018): 1 if the feature of maximal attribution (the first, on ties) lies in the mask, else
/// 0; the mean over examples is the accuracy. No tolerance margin (the paper allows 15 px on
/// full-size images).
pub fn pointing_game(a: &Tensor, mask: &Tensor) -> Result<Vec<f64>> {
    per_example(a, mask, |a, m| {
        let top = order_desc(a)[0];
        m.binary_search(&top).is_ok() as u8 as f64
    })
}

/// Runs `f(attribution, sorted indices inside the mask)` per example, after checking that the
/// mask has the attribution's shape, is binary and is not empty for any example.
fn per_example(a: &Tensor, mask: &Tensor, f: impl Fn(&[f64], &[usize]) -> f64) -> Result<Vec<f64>> {
    check_like(mask, a, "attributions")?;
    if a.rank() < 2 {
        return bad(format!(
            "attributions must be [N, ...], got shape {:?}",
            a.shape()
        ));
    }
    let (av, mv) = (rows(a)?, rows(mask)?);
    let mut out = Vec::with_capacity(av.len());
    for (i, (a, m)) in av.iter().zip(&mv).enumerate() {
        if m.iter().any(|&v| v != 0.0 && v != 1.0) {
            return bad("the mask must hold only 0 and 1");
        }
        let inside: Vec<usize> = (0..m.len()).filter(|&j| m[j] == 1.0).collect();
        if inside.is_empty() {
            return bad(format!("the mask of example {i} is empty"));
        }
        out.push(f(a, &inside));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localisation_metrics_by_hand() {
        let a =
            Tensor::from_slice(&[3.0, -1.0, 1.0, 0.0, 2.0, 2.0, 0.5, 4.0], &[2, 1, 2, 2]).unwrap();
        let m =
            Tensor::from_slice(&[1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0], &[2, 1, 2, 2]).unwrap();
        // Example 0: positive mass 3 + 1 = 4, inside 3 → 0.75; top-2 = {0, 2}, 1 inside → 0.5;
        // max at 0 → hit. Example 1: mass 8.5, inside 2 → 2/8.5; top-1 = {3} → 0; max 3 → miss.
        assert_eq!(
            relevance_mass_accuracy(&a, &m).unwrap(),
            vec![0.75, 2.0 / 8.5]
        );
        assert_eq!(relevance_rank_accuracy(&a, &m).unwrap(), vec![0.5, 0.0]);
        assert_eq!(pointing_game(&a, &m).unwrap(), vec![1.0, 0.0]);
        let empty = Tensor::zeros(&[2, 1, 2, 2], xai_tensor::DType::F64);
        assert!(pointing_game(&a, &empty)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(pointing_game(&a, &a)
            .unwrap_err()
            .to_string()
            .contains("0 and 1"));
    }

    #[test]
    fn a_map_equal_to_the_planted_patch_scores_one() {
        let (_, mask) = xai_nn::data::synthetic::planted_patch(6, 3, 10, 3, 1).unwrap();
        for f in [
            relevance_mass_accuracy,
            relevance_rank_accuracy,
            pointing_game,
        ] {
            assert!(f(&mask, &mask).unwrap().iter().all(|&v| v == 1.0));
        }
    }
}
