//! Max pooling (values and indices), average and adaptive average pooling and their backward
//! pass.

use super::*;
use crate::{Pool2dParams, PoolBins};

for_both_dtypes!(max_pool2d, avg_pools);

fn naive_max_pool(
    x: &[f64],
    [n, c, h, w]: [usize; 4],
    p: Pool2dParams,
) -> ([usize; 4], Vec<f64>, Vec<f64>) {
    let oh = (h - p.kernel[0]) / p.stride[0] + 1;
    let ow = (w - p.kernel[1]) / p.stride[1] + 1;
    let (mut v, mut ix) = (vec![], vec![]);
    for q in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best: Option<(f64, usize)> = None;
                for i in 0..p.kernel[0] {
                    for j in 0..p.kernel[1] {
                        let at = (oy * p.stride[0] + i) * w + ox * p.stride[1] + j;
                        let val = x[q * h * w + at];
                        let better = match best {
                            Some((b, _)) => val > b,
                            None => true,
                        };
                        if better {
                            best = Some((val, at));
                        }
                    }
                }
                let (b, at) = best.unwrap();
                v.push(b);
                ix.push(at as f64);
            }
        }
    }
    ([n, c, oh, ow], v, ix)
}

fn max_pool2d(dt: DType) {
    let mut rng = Rng::new(20);
    let xs = [2, 3, 7, 9];
    let (x, xv) = coarse(&mut rng, &xs, dt);
    let pools = [
        ([2, 3], [2, 2]),
        ([3, 2], [1, 3]),
        ([7, 9], [1, 1]),
        ([1, 1], [2, 4]),
        ([2, 2], [3, 3]),
    ];
    for (kernel, stride) in pools {
        let p = Pool2dParams { kernel, stride };
        let (os, v, ix) = naive_max_pool(&xv, xs, p);
        let (gv, gi) = x.max_pool2d(p).unwrap();
        assert_exact(&gv, &os, &v, &format!("max_pool2d values {p:?}"));
        assert_exact(&gi, &os, &ix, &format!("max_pool2d indices {p:?}"));
    }
    // Ties: the first maximum in row-major window order wins.
    let (t, _) = make(
        vec![1.0, 5.0, 5.0, 0.0, 5.0, 5.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0],
        &[1, 1, 3, 4],
        dt,
    );
    let (v, i) = t
        .max_pool2d(Pool2dParams {
            kernel: [2, 2],
            stride: [1, 2],
        })
        .unwrap();
    assert_exact(&v, &[1, 1, 2, 2], &[5.0, 5.0, 5.0, 2.0], "tie values");
    assert_exact(&i, &[1, 1, 2, 2], &[1.0, 2.0, 4.0, 6.0], "tie indices");
    // Errors.
    let z = on(Tensor::zeros(&[1, 2, 4, 5], dt));
    for (kernel, stride) in [
        ([5, 1], [1, 1]),
        ([1, 6], [1, 1]),
        ([0, 1], [1, 1]),
        ([2, 2], [0, 1]),
    ] {
        assert!(
            z.max_pool2d(Pool2dParams { kernel, stride }).is_err(),
            "{kernel:?} {stride:?}"
        );
    }
    assert!(on(Tensor::zeros(&[2, 4, 5], dt))
        .max_pool2d(Pool2dParams {
            kernel: [2, 2],
            stride: [2, 2]
        })
        .is_err());
}

/// A window of all −∞ (e.g. a masked region) has its first element as the winner, inside the
/// window, as in PyTorch; the index must never point outside the window.
#[test]
fn max_pool2d_index_of_an_all_neg_infinity_window_is_inside_the_window() {
    let inf = f64::INFINITY;
    let (x, xv) = make(
        vec![1.0, 2.0, -inf, -inf, 3.0, 4.0, -inf, -inf],
        &[1, 1, 2, 4],
        DType::F32,
    );
    let p = Pool2dParams {
        kernel: [2, 2],
        stride: [2, 2],
    };
    let (os, v, ix) = naive_max_pool(&xv, [1, 1, 2, 4], p);
    assert_eq!(ix, vec![5.0, 2.0]);
    let (gv, gi) = x.max_pool2d(p).unwrap();
    assert_exact(&gv, &os, &v, "values");
    assert_exact(&gi, &os, &ix, "indices");
}

/// PyTorch's adaptive bins: start = ⌊i·n/o⌋, end = ⌈(i+1)·n/o⌉, computed independently in f64.
fn torch_adaptive_bins(n: usize, o: usize) -> Vec<(usize, usize)> {
    (0..o)
        .map(|i| {
            let start = (i as f64 * n as f64 / o as f64).floor() as usize;
            let end = ((i + 1) as f64 * n as f64 / o as f64).ceil() as usize;
            (start, end)
        })
        .collect()
}

fn naive_avg_pool(
    x: &[f64],
    [n, c, h, w]: [usize; 4],
    bh: &[(usize, usize)],
    bw: &[(usize, usize)],
) -> Vec<f64> {
    let mut out = vec![];
    for q in 0..n * c {
        for &(y0, y1) in bh {
            for &(x0, x1) in bw {
                let mut s = 0.0;
                for y in y0..y1 {
                    for xx in x0..x1 {
                        s += x[q * h * w + y * w + xx];
                    }
                }
                out.push(s / ((y1 - y0) * (x1 - x0)) as f64);
            }
        }
    }
    out
}

fn naive_avg_pool_backward(
    g: &[f64],
    [n, c]: [usize; 2],
    bh: &[(usize, usize)],
    bw: &[(usize, usize)],
    [h, w]: [usize; 2],
) -> Vec<f64> {
    let mut dx = vec![0.0; n * c * h * w];
    let mut k = 0;
    for q in 0..n * c {
        for &(y0, y1) in bh {
            for &(x0, x1) in bw {
                let share = g[k] / ((y1 - y0) * (x1 - x0)) as f64;
                k += 1;
                for y in y0..y1 {
                    for xx in x0..x1 {
                        dx[q * h * w + y * w + xx] += share;
                    }
                }
            }
        }
    }
    dx
}

fn avg_pools(dt: DType) {
    let mut rng = Rng::new(21);
    let xs = [2, 3, 7, 10];
    let (x, xv) = normal(&mut rng, &xs, dt);
    let atol = tol(dt) * max_abs(&xv);
    // Fixed windows.
    for (kernel, stride) in [
        ([2, 3], [2, 2]),
        ([3, 2], [1, 3]),
        ([7, 10], [1, 1]),
        ([1, 1], [3, 4]),
    ] {
        let p = Pool2dParams { kernel, stride };
        let axis = |n: usize, a: usize| -> Vec<(usize, usize)> {
            (0..=(n - kernel[a]) / stride[a])
                .map(|i| (i * stride[a], i * stride[a] + kernel[a]))
                .collect()
        };
        let (bh, bw) = (axis(7, 0), axis(10, 1));
        assert_eq!(
            PoolBins::fixed([7, 10], p).unwrap(),
            PoolBins {
                h: bh.clone(),
                w: bw.clone()
            }
        );
        let want = naive_avg_pool(&xv, xs, &bh, &bw);
        assert_close(
            &x.avg_pool2d(p).unwrap(),
            &[2, 3, bh.len(), bw.len()],
            &want,
            atol,
            &format!("avg_pool2d {p:?}"),
        );
    }
    // Adaptive windows, shrinking, identity, growing and global.
    for (inp, out) in [
        ([7, 10], [3, 4]),
        ([7, 10], [7, 10]),
        ([7, 10], [9, 13]),
        ([7, 10], [1, 1]),
        ([7, 10], [5, 3]),
    ] {
        let (x, xv) = normal(&mut rng, &[2, 3, inp[0], inp[1]], dt);
        let (bh, bw) = (
            torch_adaptive_bins(inp[0], out[0]),
            torch_adaptive_bins(inp[1], out[1]),
        );
        let bins = PoolBins::adaptive(inp, out).unwrap();
        assert_eq!(
            bins,
            PoolBins {
                h: bh.clone(),
                w: bw.clone()
            },
            "adaptive bins {inp:?} -> {out:?}"
        );
        let want = naive_avg_pool(&xv, [2, 3, inp[0], inp[1]], &bh, &bw);
        let got = x.adaptive_avg_pool2d(out).unwrap();
        assert_close(
            &got,
            &[2, 3, out[0], out[1]],
            &want,
            atol,
            &format!("adaptive {inp:?} -> {out:?}"),
        );
        assert_close(
            &x.avg_pool_bins(&bins).unwrap(),
            &[2, 3, out[0], out[1]],
            &want,
            atol,
            "avg_pool_bins",
        );
        // Backward against naive, and the adjoint identity <avg(x), g> = <x, avg_backward(g)>.
        let (g, gv) = normal(&mut rng, &[2, 3, out[0], out[1]], dt);
        let dx = g.avg_pool_bins_backward(&bins, inp).unwrap();
        let want = naive_avg_pool_backward(&gv, [2, 3], &bh, &bw, inp);
        let xshape = [2, 3, inp[0], inp[1]];
        assert_close(
            &dx,
            &xshape,
            &want,
            tol(dt) * max_abs(&gv),
            &format!("avg backward {inp:?} -> {out:?}"),
        );
        if dt == DType::F64 {
            let y = vals(&got);
            let d = vals(&dx);
            assert_adjoint(
                (dot(&y, &gv), abs_dot(&y, &gv)),
                (dot(&xv, &d), abs_dot(&xv, &d)),
                "avg pool adjoint",
            );
        }
    }
    // Errors.
    assert!(x
        .avg_pool2d(Pool2dParams {
            kernel: [8, 1],
            stride: [1, 1]
        })
        .is_err());
    assert!(x.adaptive_avg_pool2d([0, 3]).is_err());
    assert!(on(Tensor::zeros(&[3, 7, 10], dt))
        .adaptive_avg_pool2d([2, 2])
        .is_err());
    let too_big = PoolBins {
        h: vec![(0, 8)],
        w: vec![(0, 2)],
    };
    assert!(x.avg_pool_bins(&too_big).is_err());
    let empty = PoolBins {
        h: vec![(3, 3)],
        w: vec![(0, 2)],
    };
    assert!(x.avg_pool_bins(&empty).is_err());
    let bins = PoolBins::adaptive([7, 10], [2, 2]).unwrap();
    assert!(
        on(Tensor::zeros(&[2, 3, 3, 2], dt))
            .avg_pool_bins_backward(&bins, [7, 10])
            .is_err(),
        "gradient shape"
    );
}

/// The backward of average pooling, like its forward, must refuse windows that do not fit the
/// plane it writes to (an `Err`, not an out-of-bounds panic or a silent wrap into the next row).
#[test]
fn avg_pool_bins_backward_rejects_windows_outside_the_input() {
    let bins = PoolBins::adaptive([7, 10], [3, 4]).unwrap();
    let g = on(Tensor::ones(&[1, 1, 3, 4], DType::F64));
    let wraps = std::panic::catch_unwind(|| g.avg_pool_bins_backward(&bins, [7, 5]).is_err());
    assert!(
        matches!(wraps, Ok(true)),
        "windows up to column 10 on a width-5 plane: {wraps:?}"
    );
    let overflows = std::panic::catch_unwind(|| g.avg_pool_bins_backward(&bins, [2, 2]).is_err());
    assert!(
        matches!(overflows, Ok(true)),
        "windows up to row 7 on a 2x2 plane: {overflows:?}"
    );
}
