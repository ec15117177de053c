//! lime's `QuartileDiscretizer` (Ribeiro et al. 2016; the `lime` package's default for
//! `LimeTabularExplainer`). Each continuous feature is cut at its training quartiles,
//! q = unique(percentile(column, [25, 50, 75])) with numpy's linear interpolation. A value v
//! falls in bin b = #{q_i < v} (`np.searchsorted`, side left). Each bin keeps the training
//! frequency, the mean and population standard deviation (+10⁻¹¹) of its members, and its
//! bounds: [min, q₀], [q₀, q₁], …, [q_last, max].
//!
//! Sampling as lime's `__data_inverse`: a bin is drawn from the training frequencies and a
//! value from the normal N(mean_b, std_b²) truncated to the bin's bounds (lime:
//! `scipy.stats.truncnorm`; here, exact rejection sampling from Ziggurat normals: the bin's
//! mean lies inside it and its std is at most half its width, so about half the draws or more
//! land inside). A bin whose bounds coincide gives its bound (lime returns the standardized
//! bound there, a bug this does not copy).

use crate::{PassiveError, Result};
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::rand_core::RngCore;

/// One feature's bins.
#[derive(Clone, Debug)]
pub(crate) struct FeatureBins {
    /// Sorted, distinct cut points.
    cuts: Vec<f64>,
    /// Cumulative training frequency of bins 0..=b for all bins but the last, scaled to 2⁶⁴:
    /// a random word w falls in bin #{t ≤ w}.
    thresholds: Vec<u64>,
    mean: Vec<f64>,
    std: Vec<f64>,
    lo: Vec<f64>,
    hi: Vec<f64>,
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
        let lo = std::iter::once(min).chain(cuts.iter().copied()).collect();
        let hi = cuts.iter().copied().chain(std::iter::once(max)).collect();
        FeatureBins {
            cuts,
            thresholds: cumulative[..bins - 1]
                .iter()
                .map(|&c| (c * 18_446_744_073_709_551_616.0) as u64)
                .collect(),
            mean,
            std,
            lo,
            hi,
        }
    }

    /// The bin of value `v`.
    pub(crate) fn bin(&self, v: f64) -> usize {
        bin_of(&self.cuts, v)
    }

    /// A bin drawn from the training frequencies and a value drawn in it.
    pub(crate) fn sample(&self, rng: &mut impl RngCore) -> (usize, f64) {
        let w = rng.next_u64();
        let b = self.thresholds.iter().filter(|&&t| t <= w).count();
        (b, self.value_in(b, rng))
    }

    /// N(mean_b, std_b²) truncated to bin b's bounds, by rejection.
    #[inline(always)]
    fn value_in(&self, b: usize, rng: &mut impl RngCore) -> f64 {
        let (lo, hi) = (self.lo[b], self.hi[b]);
        if lo >= hi {
            return lo;
        }
        // ≳ 1/2 of the draws land inside (module docs); 200 misses in a row do not happen.
        for _ in 0..200 {
            let n: f64 = StandardNormal.sample(rng);
            let v = self.mean[b] + self.std[b] * n;
            if (lo..=hi).contains(&v) {
                return v;
            }
        }
        self.mean[b].clamp(lo, hi)
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
        assert_eq!(b.thresholds, vec![1 << 62, 1 << 63, 3 << 62]);
        // searchsorted(side="left"): a value on a cut belongs to the bin below it.
        assert_eq!(
            [0.0, 2.75, 2.8, 6.25, 9.0].map(|v| b.bin(v)),
            [0, 0, 1, 2, 3]
        );
        // Repeated quartiles are merged (np.unique).
        let b = FeatureBins::fit(&[0.0, 0.0, 0.0, 0.0, 1.0]);
        assert_eq!(b.cuts, vec![0.0]);
        assert_eq!(
            b.thresholds,
            vec![(0.8 * 18_446_744_073_709_551_616.0) as u64]
        );
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
