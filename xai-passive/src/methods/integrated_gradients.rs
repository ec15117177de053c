//! Integrated gradients (Sundararajan, Taly & Yan, *Axiomatic Attribution for Deep Networks*,
//! ICML 2017): aᵢ(x) = (xᵢ − bᵢ) · ∫₀¹ ∂f_c(b + α(x − b))/∂xᵢ dα, approximated by
//! Σₖ wₖ ∂f_c(b + αₖ(x − b))/∂xᵢ with Captum's rules ([`Integration`](super::Integration)).
//! Completeness: Σᵢ aᵢ = f_c(x) − f_c(b) up to the quadrature error, reported per example as
//! [`Explanation::completeness_gap`].

use super::target_gradient;
use crate::attribution::{Attribution, Explanation};
use crate::baseline::Baseline;
use crate::config::{at_least_one, MethodConfig};
use crate::objectives::target_logits;
use crate::quadrature::integrate_path;
use crate::quadrature::Integration;
use crate::Result;
use crate::DEFAULT_BATCH_SIZE;
use xai_nn::Differentiable;
use xai_tensor::{DType, Tensor};

/// Integrated gradients from `baseline` with `steps` nodes of `integration`. All steps of
/// all examples go through the model as one batch of steps × N rows, in chunks of
/// `batch_size` rows run in parallel.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct IntegratedGradients {
    /// The path's start b (Captum's `baselines`).
    pub baseline: Baseline,
    /// Quadrature of the path integral (Captum's `method`).
    pub integration: Integration,
    /// Integration steps (≥ 1; Captum's `n_steps`).
    pub steps: usize,
    /// Rows (steps × examples) per model call.
    pub batch_size: usize,
}

impl Default for IntegratedGradients {
    fn default() -> Self {
        Self {
            baseline: Baseline::Zeros,
            integration: Integration::GaussLegendre,
            steps: 50,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for IntegratedGradients {
    fn validate(&self) -> Result<()> {
        self.integration.nodes(self.steps)?;
        at_least_one("batch_size", self.batch_size)
    }
}

impl<M: Differentiable + ?Sized> Attribution<M> for IntegratedGradients {
    fn name(&self) -> &'static str {
        "integrated-gradients"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        self.validate()?;
        let o = self;
        let x = x.to_dtype(DType::F32)?;
        let b = o.baseline.resolve(&x)?;
        let (alphas, weights) = o.integration.nodes(o.steps)?;
        let s = alphas.len();
        let (avg_grad, _) = integrate_path(&x, &b, &alphas, &weights, o.batch_size, |c, rows| {
            let t: Vec<usize> = rows.map(|r| targets[r / s]).collect();
            target_gradient(model, c, &t, None)
        })?;
        let (xv, bv) = (x.to_vec_f64()?, b.to_vec_f64()?);
        let a: Vec<f64> = avg_grad
            .iter()
            .zip(xv.iter().zip(&bv))
            .map(|(g, (x, b))| (x - b) * g)
            .collect();
        let fx = target_logits(model, &x, targets, o.batch_size)?;
        let fb = target_logits(model, &b, targets, o.batch_size)?;
        let f = a.len() / targets.len().max(1);
        let gap = a
            .chunks(f.max(1))
            .zip(fx.iter().zip(&fb))
            .map(|(ai, (fx, fb))| ai.iter().sum::<f64>() - (fx - fb))
            .collect();
        Ok(Explanation {
            attributions: Tensor::from_vec(a, x.shape())?.to_dtype(DType::F32)?,
            targets: targets.to_vec(),
            completeness_gap: Some(gap),
            diagnostics: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::methods::{gauss_legendre, Baseline, Integration};
    use crate::testing::models::*;
    use crate::testing::rel_l2;
    use xai_nn::layers::ActivationKind;
    use xai_nn::Graph;
    use xai_tensor::Rng;

    fn ig(o: IntegratedGradients) -> IntegratedGradients {
        o
    }

    #[test]
    fn gauss_legendre_nodes_match_numpy_leggauss() {
        // numpy.polynomial.legendre.leggauss(3) and (4).
        let (x, w) = gauss_legendre(3);
        let r = (3.0f64 / 5.0).sqrt();
        for (a, b) in x.iter().zip([-r, 0.0, r]) {
            assert!((a - b).abs() < 1e-15);
        }
        for (a, b) in w.iter().zip([5.0 / 9.0, 8.0 / 9.0, 5.0 / 9.0]) {
            assert!((a - b).abs() < 1e-15);
        }
        let (x, w) = gauss_legendre(4);
        assert!((x[3] - 0.861_136_311_594_052_6).abs() < 1e-15);
        assert!((w[0] - 0.347_854_845_137_453_9).abs() < 1e-15);
        for n in [1, 2, 7, 50, 128] {
            let (x, w) = gauss_legendre(n);
            assert!((w.iter().sum::<f64>() - 2.0).abs() < 1e-12, "n = {n}");
            assert!(x.windows(2).all(|p| p[0] < p[1]));
            // Exact for x^(2n-2).
            let p = 2 * n as i32 - 2;
            let q: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(p)).sum();
            assert!((q - 2.0 / (p as f64 + 1.0)).abs() < 1e-12, "n = {n}");
        }
    }

    #[test]
    fn on_a_linear_model_ig_is_exactly_x_minus_b_times_w() {
        let w = Tensor::from_vec(vec![1.0f32, -2.0, 0.5, 3.0, 0.0, 1.0], &[2, 3]).unwrap();
        let bias = Tensor::from_vec(vec![0.3f32, -0.7], &[2]).unwrap();
        let m = Graph::sequential(vec![3], vec![layer("l", linear(w, Some(bias)))], None).unwrap();
        let x = Tensor::from_vec(vec![2.0f32, 1.0, 4.0, -1.0, 1.0, 2.0], &[2, 3]).unwrap();
        for integration in [Integration::GaussLegendre, Integration::RiemannLeft] {
            let e = ig(IntegratedGradients {
                baseline: Baseline::Constant(1.0),
                integration,
                steps: 7,
                ..Default::default()
            })
            .attribute(&m, &x, &[0, 1])
            .unwrap();
            let want = [1.0, 0.0, 1.5, -6.0, 0.0, 1.0];
            for (a, b) in e.attributions.to_vec_f32().unwrap().iter().zip(want) {
                assert!((*a as f64 - b).abs() < 1e-5, "{a} vs {b}");
            }
            assert!(e.completeness_gap.unwrap().iter().all(|g| g.abs() < 1e-5));
        }
    }

    #[test]
    fn completeness_within_one_percent_at_50_steps_on_a_nonlinear_mlp() {
        let m = smooth_mlp(11);
        let x = randn(&mut Rng::new(2), &[6, 6], 1.5);
        let targets = [0, 1, 2, 0, 1, 2];
        let e = ig(IntegratedGradients::default())
            .attribute(&m, &x, &targets)
            .unwrap();
        let fx = target_logits(&m, &x, &targets, 256).unwrap();
        let fb = target_logits(&m, &Tensor::zeros(&[6, 6], DType::F32), &targets, 256).unwrap();
        for (i, g) in e.completeness_gap.unwrap().iter().enumerate() {
            let delta = fx[i] - fb[i];
            assert!(
                g.abs() <= 0.01 * delta.abs().max(1e-3),
                "example {i}: gap {g} of {delta}"
            );
        }
    }

    #[test]
    fn riemann_5000_steps_agrees_with_gauss_legendre_50() {
        // A smooth network: with ReLU kinks the integrand jumps and both rules are O(1/n).
        let m = smooth_mlp(5);
        let x = randn(&mut Rng::new(3), &[3, 6], 1.0);
        let t = [2, 0, 1];
        let gl = ig(IntegratedGradients::default())
            .attribute(&m, &x, &t)
            .unwrap();
        let rm = ig(IntegratedGradients {
            integration: Integration::RiemannMiddle,
            steps: 5000,
            batch_size: 4096,
            ..Default::default()
        })
        .attribute(&m, &x, &t)
        .unwrap();
        let e = rel_l2(&rm.attributions, &gl.attributions);
        assert!(e <= 1e-3, "relative L2 {e}");
    }

    #[test]
    fn implementation_invariance_two_equivalent_networks_give_the_same_ig() {
        // f(x) = relu(Wx) written as one layer, and as relu(2·(W/2)x) with an extra linear
        // layer scaling by 2 after a ReLU (relu(2z) = 2 relu(z)).
        let mut r = Rng::new(9);
        let w1 = randn(&mut r, &[5, 4], 1.0);
        let w2 = randn(&mut r, &[2, 5], 1.0);
        let a = Graph::sequential(
            vec![4],
            vec![
                layer("0", linear(w1.clone(), None)),
                layer("1", act(ActivationKind::Relu)),
                layer("2", linear(w2.clone(), None)),
            ],
            None,
        )
        .unwrap();
        let two = Tensor::from_vec(
            (0..25)
                .map(|i| if i % 6 == 0 { 2.0f32 } else { 0.0 })
                .collect(),
            &[5, 5],
        )
        .unwrap();
        let b = Graph::sequential(
            vec![4],
            vec![
                layer("0", linear(w1.mul_scalar(0.5).unwrap(), None)),
                layer("1", act(ActivationKind::Relu)),
                layer("2", linear(two, None)),
                layer("3", linear(w2, None)),
            ],
            None,
        )
        .unwrap();
        let x = randn(&mut r, &[4, 4], 1.0);
        let t = [0, 1, 0, 1];
        let ea = ig(IntegratedGradients::default())
            .attribute(&a, &x, &t)
            .unwrap();
        let eb = ig(IntegratedGradients::default())
            .attribute(&b, &x, &t)
            .unwrap();
        assert!(rel_l2(&eb.attributions, &ea.attributions) < 1e-5);
    }

    #[test]
    fn batch_size_and_batched_targets_do_not_change_the_result() {
        let m = cnn(4);
        let x = randn(&mut Rng::new(4), &[3, 2, 5, 5], 1.0);
        let t = [0, 2, 1];
        let opts = |bs| IntegratedGradients {
            batch_size: bs,
            steps: 20,
            baseline: Baseline::Mean,
            ..Default::default()
        };
        let full = ig(opts(1000)).attribute(&m, &x, &t).unwrap();
        for bs in [1, 7, 33] {
            let e = ig(opts(bs)).attribute(&m, &x, &t).unwrap();
            assert!(
                rel_l2(&e.attributions, &full.attributions) < 1e-5,
                "batch size {bs}"
            );
        }
        // Per-example runs (mean baseline of the whole batch given explicitly).
        let b = Baseline::Mean.resolve(&x).unwrap().narrow(0, 0, 1).unwrap();
        let per: Vec<Tensor> = (0..3)
            .map(|i| {
                ig(IntegratedGradients {
                    baseline: Baseline::Tensor(b.reshape(&[2, 5, 5]).unwrap()),
                    ..opts(64)
                })
                .attribute(&m, &x.narrow(0, i, 1).unwrap(), &t[i..i + 1])
                .unwrap()
                .attributions
            })
            .collect();
        let per = Tensor::cat(&per, 0).unwrap();
        assert!(rel_l2(&per, &full.attributions) < 1e-5);
    }

    #[test]
    fn bad_steps_and_baselines_are_refused() {
        let m = mlp(1);
        let x = Tensor::zeros(&[2, 6], DType::F32);
        let err =
            |o: IntegratedGradients| ig(o).attribute(&m, &x, &[0, 0]).unwrap_err().to_string();
        for steps in [0, crate::config::MAX_STEPS + 1, 1_000_000_000_000] {
            let e = err(IntegratedGradients {
                steps,
                ..Default::default()
            });
            assert!(e.contains("steps must be in 1..=10000"), "{e}");
        }
        assert!(err(IntegratedGradients {
            baseline: Baseline::Tensor(Tensor::zeros(&[5], DType::F32)),
            ..Default::default()
        })
        .contains("baseline has shape [5]"));
        assert!(err(IntegratedGradients {
            integration: Integration::RiemannTrapezoid,
            steps: 1,
            ..Default::default()
        })
        .contains("at least 2"));
    }

    /// Gradients are recorded whatever the calling thread's grad mode: inside a caller's
    /// `no_grad`, and on a rayon worker that picks the call up while it waits inside a
    /// `no_grad` of its own (a worker blocked in another pool's `install` runs its own
    /// pool's queued jobs; before the fix such a job recorded nothing and gave zeros).
    #[test]
    fn gradients_are_recorded_under_a_callers_or_a_workers_no_grad() {
        use std::sync::mpsc::channel;
        let m = smooth_mlp(5);
        let x = randn(&mut Rng::new(9), &[6, 6], 1.0);
        let t = [0, 1, 2, 0, 1, 2];
        let ig = ig(IntegratedGradients {
            batch_size: 4,
            ..Default::default()
        });
        let reference = ig.attribute(&m, &x, &t).unwrap().attributions;
        assert!(reference.to_vec_f32().unwrap().iter().any(|v| *v != 0.0));
        let inside = xai_autodiff::no_grad(|| ig.attribute(&m, &x, &t)).unwrap();
        assert_eq!(
            inside.attributions.to_vec_f32().unwrap(),
            reference.to_vec_f32().unwrap()
        );

        let one = || {
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .build()
                .unwrap()
        };
        let (p1, p2) = (one(), one());
        let (entered, wait) = (channel(), channel::<()>());
        let (entered_tx, entered_rx) = entered;
        let (release_tx, release_rx) = wait;
        let (p1, p2) = (&p1, &p2);
        std::thread::scope(|s| {
            s.spawn(move || {
                let release_rx = std::sync::Mutex::new(release_rx);
                p1.install(|| {
                    xai_autodiff::no_grad(|| {
                        p2.install(|| {
                            entered_tx.send(()).unwrap();
                            release_rx.lock().unwrap().recv().unwrap();
                        })
                    })
                })
            });
            entered_rx.recv().unwrap();
            // p1's only worker is blocked in `no_grad`; it runs this job meanwhile.
            let picked_up = p1.install(|| ig.attribute(&m, &x, &t)).unwrap();
            release_tx.send(()).unwrap();
            assert_eq!(
                picked_up.attributions.to_vec_f32().unwrap(),
                reference.to_vec_f32().unwrap()
            );
        });
    }
}
