//! Layout ops: reshape, permute and transpose, narrow, pad and cat, index_select/index_add,
//! gather/scatter_add.

use super::*;

for_both_dtypes!(
    reshape_permute_transpose,
    narrow_pad_cat,
    index_select_and_add,
    gather_scatter_add,
);

fn naive_permute(x: &[f64], xs: &[usize], perm: &[usize]) -> (Vec<usize>, Vec<f64>) {
    let os: Vec<usize> = perm.iter().map(|&p| xs[p]).collect();
    let out = (0..numel(&os))
        .map(|q| {
            let oix = unravel(q, &os);
            let mut xix = vec![0; xs.len()];
            for (i, &p) in perm.iter().enumerate() {
                xix[p] = oix[i];
            }
            x[ravel(&xix, xs)]
        })
        .collect();
    (os, out)
}

fn reshape_permute_transpose(dt: DType) {
    let mut rng = Rng::new(23);
    let xs = [2, 3, 4, 5];
    let (x, xv) = normal(&mut rng, &xs, dt);
    // Reshape keeps row-major data.
    let r = x.reshape(&[6, 20]).unwrap();
    assert_exact(&r, &[6, 20], &xv, "reshape");
    assert_exact(
        &on(Tensor::scalar(3.0, dt)).reshape(&[1, 1]).unwrap(),
        &[1, 1],
        &[3.0],
        "scalar reshape",
    );
    assert!(x.reshape(&[7, 17]).is_err());
    assert!(x.reshape(&[120, 2]).is_err());
    assert!(x.reshape(&[]).is_err());
    // Permutations.
    let perms: [&[usize]; 5] = [
        &[0, 1, 2, 3],
        &[3, 2, 1, 0],
        &[1, 3, 0, 2],
        &[2, 0, 3, 1],
        &[0, 2, 1, 3],
    ];
    for perm in perms {
        let (os, want) = naive_permute(&xv, &xs, perm);
        assert_exact(
            &x.permute(perm).unwrap(),
            &os,
            &want,
            &format!("permute {perm:?}"),
        );
    }
    let (os, want) = naive_permute(&xv, &xs, &[2, 1, 0, 3]);
    assert_exact(&x.transpose(0, 2).unwrap(), &os, &want, "transpose(0, 2)");
    assert_exact(&x.transpose(2, 0).unwrap(), &os, &want, "transpose(2, 0)");
    let (os, want) = naive_permute(&xv, &xs, &[0, 1, 3, 2]);
    assert_exact(&x.t().unwrap(), &os, &want, "t()");
    // A large permute: the parallel strided copy.
    let bs = [37, 29, 19];
    let (b, bv) = normal(&mut rng, &bs, dt);
    let (os, want) = naive_permute(&bv, &bs, &[2, 0, 1]);
    assert_exact(&b.permute(&[2, 0, 1]).unwrap(), &os, &want, "large permute");
    // Errors.
    assert!(x.permute(&[0, 0, 1, 2]).is_err());
    assert!(x.permute(&[0, 1, 2]).is_err());
    assert!(x.permute(&[0, 1, 2, 4]).is_err());
    assert!(x.transpose(1, 4).is_err());
    assert!(on(Tensor::zeros(&[3], dt)).t().is_err());
}

fn narrow_pad_cat(dt: DType) {
    let mut rng = Rng::new(24);
    let xs = [3, 5, 4];
    let (x, xv) = normal(&mut rng, &xs, dt);
    for (axis, start, len) in [(0, 1, 2), (1, 0, 5), (1, 2, 3), (2, 3, 1), (1, 4, 0)] {
        let mut os = xs.to_vec();
        os[axis] = len;
        let want: Vec<f64> = (0..numel(&os))
            .map(|q| {
                let mut ix = unravel(q, &os);
                ix[axis] += start;
                xv[ravel(&ix, &xs)]
            })
            .collect();
        let n = x.narrow(axis, start, len).unwrap();
        assert_exact(&n, &os, &want, &format!("narrow({axis}, {start}, {len})"));
        // pad_axis is the adjoint: narrow(pad(n)) = n, zeros elsewhere.
        let size = xs[axis] + 2;
        let p = n.pad_axis(axis, start + 1, size).unwrap();
        let mut ps = xs.to_vec();
        ps[axis] = size;
        let mut want_p = vec![0.0; numel(&ps)];
        for q in 0..numel(&os) {
            let mut ix = unravel(q, &os);
            ix[axis] += start + 1;
            want_p[ravel(&ix, &ps)] = want[q];
        }
        assert_exact(
            &p,
            &ps,
            &want_p,
            &format!("pad_axis({axis}, {}, {size})", start + 1),
        );
    }
    assert!(x.narrow(1, 3, 3).is_err());
    assert!(x.narrow(3, 0, 1).is_err());
    assert!(x.narrow(0, 4, 0).is_err());
    assert!(x.pad_axis(1, 1, 5).is_err());
    assert!(x.pad_axis(3, 0, 9).is_err());
    // cat along each axis, with ragged part sizes.
    for axis in 0..3 {
        let sizes = [2, 1, 3];
        let parts: Vec<(Tensor, Vec<f64>, Vec<usize>)> = sizes
            .iter()
            .map(|&n| {
                let mut s = xs.to_vec();
                s[axis] = n;
                let (t, v) = normal(&mut rng, &s, dt);
                (t, v, s)
            })
            .collect();
        let mut os = xs.to_vec();
        os[axis] = 6;
        let mut want = vec![0.0; numel(&os)];
        let mut off = 0;
        for (_, v, s) in &parts {
            for q in 0..v.len() {
                let mut ix = unravel(q, s);
                ix[axis] += off;
                want[ravel(&ix, &os)] = v[q];
            }
            off += s[axis];
        }
        let list: Vec<Tensor> = parts.iter().map(|p| p.0.clone()).collect();
        assert_exact(
            &Tensor::cat(&list, axis).unwrap(),
            &os,
            &want,
            &format!("cat along {axis}"),
        );
    }
    assert_exact(
        &Tensor::cat(std::slice::from_ref(&x), 1).unwrap(),
        &xs,
        &xv,
        "cat of one",
    );
    assert!(Tensor::cat(&[], 0).is_err());
    assert!(Tensor::cat(&[x.clone(), on(Tensor::zeros(&[3, 5], dt))], 0).is_err());
    assert!(Tensor::cat(&[x.clone(), on(Tensor::zeros(&[3, 2, 3], dt))], 1).is_err());
    assert!(Tensor::cat(&[x.clone(), x.clone()], 3).is_err());
    let other = if dt == DType::F32 {
        DType::F64
    } else {
        DType::F32
    };
    assert!(Tensor::cat(&[x.clone(), on(Tensor::zeros(&xs, other))], 0).is_err());
}

fn index_select_and_add(dt: DType) {
    let mut rng = Rng::new(25);
    let xs = [3, 5, 4];
    let (x, xv) = normal(&mut rng, &xs, dt);
    // A large tensor too, whose copies run on several threads.
    let big = [40, 37, 97];
    let (xb, xbv) = normal(&mut rng, &big, dt);
    let stride3 = |n: usize, len: usize| (0..len).map(|i| (i * 3) % n).collect::<Vec<_>>();
    for (xs, x, xv, axis, index) in [
        (xs, &x, &xv, 0, vec![2, 0, 2]),
        (xs, &x, &xv, 1, vec![4, 1, 1, 0, 3, 4, 2]),
        (xs, &x, &xv, 2, vec![3]),
        (xs, &x, &xv, 1, vec![]),
        (big, &xb, &xbv, 1, stride3(37, 45)),
        (big, &xb, &xbv, 2, stride3(97, 120)),
    ] {
        let mut os = xs.to_vec();
        os[axis] = index.len();
        let want: Vec<f64> = (0..numel(&os))
            .map(|q| {
                let mut ix = unravel(q, &os);
                ix[axis] = index[ix[axis]];
                xv[ravel(&ix, &xs)]
            })
            .collect();
        let got = x.index_select(axis, &index).unwrap();
        assert_exact(
            &got,
            &os,
            &want,
            &format!("index_select({axis}, {index:?}) of {xs:?}"),
        );
        // index_add of a random upstream, repeated indices accumulate.
        let (g, gv) = normal(&mut rng, &os, dt);
        let mut want = vec![0.0; xv.len()];
        let mut scale = vec![0.0; xv.len()];
        for q in 0..gv.len() {
            let mut ix = unravel(q, &os);
            ix[axis] = index[ix[axis]];
            want[ravel(&ix, &xs)] += gv[q];
            scale[ravel(&ix, &xs)] += gv[q].abs();
        }
        let got = g.index_add(axis, &index, xs[axis]).unwrap();
        assert_close(
            &got,
            &xs,
            &want,
            tol(dt) * max_abs(&scale),
            &format!("index_add({axis}, {index:?}) of {xs:?}"),
        );
    }
    assert!(x.index_select(1, &[0, 5]).is_err(), "index out of range");
    assert!(x.index_select(3, &[0]).is_err());
    assert!(
        x.index_add(1, &[0, 1], 5).is_err(),
        "index count differs from axis size"
    );
    assert!(x.index_add(0, &[0, 1, 3], 3).is_err(), "index out of range");
    assert!(x.index_add(3, &[0], 3).is_err());
}

fn gather_scatter_add(dt: DType) {
    let mut rng = Rng::new(26);
    let xs = [3, 5, 4];
    let (x, xv) = normal(&mut rng, &xs, dt);
    for axis in 0..3 {
        for len in [1, 2, 7] {
            let mut is = xs.to_vec();
            is[axis] = len;
            let idx: Vec<usize> = (0..numel(&is)).map(|_| rng.below(xs[axis])).collect();
            let (index, _) = make(idx.iter().map(|&i| i as f64).collect(), &is, dt);
            let want: Vec<f64> = (0..numel(&is))
                .map(|q| {
                    let mut ix = unravel(q, &is);
                    ix[axis] = idx[q];
                    xv[ravel(&ix, &xs)]
                })
                .collect();
            let what = format!("gather along {axis}, {len} per line");
            assert_exact(&x.gather(axis, &index).unwrap(), &is, &want, &what);
            // scatter_add: out[.., index[q], ..] += src[q], onto an axis of size xs[axis] + 1.
            let (src, sv) = normal(&mut rng, &is, dt);
            let mut os = xs.to_vec();
            os[axis] += 1;
            let (mut want, mut scale) = (vec![0.0; numel(&os)], vec![0.0; numel(&os)]);
            for q in 0..sv.len() {
                let mut ix = unravel(q, &is);
                ix[axis] = idx[q];
                want[ravel(&ix, &os)] += sv[q];
                scale[ravel(&ix, &os)] += sv[q].abs();
            }
            let got = src.scatter_add(axis, &index, os[axis]).unwrap();
            assert_close(
                &got,
                &os,
                &want,
                tol(dt) * max_abs(&scale),
                &format!("scatter_add along {axis}"),
            );
        }
    }
    // Index tensors of the other dtype work too.
    let other = if dt == DType::F32 {
        DType::F64
    } else {
        DType::F32
    };
    let (i2, _) = make(vec![1.0, 0.0, 2.0], &[3, 1], other);
    let (m, mv) = normal(&mut rng, &[3, 3], dt);
    assert_exact(
        &m.gather(1, &i2).unwrap(),
        &[3, 1],
        &[mv[1], mv[3], mv[8]],
        "gather with other-dtype index",
    );
    // Errors: out-of-range indices, shape mismatches, bad axis.
    let (bad, _) = make(vec![0.0, 5.0, 1.0], &[3, 1, 1], dt);
    let (x2, _) = normal(&mut rng, &[3, 5, 1], dt);
    assert!(
        x2.gather(1, &bad).is_err(),
        "gather index 5 on an axis of size 5"
    );
    assert!(
        x2.narrow(1, 0, 1).unwrap().scatter_add(1, &bad, 5).is_err(),
        "scatter_add index 5 into size 5"
    );
    assert!(x2.narrow(1, 0, 1).unwrap().scatter_add(1, &bad, 6).is_ok());
    let (wrong, _) = make(vec![0.0; 6], &[2, 3, 1], dt);
    assert!(
        x2.gather(1, &wrong).is_err(),
        "index shape differs off the axis"
    );
    assert!(x2.gather(3, &bad).is_err());
    let (ok_idx, _) = make(vec![0.0; 6], &[3, 2, 1], dt);
    assert!(
        x2.scatter_add(1, &ok_idx, 5).is_err(),
        "scatter_add source and index shapes differ"
    );
}

/// Indices are integers stored as floats; a negative one is out of range, not index 0.
#[test]
fn gather_and_scatter_add_reject_negative_indices() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], &[3]).unwrap();
    let neg = Tensor::from_vec(vec![-1.0f64, 0.0], &[2]).unwrap();
    let got = x.gather(0, &neg);
    assert!(
        got.is_err(),
        "gather with index -1 must be Err, got {:?}",
        got.map(|t| vals(&t))
    );
    let src = Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap();
    let got = src.scatter_add(0, &neg, 3);
    assert!(
        got.is_err(),
        "scatter_add with index -1 must be Err, got {:?}",
        got.map(|t| vals(&t))
    );
}
