//! Losses on logits, written in differentiable ops (so gradients and gradients of gradients
//! come from the tape), and weight penalties.

use xai_autodiff::Var;
use xai_tensor::{bail, Result, Tensor};

fn index_column(targets: &[usize], like: &Var) -> Result<Tensor> {
    Tensor::from_vec(
        targets.iter().map(|&t| t as f64).collect::<Vec<_>>(),
        &[targets.len(), 1],
    )?
    .to_dtype(like.value().dtype())
}

/// Mean cross-entropy of logits `[N, K]` against classes, through a stable log-softmax
/// (log-sum-exp with the max subtracted). With label smoothing ε the target distribution is
/// (1 − ε)·onehot + ε/K: loss = (1 − ε)·(−log p_y) + ε·mean_k(−log p_k) (PyTorch's definition).
pub fn cross_entropy(logits: &Var, targets: &[usize], label_smoothing: f64) -> Result<Var> {
    let [n, k] = logits.shape() else {
        bail!(
            "cross_entropy",
            "logits must be [N, K], got {:?}",
            logits.shape()
        )
    };
    if targets.len() != *n {
        bail!(
            "cross_entropy",
            "{} targets for {n} examples",
            targets.len()
        );
    }
    if let Some(&bad) = targets.iter().find(|&&t| t >= *k) {
        bail!("cross_entropy", "class {bad} out of range for {k} outputs");
    }
    let logp = logits.log_softmax(1)?;
    let nll = logp
        .gather(1, &index_column(targets, logits)?)?
        .mean_all()?
        .neg()?;
    if label_smoothing == 0.0 {
        return Ok(nll);
    }
    let uniform = logp.mean_all()?.neg()?;
    nll.mul_scalar(1.0 - label_smoothing)?
        .add(&uniform.mul_scalar(label_smoothing)?)
}

/// Mean squared error between `pred` and a target tensor of the same shape.
pub fn mse(pred: &Var, target: &Tensor) -> Result<Var> {
    pred.sub(&Var::constant(target.clone()))?
        .square()?
        .mean_all()
}

/// Mean binary cross-entropy on logits z with targets t ∈ [0, 1]: softplus(z) − z·t
/// (= −t·log σ(z) − (1 − t)·log(1 − σ(z)), stable for large |z|).
pub fn bce_with_logits(logits: &Var, target: &Tensor) -> Result<Var> {
    logits
        .softplus()?
        .sub(&logits.mul_const(target)?)?
        .mean_all()
}

/// λ·Σ‖w‖₂² over the given parameters (L2 penalty).
pub fn l2_penalty(params: &[&Var], lambda: f64) -> Result<Option<Var>> {
    penalty(params, lambda, |p| p.square())
}

/// λ·Σ‖w‖₁ over the given parameters (L1 penalty).
pub fn l1_penalty(params: &[&Var], lambda: f64) -> Result<Option<Var>> {
    penalty(params, lambda, |p| p.abs())
}

fn penalty(params: &[&Var], lambda: f64, f: impl Fn(&Var) -> Result<Var>) -> Result<Option<Var>> {
    let mut total: Option<Var> = None;
    for p in params {
        let term = f(p)?.sum_all()?;
        total = Some(match total {
            Some(t) => t.add(&term)?,
            None => term,
        });
    }
    total.map(|t| t.mul_scalar(lambda)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xai_autodiff::gradcheck;
    use xai_tensor::{DType, Rng};

    fn randn(s: &[usize], seed: u64) -> Tensor {
        Rng::new(seed).normal(s, 0.0, 2.0, DType::F64).unwrap()
    }

    #[test]
    fn cross_entropy_value_and_gradient() {
        let z = Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 1000.0, 0.0, -1000.0], &[2, 3]).unwrap();
        let l = cross_entropy(&Var::constant(z), &[2, 0], 0.0)
            .unwrap()
            .value()
            .to_scalar()
            .unwrap();
        let lse: f64 = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
        assert!(
            (l - (lse - 3.0) / 2.0).abs() < 1e-12,
            "stable with huge logits: {l}"
        );
        let f = |v: &[Var]| cross_entropy(&v[0], &[1, 0, 2], 0.1);
        gradcheck(f, &[randn(&[3, 4], 1)], 1e-5, 1e-8).unwrap();
        // smoothing: ε = 1 gives the mean negative log-probability over classes.
        let z = randn(&[2, 3], 2);
        let l = cross_entropy(&Var::constant(z.clone()), &[0, 1], 1.0)
            .unwrap()
            .value()
            .to_scalar()
            .unwrap();
        let want = -z
            .log_softmax(1)
            .unwrap()
            .to_vec_f64()
            .unwrap()
            .iter()
            .sum::<f64>()
            / 6.0;
        assert!((l - want).abs() < 1e-12);
    }

    #[test]
    fn other_losses_and_penalties_match_their_formulas() {
        gradcheck(
            |v| mse(&v[0], &Tensor::ones(&[2, 3], DType::F64)),
            &[randn(&[2, 3], 3)],
            1e-5,
            1e-8,
        )
        .unwrap();
        let t = Tensor::from_vec(vec![1.0f64, 0.0, 1.0], &[3]).unwrap();
        gradcheck(
            |v| bce_with_logits(&v[0], &t),
            &[randn(&[3], 4)],
            1e-5,
            1e-8,
        )
        .unwrap();
        let z = Var::constant(Tensor::from_vec(vec![0.3f64, -40.0, 40.0], &[3]).unwrap());
        let got = bce_with_logits(&z, &t)
            .unwrap()
            .value()
            .to_scalar()
            .unwrap();
        let s = |x: f64| 1.0 / (1.0 + (-x).exp());
        let want = (-(s(0.3).ln()) - (1.0 - s(-40.0)).ln() - s(40.0).ln()) / 3.0;
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        gradcheck(
            |v| Ok(l2_penalty(&[&v[0], &v[1]], 0.5)?.unwrap()),
            &[randn(&[2], 5), randn(&[3], 6)],
            1e-5,
            1e-8,
        )
        .unwrap();
        let w = Var::constant(Tensor::from_vec(vec![1.0f64, -2.0], &[2]).unwrap());
        assert_eq!(
            l1_penalty(&[&w], 0.5)
                .unwrap()
                .unwrap()
                .value()
                .to_scalar()
                .unwrap(),
            1.5
        );
    }
}
