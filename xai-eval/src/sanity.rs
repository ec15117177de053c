//! Sanity checks for saliency maps (Adebayo et al., *Sanity Checks for Saliency Maps*,
//! NeurIPS 2018): cascading model-parameter randomization. The parameterised layers are
//! re-initialised one at a time from the top (output) layer down, the explanation is
//! recomputed after each step and compared with the original one. An explanation that stays
//! similar while the model is destroyed does not explain the model. Independent randomization
//! ([`independent_randomization`]) re-initialises one layer at a time instead; data
//! randomization ([`data_randomization`]) retrains the model on permuted labels.

use crate::plot::{line_chart, Image, LineChart, Series};
use crate::{bad, mean_std, rows, Result};
use serde_json::{json, Value};
use std::path::Path;
use xai_autodiff::Var;
use xai_nn::train::TrainConfig;
use xai_nn::{Dataset, Layered, Reinitialize, Trainable};
use xai_passive::Attribution;
use xai_tensor::{Rng, Tensor};

/// Similarities of the explanations after one randomization step with the original ones,
/// per example.
#[derive(Clone, Debug)]
pub struct SanityRow {
    /// `original` for the unchanged model, else the last layer randomized (its model-file
    /// name); every layer above it is randomized too.
    pub layer: String,
    /// Spearman rank correlation of a and a_orig ([`spearman`]).
    pub spearman: Vec<f64>,
    /// Spearman rank correlation of |a| and |a_orig|.
    pub spearman_abs: Vec<f64>,
    /// SSIM of the min–max normalised 2-D maps ([`ssim`]).
    pub ssim: Vec<f64>,
}

/// The similarity-vs-layer table of a cascading randomization: the first row is the original
/// model (similarity 1), then one row per parameterised layer, top to bottom.
#[derive(Clone, Debug)]
pub struct SanityReport {
    /// Method name.
    pub method: String,
    /// Cascading (each step keeps the layers above randomized) or independent (one layer at a
    /// time, the others trained).
    pub mode: Randomization,
    /// Rows in randomization order.
    pub rows: Vec<SanityRow>,
}

/// How the layers are randomized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Randomization {
    /// From the top down, accumulating ([`cascading_randomization`]).
    Cascading,
    /// One layer at a time ([`independent_randomization`]).
    Independent,
}

/// The parameters of layer `layer`: those named `layer.SUFFIX` (the state-dict names).
fn layer_params<'a>(params: Vec<(String, &'a mut Var)>, layer: &str) -> Vec<(String, &'a mut Var)> {
    params
        .into_iter()
        .filter(|(n, _)| n.rsplit_once('.').is_some_and(|(l, _)| l == layer))
        .collect()
}

/// Re-initialises every parameter of layer `layer` (by name) in place, as PyTorch initialises
/// a fresh layer: U(−b, b) with b = 1/√fan_in, fan_in = `weight.numel / weight.shape[0]`
/// (Linear and Conv2d weights and biases; batch-norm scale and shift get fan_in = 1). Returns
/// whether the layer has parameters.
pub fn randomize_layer(model: &mut dyn Trainable, layer: &str, rng: &mut Rng) -> Result<bool> {
    let mut params = layer_params(model.parameters_mut(), layer);
    if params.is_empty() {
        return Ok(false);
    }
    let fan_in = params
        .iter()
        .find(|(n, _)| n.ends_with(".weight"))
        .map(|(_, v)| {
            let s = v.value().shape();
            if s.len() > 1 {
                s[1..].iter().product::<usize>()
            } else {
                1
            }
        })
        .unwrap_or(1)
        .max(1);
    let bound = 1.0 / (fan_in as f64).sqrt();
    for (_, v) in params.iter_mut() {
        let shape = v.value().shape().to_vec();
        let dtype = v.value().dtype();
        **v = Var::leaf(rng.uniform(&shape, -bound, bound, dtype)?);
    }
    Ok(true)
}

/// The parameters' values by name, to put back with [`restore`].
fn snapshot(model: &dyn Trainable) -> Vec<(String, Var)> {
    model
        .parameters()
        .into_iter()
        .map(|(n, v)| (n, v.clone()))
        .collect()
}

fn restore(model: &mut dyn Trainable, saved: &[(String, Var)]) {
    for (n, p) in model.parameters_mut() {
        if let Some((_, v)) = saved.iter().find(|(s, _)| *s == n) {
            *p = v.clone();
        }
    }
}

/// A model whose layers can be explained and re-initialised by name.
pub trait Randomizable: Layered + Trainable + 'static {
    /// Itself as a layered model.
    fn as_layered(&self) -> &(dyn Layered + 'static);
}

impl<M: Layered + Trainable + 'static> Randomizable for M {
    fn as_layered(&self) -> &(dyn Layered + 'static) {
        self
    }
}

/// `method`'s attributions of `x` on `model` (the randomization tests re-run it on altered
/// copies of the model).
fn attribute_with(
    method: &dyn Attribution<dyn Layered>,
    model: &dyn Randomizable,
    x: &Tensor,
    targets: &[usize],
) -> Result<Tensor> {
    Ok(method
        .attribute(model.as_layered(), x, targets)?
        .attributions)
}

/// Cascading randomization (Adebayo et al. 2018, §3.1): explains `x` for `targets` with the
/// model as given, then re-initialises the parameterised layers from the top down
/// ([`randomize_layer`], seeded by `seed`), explaining again after each and comparing with the
/// original explanation by Spearman rank correlation (with and without absolute values) and
/// SSIM. The model's trained parameters are restored at the end: it is given back unchanged.
///
/// **Errors** if the model has no parameterised layer or the method fails.
pub fn cascading_randomization<M: Randomizable>(
    model: &mut M,
    method: &dyn Attribution<dyn Layered>,
    x: &Tensor,
    targets: &[usize],
    seed: u64,
) -> Result<SanityReport> {
    let saved = snapshot(model);
    let cascade = |model: &mut M| -> Result<Vec<SanityRow>> {
        let a0 = attribute_with(method, model, x, targets)?;
        let compare = |layer: String, a: &Tensor| similarity(layer, &a0, a);
        let mut out = vec![compare("original".into(), &a0)?];
        let mut rng = Rng::new(seed);
        for name in model.layer_names().into_iter().rev() {
            if randomize_layer(model, &name, &mut rng)? {
                let a = attribute_with(method, model, x, targets)?;
                out.push(compare(name, &a)?);
            }
        }
        Ok(out)
    };
    let out = cascade(model);
    restore(model, &saved);
    let out = out?;
    if out.len() == 1 {
        return bad("the model has no parameterised layer to randomize");
    }
    Ok(SanityReport {
        method: method.name().into(),
        mode: Randomization::Cascading,
        rows: out,
    })
}

/// Independent randomization (Adebayo et al. 2018, §3.1): each parameterised layer, from the
/// top down, is re-initialised alone ([`randomize_layer`], seeded by `seed`) while every other
/// layer keeps its trained weights; the explanation of `x` is recomputed and compared with the
/// original one as in [`cascading_randomization`]. Row `layer` names the one layer randomized.
/// The model is restored after each step and given back unchanged.
///
/// **Errors** if the model has no parameterised layer or the method fails.
pub fn independent_randomization<M: Randomizable>(
    model: &mut M,
    method: &dyn Attribution<dyn Layered>,
    x: &Tensor,
    targets: &[usize],
    seed: u64,
) -> Result<SanityReport> {
    let a0 = attribute_with(method, model, x, targets)?;
    let mut out = vec![similarity("original".into(), &a0, &a0)?];
    let mut rng = Rng::new(seed);
    let saved = snapshot(model);
    for name in model.layer_names().into_iter().rev() {
        if !randomize_layer(model, &name, &mut rng)? {
            continue;
        }
        let a = attribute_with(method, model, x, targets);
        restore(model, &saved);
        out.push(similarity(name, &a0, &a?)?);
    }
    if out.len() == 1 {
        return bad("the model has no parameterised layer to randomize");
    }
    Ok(SanityReport {
        method: method.name().into(),
        mode: Randomization::Independent,
        rows: out,
    })
}

/// Similarity of two explanations `a`, `b` of the same batch `[N, ...]`, per example: Spearman
/// rank correlation of a and b and of |a| and |b| ([`spearman`]) and SSIM of the min–max
/// normalised 2-D maps (summed over channels). All three are 1 for identical explanations.
///
/// **Errors** if the shapes differ.
pub fn similarity(label: String, a: &Tensor, b: &Tensor) -> Result<SanityRow> {
    if a.shape() != b.shape() || a.rank() < 2 {
        return bad(format!(
            "explanations of shapes {:?} and {:?} cannot be compared",
            a.shape(),
            b.shape()
        ));
    }
    let shape = a.shape()[1..].to_vec();
    let (orig, cur) = (rows(a)?, rows(b)?);
    let abs = |v: &[f64]| v.iter().map(|x| x.abs()).collect::<Vec<_>>();
    Ok(SanityRow {
        layer: label,
        spearman: orig.iter().zip(&cur).map(|(p, q)| spearman(p, q)).collect(),
        spearman_abs: orig
            .iter()
            .zip(&cur)
            .map(|(p, q)| spearman(&abs(p), &abs(q)))
            .collect(),
        ssim: orig
            .iter()
            .zip(&cur)
            .map(|(p, q)| ssim_map(p, q, &shape))
            .collect(),
    })
}

/// Result of the data randomization test.
#[derive(Clone, Debug)]
pub struct DataRandomization {
    /// Method name.
    pub method: String,
    /// Accuracy of the random-label model on its own (shuffled) training labels: how much it
    /// memorised.
    pub random_label_train_accuracy: f64,
    /// Similarity of the random-label model's explanations with the original model's
    /// (`layer` is `random labels`).
    pub similarity: SanityRow,
}

/// Data randomization test (Adebayo et al. 2018, §3.2): the labels of `train_data` are randomly
/// permuted (Philox, `seed`), `model`'s architecture is trained from scratch on them with the
/// trainer and `cfg` ([`retrain`](crate::retrain::retrain)), and the explanations of `x` for
/// `targets` by the original and the random-label model are compared ([`similarity`]). An
/// explanation that stays similar does not depend on the relation between inputs and labels
/// that the model learnt. Lower similarity is better.
///
/// **Errors** if training or the method fails.
#[allow(clippy::too_many_arguments)]
pub fn data_randomization<M: Reinitialize + Randomizable>(
    model: &M,
    train_data: &Dataset,
    cfg: &TrainConfig,
    method: &dyn Attribution<dyn Layered>,
    x: &Tensor,
    targets: &[usize],
    seed: u64,
) -> Result<DataRandomization> {
    let perm = Rng::new(seed).permutation(train_data.len());
    let shuffled = Dataset {
        y: perm.iter().map(|&i| train_data.y[i]).collect(),
        ..train_data.clone()
    };
    let random = crate::retrain::retrain(model, &shuffled, cfg)?;
    let (accuracy, _) = xai_nn::train::evaluate(&random, &shuffled)?;
    let explain = |m: &M| attribute_with(method, m, x, targets);
    let (a0, a1) = (explain(model)?, explain(&random)?);
    Ok(DataRandomization {
        method: method.name().into(),
        random_label_train_accuracy: accuracy,
        similarity: similarity("random labels".into(), &a0, &a1)?,
    })
}

/// Ranks 1..=n with ties given their average rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&i, &j| v[i].total_cmp(&v[j]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        return 0.0;
    }
    cov / (va * vb).sqrt()
}

/// Spearman rank correlation: the Pearson correlation of the ranks (ties get their average
/// rank, as `scipy.stats.spearmanr`), ρ = cov(r_a, r_b) / (σ(r_a) σ(r_b)). 0 when either
/// input is constant (scipy gives NaN).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    pearson(&ranks(a), &ranks(b))
}

/// SSIM (Wang et al. 2004) of two 2-D maps `[h, w]` (row-major) with skimage's
/// `structural_similarity` defaults: 7×7 uniform window (smaller and odd when the map is
/// smaller), sample covariances (N/(N − 1)), K1 = 0.01, K2 = 0.03, the given data range L;
/// the mean of
/// S = (2μ_aμ_b + C1)(2σ_ab + C2) / ((μ_a² + μ_b² + C1)(σ_a² + σ_b² + C2)), C_i = (K_i L)²,
/// over the windows that lie inside the map (skimage crops the (win − 1)/2 border). Maps
/// thinner than 3 pixels use one global window.
pub fn ssim(a: &[f64], b: &[f64], h: usize, w: usize, data_range: f64) -> f64 {
    let (c1, c2) = ((0.01 * data_range).powi(2), (0.03 * data_range).powi(2));
    let (wh, ww) = if h.min(w) < 3 {
        (h, w)
    } else {
        let win = 7.min(h).min(w);
        let win = if win % 2 == 0 { win - 1 } else { win };
        (win, win)
    };
    let np = (wh * ww) as f64;
    let cov_norm = if np > 1.0 { np / (np - 1.0) } else { 1.0 };
    let mut total = 0.0;
    let mut count = 0usize;
    for r0 in 0..=h - wh {
        for q0 in 0..=w - ww {
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for r in r0..r0 + wh {
                for q in q0..q0 + ww {
                    let (x, y) = (a[r * w + q], b[r * w + q]);
                    sa += x;
                    sb += y;
                    saa += x * x;
                    sbb += y * y;
                    sab += x * y;
                }
            }
            let (ma, mb) = (sa / np, sb / np);
            let va = cov_norm * (saa / np - ma * ma);
            let vb = cov_norm * (sbb / np - mb * mb);
            let vab = cov_norm * (sab / np - ma * mb);
            total += ((2.0 * ma * mb + c1) * (2.0 * vab + c2))
                / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            count += 1;
        }
    }
    total / count as f64
}

/// SSIM of two explanations of one example of shape `shape`: summed over every axis but the
/// last two (channels) to a 2-D map (`[1, d]` for a flat example), each map min–max
/// normalised to [0, 1] (a constant map becomes 0), then [`ssim`] with L = 1.
fn ssim_map(a: &[f64], b: &[f64], shape: &[usize]) -> f64 {
    let (h, w) = match shape.len() {
        0 | 1 => (1, a.len()),
        n => (shape[n - 2], shape[n - 1]),
    };
    let plane = |v: &[f64]| {
        let mut p = vec![0.0; h * w];
        for (i, x) in v.iter().enumerate() {
            p[i % (h * w)] += x;
        }
        let (lo, hi) = p
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, u), &x| {
                (l.min(x), u.max(x))
            });
        if hi > lo {
            p.iter_mut().for_each(|x| *x = (*x - lo) / (hi - lo));
        } else {
            p.iter_mut().for_each(|x| *x = 0.0);
        }
        p
    };
    ssim(&plane(a), &plane(b), h, w, 1.0)
}

impl SanityReport {
    /// Mean over examples of (Spearman, Spearman of |·|, SSIM), one triple per row.
    pub fn means(&self) -> Vec<[f64; 3]> {
        self.rows
            .iter()
            .map(|r| {
                [
                    mean_std(&r.spearman).0,
                    mean_std(&r.spearman_abs).0,
                    mean_std(&r.ssim).0,
                ]
            })
            .collect()
    }

    /// The table as markdown: one row per randomization step, mean ± std over examples.
    pub fn markdown(&self) -> String {
        let (mode, column) = match self.mode {
            Randomization::Cascading => ("Cascading", "randomized down to"),
            Randomization::Independent => ("Independent", "layer randomized"),
        };
        let mut s = format!(
            "{mode} randomization of `{}` (Adebayo et al. 2018), top layer first; mean ± std over examples.\n\n\
             | step | {column} | Spearman | Spearman abs | SSIM |\n| --- | --- | --- | --- | --- |\n",
            self.method
        );
        for (i, r) in self.rows.iter().enumerate() {
            let f = |v: &[f64]| {
                let (m, sd) = mean_std(v);
                format!("{m:.4} ± {sd:.4}")
            };
            s += &format!(
                "| {i} | {} | {} | {} | {} |\n",
                r.layer,
                f(&r.spearman),
                f(&r.spearman_abs),
                f(&r.ssim)
            );
        }
        s + "\nPlot (`sanity.png`): x = step; blue Spearman, orange Spearman abs, green SSIM; y from −1 to 1.\n"
    }

    /// The table as JSON: `{"method", "mode", "rows": [{"layer", "spearman", "spearman_abs", "ssim",
    /// "mean": {...}}]}` with per-example values.
    pub fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .zip(self.means())
            .map(|(r, m)| {
                json!({"layer": r.layer, "spearman": r.spearman, "spearman_abs": r.spearman_abs,
                       "ssim": r.ssim,
                       "mean": {"spearman": m[0], "spearman_abs": m[1], "ssim": m[2]}})
            })
            .collect();
        let mode = match self.mode {
            Randomization::Cascading => "cascading",
            Randomization::Independent => "independent",
        };
        json!({"method": self.method, "mode": mode, "rows": rows})
    }

    /// Similarity-vs-step line chart: x = randomization step, labelled with the layer
    /// randomized down to; one line per measure (Spearman, Spearman abs, SSIM: blue, orange,
    /// green, with a legend); y from −1 to 1.
    pub fn plot(&self) -> std::io::Result<Image> {
        let m = self.means();
        let names = ["Spearman", "Spearman abs", "SSIM"];
        line_chart(&LineChart {
            title: format!("cascading randomization of {}", self.method),
            x_label: "randomized down to layer".into(),
            y_label: "similarity to the original map".into(),
            series: (0..3)
                .map(|k| Series::indexed(names[k], &m.iter().map(|r| r[k]).collect::<Vec<_>>()))
                .collect(),
            y_range: Some((-1.0, 1.0)),
            x_ticks: self.rows.iter().map(|r| r.layer.clone()).collect(),
            size: (640, 400),
        })
    }

    /// Writes `sanity.md`, `sanity.json` and `sanity.png` into `dir` (created if missing), each
    /// atomically (temporary file, then rename).
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json =
            serde_json::to_string_pretty(&self.json()).map_err(std::io::Error::other)? + "\n";
        for (name, text) in [("sanity.md", self.markdown()), ("sanity.json", json)] {
            xai_tensor::write_atomic(&dir.join(name), text.as_bytes())
                .map_err(std::io::Error::other)?;
        }
        self.plot()?.save(&dir.join("sanity.png"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_abs_diff_eq;

    #[test]
    fn spearman_by_hand() {
        assert_abs_diff_eq!(
            spearman(&[1.0, 2.0, 3.0, 4.0], &[4.0, 3.0, 2.0, 1.0]),
            -1.0,
            epsilon = 1e-12
        );
        assert_abs_diff_eq!(
            spearman(&[1.0, 5.0, 9.0, 10.0], &[0.1, 0.2, 0.3, 7.0]),
            1.0,
            epsilon = 1e-12
        );
        // Ranks (1, 2.5, 2.5, 4) vs (1, 2, 3, 4): 4.5/√(4.5·5).
        assert_abs_diff_eq!(
            spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]),
            4.5 / (22.5f64).sqrt(),
            epsilon = 1e-12
        );
        assert_eq!(spearman(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn ssim_by_hand() {
        // One global window over 2×2: means ½, sample variances ⅓, covariance 0:
        // S = C2 / (2/3 + C2).
        let c2 = 0.03f64.powi(2);
        assert_abs_diff_eq!(
            ssim(&[0.0, 0.0, 1.0, 1.0], &[0.0, 1.0, 0.0, 1.0], 2, 2, 1.0),
            c2 / (2.0 / 3.0 + c2),
            epsilon = 1e-12
        );
        let v: Vec<f64> = (0..64).map(|i| ((i * 37) % 11) as f64 / 10.0).collect();
        assert_abs_diff_eq!(ssim(&v, &v, 8, 8, 1.0), 1.0, epsilon = 1e-12);
        let neg: Vec<f64> = v.iter().map(|x| 1.0 - x).collect();
        assert!(ssim(&v, &neg, 8, 8, 1.0) < 0.0);
        assert_abs_diff_eq!(
            ssim_map(
                &v,
                &v.iter().map(|x| 3.0 * x + 1.0).collect::<Vec<_>>(),
                &[1, 8, 8]
            ),
            1.0,
            epsilon = 1e-12
        );
    }
}

#[cfg(test)]
mod randomize_tests {
    use super::*;
    use xai_nn::layers::{Activation, ActivationKind, Linear};
    use xai_nn::{Graph, Node};
    use xai_tensor::DType;

    #[test]
    fn randomize_layer_reinitialises_like_pytorch_and_skips_parameterless_layers() {
        let w = Tensor::full(&[3, 16], 9.0, DType::F32);
        let b = Tensor::full(&[3], 9.0, DType::F32);
        let mut m = Graph::sequential(
            vec![16],
            vec![
                Node::new(
                    "0",
                    Box::new(Linear {
                        weight: Var::leaf(w),
                        bias: Some(Var::leaf(b)),
                    }),
                ),
                Node::new("1", Box::new(Activation::new(ActivationKind::Relu))),
            ],
            None,
        )
        .unwrap();
        let mut rng = Rng::new(1);
        assert!(!randomize_layer(&mut m, "1", &mut rng).unwrap());
        assert!(randomize_layer(&mut m, "0", &mut rng).unwrap());
        assert!(!randomize_layer(&mut m, "2", &mut rng).unwrap());
        // fan_in 16: U(−1/4, 1/4) for weight and bias.
        for (name, p) in m.named_params() {
            let v = p.value().to_vec_f64().unwrap();
            assert!(v.iter().all(|x| x.abs() <= 0.25), "{name}: {v:?}");
            assert!(v.iter().any(|x| *x != v[0]), "{name}");
        }
    }
}

#[cfg(test)]
mod data_and_independent_randomization_tests {
    use super::*;
    use xai_nn::data::synthetic::relevant_features;
    use xai_nn::{Forward, Graph};
    use xai_passive::methods::Saliency;

    #[test]
    fn identical_explanations_have_similarity_one() {
        let a = Tensor::from_slice(&[0.3, -1.0, 2.0, 0.5, 1.0, 0.0, -0.2, 4.0], &[2, 4]).unwrap();
        let r = similarity("same".into(), &a, &a).unwrap();
        for v in [&r.spearman, &r.spearman_abs, &r.ssim] {
            assert!(v.iter().all(|s| (s - 1.0).abs() < 1e-12), "{r:?}");
        }
        let neg = a.mul_scalar(-1.0).unwrap();
        let r = similarity("neg".into(), &a, &neg).unwrap();
        assert!(r.spearman.iter().all(|s| (s + 1.0).abs() < 1e-12), "{r:?}");
        assert!(r.spearman_abs.iter().all(|s| (s - 1.0).abs() < 1e-12));
        assert!(similarity("x".into(), &a, &a.reshape(&[1, 8]).unwrap()).is_err());
    }

    #[test]
    fn a_model_trained_on_shuffled_labels_explains_differently() {
        let (data, _) = relevant_features(300, 6, 2, 11).unwrap();
        let cfg = TrainConfig {
            epochs: 15,
            lr: 0.01,
            ..TrainConfig::default()
        };
        let model = crate::retrain::retrain(&crate::testing::mlp(6, 16, "tanh", 2, 0), &data, &cfg)
            .unwrap();
        assert!(xai_nn::train::evaluate(&model, &data).unwrap().0 > 0.9);
        let x = data.x.narrow(0, 0, 24).unwrap();
        let targets = model.predict(&x).unwrap().argmax(1).unwrap();
        let sal = Saliency::default();
        let r = data_randomization(&model, &data, &cfg, &sal, &x, &targets, 3).unwrap();
        assert_eq!(r.similarity.spearman.len(), 24);
        assert!((0.0..=1.0).contains(&r.random_label_train_accuracy));
        // The trained model's gradient points at features 0 and 1, whatever the input; the
        // random-label model's does not.
        let m = |v: &[f64]| mean_std(v).0;
        let (s, sa) = (m(&r.similarity.spearman), m(&r.similarity.spearman_abs));
        assert!(s < 0.5 && sa < 0.5, "spearman {s}, abs {sa}");
    }

    #[test]
    fn both_randomizations_restore_the_model_and_start_alike() {
        let (data, _) = relevant_features(40, 6, 2, 1).unwrap();
        let x = data.x.narrow(0, 0, 5).unwrap();
        let sal = Saliency::default();
        let mut model = crate::testing::mlp(6, 16, "tanh", 2, 0);
        let params = |m: &Graph| -> Vec<Vec<f32>> {
            m.named_params()
                .iter()
                .map(|(_, v)| v.value().to_vec_f32().unwrap())
                .collect()
        };
        let before = params(&model);
        let ind = independent_randomization(&mut model, &sal, &x, &[0; 5], 9).unwrap();
        assert_eq!(before, params(&model));
        let layers: Vec<&str> = ind.rows.iter().map(|r| r.layer.as_str()).collect();
        assert_eq!(layers, ["original", "2", "0"]);
        let cas = cascading_randomization(&mut model, &sal, &x, &[0; 5], 9).unwrap();
        assert_eq!(
            before,
            params(&model),
            "the cascade gives the model back unchanged"
        );
        // Step 1 randomizes the top layer alone in both.
        assert_eq!(ind.rows[1].spearman, cas.rows[1].spearman);
        // Saliency of a tanh MLP through a random first layer only: Spearman ≠ the cascade's.
        assert_ne!(ind.rows[2].spearman, cas.rows[2].spearman);
        assert!(ind
            .markdown()
            .starts_with("Independent randomization of `saliency`"));
        assert_eq!(ind.json()["mode"], "independent");
    }
}
