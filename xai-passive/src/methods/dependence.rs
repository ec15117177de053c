//! Partial dependence (Friedman, *Greedy Function Approximation: A Gradient Boosting Machine*,
//! Annals of Statistics 2001) and individual conditional expectation (Goldstein, Kapelner,
//! Bleich & Pitkin, *Peeking Inside the Black Box: Visualizing Statistical Learning with Plots
//! of Individual Conditional Expectation*, JCGS 2015) of a model's target logit on one
//! feature or a pair S, over the rows x_i of a data set:
//!
//! ICE_i(v) = f_c(x_i with x_S := v),  PD(v) = (1/n) Σ_i ICE_i(v),
//!
//! for v on a grid made of each feature's quantiles in the data (levels evenly spaced over
//! [0, 1], linear interpolation, repeated values dropped; the distinct values themselves when
//! there are fewer than grid points, as in scikit-learn's `_grid_from_X`). Unlike
//! scikit-learn's default (`percentiles=(0.05, 0.95)` and a `linspace` between them), the
//! grid spans the data's whole range at its quantiles. The response is the target class's
//! logit, as for every attribution method here (so a linear model has a linear PD with slope
//! w_c,j and parallel ICE curves). These are global explanations returning curves, not
//! per-feature attributions: a type of their own, not an [`Attribution`](crate::Attribution);
//! the registry lists `pdp` and `ice` for discovery and the CLI gives them their own path.
//! Every (row, grid point) input goes through the model in batches. Needs only `Forward`.

use super::perturbation::eval_rows;
use crate::{resolve_targets, PassiveError, Result, Target};
use xai_nn::Forward;
use xai_tensor::{DType, Tensor};

/// The parameters of `pdp` and `ice`: the feature (or pair), grid points per feature, rows
/// per model call.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DependenceConfig {
    /// `I` or `I,J`: flat feature indices into one example (required).
    pub feature: Option<String>,
    /// Grid points per feature, from the data's quantiles (≥ 2).
    pub grid: usize,
    /// Rows per model call.
    pub batch_size: usize,
}

impl Default for DependenceConfig {
    fn default() -> Self {
        Self {
            feature: None,
            grid: 20,
            batch_size: crate::DEFAULT_BATCH_SIZE,
        }
    }
}

impl crate::MethodConfig for DependenceConfig {
    fn validate(&self) -> Result<()> {
        if let Some(f) = &self.feature {
            parse_features(f)?;
        }
        if self.grid < 2 {
            return Err(crate::config::bad(
                "grid",
                format!("must be at least 2, got {}", self.grid),
            ));
        }
        crate::config::at_least_one("batch_size", self.batch_size)
    }
}

impl DependenceConfig {
    /// The feature indices, one or two.
    ///
    /// **Errors** naming `feature` when it is missing or not `I` / `I,J`.
    pub fn features(&self) -> Result<Vec<usize>> {
        match &self.feature {
            Some(f) => parse_features(f),
            None => Err(crate::config::bad(
                "feature",
                "is needed: I or I,J (flat feature indices)",
            )),
        }
    }
}

/// Parses `I` or `I,J`.
fn parse_features(s: &str) -> Result<Vec<usize>> {
    let parts: Option<Vec<usize>> = s.split(',').map(|p| p.trim().parse().ok()).collect();
    match parts {
        Some(v) if (1..=2).contains(&v.len()) => Ok(v),
        _ => Err(crate::config::bad(
            "feature",
            format!("must be I or I,J (feature indices), got '{s}'"),
        )),
    }
}

/// Partial dependence and ICE curves of one feature or a pair.
#[derive(Clone, Debug, PartialEq)]
pub struct Dependence {
    /// The features (flat indices into one example), one or two.
    pub features: Vec<usize>,
    /// The class whose logit is the response.
    pub target: usize,
    /// The grid of each feature.
    pub grid: Vec<Vec<f64>>,
    /// PD over the grid points: `grid[0].len()` values, or `grid[0].len() × grid[1].len()`
    /// row-major for a pair.
    pub pd: Vec<f64>,
    /// One ICE curve (or surface, row-major) per data row.
    pub ice: Vec<Vec<f64>>,
}

impl Dependence {
    /// The JSON document of these curves: response, target, features, grid, pd (a row-major
    /// matrix for a pair) and ice.
    pub fn to_json(&self) -> serde_json::Value {
        let pd = if self.grid.len() == 2 {
            let cols = self.grid[1].len().max(1);
            serde_json::json!(self.pd.chunks(cols).collect::<Vec<_>>())
        } else {
            serde_json::json!(self.pd)
        };
        serde_json::json!({
            "response": "logit",
            "target": self.target,
            "features": self.features,
            "grid": self.grid,
            "pd": pd,
            "ice": self.ice,
        })
    }
}

/// The one class whose logit PD and ICE follow over the rows of `x`: the given class, else
/// the class `model` predicts most often (the smaller on a tie).
///
/// **Errors** if the class is out of range for the model.
pub fn dataset_target<M: Forward + ?Sized>(
    model: &M,
    x: &Tensor,
    target: &Target,
) -> Result<usize> {
    let classes = resolve_targets(model, x, target)?;
    Ok(match target {
        Target::Class(c) => *c,
        _ => {
            let k = classes.iter().max().map_or(0, |c| c + 1);
            let mut counts = vec![0usize; k];
            classes.iter().for_each(|&c| counts[c] += 1);
            (0..k)
                .max_by_key(|&c| (counts[c], std::cmp::Reverse(c)))
                .unwrap_or(0)
        }
    })
}

/// The `q`-quantile of sorted values (linear interpolation, NumPy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, t) = (pos.floor() as usize, pos.fract());
    let j = (i + 1).min(sorted.len() - 1);
    sorted[i] + t * (sorted[j] - sorted[i])
}

/// The grid of feature column `values`: its distinct values if there are fewer than `points`
/// (scikit-learn's rule, `uniques.shape[0] < grid_resolution`), else its quantiles at
/// `points` evenly spaced levels in [0, 1], repeated values dropped.
pub fn quantile_grid(values: &[f64], points: usize) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut distinct = sorted.clone();
    distinct.dedup();
    if distinct.len() < points {
        return distinct;
    }
    let mut g: Vec<f64> = (0..points)
        .map(|k| {
            let q = if points > 1 {
                k as f64 / (points - 1) as f64
            } else {
                0.5
            };
            quantile(&sorted, q)
        })
        .collect();
    g.dedup();
    g
}

/// PD and ICE of `features` (one or two flat feature indices) for the logit of class
/// `target`, over the rows of `x` (`[N, ...]`), with `points` grid points per feature.
pub fn partial_dependence<M: Forward + ?Sized>(
    model: &M,
    x: &Tensor,
    features: &[usize],
    target: usize,
    points: usize,
    batch_size: usize,
) -> Result<Dependence> {
    let x = x.to_dtype(DType::F32)?;
    let n = x.shape()[0];
    let example = x.shape()[1..].to_vec();
    let f: usize = example.iter().product();
    if features.is_empty() || features.len() > 2 {
        return Err(PassiveError::BadArgument(format!(
            "partial dependence takes one feature or a pair, got {}",
            features.len()
        )));
    }
    if let Some(&bad) = features.iter().find(|&&j| j >= f) {
        return Err(PassiveError::BadArgument(format!(
            "feature {bad} is out of range for inputs of {f} features"
        )));
    }
    if features.len() == 2 && features[0] == features[1] {
        return Err(PassiveError::BadArgument(format!(
            "the pair needs two different features, got {0},{0}",
            features[0]
        )));
    }
    if points < 2 {
        return Err(PassiveError::BadArgument(format!(
            "grid must have at least 2 points, got {points}"
        )));
    }
    if n == 0 {
        return Err(PassiveError::BadArgument(
            "partial dependence needs at least one data row".into(),
        ));
    }
    let xv = x.to_vec_f32()?;
    if xv.iter().any(|v| !v.is_finite()) {
        return Err(PassiveError::BadArgument(
            "partial dependence needs finite data".into(),
        ));
    }
    let grid: Vec<Vec<f64>> = features
        .iter()
        .map(|&j| {
            let col: Vec<f64> = xv.iter().skip(j).step_by(f).map(|&v| v as f64).collect();
            quantile_grid(&col, points)
        })
        .collect();
    // Grid points in row-major order over the features' grids.
    let sizes: Vec<usize> = grid.iter().map(Vec::len).collect();
    let g: usize = sizes.iter().product();
    let value = |k: usize, s: usize| {
        let idx = if s == 0 && grid.len() == 2 {
            k / sizes[1]
        } else {
            k % sizes[s]
        };
        grid[s][idx] as f32
    };
    let y = eval_rows(
        model,
        &example,
        n * g,
        batch_size,
        |r, buf| {
            let (i, k) = (r / g, r % g);
            buf.copy_from_slice(&xv[i * f..(i + 1) * f]);
            for (s, &j) in features.iter().enumerate() {
                buf[j] = value(k, s);
            }
        },
        |_| target,
    )?;
    let ice: Vec<Vec<f64>> = y.chunks(g).map(<[f64]>::to_vec).collect();
    let pd: Vec<f64> = (0..g)
        .map(|k| ice.iter().map(|c| c[k]).sum::<f64>() / n as f64)
        .collect();
    Ok(Dependence {
        features: features.to_vec(),
        target,
        grid,
        pd,
        ice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::models::*;
    use xai_nn::layers::ActivationKind;
    use xai_nn::Graph;
    use xai_tensor::Rng;

    #[test]
    fn quantile_grid_follows_numpy() {
        let v = [3.0, 1.0, 2.0, 10.0, 4.0];
        assert_eq!(quantile_grid(&v, 5), vec![1.0, 2.0, 3.0, 4.0, 10.0]);
        assert_eq!(quantile_grid(&v, 3), vec![1.0, 3.0, 10.0]);
        // np.quantile(range(11), [0, .25, .5, .75, 1]).
        let r: Vec<f64> = (0..11).map(f64::from).collect();
        assert_eq!(quantile_grid(&r, 5), vec![0.0, 2.5, 5.0, 7.5, 10.0]);
        // Fewer distinct values than points: those values.
        assert_eq!(quantile_grid(&[0.0, 1.0, 1.0, 0.0], 10), vec![0.0, 1.0]);
        // As many as points: quantiles, as scikit-learn (it needs strictly fewer). Four
        // distinct values among six, four points: levels 0, 1/3, 2/3, 1 of [0, 0, 1, 2, 3, 3].
        let q = quantile_grid(&[0.0, 3.0, 1.0, 0.0, 2.0, 3.0], 4);
        let want = [0.0, 2.0 / 3.0, 7.0 / 3.0, 3.0];
        assert!(
            q.len() == 4 && q.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-12),
            "{q:?}"
        );
    }

    #[test]
    fn a_linear_model_has_linear_pd_with_slope_w_and_parallel_ice() {
        let w = Tensor::from_vec(vec![1.0f32, -2.0, 0.5, 3.0, 0.25, -1.0], &[2, 3]).unwrap();
        let b = Tensor::from_vec(vec![0.1f32, 0.2], &[2]).unwrap();
        let m = Graph::sequential(vec![3], vec![layer("l", linear(w, Some(b)))], None).unwrap();
        let x = randn(&mut Rng::new(1), &[40, 3], 1.0);
        let xv = x.to_vec_f64().unwrap();
        let d = partial_dependence(&m, &x, &[1], 1, 7, 16).unwrap();
        assert_eq!(d.grid[0].len(), 7);
        assert_eq!(d.ice.len(), 40);
        // PD(v) = 0.25·v + mean(3·x0 − x2) + 0.2, exactly (up to f32).
        let rest: f64 = (0..40)
            .map(|i| 3.0 * xv[i * 3] - xv[i * 3 + 2])
            .sum::<f64>()
            / 40.0;
        for (v, pd) in d.grid[0].iter().zip(&d.pd) {
            let want = 0.25 * v + rest + 0.2;
            assert!(
                (pd - want).abs() < 1e-5 * (1.0 + want.abs()),
                "{pd} vs {want}"
            );
        }
        // ICE curves are parallel: each is the PD shifted by a constant.
        for c in &d.ice {
            let shift = c[0] - d.pd[0];
            for (a, p) in c.iter().zip(&d.pd) {
                assert!((a - p - shift).abs() < 1e-5);
            }
        }
        // A pair: the PD surface is additive, PD(u, v) = w₀u + w₂v + const.
        let p = partial_dependence(&m, &x, &[0, 2], 0, 4, 1000).unwrap();
        let (g0, g2) = (&p.grid[0], &p.grid[1]);
        assert_eq!(p.pd.len(), g0.len() * g2.len());
        let c = p.pd[0] - g0[0] - 0.5 * g2[0];
        for (a, u) in g0.iter().enumerate() {
            for (bi, v) in g2.iter().enumerate() {
                let want = u + 0.5 * v + c;
                assert!((p.pd[a * g2.len() + bi] - want).abs() < 1e-5 * (1.0 + want.abs()));
            }
        }
    }

    #[test]
    fn batch_size_does_not_matter_and_bad_values_are_refused() {
        let m = Graph::sequential(
            vec![3],
            vec![
                layer("0", linear(randn(&mut Rng::new(2), &[4, 3], 1.0), None)),
                layer("1", act(ActivationKind::Tanh)),
                layer("2", linear(randn(&mut Rng::new(3), &[2, 4], 1.0), None)),
            ],
            None,
        )
        .unwrap();
        let x = randn(&mut Rng::new(4), &[9, 3], 1.0);
        let a = partial_dependence(&m, &x, &[2], 1, 5, 7).unwrap();
        let b = partial_dependence(&m, &x, &[2], 1, 5, 1000).unwrap();
        for (u, v) in a.pd.iter().zip(&b.pd) {
            assert!((u - v).abs() <= 1e-5 * (1.0 + v.abs()));
        }
        for (args, needle) in [
            (
                (vec![3], 5),
                "feature 3 is out of range for inputs of 3 features",
            ),
            ((vec![0, 0], 5), "two different features"),
            ((vec![0, 1, 2], 5), "one feature or a pair, got 3"),
            ((vec![0], 1), "grid must have at least 2 points, got 1"),
        ] {
            let e = partial_dependence(&m, &x, &args.0, 0, args.1, 8)
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{e}");
        }
    }
}
