//! Batch normalisation over features (1-D) or channels (2-D).

use super::{Fields, Init, Module, WeightFn};
use serde_json::{json, Map, Value};
use xai_autodiff::{Op, Var};
use xai_tensor::Tensor;

/// Weight of a batch's statistics in the running averages (PyTorch's default).
const MOMENTUM: f64 = 0.1;

/// y = (x − μ)/√(σ² + ε)·γ + β per feature/channel. At inference μ, σ² are the running
/// statistics; in training, the batch's (biased variance, as PyTorch normalises).
#[derive(Debug)]
pub struct BatchNorm {
    pub weight: Var,
    pub bias: Var,
    pub running_mean: Tensor,
    pub running_var: Tensor,
    pub eps: f64,
    /// 2 for `batchnorm2d` (`[C, H, W]` inputs), 1 for `batchnorm1d` (`[F]`).
    pub spatial: bool,
}

impl BatchNorm {
    pub(crate) fn build(f: &Fields, weights: &mut WeightFn) -> crate::Result<Self> {
        let n = f.usize("num_features")?;
        // affine=False is exported as the identity scale and zero shift: either is fine.
        f.bool_or("affine", true)?;
        f.only_default(
            "momentum",
            |v| v.as_f64() == Some(MOMENTUM),
            "momentum 0.1 only",
        )?;
        f.only_default(
            "track_running_stats",
            |v| v.as_bool() == Some(true),
            "true only",
        )?;
        let mut get = |s: &str, init: f64| -> crate::Result<Tensor> {
            Ok(weights(s, &[n], Init::Const(init), true)?.expect("required tensor"))
        };
        Ok(Self {
            weight: Var::leaf(get("weight", 1.0)?),
            bias: Var::leaf(get("bias", 0.0)?),
            running_mean: get("running_mean", 0.0)?,
            running_var: get("running_var", 1.0)?,
            eps: f.f64_or("eps", 1e-5)?,
            spatial: f.op == "batchnorm2d",
        })
    }

    fn features(&self) -> usize {
        self.running_mean.numel()
    }

    /// Broadcast shape of the per-feature vectors against a batch.
    fn bshape(&self) -> Vec<usize> {
        if self.spatial {
            vec![1, self.features(), 1, 1]
        } else {
            vec![1, self.features()]
        }
    }
}

impl Module for BatchNorm {
    /// Affine in inference, y = (x − μ)·γ/√(σ² + ε) + β: radius times |γ/√(σ² + ε)|.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        let bs = self.bshape();
        let scale = |r: &Tensor| -> xai_tensor::Result<Tensor> {
            let s = self
                .weight
                .value()
                .div(&self.running_var.add_scalar(self.eps)?.sqrt()?)?
                .abs()?
                .reshape(&bs)?;
            r.mul(&s)
        };
        let centre = |c: &Tensor| -> xai_tensor::Result<Tensor> {
            Ok(self
                .forward(&[Var::constant(c.clone())], &mut super::Ctx::eval())?
                .value()
                .clone())
        };
        Some(inputs[0].affine(centre, scale))
    }
    fn op(&self) -> &'static str {
        if self.spatial {
            "batchnorm2d"
        } else {
            "batchnorm1d"
        }
    }
    fn forward(&self, inputs: &[Var], ctx: &mut super::Ctx) -> xai_tensor::Result<Var> {
        let x = &inputs[0];
        if ctx.training {
            // One op on the tape (its statistics and gradient fused), not nine.
            return Ok(x.batch_norm_train(&self.weight, &self.bias, self.eps)?.0);
        }
        let bs = self.bshape();
        let gamma = self.weight.reshape(&bs)?;
        let beta = self.bias.reshape(&bs)?;
        let centered = x.sub(&Var::constant(self.running_mean.reshape(&bs)?))?;
        let var = Var::constant(self.running_var.reshape(&bs)?);
        centered
            .div(&var.add_scalar(self.eps)?.sqrt()?)?
            .mul(&gamma)?
            .add(&beta)
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let input = inputs[0];
        let ok = if self.spatial {
            input.len() == 3 && input[0] == self.features()
        } else {
            input == [self.features()]
        };
        if ok {
            Ok(input.to_vec())
        } else {
            Err(format!(
                "expects {} features/channels but receives shape {input:?}",
                self.features()
            ))
        }
    }
    fn spec(&self) -> Map<String, Value> {
        json!({"num_features": self.features(), "eps": self.eps})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }
    fn params(&self) -> Vec<(&'static str, &Var)> {
        vec![("weight", &self.weight), ("bias", &self.bias)]
    }
    fn params_mut(&mut self) -> Vec<(&'static str, &mut Var)> {
        vec![("weight", &mut self.weight), ("bias", &mut self.bias)]
    }
    /// PyTorch's update with momentum 0.1: r ← 0.9·r + 0.1·batch statistic, the variance
    /// unbiased (n/(n − 1)).
    fn update_running_stats(&mut self, input: &Tensor, output: &Var) -> xai_tensor::Result<()> {
        let n = input.numel() / self.features().max(1);
        // The batch statistics the training forward pass computed, when it was one.
        let (mean, biased) = match output.op() {
            Some(Op::BatchNorm { mean, var, .. }) => (mean.clone(), var.clone()),
            _ => input.channel_moments()?,
        };
        let var = biased.mul_scalar(n as f64 / (n.max(2) - 1) as f64)?;
        let m = MOMENTUM;
        self.running_mean = self
            .running_mean
            .mul_scalar(1.0 - m)?
            .add(&mean.mul_scalar(m)?)?;
        self.running_var = self
            .running_var
            .mul_scalar(1.0 - m)?
            .add(&var.mul_scalar(m)?)?;
        Ok(())
    }
    fn buffers_mut(&mut self) -> Vec<(&'static str, &mut Tensor)> {
        vec![
            ("running_mean", &mut self.running_mean),
            ("running_var", &mut self.running_var),
        ]
    }
    fn buffers(&self) -> Vec<(&'static str, &Tensor)> {
        vec![
            ("running_mean", &self.running_mean),
            ("running_var", &self.running_var),
        ]
    }
}
