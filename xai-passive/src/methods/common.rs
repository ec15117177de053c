//! Pieces shared by the gradient-family methods: integration rules (Riemann sums and
//! Gauss–Legendre quadrature, as Captum's `approximation_methods`), baselines, the chunked
//! parallel engine that sends steps × examples rows through a model, and gradients of an
//! output logit or a hidden unit with respect to the input or any layer.

use crate::{PassiveError, Result};
use rayon::prelude::*;
use std::ops::Range;
use xai_autodiff::{enable_grad, grad_tensors, no_grad, RecordingContext, Var};
use xai_nn::{Forward, Layered};
use xai_tensor::{DType, Tensor};

/// How the path integral ∫₀¹ g(α) dα of integrated gradients (and its layer/neuron variants)
/// is approximated by Σₖ wₖ g(αₖ). Same nodes and weights as Captum's
/// `captum.attr._utils.approximation_methods`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Integration {
    /// Gauss–Legendre quadrature: the nodes xₖ and weights vₖ of
    /// `numpy.polynomial.legendre.leggauss(n)` mapped to [0, 1]: αₖ = (xₖ + 1)/2, wₖ = vₖ/2.
    /// Exact for polynomials of degree ≤ 2n − 1.
    #[default]
    GaussLegendre,
    /// αₖ = k/n, k = 0..n−1; wₖ = 1/n.
    RiemannLeft,
    /// αₖ = (k+1)/n; wₖ = 1/n.
    RiemannRight,
    /// αₖ = (k + ½)/n; wₖ = 1/n.
    RiemannMiddle,
    /// αₖ = k/(n−1), k = 0..n−1; wₖ = 1/n with the two end weights halved (Captum's
    /// definition: the weights sum to (n−1)/n, not 1). Needs n ≥ 2.
    RiemannTrapezoid,
}

impl std::str::FromStr for Integration {
    type Err = String;
    /// `gauss-legendre`, `riemann-left`, `riemann-right`, `riemann-middle`,
    /// `riemann-trapezoid` (Captum's underscore spellings and `gausslegendre` are accepted).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s.replace('_', "-").as_str() {
            "gauss-legendre" | "gausslegendre" => Integration::GaussLegendre,
            "riemann-left" => Integration::RiemannLeft,
            "riemann-right" => Integration::RiemannRight,
            "riemann-middle" => Integration::RiemannMiddle,
            "riemann-trapezoid" => Integration::RiemannTrapezoid,
            _ => {
                return Err(format!(
                    "unknown integration '{s}' (known: gauss-legendre, riemann-left, \
                     riemann-right, riemann-middle, riemann-trapezoid)"
                ))
            }
        })
    }
}

impl Integration {
    /// The nodes αₖ ∈ [0, 1] and weights wₖ of an `n`-point rule.
    ///
    /// **Errors** if `n` is 0, or 1 for the trapezoid rule.
    pub fn nodes(self, n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
        if n == 0 {
            return Err(PassiveError::BadArgument(
                "steps must be at least 1, got 0".into(),
            ));
        }
        let nf = n as f64;
        let even = vec![1.0 / nf; n];
        Ok(match self {
            Integration::GaussLegendre => {
                let (x, w) = gauss_legendre(n);
                (
                    x.iter().map(|x| (x + 1.0) / 2.0).collect(),
                    w.iter().map(|w| w / 2.0).collect(),
                )
            }
            Integration::RiemannLeft => ((0..n).map(|k| k as f64 / nf).collect(), even),
            Integration::RiemannRight => ((0..n).map(|k| (k + 1) as f64 / nf).collect(), even),
            Integration::RiemannMiddle => ((0..n).map(|k| (k as f64 + 0.5) / nf).collect(), even),
            Integration::RiemannTrapezoid => {
                if n < 2 {
                    return Err(PassiveError::BadArgument(
                        "riemann-trapezoid needs at least 2 steps, got 1".into(),
                    ));
                }
                let mut w = even;
                w[0] /= 2.0;
                w[n - 1] /= 2.0;
                ((0..n).map(|k| k as f64 / (nf - 1.0)).collect(), w)
            }
        })
    }
}

/// Gauss–Legendre nodes (ascending, in [−1, 1]) and weights of order `n`: Newton iteration on
/// the Legendre polynomial Pₙ (three-term recurrence) from Tricomi's initial guesses, weights
/// 2/((1 − x²) Pₙ′(x)²), all in f64 (the same values as NumPy's `leggauss`, to ~1e-15).
pub fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    // Pₙ(x) and Pₙ′(x).
    let legendre = |x: f64| {
        let (mut p0, mut p1) = (1.0, x);
        for k in 2..=n {
            let k = k as f64;
            let p2 = ((2.0 * k - 1.0) * x * p1 - (k - 1.0) * p0) / k;
            p0 = p1;
            p1 = p2;
        }
        let p = if n == 0 { 1.0 } else { p1 };
        let pm1 = if n <= 1 { 1.0 } else { p0 };
        let dp = n as f64 * (x * p - pm1) / (x * x - 1.0);
        (p, dp)
    };
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    let nf = n as f64;
    for i in 0..n.div_ceil(2) {
        // Largest roots first.
        let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (nf + 0.5)).cos();
        for _ in 0..100 {
            let (p, dp) = legendre(z);
            let dz = p / dp;
            z -= dz;
            if dz.abs() < 1e-16 {
                break;
            }
        }
        let (_, dp) = legendre(z);
        let wi = 2.0 / ((1.0 - z * z) * dp * dp);
        x[n - 1 - i] = z;
        x[i] = -z;
        w[n - 1 - i] = wi;
        w[i] = wi;
    }
    if n % 2 == 1 {
        x[n / 2] = 0.0;
    }
    (x, w)
}

/// The reference input of path methods (integrated gradients and its layer/neuron variants).
#[derive(Clone, Debug, Default)]
pub enum Baseline {
    /// All zeros (the default).
    #[default]
    Zeros,
    /// Every feature equal to this value.
    Constant(f64),
    /// The per-feature mean over the explained input batch (one baseline shared by every
    /// example; not a Captum option).
    Mean,
    /// Given values: one baseline `[...input_shape]` shared by every example, or one per
    /// example `[N, ...input_shape]` (`--baseline FILE.npy`).
    Tensor(Tensor),
}

impl std::str::FromStr for Baseline {
    type Err = String;
    /// `zeros`, `mean` or `constant:V` (files are read by the caller into
    /// [`Baseline::Tensor`]).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "zeros" | "zero" => Ok(Baseline::Zeros),
            "mean" => Ok(Baseline::Mean),
            _ => match s.strip_prefix("constant:").map(str::parse::<f64>) {
                Some(Ok(v)) if v.is_finite() => Ok(Baseline::Constant(v)),
                _ => Err(format!(
                    "baseline must be zeros, mean, constant:V or a .npy file, got '{s}'"
                )),
            },
        }
    }
}

impl Baseline {
    /// The baseline of each example of `x: [N, ...]`, as an f32 tensor of `x`'s shape on
    /// `x`'s device.
    ///
    /// **Errors** if a given tensor has neither the shape of one example nor of the batch, or
    /// holds NaN/inf.
    pub fn resolve(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.resolve_on_host(x)?.to_device(x.device())?)
    }

    /// [`Baseline::resolve`] on the CPU.
    fn resolve_on_host(&self, x: &Tensor) -> Result<Tensor> {
        let shape = x.shape();
        let n = shape[0];
        let f = x.numel() / n.max(1);
        match self {
            Baseline::Zeros => Ok(Tensor::zeros(shape, DType::F32)),
            Baseline::Constant(v) => Ok(Tensor::full(shape, *v, DType::F32)),
            Baseline::Mean => {
                let v = x.to_vec_f64()?;
                let mut m = vec![0.0f64; f];
                for row in v.chunks(f) {
                    for (a, b) in m.iter_mut().zip(row) {
                        *a += b;
                    }
                }
                let m: Vec<f32> = m.iter().map(|s| (s / n as f64) as f32).collect();
                let rows: Vec<f32> = (0..n).flat_map(|_| m.iter().copied()).collect();
                Ok(Tensor::from_vec(rows, shape)?)
            }
            Baseline::Tensor(b) => {
                let b = b.to_dtype(DType::F32)?;
                if b.has_non_finite()? {
                    return Err(PassiveError::BadArgument(
                        "baseline contains NaN or infinite values".into(),
                    ));
                }
                if b.shape() == shape {
                    Ok(b)
                } else if b.shape() == &shape[1..] {
                    let mut one = vec![1];
                    one.extend(&shape[1..]);
                    Ok(b.reshape(&one)?.broadcast_to(shape)?.mul_scalar(1.0)?)
                } else {
                    Err(PassiveError::BadArgument(format!(
                        "baseline has shape {:?} but the input needs {:?} (one baseline) or \
                         {:?} (one per example)",
                        b.shape(),
                        &shape[1..],
                        shape
                    )))
                }
            }
        }
    }
}

/// Runs `work` on the row ranges `0..rows` in chunks of `batch_size`, in parallel waves of
/// [`WAVE_PER_THREAD`] chunks per rayon thread, and hands each result to `consume` in row
/// order (so accumulations are deterministic and only one wave of results is held at a time).
/// Chunks per rayon thread in one wave of [`run_rows`]: each wave ends in a barrier (threads
/// park and wake), so a wave should hold several chunks per thread; results of one wave are
/// held at once.
const WAVE_PER_THREAD: usize = 8;

pub(crate) fn run_rows<T: Send>(
    rows: usize,
    batch_size: usize,
    work: impl Fn(Range<usize>) -> Result<T> + Sync,
    mut consume: impl FnMut(Range<usize>, T) -> Result<()>,
) -> Result<()> {
    let bs = batch_size.max(1);
    let chunks: Vec<Range<usize>> = (0..rows)
        .step_by(bs)
        .map(|s| s..(s + bs).min(rows))
        .collect();
    let wave = rayon::current_num_threads().max(1) * WAVE_PER_THREAD;
    // Each chunk runs under the caller's grad mode and scope, whichever worker takes it.
    let ctx = RecordingContext::current();
    for group in chunks.chunks(wave) {
        let results: Vec<T> = if group.len() == 1 {
            vec![work(group[0].clone())?]
        } else {
            group
                .par_iter()
                .map(|r| ctx.enter(|| work(r.clone())))
                .collect::<Result<_>>()?
        };
        for (r, t) in group.iter().zip(results) {
            consume(r.clone(), t)?;
        }
    }
    Ok(())
}

/// Shape `[rows, ...example]`.
pub(crate) fn batch_shape(rows: usize, example: &[usize]) -> Vec<usize> {
    let mut s = vec![rows];
    s.extend(example);
    s
}

/// Rows `rows` of the example-major path layout (row r = example r / S, step r % S):
/// bᵢ + αₖ (xᵢ − bᵢ), with `x`, `b` flat f32 `[N·F]`.
pub(crate) fn path_chunk(
    x: &[f32],
    b: &[f32],
    alphas: &[f64],
    rows: Range<usize>,
    example: &[usize],
) -> Result<Tensor> {
    let f: usize = example.iter().product();
    let s = alphas.len();
    let mut v = Vec::with_capacity(rows.len() * f);
    for r in rows.clone() {
        let (i, a) = (r / s, alphas[r % s]);
        let (xi, bi) = (&x[i * f..(i + 1) * f], &b[i * f..(i + 1) * f]);
        v.extend(
            xi.iter()
                .zip(bi)
                .map(|(&x, &b)| (b as f64 + a * (x as f64 - b as f64)) as f32),
        );
    }
    Ok(Tensor::from_vec(v, &batch_shape(rows.len(), example))?)
}

/// Σₖ wₖ g(bᵢ + αₖ(xᵢ − bᵢ)) for every example i, in f64, flat `[N·G]`: `grad(chunk, rows)`
/// gives the per-row gradient (G values per row) of a chunk of the example-major path batch.
/// All steps of all examples go through the model in chunks of `batch_size` rows.
pub(crate) fn integrate_path(
    x: &Tensor,
    b: &Tensor,
    alphas: &[f64],
    weights: &[f64],
    batch_size: usize,
    grad: impl Fn(&Tensor, Range<usize>) -> Result<Tensor> + Sync,
) -> Result<(Vec<f64>, usize)> {
    let n = x.shape()[0];
    let example = x.shape()[1..].to_vec();
    let (xv, bv) = (x.to_vec_f32()?, b.to_vec_f32()?);
    let s = alphas.len();
    let mut acc: Vec<f64> = Vec::new();
    let mut g_size = 0;
    run_rows(
        n * s,
        batch_size,
        |rows| {
            // Built on the host, run where x lives.
            let chunk =
                path_chunk(&xv, &bv, alphas, rows.clone(), &example)?.to_device(x.device())?;
            Ok(grad(&chunk, rows)?.to_vec_f32()?)
        },
        |rows, g| {
            let gs = g.len() / rows.len().max(1);
            if acc.is_empty() {
                g_size = gs;
                acc = vec![0.0; n * gs];
            }
            for (r, gr) in rows.zip(g.chunks(gs)) {
                let (i, w) = (r / s, weights[r % s]);
                for (a, &v) in acc[i * gs..(i + 1) * gs].iter_mut().zip(gr) {
                    *a += w * v as f64;
                }
            }
            Ok(())
        },
    )?;
    Ok((acc, g_size))
}

/// What a gradient is taken of, per row.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Objective<'a> {
    /// The logit `targets[row]` of the model output.
    Logit(&'a [usize]),
    /// Element `index` of layer `layer`'s flattened per-example output (a hidden unit).
    Neuron { layer: usize, index: usize },
}

/// The gradient of the objective (summed over rows) with respect to the input (`wrt` `None`)
/// or layer `wrt`'s output, and that layer's activation. Only the part of the graph between
/// the requested variable and the objective is differentiated (no parameter gradients).
pub(crate) fn layer_gradient<M: Layered + ?Sized>(
    model: &M,
    x: &Tensor,
    objective: Objective,
    wrt: Option<usize>,
) -> Result<(Tensor, Option<Tensor>)> {
    enable_grad(|| {
        let input = Var::leaf(x.clone());
        let outs = model.forward_trace(&input)?;
        let y = match objective {
            Objective::Logit(t) => {
                let out = outs.last().expect("a model has at least one layer");
                out.gather(1, &index_column(t, out.value().dtype())?)?
            }
            Objective::Neuron { layer, index } => {
                outs[layer].flatten_from(1)?.narrow(1, index, 1)?
            }
        };
        let y = y.sum_all()?;
        match wrt {
            None => Ok((grad_tensors(&y, None, &[&input], None)?.remove(0), None)),
            Some(l) => {
                let a = &outs[l];
                let g = grad_tensors(&y, None, &[a], None)?.remove(0);
                Ok((g, Some(a.value().clone())))
            }
        }
    })
}

/// `[R, 1]` column of class indices for `gather`.
pub(crate) fn index_column(t: &[usize], dtype: DType) -> Result<Tensor> {
    Ok(Tensor::from_vec(
        t.iter().map(|&c| c as f32).collect::<Vec<_>>(),
        &[t.len(), 1],
    )?
    .to_dtype(dtype)?)
}

/// fₜ(x) per example (logit of each example's target), with nothing recorded.
pub(crate) fn target_logits<M: Forward + ?Sized>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    batch_size: usize,
) -> Result<Vec<f64>> {
    let out = crate::map_batches(x, batch_size, |c, _| Ok(model.predict(c)?))?;
    let k = out.shape()[1];
    let v = out.to_vec_f64()?;
    Ok(targets
        .iter()
        .enumerate()
        .map(|(i, &t)| v[i * k + t])
        .collect())
}

/// Every layer's output for `x`, with nothing recorded.
pub(crate) fn trace_values<M: Layered + ?Sized>(model: &M, x: &Tensor) -> Result<Vec<Tensor>> {
    let outs = no_grad(|| model.forward_trace(&Var::constant(x.clone())))?;
    Ok(outs.into_iter().map(|v| v.value().clone()).collect())
}

/// Index of the layer called `name`, or a one-line error listing the layers.
pub(crate) fn resolve_layer<M: Layered + ?Sized>(model: &M, name: &str) -> Result<usize> {
    let names = model.layer_names();
    names.iter().position(|n| n == name).ok_or_else(|| {
        PassiveError::BadArgument(format!(
            "unknown layer '{name}' (layers: {})",
            names.join(", ")
        ))
    })
}

/// The layer named by `--layer`, required by layer methods.
pub(crate) fn required_layer<M: Layered + ?Sized>(
    model: &M,
    layer: &Option<String>,
    method: &str,
) -> Result<usize> {
    match layer {
        Some(name) => resolve_layer(model, name),
        None => Err(PassiveError::BadArgument(format!(
            "{method} needs --layer NAME (layers: {})",
            model.layer_names().join(", ")
        ))),
    }
}

/// Parses `--neuron LAYER:INDEX` (flat index into one example's layer output) and checks it
/// against the model.
pub(crate) fn resolve_neuron<M: Layered + ?Sized>(
    model: &M,
    x: &Tensor,
    spec: &Option<String>,
    method: &str,
) -> Result<(usize, usize)> {
    let Some(spec) = spec else {
        return Err(PassiveError::BadArgument(format!(
            "{method} needs --neuron LAYER:INDEX"
        )));
    };
    let bad = || {
        PassiveError::BadArgument(format!(
            "--neuron must be LAYER:INDEX (flat index into one example's layer output), got '{spec}'"
        ))
    };
    let (name, index) = spec.rsplit_once(':').ok_or_else(bad)?;
    let index: usize = index.parse().map_err(|_| bad())?;
    let layer = resolve_layer(model, name)?;
    let shapes = trace_values(model, &x.narrow(0, 0, 1)?)?;
    let size = shapes[layer].numel();
    if index >= size {
        return Err(PassiveError::BadArgument(format!(
            "neuron index {index} is out of range for layer '{name}' with {size} units per example (shape {:?})",
            &shapes[layer].shape()[1..]
        )));
    }
    Ok((layer, index))
}

/// Relative L2 distance ‖a − b‖/‖b‖ (tests).
#[cfg(test)]
pub(crate) fn rel_l2(a: &Tensor, b: &Tensor) -> f64 {
    let (a, b) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
    assert_eq!(a.len(), b.len());
    let num: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den.max(1e-300)).sqrt()
}

/// Small models built in Rust for the methods' tests.
#[cfg(test)]
pub(crate) mod testing {
    use xai_autodiff::Var;
    use xai_nn::layers::{Activation, ActivationKind, Conv2d, Flatten, Linear};
    use xai_nn::{Module, NamedLayer, Sequential};
    use xai_tensor::{Conv2dParams, DType, Rng, Tensor};

    pub fn layer(name: &str, layer: Box<dyn Module>) -> NamedLayer {
        NamedLayer {
            name: name.into(),
            layer,
        }
    }

    pub fn randn(rng: &mut Rng, shape: &[usize], std: f64) -> Tensor {
        rng.normal(shape, 0.0, std, DType::F32).unwrap()
    }

    pub fn linear(w: Tensor, b: Option<Tensor>) -> Box<dyn Module> {
        Box::new(Linear {
            weight: Var::leaf(w),
            bias: b.map(Var::leaf),
        })
    }

    pub fn act(k: ActivationKind) -> Box<dyn Module> {
        Box::new(Activation::new(k))
    }

    /// 6 → 16 → tanh → 16 → relu → 3.
    pub fn mlp(seed: u64) -> Sequential {
        mlp_with(seed, ActivationKind::Relu)
    }

    /// 6 → 16 → tanh → 16 → softplus → 3: smooth, so quadrature errors are small.
    pub fn smooth_mlp(seed: u64) -> Sequential {
        mlp_with(seed, ActivationKind::Softplus)
    }

    fn mlp_with(seed: u64, second: ActivationKind) -> Sequential {
        let mut r = Rng::new(seed);
        Sequential::new(
            vec![6],
            vec![
                layer(
                    "0",
                    linear(
                        randn(&mut r, &[16, 6], 0.5),
                        Some(randn(&mut r, &[16], 0.1)),
                    ),
                ),
                layer("1", act(ActivationKind::Tanh)),
                layer(
                    "2",
                    linear(
                        randn(&mut r, &[16, 16], 0.4),
                        Some(randn(&mut r, &[16], 0.1)),
                    ),
                ),
                layer("3", act(second)),
                layer(
                    "4",
                    linear(randn(&mut r, &[3, 16], 0.5), Some(randn(&mut r, &[3], 0.1))),
                ),
            ],
            None,
        )
        .unwrap()
    }

    /// conv(2→4, 3×3, pad 1) → relu → flatten → linear(4·5·5 → 3) on [2, 5, 5] inputs.
    pub fn cnn(seed: u64) -> Sequential {
        let mut r = Rng::new(seed);
        let conv = Conv2d {
            weight: Var::leaf(randn(&mut r, &[4, 2, 3, 3], 0.4)),
            bias: Some(Var::leaf(randn(&mut r, &[4], 0.1))),
            params: Conv2dParams {
                stride: [1, 1],
                padding: [1, 1],
                dilation: [1, 1],
            },
        };
        Sequential::new(
            vec![2, 5, 5],
            vec![
                layer("conv", Box::new(conv)),
                layer("relu", act(ActivationKind::Relu)),
                layer("flat", Box::new(Flatten)),
                layer("fc", linear(randn(&mut r, &[3, 100], 0.2), None)),
            ],
            None,
        )
        .unwrap()
    }
}
