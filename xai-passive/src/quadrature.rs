//! Path integrals of the integrated-gradients family: integration rules (Riemann sums and
//! Gauss–Legendre quadrature, as Captum's `approximation_methods`) and the path integral that
//! sends steps × examples of the straight path from a baseline through a model (by the chunk
//! engine) and sums the weighted gradients.

use crate::batching::{host_batch, Chunks};
use crate::{PassiveError, Result};
use std::ops::Range;
use xai_tensor::Tensor;

/// How the path integral ∫₀¹ g(α) dα of integrated gradients (and its layer/neuron variants)
/// is approximated by Σₖ wₖ g(αₖ). Same nodes and weights as Captum's
/// `captum.attr._utils.approximation_methods`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// **Errors** if `n` is 0 or above [`MAX_STEPS`](crate::config::MAX_STEPS), or 1 for the
    /// trapezoid rule.
    pub fn nodes(self, n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
        crate::config::count_in("steps", n, crate::config::MAX_STEPS)?;
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

/// Rows `rows` of the example-major path layout (row r = example r / S, step r % S):
/// bᵢ + αₖ (xᵢ − bᵢ), with `x`, `b` flat f32 `[N·F]`, built on the host ([`host_batch`]).
pub(crate) fn path_chunk(
    x: &[f32],
    b: &[f32],
    alphas: &[f64],
    rows: Range<usize>,
    example: &[usize],
) -> Result<Tensor> {
    let f: usize = example.iter().product();
    let s = alphas.len();
    host_batch(rows, example, |r, row| {
        let (i, a) = (r / s, alphas[r % s]);
        let (xi, bi) = (&x[i * f..(i + 1) * f], &b[i * f..(i + 1) * f]);
        for (o, (&x, &b)) in row.iter_mut().zip(xi.iter().zip(bi)) {
            *o = (b as f64 + a * (x as f64 - b as f64)) as f32;
        }
    })
}

/// Σₖ wₖ g(bᵢ + αₖ(xᵢ − bᵢ)) for every example i, in f64, flat `[N·G]`: `grad(chunk, rows)`
/// gives the per-row gradient (G values per row) of a chunk of the example-major path batch.
/// All steps of all examples go through the chunk engine ([`Chunks::run`]) in chunks of
/// `batch_size` rows, accumulated in row order.
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
    Chunks::new(n * s, batch_size).run(
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
