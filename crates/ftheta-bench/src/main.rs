//! `ftheta-bench WORKLOAD`: runs a workload and prints its time as one JSON line, for
//! `bench/compare.sh` to set beside PyTorch's.
//!
//! Workloads: `tiny-linear`, `tiny-mlp` (µs per update), `mlp-step` (ms per forward + backward of
//! 784-256-128-10 on a batch of 128), `matmul N` (GFLOP/s).

use std::time::Instant;

use ftheta_bench::*;
use ftheta_core::Tensor;

fn best_of<R>(reps: usize, runs: usize, mut f: impl FnMut() -> R) -> f64 {
    std::hint::black_box(f());
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t = Instant::now();
        for _ in 0..reps {
            std::hint::black_box(f());
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map(String::as_str).unwrap_or("tiny-linear");
    match what {
        "tiny-linear" => {
            let s = best_of(1, 5, || tiny_linear(10_000)) / 10_000.0;
            println!("{{\"workload\":\"tiny-linear\",\"us_per_update\":{:.3}}}", s * 1e6);
        }
        "tiny-mlp" => {
            let s = best_of(1, 5, || tiny_mlp(10_000)) / 10_000.0;
            println!("{{\"workload\":\"tiny-mlp\",\"us_per_update\":{:.3}}}", s * 1e6);
        }
        "mlp-step" => {
            let (m, x, y) = mnist_mlp(128);
            let s = best_of(20, 5, || mlp_step(&m, &x, &y));
            println!("{{\"workload\":\"mlp-step\",\"ms\":{:.4}}}", s * 1e3);
        }
        "matmul" => {
            let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(512);
            let a = Tensor::rand(&[n, n]);
            let b = Tensor::rand(&[n, n]);
            let flops = 2.0 * (n * n * n) as f64;
            let reps = ((2e9 / flops) as usize).clamp(2, 500);
            let s = best_of(reps, 5, || a.matmul(&b));
            println!("{{\"workload\":\"matmul\",\"n\":{n},\"gflops\":{:.1}}}", flops / s / 1e9);
        }
        other => {
            eprintln!("error: unknown workload '{other}' (tiny-linear, tiny-mlp, mlp-step, matmul N)");
            std::process::exit(2);
        }
    }
}
