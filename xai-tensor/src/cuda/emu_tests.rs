//! Every op on the emulated CUDA device against the CPU backend, on the same inputs: relative
//! error ≤ 1e-5 for f32 elementwise ops and copies, ≤ 1e-4 for reductions, softmax, GEMM and
//! convolutions (f64: 1e-12). Shapes are small and ragged (not multiples of the block sizes).

use super::emulator;
use crate::{
    BinaryOp, Conv2dParams, DType, Device, Pool2dParams, PoolBins, ReduceOp, Rng, Tensor, UnaryOp,
};

/// Relative tolerance for a dtype: elementwise (`exact = true`) or accumulated.
fn tol(dt: DType, elementwise: bool) -> f64 {
    match (dt, elementwise) {
        (DType::F32, true) => 1e-5,
        (DType::F32, false) => 1e-4,
        (DType::F64, _) => 1e-12,
    }
}

/// Runs `f` on the CPU and on the emulator and compares: |emu − cpu| ≤ rtol·max(|cpu|,
/// 10⁻³·max|cpu|); NaN must match NaN.
#[track_caller]
fn same(what: &str, dt: DType, elementwise: bool, f: impl Fn(Device) -> crate::Result<Tensor>) {
    let cpu = f(Device::Cpu).unwrap_or_else(|e| panic!("{what} on cpu: {e}"));
    let emu = f(emulator()).unwrap_or_else(|e| panic!("{what} on the emulator: {e}"));
    assert_eq!(emu.device(), emulator(), "{what}: result device");
    assert_eq!(cpu.shape(), emu.shape(), "{what}: shape");
    assert_eq!(cpu.dtype(), emu.dtype(), "{what}: dtype");
    let (a, b) = (cpu.to_vec_f64().unwrap(), emu.to_vec_f64().unwrap());
    let scale = a
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f64, |m, x| m.max(x.abs()));
    let rtol = tol(dt, elementwise);
    for (i, (&x, &y)) in a.iter().zip(&b).enumerate() {
        let ok = if x.is_nan() {
            y.is_nan()
        } else if x.is_infinite() {
            x == y
        } else {
            (x - y).abs() <= rtol * x.abs().max(1e-3 * scale)
        };
        assert!(
            ok,
            "{what} ({dt:?}): element {i}: cpu {x:e}, emulator {y:e}"
        );
    }
}

fn input(seed: u64, shape: &[usize], dt: DType) -> Tensor {
    Rng::new(seed).normal(shape, 0.0, 1.0, dt).unwrap()
}

fn on(t: &Tensor, d: Device) -> crate::Result<Tensor> {
    t.to_device(d)
}

macro_rules! emu_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn emu_f32() {
                super::$name(crate::DType::F32)
            }
            #[test]
            fn emu_f64() {
                super::$name(crate::DType::F64)
            }
        }
    )*};
}

emu_tests!(
    unary,
    binary_broadcast,
    where_and_casts,
    reductions,
    argmax_softmax,
    matmul,
    layout,
    conv,
    pools,
    indexing,
    random,
    optimizer_kernels,
);

fn unary(dt: DType) {
    let x = input(1, &[3, 7, 13], dt);
    let xp = x.abs().unwrap().add_scalar(0.1).unwrap();
    let ops = [
        UnaryOp::Neg,
        UnaryOp::Exp,
        UnaryOp::Abs,
        UnaryOp::Sign,
        UnaryOp::Relu,
        UnaryOp::Step,
        UnaryOp::Sigmoid,
        UnaryOp::Tanh,
        UnaryOp::Softplus,
        UnaryOp::Recip,
        UnaryOp::Square,
        UnaryOp::Powf(3.0),
        UnaryOp::Affine(1.5, -0.25),
        UnaryOp::LeakyRelu(0.1),
        UnaryOp::Clamp(-0.5, 0.75),
        UnaryOp::GtScalar(0.25),
    ];
    for op in ops {
        same(&format!("{op:?}"), dt, true, |d| on(&x, d)?.unary(op));
    }
    for op in [
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Powf(-1.5),
        UnaryOp::Powf(2.5),
    ] {
        same(&format!("{op:?}"), dt, true, |d| on(&xp, d)?.unary(op));
    }
    let big = Tensor::from_vec(vec![-800.0, -50.0, 0.0, 50.0, 800.0], &[5])
        .unwrap()
        .to_dtype(dt)
        .unwrap();
    for op in [UnaryOp::Sigmoid, UnaryOp::Softplus, UnaryOp::Tanh] {
        same(&format!("{op:?} saturated"), dt, true, |d| {
            on(&big, d)?.unary(op)
        });
    }
}

fn binary_broadcast(dt: DType) {
    let cases: [(&[usize], &[usize]); 6] = [
        (&[2, 1, 3], &[5, 1]),
        (&[3, 5], &[3, 5]),
        (&[], &[2, 3]),
        (&[2, 3], &[]),
        (&[4, 1, 6, 1], &[3, 1, 7]),
        (&[257], &[1]),
    ];
    let ops = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Maximum,
        BinaryOp::Minimum,
        BinaryOp::Gt,
        BinaryOp::Ge,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Eq,
    ];
    for (i, (ls, rs)) in cases.iter().enumerate() {
        let a = input(10 + i as u64, ls, dt).clamp(-1.0, 1.0).unwrap();
        let b = input(20 + i as u64, rs, dt).clamp(-1.0, 1.0).unwrap();
        for op in ops {
            same(&format!("{op:?} {ls:?} {rs:?}"), dt, true, |d| {
                on(&a, d)?.binary(op, &on(&b, d)?)
            });
        }
    }
}

fn where_and_casts(dt: DType) {
    let m = input(3, &[4, 5], dt).gt_scalar(0.0).unwrap();
    let a = input(4, &[4, 5], dt);
    let b = input(5, &[1, 5], dt);
    same("where", dt, true, |d| {
        on(&m, d)?.where_cond(&on(&a, d)?, &on(&b, d)?)
    });
    let other = if dt == DType::F32 {
        DType::F64
    } else {
        DType::F32
    };
    same("cast there and back", dt, true, |d| {
        on(&a, d)?.to_dtype(other)?.to_dtype(dt)
    });
}

fn reductions(dt: DType) {
    let x = input(6, &[3, 4, 5, 70], dt);
    let axes: [&[usize]; 7] = [&[3], &[0], &[1, 2], &[0, 3], &[0, 1, 2, 3], &[2], &[1, 3]];
    for ax in axes {
        for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min] {
            same(&format!("{op:?} over {ax:?}"), dt, false, |d| {
                let t = on(&x, d)?;
                match op {
                    ReduceOp::Sum => t.sum(ax, false),
                    ReduceOp::Max => t.max(ax, true),
                    ReduceOp::Min => t.min(ax, false),
                }
            });
        }
    }
    let long = input(7, &[3, 1000], dt);
    same("sum of long rows (tree)", dt, false, |d| {
        on(&long, d)?.sum(&[1], false)
    });
    same("max of long rows (tree)", dt, false, |d| {
        on(&long, d)?.max(&[1], false)
    });
    same("sum of all", dt, false, |d| on(&long, d)?.sum_all());
}

fn argmax_softmax(dt: DType) {
    let x = input(8, &[3, 7, 5], dt);
    for axis in 0..3 {
        same(&format!("argmax {axis}"), dt, true, |d| {
            on(&x, d)?.argmax_keepdim(axis)
        });
        same(&format!("softmax {axis}"), dt, false, |d| {
            on(&x, d)?.softmax(axis)
        });
        same(&format!("log_softmax {axis}"), dt, false, |d| {
            on(&x, d)?.log_softmax(axis)
        });
    }
}

fn matmul(dt: DType) {
    let cases: [(&[usize], &[usize]); 5] = [
        (&[17, 23], &[23, 19]),
        (&[3, 5, 33], &[3, 33, 2]),
        (&[4, 1, 9], &[9, 31]),
        (&[7, 6], &[2, 6, 5]),
        (&[1, 1], &[1, 1]),
    ];
    for (i, (a, b)) in cases.iter().enumerate() {
        let (x, y) = (input(30 + i as u64, a, dt), input(40 + i as u64, b, dt));
        same(&format!("matmul {a:?} @ {b:?}"), dt, false, |d| {
            on(&x, d)?.matmul(&on(&y, d)?)
        });
    }
}

fn layout(dt: DType) {
    let x = input(9, &[3, 4, 5], dt);
    same("permute", dt, true, |d| on(&x, d)?.permute(&[2, 0, 1]));
    same("transpose", dt, true, |d| on(&x, d)?.t());
    same("broadcast_to", dt, true, |d| {
        on(&x, d)?.narrow(1, 1, 1)?.broadcast_to(&[2, 3, 4, 5])
    });
    same("narrow", dt, true, |d| on(&x, d)?.narrow(2, 1, 3));
    same("pad_axis", dt, true, |d| on(&x, d)?.pad_axis(1, 2, 9));
    let y = input(10, &[3, 2, 5], dt);
    same("cat", dt, true, |d| {
        Tensor::cat(&[on(&x, d)?, on(&y, d)?, on(&x, d)?], 1)
    });
}

fn conv(dt: DType) {
    let p = |s: usize, pad: usize, dil: usize| Conv2dParams {
        stride: [s, s],
        padding: [pad, pad],
        dilation: [dil, dil],
    };
    let cases = [
        ([2, 3, 9, 7], [5, 3, 3, 3], p(1, 0, 1)),
        ([3, 2, 11, 10], [4, 2, 3, 2], p(2, 1, 1)),
        ([1, 4, 8, 9], [3, 4, 2, 3], p(1, 2, 2)),
    ];
    for (i, (xs, ws, prm)) in cases.into_iter().enumerate() {
        let x = input(50 + i as u64, &xs, dt);
        let w = input(60 + i as u64, &ws, dt);
        let y = x.conv2d(&w, prm).unwrap();
        let g = input(70 + i as u64, y.shape(), dt);
        same(&format!("conv2d {xs:?}"), dt, false, |d| {
            on(&x, d)?.conv2d(&on(&w, d)?, prm)
        });
        same(&format!("conv2d_input_grad {xs:?}"), dt, false, |d| {
            on(&g, d)?.conv2d_input_grad(&on(&w, d)?, prm, [xs[2], xs[3]])
        });
        same(&format!("conv2d_weight_grad {xs:?}"), dt, false, |d| {
            on(&x, d)?.conv2d_weight_grad(&on(&g, d)?, prm, [ws[2], ws[3]])
        });
    }
}

fn pools(dt: DType) {
    let x = input(80, &[2, 3, 9, 7], dt);
    for (k, s) in [([2, 2], [2, 2]), ([3, 2], [2, 1])] {
        let p = Pool2dParams {
            kernel: k,
            stride: s,
        };
        same(&format!("max_pool2d {k:?}"), dt, true, |d| {
            Ok(on(&x, d)?.max_pool2d(p)?.0)
        });
        same(&format!("max_pool2d index {k:?}"), dt, true, |d| {
            Ok(on(&x, d)?.max_pool2d(p)?.1)
        });
        same(&format!("avg_pool2d {k:?}"), dt, false, |d| {
            on(&x, d)?.avg_pool2d(p)
        });
    }
    let bins = PoolBins::adaptive([9, 7], [4, 3]).unwrap();
    same("adaptive avg", dt, false, |d| {
        on(&x, d)?.avg_pool_bins(&bins)
    });
    let g = input(81, &[2, 3, 4, 3], dt);
    same("avg backward", dt, false, |d| {
        on(&g, d)?.avg_pool_bins_backward(&bins, [9, 7])
    });
}

fn indexing(dt: DType) {
    let x = input(90, &[3, 5, 4], dt);
    let idx: Vec<f64> = (0..3 * 2 * 4).map(|i| ((i * 7) % 5) as f64).collect();
    let index = Tensor::from_vec(idx, &[3, 2, 4])
        .unwrap()
        .to_dtype(dt)
        .unwrap();
    same("gather", dt, true, |d| {
        on(&x, d)?.gather(1, &on(&index, d)?)
    });
    let src = input(91, &[3, 2, 4], dt);
    same("scatter_add", dt, true, |d| {
        on(&src, d)?.scatter_add(1, &on(&index, d)?, 5)
    });
    same("index_select", dt, true, |d| {
        on(&x, d)?.index_select(1, &[4, 0, 4, 2])
    });
    let s = input(92, &[3, 4, 4], dt);
    same("index_add", dt, true, |d| {
        on(&s, d)?.index_add(1, &[4, 0, 4, 2], 5)
    });
    let bad = Tensor::from_vec(vec![5.0], &[1, 1, 1])
        .unwrap()
        .to_dtype(dt)
        .unwrap();
    let err = x
        .to_device(emulator())
        .unwrap()
        .gather(1, &bad.to_device(emulator()).unwrap());
    assert!(
        err.is_err(),
        "an out-of-range index is an error on the device too"
    );
}

fn random(dt: DType) {
    for n in [1, 2, 257, 1001] {
        let draws = |d: Device| -> Vec<Tensor> {
            let mut r = Rng::new(42).on_device(d);
            vec![
                r.uniform(&[n], -1.0, 3.0, dt).unwrap(),
                r.bernoulli(&[n], 0.3, dt).unwrap(),
                r.normal(&[n], 0.5, 2.0, dt).unwrap(),
            ]
        };
        let (cpu, emu) = (draws(Device::Cpu), draws(emulator()));
        for (what, (a, b)) in ["uniform", "bernoulli"].iter().zip(cpu.iter().zip(&emu)) {
            assert_eq!(b.device(), emulator());
            assert_eq!(
                a.to_vec_f64().unwrap(),
                b.to_vec_f64().unwrap(),
                "{what} bit for bit"
            );
        }
        same("normal", dt, true, |d| Ok(draws(d).remove(2)));
    }
}

/// The fused SGD (momentum, Nesterov) and Adam kernels against xai-nn's formulas on the host.
fn optimizer_kernels(dt: DType) {
    use super::gpu::Arg;
    use crate::Storage;
    let n = 301;
    // Values as stored in `dt`, so the reference starts from the same numbers.
    let host = |seed| input(seed, &[n], dt).to_vec_f64().unwrap();
    let (p0, g, m0, v0) = (host(1), host(2), host(3), host(4));
    let v0: Vec<f64> = v0.iter().map(|x| ((x * x) as f32) as f64).collect();
    let put = |v: &[f64]| {
        Tensor::from_vec(v.to_vec(), &[n])
            .unwrap()
            .to_dtype(dt)
            .unwrap()
            .to_device(emulator())
            .unwrap()
    };
    let cuda = |t: &Tensor| match t.storage() {
        Storage::Cuda(s) => s.clone(),
        Storage::Cpu(_) => unreachable!("on the emulator"),
    };
    let s = |x: f64| match dt {
        DType::F32 => Arg::F32(x as f32),
        DType::F64 => Arg::F64(x),
    };
    // Outputs cancel (p − step·ratio): absolute error at the scale of the inputs.
    let close = |what: &str, got: &Tensor, want: &[f64]| {
        let scale = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for (i, (a, b)) in got.to_vec_f64().unwrap().iter().zip(want).enumerate() {
            let ok = (a - b).abs() <= tol(dt, true) * b.abs().max(0.1 * scale);
            assert!(ok, "{what} {i}: {a} vs {b}");
        }
    };
    let (lr, wd, mu) = (0.1, 0.01, 0.9);
    let (p, gt, buf) = (put(&p0), put(&g), put(&m0));
    let (ps, gs, bs) = (cuda(&p), cuda(&gt), cuda(&buf));
    let args = [
        ps.ptr_arg(),
        gs.ptr_arg(),
        bs.ptr_arg(),
        Arg::U32(n as u32),
        s(lr),
        s(wd),
        s(mu),
        Arg::U32(1),
        Arg::U32(0),
    ];
    ps.run_linear("sgd", n, &args).unwrap();
    let want: Vec<f64> = (0..n)
        .map(|i| {
            let gi = g[i] + wd * p0[i];
            let b = mu * m0[i] + gi;
            p0[i] - lr * (gi + mu * b)
        })
        .collect();
    close("sgd nesterov", &p, &want);
    let (b1, b2, eps, t) = (0.9, 0.999, 1e-8, 3);
    let (p, gt, m, v) = (put(&p0), put(&g), put(&m0), put(&v0));
    let (ps, gs, ms, vs) = (cuda(&p), cuda(&gt), cuda(&m), cuda(&v));
    let step = lr / (1.0 - f64::powi(b1, t));
    let inv_bc2 = 1.0 / (1.0 - f64::powi(b2, t));
    let args = [
        ps.ptr_arg(),
        gs.ptr_arg(),
        ms.ptr_arg(),
        vs.ptr_arg(),
        Arg::U32(n as u32),
        s(wd),
        s(b1),
        s(b2),
        s(eps),
        s(step),
        s(inv_bc2),
    ];
    ps.run_linear("adam", n, &args).unwrap();
    let want: Vec<f64> = (0..n)
        .map(|i| {
            let gi = g[i] + wd * p0[i];
            let mi = b1 * m0[i] + (1.0 - b1) * gi;
            let vi = b2 * v0[i] + (1.0 - b2) * gi * gi;
            p0[i] - step * (mi / ((vi * inv_bc2).sqrt() + eps))
        })
        .collect();
    close("adam", &p, &want);
}
