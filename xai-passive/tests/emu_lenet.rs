//! The autodiff and the attribution methods on the emulated CUDA device (feature `cuda-emu`):
//! backward rules are tensor ops, so gradients computed on the device equal the CPU's. On the
//! LeNet fixture (conv 5×5 → ReLU → max-pool → conv → ReLU → max-pool → linear ×3):
//! saliency through the method itself, integrated gradients from the same building block
//! (`target_gradient`) with the path built on the device, and gradchecks (central differences
//! along random directions, in f64) of the model and of a few more ops, all on the device.
#![cfg(feature = "cuda-emu")]

use xai_autodiff::{grad_tensors, Var};
use xai_nn::{file, Differentiable, Graph};
use xai_passive::methods::{target_gradient, IntegratedGradients, Integration, Saliency};
use xai_passive::Attribution;
use xai_tensor::cuda::emulator;
use xai_tensor::{DType, Device, Pool2dParams, Rng, Tensor};

fn lenet() -> Graph {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../xai-cli/tests/fixtures/lenet"
    );
    file::load(format!("{dir}/model.json")).unwrap()
}

/// The model with every parameter converted to `dtype` and moved to `device`.
fn moved(mut m: Graph, dtype: DType, device: Device) -> Graph {
    for l in m.nodes_mut() {
        for (_, p) in l.layer.params_mut() {
            *p = Var::leaf(
                p.value()
                    .to_dtype(dtype)
                    .unwrap()
                    .to_device(device)
                    .unwrap(),
            );
        }
    }
    m
}

/// |got − want| ≤ rtol·max(|want|, 10⁻³·max|want|), elementwise.
#[track_caller]
fn assert_close(what: &str, got: &Tensor, want: &Tensor, rtol: f64) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let (g, w) = (got.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
    let scale = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!(scale > 0.0, "{what}: all zero");
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!(
            (a - b).abs() <= rtol * b.abs().max(1e-3 * scale),
            "{what}: element {i}: device {a:e}, cpu {b:e}"
        );
    }
}

fn inputs(n: usize) -> (Tensor, Vec<usize>) {
    let x = Rng::new(5)
        .normal(&[n, 1, 28, 28], 0.0, 1.0, DType::F32)
        .unwrap();
    (x, (0..n).map(|i| (3 * i + 1) % 10).collect())
}

#[test]
fn emu_lenet_logits_and_saliency_equal_cpu() {
    let cpu = lenet();
    let dev = moved(lenet(), DType::F32, emulator());
    let (x, targets) = inputs(3);
    let xd = x.to_device(emulator()).unwrap();
    let logits = dev.forward(&Var::constant(xd.clone())).unwrap();
    assert_eq!(logits.value().device(), emulator());
    let want = cpu.forward(&Var::constant(x.clone())).unwrap();
    assert_close("logits", logits.value(), want.value(), 1e-4);
    let method = Saliency {
        batch_size: 2,
        ..Saliency::default()
    };
    let got = method.attribute(&dev, &xd, &targets).unwrap();
    let want = method.attribute(&cpu, &x, &targets).unwrap();
    assert_eq!(got.attributions.device(), emulator());
    assert_close("saliency", &got.attributions, &want.attributions, 1e-4);
}

#[test]
fn emu_lenet_integrated_gradients_equal_cpu() {
    let cpu = lenet();
    let dev = moved(lenet(), DType::F32, emulator());
    let (x, targets) = inputs(2);
    let steps = 8;
    let opts = IntegratedGradients {
        steps,
        ..IntegratedGradients::default()
    };
    let want = opts.clone().attribute(&cpu, &x, &targets).unwrap();
    // The method itself, with the model and input on the device.
    let through = opts
        .clone()
        .attribute(&dev, &x.to_device(emulator()).unwrap(), &targets)
        .unwrap();
    assert_close(
        "integrated gradients (the method)",
        &through.attributions,
        &want.attributions,
        1e-4,
    );
    // The same quadrature with every path point and gradient on the device: rows
    // (example i, step k) = αₖ·x_i (zero baseline), in one batch.
    let (alphas, weights) = Integration::GaussLegendre.nodes(steps).unwrap();
    let xd = x.to_device(emulator()).unwrap();
    let mut rows = Vec::new();
    let mut row_targets = Vec::new();
    for (i, &t) in targets.iter().enumerate() {
        let xi = xd.narrow(0, i, 1).unwrap();
        for &a in &alphas {
            rows.push(xi.mul_scalar(a).unwrap());
            row_targets.push(t);
        }
    }
    let path = Tensor::cat(&rows, 0).unwrap();
    let g = target_gradient(&dev, &path, &row_targets, None).unwrap();
    assert_eq!(g.device(), emulator());
    let w = Tensor::from_vec(
        weights.iter().map(|&w| w as f32).collect::<Vec<_>>(),
        &[1, steps, 1, 1, 1],
    )
    .unwrap()
    .to_device(emulator())
    .unwrap();
    let avg = g
        .reshape(&[2, steps, 1, 28, 28])
        .unwrap()
        .mul(&w)
        .unwrap()
        .sum(&[1], false)
        .unwrap();
    let got = avg.mul(&xd).unwrap();
    assert_close("integrated gradients", &got, &want.attributions, 1e-4);
}

/// L(x) = Σ f(x) ⊙ r on the device; checks ⟨∇L, v⟩ against (L(x + hv) − L(x − hv)) / 2h for
/// random directions v, everything in f64 on the emulated device, and returns ∇L.
fn directional_gradcheck(what: &str, f: &dyn Fn(&Var) -> Var, x: &Tensor) -> Tensor {
    let dev = emulator();
    let x = x.to_dtype(DType::F64).unwrap().to_device(dev).unwrap();
    let shape = f(&Var::constant(x.clone())).value().shape().to_vec();
    let r = Rng::new(99)
        .normal(&shape, 0.0, 1.0, DType::F64)
        .unwrap()
        .to_device(dev)
        .unwrap();
    let loss = |x: &Tensor| -> f64 {
        f(&Var::constant(x.clone()))
            .value()
            .mul(&r)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar()
            .unwrap()
    };
    let input = Var::leaf(x.clone());
    let out = f(&input).mul_const(&r).unwrap().sum_all().unwrap();
    let g = grad_tensors(&out, None, &[&input], None).unwrap().remove(0);
    assert_eq!(g.device(), dev, "{what}: gradient device");
    let h = 1e-5;
    for k in 0..3 {
        let v = Rng::new(7 + k)
            .normal(x.shape(), 0.0, 1.0, DType::F64)
            .unwrap()
            .to_device(dev)
            .unwrap();
        let analytic = g.mul(&v).unwrap().sum_all().unwrap().to_scalar().unwrap();
        let plus = loss(&x.add(&v.mul_scalar(h).unwrap()).unwrap());
        let minus = loss(&x.sub(&v.mul_scalar(h).unwrap()).unwrap());
        let numeric = (plus - minus) / (2.0 * h);
        assert!(
            (analytic - numeric).abs() <= 1e-6 * (1.0 + numeric.abs()),
            "{what}: direction {k}: analytic {analytic:e}, numeric {numeric:e}"
        );
    }
    g
}

#[test]
fn emu_gradchecks_of_lenet_and_ops_in_f64() {
    let model = moved(lenet(), DType::F64, emulator());
    let (x, _) = inputs(2);
    let g = directional_gradcheck("lenet", &|v| model.forward(v).unwrap(), &x);
    // The same gradient on the CPU.
    let cpu = moved(lenet(), DType::F64, Device::Cpu);
    let xc = Var::leaf(x.to_dtype(DType::F64).unwrap());
    let r = Rng::new(99).normal(&[2, 10], 0.0, 1.0, DType::F64).unwrap();
    let out = cpu
        .forward(&xc)
        .unwrap()
        .mul_const(&r)
        .unwrap()
        .sum_all()
        .unwrap();
    let gc = grad_tensors(&out, None, &[&xc], None).unwrap().remove(0);
    assert_close("lenet input gradient", &g, &gc, 1e-10);

    let y = Rng::new(3)
        .normal(&[3, 4, 9, 7], 0.0, 1.0, DType::F32)
        .unwrap();
    let pool = Pool2dParams {
        kernel: [3, 2],
        stride: [2, 2],
    };
    directional_gradcheck(
        "avg pool, tanh, softmax",
        &|v| {
            v.avg_pool2d(pool)
                .unwrap()
                .tanh()
                .unwrap()
                .softmax(3)
                .unwrap()
        },
        &y,
    );
    directional_gradcheck(
        "sigmoid, log-softmax, sum",
        &|v| {
            v.sigmoid()
                .unwrap()
                .log_softmax(1)
                .unwrap()
                .sum(&[2], true)
                .unwrap()
        },
        &y,
    );
    let w = Rng::new(4)
        .normal(&[7, 5], 0.0, 1.0, DType::F64)
        .unwrap()
        .to_device(emulator())
        .unwrap();
    let wv = Var::constant(w);
    directional_gradcheck(
        "matmul, softplus",
        &|v| v.matmul(&wv).unwrap().softplus().unwrap(),
        &Rng::new(6)
            .normal(&[2, 3, 7], 0.0, 1.0, DType::F32)
            .unwrap(),
    );

    // Layout, reduction and indexing rules: narrow, permute, cat, max, broadcast, leaky ReLU,
    // gather (a host index), index_select, where, powf.
    let index = Tensor::from_vec(
        (0..3 * 2 * 4)
            .map(|i| ((i * 5) % 8) as f64)
            .collect::<Vec<_>>(),
        &[3, 2, 4],
    )
    .unwrap();
    let mask = Rng::new(8)
        .on_device(emulator())
        .bernoulli(&[3, 5, 4], 0.5, DType::F64)
        .unwrap();
    directional_gradcheck(
        "layout and indexing",
        &|v| {
            let a = v.narrow(2, 1, 4).unwrap();
            let b = v.permute(&[0, 2, 1]).unwrap().narrow(1, 0, 4).unwrap();
            let c = Var::cat(&[a, b], 1).unwrap();
            let d = c.max(2, true).unwrap().broadcast_to(&[3, 8, 4]).unwrap();
            let e = c.mul(&d).unwrap().leaky_relu(0.1).unwrap();
            let f = Var::cat(
                &[
                    e.gather(1, &index).unwrap(),
                    e.index_select(1, &[0, 5, 5]).unwrap(),
                ],
                1,
            )
            .unwrap();
            Var::where_cond(&mask, &f, &f.powf(2.0).unwrap()).unwrap()
        },
        &Rng::new(9)
            .normal(&[3, 4, 6], 0.0, 1.0, DType::F32)
            .unwrap(),
    );

    // Elementwise rules and a strided, dilated, padded convolution with adaptive pooling.
    let k = Rng::new(10)
        .on_device(emulator())
        .normal(&[4, 3, 3, 2], 0.0, 1.0, DType::F64)
        .unwrap();
    let kv = Var::constant(k);
    let conv = xai_tensor::Conv2dParams {
        stride: [2, 1],
        padding: [1, 2],
        dilation: [1, 2],
    };
    directional_gradcheck(
        "conv (stride, padding, dilation), adaptive pool, elementwise",
        &|v| {
            let c = v
                .conv2d(&kv, None, conv)
                .unwrap()
                .adaptive_avg_pool2d([3, 2])
                .unwrap();
            let pos = c.square().unwrap().add_scalar(0.5).unwrap();
            let a = pos.sqrt().unwrap().log().unwrap().div(&pos).unwrap();
            let b = c.neg().unwrap().exp().unwrap().recip().unwrap();
            let m = a
                .sub(&b)
                .unwrap()
                .maximum(&c)
                .unwrap()
                .minimum(&pos)
                .unwrap();
            m.abs()
                .unwrap()
                .relu()
                .unwrap()
                .add(&c.mean(&[1], true).unwrap())
                .unwrap()
        },
        &Rng::new(11)
            .normal(&[2, 3, 9, 8], 0.0, 1.0, DType::F32)
            .unwrap(),
    );
}
