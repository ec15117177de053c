//! Remove and retrain (Hooker, Erhan, Kindermans & Kim, *A Benchmark for Interpretability
//! Methods in Deep Neural Networks*, NeurIPS 2019): ROAR replaces the features an explanation
//! ranks highest by an uninformative value and retrains the model from scratch on the modified
//! data; KAR keeps only those features. Retraining separates "the explanation found the
//! informative features" from "the model breaks on out-of-distribution inputs", which
//! deletion curves cannot.

use crate::retrain::retrain;
use crate::{bad, check_like, order_desc, rows, Result};
use xai_nn::train::{evaluate, TrainConfig};
use xai_nn::{Dataset, Reinitialize};
use xai_tensor::Tensor;

/// The fractions t of [`remove_and_retrain`] when none are given.
pub const DEFAULT_FRACTIONS: [f64; 5] = [0.1, 0.3, 0.5, 0.7, 0.9];

/// Which features are replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    /// RemOve And Retrain: the top-t features are replaced. A good explanation makes the
    /// retrained accuracy drop fast (lower is better).
    Roar,
    /// Keep And Retrain: the t least important features are replaced (the top 1 − t kept),
    /// as in the paper, where both curves are plotted against the fraction replaced. A good
    /// explanation keeps the retrained accuracy high (higher is better).
    Kar,
}

impl Removal {
    /// `roar` or `kar`.
    pub fn name(self) -> &'static str {
        match self {
            Removal::Roar => "roar",
            Removal::Kar => "kar",
        }
    }
}

/// Test accuracy after retraining, per fraction.
#[derive(Clone, Debug)]
pub struct RetrainCurve {
    /// ROAR or KAR.
    pub removal: Removal,
    /// The fractions t, as given.
    pub fractions: Vec<f64>,
    /// Test accuracy of the model retrained on the modified data, per fraction.
    pub accuracy: Vec<f64>,
    /// Test accuracy of the architecture retrained on the unmodified data (ROAR at t = 0).
    pub reference_accuracy: f64,
}

/// Replaces features of every example of `x: [N, ...]` by `fill` (one value per feature of an
/// example): with features sorted by the attribution `a` descending (stable: ties keep index
/// order), with m = round(t·d): the top m for ROAR, the bottom m for KAR.
///
/// **Errors** if `a` does not have `x`'s shape, `fill` has not d values or t is not in [0, 1].
pub fn ablate(
    x: &Tensor,
    a: &Tensor,
    fill: &[f64],
    fraction: f64,
    removal: Removal,
) -> Result<Tensor> {
    check_like(x, a, "attributions")?;
    if !(0.0..=1.0).contains(&fraction) {
        return bad(format!("fractions must be in [0, 1], got {fraction}"));
    }
    let (xs, ats) = (rows(x)?, rows(a)?);
    let d = xs.first().map_or(fill.len(), Vec::len);
    if fill.len() != d {
        return bad(format!("{} fill values for {d} features", fill.len()));
    }
    let m = ((fraction * d as f64).round() as usize).min(d);
    let mut data = Vec::with_capacity(xs.len() * d);
    for (xi, ai) in xs.iter().zip(&ats) {
        let order = order_desc(ai);
        let replaced = match removal {
            Removal::Roar => &order[..m],
            Removal::Kar => &order[d - m..],
        };
        let mut v = xi.clone();
        for &j in replaced {
            v[j] = fill[j];
        }
        data.extend(v.into_iter().map(|f| f as f32));
    }
    Ok(Tensor::from_vec(data, x.shape())?)
}

/// ROAR or KAR (Hooker et al. 2019). For each fraction t, every training and test example has
/// the features ranked by its attribution (`train_attr`, `test_attr`, shaped like the data)
/// replaced ([`ablate`]) by the per-feature mean of the unmodified training inputs; `model`'s
/// architecture is then trained from scratch on the modified training set with the trainer and
/// `cfg` ([`retrain`]: same seed, same settings for every t) and its accuracy on the modified
/// test set recorded. The reference is the same retraining on the unmodified data.
///
/// **Errors** if the attributions do not fit the data, a fraction is outside [0, 1] or
/// training fails.
#[allow(clippy::too_many_arguments)]
pub fn remove_and_retrain<M: Reinitialize>(
    model: &M,
    train: &Dataset,
    test: &Dataset,
    train_attr: &Tensor,
    test_attr: &Tensor,
    fractions: &[f64],
    removal: Removal,
    cfg: &TrainConfig,
) -> Result<RetrainCurve> {
    check_like(&train.x, train_attr, "training attributions")?;
    check_like(&test.x, test_attr, "test attributions")?;
    if test.is_empty() || train.is_empty() {
        return bad("remove-and-retrain needs training and test examples");
    }
    if let Some(t) = fractions.iter().find(|t| !(0.0..=1.0).contains(*t)) {
        return bad(format!("fractions must be in [0, 1], got {t}"));
    }
    let fill = train.x.mean(&[0], false)?.to_vec_f64()?;
    let score = |tr: Dataset, te: &Dataset| -> Result<f64> {
        let m = retrain(model, &tr, cfg)?;
        Ok(evaluate(&m, te)?.0)
    };
    let reference_accuracy = score(train.clone(), test)?;
    let mut accuracy = Vec::with_capacity(fractions.len());
    for &t in fractions {
        let tr = Dataset {
            x: ablate(&train.x, train_attr, &fill, t, removal)?,
            ..train.clone()
        };
        let te = Dataset {
            x: ablate(&test.x, test_attr, &fill, t, removal)?,
            ..test.clone()
        };
        accuracy.push(score(tr, &te)?);
    }
    Ok(RetrainCurve {
        removal,
        fractions: fractions.to_vec(),
        accuracy,
        reference_accuracy,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use xai_nn::data::synthetic::relevant_features;
    use xai_tensor::{DType, Rng};

    #[test]
    fn ablate_by_hand() {
        let x = Tensor::from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &[2, 4]).unwrap();
        let a = Tensor::from_slice(&[0.1, 0.9, 0.5, 0.5, 4.0, 3.0, 2.0, 1.0], &[2, 4]).unwrap();
        let fill = [0.0, -1.0, -2.0, -3.0];
        // Top half: (1, 2) [tie 2 before 3] and (0, 1).
        let r = ablate(&x, &a, &fill, 0.5, Removal::Roar).unwrap();
        assert_eq!(
            r.to_vec_f64().unwrap(),
            [1.0, -1.0, -2.0, 4.0, 0.0, -1.0, 7.0, 8.0]
        );
        let k = ablate(&x, &a, &fill, 0.5, Removal::Kar).unwrap();
        assert_eq!(
            k.to_vec_f64().unwrap(),
            [0.0, 2.0, 3.0, -3.0, 5.0, 6.0, -2.0, -3.0]
        );
        // round(0.3·4) = 1 feature: the most relevant (ROAR), the least relevant (KAR).
        let r = ablate(&x, &a, &fill, 0.3, Removal::Roar).unwrap();
        assert_eq!(
            r.to_vec_f64().unwrap(),
            [1.0, -1.0, 3.0, 4.0, 0.0, 6.0, 7.0, 8.0]
        );
        let k = ablate(&x, &a, &fill, 0.3, Removal::Kar).unwrap();
        assert_eq!(
            k.to_vec_f64().unwrap(),
            [0.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, -3.0]
        );
        assert!(ablate(&x, &a, &fill, 1.5, Removal::Roar).is_err());
        assert!(ablate(&x, &a, &fill[..3], 0.5, Removal::Roar).is_err());
    }

    #[test]
    fn ground_truth_relevance_beats_a_random_ranking() {
        let model = crate::testing::mlp(8, 16, "relu", 2, 0);
        let (data, relevant) = relevant_features(500, 8, 2, 21).unwrap();
        let (train, test) = data.stratified_split(0.3, 1).unwrap();
        let cfg = TrainConfig {
            epochs: 12,
            lr: 0.01,
            ..TrainConfig::default()
        };
        let truth = |n: usize| {
            let row: Vec<f64> = relevant.iter().map(|&r| r as u8 as f64).collect();
            Tensor::from_vec(row.repeat(n), &[n, 8]).unwrap()
        };
        let random = |n: usize, seed| {
            Rng::new(seed)
                .uniform(&[n, 8], 0.0, 1.0, DType::F64)
                .unwrap()
        };
        let run = |a_tr: &Tensor, a_te: &Tensor, removal| {
            // ROAR replaces the top quarter; KAR the bottom three quarters (keeps the top 2).
            let fr = if removal == Removal::Roar {
                [0.25]
            } else {
                [0.75]
            };
            remove_and_retrain(&model, &train, &test, a_tr, a_te, &fr, removal, &cfg).unwrap()
        };
        let (gt_tr, gt_te) = (truth(train.len()), truth(test.len()));
        let (rn_tr, rn_te) = (random(train.len(), 1), random(test.len(), 2));
        let gt = run(&gt_tr, &gt_te, Removal::Roar);
        let rn = run(&rn_tr, &rn_te, Removal::Roar);
        assert!(gt.reference_accuracy > 0.85, "{gt:?}");
        // Both relevant features removed: chance; a random quarter leaves most of the signal.
        assert!(gt.accuracy[0] < 0.65, "{gt:?}");
        assert!(gt.accuracy[0] + 0.1 < rn.accuracy[0], "{gt:?} {rn:?}");
        // KAR keeping the ground truth keeps the accuracy; keeping a random quarter does not.
        let gk = run(&gt_tr, &gt_te, Removal::Kar);
        let rk = run(&rn_tr, &rn_te, Removal::Kar);
        assert!(
            gk.accuracy[0] > 0.85 && gk.accuracy[0] > rk.accuracy[0] + 0.1,
            "{gk:?} {rk:?}"
        );
        assert!(remove_and_retrain(
            &model,
            &train,
            &test,
            &gt_tr,
            &gt_te,
            &[-0.1],
            Removal::Roar,
            &cfg
        )
        .is_err());
        assert!(remove_and_retrain(
            &model,
            &train,
            &test,
            &gt_te,
            &gt_te,
            &[0.25],
            Removal::Roar,
            &cfg
        )
        .is_err());
    }
}
