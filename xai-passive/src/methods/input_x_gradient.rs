//! Input × gradient (Shrikumar et al., *Not Just a Black Box*, 2016; Ancona et al., *Towards
//! Better Understanding of Gradient-Based Attribution Methods*, ICLR 2018):
//! a(x) = x ⊙ ∂f_c(x)/∂x. For a linear model f(x) = w·x + b it is each feature's term wᵢxᵢ.

use super::target_gradient;
use crate::attribution::{Attribution, Explanation};
use crate::config::{at_least_one, MethodConfig};
use crate::DEFAULT_BATCH_SIZE;
use crate::{map_rows, Result};
use xai_nn::Differentiable;
use xai_tensor::{DType, Tensor};

/// x ⊙ ∂f_c/∂x, computed in chunks of `batch_size` examples.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct InputXGradient {
    /// Examples per model call (chunks run in parallel).
    pub batch_size: usize,
}

impl Default for InputXGradient {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl MethodConfig for InputXGradient {
    fn validate(&self) -> Result<()> {
        at_least_one("batch_size", self.batch_size)
    }
}

impl<M: Differentiable + ?Sized> Attribution<M> for InputXGradient {
    fn name(&self) -> &'static str {
        "input-x-gradient"
    }

    fn attribute(&self, model: &M, x: &Tensor, targets: &[usize]) -> Result<Explanation> {
        let x = x.to_dtype(DType::F32)?;
        let a = map_rows(&x, self.batch_size, |chunk, rows| {
            let t = &targets[rows];
            Ok(target_gradient(model, chunk, t, None)?.mul(chunk)?)
        })?;
        Ok(Explanation {
            attributions: a,
            targets: targets.to_vec(),
            completeness_gap: None,
            diagnostics: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::models::*;
    use xai_nn::Graph;
    use xai_tensor::Rng;

    #[test]
    fn on_a_linear_model_it_is_each_features_term() {
        let w = Tensor::from_vec(vec![1.0f32, -2.0, 0.5, 3.0, 0.0, 1.0], &[2, 3]).unwrap();
        let m = Graph::sequential(vec![3], vec![layer("l", linear(w, None))], None).unwrap();
        let x = Tensor::from_vec(vec![2.0f32, 1.0, 4.0, -1.0, 1.0, 2.0], &[2, 3]).unwrap();
        let e = InputXGradient::default()
            .attribute(&m, &x, &[0, 1])
            .unwrap();
        assert_eq!(
            e.attributions.to_vec_f32().unwrap(),
            vec![2.0, -2.0, 2.0, -3.0, 0.0, 2.0]
        );
        let m = mlp(3);
        let x = randn(&mut Rng::new(1), &[5, 6], 1.0);
        let a = InputXGradient::default()
            .attribute(&m, &x, &[0, 1, 2, 0, 1])
            .unwrap();
        let b = InputXGradient { batch_size: 2 }
            .attribute(&m, &x, &[0, 1, 2, 0, 1])
            .unwrap();
        assert!(crate::testing::rel_l2(&a.attributions, &b.attributions) < 1e-5);
    }
}
