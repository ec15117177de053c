//! Throughput of the spine: matmul, conv2d forward + backward, and a LeNet-5 forward +
//! backward step. Criterion's "elem/s" here counts floating-point operations, so its
//! Gelem/s figures read as GFLOP/s; for the transcendental maps (f32 exp, tanh, sigmoid on
//! 64 Ki values, one thread) it counts values.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use xai_autodiff::{grad_tensors, Var};
use xai_benches::{lenet, randn, LENET_FORWARD_FLOPS};
use xai_nn::Differentiable;
use xai_tensor::Conv2dParams;

fn matmul(c: &mut Criterion) {
    let mut g = c.benchmark_group("matmul_f32");
    for n in [64usize, 256, 512] {
        let (a, b) = (randn(&[n, n], 1), randn(&[n, n], 2));
        g.throughput(Throughput::Elements((2 * n * n * n) as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bench, _| {
            bench.iter(|| a.matmul(&b).unwrap())
        });
    }
    g.finish();
}

fn transcendental(c: &mut Criterion) {
    let mut g = c.benchmark_group("unary_f32");
    let x = randn(&[256, 256], 3);
    g.throughput(Throughput::Elements(256 * 256));
    g.bench_function("exp", |bench| bench.iter(|| x.exp().unwrap()));
    g.bench_function("tanh", |bench| bench.iter(|| x.tanh().unwrap()));
    g.bench_function("sigmoid", |bench| bench.iter(|| x.sigmoid().unwrap()));
    g.finish();
}

fn conv2d(c: &mut Criterion) {
    let mut g = c.benchmark_group("conv2d_f32_fwd_bwd");
    // LeNet's second conv on a batch of 64, and a 3×32×32 → 64-channel VGG-style layer.
    for &(n, ci, co, hw, k, pad) in &[
        (64usize, 6usize, 16usize, 14usize, 5usize, 0usize),
        (32, 3, 64, 32, 3, 1),
    ] {
        let p = Conv2dParams {
            padding: [pad, pad],
            ..Default::default()
        };
        let x = randn(&[n, ci, hw, hw], 3);
        let w = randn(&[co, ci, k, k], 4);
        let o = hw + 2 * pad - k + 1;
        let fwd = 2 * n * co * o * o * ci * k * k;
        g.throughput(Throughput::Elements((3 * fwd) as u64));
        let id = format!("n{n}_c{ci}_o{co}_{hw}x{hw}_k{k}");
        g.bench_function(BenchmarkId::from_parameter(id), |bench| {
            bench.iter(|| {
                let (xv, wv) = (Var::leaf(x.clone()), Var::leaf(w.clone()));
                let y = xv.conv2d(&wv, None, p).unwrap().sum_all().unwrap();
                grad_tensors(&y, None, &[&xv, &wv], None).unwrap()
            })
        });
    }
    g.finish();
}

fn lenet_step(c: &mut Criterion) {
    let model = lenet();
    let mut g = c.benchmark_group("lenet5_fwd_bwd");
    for batch in [64usize, 256] {
        let x = randn(&[batch, 1, 28, 28], 5);
        g.throughput(Throughput::Elements(3 * LENET_FORWARD_FLOPS * batch as u64));
        g.bench_with_input(
            BenchmarkId::new("input_and_params", batch),
            &batch,
            |bench, _| {
                bench.iter(|| {
                    let xv = Var::leaf(x.clone());
                    let out = model.forward(&xv).unwrap().sum_all().unwrap();
                    let mut wrt = vec![&xv];
                    let params = model.named_params();
                    wrt.extend(params.iter().map(|(_, v)| *v));
                    grad_tensors(&out, None, &wrt, None).unwrap()
                })
            },
        );
    }
    g.finish();
}

criterion_group! {
    name = spine;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = matmul, transcendental, conv2d, lenet_step
}
criterion_main!(spine);
