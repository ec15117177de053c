//! Reductions (sum, mean, max, min over any axes, the parallel path), argmax, broadcast_to and
//! sum_to, softmax and log-softmax.

use super::*;

for_both_dtypes!(
    reductions,
    reductions_parallel_path,
    mean_over_a_repeated_axis,
    argmax_first_on_ties,
    broadcast_to_and_sum_to,
    softmax,
);

struct Reduced {
    kept: Vec<usize>,
    squeezed: Vec<usize>,
    sum: Vec<f64>,
    abs_sum: Vec<f64>,
    max: Vec<f64>,
    min: Vec<f64>,
    count: usize,
}

fn naive_reduce(x: &[f64], shape: &[usize], axes: &[usize]) -> Reduced {
    let red = |d: usize| axes.contains(&d);
    let kept: Vec<usize> = (0..shape.len())
        .map(|d| if red(d) { 1 } else { shape[d] })
        .collect();
    let squeezed: Vec<usize> = (0..shape.len())
        .filter(|&d| !red(d))
        .map(|d| shape[d])
        .collect();
    let n = numel(&kept);
    let (mut sum, mut abs_sum) = (vec![0.0; n], vec![0.0; n]);
    let (mut max, mut min) = (vec![f64::NEG_INFINITY; n], vec![f64::INFINITY; n]);
    for q in 0..x.len() {
        let mut ix = unravel(q, shape);
        for d in 0..shape.len() {
            if red(d) {
                ix[d] = 0;
            }
        }
        let o = ravel(&ix, &kept);
        sum[o] += x[q];
        abs_sum[o] += x[q].abs();
        max[o] = max[o].max(x[q]);
        min[o] = min[o].min(x[q]);
    }
    let count = (0..shape.len())
        .filter(|&d| red(d))
        .map(|d| shape[d])
        .product();
    Reduced {
        kept,
        squeezed,
        sum,
        abs_sum,
        max,
        min,
        count,
    }
}

fn check_reductions(x: &Tensor, xv: &[f64], shape: &[usize], axes: &[usize]) {
    let r = naive_reduce(xv, shape, axes);
    let atol = tol(x.dtype()) * max_abs(&r.abs_sum);
    for keepdim in [false, true] {
        let s = if keepdim { &r.kept } else { &r.squeezed };
        let what = |op: &str| format!("{op} over {axes:?} of {shape:?}, keepdim {keepdim}");
        assert_close(
            &x.sum(axes, keepdim).unwrap(),
            s,
            &r.sum,
            atol,
            &what("sum"),
        );
        let mean: Vec<f64> = r.sum.iter().map(|v| v / r.count as f64).collect();
        assert_close(
            &x.mean(axes, keepdim).unwrap(),
            s,
            &mean,
            atol,
            &what("mean"),
        );
        assert_exact(&x.max(axes, keepdim).unwrap(), s, &r.max, &what("max"));
        assert_exact(&x.min(axes, keepdim).unwrap(), s, &r.min, &what("min"));
    }
}

fn reductions(dt: DType) {
    let mut rng = Rng::new(14);
    let shape = [3, 5, 2, 7];
    let (x, xv) = normal(&mut rng, &shape, dt);
    let sets: [&[usize]; 10] = [
        &[],
        &[0],
        &[1],
        &[3],
        &[0, 2],
        &[1, 3],
        &[2, 1],
        &[0, 1, 3],
        &[3, 0],
        &[0, 1, 2, 3],
    ];
    for axes in sets {
        check_reductions(&x, &xv, &shape, axes);
    }
    let all = x.sum_all().unwrap();
    assert_eq!(all.shape(), &[] as &[usize]);
    let r = naive_reduce(&xv, &shape, &[0, 1, 2, 3]);
    assert!((all.to_scalar().unwrap() - r.sum[0]).abs() <= tol(dt) * r.abs_sum[0]);
    // Rank 0.
    let s = on(Tensor::scalar(2.5, dt));
    assert_exact(&s.sum_all().unwrap(), &[], &[2.5], "sum_all of a scalar");
    assert_exact(
        &s.max(&[], true).unwrap(),
        &[],
        &[2.5],
        "max over no axes of a scalar",
    );
    // Errors.
    assert!(x.sum(&[4], false).is_err());
    assert!(x.max(&[0, 9], true).is_err());
    assert!(x.mean(&[7], false).is_err());
}

/// A repeated axis is that axis once (the reduction dedups it): mean must divide by its size once.
fn mean_over_a_repeated_axis(dt: DType) {
    let mut rng = Rng::new(30);
    let (y, yv) = normal(&mut rng, &[4, 6], dt);
    let r = naive_reduce(&yv, &[4, 6], &[1]);
    let mean: Vec<f64> = r.sum.iter().map(|v| v / 6.0).collect();
    let atol = tol(dt) * max_abs(&r.abs_sum);
    assert_close(
        &y.sum(&[1, 1], false).unwrap(),
        &[4],
        &r.sum,
        atol,
        "sum over [1, 1]",
    );
    assert_close(
        &y.mean(&[1, 1], false).unwrap(),
        &[4],
        &mean,
        atol,
        "mean over [1, 1]",
    );
}

fn reductions_parallel_path(dt: DType) {
    let mut rng = Rng::new(15);
    let shape = [129, 131];
    let (x, xv) = normal(&mut rng, &shape, dt);
    for axes in [&[0][..], &[1], &[0, 1]] {
        check_reductions(&x, &xv, &shape, axes);
    }
    let shape = [3, 61, 97];
    let (x, xv) = normal(&mut rng, &shape, dt);
    check_reductions(&x, &xv, &shape, &[0, 2]);
}

fn naive_argmax(x: &[f64], shape: &[usize], axis: usize) -> (Vec<usize>, Vec<f64>) {
    let mut out = shape.to_vec();
    out[axis] = 1;
    let best: Vec<usize> = (0..numel(&out))
        .map(|q| {
            let base = unravel(q, &out);
            let at = |j: usize| {
                let mut ix = base.clone();
                ix[axis] = j;
                x[ravel(&ix, shape)]
            };
            let mut best = 0;
            for j in 1..shape[axis] {
                if at(j) > at(best) {
                    best = j;
                }
            }
            best
        })
        .collect();
    let f = best.iter().map(|&b| b as f64).collect();
    (best, f)
}

fn argmax_first_on_ties(dt: DType) {
    let mut rng = Rng::new(16);
    let shape = [4, 6, 5];
    let (x, xv) = coarse(&mut rng, &shape, dt);
    for axis in 0..3 {
        let (want, wantf) = naive_argmax(&xv, &shape, axis);
        assert_eq!(x.argmax(axis).unwrap(), want, "argmax along {axis}");
        let mut s = shape.to_vec();
        s[axis] = 1;
        assert_exact(
            &x.argmax_keepdim(axis).unwrap(),
            &s,
            &wantf,
            "argmax_keepdim",
        );
    }
    let (t, _) = make(vec![1.0, 3.0, 3.0, 2.0, 3.0, -1.0, -1.0, -1.0], &[2, 4], dt);
    assert_eq!(t.argmax(1).unwrap(), vec![1, 0], "first maximum on ties");
    assert!(x.argmax(3).is_err());
}

fn broadcast_to_and_sum_to(dt: DType) {
    let mut rng = Rng::new(17);
    let (x, xv) = normal(&mut rng, &[3, 1, 4], dt);
    let big = [2, 3, 5, 4];
    let b = x.broadcast_to(&big).unwrap();
    let want: Vec<f64> = (0..numel(&big))
        .map(|q| xv[bcast_index(&unravel(q, &big), &[3, 1, 4])])
        .collect();
    assert_exact(&b, &big, &want, "broadcast_to");
    // Round trip: each element was copied 2·5 times.
    let back = b.sum_to(&[3, 1, 4]).unwrap();
    let want: Vec<f64> = xv.iter().map(|v| v * 10.0).collect();
    assert_close(
        &back,
        &[3, 1, 4],
        &want,
        tol(dt) * 10.0 * max_abs(&xv),
        "sum_to ∘ broadcast_to",
    );
    // sum_to against naive sums, for several targets.
    let (y, yv) = normal(&mut rng, &big, dt);
    let targets: [&[usize]; 7] = [
        &[3, 1, 4],
        &[5, 4],
        &[1, 4],
        &[4],
        &[],
        &[1, 1, 1, 1],
        &[2, 1, 5, 1],
    ];
    for t in targets {
        let mut want = vec![0.0; numel(t)];
        let mut scale = vec![0.0; numel(t)];
        for q in 0..yv.len() {
            let o = bcast_index(&unravel(q, &big), t);
            want[o] += yv[q];
            scale[o] += yv[q].abs();
        }
        let got = y.sum_to(t).unwrap();
        assert_close(
            &got,
            t,
            &want,
            tol(dt) * max_abs(&scale),
            &format!("sum_to {t:?}"),
        );
    }
    // Adjoint: <broadcast(x), y> = <x, sum_to(y)> (f64 only: exact to rounding).
    if dt == DType::F64 {
        let l = (dot(&vals(&b), &yv), abs_dot(&vals(&b), &yv));
        let s = vals(&y.sum_to(&[3, 1, 4]).unwrap());
        assert_adjoint(
            l,
            (dot(&xv, &s), abs_dot(&xv, &s)),
            "broadcast_to/sum_to adjoint",
        );
    }
    // A scalar broadcast.
    let s = on(Tensor::scalar(1.5, dt)).broadcast_to(&[2, 3]).unwrap();
    assert_exact(&s, &[2, 3], &[1.5; 6], "scalar broadcast");
    // Errors.
    assert!(x.broadcast_to(&[2, 4]).is_err());
    assert!(x.broadcast_to(&[3, 5, 5]).is_err());
    assert!(x.broadcast_to(&[3, 2]).is_err());
    assert!(y.sum_to(&[3, 4]).is_err());
    assert!(y.sum_to(&[1, 2, 3, 5, 4]).is_err());
    assert!(y.sum_to(&[3, 2, 4]).is_err());
    assert_eq!(y.sum_to(&[3, 5, 1]).unwrap().shape(), &[3, 5, 1]);
}

// ---- softmax ---------------------------------------------------------------------------------

fn naive_softmax(x: &[f64], shape: &[usize], axis: usize, log: bool) -> Vec<f64> {
    let mut out = vec![0.0; x.len()];
    let mut line = shape.to_vec();
    line[axis] = 1;
    for q in 0..numel(&line) {
        let base = unravel(q, &line);
        let at = |j: usize| {
            let mut ix = base.clone();
            ix[axis] = j;
            ravel(&ix, shape)
        };
        let m = (0..shape[axis])
            .map(|j| x[at(j)])
            .fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = (0..shape[axis]).map(|j| (x[at(j)] - m).exp()).sum();
        for j in 0..shape[axis] {
            let z = x[at(j)] - m;
            out[at(j)] = if log { z - s.ln() } else { z.exp() / s };
        }
    }
    out
}

fn softmax(dt: DType) {
    let mut rng = Rng::new(22);
    let shape = [3, 5, 4];
    for shift in [0.0, 1000.0, -1000.0] {
        let v: Vec<f64> = vals(&rng.normal(&shape, shift, 3.0, DType::F64).unwrap());
        let (x, xv) = make(v, &shape, dt);
        for axis in 0..3 {
            let what = |op: &str| format!("{op} along {axis}, inputs around {shift}");
            let s = x.softmax(axis).unwrap();
            assert!(!s.has_non_finite().unwrap(), "{}", what("softmax finite"));
            assert_close(
                &s,
                &shape,
                &naive_softmax(&xv, &shape, axis, false),
                1e-40,
                &what("softmax"),
            );
            let l = x.log_softmax(axis).unwrap();
            assert!(
                !l.has_non_finite().unwrap(),
                "{}",
                what("log_softmax finite")
            );
            let atol = tol(dt) * 16.0;
            assert_close(
                &l,
                &shape,
                &naive_softmax(&xv, &shape, axis, true),
                atol,
                &what("log_softmax"),
            );
            let sums = s.sum(&[axis], false).unwrap();
            assert!(
                vals(&sums).iter().all(|v| (v - 1.0).abs() < 1e-5),
                "{}",
                what("rows sum to 1")
            );
        }
    }
    // All-equal large rows are uniform.
    let x = on(Tensor::full(&[2, 3], 1000.0, dt));
    assert_close(
        &x.softmax(1).unwrap(),
        &[2, 3],
        &[1.0 / 3.0; 6],
        0.0,
        "uniform softmax",
    );
    assert_close(
        &x.log_softmax(1).unwrap(),
        &[2, 3],
        &[-(3f64.ln()); 6],
        0.0,
        "uniform log_softmax",
    );
    // Large enough for the parallel path.
    let big = [7, 41, 61];
    let (x, xv) = normal(&mut rng, &big, dt);
    assert_close(
        &x.softmax(1).unwrap(),
        &big,
        &naive_softmax(&xv, &big, 1, false),
        1e-40,
        "parallel softmax",
    );
    assert!(x.softmax(3).is_err());
    assert!(x.log_softmax(5).is_err());
}
