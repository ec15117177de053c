//! Saliency maps (Simonyan, Vedaldi & Zisserman, *Deep Inside Convolutional Networks*, 2014):
//! the gradient of the target logit (pre-softmax) with respect to the input,
//! a(x) = ∂f_c(x)/∂x, or its absolute value |∂f_c/∂x|, or for images the paper's
//! M_ij = max_c |∂f_c/∂x_cij| (`channel_max`).

use crate::attribution::{Attribution, Explanation};
use crate::config::{at_least_one, bad, MethodConfig};
use crate::objectives::index_column;
use crate::DEFAULT_BATCH_SIZE;
use crate::{map_rows, Result};
use std::sync::Arc;
use xai_autodiff::{enable_grad, grad_tensors, GradRule, Var};
use xai_nn::Differentiable;
use xai_tensor::{DType, Tensor};

/// Raw gradient of the target logit (`abs` takes |·|).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Saliency {
    /// Take the absolute value |∂f_c/∂x|.
    pub abs: bool,
    /// Saliency of images as Simonyan et al.: max over channels of |gradient|, broadcast back
    /// over the channels.
    pub channel_max: bool,
    /// Examples per model call (chunks run in parallel).
    pub batch_size: usize,
}

impl Default for Saliency {
    fn default() -> Self {
        Self {
            abs: false,
            channel_max: false,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for Saliency {
    fn validate(&self) -> Result<()> {
        at_least_one("batch_size", self.batch_size)
    }
}

/// ∂f_t(x)/∂x for each example of one batch, through `rule` if given: the building block of
/// every gradient method. Only input gradients are computed.
pub fn target_gradient<M: Differentiable + ?Sized>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
    rule: Option<Arc<dyn GradRule>>,
) -> Result<Tensor> {
    enable_grad(|| {
        let (input, picked) = recorded_target_logits(model, x, targets)?;
        Ok(grad_tensors(&picked.sum_all()?, None, &[&input], rule)?.remove(0))
    })
}

/// The input as a recorded leaf and f_t(x) of each example, `[N, 1]`, recorded from it (the
/// caller enables recording).
pub(crate) fn recorded_target_logits<M: Differentiable + ?Sized>(
    model: &M,
    x: &Tensor,
    targets: &[usize],
) -> Result<(Var, Var)> {
    let input = Var::leaf(x.clone());
    let out = model.forward(&input)?;
    let picked = out.gather(1, &index_column(targets, out.value().dtype())?)?;
    Ok((input, picked))
}

impl<M: Differentiable + ?Sized> Attribution<M> for Saliency {
    fn name(&self) -> &'static str {
        "saliency"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        let x = x.to_dtype(DType::F32)?;
        let g = map_rows(&x, self.batch_size, |chunk, rows| {
            target_gradient(model, chunk, &targets[rows], None)
        })?;
        let attributions = if self.channel_max {
            if g.rank() != 4 {
                return Err(bad(
                    "channel_max",
                    format!("needs image inputs [N, C, H, W], got {:?}", g.shape()),
                ));
            }
            g.abs()?.max(&[1], true)?.broadcast_to(g.shape())?
        } else if self.abs {
            g.abs()?
        } else {
            g
        };
        Ok(Explanation {
            attributions,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}
