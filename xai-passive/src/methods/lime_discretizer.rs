//! lime's `QuartileDiscretizer` (Ribeiro et al. 2016; the `lime` package's default for
//! `LimeTabularExplainer`). Each continuous feature is cut at its training quartiles,
//! q = unique(percentile(column, [25, 50, 75])) with numpy's linear interpolation. A value v
//! falls in bin b = #{q_i < v} (`np.searchsorted`, side left). Each bin keeps the training
//! frequency, the mean and population standard deviation (+10⁻¹¹) of its members, and its
//! bounds: [min, q₀], [q₀, q₁], …, [q_last, max].
//!
//! Sampling as lime's `__data_inverse`: a bin is drawn from the training frequencies and a
//! value from the normal N(mean_b, std_b²) truncated to the bin's bounds (lime:
//! `scipy.stats.truncnorm`). Here by inversion: each bin tabulates the quantile function of
//! its truncated normal at 256 + 1 points (the CDF integrated by the trapezoid rule on 16384
//! steps of at most 18σ/16384 in the standardized interval, clipped at ±9σ), and a draw
//! interpolates linearly between them: one random word per value, no rejection loop, tables
//! small enough to stay in cache. The interpolation moves quantiles by about 10⁻⁵σ (tests
//! check 10⁻⁴σ against the normal's known quantiles), far below the sampling error of
//! thousands of samples. A bin whose bounds coincide gives its bound (lime returns the standardized bound
//! there, a bug this does not copy).

use crate::{PassiveError, Result};
use rand_xoshiro::rand_core::RngCore;

/// Quantile-table intervals per bin.
const QUANTILES: usize = 256;
/// Trapezoid steps of the CDF per bin.
const CDF_STEPS: usize = 16384;

/// One feature's bins.
#[derive(Clone, Debug)]
pub(crate) struct FeatureBins {
    /// Sorted, distinct cut points.
    cuts: Vec<f64>,
    /// Cumulative training frequency of bins 0..=b.
    cumulative: Vec<f64>,
    // lime's per-bin statistics; sampling reads them through `quantiles`, the tests directly.
    #[cfg_attr(not(test), allow(dead_code))]
    mean: Vec<f64>,
    #[cfg_attr(not(test), allow(dead_code))]
    std: Vec<f64>,
    #[cfg_attr(not(test), allow(dead_code))]
    lo: Vec<f64>,
    #[cfg_attr(not(test), allow(dead_code))]
    hi: Vec<f64>,
    /// Per bin, the truncated normal's quantiles at k/QUANTILES, k = 0..=QUANTILES.
    quantiles: Vec<Vec<f32>>,
}

/// Quantiles of N(mean, std²) truncated to [lo, hi] at k/QUANTILES (see the module docs).
fn truncated_normal_quantiles(mean: f64, std: f64, lo: f64, hi: f64) -> Vec<f32> {
    let (za, zb) = (((lo - mean) / std).max(-9.0), ((hi - mean) / std).min(9.0));
    // `za >= zb` also holds for NaN bounds.
    if lo >= hi || za >= zb || za.is_nan() || zb.is_nan() {
        return vec![mean.clamp(lo.min(hi), hi.max(lo)) as f32; QUANTILES + 1];
    }
    let h = (zb - za) / CDF_STEPS as f64;
    let density = |i: usize| (-0.5 * (za + i as f64 * h).powi(2)).exp();
    let mut cdf = Vec::with_capacity(CDF_STEPS + 1);
    cdf.push(0.0);
    for i in 0..CDF_STEPS {
        let last = cdf[i];
        cdf.push(last + 0.5 * h * (density(i) + density(i + 1)));
    }
    let total = cdf[CDF_STEPS];
    let mut out = Vec::with_capacity(QUANTILES + 1);
    let mut i = 0;
    for k in 0..=QUANTILES {
        let p = k as f64 / QUANTILES as f64 * total;
        while i + 1 < CDF_STEPS && cdf[i + 1] < p {
            i += 1;
        }
        let step = cdf[i + 1] - cdf[i];
        let frac = if step > 0.0 {
            ((p - cdf[i]) / step).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let z = za + (i as f64 + frac) * h;
        out.push((mean + std * z).clamp(lo, hi) as f32);
    }
    out
}

/// numpy's `percentile(sorted, p)` with linear interpolation.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let pos = p / 100.0 * (sorted.len() - 1) as f64;
    let i = pos.floor() as usize;
    let frac = pos - i as f64;
    match sorted.get(i + 1) {
        Some(next) => sorted[i] + frac * (next - sorted[i]),
        None => sorted[i],
    }
}

impl FeatureBins {
    /// Bins of one training column (finite values, at least one).
    pub(crate) fn fit(column: &[f64]) -> Self {
        let mut sorted = column.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mut cuts: Vec<f64> = [25.0, 50.0, 75.0]
            .iter()
            .map(|&p| percentile(&sorted, p))
            .collect();
        cuts.dedup();
        let bins = cuts.len() + 1;
        let mut members = vec![Vec::new(); bins];
        for &v in column {
            members[bin_of(&cuts, v)].push(v);
        }
        let mut cumulative = Vec::with_capacity(bins);
        let (mut mean, mut std) = (Vec::with_capacity(bins), Vec::with_capacity(bins));
        let mut total = 0.0;
        for m in &members {
            total += m.len() as f64 / column.len() as f64;
            cumulative.push(total);
            let mu = if m.is_empty() {
                0.0
            } else {
                m.iter().sum::<f64>() / m.len() as f64
            };
            let var = if m.is_empty() {
                0.0
            } else {
                m.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / m.len() as f64
            };
            mean.push(mu);
            std.push(var.sqrt() + 1e-11);
        }
        let (min, max) = (sorted[0], sorted[sorted.len() - 1]);
        let lo: Vec<f64> = std::iter::once(min).chain(cuts.iter().copied()).collect();
        let hi: Vec<f64> = cuts.iter().copied().chain(std::iter::once(max)).collect();
        let quantiles = (0..bins)
            .map(|b| truncated_normal_quantiles(mean[b], std[b], lo[b], hi[b]))
            .collect();
        FeatureBins {
            cuts,
            cumulative,
            mean,
            std,
            lo,
            hi,
            quantiles,
        }
    }

    /// The bin of value `v`.
    pub(crate) fn bin(&self, v: f64) -> usize {
        bin_of(&self.cuts, v)
    }

    /// A bin drawn from the training frequencies and a value drawn in it, from one random
    /// word: its high half picks the bin, its low half the quantile.
    pub(crate) fn sample(&self, rng: &mut impl RngCore) -> (usize, f64) {
        let w = rng.next_u64();
        let u = (w >> 32) as f64 / 4_294_967_296.0;
        let last = self.cumulative.len() - 1;
        let b = self.cumulative[..last].iter().filter(|&&c| c <= u).count();
        let t = (w & 0xffff_ffff) as f64 / 4_294_967_296.0 * QUANTILES as f64;
        let (i, frac) = (t as usize, t.fract());
        let q = &self.quantiles[b];
        let v = q[i] as f64 + frac * (q[i + 1] as f64 - q[i] as f64);
        (b, v)
    }
}

fn bin_of(cuts: &[f64], v: f64) -> usize {
    cuts.partition_point(|&q| q < v)
}

/// Bins of every column of `rows × d` row-major training data.
pub(crate) fn fit_all(data: &[f64], d: usize) -> Result<Vec<FeatureBins>> {
    if d == 0 || data.is_empty() || !data.len().is_multiple_of(d) {
        return Err(PassiveError::BadArgument(
            "lime's quartile discretizer needs at least one training row".into(),
        ));
    }
    Ok((0..d)
        .map(|j| {
            let column: Vec<f64> = data.iter().skip(j).step_by(d).copied().collect();
            FeatureBins::fit(&column)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_xoshiro::rand_core::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn quartiles_bins_and_statistics_are_lime_s() {
        // numpy: percentile([1..8], [25, 50, 75]) = [2.75, 4.5, 6.25].
        let col: Vec<f64> = (1..=8).map(f64::from).collect();
        let b = FeatureBins::fit(&col);
        assert_eq!(b.cuts, vec![2.75, 4.5, 6.25]);
        assert_eq!(b.lo, vec![1.0, 2.75, 4.5, 6.25]);
        assert_eq!(b.hi, vec![2.75, 4.5, 6.25, 8.0]);
        assert_eq!(b.mean, vec![1.5, 3.5, 5.5, 7.5]);
        assert!((b.std[0] - 0.5).abs() < 1e-9);
        assert_eq!(b.cumulative, vec![0.25, 0.5, 0.75, 1.0]);
        // searchsorted(side="left"): a value on a cut belongs to the bin below it.
        assert_eq!(
            [0.0, 2.75, 2.8, 6.25, 9.0].map(|v| b.bin(v)),
            [0, 0, 1, 2, 3]
        );
        // Repeated quartiles are merged (np.unique).
        let b = FeatureBins::fit(&[0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(b.cuts, vec![0.0]);
        assert_eq!(b.cumulative, vec![0.8, 1.0]);
    }

    #[test]
    fn quantile_tables_match_the_normal_s_known_quantiles() {
        // Interpolated quantile p of a table.
        let at = |q: &[f32], p: f64| {
            let t = p * QUANTILES as f64;
            let i = t as usize;
            q[i] as f64 + t.fract() * (q[i + 1] as f64 - q[i] as f64)
        };
        // Barely truncated (±20σ, clipped at ±9σ): Φ(1) = 0.841344746, Φ(−1) = 0.158655254.
        let q = truncated_normal_quantiles(3.0, 2.0, -37.0, 43.0);
        assert!((at(&q, 0.5) - 3.0).abs() < 1e-5);
        assert!(
            (at(&q, 0.841_344_746) - 5.0).abs() < 1e-4,
            "{}",
            at(&q, 0.841_344_746)
        );
        assert!((at(&q, 0.158_655_254) - 1.0).abs() < 1e-4);
        // Half-normal on [mean, ∞): its median is Φ⁻¹(0.75) = 0.674489750σ.
        let q = truncated_normal_quantiles(0.0, 1.0, 0.0, 50.0);
        assert!(
            (at(&q, 0.5) - 0.674_489_750).abs() < 1e-4,
            "{}",
            at(&q, 0.5)
        );
        // The top entry is where the CDF reaches 1 in f64 (the mass above is < 10⁻¹²).
        assert!(
            q[0] == 0.0 && q[QUANTILES] > 7.0 && q[QUANTILES] <= 9.0,
            "{}",
            q[QUANTILES]
        );
        // Coinciding bounds give the bound.
        assert!(truncated_normal_quantiles(1.0, 1e-11, 1.0, 1.0)
            .iter()
            .all(|&v| v == 1.0));
    }

    #[test]
    fn samples_follow_the_bin_frequencies_and_stay_inside_their_bins() {
        let col: Vec<f64> = (0..1000).map(|i| ((i * 37) % 1000) as f64 / 10.0).collect();
        let b = FeatureBins::fit(&col);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let mut counts = [0usize; 4];
        for _ in 0..20000 {
            let (bin, v) = b.sample(&mut rng);
            counts[bin] += 1;
            assert!(v >= b.lo[bin] && v <= b.hi[bin], "{v} outside bin {bin}");
            assert_eq!(b.bin(v), bin);
        }
        for c in counts {
            assert!((c as f64 / 20000.0 - 0.25).abs() < 0.02, "{counts:?}");
        }
        // A constant column has one bin with coinciding bounds: its value.
        let b = FeatureBins::fit(&[2.0; 5]);
        assert_eq!(b.sample(&mut rng), (0, 2.0));
    }
}
