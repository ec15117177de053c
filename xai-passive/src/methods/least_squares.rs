//! Weighted (ridge) least squares shared by the surrogate methods (LIME, Kernel SHAP), through
//! LAPACK (ndarray-linalg on the system OpenBLAS): min_β Σᵣ wᵣ (yᵣ − xᵣ·β)² + α‖β‖² solved
//! from the normal equations (XᵀWX + αI) β = XᵀWy by a Cholesky factorisation (`potrf`,
//! `potrs`). The design X is shared by many targets y (one per explained example), so the Gram
//! matrix is formed (one GEMM) and factored once and all right-hand sides XᵀWY come from one
//! more GEMM.

use crate::{PassiveError, Result};
use ndarray::{Array1, Array2, ArrayView2, Axis, OwnedRepr};
use ndarray_linalg::{CholeskyFactorized, FactorizeC, SolveC, UPLO};

/// The factored normal equations of a weighted design: XᵀW (`p × rows`) and the Cholesky
/// factor of XᵀWX + αI + εI, where the jitter ε = 1e-12·max diag keeps systems with too few
/// samples finite.
pub struct WeightedLeastSquares {
    xtw: Array2<f64>,
    factor: CholeskyFactorized<OwnedRepr<f64>>,
}

impl WeightedLeastSquares {
    /// Factors the design `x` (`rows × p`) with row weights `w` and ridge penalty `alpha`.
    pub fn new(x: ArrayView2<f64>, w: &[f64], alpha: f64) -> Result<Self> {
        // OpenBLAS's own threads race with concurrent callers: keep it at one per call.
        xai_tensor::cpu::single_threaded_blas();
        let p = x.ncols();
        let mut xtw = x.t().to_owned();
        for (mut col, &wr) in xtw.axis_iter_mut(Axis(1)).zip(w) {
            col *= wr;
        }
        let mut gram = xtw.dot(&x);
        let maxd = gram.diag().iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let jitter = 1e-12 * maxd.max(1e-300);
        for i in 0..p {
            gram[[i, i]] += alpha + jitter;
        }
        let singular = || {
            PassiveError::BadArgument(
                "the least-squares system is singular (too few samples?)".into(),
            )
        };
        if gram.iter().any(|v| !v.is_finite()) {
            return Err(singular());
        }
        let factor = gram.factorizec(UPLO::Lower).map_err(|_| singular())?;
        Ok(Self { xtw, factor })
    }

    /// β for each column of `ys` (`rows × k`): the coefficients `p × k`.
    pub fn solve(&self, ys: ArrayView2<f64>) -> Result<Array2<f64>> {
        let rhs = self.xtw.dot(&ys);
        let mut beta = Array2::zeros(rhs.raw_dim());
        for (col, mut out) in rhs.axis_iter(Axis(1)).zip(beta.axis_iter_mut(Axis(1))) {
            let b: Array1<f64> = self.factor.solvec(&col).map_err(|e| {
                PassiveError::BadArgument(format!("least-squares solve failed: {e}"))
            })?;
            out.assign(&b);
        }
        Ok(beta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn recovers_exact_coefficients_and_ridge_shrinks() {
        // rows × 3 design, y = X·[1, −2, 0.5] (two targets: β and 2β).
        let x = array![
            [1.0, 0.0, 2.0],
            [0.5, 1.0, -1.0],
            [2.0, 3.0, 0.0],
            [-1.0, 1.0, 1.0],
            [0.0, 2.0, 4.0]
        ];
        let beta = array![1.0, -2.0, 0.5];
        let y = x.dot(&beta);
        let ys = ndarray::stack![Axis(1), y, &y * 2.0];
        let w = [1.0, 2.0, 0.5, 1.0, 3.0];
        let got = WeightedLeastSquares::new(x.view(), &w, 0.0)
            .unwrap()
            .solve(ys.view())
            .unwrap();
        for j in 0..3 {
            assert!((got[[j, 0]] - beta[j]).abs() < 1e-9);
            assert!((got[[j, 1]] - 2.0 * beta[j]).abs() < 1e-9);
        }
        // Ridge: (XᵀWX + αI) β = XᵀWy holds for the returned β.
        let ridge = WeightedLeastSquares::new(x.view(), &w, 10.0)
            .unwrap()
            .solve(ys.view())
            .unwrap();
        let mut xw = x.clone();
        for (mut r, &wr) in xw.axis_iter_mut(Axis(0)).zip(&w) {
            r *= wr;
        }
        let lhs = x.t().dot(&xw).dot(&ridge.column(0)) + &ridge.column(0) * 10.0;
        let rhs = xw.t().dot(&y);
        for (a, b) in lhs.iter().zip(&rhs) {
            assert!((a - b).abs() < 1e-8 * (1.0 + b.abs()));
        }
        assert!(ridge.column(0).dot(&ridge.column(0)) < beta.dot(&beta));
    }

    #[test]
    fn a_rank_deficient_design_gives_finite_values_or_a_clear_error() {
        let x = array![[1.0, 1.0], [2.0, 2.0]];
        match WeightedLeastSquares::new(x.view(), &[1.0, 1.0], 0.0) {
            Ok(s) => assert!(s
                .solve(array![[1.0], [2.0]].view())
                .map(|b| b.iter().all(|v| v.is_finite()))
                .unwrap_or(true)),
            Err(e) => assert!(e.to_string().contains("singular")),
        }
    }
}
