//! Interval bound propagation: for a box of inputs lo ≤ x ≤ hi (elementwise), bounds on
//! every node's output over the whole box (Moore's interval arithmetic; in networks, Thrun's
//! validity interval analysis, 1993, and Gowal et al.'s IBP, 2018).
//!
//! Each op has a rule ([`Module::interval`]): a monotone non-decreasing op (ReLU, sigmoid,
//! tanh, softplus, pooling, flatten, nearest or bilinear upsampling, `add`, `concat`) maps the
//! two ends, [f(lo), f(hi)]; an affine op y = Mx + b (linear, convolution, batch norm in
//! inference) maps the centre and the radius, c' = Mc + b, r' = |M| r, so [c' − r', c' + r'];
//! `mul` takes the least and greatest of the four end products. The bounds are exact in the
//! arithmetic of the ops (a box through one affine layer gives the tightest box) and sound in
//! exact arithmetic; computed in the model's own precision they can be off by its rounding,
//! which callers that certify (VIA, [`xai_passive`'s interval rules]) leave a margin for.
//!
//! [`xai_passive`'s interval rules]: https://docs.rs/xai-passive

use crate::layers::{Ctx, Module};
use xai_autodiff::Var;
use xai_tensor::{Result, Tensor};

/// Elementwise bounds `lo ≤ hi` of a batch of values.
#[derive(Clone, Debug)]
pub struct Interval {
    /// Lower bounds.
    pub lo: Tensor,
    /// Upper bounds, the shape of `lo`.
    pub hi: Tensor,
}

impl Interval {
    /// The box of one point.
    pub fn point(x: &Tensor) -> Self {
        Self {
            lo: x.clone(),
            hi: x.clone(),
        }
    }

    /// Centre (lo + hi)/2 and radius (hi − lo)/2.
    pub fn center_radius(&self) -> Result<(Tensor, Tensor)> {
        Ok((
            self.lo.add(&self.hi)?.mul_scalar(0.5)?,
            self.hi.sub(&self.lo)?.mul_scalar(0.5)?,
        ))
    }

    /// [c − r, c + r].
    pub fn from_center_radius(c: &Tensor, r: &Tensor) -> Result<Self> {
        Ok(Self {
            lo: c.sub(r)?,
            hi: c.add(r)?,
        })
    }

    /// The bounds of a monotone non-decreasing op: the op on every input's lower ends, and on
    /// every input's upper ends (run in inference mode).
    pub fn monotone(op: &dyn Module, inputs: &[Interval]) -> Result<Self> {
        let run = |end: &dyn Fn(&Interval) -> &Tensor| -> Result<Tensor> {
            let vars: Vec<Var> = inputs
                .iter()
                .map(|i| Var::constant(end(i).clone()))
                .collect();
            Ok(op.forward(&vars, &mut Ctx::eval())?.value().clone())
        };
        Ok(Self {
            lo: run(&|i| &i.lo)?,
            hi: run(&|i| &i.hi)?,
        })
    }

    /// The bounds of an affine op: `center(c)` = Mc + b and `radius(r)` = |M| r.
    pub fn affine(
        &self,
        center: impl Fn(&Tensor) -> Result<Tensor>,
        radius: impl Fn(&Tensor) -> Result<Tensor>,
    ) -> Result<Self> {
        let (c, r) = self.center_radius()?;
        Self::from_center_radius(&center(&c)?, &radius(&r)?)
    }

    /// The bounds of a layer `op(x, W, b)` affine in `x` (linear, convolution, transposed
    /// convolution): the centre through `op(c, W, b)`, the radius through `op(r, |W|, none)`.
    pub fn through_weights(
        &self,
        weight: &Var,
        bias: Option<&Var>,
        op: impl Fn(&Var, &Var, Option<&Var>) -> Result<Var>,
    ) -> Result<Self> {
        let abs = Var::constant(weight.value().abs()?);
        self.affine(
            |c| Ok(op(&Var::constant(c.clone()), weight, bias)?.value().clone()),
            |r| Ok(op(&Var::constant(r.clone()), &abs, None)?.value().clone()),
        )
    }

    /// The bounds of the elementwise product of two boxes: the least and greatest of
    /// lo·lo, lo·hi, hi·lo, hi·hi.
    pub fn product(&self, other: &Interval) -> Result<Self> {
        let p = [
            self.lo.mul(&other.lo)?,
            self.lo.mul(&other.hi)?,
            self.hi.mul(&other.lo)?,
            self.hi.mul(&other.hi)?,
        ];
        let (mut lo, mut hi) = (p[0].clone(), p[0].clone());
        for q in &p[1..] {
            lo = lo.minimum(q)?;
            hi = hi.maximum(q)?;
        }
        Ok(Self { lo, hi })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{file, Forward};
    use std::path::Path;
    use xai_tensor::{DType, Rng};

    fn fixture(name: &str) -> crate::Graph {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../xai-cli/tests/fixtures");
        file::load(dir.join(name).join("model.json")).unwrap()
    }

    /// Every point sampled in a box has outputs inside the box's bounds, on models with every
    /// rule (linear, conv, batch norm, the pools, dropout, the activations, a residual add).
    #[test]
    fn sampled_outputs_lie_within_the_bounds() {
        for name in ["mlp", "lenet", "cnn_misc", "resnet/random"] {
            let model = fixture(name);
            let mut shape = vec![1];
            shape.extend(model.input_shape());
            let mut rng = Rng::new(7);
            let centre = rng.normal(&shape, 0.0, 1.0, DType::F32).unwrap();
            for width in [0.0, 0.01, 0.3] {
                let half = rng.uniform(&shape, 0.0, width, DType::F32).unwrap();
                let (lo, hi) = (centre.sub(&half).unwrap(), centre.add(&half).unwrap());
                let b = model.interval(&lo, &hi).unwrap();
                let (blo, bhi) = (b.lo.to_vec_f64().unwrap(), b.hi.to_vec_f64().unwrap());
                let mut n_shape = shape.clone();
                n_shape[0] = 256;
                let u = rng.uniform(&n_shape, 0.0, 1.0, DType::F32).unwrap();
                let x = lo.add(&u.mul(&hi.sub(&lo).unwrap()).unwrap()).unwrap();
                let y = model.predict(&x).unwrap().to_vec_f64().unwrap();
                let k = blo.len();
                let scale = 1.0 + bhi.iter().chain(&blo).fold(0.0f64, |m, v| m.max(v.abs()));
                for row in y.chunks(k) {
                    for j in 0..k {
                        assert!(
                            row[j] >= blo[j] - 1e-5 * scale && row[j] <= bhi[j] + 1e-5 * scale,
                            "{name} width {width}: output {j} = {} outside [{}, {}]",
                            row[j],
                            blo[j],
                            bhi[j]
                        );
                    }
                }
                if width == 0.0 {
                    let at = model.predict(&centre).unwrap().to_vec_f64().unwrap();
                    for j in 0..k {
                        assert!(
                            (blo[j] - at[j]).abs() <= 1e-5 * scale
                                && (bhi[j] - at[j]).abs() <= 1e-5 * scale,
                            "{name}: a point's box is the point"
                        );
                    }
                }
            }
        }
    }

    /// Through one affine layer the box is the tightest: each bound is reached at a corner.
    #[test]
    fn one_linear_layer_gives_the_exact_box() {
        use crate::layers::Linear;
        let w = Tensor::from_slice(&[1.0f32, -2.0, 0.5, 3.0], &[2, 2]).unwrap();
        let b = Tensor::from_slice(&[0.25f32, -1.0], &[2]).unwrap();
        let fc = Linear {
            weight: Var::leaf(w),
            bias: Some(Var::leaf(b)),
        };
        let lo = Tensor::from_slice(&[0.0f32, -1.0], &[1, 2]).unwrap();
        let hi = Tensor::from_slice(&[1.0f32, 2.0], &[1, 2]).unwrap();
        let i = fc.interval(&[Interval { lo, hi }]).unwrap().unwrap();
        // y0 = x0 − 2·x1 + 0.25 ∈ [0 − 4 + 0.25, 1 + 2 + 0.25]; y1 = 0.5·x0 + 3·x1 − 1 ∈ [−4, 5.5].
        assert_eq!(i.lo.to_vec_f32().unwrap(), [-3.75, -4.0]);
        assert_eq!(i.hi.to_vec_f32().unwrap(), [3.25, 5.5]);
    }
}
