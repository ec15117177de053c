//! Every op's gradient against central finite differences (f64), second derivatives, and
//! gradient rules.

use crate::*;
use std::sync::Arc;
use xai_tensor::{
    Conv2dParams, ConvTranspose2dParams, DType, Pool2dParams, Resample2d, Rng, UpsampleSize,
};

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Rng::new(seed).normal(shape, 0.0, 1.0, DType::F64).unwrap()
}

fn positive(shape: &[usize], seed: u64) -> Tensor {
    Rng::new(seed).uniform(shape, 0.5, 2.0, DType::F64).unwrap()
}

fn check(f: impl Fn(&[Var]) -> Result<Var>, inputs: &[Tensor]) {
    if let Err(e) = gradcheck(f, inputs, 1e-5, 1e-7) {
        panic!("gradcheck failed: {e}");
    }
}

/// One test per op: `name => (inputs) |vars| expression`.
macro_rules! op_gradchecks {
    ($($name:ident => [$($input:expr),*] |$v:ident| $body:expr;)*) => {
        $(#[test] fn $name() { check(|$v: &[Var]| $body, &[$($input),*]); })*
    };
}

op_gradchecks! {
    grad_add_broadcast => [randn(&[2, 3], 1), randn(&[3], 2)] |v| v[0].add(&v[1]);
    grad_sub_broadcast => [randn(&[2, 1], 1), randn(&[2, 3], 2)] |v| v[0].sub(&v[1]);
    grad_mul_broadcast => [randn(&[2, 3, 4], 1), randn(&[3, 1], 2)] |v| v[0].mul(&v[1]);
    grad_div => [randn(&[2, 3], 1), positive(&[2, 3], 2)] |v| v[0].div(&v[1]);
    grad_maximum => [randn(&[2, 5], 1), randn(&[2, 5], 2)] |v| v[0].maximum(&v[1]);
    grad_minimum => [randn(&[2, 5], 1), randn(&[5], 2)] |v| v[0].minimum(&v[1]);
    grad_neg => [randn(&[4], 1)] |v| v[0].neg();
    grad_batch_norm_train => [randn(&[4, 3, 2, 2], 1), positive(&[3], 2), randn(&[3], 3)]
        |v| Ok(v[0].batch_norm_train(&v[1], &v[2], 1e-5)?.0);
    grad_batch_norm_train_1d => [randn(&[5, 2], 1), positive(&[2], 2), randn(&[2], 3)]
        |v| Ok(v[0].batch_norm_train(&v[1], &v[2], 0.1)?.0);
    grad_exp => [randn(&[4], 1)] |v| v[0].exp();
    grad_log => [positive(&[4], 1)] |v| v[0].log();
    grad_sqrt => [positive(&[4], 1)] |v| v[0].sqrt();
    grad_abs => [randn(&[6], 1)] |v| v[0].abs();
    grad_relu => [randn(&[7], 1)] |v| v[0].relu();
    grad_leaky_relu => [randn(&[7], 1)] |v| v[0].leaky_relu(0.1);
    grad_sigmoid => [randn(&[5], 1)] |v| v[0].sigmoid();
    grad_tanh => [randn(&[5], 1)] |v| v[0].tanh();
    grad_softplus => [randn(&[5], 1)] |v| v[0].softplus();
    grad_square => [randn(&[5], 1)] |v| v[0].square();
    grad_recip => [positive(&[5], 1)] |v| v[0].recip();
    grad_powf => [positive(&[5], 1)] |v| v[0].powf(2.5);
    grad_affine => [randn(&[5], 1)] |v| v[0].affine(-3.0, 0.5);
    grad_sum_axes => [randn(&[2, 3, 4], 1)] |v| v[0].sum(&[0, 2], false);
    grad_sum_keepdim => [randn(&[2, 3, 4], 1)] |v| v[0].sum(&[1], true);
    grad_mean => [randn(&[2, 3], 1)] |v| v[0].mean(&[1], false);
    grad_max_axis => [randn(&[3, 4, 2], 1)] |v| v[0].max(1, false);
    grad_broadcast_to => [randn(&[3, 1], 1)] |v| v[0].broadcast_to(&[2, 3, 4]);
    grad_matmul => [randn(&[3, 4], 1), randn(&[4, 5], 2)] |v| v[0].matmul(&v[1]);
    grad_matmul_batched => [randn(&[2, 3, 4], 1), randn(&[2, 4, 2], 2)] |v| v[0].matmul(&v[1]);
    grad_matmul_shared_rhs => [randn(&[2, 3, 4], 1), randn(&[4, 2], 2)] |v| v[0].matmul(&v[1]);
    grad_linear => [randn(&[3, 4], 1), randn(&[5, 4], 2), randn(&[5], 3)] |v| v[0].linear(&v[1], Some(&v[2]));
    grad_conv2d => [randn(&[2, 3, 7, 6], 1), randn(&[4, 3, 3, 2], 2), randn(&[4], 3)]
        |v| v[0].conv2d(&v[1], Some(&v[2]), Conv2dParams { stride: [2, 1], padding: [1, 2], dilation: [1, 1] });
    grad_conv2d_dilated => [randn(&[1, 2, 8, 8], 1), randn(&[3, 2, 3, 3], 2)]
        |v| v[0].conv2d(&v[1], None, Conv2dParams { stride: [1, 2], padding: [2, 1], dilation: [2, 2] });
    grad_conv2d_input_grad => [randn(&[2, 4, 4, 9], 1), randn(&[4, 3, 3, 2], 2)]
        |v| v[0].conv2d_input_grad(&v[1], Conv2dParams { stride: [2, 1], padding: [1, 2], dilation: [1, 1] }, [7, 6]);
    grad_conv2d_weight_grad => [randn(&[2, 3, 7, 6], 1), randn(&[2, 4, 4, 9], 2)]
        |v| v[0].conv2d_weight_grad(&v[1], Conv2dParams { stride: [2, 1], padding: [1, 2], dilation: [1, 1] }, [3, 2]);
    grad_conv2d_input_grad_with_output_padding => [randn(&[1, 4, 5, 5], 1), randn(&[4, 2, 2, 2], 2)]
        |v| v[0].conv2d_input_grad(&v[1], Conv2dParams { stride: [1, 1], padding: [0, 0], dilation: [2, 2] }, [8, 7]);
    grad_conv2d_weight_grad_with_output_padding => [randn(&[1, 2, 8, 7], 1), randn(&[1, 4, 5, 5], 2)]
        |v| v[0].conv2d_weight_grad(&v[1], Conv2dParams { stride: [1, 1], padding: [0, 0], dilation: [2, 2] }, [2, 2]);
    grad_conv_transpose2d => [randn(&[2, 3, 4, 5], 1), randn(&[3, 2, 3, 3], 2), randn(&[2], 3)]
        |v| v[0].conv_transpose2d(&v[1], Some(&v[2]), ConvTranspose2dParams { stride: [2, 2], padding: [1, 1], output_padding: [1, 1], dilation: [2, 2] });
    grad_conv_transpose2d_output_padding_below_dilation => [randn(&[1, 2, 5, 4], 1), randn(&[2, 3, 2, 3], 2)]
        |v| v[0].conv_transpose2d(&v[1], None, ConvTranspose2dParams { stride: [1, 2], padding: [0, 1], output_padding: [1, 1], dilation: [2, 1] });
    grad_upsample_nearest2d_scale_2 => [randn(&[2, 3, 3, 4], 1)]
        |v| v[0].upsample_nearest2d(UpsampleSize::Scale([2.0, 2.0]));
    grad_upsample_nearest2d_5_to_7 => [randn(&[1, 2, 5, 5], 1)]
        |v| v[0].upsample_nearest2d(UpsampleSize::Size([7, 7]));
    grad_upsample_bilinear2d_scale_2 => [randn(&[2, 2, 3, 4], 1)]
        |v| v[0].upsample_bilinear2d(UpsampleSize::Scale([2.0, 2.0]), false);
    grad_upsample_bilinear2d_5_to_7 => [randn(&[1, 2, 5, 5], 1)]
        |v| v[0].upsample_bilinear2d(UpsampleSize::Size([7, 7]), false);
    grad_upsample_bilinear2d_align_corners => [randn(&[1, 2, 5, 4], 1)]
        |v| v[0].upsample_bilinear2d(UpsampleSize::Size([7, 9]), true);
    grad_resample2d_adjoint => [randn(&[1, 2, 7, 7], 1)]
        |v| v[0].resample2d_adjoint(&Arc::new(Resample2d::bilinear([5, 5], UpsampleSize::Size([7, 7]), false, DType::F64)?));
    grad_max_pool2d => [randn(&[2, 3, 5, 6], 1)] |v| v[0].max_pool2d(Pool2dParams { kernel: [2, 3], stride: [2, 2] });
    grad_avg_pool2d => [randn(&[2, 3, 5, 6], 1)] |v| v[0].avg_pool2d(Pool2dParams { kernel: [2, 2], stride: [1, 2] });
    grad_adaptive_avg_pool2d => [randn(&[1, 2, 5, 7], 1)] |v| v[0].adaptive_avg_pool2d([3, 2]);
    grad_softmax => [randn(&[3, 4], 1)] |v| v[0].softmax(1);
    grad_log_softmax => [randn(&[2, 4, 3], 1)] |v| v[0].log_softmax(1);
    grad_reshape => [randn(&[2, 6], 1)] |v| v[0].reshape(&[3, 4]);
    grad_permute => [randn(&[2, 3, 4], 1)] |v| v[0].permute(&[2, 0, 1]);
    grad_narrow => [randn(&[3, 5], 1)] |v| v[0].narrow(1, 1, 3);
    grad_pad_axis => [randn(&[3, 2], 1)] |v| v[0].pad_axis(1, 1, 5);
    grad_cat => [randn(&[2, 3], 1), randn(&[2, 2], 2)] |v| Var::cat(&v[..2], 1);
    grad_index_select => [randn(&[4, 3], 1)] |v| v[0].index_select(0, &[3, 0, 3]);
    grad_index_add => [randn(&[3, 2], 1)] |v| v[0].index_add(0, &[1, 1, 0], 4);
    grad_gather => [randn(&[3, 4], 1)] |v| v[0].gather(1, &Tensor::from_vec(vec![3.0f64, 0.0, 2.0], &[3, 1])?);
    grad_scatter_add => [randn(&[3, 2], 1)] |v| v[0].scatter_add(1, &Tensor::from_vec(vec![0.0f64, 3.0, 1.0, 1.0, 2.0, 0.0], &[3, 2])?, 4);
    grad_where => [randn(&[2, 3], 1), randn(&[3], 2)]
        |v| Var::where_cond(&Tensor::from_vec(vec![1.0f64, 0.0, 1.0, 0.0, 0.0, 1.0], &[2, 3])?, &v[0], &v[1]);
}

#[test]
fn second_derivative_of_tanh_is_analytic() {
    // d²/dx² tanh x = −2 tanh x (1 − tanh² x).
    let x = Var::leaf(Tensor::from_vec(vec![-1.3f64, 0.2, 0.9], &[3]).unwrap());
    let y = x.tanh().unwrap().sum_all().unwrap();
    let g = grad(
        &y,
        None,
        &[&x],
        &GradOptions {
            create_graph: true,
            rule: None,
        },
    )
    .unwrap();
    let gg = grad(
        &g[0].sum_all().unwrap(),
        None,
        &[&x],
        &GradOptions::default(),
    )
    .unwrap();
    let got = gg[0].value().to_vec_f64().unwrap();
    for (xv, gv) in [-1.3f64, 0.2, 0.9].iter().zip(got) {
        let t = xv.tanh();
        assert!((gv - (-2.0 * t * (1.0 - t * t))).abs() < 1e-12, "{gv}");
    }
}

#[test]
fn second_derivatives_of_ops_match_finite_differences() {
    let tol = |r: std::result::Result<f64, String>| r.unwrap_or_else(|e| panic!("{e}"));
    tol(gradgradcheck(
        |v| v[0].tanh()?.mul(&v[0].sigmoid()?),
        &[randn(&[5], 3)],
        1e-4,
        1e-6,
    ));
    tol(gradgradcheck(
        |v| v[0].softplus()?.log_softmax(1),
        &[randn(&[2, 4], 4)],
        1e-4,
        1e-6,
    ));
    let p = Conv2dParams {
        stride: [2, 1],
        padding: [1, 0],
        dilation: [1, 1],
    };
    tol(gradgradcheck(
        |v| v[0].conv2d(&v[1], None, p)?.tanh(),
        &[randn(&[1, 2, 5, 4], 5), randn(&[3, 2, 2, 2], 6)],
        1e-4,
        1e-6,
    ));
    tol(gradgradcheck(
        |v| {
            v[0].avg_pool2d(Pool2dParams {
                kernel: [2, 2],
                stride: [1, 1],
            })?
            .square()
        },
        &[randn(&[1, 1, 3, 3], 7)],
        1e-4,
        1e-6,
    ));
}

#[test]
fn second_derivatives_through_max_pooling_and_stacked_convolutions() {
    // What a CNN's Hessian over its parameters passes through: the second conv's input
    // gradient (a transposed convolution) differentiated in its weight, max pooling's
    // scatter, and both convolutions' weight gradients.
    let tol = |r: std::result::Result<f64, String>| r.unwrap_or_else(|e| panic!("{e}"));
    tol(gradgradcheck(
        |v| {
            v[0].max_pool2d(Pool2dParams {
                kernel: [2, 2],
                stride: [2, 2],
            })?
            .softplus()
        },
        &[randn(&[2, 2, 4, 4], 8)],
        1e-4,
        1e-6,
    ));
    let p = Conv2dParams {
        stride: [1, 1],
        padding: [1, 1],
        dilation: [1, 1],
    };
    tol(gradgradcheck(
        |v| {
            v[0].conv2d(&v[1], Some(&v[2]), p)?
                .tanh()?
                .max_pool2d(Pool2dParams {
                    kernel: [2, 2],
                    stride: [2, 2],
                })?
                .conv2d(&v[3], None, p)?
                .softplus()
        },
        &[
            randn(&[2, 2, 4, 4], 9),
            randn(&[3, 2, 3, 3], 10),
            randn(&[3], 11),
            randn(&[2, 3, 2, 2], 12),
        ],
        1e-4,
        1e-6,
    ));
}

#[test]
fn second_derivatives_through_transposed_convolution_and_upsampling() {
    // A decoder's path: transposed convolution, bilinear upsampling, nonlinearity; its
    // backward differentiated again runs conv2d, conv2d_weight_grad and the resampling adjoint.
    let tol = |r: std::result::Result<f64, String>| r.unwrap_or_else(|e| panic!("{e}"));
    let p = ConvTranspose2dParams {
        stride: [2, 1],
        padding: [1, 0],
        output_padding: [1, 0],
        dilation: [1, 2],
    };
    tol(gradgradcheck(
        |v| {
            v[0].conv_transpose2d(&v[1], Some(&v[2]), p)?
                .upsample_bilinear2d(UpsampleSize::Size([5, 7]), false)?
                .tanh()
        },
        &[
            randn(&[2, 2, 2, 3], 20),
            randn(&[2, 3, 2, 2], 21),
            randn(&[3], 22),
        ],
        1e-4,
        1e-6,
    ));
    tol(gradgradcheck(
        |v| {
            v[0].upsample_nearest2d(UpsampleSize::Scale([1.5, 2.0]))?
                .square()
        },
        &[randn(&[1, 2, 3, 3], 23)],
        1e-4,
        1e-6,
    ));
}

#[test]
fn second_derivative_of_an_mlp_input_gradient() {
    // The input-gradient penalty's building block: d/dθ ‖∂f/∂x‖² for f = w2·tanh(W1 x + b1).
    let (x, w1, b1, w2) = (
        randn(&[3, 4], 11),
        randn(&[5, 4], 12),
        randn(&[5], 13),
        randn(&[1, 5], 14),
    );
    let penalty = |v: &[Var]| -> Result<Var> {
        let f = v[0]
            .linear(&v[1], Some(&v[2]))?
            .tanh()?
            .linear(&v[3], None)?
            .sum_all()?;
        let gx = grad(
            &f,
            None,
            &[&v[0]],
            &GradOptions {
                create_graph: true,
                rule: None,
            },
        )?;
        gx[0].square()?.sum_all()
    };
    gradcheck(penalty, &[x, w1, b1, w2], 1e-5, 1e-7).unwrap_or_else(|e| panic!("{e}"));
}

/// Guided backprop's rule: ReLU passes only positive gradients where its input was positive.
struct GuidedRelu;

impl GradRule for GuidedRelu {
    fn backward(&self, ctx: &RuleCtx) -> Result<Option<Vec<Option<Var>>>> {
        match ctx.op {
            Op::Relu => {
                let mask = ctx.inputs[0]
                    .value()
                    .step()?
                    .mul(&ctx.grad.value().step()?)?;
                Ok(Some(vec![Some(ctx.grad.mul_const(&mask)?)]))
            }
            _ => Ok(None),
        }
    }
}

#[test]
fn a_gradient_rule_replaces_the_relu_backward_as_defined() {
    // y = Σ relu(W x) with W = [[1, 1], [-1, 2]], then z = [1, -1]·y: the second unit's
    // upstream gradient is negative, so guided backprop blocks it while the gradient keeps it.
    let x = Var::leaf(Tensor::from_vec(vec![1.0f64, 1.0], &[1, 2]).unwrap());
    let w = Var::constant(Tensor::from_vec(vec![1.0f64, 1.0, -1.0, 2.0], &[2, 2]).unwrap());
    let v = Var::constant(Tensor::from_vec(vec![1.0f64, -1.0], &[1, 2]).unwrap());
    let z = x
        .linear(&w, None)
        .unwrap()
        .relu()
        .unwrap()
        .linear(&v, None)
        .unwrap()
        .sum_all()
        .unwrap();
    let plain = grad_tensors(&z, None, &[&x], None).unwrap()[0]
        .to_vec_f64()
        .unwrap();
    let guided = grad_tensors(&z, None, &[&x], Some(Arc::new(GuidedRelu))).unwrap()[0]
        .to_vec_f64()
        .unwrap();
    assert_eq!(plain, vec![1.0 - (-1.0), 1.0 - 2.0]);
    assert_eq!(guided, vec![1.0, 1.0]);
    // The rule lasts one pass: the next plain backward is the ordinary gradient again.
    assert_eq!(
        grad_tensors(&z, None, &[&x], None).unwrap()[0]
            .to_vec_f64()
            .unwrap(),
        plain
    );
}

#[test]
fn gradients_reach_intermediate_values_and_skip_unneeded_work() {
    let x = Var::leaf(randn(&[2, 3], 1));
    let w = Var::leaf(randn(&[4, 3], 2));
    let h = x.linear(&w, None).unwrap();
    let y = h.tanh().unwrap().sum_all().unwrap();
    let gh = grad_tensors(&y, None, &[&h], None).unwrap();
    let expect = h
        .value()
        .tanh()
        .unwrap()
        .square()
        .unwrap()
        .neg()
        .unwrap()
        .add_scalar(1.0)
        .unwrap();
    assert_eq!(gh[0].to_vec_f64().unwrap(), expect.to_vec_f64().unwrap());
    // A constant contributes no gradient; an unrelated leaf gets zeros.
    let other = Var::leaf(randn(&[3], 3));
    let g = grad_tensors(&y, None, &[&other], None).unwrap();
    assert!(g[0].to_vec_f64().unwrap().iter().all(|&v| v == 0.0));
}

#[test]
fn no_grad_records_nothing() {
    let x = Var::leaf(randn(&[3], 1));
    let y = no_grad(|| x.exp().unwrap());
    assert!(!y.requires_grad() && y.op().is_none());
    assert!(
        x.exp().unwrap().requires_grad(),
        "recording resumes after no_grad"
    );
}

#[test]
fn scopes_tag_nodes_for_rules() {
    let x = Var::leaf(randn(&[3], 1));
    let name: Arc<str> = "layer7".into();
    let y = with_scope(&name, || x.relu().unwrap());
    assert_eq!(y.scope(), Some("layer7"));
    assert_eq!(x.relu().unwrap().scope(), None);
}

#[test]
fn batch_norm_is_its_composed_formula_and_twice_differentiable() {
    // Forward against x̂ γ + β composed of ordinary ops.
    let (x, gamma, beta) = (
        randn(&[3, 2, 3, 2], 11),
        positive(&[2], 12),
        randn(&[2], 13),
    );
    let (y, mean, var) = Var::constant(x.clone())
        .batch_norm_train(
            &Var::constant(gamma.clone()),
            &Var::constant(beta.clone()),
            1e-3,
        )
        .unwrap();
    let axes = [0, 2, 3];
    let mu = x.mean(&axes, true).unwrap();
    let c = x.sub(&mu).unwrap();
    let v = c.square().unwrap().mean(&axes, true).unwrap();
    let want = c
        .div(&v.add_scalar(1e-3).unwrap().sqrt().unwrap())
        .unwrap()
        .mul(&gamma.reshape(&[1, 2, 1, 1]).unwrap())
        .unwrap()
        .add(&beta.reshape(&[1, 2, 1, 1]).unwrap())
        .unwrap();
    let (a, b) = (y.value().to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
    assert!(a.iter().zip(&b).all(|(p, q)| (p - q).abs() < 1e-12));
    assert_eq!(mean.shape(), [2]);
    let vb = v.to_vec_f64().unwrap();
    assert!(var
        .to_vec_f64()
        .unwrap()
        .iter()
        .zip(&vb)
        .all(|(p, q)| (p - q).abs() < 1e-12));
    // Second order (the gradient composed of ops when recording): an input-gradient penalty.
    let r = gradgradcheck(
        |v| v[0].batch_norm_train(&v[1], &v[2], 1e-2)?.0.tanh(),
        &[
            randn(&[3, 2, 2, 2], 14),
            positive(&[2], 15),
            randn(&[2], 16),
        ],
        1e-4,
        1e-6,
    );
    r.unwrap_or_else(|e| panic!("{e}"));
    assert!(Var::constant(x)
        .batch_norm_train(&Var::constant(randn(&[3], 1)), &Var::constant(beta), 1e-3)
        .is_err());
}

#[test]
fn relu_passes_nan_and_its_gradient_there_as_pytorch_does() {
    // tools/nan_semantics.py: relu([nan, 1, -1]) = [nan, 1, 0]; its gradient for g = [5, 6, 7]
    // is [5, 6, 0], recording off (one fused pass) and on (differentiable).
    for create_graph in [false, true] {
        let x = Var::leaf(Tensor::from_vec(vec![f64::NAN, 1.0, -1.0], &[3]).unwrap());
        let y = x.relu().unwrap();
        let v = y.value().to_vec_f64().unwrap();
        assert!(v[0].is_nan() && v[1] == 1.0 && v[2] == 0.0, "{v:?}");
        let seed = Tensor::from_vec(vec![5.0, 6.0, 7.0], &[3]).unwrap();
        let opts = GradOptions {
            create_graph,
            rule: None,
        };
        let g = grad(&y, Some(&seed), &[&x], &opts).unwrap();
        assert_eq!(g[0].value().to_vec_f64().unwrap(), [5.0, 6.0, 0.0]);
    }
}
