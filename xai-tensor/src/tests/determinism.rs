//! Conversion and determinism: dtype round trips, seeded draws, bit-identical results on any
//! number of rayon threads.

use super::*;

for_both_dtypes!(deterministic_across_thread_counts);

#[test]
fn to_dtype_round_trips() {
    let mut rng = Rng::new(28);
    let x32 = on(rng.normal(&[7, 13], 0.0, 10.0, DType::F32).unwrap());
    let v32 = x32.to_vec_f32().unwrap();
    let x64 = x32.to_dtype(DType::F64).unwrap();
    assert_eq!(x64.dtype(), DType::F64);
    assert_eq!(x64.shape(), &[7, 13]);
    let back = x64.to_dtype(DType::F32).unwrap().to_vec_f32().unwrap();
    assert_eq!(
        v32.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
        back.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
    );
    assert_eq!(
        vals(&x64),
        v32.iter().map(|&x| x as f64).collect::<Vec<_>>()
    );
    // f64 → f32 rounds to nearest, like `as f32`.
    let y64 = on(rng.normal(&[5, 11], 0.0, 1e3, DType::F64).unwrap());
    let yv = vals(&y64);
    let y32 = y64.to_dtype(DType::F32).unwrap();
    assert_eq!(
        y32.to_vec_f32().unwrap(),
        yv.iter().map(|&x| x as f32).collect::<Vec<_>>()
    );
    assert_eq!(y64.to_vec_f32().unwrap(), y32.to_vec_f32().unwrap());
    // Same dtype is a cheap clone.
    assert!(y64.to_dtype(DType::F64).unwrap().same_data(&y64));
    // Constructors.
    assert_exact(
        &on(Tensor::full(&[2, 2], 0.1, DType::F32)),
        &[2, 2],
        &[0.1f32 as f64; 4],
        "full f32",
    );
    assert_exact(&on(Tensor::ones(&[3], DType::F64)), &[3], &[1.0; 3], "ones");
    assert_eq!(
        on(Tensor::scalar(4.0, DType::F32)).to_scalar().unwrap(),
        4.0
    );
    assert!(on(Tensor::zeros(&[2], DType::F64)).to_scalar().is_err());
}

#[test]
fn same_seed_gives_bit_identical_draws() {
    let draw = |seed: u64| {
        let mut rng = Rng::new(seed);
        let mut out = vec![];
        for dt in [DType::F32, DType::F64] {
            out.extend(vals(&rng.normal(&[3, 7], 0.5, 2.0, dt).unwrap()));
            out.extend(vals(&rng.uniform(&[5, 3], -1.0, 3.0, dt).unwrap()));
            out.extend(vals(&rng.bernoulli(&[11], 0.3, dt).unwrap()));
        }
        out.extend(rng.permutation(13).into_iter().map(|i| i as f64));
        out.push(rng.below(17) as f64);
        out
    };
    assert_eq!(bits(&draw(5)), bits(&draw(5)));
    assert_ne!(bits(&draw(5)), bits(&draw(6)));
    let u = vals(&Rng::new(1).uniform(&[1001], -1.0, 3.0, DType::F64).unwrap());
    assert!(u.iter().all(|&x| (-1.0..3.0).contains(&x)));
    let b = vals(&Rng::new(1).bernoulli(&[1001], 0.3, DType::F64).unwrap());
    assert!(b.iter().all(|&x| x == 0.0 || x == 1.0));
}

/// The heavy parallel kernels give bit-identical results on 1, 5 and the default number of
/// rayon threads.
fn deterministic_across_thread_counts(dt: DType) {
    // The pools' worker threads do not see this thread's test device: pass it along.
    let device = TEST_DEVICE.with(Cell::get);
    let on = |t: Tensor| t.to_device(device).unwrap();
    let run = || {
        let mut rng = Rng::new(29);
        let p = params([1, 2], [1, 1], [1, 1]);
        let x = on(rng.normal(&[17, 3, 12, 11], 0.0, 1.0, dt).unwrap());
        let w = on(rng.normal(&[5, 3, 3, 3], 0.0, 1.0, dt).unwrap());
        let y = x.conv2d(&w, p).unwrap();
        let g = on(rng.normal(y.shape(), 0.0, 1.0, dt).unwrap());
        let wg = x.conv2d_weight_grad(&g, p, [3, 3]).unwrap();
        let xg = g.conv2d_input_grad(&w, p, [12, 11]).unwrap();
        let a = on(rng.normal(&[300, 70], 0.0, 1.0, dt).unwrap());
        let b = on(rng.normal(&[70, 50], 0.0, 1.0, dt).unwrap());
        let m = a.matmul(&b).unwrap();
        let big = on(rng.normal(&[130, 140], 0.0, 1.0, dt).unwrap());
        let s = big.sum(&[0], false).unwrap();
        let sm = big.softmax(0).unwrap();
        [wg, y, xg, m, s, sm].map(|t| bits(&vals(&t)))
    };
    let pool = |n: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .unwrap()
    };
    let default = run();
    let one = pool(1).install(run);
    let five = pool(5).install(run);
    let names = [
        "conv2d_weight_grad",
        "conv2d",
        "conv2d_input_grad",
        "matmul",
        "sum",
        "softmax",
    ];
    for i in 0..names.len() {
        assert!(
            default[i] == one[i],
            "{} differs between 1 thread and the default pool",
            names[i]
        );
        assert!(
            five[i] == one[i],
            "{} differs between 1 and 5 threads",
            names[i]
        );
    }
}
