//! Second order over a model's parameters: the gradient of a loss, and **Hessian-vector
//! products** Hv, with respect to all of a model's parameters or a named subset (`"3.weight"`),
//! by double backprop — what influence functions (Koh & Liang 2017: H⁻¹∇L by conjugate
//! gradients or LiSSA, which only ever ask for Hv) and tree-regularization surrogates stand on.
//!
//! Hv is exact, not a finite difference: Pearlmutter (1994), *Fast exact multiplication by the
//! Hessian*, shows it costs a small constant times one gradient, and that Hv is the
//! directional derivative of the gradient along v. His R{·} pass computes that derivative
//! forward; here it is computed by a second reverse pass (double backprop), with the same value:
//!
//! ```text
//! Hv = ∇_θ ( ∇_θ L(θ) · v )
//! ```
//!
//! the first gradient taken with `create_graph` (so it is itself on the tape), dotted with the
//! constant v, and differentiated once more. [`ParamHessian`] keeps the first gradient's graph,
//! so a solver asking for many products at one θ and one batch pays the forward pass and the
//! first backward pass once.
//!
//! The whole batch goes through one forward pass (no per-example loops); the model runs in
//! inference mode ([`Ctx::eval`]: dropout off, batch norm on its running statistics), the
//! model a trained network's influence is computed for. For checks against finite
//! differences, convert the model with [`Graph::to_dtype`] to f64.
//!
//! ```
//! use xai_autodiff::Var;
//! use xai_nn::hessian::ParamHessian;
//! use xai_nn::layers::Linear;
//! use xai_nn::{Node, Graph};
//! use xai_tensor::Tensor;
//!
//! // One weight w, input x = 2, loss (x·w)² = 4w²: ∂L/∂w = 8w, ∂²L/∂w² = 8.
//! let w = Var::leaf(Tensor::from_vec(vec![0.5f64], &[1, 1])?);
//! let fc = Node::new("fc", Box::new(Linear { weight: w, bias: None }));
//! let model = Graph::sequential(vec![1], vec![fc], None)?;
//! let x = Tensor::from_vec(vec![2.0f64], &[1, 1])?;
//! let h = ParamHessian::new(&model, &x, |out| out.square()?.sum_all(), None)?;
//! assert_eq!(h.names(), ["fc.weight"]);
//! assert_eq!(h.gradient()[0].to_vec_f64()?, [4.0]);
//! let v = Tensor::from_vec(vec![3.0f64], &[1, 1])?;
//! assert_eq!(h.hvp(&[v])?[0].to_vec_f64()?, [24.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::NnError;
use crate::graph::Graph;
use crate::layers::Ctx;
use crate::loss::cross_entropy;
use crate::model::Forward;
use crate::Result;
use std::collections::HashSet;
use xai_autodiff::{enable_grad, grad, GradOptions, Var};
use xai_tensor::Tensor;

/// The loss of one batch with its gradient over chosen parameters kept on the tape, ready for
/// Hessian-vector products at this θ ([`hvp`](Self::hvp)), any number of them.
pub struct ParamHessian {
    names: Vec<String>,
    params: Vec<Var>,
    loss: Var,
    /// ∇_θ L for each selected parameter, recorded (`create_graph`).
    grads: Vec<Var>,
}

impl std::fmt::Debug for ParamHessian {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamHessian")
            .field("names", &self.names)
            .field("loss", self.loss.value())
            .finish_non_exhaustive()
    }
}

impl ParamHessian {
    /// Runs `model` on the batch `x` (`[N, ...input_shape]`, converted to the model's dtype)
    /// in one forward pass, applies `loss` to its output (it must give a scalar), and records
    /// the loss's gradient over the parameters named in `params` (all of them, in the model's
    /// order, for `None`; else in the order given).
    ///
    /// **Errors** (one line each): a batch that does not fit the model or holds NaN/∞, an
    /// unknown, repeated or frozen parameter name, an empty selection, a loss that is not a
    /// scalar, or a failing op.
    pub fn new(
        model: &Graph,
        x: &Tensor,
        loss: impl FnOnce(&Var) -> xai_tensor::Result<Var>,
        params: Option<&[&str]>,
    ) -> Result<Self> {
        enable_grad(|| Self::recorded(model, x, loss, params))
    }

    /// [`new`](Self::new) with the mean cross-entropy of the model's logits against `labels`
    /// (one class per example), the training loss of [`crate::train()`] without smoothing.
    pub fn cross_entropy(
        model: &Graph,
        x: &Tensor,
        labels: &[usize],
        params: Option<&[&str]>,
    ) -> Result<Self> {
        Self::new(model, x, |out| cross_entropy(out, labels, 0.0), params)
    }

    fn recorded(
        model: &Graph,
        x: &Tensor,
        loss: impl FnOnce(&Var) -> xai_tensor::Result<Var>,
        params: Option<&[&str]>,
    ) -> Result<Self> {
        let (names, params, loss) = forward_loss(model, x, loss, params)?;
        let refs: Vec<&Var> = params.iter().collect();
        let grads = grad(
            &loss,
            None,
            &refs,
            &GradOptions {
                create_graph: true,
                rule: None,
            },
        )?;
        Ok(Self {
            names,
            params,
            loss,
            grads,
        })
    }

    /// The selected parameters' names, in the order of [`gradient`](Self::gradient), of the
    /// vectors [`hvp`](Self::hvp) takes and of the products it returns.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The loss value (a scalar tensor).
    pub fn loss(&self) -> &Tensor {
        self.loss.value()
    }

    /// ∇_θ L: one tensor per selected parameter, of its shape.
    pub fn gradient(&self) -> Vec<Tensor> {
        self.grads.iter().map(|g| g.value().clone()).collect()
    }

    /// Hv = ∇_θ (∇_θ L · v) for `v`, one tensor per selected parameter in the order of
    /// [`names`](Self::names), each of that parameter's shape (converted to its dtype and
    /// device). Returns one tensor per parameter, the block rows of the Hessian over the
    /// selection applied to v.
    ///
    /// **Errors** (one line, naming the parameter): a count that is not one per parameter, a
    /// tensor of the wrong shape, NaN or infinite entries.
    pub fn hvp(&self, v: &[Tensor]) -> Result<Vec<Tensor>> {
        if v.len() != self.params.len() {
            return Err(NnError::Input(format!(
                "v has {} tensors but {} parameters are selected ({})",
                v.len(),
                self.params.len(),
                self.names.join(", ")
            )));
        }
        let mut dot: Option<Var> = None;
        enable_grad(|| -> Result<()> {
            for ((name, (p, g)), vi) in self
                .names
                .iter()
                .zip(self.params.iter().zip(&self.grads))
                .zip(v)
            {
                if vi.shape() != p.shape() {
                    return Err(param_err(
                        name,
                        format!(
                            "v has shape {:?} but the parameter has shape {:?}",
                            vi.shape(),
                            p.shape()
                        ),
                    ));
                }
                // Checked after the conversion: an f64 value beyond f32's range becomes infinite.
                let vi = vi.to_dtype(p.value().dtype())?;
                if vi.has_non_finite()? {
                    return Err(param_err(
                        name,
                        format!(
                            "v contains NaN or infinite values (in {}, the parameter's dtype)",
                            format!("{:?}", vi.dtype()).to_lowercase()
                        ),
                    ));
                }
                let vi = vi.to_device(p.value().device())?;
                let term = g.mul_const(&vi)?.sum_all()?;
                dot = Some(match dot.take() {
                    Some(d) => d.add(&term)?,
                    None => term,
                });
            }
            Ok(())
        })?;
        let dot = dot.ok_or_else(|| NnError::Input("no parameters selected".into()))?;
        let refs: Vec<&Var> = self.params.iter().collect();
        Ok(grad(&dot, None, &refs, &GradOptions::default())?
            .into_iter()
            .map(|h| h.value().clone())
            .collect())
    }
}

/// ∇_θ L by name over the parameters named in `params` (all for `None`), for the batch `x` and
/// `loss` as in [`ParamHessian::new`], without recording the backward pass.
///
/// **Errors** as [`ParamHessian::new`].
pub fn loss_gradient(
    model: &Graph,
    x: &Tensor,
    loss: impl FnOnce(&Var) -> xai_tensor::Result<Var>,
    params: Option<&[&str]>,
) -> Result<Vec<(String, Tensor)>> {
    let (names, params, loss) = enable_grad(|| forward_loss(model, x, loss, params))?;
    let refs: Vec<&Var> = params.iter().collect();
    let grads = grad(&loss, None, &refs, &GradOptions::default())?;
    Ok(names
        .into_iter()
        .zip(grads)
        .map(|(n, g)| (n, g.value().clone()))
        .collect())
}

/// One Hessian-vector product: [`ParamHessian::new`] then [`ParamHessian::hvp`]. For several
/// products at the same θ and batch, keep the [`ParamHessian`].
///
/// **Errors** as those two.
pub fn hvp(
    model: &Graph,
    x: &Tensor,
    loss: impl FnOnce(&Var) -> xai_tensor::Result<Var>,
    params: Option<&[&str]>,
    v: &[Tensor],
) -> Result<Vec<Tensor>> {
    ParamHessian::new(model, x, loss, params)?.hvp(v)
}

/// The selection, and the scalar loss of one recorded forward pass of the batch.
fn forward_loss(
    model: &Graph,
    x: &Tensor,
    loss: impl FnOnce(&Var) -> xai_tensor::Result<Var>,
    params: Option<&[&str]>,
) -> Result<(Vec<String>, Vec<Var>, Var)> {
    let (names, params) = select(model, params)?;
    let x = batch(model, x, &params[0])?;
    let out = model.forward_ctx(&Var::constant(x), &mut Ctx::eval())?;
    let loss = loss(&out)?;
    if loss.value().numel() != 1 {
        return Err(NnError::Config(format!(
            "the loss must be a scalar, got shape {:?}",
            loss.shape()
        )));
    }
    Ok((names, params, loss))
}

fn param_err(name: &str, msg: impl Into<String>) -> NnError {
    NnError::Parameter {
        name: name.into(),
        msg: msg.into(),
    }
}

/// The selected parameters (names and vars), checked: known, once each, differentiable.
fn select(model: &Graph, params: Option<&[&str]>) -> Result<(Vec<String>, Vec<Var>)> {
    let all = model.named_params();
    let chosen: Vec<(String, Var)> = match params {
        None => all.iter().map(|(n, v)| (n.clone(), (*v).clone())).collect(),
        Some(wanted) => {
            let mut seen = HashSet::new();
            let mut chosen = Vec::with_capacity(wanted.len());
            for &w in wanted {
                if !seen.insert(w) {
                    return Err(param_err(w, "named twice"));
                }
                let Some((n, v)) = all.iter().find(|(n, _)| n == w) else {
                    let known: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
                    return Err(param_err(
                        w,
                        format!(
                            "the model has no such parameter (it has: {})",
                            known.join(", ")
                        ),
                    ));
                };
                chosen.push((n.clone(), (*v).clone()));
            }
            chosen
        }
    };
    if chosen.is_empty() {
        return Err(NnError::Input(
            "no parameters selected (the model has none, or the list is empty)".into(),
        ));
    }
    if let Some((n, _)) = chosen.iter().find(|(_, v)| !v.requires_grad()) {
        return Err(param_err(n, "does not require a gradient (frozen)"));
    }
    Ok(chosen.into_iter().unzip())
}

/// The batch checked against the model and converted to the dtype and device of `like`.
fn batch(model: &Graph, x: &Tensor, like: &Var) -> Result<Tensor> {
    let want = model.input_shape();
    if x.rank() != want.len() + 1 || x.shape()[1..] != *want {
        return Err(NnError::Input(format!(
            "batch of shape {:?} does not match the model's input shape {want:?} (expected [N, {}])",
            x.shape(),
            want.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if x.shape()[0] == 0 {
        return Err(NnError::Input("empty batch".into()));
    }
    // Checked after the conversion: an f64 value beyond f32's range becomes infinite.
    let x = x.to_dtype(like.value().dtype())?;
    if x.has_non_finite()? {
        return Err(NnError::Input(format!(
            "contains NaN or infinite values (in {}, the model's dtype)",
            format!("{:?}", x.dtype()).to_lowercase()
        )));
    }
    Ok(x.to_device(like.value().device())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{
        Activation, ActivationKind, AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, Module,
    };
    use crate::loss::mse;
    use crate::Node;
    use xai_tensor::{Conv2dParams, DType, Pool2dParams, Rng};

    /// Central-difference step of the gradient (f64).
    const EPS: f64 = 1e-5;

    fn randn(shape: &[usize], seed: u64, std: f64, dtype: DType) -> Tensor {
        Rng::new(seed).normal(shape, 0.0, std, dtype).unwrap()
    }

    /// A parameter as a trained model would hold it: f32.
    fn param(shape: &[usize], seed: u64) -> Var {
        Var::leaf(randn(shape, seed, 0.6, DType::F32))
    }

    fn layer(name: &str, layer: Box<dyn Module>) -> Node {
        Node::new(name, layer)
    }

    fn linear(i: usize, o: usize, seed: u64) -> Box<Linear> {
        Box::new(Linear {
            weight: param(&[o, i], seed),
            bias: Some(param(&[o], seed + 1)),
        })
    }

    fn act(kind: ActivationKind) -> Box<Activation> {
        Box::new(Activation::new(kind))
    }

    /// 5 → 8 → tanh → 6 → softplus → 3, converted to f64.
    fn mlp() -> Graph {
        Graph::sequential(
            vec![5],
            vec![
                layer("0", linear(5, 8, 10)),
                layer("1", act(ActivationKind::Tanh)),
                layer("2", linear(8, 6, 20)),
                layer("3", act(ActivationKind::Softplus)),
                layer("4", linear(6, 3, 30)),
            ],
            None,
        )
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
    }

    fn conv(c: usize, o: usize, k: usize, pad: usize, seed: u64) -> Box<Conv2d> {
        Box::new(Conv2d {
            weight: param(&[o, c, k, k], seed),
            bias: Some(param(&[o], seed + 1)),
            params: Conv2dParams {
                stride: [1, 1],
                padding: [pad, pad],
                dilation: [1, 1],
            },
        })
    }

    /// [2, 6, 6] → conv 3×3 (pad 1) → tanh → max-pool 2 → conv 2×2 → softplus → avg-pool 2
    /// (stride 1) → flatten → linear → 3, converted to f64: second derivatives through both
    /// convolution adjoints, both poolings and both activations.
    fn cnn() -> Graph {
        let pool = |k| Pool2dParams {
            kernel: [k, k],
            stride: [k, k],
        };
        Graph::sequential(
            vec![2, 6, 6],
            vec![
                layer("0", conv(2, 3, 3, 1, 40)),
                layer("1", act(ActivationKind::Tanh)),
                layer("2", Box::new(MaxPool2d { params: pool(2) })),
                layer("3", conv(3, 4, 2, 0, 50)),
                layer("4", act(ActivationKind::Softplus)),
                layer(
                    "5",
                    Box::new(AvgPool2d {
                        params: Pool2dParams {
                            kernel: [2, 2],
                            stride: [1, 1],
                        },
                    }),
                ),
                layer("6", Box::new(Flatten)),
                layer("7", linear(4, 3, 60)),
            ],
            None,
        )
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
    }

    /// A random direction over the selected parameters.
    fn direction(h: &ParamHessian, seed: u64) -> Vec<Tensor> {
        h.gradient()
            .iter()
            .enumerate()
            .map(|(i, g)| randn(g.shape(), seed + i as u64, 1.0, DType::F64))
            .collect()
    }

    /// Sets the named parameters of `model` to `values` (new leaves).
    fn set_params(model: &mut Graph, values: &[(String, Tensor)]) {
        for l in model.nodes_mut() {
            let layer = l.name.clone();
            for (suffix, p) in l.layer.params_mut() {
                let name = format!("{layer}.{suffix}");
                if let Some((_, t)) = values.iter().find(|(n, _)| *n == name) {
                    *p = Var::leaf(t.clone());
                }
            }
        }
    }

    fn values(model: &Graph, names: &[String]) -> Vec<(String, Tensor)> {
        names
            .iter()
            .map(|n| {
                let (_, v) = model
                    .named_params()
                    .into_iter()
                    .find(|(m, _)| m == n)
                    .unwrap();
                (n.clone(), v.value().clone())
            })
            .collect()
    }

    /// (g(θ + εv) − g(θ − εv)) / 2ε over the parameters `names`, θ restored afterwards.
    fn fd_hvp(
        model: &mut Graph,
        x: &Tensor,
        loss: &dyn Fn(&Var) -> xai_tensor::Result<Var>,
        names: &[String],
        v: &[Tensor],
    ) -> Vec<Tensor> {
        let theta = values(model, names);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut at = |sign: f64| {
            let shifted: Vec<(String, Tensor)> = theta
                .iter()
                .zip(v)
                .map(|((n, t), vi)| {
                    (
                        n.clone(),
                        t.add(&vi.mul_scalar(sign * EPS).unwrap()).unwrap(),
                    )
                })
                .collect();
            set_params(model, &shifted);
            loss_gradient(model, x, loss, Some(&refs)).unwrap()
        };
        let (plus, minus) = (at(1.0), at(-1.0));
        set_params(model, &theta);
        plus.iter()
            .zip(&minus)
            .map(|((_, p), (_, m))| p.sub(m).unwrap().mul_scalar(0.5 / EPS).unwrap())
            .collect()
    }

    fn flat(ts: &[Tensor]) -> Vec<f64> {
        ts.iter().flat_map(|t| t.to_vec_f64().unwrap()).collect()
    }

    /// ‖a − b‖₂ / ‖b‖₂ over all parameters together.
    fn rel_err(a: &[Tensor], b: &[Tensor]) -> f64 {
        let (a, b) = (flat(a), flat(b));
        assert_eq!(a.len(), b.len());
        let diff: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum();
        let norm: f64 = b.iter().map(|y| y * y).sum();
        assert!(norm > 1e-12, "a vanishing reference proves nothing");
        (diff / norm).sqrt()
    }

    fn dot(a: &[Tensor], b: &[Tensor]) -> f64 {
        flat(a).iter().zip(flat(b)).map(|(x, y)| x * y).sum()
    }

    fn neg(ts: &[Tensor]) -> Vec<Tensor> {
        ts.iter().map(|t| t.neg().unwrap()).collect()
    }

    /// The same two backward passes with the first one *not* recorded: the "Hessian" that
    /// forgetting `create_graph` gives (zero: ∇L · v is then a constant).
    fn hvp_without_create_graph(
        model: &Graph,
        x: &Tensor,
        labels: &[usize],
        v: &[Tensor],
    ) -> Vec<Tensor> {
        let params = model.named_params();
        let refs: Vec<&Var> = params.iter().map(|(_, p)| *p).collect();
        let out = model.forward(&Var::constant(x.clone())).unwrap();
        let loss = cross_entropy(&out, labels, 0.0).unwrap();
        let g = grad(&loss, None, &refs, &GradOptions::default()).unwrap();
        let mut d = g[0].mul_const(&v[0]).unwrap().sum_all().unwrap();
        for (gi, vi) in g.iter().zip(v).skip(1) {
            d = d
                .add(&gi.mul_const(vi).unwrap().sum_all().unwrap())
                .unwrap();
        }
        grad(&d, None, &refs, &GradOptions::default())
            .unwrap()
            .into_iter()
            .map(|h| h.value().clone())
            .collect()
    }

    use crate::model::Differentiable;

    /// Checks Hv of cross-entropy against finite differences and against the two mistakes a
    /// broken implementation makes; returns the relative error.
    fn check_against_finite_differences(mut model: Graph, x: &Tensor, labels: &[usize]) -> f64 {
        let h = ParamHessian::cross_entropy(&model, x, labels, None).unwrap();
        let names = h.names().to_vec();
        let v = direction(&h, 7);
        let hv = h.hvp(&v).unwrap();
        let ce = |out: &Var| cross_entropy(out, labels, 0.0);
        let fd = fd_hvp(&mut model, x, &ce, &names, &v);
        let err = rel_err(&hv, &fd);
        assert!(
            err <= 1e-6,
            "Hv vs finite differences: relative error {err:e}"
        );
        // The check can fail: a sign slip or a first backward pass left unrecorded is caught.
        assert!(rel_err(&neg(&hv), &fd) > 1.0);
        let flat_hv = flat(&hvp_without_create_graph(&model, x, labels, &v));
        assert!(flat_hv.iter().all(|&e| e == 0.0), "no graph, no Hessian");
        assert!(rel_err(&hvp_without_create_graph(&model, x, labels, &v), &fd) > 0.99);
        // One recorded gradient serves many products: linear in v, and H symmetric.
        let u = direction(&h, 100);
        let hu = h.hvp(&u).unwrap();
        let (uhv, vhu) = (dot(&u, &hv), dot(&v, &hu));
        assert!(
            (uhv - vhu).abs() <= 1e-10 * uhv.abs().max(1.0),
            "{uhv} vs {vhu}"
        );
        let w: Vec<Tensor> = u
            .iter()
            .zip(&v)
            .map(|(a, b)| a.mul_scalar(2.0).unwrap().sub(b).unwrap())
            .collect();
        let hw = h.hvp(&w).unwrap();
        let want: Vec<Tensor> = hu
            .iter()
            .zip(&hv)
            .map(|(a, b)| a.mul_scalar(2.0).unwrap().sub(b).unwrap())
            .collect();
        assert!(rel_err(&hw, &want) < 1e-12);
        err
    }

    #[test]
    fn mlp_hvp_matches_finite_differences_of_the_gradient() {
        let x = randn(&[16, 5], 1, 1.0, DType::F64);
        let labels: Vec<usize> = (0..16).map(|i| i % 3).collect();
        let err = check_against_finite_differences(mlp(), &x, &labels);
        eprintln!("MLP (cross-entropy): relative L2 error of Hv {err:e}");
        // Any scalar of the output is a loss: MSE against a target, through the closure.
        let mut model = mlp();
        let target = randn(&[16, 3], 2, 1.0, DType::F64);
        let loss = |out: &Var| mse(out, &target);
        let h = ParamHessian::new(&model, &x, loss, None).unwrap();
        let v = direction(&h, 3);
        let names = h.names().to_vec();
        let err = rel_err(
            &h.hvp(&v).unwrap(),
            &fd_hvp(&mut model, &x, &loss, &names, &v),
        );
        eprintln!("MLP (MSE closure): relative L2 error of Hv {err:e}");
        assert!(err <= 1e-6, "{err:e}");
    }

    #[test]
    fn cnn_hvp_matches_finite_differences_of_the_gradient() {
        let x = randn(&[6, 2, 6, 6], 4, 1.0, DType::F64);
        let labels = [0, 1, 2, 2, 1, 0];
        let err = check_against_finite_differences(cnn(), &x, &labels);
        eprintln!("CNN (cross-entropy): relative L2 error of Hv {err:e}");
    }

    #[test]
    fn hvp_over_a_named_subset_is_the_block_of_the_full_product() {
        let mut model = mlp();
        let x = randn(&[10, 5], 5, 1.0, DType::F64);
        let labels: Vec<usize> = (0..10).map(|i| (i * 7) % 3).collect();
        let sub = ParamHessian::cross_entropy(&model, &x, &labels, Some(&["4.weight"])).unwrap();
        assert_eq!(sub.names(), ["4.weight"]);
        let v_w = randn(&[3, 6], 6, 1.0, DType::F64);
        let hv_sub = sub.hvp(std::slice::from_ref(&v_w)).unwrap();
        let full = ParamHessian::cross_entropy(&model, &x, &labels, None).unwrap();
        let at = full.names().iter().position(|n| n == "4.weight").unwrap();
        let v: Vec<Tensor> = full
            .gradient()
            .iter()
            .enumerate()
            .map(|(i, g)| {
                if i == at {
                    v_w.clone()
                } else {
                    g.zeros_like().unwrap()
                }
            })
            .collect();
        let hv_full = full.hvp(&v).unwrap();
        let err = rel_err(&hv_sub, &hv_full[at..=at]);
        eprintln!("subset (4.weight): relative L2 error vs the full product's block {err:e}");
        assert!(err < 1e-12, "{err:e}");
        // The other blocks of the full product are the off-diagonal H_{θw}v_w, not zero: the
        // subset is the diagonal block, not the full product restricted.
        assert!(flat(&hv_full[..at]).iter().any(|&e| e.abs() > 1e-6));
        // The gradient by name is the full gradient's entry.
        let g = loss_gradient(
            &model,
            &x,
            |o| cross_entropy(o, &labels, 0.0),
            Some(&["4.weight"]),
        )
        .unwrap();
        assert_eq!(g[0].0, "4.weight");
        assert_eq!(
            g[0].1.to_vec_f64().unwrap(),
            full.gradient()[at].to_vec_f64().unwrap()
        );
        // And the subset against finite differences of the subset's gradient.
        let ce = |out: &Var| cross_entropy(out, &labels, 0.0);
        let fd = fd_hvp(&mut model, &x, &ce, &["4.weight".into()], &[v_w]);
        let err = rel_err(&hv_sub, &fd);
        eprintln!("subset (4.weight): relative L2 error vs finite differences {err:e}");
        assert!(err <= 1e-6, "{err:e}");
    }

    #[test]
    fn an_f32_model_takes_an_f64_batch_and_agrees_with_its_f64_copy() {
        let make = || {
            Graph::sequential(
                vec![5],
                vec![
                    layer("0", linear(5, 4, 70)),
                    layer("1", act(ActivationKind::Tanh)),
                    layer("2", linear(4, 3, 80)),
                ],
                None,
            )
            .unwrap()
        };
        let x = randn(&[8, 5], 9, 1.0, DType::F64);
        let labels = [0, 1, 2, 0, 1, 2, 0, 1];
        let h32 = ParamHessian::cross_entropy(&make(), &x, &labels, None).unwrap();
        let h64 =
            ParamHessian::cross_entropy(&make().to_dtype(DType::F64).unwrap(), &x, &labels, None)
                .unwrap();
        let v = direction(&h64, 11);
        let hv32 = h32.hvp(&v).unwrap();
        assert_eq!(hv32[0].dtype(), DType::F32);
        assert!(rel_err(&hv32, &h64.hvp(&v).unwrap()) < 1e-4);
        // Finite in f64, infinite in the f32 model: refused, the batch and v alike.
        let huge = Tensor::full(&[8, 5], 1e300, DType::F64);
        let e = ParamHessian::cross_entropy(&make(), &huge, &labels, None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "input: contains NaN or infinite values (in f32, the model's dtype)"
        );
        let mut big = v.clone();
        big[0] = Tensor::full(big[0].shape(), 1e300, DType::F64);
        let e = h32.hvp(&big).unwrap_err().to_string();
        assert!(
            e.starts_with("parameter '0.weight': v contains NaN or infinite values (in f32"),
            "{e}"
        );
    }

    #[test]
    fn bad_selections_vectors_and_losses_are_one_line_errors() {
        let model = mlp();
        let x = randn(&[4, 5], 1, 1.0, DType::F64);
        let labels = [0, 1, 2, 0];
        let msg = |e: NnError| {
            let m = e.to_string();
            assert!(!m.contains('\n'), "one line: {m}");
            m
        };
        let e =
            msg(ParamHessian::cross_entropy(&model, &x, &labels, Some(&["4.wieght"])).unwrap_err());
        assert!(
            e.starts_with("parameter '4.wieght': the model has no such parameter")
                && e.contains("4.weight"),
            "{e}"
        );
        let e = msg(
            ParamHessian::cross_entropy(&model, &x, &labels, Some(&["0.bias", "0.bias"]))
                .unwrap_err(),
        );
        assert!(e.contains("'0.bias'") && e.contains("twice"), "{e}");
        assert!(
            msg(ParamHessian::cross_entropy(&model, &x, &labels, Some(&[])).unwrap_err())
                .contains("no parameters selected")
        );
        let bad_x = randn(&[4, 6], 1, 1.0, DType::F64);
        assert!(
            msg(ParamHessian::cross_entropy(&model, &bad_x, &labels, None).unwrap_err())
                .contains("does not match the model's input shape [5]")
        );
        let e = msg(ParamHessian::new(&model, &x, |o| Ok(o.clone()), None).unwrap_err());
        assert!(
            e.contains("the loss must be a scalar, got shape [4, 3]"),
            "{e}"
        );

        let h = ParamHessian::cross_entropy(&model, &x, &labels, Some(&["2.weight", "4.bias"]))
            .unwrap();
        let ok = [
            randn(&[6, 8], 1, 1.0, DType::F64),
            randn(&[3], 2, 1.0, DType::F64),
        ];
        assert!(h.hvp(&ok).is_ok());
        let e = msg(h.hvp(&ok[..1]).unwrap_err());
        assert!(
            e.contains("v has 1 tensors but 2 parameters are selected (2.weight, 4.bias)"),
            "{e}"
        );
        let e = msg(h
            .hvp(&[ok[0].clone(), randn(&[4], 2, 1.0, DType::F64)])
            .unwrap_err());
        assert_eq!(
            e,
            "parameter '4.bias': v has shape [4] but the parameter has shape [3]"
        );
        let nan = Tensor::from_vec(vec![0.0f64, f64::NAN, 1.0], &[3]).unwrap();
        let e = msg(h.hvp(&[ok[0].clone(), nan]).unwrap_err());
        assert_eq!(
            e,
            "parameter '4.bias': v contains NaN or infinite values (in f64, the parameter's dtype)"
        );
        let inf = Tensor::full(&[6, 8], f64::INFINITY, DType::F64);
        assert!(msg(h.hvp(&[inf, ok[1].clone()]).unwrap_err()).starts_with("parameter '2.weight'"));
    }
}
