//! Pieces shared by the black-box (perturbation) methods, which need only
//! [`Forward`]: the evaluation of perturbed rows drawn on the host, sent through the model by
//! the chunk engine ([`Chunks`]: chunks of `batch_size` rows, parallel across chunks, results
//! in row order), feature groups
//! ([`FeatureGroups`]: per feature, a `mask` of integer group ids, or `segments` `grid:N |
//! slic:N` superpixels, `methods/segments.rs`), the
//! background of Shapley value functions. The surrogates' least squares are in
//! `methods/least_squares.rs`.

use super::segments::Segmentation;
use crate::attribution::Explanation;
use crate::baseline::Baseline;
use crate::batching::{host_batch, Chunks};
use crate::{PassiveError, Result};
use std::ops::Range;
use xai_nn::Forward;
use xai_tensor::{DType, Tensor};

/// The target logit of each of `rows` perturbed rows: `fill(r, buf)` writes row `r` (one
/// example, `example`'s shape, flat) into `buf`, `target(r)` is its class. The rows go through
/// the chunk engine ([`Chunks::run`]) in chunks of `batch_size`, each drawn on the host by
/// [`chunk_logits`]; the result is in row order.
pub(crate) fn eval_rows<M: Forward + ?Sized>(
    model: &M,
    example: &[usize],
    rows: usize,
    batch_size: usize,
    fill: impl Fn(usize, &mut [f32]) + Sync,
    target: impl Fn(usize) -> usize + Sync,
) -> Result<Vec<f64>> {
    let mut y = Vec::with_capacity(rows);
    Chunks::new(rows, batch_size).run(
        |range| chunk_logits(model, example, range, &fill, &target),
        |_, yc| {
            y.extend(yc);
            Ok(())
        },
    )?;
    Ok(y)
}

/// One chunk of the perturbation methods: rows `rows` drawn on the host (`fill(r, buf)`
/// writes row r's model input, as [`host_batch`]), sent to the model's device and through
/// `model.predict`; the logit of class `target(r)` of each row. Drawing inside the chunk's
/// task keeps the inputs in cache and needs no separate pass; a method that keeps more of each
/// row (LIME's interpretable rows) writes it from `fill` too.
pub(crate) fn chunk_logits<M: Forward + ?Sized>(
    model: &M,
    example: &[usize],
    rows: Range<usize>,
    fill: impl FnMut(usize, &mut [f32]),
    target: impl Fn(usize) -> usize,
) -> Result<Vec<f64>> {
    let batch = host_batch(rows.clone(), example, fill)?;
    let out = model.predict(&batch.to_device(model.device())?)?;
    let classes = out.shape()[1];
    let out = out.to_vec_f64()?;
    Ok(rows
        .enumerate()
        .map(|(q, r)| out[q * classes + target(r)])
        .collect())
}

/// The feature-group parameters of the perturbation methods (flattened into their
/// configurations): a mask of group ids, or superpixels, or (neither) one group per feature.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct FeatureGroups {
    /// Integer group ids with one example's shape (feature j belongs to group `mask[j]`).
    #[serde(with = "crate::config::tensor")]
    pub mask: Option<Tensor>,
    /// Superpixels as groups, all channels together: `grid:N` (an N×N grid over H, W) or
    /// `slic:N[,M]` (about N SLIC superpixels of each image, compactness M).
    pub segments: Option<String>,
}

impl FeatureGroups {
    /// Groups by the mask's ids.
    pub fn mask(mask: Tensor) -> Self {
        Self {
            mask: Some(mask),
            segments: None,
        }
    }

    /// Superpixels by `spec` (`grid:N`, `slic:N[,M]`).
    pub fn segments(spec: &str) -> Self {
        Self {
            mask: None,
            segments: Some(spec.into()),
        }
    }

    /// Checks that at most one of `mask` and `segments` is given and that `segments` parses.
    pub fn validate(&self) -> Result<()> {
        if self.mask.is_some() && self.segments.is_some() {
            return Err(crate::config::bad(
                "segments",
                "cannot be given with a mask (give one of them)",
            ));
        }
        if let Some(s) = &self.segments {
            s.parse::<Segmentation>()?;
        }
        Ok(())
    }
}

/// Interpretable features: `ids[j]` is the group of input feature j (flat index into one
/// example), groups numbered `0..count` in increasing order of the given ids.
#[derive(Clone, Debug)]
pub struct Groups {
    /// Group of each input feature.
    pub ids: Vec<usize>,
    /// Number of groups.
    pub count: usize,
    /// Members of each group.
    pub members: Vec<Vec<usize>>,
}

impl Groups {
    /// Groups from arbitrary integer labels (one per feature), renumbered densely.
    pub fn from_labels(labels: &[i64]) -> Self {
        let mut uniq: Vec<i64> = labels.to_vec();
        uniq.sort_unstable();
        uniq.dedup();
        let ids: Vec<usize> = labels
            .iter()
            .map(|l| uniq.binary_search(l).expect("present"))
            .collect();
        let mut members = vec![Vec::new(); uniq.len()];
        for (j, &g) in ids.iter().enumerate() {
            members[g].push(j);
        }
        Groups {
            ids,
            count: uniq.len(),
            members,
        }
    }

    /// One group per feature.
    pub fn singletons(f: usize) -> Self {
        Groups {
            ids: (0..f).collect(),
            count: f,
            members: (0..f).map(|j| vec![j]).collect(),
        }
    }

    /// The groups of `opts` shared by every example of shape `example`: a mask (integer group
    /// ids of the example's shape), else segments `grid:N` (an N×N grid over the last two
    /// axes, all channels together), else one group per feature. Image-dependent segments
    /// (SLIC) are made per example by `explain_by_groups`.
    pub fn resolve(opts: &FeatureGroups, example: &[usize]) -> Result<Self> {
        let f: usize = example.iter().product();
        if let Some(mask) = &opts.mask {
            if mask.shape() != example {
                return Err(PassiveError::BadArgument(format!(
                    "mask has shape {:?} but the input needs {:?} (one group id per feature)",
                    mask.shape(),
                    example
                )));
            }
            let v = mask.to_vec_f64()?;
            if v.iter().any(|x| !x.is_finite() || x.fract() != 0.0) {
                return Err(PassiveError::BadArgument(
                    "mask must hold integer group ids".into(),
                ));
            }
            let labels: Vec<i64> = v.iter().map(|&x| x as i64).collect();
            return Ok(Self::from_labels(&labels));
        }
        if let Some(seg) = &opts.segments {
            let seg: Segmentation = seg.parse()?;
            if seg.depends_on_image() {
                return Err(PassiveError::BadArgument(
                    "image-dependent segments are made per example (explain_by_groups)".into(),
                ));
            }
            return Ok(Self::from_labels(&seg.labels(&[], example)?));
        }
        Ok(Self::singletons(f))
    }
}

/// Runs `explain(baseline, x, targets, groups)` on each set of examples that shares its
/// feature groups, and joins the explanations (and the per-example extras `T`) in example
/// order: the whole batch at once for a mask, `grid:N` or per-feature groups; each example
/// alone, with its own superpixels and its own row of the resolved baseline, for
/// image-dependent segmentations (SLIC). Every call still sends all of its perturbations
/// through the model in large batches.
pub(crate) fn explain_by_groups<T>(
    opts: &FeatureGroups,
    baseline: &Baseline,
    x: &Tensor,
    targets: &[usize],
    explain: impl Fn(&Baseline, &Tensor, &[usize], &Groups) -> Result<(Explanation, Vec<T>)>,
) -> Result<(Explanation, Vec<T>)> {
    let x = x.to_dtype(DType::F32)?;
    let example = &x.shape()[1..];
    let seg = match (&opts.mask, &opts.segments) {
        (None, Some(s)) => Some(s.parse::<Segmentation>()?),
        _ => None,
    };
    let seg = match seg {
        Some(s) if s.depends_on_image() => s,
        _ => return explain(baseline, &x, targets, &Groups::resolve(opts, example)?),
    };
    let n = x.shape()[0];
    let f: usize = example.iter().product();
    let xv = x.to_vec_f32()?;
    let base = baseline.resolve(&x)?;
    let mut attributions = Vec::with_capacity(n);
    let mut gaps: Option<Vec<f64>> = Some(Vec::with_capacity(n));
    let mut extras = Vec::with_capacity(n);
    for i in 0..n {
        let groups = Groups::from_labels(&seg.labels(&xv[i * f..(i + 1) * f], example)?);
        let bi = Baseline::Tensor(base.narrow(0, i, 1)?);
        let (e, t) = explain(&bi, &x.narrow(0, i, 1)?, &targets[i..i + 1], &groups)?;
        attributions.push(e.attributions);
        gaps = match (gaps, e.completeness_gap) {
            (Some(mut g), Some(gi)) => {
                g.extend(gi);
                Some(g)
            }
            _ => None,
        };
        extras.extend(t);
    }
    let e = Explanation {
        attributions: Tensor::cat(&attributions, 0)?,
        targets: targets.to_vec(),
        completeness_gap: gaps,
        diagnostics: Vec::new(),
    };
    Ok((e, extras))
}

/// The background of the value functions: `baselines` (a distribution `[B, ...]` shared by
/// every example, averaged over as SHAP's interventional value) or the single `baseline` of
/// each example.
pub(crate) struct Background {
    /// Rows per example.
    pub rows: usize,
    /// `[rows·F]` if shared, else `[N·rows·F]`.
    pub values: Vec<f32>,
    /// One background for every example.
    pub shared: bool,
    /// Features per example.
    pub f: usize,
}

impl Background {
    /// The background for the batch `x`: the distribution `baselines` if given, else
    /// `baseline`'s row of each example.
    pub fn resolve(baseline: &Baseline, baselines: Option<&Tensor>, x: &Tensor) -> Result<Self> {
        let example = &x.shape()[1..];
        let f: usize = example.iter().product();
        if let Some(d) = baselines {
            // One baseline, or rows of one example's features (in its shape or flat, as a
            // data set's [B, F] rows for image models).
            let ok = d.shape() == example
                || (d.rank() >= 2 && d.shape()[1..].iter().product::<usize>() == f);
            if !ok {
                return Err(PassiveError::BadArgument(format!(
                    "baselines have shape {:?} but the input needs [B, {}]",
                    d.shape(),
                    example
                        .iter()
                        .map(|d| d.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            let values = d.to_dtype(DType::F32)?.to_vec_f32()?;
            if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
                return Err(PassiveError::BadArgument(
                    "baselines must hold at least one finite baseline".into(),
                ));
            }
            return Ok(Background {
                rows: values.len() / f.max(1),
                values,
                shared: true,
                f,
            });
        }
        let b = baseline.resolve(x)?;
        Ok(Background {
            rows: 1,
            values: b.to_vec_f32()?,
            shared: false,
            f,
        })
    }

    /// Background row `k` of example `i`.
    pub fn row(&self, i: usize, k: usize) -> &[f32] {
        let r = if self.shared { k } else { i * self.rows + k };
        &self.values[r * self.f..(r + 1) * self.f]
    }
}

/// Value function of the Shapley methods for `c` coalitions of every example:
/// v_i(z) = (1/B) Σ_b f_c(z·x_i + (1 − z)·b) over the background rows b, `active(c, g)` saying
/// whether group g is in coalition c. Returns `[N·C]` (example-major); every (example,
/// coalition, background row) is one row of the batch.
#[allow(clippy::too_many_arguments)]
pub(crate) fn coalition_values<M: Forward + ?Sized>(
    model: &M,
    x: &[f32],
    example: &[usize],
    targets: &[usize],
    batch_size: usize,
    groups: &Groups,
    bg: &Background,
    c: usize,
    active: impl Fn(usize, usize) -> bool + Sync,
) -> Result<Vec<f64>> {
    let f = bg.f;
    let nb = bg.rows;
    let n = targets.len();
    let y = eval_rows(
        model,
        example,
        n * c * nb,
        batch_size,
        |r, buf| {
            let (i, ci, k) = (r / (c * nb), (r / nb) % c, r % nb);
            compose(
                buf,
                &x[i * f..(i + 1) * f],
                bg.row(i, k),
                &groups.ids,
                |g| active(ci, g),
            );
        },
        |r| targets[r / (c * nb)],
    )?;
    Ok(y.chunks(nb)
        .map(|v| v.iter().sum::<f64>() / nb as f64)
        .collect())
}

/// Binomial coefficient C(n, k) as f64.
pub(crate) fn binom(n: usize, k: usize) -> f64 {
    let k = k.min(n - k.min(n));
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Spreads per-group values `[N·G]` over the features `[N·F]`.
pub(crate) fn broadcast_groups(phi: &[f64], groups: &Groups, n: usize) -> Vec<f64> {
    let (g, f) = (groups.count, groups.ids.len());
    let mut out = vec![0.0; n * f];
    for i in 0..n {
        for (j, &gid) in groups.ids.iter().enumerate() {
            out[i * f + j] = phi[i * g + gid];
        }
    }
    out
}

/// The explanation of per-group values `phi` `[N·G]`: spread over `x`'s features as f32, with
/// the methods' completeness gap (Σφ − (f(x) − f(baseline))) where they have one.
pub(crate) fn group_explanation(
    phi: &[f64],
    groups: &Groups,
    x: &Tensor,
    targets: &[usize],
    completeness_gap: Option<Vec<f64>>,
) -> Result<Explanation> {
    let a = broadcast_groups(phi, groups, x.shape()[0]);
    Ok(Explanation {
        attributions: Tensor::from_vec(a, x.shape())?.to_dtype(DType::F32)?,
        targets: targets.to_vec(),
        completeness_gap,
        diagnostics: Vec::new(),
    })
}

/// Writes x on the features of the active groups (`active(g)`) and `base` elsewhere.
#[inline]
pub(crate) fn compose(
    buf: &mut [f32],
    x: &[f32],
    base: &[f32],
    ids: &[usize],
    active: impl Fn(usize) -> bool,
) {
    for (j, o) in buf.iter_mut().enumerate() {
        *o = if active(ids[j]) { x[j] } else { base[j] };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomials_and_group_labels() {
        assert_eq!(binom(5, 2), 10.0);
        assert_eq!(binom(20, 10), 184756.0);
        let g = Groups::from_labels(&[7, 3, 7, -1]);
        assert_eq!(g.ids, vec![2, 1, 2, 0]);
        assert_eq!(g.count, 3);
    }
}
