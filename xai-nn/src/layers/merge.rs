//! Ops that merge several nodes' outputs: `add` (a residual connection's sum), `mul` (a gate)
//! and `concat` (channels side by side), PyTorch's `x + y`, `x * y` and `torch.cat`.

use super::{Arity, Fields, Module};
use serde_json::{json, Map, Value};
use xai_autodiff::Var;

/// The per-example shape of a broadcast of `inputs` (PyTorch's rule, axis by axis: equal, or
/// one of them 1). Every input carries the batch axis first, so inputs of different ranks
/// would align the batch axis with an example axis: they are refused.
fn broadcast(inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
    let mut out = inputs[0].to_vec();
    for s in &inputs[1..] {
        if s.len() != out.len() {
            return Err(format!(
                "inputs of shapes {:?} do not broadcast (ranks differ)",
                inputs
            ));
        }
        for (o, &d) in out.iter_mut().zip(s.iter()) {
            match (*o, d) {
                (a, b) if a == b => {}
                (1, b) => *o = b,
                (_, 1) => {}
                _ => return Err(format!("inputs of shapes {:?} do not broadcast", inputs)),
            }
        }
    }
    Ok(out)
}

/// An elementwise merge of two or more inputs, broadcast: their sum y = Σᵢ xᵢ (a residual
/// connection) or their product y = Πᵢ xᵢ (a gate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    Add,
    Mul,
}

impl Module for Merge {
    /// `add` is monotone (the sum of the ends); `mul` takes the extreme end products.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        Some(match self {
            Merge::Add => crate::interval::Interval::monotone(self, inputs),
            Merge::Mul => inputs[1..]
                .iter()
                .try_fold(inputs[0].clone(), |acc, b| acc.product(b)),
        })
    }
    fn op(&self) -> &'static str {
        match self {
            Merge::Add => "add",
            Merge::Mul => "mul",
        }
    }
    fn arity(&self) -> Arity {
        Arity::Many
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        let step = |a: &Var, b: &Var| match self {
            Merge::Add => a.add(b),
            Merge::Mul => a.mul(b),
        };
        let mut y = step(&inputs[0], &inputs[1])?;
        for x in &inputs[2..] {
            y = step(&y, x)?;
        }
        Ok(y)
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        broadcast(inputs)
    }
    fn spec(&self) -> Map<String, Value> {
        Map::new()
    }
}

/// The inputs side by side along axis `dim` of the batch tensor (PyTorch's `torch.cat(…, dim)`;
/// `dim` 1, the channels, by default). The batch axis, 0, cannot be concatenated.
#[derive(Debug)]
pub struct Concat {
    pub dim: usize,
}

impl Concat {
    pub(crate) fn build(f: &Fields) -> crate::Result<Self> {
        let dim = f.usize_or("dim", 1)?;
        if dim == 0 {
            return Err(crate::error::arch(
                f.name,
                f.op,
                "dim must be at least 1 (0 is the batch axis)",
            ));
        }
        Ok(Self { dim })
    }
}

impl Module for Concat {
    /// Monotone non-decreasing: the op on both ends.
    fn interval(
        &self,
        inputs: &[crate::interval::Interval],
    ) -> Option<xai_tensor::Result<crate::interval::Interval>> {
        Some(crate::interval::Interval::monotone(self, inputs))
    }

    fn op(&self) -> &'static str {
        "concat"
    }
    fn arity(&self) -> Arity {
        Arity::Many
    }
    fn forward(&self, inputs: &[Var], _: &mut super::Ctx) -> xai_tensor::Result<Var> {
        Var::cat(inputs, self.dim)
    }
    fn out_shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let axis = self.dim - 1;
        let first = inputs[0];
        if axis >= first.len() {
            return Err(format!(
                "dim {} is beyond inputs of shape {first:?} (with the batch axis: rank {})",
                self.dim,
                first.len() + 1
            ));
        }
        let mut out = first.to_vec();
        for s in &inputs[1..] {
            let same_rest = s.len() == first.len()
                && s.iter()
                    .zip(first.iter())
                    .enumerate()
                    .all(|(i, (a, b))| i == axis || a == b);
            if !same_rest {
                return Err(format!(
                    "inputs of shapes {inputs:?} differ off dim {}",
                    self.dim
                ));
            }
            out[axis] = out[axis]
                .checked_add(s[axis])
                .ok_or("the concatenated size overflows")?;
        }
        Ok(out)
    }
    fn spec(&self) -> Map<String, Value> {
        json!({"dim": self.dim})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_follows_pytorch_per_axis_and_refuses_mismatches() {
        assert_eq!(broadcast(&[&[3, 4, 4], &[3, 1, 1]]).unwrap(), [3, 4, 4]);
        assert_eq!(broadcast(&[&[1, 4], &[3, 1]]).unwrap(), [3, 4]);
        assert!(broadcast(&[&[3, 4, 4], &[2, 4, 4]]).is_err());
        assert!(broadcast(&[&[3, 4, 4], &[4]]).is_err());
    }

    #[test]
    fn concat_adds_up_its_axis_and_checks_the_others() {
        let c = Concat { dim: 1 };
        assert_eq!(c.out_shape(&[&[2, 5, 5], &[3, 5, 5]]).unwrap(), [5, 5, 5]);
        assert!(c.out_shape(&[&[2, 5, 5], &[3, 4, 5]]).is_err());
        assert!(Concat { dim: 4 }
            .out_shape(&[&[2, 5, 5], &[2, 5, 5]])
            .is_err());
    }
}
