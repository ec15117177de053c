//! conv_transpose2d against a direct scatter loop and hand-computed outputs, the output
//! paddings the convolution gradients accept, and the sizes it refuses.

use super::*;
use crate::ConvTranspose2dParams;

for_both_dtypes!(
    conv_transpose2d_matches_a_direct_loop,
    conv_transpose2d_by_hand,
    conv_transpose2d_errors,
);

fn tparams(
    stride: [usize; 2],
    padding: [usize; 2],
    output_padding: [usize; 2],
    dilation: [usize; 2],
) -> ConvTranspose2dParams {
    ConvTranspose2dParams {
        stride,
        padding,
        output_padding,
        dilation,
    }
}

/// `y[b, o, iy·s − p + i·d, ix·s − p + j·d] += x[b, c, iy, ix] · w[c, o, i, j]`, the rows past
/// `(H − 1)·s − 2p + d(k − 1) + op + 1` dropped. Returns the shape, the values and Σ|terms|.
fn naive_conv_transpose(
    x: &[f64],
    [n, c, h, w]: [usize; 4],
    wt: &[f64],
    [_, o, kh, kw]: [usize; 4],
    p: ConvTranspose2dParams,
) -> ([usize; 4], Vec<f64>, Vec<f64>) {
    let size = |a: usize, len: usize, k: usize| {
        ((len - 1) * p.stride[a] + p.dilation[a] * (k - 1) + p.output_padding[a] + 1) as isize
            - 2 * p.padding[a] as isize
    };
    let (oh, ow) = (size(0, h, kh) as usize, size(1, w, kw) as usize);
    let ys = [n, o, oh, ow];
    let (mut y, mut mag) = (vec![0.0; numel(&ys)], vec![0.0; numel(&ys)]);
    for b in 0..n {
        for ci in 0..c {
            for iy in 0..h {
                for ix in 0..w {
                    for oc in 0..o {
                        for i in 0..kh {
                            for j in 0..kw {
                                let at = |a: usize, v: usize, t: usize| {
                                    (v * p.stride[a] + t * p.dilation[a]) as isize
                                        - p.padding[a] as isize
                                };
                                let (yy, yx) = (at(0, iy, i), at(1, ix, j));
                                if yy < 0 || yx < 0 || yy >= oh as isize || yx >= ow as isize {
                                    continue;
                                }
                                let term = x[((b * c + ci) * h + iy) * w + ix]
                                    * wt[((ci * o + oc) * kh + i) * kw + j];
                                let q = ((b * o + oc) * oh + yy as usize) * ow + yx as usize;
                                y[q] += term;
                                mag[q] += term.abs();
                            }
                        }
                    }
                }
            }
        }
    }
    (ys, y, mag)
}

fn conv_transpose2d_matches_a_direct_loop(dt: DType) {
    let mut rng = Rng::new(41);
    let cases = [
        ([1, 1, 3, 4], [1, 2, 2, 2], ConvTranspose2dParams::default()),
        // Stride 2, padding 1, output padding 1, dilation 2.
        (
            [2, 3, 4, 5],
            [3, 2, 3, 3],
            tparams([2, 2], [1, 1], [1, 1], [2, 2]),
        ),
        // Output padding 1 at stride 1, allowed by the dilation 2 (rows the convolution of
        // the output would map past the input).
        (
            [1, 2, 5, 4],
            [2, 3, 2, 3],
            tparams([1, 1], [0, 1], [1, 0], [2, 1]),
        ),
        (
            [2, 2, 3, 3],
            [2, 2, 3, 2],
            tparams([3, 2], [2, 0], [2, 1], [1, 1]),
        ),
        (
            [3, 1, 2, 6],
            [1, 4, 1, 2],
            tparams([2, 3], [0, 1], [0, 2], [1, 1]),
        ),
    ];
    for (xs, ws, p) in cases {
        let (x, xv) = normal(&mut rng, &xs, dt);
        let (w, wv) = normal(&mut rng, &ws, dt);
        let (ys, y, mag) = naive_conv_transpose(&xv, xs, &wv, ws, p);
        let got = x.conv_transpose2d(&w, p).unwrap();
        assert_close(
            &got,
            &ys,
            &y,
            tol(dt) * max_abs(&mag),
            &format!("conv_transpose2d x {xs:?} w {ws:?} {p:?}"),
        );
    }
}

fn conv_transpose2d_by_hand(dt: DType) {
    let (x, _) = make(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2], dt);
    let (ones, _) = make(vec![1.0; 4], &[1, 1, 2, 2], dt);
    // Stride 1: each output sums the inputs whose 2×2 footprint covers it.
    let y = x.conv_transpose2d(&ones, tparams([1, 1], [0, 0], [0, 0], [1, 1]));
    let want = [1.0, 3.0, 2.0, 4.0, 10.0, 6.0, 3.0, 7.0, 4.0];
    assert_exact(&y.unwrap(), &[1, 1, 3, 3], &want, "stride 1");
    // Stride 2: each input becomes a 2×2 block; output padding adds a zero row and column.
    let y = x.conv_transpose2d(&ones, tparams([2, 2], [0, 0], [1, 1], [1, 1]));
    #[rustfmt::skip]
    let want = [
        1.0, 1.0, 2.0, 2.0, 0.0,
        1.0, 1.0, 2.0, 2.0, 0.0,
        3.0, 3.0, 4.0, 4.0, 0.0,
        3.0, 3.0, 4.0, 4.0, 0.0,
        0.0, 0.0, 0.0, 0.0, 0.0,
    ];
    assert_exact(
        &y.unwrap(),
        &[1, 1, 5, 5],
        &want,
        "stride 2, output padding 1",
    );
    // Padding 1 crops a border of the stride-1 output.
    let y = x.conv_transpose2d(&ones, tparams([1, 1], [1, 1], [0, 0], [1, 1]));
    assert_exact(&y.unwrap(), &[1, 1, 1, 1], &[10.0], "padding 1");
    // Two output channels: the weight is [C_in, C_out, kh, kw].
    let (w2, _) = make(
        vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0],
        &[1, 2, 2, 2],
        dt,
    );
    let y = x.conv_transpose2d(&w2, ConvTranspose2dParams::default());
    #[rustfmt::skip]
    let want = [
        1.0, 2.0, 0.0, 3.0, 4.0, 0.0, 0.0, 0.0, 0.0,
        0.0, 0.0, 0.0, 0.0, -1.0, -2.0, 0.0, -3.0, -4.0,
    ];
    assert_exact(&y.unwrap(), &[1, 2, 3, 3], &want, "two output channels");
}

fn conv_transpose2d_errors(dt: DType) {
    let z = |s: &[usize]| on(Tensor::zeros(s, dt));
    let (x, w) = (z(&[1, 2, 3, 3]), z(&[2, 3, 2, 2]));
    let ok = |p: ConvTranspose2dParams| x.conv_transpose2d(&w, p);
    // Output padding below the stride or the dilation (PyTorch's rule), else refused.
    assert!(ok(tparams([2, 1], [0, 0], [1, 0], [1, 1])).is_ok());
    assert!(ok(tparams([1, 1], [0, 0], [1, 1], [2, 2])).is_ok());
    for p in [
        tparams([2, 1], [0, 0], [2, 0], [1, 1]),
        tparams([1, 1], [0, 0], [0, 1], [1, 1]),
        tparams([2, 2], [0, 0], [2, 2], [2, 2]),
    ] {
        let e = ok(p).unwrap_err().to_string();
        assert!(e.contains("output padding"), "{p:?}: {e}");
    }
    // Channels and ranks.
    assert!(x
        .conv_transpose2d(&z(&[3, 3, 2, 2]), ConvTranspose2dParams::default())
        .is_err());
    assert!(z(&[2, 3, 3])
        .conv_transpose2d(&w, ConvTranspose2dParams::default())
        .is_err());
    // Zero stride or dilation; a padding that leaves no output.
    assert!(ok(tparams([0, 1], [0, 0], [0, 0], [1, 1])).is_err());
    assert!(ok(tparams([1, 1], [0, 0], [0, 0], [1, 0])).is_err());
    assert!(ok(tparams([1, 1], [2, 0], [0, 0], [1, 1])).is_err());
    // Huge strides, paddings and dilations are errors, not overflows or allocations.
    let huge = usize::MAX / 2;
    for p in [
        tparams([huge, 1], [0, 0], [0, 0], [1, 1]),
        tparams([1, 1], [huge, 0], [0, 0], [1, 1]),
        tparams([1, 1], [0, 0], [0, 0], [1, huge]),
        tparams([1 << 31, 1 << 31], [0, 0], [0, 0], [1, 1]),
    ] {
        assert!(ok(p).is_err(), "{p:?}");
    }
    // The convolution gradients take the output padding a transposed convolution may add:
    // g [.., 5, 5] with a 2×2 kernel at dilation 2 comes from 7 rows, or 8 (output padding 1).
    let (g, wk) = (z(&[1, 4, 5, 5]), z(&[4, 2, 2, 2]));
    let pd = params([1, 1], [0, 0], [2, 2]);
    for (hw, fits) in [
        ([7, 7], true),
        ([8, 7], true),
        ([7, 8], true),
        ([9, 7], false),
        ([6, 7], false),
    ] {
        assert_eq!(g.conv2d_input_grad(&wk, pd, hw).is_ok(), fits, "{hw:?}");
        assert_eq!(
            z(&[1, 2, hw[0], hw[1]])
                .conv2d_weight_grad(&g, pd, [2, 2])
                .is_ok(),
            fits,
            "{hw:?}"
        );
    }
}
