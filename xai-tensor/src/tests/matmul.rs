//! Batched matrix products.

use super::*;

for_both_dtypes!(matmul);

/// `[ba, m, k] @ [bb, k, n]` with a batch of 1 shared; returns the product and Σ|terms|.
fn naive_matmul(
    a: &[f64],
    [ba, m, k]: [usize; 3],
    b: &[f64],
    [bb, _, n]: [usize; 3],
) -> (Vec<f64>, Vec<f64>) {
    let batch = ba.max(bb);
    let (mut out, mut scale) = (vec![0.0; batch * m * n], vec![0.0; batch * m * n]);
    for t in 0..batch {
        let (ta, tb) = (if ba == 1 { 0 } else { t }, if bb == 1 { 0 } else { t });
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    let v = a[(ta * m + i) * k + p] * b[(tb * k + p) * n + j];
                    out[(t * m + i) * n + j] += v;
                    scale[(t * m + i) * n + j] += v.abs();
                }
            }
        }
    }
    (out, scale)
}

fn matmul(dt: DType) {
    let mut rng = Rng::new(18);
    // (lhs, rhs, out, lhs as [b, m, k], rhs as [b, k, n])
    type Case<'a> = (
        &'a [usize],
        &'a [usize],
        &'a [usize],
        [usize; 3],
        [usize; 3],
    );
    let cases: [Case; 8] = [
        (&[7, 5], &[5, 3], &[7, 3], [1, 7, 5], [1, 5, 3]),
        (&[1, 1], &[1, 9], &[1, 9], [1, 1, 1], [1, 1, 9]),
        (
            &[2, 3, 7, 5],
            &[2, 3, 5, 4],
            &[2, 3, 7, 4],
            [6, 7, 5],
            [6, 5, 4],
        ),
        (&[4, 6, 5], &[5, 3], &[4, 6, 3], [4, 6, 5], [1, 5, 3]),
        (&[6, 5], &[3, 5, 4], &[3, 6, 4], [1, 6, 5], [3, 5, 4]),
        (&[3, 0, 4], &[3, 4, 2], &[3, 0, 2], [3, 0, 4], [3, 4, 2]),
        // More rows than one parallel task (128): the row-split path, ragged last block.
        (&[300, 70], &[70, 50], &[300, 50], [1, 300, 70], [1, 70, 50]),
        (&[257, 13], &[13, 3], &[257, 3], [1, 257, 13], [1, 13, 3]),
    ];
    for (ls, rs, os, l3, r3) in cases {
        let (a, av) = normal(&mut rng, ls, dt);
        let (b, bv) = normal(&mut rng, rs, dt);
        let (want, scale) = naive_matmul(&av, l3, &bv, r3);
        let got = a.matmul(&b).unwrap();
        assert_close(
            &got,
            os,
            &want,
            tol(dt) * max_abs(&scale),
            &format!("matmul {ls:?} @ {rs:?}"),
        );
    }
    // t() feeds matmul: (A Bᵀ) against naive.
    let (a, av) = normal(&mut rng, &[4, 3], dt);
    let (b, bv) = normal(&mut rng, &[5, 3], dt);
    let bt: Vec<f64> = (0..15).map(|q| bv[(q % 5) * 3 + q / 5]).collect();
    let (want, scale) = naive_matmul(&av, [1, 4, 3], &bt, [1, 3, 5]);
    assert_close(
        &a.matmul(&b.t().unwrap()).unwrap(),
        &[4, 5],
        &want,
        tol(dt) * max_abs(&scale),
        "A Bᵀ",
    );
    // Errors.
    let z = |s: &[usize]| on(Tensor::zeros(s, dt));
    let bad: [(&[usize], &[usize]); 6] = [
        (&[3, 4], &[5, 2]),
        (&[2, 3, 4], &[3, 4, 5]),
        (&[4], &[4, 2]),
        (&[2, 3], &[3]),
        (&[2, 2, 3], &[3, 3, 4]),
        (&[2, 2, 3], &[2, 1, 3, 4]),
    ];
    for (l, r) in bad {
        assert!(
            z(l).matmul(&z(r)).is_err(),
            "matmul {l:?} @ {r:?} must be Err"
        );
    }
    let other = if dt == DType::F32 {
        DType::F64
    } else {
        DType::F32
    };
    assert!(
        z(&[2, 3])
            .matmul(&on(Tensor::zeros(&[3, 2], other)))
            .is_err(),
        "dtype mismatch"
    );
}
