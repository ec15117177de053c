//! Optimizers (PyTorch's update rules, so the same hyper-parameters mean the same thing) and
//! learning-rate schedules. Updates are plain tensor ops: nothing is recorded.

use std::collections::HashMap;
use xai_tensor::{Result, Tensor};

/// Which optimizer, with its hyper-parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum OptimizerKind {
    /// SGD: g ← g + λp; b ← μb + g; g ← g + μb (Nesterov) or b; p ← p − ηg.
    Sgd { momentum: f64, nesterov: bool },
    /// Adam (Kingma & Ba 2015) with L2 weight decay added to the gradient.
    Adam { beta1: f64, beta2: f64, eps: f64 },
    /// AdamW (Loshchilov & Hutter 2019): decoupled decay p ← p(1 − ηλ) before the Adam step.
    AdamW { beta1: f64, beta2: f64, eps: f64 },
}

impl OptimizerKind {
    /// Parses `sgd`, `adam` or `adamw` with PyTorch's default betas and eps.
    pub fn parse(name: &str, momentum: f64) -> Option<Self> {
        match name {
            "sgd" => Some(Self::Sgd {
                momentum,
                nesterov: false,
            }),
            "nesterov" => Some(Self::Sgd {
                momentum,
                nesterov: true,
            }),
            "adam" => Some(Self::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            }),
            "adamw" => Some(Self::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            }),
            _ => None,
        }
    }
}

/// Learning rate as a function of the epoch.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// η₀ throughout.
    Constant,
    /// η₀·γ^⌊epoch/step⌋.
    Step { step: usize, gamma: f64 },
    /// Cosine annealing to 0 over `epochs`: η₀·(1 + cos(π·epoch/epochs))/2.
    Cosine { epochs: usize },
}

impl Schedule {
    /// The rate at `epoch` (0-based) for base rate `lr`.
    pub fn rate(&self, lr: f64, epoch: usize) -> f64 {
        match self {
            Schedule::Constant => lr,
            Schedule::Step { step, gamma } => lr * gamma.powi((epoch / (*step).max(1)) as i32),
            Schedule::Cosine { epochs } => {
                lr * 0.5
                    * (1.0 + (std::f64::consts::PI * epoch as f64 / (*epochs).max(1) as f64).cos())
            }
        }
    }
}

/// One parameter's optimizer state (PyTorch keeps it per parameter too: a parameter frozen for
/// a while keeps its own step count).
#[derive(Clone, Debug, Default)]
struct ParamState {
    step: u64,
    /// SGD's momentum buffer, or Adam's first moment.
    first: Option<Tensor>,
    /// Adam's second moment.
    second: Option<Tensor>,
}

/// An optimizer's state, kept per parameter name, so that parameters can be added, frozen or
/// reordered between steps (stages of training, checkpoints) without mixing their states up.
#[derive(Clone, Debug)]
pub struct Optimizer {
    pub kind: OptimizerKind,
    pub weight_decay: f64,
    state: HashMap<String, ParamState>,
}

impl Optimizer {
    /// A fresh optimizer.
    pub fn new(kind: OptimizerKind, weight_decay: f64) -> Self {
        Self {
            kind,
            weight_decay,
            state: HashMap::new(),
        }
    }

    /// One update of parameter `name` (value `p`, gradient `g`) at rate `lr`; returns the new
    /// value.
    pub fn update(&mut self, name: &str, lr: f64, p: &Tensor, g: &Tensor) -> Result<Tensor> {
        let st = self.state.entry(name.to_string()).or_default();
        st.step += 1;
        let t = st.step as i32;
        let wd = self.weight_decay;
        Ok(match self.kind {
            OptimizerKind::Sgd { momentum, nesterov } => {
                let g = if wd != 0.0 {
                    g.add(&p.mul_scalar(wd)?)?
                } else {
                    g.clone()
                };
                let d = if momentum != 0.0 {
                    let b = match st.first.take() {
                        Some(b) => b.mul_scalar(momentum)?.add(&g)?,
                        None => g.clone(),
                    };
                    let d = if nesterov {
                        g.add(&b.mul_scalar(momentum)?)?
                    } else {
                        b.clone()
                    };
                    st.first = Some(b);
                    d
                } else {
                    g
                };
                p.sub(&d.mul_scalar(lr)?)?
            }
            OptimizerKind::Adam { beta1, beta2, eps }
            | OptimizerKind::AdamW { beta1, beta2, eps } => {
                let decoupled = matches!(self.kind, OptimizerKind::AdamW { .. });
                let (p, g) = if decoupled {
                    (p.mul_scalar(1.0 - lr * wd)?, g.clone())
                } else if wd != 0.0 {
                    (p.clone(), g.add(&p.mul_scalar(wd)?)?)
                } else {
                    (p.clone(), g.clone())
                };
                let m = match st.first.take() {
                    Some(m) => m.mul_scalar(beta1)?.add(&g.mul_scalar(1.0 - beta1)?)?,
                    None => g.mul_scalar(1.0 - beta1)?,
                };
                let v = match st.second.take() {
                    Some(v) => v
                        .mul_scalar(beta2)?
                        .add(&g.square()?.mul_scalar(1.0 - beta2)?)?,
                    None => g.square()?.mul_scalar(1.0 - beta2)?,
                };
                let step_size = lr / (1.0 - beta1.powi(t));
                let denom = v
                    .mul_scalar(1.0 / (1.0 - beta2.powi(t)))?
                    .sqrt()?
                    .add_scalar(eps)?;
                let new = p.sub(&m.div(&denom)?.mul_scalar(step_size)?)?;
                st.first = Some(m);
                st.second = Some(v);
                new
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: &[f64]) -> Tensor {
        Tensor::from_slice(v, &[v.len()]).unwrap()
    }

    fn run(kind: OptimizerKind, wd: f64, lr: f64, grads: &[f64]) -> Vec<f64> {
        let mut opt = Optimizer::new(kind, wd);
        let mut p = t(&[1.0]);
        let mut out = Vec::new();
        for &g in grads {
            p = opt.update("p", lr, &p, &t(&[g])).unwrap();
            out.push(p.to_vec_f64().unwrap()[0]);
        }
        out
    }

    #[test]
    fn sgd_steps_by_hand() {
        // momentum 0.9, wd 0.1, lr 0.5: g1 = 2 + 0.1 = 2.1, p = 1 − 1.05 = −0.05;
        // g2 = 1 + 0.1·(−0.05) = 0.995, b = 0.9·2.1 + 0.995 = 2.885, p = −0.05 − 1.4425 = −1.4925.
        let got = run(
            OptimizerKind::Sgd {
                momentum: 0.9,
                nesterov: false,
            },
            0.1,
            0.5,
            &[2.0, 1.0],
        );
        assert!(
            (got[0] + 0.05).abs() < 1e-12 && (got[1] + 1.4925).abs() < 1e-12,
            "{got:?}"
        );
        // Nesterov: step 1 d = g + μb = 2.1 + 1.89 = 3.99, p = 1 − 1.995 = −0.995.
        let got = run(
            OptimizerKind::Sgd {
                momentum: 0.9,
                nesterov: true,
            },
            0.1,
            0.5,
            &[2.0],
        );
        assert!((got[0] + 0.995).abs() < 1e-12, "{got:?}");
    }

    #[test]
    fn adam_and_adamw_steps_by_hand() {
        // Adam's first step is −lr·sign(g) (up to eps): m̂ = g, v̂ = g².
        let got = run(
            OptimizerKind::Adam {
                beta1: 0.9,
                beta2: 0.999,
                eps: 0.0,
            },
            0.0,
            0.1,
            &[3.0, -1.0],
        );
        assert!((got[0] - 0.9).abs() < 1e-12, "{got:?}");
        // Step 2: m = 0.9·0.3 + 0.1·(−1) = 0.17, v = 0.999·0.009 + 0.001 = 0.009991;
        // m̂ = 0.17/0.19, v̂ = 0.009991/0.001999.
        let want = 0.9 - 0.1 * (0.17 / 0.19) / (0.009991f64 / 0.001999).sqrt();
        assert!((got[1] - want).abs() < 1e-12, "{} vs {want}", got[1]);
        // AdamW decays the weight first: p = 1·(1 − 0.1·0.5) − 0.1 = 0.85.
        let got = run(
            OptimizerKind::AdamW {
                beta1: 0.9,
                beta2: 0.999,
                eps: 0.0,
            },
            0.5,
            0.1,
            &[3.0],
        );
        assert!((got[0] - 0.85).abs() < 1e-12, "{got:?}");
    }

    #[test]
    fn schedules() {
        assert_eq!(
            Schedule::Step {
                step: 2,
                gamma: 0.5
            }
            .rate(1.0, 5),
            0.25
        );
        assert!((Schedule::Cosine { epochs: 10 }.rate(1.0, 5) - 0.5).abs() < 1e-12);
        assert_eq!(Schedule::Constant.rate(0.3, 9), 0.3);
    }
}
