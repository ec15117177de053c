//! The SmoothGrad family as a wrapper around any attribution method (Captum's `NoiseTunnel`):
//! the inner method is applied to S noisy copies x + ε, ε ~ N(0, σ²I), of each input and the
//! results are aggregated.
//!
//! - `smoothgrad` (Smilkov et al., *SmoothGrad: removing noise by adding noise*, 2017):
//!   (1/S) Σₛ a(x + εₛ).
//! - `smoothgrad-squared` (Hooker et al., *A Benchmark for Interpretability Methods in Deep
//!   Neural Networks*, NeurIPS 2019): (1/S) Σₛ a(x + εₛ)².
//! - `vargrad` (Adebayo et al., *Local Explanation Methods for Deep Neural Networks Lack
//!   Sensitivity to Parameter Values*, 2018): (1/S) Σₛ a(x + εₛ)² − ((1/S) Σₛ a(x + εₛ))².
//!
//! The noise level is relative, as in the SmoothGrad paper: σ = noise_std · (max x − min x),
//! per example. The noise comes from the seeded Philox generator: the same seed gives the same
//! result, whatever the batch size or thread count.

use crate::attribution::{Attribution, Explanation};
use crate::config::{count_in, finite_non_negative, MethodConfig, Params, MAX_SAMPLES};
use crate::registry::{self, Bound, BoxedMethod};
use crate::{PassiveError, Result};
use rayon::prelude::*;
use xai_tensor::{DType, Rng, Tensor};

/// A boxed method is a method (so wrappers can hold any registered method).
impl<M: ?Sized, T: Attribution<M> + ?Sized> Attribution<M> for Box<T> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        (**self).attribute(model, x, targets)
    }
}

/// How the attributions of the noisy samples are aggregated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseKind {
    /// Mean of the attributions.
    SmoothGrad,
    /// Mean of the squared attributions.
    SmoothGradSquared,
    /// Variance of the attributions.
    VarGrad,
}

impl NoiseKind {
    /// The registry name.
    pub fn name(self) -> &'static str {
        match self {
            NoiseKind::SmoothGrad => "smoothgrad",
            NoiseKind::SmoothGradSquared => "smoothgrad-squared",
            NoiseKind::VarGrad => "vargrad",
        }
    }
}

/// The noise wrapper around an inner method `A`.
#[derive(Clone, Debug)]
pub struct NoiseTunnel<A> {
    /// The wrapped method (saliency by default).
    pub inner: A,
    /// Aggregation.
    pub kind: NoiseKind,
    /// Noisy samples per input (S ≥ 1).
    pub samples: usize,
    /// σ relative to each example's range max x − min x.
    pub noise_std: f64,
    /// Seed of the noise.
    pub seed: u64,
}

/// Default number of noisy samples.
pub const DEFAULT_SAMPLES: usize = 50;
/// Default relative noise level (the SmoothGrad paper finds 10–20 % works well).
pub const DEFAULT_NOISE_STD: f64 = 0.15;

/// The configuration of the registered noise-tunnel methods: the inner method by its
/// registry name and the noise. The inner method's own parameters are given beside these
/// and recorded as `inner_config`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct NoiseTunnelConfig {
    /// The wrapped method's registry name.
    pub inner: String,
    /// Noisy samples per input (S ≥ 1).
    pub samples: usize,
    /// σ relative to each example's range max x − min x.
    pub noise_std: f64,
    /// Seed of the noise (same seed, same result).
    pub seed: u64,
}

impl Default for NoiseTunnelConfig {
    fn default() -> Self {
        Self {
            inner: "saliency".into(),
            samples: DEFAULT_SAMPLES,
            noise_std: DEFAULT_NOISE_STD,
            seed: 0,
        }
    }
}

impl MethodConfig for NoiseTunnelConfig {
    fn validate(&self) -> Result<()> {
        count_in("samples", self.samples, MAX_SAMPLES)?;
        finite_non_negative("noise_std", self.noise_std)
    }
}

/// Builds the registered noise-tunnel method `name`: its own parameters from `params`, and
/// the inner method (`inner`, default saliency) from the rest.
///
/// **Errors** as [`registry::build`] for either; a parameter neither takes is named with
/// both methods' parameters.
pub fn build_noise_tunnel(
    name: &'static str,
    params: &Params,
    kind: NoiseKind,
) -> Result<BoxedMethod> {
    let own_names = crate::config::names::<NoiseTunnelConfig>();
    let is_own = |n: &str| own_names.iter().any(|k| k == n);
    let config: NoiseTunnelConfig = crate::config::from_params(name, &params.filtered(is_own))?;
    if (registry::info(&config.inner)?.defaults)()
        .get("inner")
        .is_some()
    {
        return Err(crate::config::bad(
            "inner",
            format!("cannot be {}, a wrapper itself", config.inner),
        ));
    }
    let inner =
        registry::build(&config.inner, &params.filtered(|n| !is_own(n))).map_err(|e| match e {
            PassiveError::UnknownParameter {
                name: p,
                method,
                mut known,
            } => {
                known.extend(own_names.iter().cloned());
                known.sort();
                PassiveError::UnknownParameter {
                    name: p,
                    method: format!("{name} with inner {method}"),
                    known,
                }
            }
            e => e,
        })?;
    let mut recorded = serde_json::to_value(&config).expect("a configuration serializes");
    recorded["inner_config"] = inner.config().clone();
    // The tunnel needs what its inner method needs.
    fn of<A>(inner: A, kind: NoiseKind, c: &NoiseTunnelConfig) -> NoiseTunnel<A> {
        NoiseTunnel {
            inner,
            kind,
            samples: c.samples,
            noise_std: c.noise_std,
            seed: c.seed,
        }
    }
    let bound = match inner.into_bound() {
        Bound::Forward(m) => Bound::Forward(Box::new(of(m, kind, &config))),
        Bound::Gradients(m) => Bound::Gradients(Box::new(of(m, kind, &config))),
        Bound::Layers(m) => Bound::Layers(Box::new(of(m, kind, &config))),
        Bound::Curves(_) => {
            return Err(crate::config::bad(
                "inner",
                format!(
                    "cannot be {}: it gives curves, not attributions",
                    config.inner
                ),
            ))
        }
    };
    Ok(BoxedMethod::new(name, bound, &recorded))
}

/// Noisy values held at once: the samples go through the inner method in parts of about this
/// many input values (16 MiB in f32), so memory does not grow with `samples`.
const NOISY_VALUES_PER_PART: usize = 1 << 22;

/// The noisy copies of a batch `x: [N, F…]`: copy s of example i is xᵢ + σᵢ·ε with σᵢ =
/// `noise_std` · (max xᵢ − min xᵢ) and ε one seeded normal draw over all copies, sample-major
/// (row s·N + i), produced a range of samples at a time.
struct Noise {
    x: Vec<f32>,
    sigma: Vec<f64>,
    shape: Vec<usize>,
    device: xai_tensor::Device,
    draw: xai_tensor::NormalDraw,
}

impl Noise {
    fn new(x: &Tensor, noise_std: f64, seed: u64) -> Result<Self> {
        finite_non_negative("noise_std", noise_std)?;
        let n = x.shape()[0];
        let xv = x.to_vec_f32()?;
        let f = xv.len() / n.max(1);
        let sigma = xv
            .chunks(f.max(1))
            .map(|r| {
                let (lo, hi) = r
                    .iter()
                    .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                        (lo.min(v), hi.max(v))
                    });
                noise_std * (hi - lo) as f64
            })
            .collect();
        Ok(Noise {
            x: xv,
            sigma,
            shape: x.shape().to_vec(),
            device: x.device(),
            draw: Rng::new(seed).normal_draw(0.0, 1.0),
        })
    }

    /// Copies `samples.start..samples.end` of every example: `[len·N, F…]`, on `x`'s device.
    fn copies(&self, samples: std::ops::Range<usize>) -> Result<Tensor> {
        let n = self.shape[0];
        let f = self.x.len() / n.max(1);
        let eps = self.draw.part(samples.start * n * f, samples.len() * n * f);
        // Row r of the part is sample start + r / N of example r % N: xᵢ + σᵢ·ε.
        let mut v = vec![0.0f32; eps.len()];
        if f > 0 {
            v.par_chunks_mut(f)
                .zip(eps.par_chunks(f))
                .enumerate()
                .for_each(|(r, (dst, e))| {
                    let i = r % n;
                    let (xi, si) = (&self.x[i * f..(i + 1) * f], self.sigma[i]);
                    for ((d, &x), &e) in dst.iter_mut().zip(xi).zip(e) {
                        *d = (x as f64 + si * e) as f32;
                    }
                });
        }
        let mut shape = self.shape.clone();
        shape[0] = samples.len() * n;
        // Drawn on the host, run where x is.
        Ok(Tensor::from_vec(v, &shape)?.to_device(self.device)?)
    }
}

/// `samples` noisy copies of each example of `x: [N, F…]`, sample-major (row s·N + i), with
/// σᵢ = `noise_std` · (max xᵢ − min xᵢ): what the tunnel explains, all at once.
#[cfg(test)]
pub(crate) fn noisy_copies(
    x: &Tensor,
    samples: usize,
    noise_std: f64,
    seed: u64,
) -> Result<Tensor> {
    Noise::new(x, noise_std, seed)?.copies(0..samples)
}

impl<M: ?Sized, A: Attribution<M>> Attribution<M> for NoiseTunnel<A> {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.attribute_in_parts(model, x, targets, NOISY_VALUES_PER_PART)
    }
}

impl<A> NoiseTunnel<A> {
    /// [`Attribution::attribute`] with the noisy copies made `values_per_part` input values at
    /// a time.
    fn attribute_in_parts<M: ?Sized>(
        &self,
        model: &M,
        x: &Tensor,
        targets: &[usize],
        values_per_part: usize,
    ) -> Result<Explanation>
    where
        A: Attribution<M>,
    {
        count_in("samples", self.samples, MAX_SAMPLES)?;
        let (n, s) = (x.shape()[0], self.samples);
        let x = x.to_dtype(DType::F32)?;
        let noise = Noise::new(&x, self.noise_std, self.seed)?;
        // Samples a part: as many as fit in `values_per_part`, at least one.
        let per = (values_per_part / x.numel().max(1)).clamp(1, s);
        let (mut m1, mut m2, mut shape) = (Vec::new(), Vec::new(), Vec::new());
        for start in (0..s).step_by(per) {
            let part = start..(start + per).min(s);
            let t: Vec<usize> = part.clone().flat_map(|_| targets.iter().copied()).collect();
            let a = self
                .inner
                .attribute(model, &noise.copies(part)?, &t)?
                .attributions;
            let av = a.to_vec_f64()?;
            let g = av.len() / t.len().max(1);
            if start == 0 {
                (m1, m2) = (vec![0.0f64; n * g], vec![0.0f64; n * g]);
                shape = a.shape().to_vec();
            }
            // Sample by sample, in order: the sums do not depend on the parts.
            for block in av.chunks((n * g).max(1)) {
                for ((a1, a2), v) in m1.iter_mut().zip(m2.iter_mut()).zip(block) {
                    *a1 += v / s as f64;
                    *a2 += v * v / s as f64;
                }
            }
        }
        let out: Vec<f64> = match self.kind {
            NoiseKind::SmoothGrad => m1,
            NoiseKind::SmoothGradSquared => m2,
            NoiseKind::VarGrad => m2.iter().zip(&m1).map(|(q, m)| q - m * m).collect(),
        };
        shape[0] = n;
        Ok(Explanation {
            attributions: Tensor::from_vec(out, &shape)?.to_dtype(DType::F32)?,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::Saliency;
    use crate::testing::models::*;
    use crate::testing::rel_l2;
    use xai_nn::Layered;

    fn tunnel(kind: NoiseKind, seed: u64) -> NoiseTunnel<Saliency> {
        NoiseTunnel {
            inner: Saliency::default(),
            kind,
            samples: 20,
            noise_std: 0.2,
            seed,
        }
    }

    #[test]
    fn same_seed_same_result_and_another_seed_another() {
        let m = mlp(2);
        let x = randn(&mut Rng::new(5), &[3, 6], 1.0);
        let t = [0, 1, 2];
        let a = tunnel(NoiseKind::SmoothGrad, 7)
            .attribute(&m, &x, &t)
            .unwrap();
        let b = tunnel(NoiseKind::SmoothGrad, 7)
            .attribute(&m, &x, &t)
            .unwrap();
        assert_eq!(
            a.attributions.to_vec_f32().unwrap(),
            b.attributions.to_vec_f32().unwrap()
        );
        let c = tunnel(NoiseKind::SmoothGrad, 8)
            .attribute(&m, &x, &t)
            .unwrap();
        assert!(rel_l2(&c.attributions, &a.attributions) > 1e-4);
    }

    #[test]
    fn samples_in_parts_give_the_values_of_all_at_once() {
        let m = mlp(2);
        let x = randn(&mut Rng::new(5), &[3, 6], 1.0);
        let t = [0, 1, 2];
        for kind in [NoiseKind::SmoothGrad, NoiseKind::VarGrad] {
            let o = tunnel(kind, 7);
            let whole = o.attribute_in_parts(&m, &x, &t, usize::MAX).unwrap();
            // One sample (18 values) per part, and parts of 3 samples with a shorter last one.
            for per_part in [18, 54] {
                let parts = o.attribute_in_parts(&m, &x, &t, per_part).unwrap();
                assert_eq!(parts.attributions.shape(), whole.attributions.shape());
                assert!(rel_l2(&parts.attributions, &whole.attributions) < 1e-6);
            }
        }
    }

    #[test]
    fn aggregates_are_mean_mean_of_squares_and_variance() {
        let m = mlp(2);
        let x = randn(&mut Rng::new(5), &[2, 6], 1.0);
        let t = [1, 2];
        let sg = tunnel(NoiseKind::SmoothGrad, 3)
            .attribute(&m, &x, &t)
            .unwrap();
        let sq = tunnel(NoiseKind::SmoothGradSquared, 3)
            .attribute(&m, &x, &t)
            .unwrap();
        let vg = tunnel(NoiseKind::VarGrad, 3).attribute(&m, &x, &t).unwrap();
        // By hand: saliency of the same noisy copies.
        let noisy = noisy_copies(&x, 20, 0.2, 3).unwrap();
        let tt: Vec<usize> = (0..20).flat_map(|_| t).collect();
        let g = Saliency::default()
            .attribute(&m, &noisy, &tt)
            .unwrap()
            .attributions;
        let g = g.to_vec_f64().unwrap();
        let (sg, sq, vg) = (
            sg.attributions.to_vec_f64().unwrap(),
            sq.attributions.to_vec_f64().unwrap(),
            vg.attributions.to_vec_f64().unwrap(),
        );
        for j in 0..12 {
            let v: Vec<f64> = (0..20).map(|s| g[s * 12 + j]).collect();
            let mean = v.iter().sum::<f64>() / 20.0;
            let msq = v.iter().map(|a| a * a).sum::<f64>() / 20.0;
            assert!((sg[j] - mean).abs() < 1e-5);
            assert!((sq[j] - msq).abs() < 1e-5);
            assert!((vg[j] - (msq - mean * mean)).abs() < 1e-5);
        }
        // Zero noise: SmoothGrad is the plain gradient.
        let plain = Saliency::default().attribute(&m, &x, &t).unwrap();
        let z = NoiseTunnel {
            noise_std: 0.0,
            ..tunnel(NoiseKind::SmoothGrad, 1)
        }
        .attribute(&m, &x, &t)
        .unwrap();
        assert!(rel_l2(&z.attributions, &plain.attributions) < 1e-6);
    }

    #[test]
    fn wraps_any_registered_method_and_is_independent_of_batch_size() {
        let m = mlp(4);
        let x = randn(&mut Rng::new(6), &[2, 6], 1.0);
        let run = |bs| {
            let p = Params::default()
                .with("inner", "integrated-gradients")
                .with("samples", 4)
                .with("steps", 8)
                .with("batch_size", bs)
                .with("seed", 5);
            let method = build_noise_tunnel("smoothgrad", &p, NoiseKind::SmoothGrad).unwrap();
            assert_eq!(method.config()["inner_config"]["steps"], 8);
            let m: &dyn Layered = &m;
            method.attribute(m, &x, &[0, 2]).unwrap().attributions
        };
        let (a, b) = (run(3), run(1000));
        assert_eq!(a.shape(), &[2, 6]);
        assert!(rel_l2(&a, &b) < 1e-5);
    }
}
