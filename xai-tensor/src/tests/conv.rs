//! conv2d and its two gradients against direct loops, and the shapes it refuses.

use super::*;

for_both_dtypes!(
    conv2d_and_gradients,
    conv2d_errors,
    conv2d_bias_is_added_per_channel
);

fn conv_out(x: [usize; 4], w: [usize; 4], p: Conv2dParams) -> [usize; 4] {
    let o = |a: usize| {
        (x[2 + a] + 2 * p.padding[a] - p.dilation[a] * (w[2 + a] - 1) - 1) / p.stride[a] + 1
    };
    [x[0], w[0], o(0), o(1)]
}

/// Calls `f(x_offset, w_offset, y_offset)` for every term of a direct convolution.
fn conv_taps(
    xs: [usize; 4],
    ws: [usize; 4],
    p: Conv2dParams,
    mut f: impl FnMut(usize, usize, usize),
) {
    let [n, c, h, w] = xs;
    let [o, _, kh, kw] = ws;
    let [_, _, oh, ow] = conv_out(xs, ws, p);
    for b in 0..n {
        for oc in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ic in 0..c {
                        for i in 0..kh {
                            for j in 0..kw {
                                let iy = (oy * p.stride[0] + i * p.dilation[0]) as isize
                                    - p.padding[0] as isize;
                                let ix = (ox * p.stride[1] + j * p.dilation[1]) as isize
                                    - p.padding[1] as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let xo = ((b * c + ic) * h + iy as usize) * w + ix as usize;
                                let wo = ((oc * c + ic) * kh + i) * kw + j;
                                let yo = ((b * o + oc) * oh + oy) * ow + ox;
                                f(xo, wo, yo);
                            }
                        }
                    }
                }
            }
        }
    }
}

fn conv_cases() -> Vec<([usize; 4], [usize; 4], Conv2dParams)> {
    vec![
        ([2, 3, 9, 11], [4, 3, 3, 2], Conv2dParams::default()),
        ([2, 3, 9, 11], [4, 3, 3, 2], params([2, 1], [1, 2], [1, 1])),
        ([2, 3, 9, 11], [4, 3, 3, 2], params([1, 2], [2, 0], [2, 1])),
        ([2, 3, 9, 11], [4, 3, 3, 2], params([3, 2], [1, 1], [2, 3])),
        ([1, 2, 5, 4], [3, 2, 5, 4], params([1, 1], [0, 0], [1, 1])),
        ([3, 1, 6, 7], [2, 1, 1, 1], params([2, 3], [1, 0], [1, 1])),
        ([1, 2, 4, 3], [2, 2, 4, 3], params([5, 4], [3, 2], [2, 2])),
        // 17 images: three chunked partial sums in the weight gradient.
        ([17, 2, 5, 6], [3, 2, 2, 3], params([1, 2], [1, 1], [1, 1])),
        // "Same"-width windows (one block copy per patch row): odd heights and paddings.
        ([3, 2, 5, 7], [2, 2, 5, 3], params([1, 1], [1, 1], [1, 1])),
        ([2, 3, 4, 6], [2, 3, 3, 5], params([1, 1], [2, 2], [1, 1])),
        ([2, 1, 3, 1], [1, 1, 3, 1], params([1, 1], [2, 0], [1, 1])),
        // Several gemm groups (7 images each, the last 5), padded and unpadded.
        (
            [40, 2, 12, 12],
            [3, 2, 3, 3],
            params([1, 1], [1, 1], [1, 1]),
        ),
        (
            [48, 3, 12, 12],
            [2, 3, 1, 1],
            params([2, 2], [0, 0], [1, 1]),
        ),
    ]
}

fn conv2d_and_gradients(dt: DType) {
    let mut rng = Rng::new(19);
    for (xs, ws, p) in conv_cases() {
        let ys = conv_out(xs, ws, p);
        let (x, xv) = normal(&mut rng, &xs, dt);
        let (w, wv) = normal(&mut rng, &ws, dt);
        let (g, gv) = normal(&mut rng, &ys, dt);
        let mut y = vec![0.0; numel(&ys)];
        let mut dx = vec![0.0; numel(&xs)];
        let mut dw = vec![0.0; numel(&ws)];
        let (mut ys_abs, mut dx_abs, mut dw_abs) = (y.clone(), dx.clone(), dw.clone());
        conv_taps(xs, ws, p, |xo, wo, yo| {
            y[yo] += xv[xo] * wv[wo];
            ys_abs[yo] += (xv[xo] * wv[wo]).abs();
            dx[xo] += gv[yo] * wv[wo];
            dx_abs[xo] += (gv[yo] * wv[wo]).abs();
            dw[wo] += gv[yo] * xv[xo];
            dw_abs[wo] += (gv[yo] * xv[xo]).abs();
        });
        let what = |op: &str| format!("{op} x {xs:?} w {ws:?} {p:?}");
        let t = tol(dt);
        assert_close(
            &x.conv2d(&w, p).unwrap(),
            &ys,
            &y,
            t * max_abs(&ys_abs),
            &what("conv2d"),
        );
        let gi = g.conv2d_input_grad(&w, p, [xs[2], xs[3]]).unwrap();
        assert_close(
            &gi,
            &xs,
            &dx,
            t * max_abs(&dx_abs),
            &what("conv2d_input_grad"),
        );
        let gw = x.conv2d_weight_grad(&g, p, [ws[2], ws[3]]).unwrap();
        assert_close(
            &gw,
            &ws,
            &dw,
            t * max_abs(&dw_abs),
            &what("conv2d_weight_grad"),
        );
        // The fused backward gives both gradients, bit for bit.
        let (fx, fw) = g.conv2d_backward(&x, &w, p).unwrap();
        assert_eq!(vals(&fx), vals(&gi), "{}", what("conv2d_backward input"));
        assert_eq!(vals(&fw), vals(&gw), "{}", what("conv2d_backward weight"));
        assert_eq!((fx.shape(), fw.shape()), (gi.shape(), gw.shape()));
        // Adjoint identities <conv(x,w), g> = <x, input_grad(g,w)> = <w, weight_grad(x,g)> in f64.
        if dt == DType::F64 {
            let yv = vals(&x.conv2d(&w, p).unwrap());
            let (gi, gw) = (vals(&gi), vals(&gw));
            let a = (
                dot(&yv, &gv),
                abs_dot(&ys_abs, &gv.iter().map(|v| v.abs()).collect::<Vec<_>>()),
            );
            assert_adjoint(
                a,
                (dot(&xv, &gi), abs_dot(&xv, &dx_abs)),
                &what("<conv, g> = <x, input_grad>"),
            );
            assert_adjoint(
                a,
                (dot(&wv, &gw), abs_dot(&wv, &dw_abs)),
                &what("<conv, g> = <w, weight_grad>"),
            );
        }
    }
}

fn conv2d_errors(dt: DType) {
    let z = |s: &[usize]| on(Tensor::zeros(s, dt));
    let p0 = Conv2dParams::default();
    // Kernel bigger than the (padded) input.
    assert!(z(&[1, 2, 3, 3]).conv2d(&z(&[1, 2, 5, 5]), p0).is_err());
    assert!(z(&[1, 2, 3, 3])
        .conv2d(&z(&[1, 2, 5, 5]), params([1, 1], [1, 1], [1, 1]))
        .is_ok());
    assert!(z(&[1, 2, 3, 3])
        .conv2d(&z(&[1, 2, 5, 5]), params([1, 1], [1, 0], [1, 1]))
        .is_err());
    assert!(z(&[1, 2, 3, 3])
        .conv2d(&z(&[1, 2, 2, 2]), params([1, 1], [0, 0], [3, 1]))
        .is_err());
    // Channels, ranks, zero stride.
    assert!(z(&[1, 2, 6, 6]).conv2d(&z(&[1, 3, 2, 2]), p0).is_err());
    assert!(z(&[2, 6, 6]).conv2d(&z(&[1, 2, 2, 2]), p0).is_err());
    assert!(z(&[1, 2, 6, 6]).conv2d(&z(&[2, 2, 2]), p0).is_err());
    assert!(z(&[1, 2, 6, 6])
        .conv2d(&z(&[1, 2, 2, 2]), params([0, 1], [0, 0], [1, 1]))
        .is_err());
    let other = if dt == DType::F32 {
        DType::F64
    } else {
        DType::F32
    };
    assert!(z(&[1, 2, 6, 6])
        .conv2d(&on(Tensor::zeros(&[1, 2, 2, 2], other)), p0)
        .is_err());
    // Gradients with inconsistent shapes.
    let g = z(&[1, 4, 5, 5]);
    assert!(g.conv2d_input_grad(&z(&[4, 2, 2, 2]), p0, [6, 6]).is_ok());
    assert!(g.conv2d_input_grad(&z(&[4, 2, 2, 2]), p0, [7, 6]).is_err());
    assert!(g.conv2d_input_grad(&z(&[3, 2, 2, 2]), p0, [6, 6]).is_err());
    assert!(z(&[1, 2, 6, 6]).conv2d_weight_grad(&g, p0, [2, 2]).is_ok());
    assert!(z(&[2, 2, 6, 6]).conv2d_weight_grad(&g, p0, [2, 2]).is_err());
    assert!(z(&[1, 2, 6, 6]).conv2d_weight_grad(&g, p0, [3, 2]).is_err());
    assert!(z(&[1, 2, 6, 6]).conv2d_weight_grad(&g, p0, [7, 7]).is_err());
}

fn conv2d_bias_is_added_per_channel(dt: DType) {
    let mut rng = Rng::new(23);
    for (xs, ws, p) in conv_cases() {
        let (x, _) = normal(&mut rng, &xs, dt);
        let (w, _) = normal(&mut rng, &ws, dt);
        let (b, _) = normal(&mut rng, &[ws[0]], dt);
        let want = x
            .conv2d(&w, p)
            .unwrap()
            .add(&b.reshape(&[1, ws[0], 1, 1]).unwrap())
            .unwrap();
        let got = x.conv2d_biased(&w, Some(&b), p).unwrap();
        assert_eq!(got.shape(), want.shape());
        for (g, e) in vals(&got).iter().zip(vals(&want)) {
            assert!(
                (g - e).abs() <= 1e-5 * (1.0 + e.abs()),
                "{xs:?}: {g} vs {e}"
            );
        }
        assert!(x
            .conv2d_biased(&w, Some(&b.reshape(&[1, ws[0]]).unwrap()), p)
            .is_err());
    }
}
