//! Nearest and bilinear upsampling against per-pixel loops of PyTorch's formulas and
//! hand-computed planes; their adjoint; where a NaN goes; the sizes they refuse.

use super::*;
use crate::{Resample2d, UpsampleSize};

for_both_dtypes!(
    upsampling_matches_per_pixel_formulas,
    upsampling_by_hand,
    adjoint_is_the_transpose,
    a_non_finite_input_reaches_only_the_outputs_that_read_it,
    upsampling_errors,
);

/// The source index of nearest output `i` (PyTorch's `nearest_idx`, in f32).
fn nearest_src(i: usize, n: usize, m: usize, scale: Option<f64>) -> usize {
    if m == n {
        return i;
    }
    if m == 2 * n {
        return i / 2;
    }
    let r = scale.map_or(n as f32 / m as f32, |s| (1.0 / s) as f32);
    ((i as f32 * r).floor() as usize).min(n - 1)
}

/// The two taps `(i₀, λ₀), (i₁, λ₁)` of bilinear output `i` (PyTorch's
/// `compute_source_index_and_lambda`, in f64).
fn linear_src(i: usize, n: usize, m: usize, ac: bool, scale: Option<f64>) -> [(usize, f64); 2] {
    if m == n {
        return [(i, 1.0), (i, 0.0)];
    }
    let x = if ac {
        if m > 1 {
            i as f64 * (n - 1) as f64 / (m - 1) as f64
        } else {
            0.0
        }
    } else {
        let r = scale.map_or(n as f64 / m as f64, |s| 1.0 / s);
        (r * (i as f64 + 0.5) - 0.5).max(0.0)
    };
    let i0 = (x.floor() as usize).min(n - 1);
    let l1 = (x - i0 as f64).clamp(0.0, 1.0);
    [(i0, 1.0 - l1), ((i0 + 1).min(n - 1), l1)]
}

/// Output size and per-axis scales of `size` for an `[h, w]` plane.
fn out_of(size: UpsampleSize, hw: [usize; 2]) -> ([usize; 2], [Option<f64>; 2]) {
    match size {
        UpsampleSize::Size(s) => (s, [None, None]),
        UpsampleSize::Scale(f) => (
            [0, 1].map(|a| (hw[a] as f64 * f[a]).floor() as usize),
            [Some(f[0]), Some(f[1])],
        ),
    }
}

/// Naive `[n, c, h, w]` upsampling, one output pixel at a time.
fn naive(
    x: &[f64],
    [n, c, h, w]: [usize; 4],
    size: UpsampleSize,
    bilinear: Option<bool>,
) -> ([usize; 4], Vec<f64>) {
    let ([oh, ow], s) = out_of(size, [h, w]);
    let taps = |i: usize, a: usize, len: usize, m: usize| match bilinear {
        None => vec![(nearest_src(i, len, m, s[a]), 1.0)],
        Some(ac) => linear_src(i, len, m, ac, s[a]).to_vec(),
    };
    let mut out = Vec::with_capacity(n * c * oh * ow);
    for q in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut v = 0.0;
                for (iy, ly) in taps(oy, 0, h, oh) {
                    for (ix, lx) in taps(ox, 1, w, ow) {
                        v += ly * lx * x[(q * h + iy) * w + ix];
                    }
                }
                out.push(v);
            }
        }
    }
    ([n, c, oh, ow], out)
}

fn sizes() -> Vec<([usize; 4], UpsampleSize)> {
    vec![
        ([2, 3, 4, 5], UpsampleSize::Scale([2.0, 2.0])),
        ([1, 2, 5, 5], UpsampleSize::Size([7, 7])),
        ([1, 2, 5, 4], UpsampleSize::Scale([1.5, 1.7])),
        ([2, 1, 3, 6], UpsampleSize::Size([8, 6])),
        ([1, 1, 7, 9], UpsampleSize::Size([3, 4])),
        ([1, 1, 1, 3], UpsampleSize::Size([4, 1])),
        // Large enough for the copies to run on several threads.
        ([2, 3, 60, 50], UpsampleSize::Scale([2.5, 2.0])),
    ]
}

fn upsampling_matches_per_pixel_formulas(dt: DType) {
    let mut rng = Rng::new(43);
    for (xs, size) in sizes() {
        let (x, xv) = normal(&mut rng, &xs, dt);
        let (os, want) = naive(&xv, xs, size, None);
        let got = x.upsample_nearest2d(size).unwrap();
        assert_exact(&got, &os, &want, &format!("nearest {xs:?} {size:?}"));
        for ac in [false, true] {
            let (os, want) = naive(&xv, xs, size, Some(ac));
            let got = x.upsample_bilinear2d(size, ac).unwrap();
            let what = format!("bilinear {xs:?} {size:?} align_corners {ac}");
            assert_close(&got, &os, &want, tol(dt) * max_abs(&xv), &what);
        }
    }
}

fn upsampling_by_hand(dt: DType) {
    let (x, _) = make(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2], dt);
    let twice = UpsampleSize::Scale([2.0, 2.0]);
    #[rustfmt::skip]
    let nearest = [
        1.0, 1.0, 2.0, 2.0,
        1.0, 1.0, 2.0, 2.0,
        3.0, 3.0, 4.0, 4.0,
        3.0, 3.0, 4.0, 4.0,
    ];
    let got = x.upsample_nearest2d(twice).unwrap();
    assert_exact(&got, &[1, 1, 4, 4], &nearest, "nearest ×2");
    // align_corners = false: coordinates max(½(i + ½) − ½, 0) = 0, ¼, ¾, 1¼ (clamped to 1).
    #[rustfmt::skip]
    let bilinear = [
        1.0, 1.25, 1.75, 2.0,
        1.5, 1.75, 2.25, 2.5,
        2.5, 2.75, 3.25, 3.5,
        3.0, 3.25, 3.75, 4.0,
    ];
    let got = x.upsample_bilinear2d(twice, false).unwrap();
    assert_exact(&got, &[1, 1, 4, 4], &bilinear, "bilinear ×2");
    // align_corners = true: the corners stay, 2 → 3 puts the middle at ½.
    let got = x
        .upsample_bilinear2d(UpsampleSize::Size([3, 3]), true)
        .unwrap();
    let corners = [1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.0, 3.5, 4.0];
    assert_exact(
        &got,
        &[1, 1, 3, 3],
        &corners,
        "bilinear align_corners 2 → 3",
    );
    // A size and the scale factor that gives it read different pixels: 4 → 6 columns at
    // r = 4/6 or r = 1/1.7.
    let (row, _) = make(vec![10.0, 20.0, 30.0, 40.0], &[1, 1, 1, 4], dt);
    let by_size = row.upsample_nearest2d(UpsampleSize::Size([1, 6])).unwrap();
    assert_exact(
        &by_size,
        &[1, 1, 1, 6],
        &[10.0, 10.0, 20.0, 30.0, 30.0, 40.0],
        "size 6",
    );
    let by_scale = row
        .upsample_nearest2d(UpsampleSize::Scale([1.0, 1.7]))
        .unwrap();
    let want = [10.0, 10.0, 20.0, 20.0, 30.0, 30.0];
    assert_exact(&by_scale, &[1, 1, 1, 6], &want, "scale 1.7");
}

fn adjoint_is_the_transpose(dt: DType) {
    if dt == DType::F32 {
        return; // The identity is checked to f64 rounding.
    }
    let mut rng = Rng::new(44);
    for (xs, size) in sizes() {
        let hw = [xs[2], xs[3]];
        let plans = [
            Resample2d::nearest(hw, size).unwrap(),
            Resample2d::bilinear(hw, size, false, dt).unwrap(),
            Resample2d::bilinear(hw, size, true, dt).unwrap(),
        ];
        for plan in plans {
            let (x, xv) = normal(&mut rng, &xs, dt);
            let os = [xs[0], xs[1], plan.out_hw()[0], plan.out_hw()[1]];
            let (g, gv) = normal(&mut rng, &os, dt);
            let y = vals(&x.resample2d(&plan).unwrap());
            let back = g.resample2d_adjoint(&plan).unwrap();
            assert_eq!(back.shape(), xs);
            let back = vals(&back);
            let lhs = (dot(&y, &gv), abs_dot(&y, &gv));
            let rhs = (dot(&xv, &back), abs_dot(&xv, &back));
            assert_adjoint(lhs, rhs, &format!("<A x, g> = <x, Aᵀ g> {xs:?} {size:?}"));
        }
    }
}

fn a_non_finite_input_reaches_only_the_outputs_that_read_it(dt: DType) {
    let mut v = vec![1.0; 16];
    v[5] = f64::INFINITY; // pixel (1, 1) of a 4×4 plane
    v[10] = f64::NAN; // pixel (2, 2)
    let (x, _) = make(v, &[1, 1, 4, 4], dt);
    let y = vals(
        &x.upsample_nearest2d(UpsampleSize::Scale([2.0, 2.0]))
            .unwrap(),
    );
    for (q, &got) in y.iter().enumerate() {
        let src = (q / 8 / 2, q % 8 / 2);
        match src {
            (1, 1) => assert_eq!(got, f64::INFINITY, "output {q}"),
            (2, 2) => assert!(got.is_nan(), "output {q}"),
            _ => assert_eq!(got, 1.0, "output {q}"),
        }
    }
    // Bilinear: an output is non-finite exactly when one of its taps (even one of weight 0,
    // as in PyTorch) is a non-finite pixel.
    let y = vals(
        &x.upsample_bilinear2d(UpsampleSize::Size([8, 8]), false)
            .unwrap(),
    );
    let taps = |i: usize| linear_src(i, 4, 8, false, None).map(|(j, _)| j);
    for (q, &got) in y.iter().enumerate() {
        let (ty, tx) = (taps(q / 8), taps(q % 8));
        let touched = [(1, 1), (2, 2)]
            .iter()
            .any(|(a, b)| ty.contains(a) && tx.contains(b));
        assert_eq!(!got.is_finite(), touched, "output {q}: {got}");
    }
    // Outputs 0..=4 of an axis tap pixel 1, outputs 3..=6 pixel 2: 64 − (25 + 16 − 4) finite.
    assert_eq!(y.iter().filter(|v| v.is_finite()).count(), 27);
}

fn upsampling_errors(dt: DType) {
    let x = on(Tensor::zeros(&[1, 2, 4, 5], dt));
    let bad = [
        UpsampleSize::Scale([0.0, 1.0]),
        UpsampleSize::Scale([-2.0, 1.0]),
        UpsampleSize::Scale([f64::NAN, 1.0]),
        UpsampleSize::Scale([f64::INFINITY, 1.0]),
        UpsampleSize::Scale([0.2, 1.0]), // ⌊4·0.2⌋ = 0 rows
        UpsampleSize::Size([0, 3]),
        // Far too many elements: an error, not an overflow or an allocation.
        UpsampleSize::Scale([1e300, 1.0]),
        UpsampleSize::Scale([1e9, 1e9]),
        UpsampleSize::Size([usize::MAX, 2]),
    ];
    for size in bad {
        assert!(x.upsample_nearest2d(size).is_err(), "nearest {size:?}");
        assert!(
            x.upsample_bilinear2d(size, false).is_err(),
            "bilinear {size:?}"
        );
    }
    let twice = UpsampleSize::Scale([2.0, 2.0]);
    assert!(on(Tensor::zeros(&[2, 4, 5], dt))
        .upsample_nearest2d(twice)
        .is_err());
    assert!(on(Tensor::zeros(&[1, 1, 0, 5], dt))
        .upsample_nearest2d(twice)
        .is_err());
    // A plan for another plane.
    let plan = Resample2d::nearest([4, 4], twice).unwrap();
    assert!(x.resample2d(&plan).is_err());
    assert!(x.resample2d_adjoint(&plan).is_err());
}
