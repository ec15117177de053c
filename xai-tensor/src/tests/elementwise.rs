//! Elementwise ops: unary maps (and their numerically delicate edges), the named methods,
//! broadcast binary maps and their errors, `where`.

use super::*;
use crate::{BinaryOp, UnaryOp};

for_both_dtypes!(
    unary_ops,
    unary_stability,
    named_methods_match_ops,
    binary_ops,
    binary_errors,
    where_cond,
    nan_propagates_as_in_pytorch,
);

fn sigmoid_ref(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        x.exp() / (1.0 + x.exp())
    }
}

fn softplus_ref(x: f64) -> f64 {
    if x > 30.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

type UnaryCase = (UnaryOp, bool, fn(f64) -> f64, f64);

fn unary_ops(dt: DType) {
    let mut rng = Rng::new(11);
    let shape = [3, 7, 5];
    let mut v = vals(&rng.normal(&shape, 0.0, 3.0, DType::F64).unwrap());
    v[..10].copy_from_slice(&[0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 0.25, 40.0, -40.0, 1e-3]);
    let (x, xv) = make(v.clone(), &shape, dt);
    let (xp, xpv) = make(v.iter().map(|a| a.abs() + 0.1).collect(), &shape, dt);
    // (op, positive inputs only, reference, absolute tolerance)
    let cases: Vec<UnaryCase> = vec![
        (UnaryOp::Neg, false, |x| -x, 0.0),
        (UnaryOp::Exp, false, f64::exp, 0.0),
        (UnaryOp::Log, true, f64::ln, 1e-40),
        (UnaryOp::Sqrt, true, f64::sqrt, 0.0),
        (UnaryOp::Abs, false, f64::abs, 0.0),
        (
            UnaryOp::Sign,
            false,
            |x| {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            },
            0.0,
        ),
        (UnaryOp::Relu, false, |x| if x > 0.0 { x } else { 0.0 }, 0.0),
        (
            UnaryOp::Step,
            false,
            |x| if x > 0.0 { 1.0 } else { 0.0 },
            0.0,
        ),
        (UnaryOp::Sigmoid, false, sigmoid_ref, 1e-40),
        (UnaryOp::Tanh, false, f64::tanh, 1e-40),
        (UnaryOp::Softplus, false, softplus_ref, 1e-40),
        (UnaryOp::Recip, false, |x| 1.0 / x, 0.0),
        (UnaryOp::Recip, true, |x| 1.0 / x, 0.0),
        (UnaryOp::Square, false, |x| x * x, 0.0),
        (UnaryOp::Powf(2.5), true, |x| x.powf(2.5), 0.0),
        (UnaryOp::Powf(-1.5), true, |x| x.powf(-1.5), 0.0),
        (UnaryOp::Powf(3.0), false, |x| x * x * x, 0.0),
        (UnaryOp::Powf(0.5), true, f64::sqrt, 0.0),
        (UnaryOp::Affine(1.5, -0.25), false, |x| 1.5 * x - 0.25, 1e-5),
        (
            UnaryOp::LeakyRelu(0.125),
            false,
            |x| if x > 0.0 { x } else { 0.125 * x },
            0.0,
        ),
        (
            UnaryOp::Clamp(-0.5, 0.75),
            false,
            |x| x.clamp(-0.5, 0.75),
            0.0,
        ),
        (
            UnaryOp::GtScalar(0.25),
            false,
            |x| if x > 0.25 { 1.0 } else { 0.0 },
            0.0,
        ),
        (
            UnaryOp::GtScalar(-1.0),
            false,
            |x| if x > -1.0 { 1.0 } else { 0.0 },
            0.0,
        ),
    ];
    for (op, positive, f, atol) in cases {
        let (input, iv) = if positive { (&xp, &xpv) } else { (&x, &xv) };
        let want: Vec<f64> = iv.iter().map(|&a| f(a)).collect();
        let got = input.unary(op).unwrap();
        assert_eq!(got.dtype(), dt);
        assert_close(&got, &shape, &want, atol, &format!("{op:?}"));
    }
    // Rank 0 and empty tensors.
    let s = on(Tensor::scalar(-2.0, dt)).unary(UnaryOp::Abs).unwrap();
    assert_exact(&s, &[], &[2.0], "abs of a scalar");
    let e = on(Tensor::zeros(&[0, 3], dt)).exp().unwrap();
    assert_exact(&e, &[0, 3], &[], "exp of an empty tensor");
    // Large enough for the parallel map.
    let (big, bv) = normal(&mut rng, &[131, 127], dt);
    let want: Vec<f64> = bv.iter().map(|&a| a.tanh()).collect();
    assert_close(
        &big.tanh().unwrap(),
        &[131, 127],
        &want,
        1e-40,
        "parallel tanh",
    );
}

fn unary_stability(dt: DType) {
    let xs = [
        -800.0, -100.0, -50.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 50.0, 100.0, 800.0,
    ];
    let (x, xv) = make(xs.to_vec(), &[xs.len()], dt);
    let sp = x.softplus().unwrap();
    assert!(
        !sp.has_non_finite().unwrap(),
        "softplus of large |x| is finite: {:?}",
        vals(&sp)
    );
    let want: Vec<f64> = xv.iter().map(|&a| softplus_ref(a)).collect();
    assert_close(
        &sp,
        &[xs.len()],
        &want,
        1e-40,
        "softplus stable for large |x|",
    );
    // ln(1 + e^-50) ≈ e^-50 must keep its relative precision, not round to 0.
    assert!(vals(&sp)[2] > 0.0, "softplus(-50) underflowed");
    let sg = x.sigmoid().unwrap();
    assert!(
        !sg.has_non_finite().unwrap(),
        "sigmoid of large |x| is finite: {:?}",
        vals(&sg)
    );
    let want: Vec<f64> = xv.iter().map(|&a| sigmoid_ref(a)).collect();
    assert_close(
        &sg,
        &[xs.len()],
        &want,
        1e-40,
        "sigmoid stable for large negative x",
    );
    assert!(vals(&sg)[2] > 0.0, "sigmoid(-50) underflowed");
    assert_exact(
        &x.tanh().unwrap().narrow(0, 9, 2).unwrap(),
        &[2],
        &[1.0, 1.0],
        "tanh saturates",
    );
}

type NamedUnary = fn(&Tensor) -> crate::Result<Tensor>;
type NamedBinary = fn(&Tensor, &Tensor) -> crate::Result<Tensor>;

fn named_methods_match_ops(dt: DType) {
    let mut rng = Rng::new(12);
    let (x, _) = make(
        vals(&rng.uniform(&[4, 3], 0.1, 2.0, DType::F64).unwrap()),
        &[4, 3],
        dt,
    );
    let (y, _) = coarse(&mut rng, &[3], dt);
    let unary: [(NamedUnary, UnaryOp); 13] = [
        (Tensor::neg, UnaryOp::Neg),
        (Tensor::exp, UnaryOp::Exp),
        (Tensor::log, UnaryOp::Log),
        (Tensor::sqrt, UnaryOp::Sqrt),
        (Tensor::abs, UnaryOp::Abs),
        (Tensor::sign, UnaryOp::Sign),
        (Tensor::relu, UnaryOp::Relu),
        (Tensor::step, UnaryOp::Step),
        (Tensor::sigmoid, UnaryOp::Sigmoid),
        (Tensor::tanh, UnaryOp::Tanh),
        (Tensor::softplus, UnaryOp::Softplus),
        (Tensor::recip, UnaryOp::Recip),
        (Tensor::square, UnaryOp::Square),
    ];
    for (f, op) in unary {
        assert_eq!(vals(&f(&x).unwrap()), vals(&x.unary(op).unwrap()), "{op:?}");
    }
    let param = [
        (x.powf(1.7).unwrap(), UnaryOp::Powf(1.7)),
        (x.affine(2.0, 3.0).unwrap(), UnaryOp::Affine(2.0, 3.0)),
        (x.add_scalar(0.5).unwrap(), UnaryOp::Affine(1.0, 0.5)),
        (x.mul_scalar(-3.0).unwrap(), UnaryOp::Affine(-3.0, 0.0)),
        (x.leaky_relu(0.2).unwrap(), UnaryOp::LeakyRelu(0.2)),
        (x.clamp(0.5, 1.0).unwrap(), UnaryOp::Clamp(0.5, 1.0)),
        (x.gt_scalar(1.0).unwrap(), UnaryOp::GtScalar(1.0)),
    ];
    for (got, op) in param {
        assert_eq!(vals(&got), vals(&x.unary(op).unwrap()), "{op:?}");
    }
    let binary: [(NamedBinary, BinaryOp); 11] = [
        (Tensor::add, BinaryOp::Add),
        (Tensor::sub, BinaryOp::Sub),
        (Tensor::mul, BinaryOp::Mul),
        (Tensor::div, BinaryOp::Div),
        (Tensor::maximum, BinaryOp::Maximum),
        (Tensor::minimum, BinaryOp::Minimum),
        (Tensor::gt, BinaryOp::Gt),
        (Tensor::ge, BinaryOp::Ge),
        (Tensor::lt, BinaryOp::Lt),
        (Tensor::le, BinaryOp::Le),
        (Tensor::eq_mask, BinaryOp::Eq),
    ];
    for (f, op) in binary {
        assert_eq!(
            vals(&f(&x, &y).unwrap()),
            vals(&x.binary(op, &y).unwrap()),
            "{op:?}"
        );
    }
}

type BinaryCase = (BinaryOp, fn(f64, f64) -> f64);

fn binary_ops(dt: DType) {
    let ops: [BinaryCase; 11] = [
        (BinaryOp::Add, |a, b| a + b),
        (BinaryOp::Sub, |a, b| a - b),
        (BinaryOp::Mul, |a, b| a * b),
        (BinaryOp::Div, |a, b| a / b),
        (BinaryOp::Maximum, f64::max),
        (BinaryOp::Minimum, f64::min),
        (BinaryOp::Gt, |a, b| (a > b) as u8 as f64),
        (BinaryOp::Ge, |a, b| (a >= b) as u8 as f64),
        (BinaryOp::Lt, |a, b| (a < b) as u8 as f64),
        (BinaryOp::Le, |a, b| (a <= b) as u8 as f64),
        (BinaryOp::Eq, |a, b| (a == b) as u8 as f64),
    ];
    let cases: [(&[usize], &[usize], &[usize]); 12] = [
        (&[2, 1, 3], &[4, 1], &[2, 4, 3]),
        (&[4, 1], &[2, 1, 3], &[2, 4, 3]),
        (&[3, 5], &[3, 5], &[3, 5]),
        (&[], &[2, 3], &[2, 3]),
        (&[2, 3], &[], &[2, 3]),
        (&[], &[], &[]),
        (&[5], &[3, 1], &[3, 5]),
        (&[1, 4, 1], &[3, 1, 2], &[3, 4, 2]),
        (&[2, 3, 4], &[4], &[2, 3, 4]),
        (&[1], &[2, 1, 3], &[2, 1, 3]),
        (&[3, 1], &[1, 1, 1], &[1, 3, 1]),
        // 22 440 elements: the parallel broadcast path.
        (&[40, 1, 33], &[1, 17, 33], &[40, 17, 33]),
    ];
    let mut rng = Rng::new(13);
    for (ls, rs, os) in cases {
        let (a, av) = coarse(&mut rng, ls, dt);
        let bv: Vec<f64> = coarse(&mut rng, rs, DType::F64)
            .1
            .into_iter()
            .map(|x| if x == 0.0 { 1.5 } else { x })
            .collect();
        let (b, bv) = make(bv, rs, dt);
        for (op, f) in ops {
            let want: Vec<f64> = (0..numel(os))
                .map(|q| {
                    let ix = unravel(q, os);
                    f(av[bcast_index(&ix, ls)], bv[bcast_index(&ix, rs)])
                })
                .collect();
            let got = a.binary(op, &b).unwrap();
            assert_eq!(got.dtype(), dt);
            assert_close(&got, os, &want, 0.0, &format!("{op:?} {ls:?} {rs:?}"));
        }
    }
    // Comparisons saw ties: the coarse grid makes Eq fire somewhere.
    let (a, _) = coarse(&mut rng, &[50], dt);
    let (b, _) = coarse(&mut rng, &[50], dt);
    assert!(
        vals(&a.eq_mask(&b).unwrap()).contains(&1.0),
        "no ties drawn"
    );
}

fn binary_errors(dt: DType) {
    let z = |s: &[usize]| on(Tensor::zeros(s, dt));
    for (l, r) in [
        (&[2, 3][..], &[4][..]),
        (&[3, 2], &[2, 3]),
        (&[2, 1, 3], &[4, 2]),
        (&[0], &[2]),
    ] {
        for op in [BinaryOp::Add, BinaryOp::Mul, BinaryOp::Gt] {
            assert!(
                z(l).binary(op, &z(r)).is_err(),
                "{op:?} {l:?} {r:?} must be Err"
            );
        }
    }
    let other = if dt == DType::F32 {
        DType::F64
    } else {
        DType::F32
    };
    assert!(
        z(&[2]).add(&on(Tensor::zeros(&[2], other))).is_err(),
        "dtype mismatch"
    );
    assert!(
        Tensor::from_vec(vec![1.0f64; 5], &[2, 3]).is_err(),
        "from_vec count mismatch"
    );
}

fn where_cond(dt: DType) {
    let mut rng = Rng::new(27);
    let other = if dt == DType::F32 {
        DType::F64
    } else {
        DType::F32
    };
    // Mask of the other dtype, all three operands broadcast: [3,1] × [1,4] × [] → [3,4].
    let (mask, mv) = make(vec![0.0, 2.0, -0.5], &[3, 1], other);
    let (t, tv) = normal(&mut rng, &[1, 4], dt);
    let f = on(Tensor::scalar(-7.0, dt));
    let want: Vec<f64> = (0..12)
        .map(|q| if mv[q / 4] != 0.0 { tv[q % 4] } else { -7.0 })
        .collect();
    let got = mask.where_cond(&t, &f).unwrap();
    assert_eq!(got.dtype(), dt);
    assert_exact(&got, &[3, 4], &want, "where with broadcasting");
    // Full-shape operands and a ragged broadcast on the middle axis.
    let ms = [2, 1, 5];
    let (m, mv) = coarse(&mut rng, &ms, dt);
    let (a, av) = normal(&mut rng, &[2, 3, 5], dt);
    let (b, bv) = normal(&mut rng, &[3, 1], dt);
    let os = [2, 3, 5];
    let want: Vec<f64> = (0..30)
        .map(|q| {
            let ix = unravel(q, &os);
            if mv[bcast_index(&ix, &ms)] != 0.0 {
                av[q]
            } else {
                bv[bcast_index(&ix, &[3, 1])]
            }
        })
        .collect();
    assert_exact(
        &m.where_cond(&a, &b).unwrap(),
        &os,
        &want,
        "where, mask [2,1,5]",
    );
    // Errors.
    assert!(
        m.where_cond(&a, &on(Tensor::zeros(&[4, 1], dt))).is_err(),
        "broadcast"
    );
    assert!(
        m.where_cond(&on(Tensor::zeros(&[2], dt)), &b).is_err(),
        "broadcast"
    );
    assert!(
        m.where_cond(&a, &on(Tensor::zeros(&[3, 1], other)))
            .is_err(),
        "dtype mismatch"
    );
}

/// NaN through every op that can see one, against PyTorch 2.15's outputs for the same inputs
/// (printed by `tools/nan_semantics.py`): a NaN input gives NaN wherever PyTorch gives NaN.
fn nan_propagates_as_in_pytorch(dt: DType) {
    let nan = f64::NAN;
    let t = |v: &[f64]| {
        on(Tensor::from_vec(v.to_vec(), &[v.len()])
            .unwrap()
            .to_dtype(dt)
            .unwrap())
    };
    let n = t(&[nan, 1.0, -1.0]);
    let same = |got: &Tensor, want: &[f64], what: &str| {
        let got = vals(got);
        assert_eq!(got.len(), want.len(), "{what}");
        for (g, w) in got.iter().zip(want) {
            let ok = (g.is_nan() && w.is_nan()) || (g - w).abs() < 1e-4;
            assert!(ok, "{what}: got {got:?}, PyTorch gives {want:?}");
        }
    };
    same(&n.relu().unwrap(), &[nan, 1.0, 0.0], "relu");
    same(&n.clamp(-0.5, 0.5).unwrap(), &[nan, 0.5, -0.5], "clamp");
    same(&n.leaky_relu(0.1).unwrap(), &[nan, 1.0, -0.1], "leaky_relu");
    same(&n.sign().unwrap(), &[0.0, 1.0, -1.0], "sign");
    same(&n.abs().unwrap(), &[nan, 1.0, 1.0], "abs");
    same(&n.softplus().unwrap(), &[nan, 1.3133, 0.3133], "softplus");
    same(&n.sigmoid().unwrap(), &[nan, 0.7311, 0.2689], "sigmoid");
    same(&n.tanh().unwrap(), &[nan, 0.7616, -0.7616], "tanh");
    same(
        &n.exp().unwrap(),
        &[nan, std::f64::consts::E, 0.3679],
        "exp",
    );
    let z = t(&[1.0, nan, 2.0]);
    same(&n.maximum(&z).unwrap(), &[nan, nan, 2.0], "maximum");
    same(&n.minimum(&z).unwrap(), &[nan, nan, -1.0], "minimum");
    same(&n.gt(&z).unwrap(), &[0.0, 0.0, 0.0], "gt");
    let row = on(Tensor::from_vec(vec![1.0, nan, 3.0], &[1, 3])
        .unwrap()
        .to_dtype(dt)
        .unwrap());
    assert_eq!(
        row.argmax(1).unwrap(),
        vec![1],
        "argmax: PyTorch takes the first NaN"
    );
    same(&n.max(&[0], false).unwrap(), &[nan], "max");
    // ReLU's gradient at NaN passes the upstream gradient (PyTorch: grad 1 at NaN).
    let g = t(&[5.0, 6.0, 7.0]);
    same(
        &g.gate_positive(&n).unwrap(),
        &[5.0, 6.0, 0.0],
        "relu gradient",
    );
}
