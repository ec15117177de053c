//! Finite-difference checks of gradients, in f64: the reference every op's backward is tested
//! against.

use crate::engine::{grad, GradOptions};
use crate::var::Var;
use xai_tensor::{DType, Result, Rng, Tensor};

/// Central-difference step.
const EPS: f64 = 1e-6;

/// A scalar projection L(x) = Σ f(x) ⊙ r with a fixed random r, so one backward pass checks
/// every output.
fn project(f: &dyn Fn(&[Var]) -> Result<Var>, xs: &[Var], r: &mut Option<Tensor>) -> Result<Var> {
    let y = f(xs)?;
    if r.is_none() {
        *r = Some(Rng::new(99).normal(y.shape(), 0.0, 1.0, DType::F64)?);
    }
    y.mul_const(r.as_ref().expect("set above"))?.sum_all()
}

/// Checks the gradients of `f` at `inputs` (converted to f64) against central finite
/// differences: |analytic − numeric| ≤ atol + rtol·|numeric| for every element.
/// Returns the largest absolute difference, or an error message naming the worst element.
pub fn gradcheck(
    f: impl Fn(&[Var]) -> Result<Var>,
    inputs: &[Tensor],
    rtol: f64,
    atol: f64,
) -> std::result::Result<f64, String> {
    let run = || -> Result<std::result::Result<f64, String>> {
        let xs: Vec<Tensor> = inputs
            .iter()
            .map(|t| t.to_dtype(DType::F64))
            .collect::<Result<_>>()?;
        let vars: Vec<Var> = xs.iter().map(|t| Var::leaf(t.clone())).collect();
        let mut r = None;
        let l = project(&f, &vars, &mut r)?;
        let refs: Vec<&Var> = vars.iter().collect();
        let analytic = grad(&l, None, &refs, &GradOptions::default())?;
        let mut worst = 0.0f64;
        for (i, x) in xs.iter().enumerate() {
            let base = x.to_vec_f64()?;
            let a = analytic[i].value().to_vec_f64()?;
            for j in 0..base.len() {
                let mut eval = |delta: f64| -> Result<f64> {
                    let mut v = base.clone();
                    v[j] += delta;
                    // Leaves, not constants: `f` may itself differentiate (second-order checks).
                    let mut args: Vec<Var> = xs.iter().map(|t| Var::leaf(t.clone())).collect();
                    args[i] = Var::leaf(Tensor::from_vec(v, x.shape())?);
                    project(&f, &args, &mut r)?.value().to_scalar()
                };
                let numeric = (eval(EPS)? - eval(-EPS)?) / (2.0 * EPS);
                let diff = (a[j] - numeric).abs();
                worst = worst.max(diff);
                if diff > atol + rtol * numeric.abs() {
                    return Ok(Err(format!(
                        "input {i} element {j}: analytic {} vs numeric {numeric} (|diff| {diff:e})",
                        a[j]
                    )));
                }
            }
        }
        Ok(Ok(worst))
    };
    run().map_err(|e| e.to_string())?
}

/// Checks second derivatives: gradcheck of x ↦ Σᵢ ⟨∂L/∂xᵢ, sᵢ⟩ with the first gradient taken
/// with `create_graph`, against finite differences of that gradient.
pub fn gradgradcheck(
    f: impl Fn(&[Var]) -> Result<Var>,
    inputs: &[Tensor],
    rtol: f64,
    atol: f64,
) -> std::result::Result<f64, String> {
    let first = |xs: &[Var]| -> Result<Var> {
        let mut r = None;
        let l = project(&f, xs, &mut r)?;
        let refs: Vec<&Var> = xs.iter().collect();
        let gs = grad(
            &l,
            None,
            &refs,
            &GradOptions {
                create_graph: true,
                rule: None,
            },
        )?;
        let mut total: Option<Var> = None;
        for (k, g) in gs.iter().enumerate() {
            let s = Rng::new(1000 + k as u64).normal(g.shape(), 0.0, 1.0, DType::F64)?;
            let term = g.mul_const(&s)?.sum_all()?;
            total = Some(match total {
                Some(t) => t.add(&term)?,
                None => term,
            });
        }
        total.ok_or_else(|| xai_tensor::Error::BadArgument {
            op: "gradgradcheck",
            msg: "no inputs".into(),
        })
    };
    gradcheck(first, inputs, rtol, atol)
}
