//! `cargo bench -p ftheta-bench`: matmul from 64 to 1024, one forward + backward of the
//! 784-256-128-10 MLP on a batch of 128, and the tiny model's update.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ftheta_bench::*;
use ftheta_core::Tensor;

fn matmul(c: &mut Criterion) {
    let mut g = c.benchmark_group("matmul");
    for n in [64usize, 128, 256, 512, 1024] {
        let a = Tensor::rand(&[n, n]);
        let b = Tensor::rand(&[n, n]);
        g.throughput(Throughput::Elements((2 * n * n * n) as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |bch, _| bch.iter(|| a.matmul(&b)));
    }
    g.finish();
}

fn mlp(c: &mut Criterion) {
    let (m, x, y) = mnist_mlp(128);
    c.bench_function("mlp_784_256_128_10_fwd_bwd_b128", |b| b.iter(|| mlp_step(&m, &x, &y)));
}

fn tiny(c: &mut Criterion) {
    c.bench_function("tiny_linear_100_updates", |b| b.iter(|| tiny_linear(100)));
    c.bench_function("tiny_mlp_100_updates", |b| b.iter(|| tiny_mlp(100)));
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = matmul, mlp, tiny
}
criterion_main!(benches);
