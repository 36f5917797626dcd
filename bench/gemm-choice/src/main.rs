//! Times single-precision GEMM in `matrixmultiply` and `gemm` on square matrices, 1 and 2 threads.
//! Usage: `cargo run --release -- [threads]` (matrixmultiply reads MATMUL_NUM_THREADS).
use std::time::Instant;

fn time(mut f: impl FnMut(), flops: f64) -> f64 {
    f();
    let mut best = f64::INFINITY;
    let reps = ((2e9 / flops) as usize).clamp(3, 200);
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..reps {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / reps as f64);
    }
    flops / best / 1e9
}

fn main() {
    let threads: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    println!("threads {threads}  (GFLOP/s, best of 5)");
    println!("{:>6} {:>16} {:>10}", "n", "matrixmultiply", "gemm");
    for n in [64usize, 128, 256, 512, 1024, 2048] {
        let a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..n * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0f32; n * n];
        let flops = 2.0 * (n * n * n) as f64;
        let mm = time(
            || unsafe {
                matrixmultiply::sgemm(n, n, n, 1.0, a.as_ptr(), n as isize, 1, b.as_ptr(), n as isize, 1, 0.0, c.as_mut_ptr(), n as isize, 1)
            },
            flops,
        );
        let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
        let gm = time(
            || unsafe {
                gemm::gemm(n, n, n, c.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), 1, n as isize, b.as_ptr(), 1, n as isize, 0.0, 1.0, false, false, false, par)
            },
            flops,
        );
        println!("{n:>6} {mm:>16.1} {gm:>10.1}");
    }
    // The MNIST MLP's products (batch 128): forward x·Wᵀ and the two backward products, with the
    // transposed operand read through strides as ftheta does.
    println!("{:>22} {:>16} {:>10}", "m×k×n (layout)", "matrixmultiply", "gemm");
    for &(m, k, n, ta, tb, name) in &[
        (128usize, 784usize, 256usize, false, true, "x·Wᵀ"),
        (128, 256, 784, false, false, "g·W"),
        (256, 128, 784, true, false, "gᵀ·x"),
        (128, 256, 128, false, true, "h·Wᵀ"),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0f32; m * n];
        // a is m×k stored row-major unless transposed (then stored k×m); same for b.
        let (rsa, csa) = if ta { (1isize, m as isize) } else { (k as isize, 1) };
        let (rsb, csb) = if tb { (1isize, k as isize) } else { (n as isize, 1) };
        let flops = 2.0 * (m * n * k) as f64;
        let mm = time(|| unsafe { matrixmultiply::sgemm(m, k, n, 1.0, a.as_ptr(), rsa, csa, b.as_ptr(), rsb, csb, 0.0, c.as_mut_ptr(), n as isize, 1) }, flops);
        let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
        let gm = time(|| unsafe { gemm::gemm(m, n, k, c.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), csa, rsa, b.as_ptr(), csb, rsb, 0.0, 1.0, false, false, false, par) }, flops);
        println!("{:>22} {mm:>16.1} {gm:>10.1}", format!("{m}×{k}×{n} {name}"));
    }
}
