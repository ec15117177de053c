//! Baselines (reference inputs) of the path, perturbation and DeepLIFT methods.

use crate::{PassiveError, Result};
use xai_tensor::{DType, Tensor};

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
    /// Given values: one baseline `[...input_shape]` (or `[1, ...input_shape]`, as a PyTorch
    /// user passes it to Captum) shared by every example, or one per example
    /// `[N, ...input_shape]`.
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
                let one_with_batch_axis = b.rank() == shape.len()
                    && b.shape().first() == Some(&1)
                    && b.shape()[1..] == shape[1..];
                if b.shape() == shape {
                    Ok(b)
                } else if b.shape() == &shape[1..] || one_with_batch_axis {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_baseline_with_a_batch_axis_is_shared_as_captum_takes_it() {
        let x = Tensor::zeros(&[3, 2, 2], DType::F32);
        let one = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[1, 2, 2]).unwrap();
        let b = Baseline::Tensor(one.clone()).resolve(&x).unwrap();
        assert_eq!(b.shape(), &[3, 2, 2]);
        assert_eq!(b.to_vec_f32().unwrap()[8..], [1.0, 2.0, 3.0, 4.0]);
        let flat = Baseline::Tensor(one.reshape(&[2, 2]).unwrap())
            .resolve(&x)
            .unwrap();
        assert_eq!(flat.to_vec_f32().unwrap(), b.to_vec_f32().unwrap());
        let two = Tensor::zeros(&[2, 2, 2], DType::F32);
        let e = Baseline::Tensor(two).resolve(&x).unwrap_err().to_string();
        assert!(e.contains("baseline has shape [2, 2, 2]"), "{e}");
    }
}
