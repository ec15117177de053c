//! # xai-autodiff
//!
//! Reverse-mode automatic differentiation over [`xai_tensor`] ops, shaped for
//! interpretability:
//!
//! - [`Var`]: a tensor plus the op that made it. Gradients can be taken with respect to inputs
//!   **and any intermediate value** (layer outputs), see [`grad`].
//! - No wasted work: only the part of the graph between the output and the requested
//!   variables is differentiated; parameter gradients are skipped when only input gradients
//!   are asked for.
//! - **Gradient rules** ([`GradRule`]): a method replaces the backward of chosen op kinds for
//!   one backward pass — guided backprop, DeconvNet, LRP and DeepLIFT are such rules (Zhang
//!   et al., *A Survey on Neural Network Interpretability*, Table IV: the chain rule with g in
//!   place of σ′).
//! - Higher-order gradients: every backward rule is written in [`Var`] ops, so with
//!   `create_graph` the gradient is itself differentiable (input-gradient penalties).
//! - [`no_grad`]: nothing is recorded; the graph is freed when its last [`Var`] is dropped.
//! - [`gradcheck()`]: central finite differences in f64, for every op's test.
//!
//! ```
//! use xai_autodiff::{grad, GradOptions, Var};
//! use xai_tensor::Tensor;
//!
//! // f(x) = Σ tanh(x)², so ∂f/∂x = 2·tanh(x)·(1 − tanh(x)²).
//! let x = Var::leaf(Tensor::from_vec(vec![0.5f64, -1.0, 2.0], &[3])?);
//! let f = x.tanh()?.square()?.sum(&[0], false)?;
//! let g = grad(&f, None, &[&x], &GradOptions::default())?;
//! for (gi, xi) in g[0].value().to_vec_f64()?.iter().zip([0.5f64, -1.0, 2.0]) {
//!     assert!((gi - 2.0 * xi.tanh() * (1.0 - xi.tanh().powi(2))).abs() < 1e-12);
//! }
//! # Ok::<(), xai_tensor::Error>(())
//! ```

mod backward;
mod engine;
pub mod gradcheck;
mod mode;
mod op;
mod ops;
mod var;

pub use backward::default_backward;
pub use engine::{grad, grad_tensors, GradOptions, GradRule, RuleCtx};
pub use gradcheck::{gradcheck, gradgradcheck};
pub use mode::{
    current_scope, enable_grad, is_grad_enabled, no_grad, with_grad_mode, with_scope,
    RecordingContext,
};
pub use op::Op;
pub use var::Var;
pub use xai_tensor::{Error, Result, Tensor};

#[cfg(test)]
mod tests;
