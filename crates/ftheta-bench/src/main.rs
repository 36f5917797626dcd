//! `ftheta-bench WORKLOAD`: runs a workload and prints its time as one JSON line, for
//! `bench/compare.sh` to set beside PyTorch's.
//!
//! Workloads: `tiny-linear`, `tiny-mlp` (µs per update), `mlp-step` (ms per forward + backward of
//! 784-256-128-10 on a batch of 128), `matmul N` (GFLOP/s), `mnist-epoch OPT BATCH` (seconds per
//! epoch of 60,000 random MNIST-shaped samples, best of 2 after a warm-up, and the peak RSS),
//! `mnist-train OPT BATCH TARGET [DIR]` (seconds of training and per-epoch test evaluation on the
//! real MNIST until the test accuracy reaches TARGET).

use std::time::Instant;

use ftheta_bench::*;
use ftheta_core::Tensor;
use ftheta_nn::Module;

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

/// glibc's malloc hands large blocks out with mmap and gives the free top of the heap back to the
/// kernel (trim); `gemm` allocates its packing buffers (up to about 1 MB) on each call, so each
/// product of the MNIST MLP paid for fresh zeroed pages: page faults were ~10% of a batch-32 epoch.
/// This binary keeps freed memory for reuse instead (up to 512 MiB of free heap; blocks of 32 MiB
/// or more still use mmap). A choice for this benchmark binary only: library users choose their
/// own allocator (or set `MALLOC_TRIM_THRESHOLD_` / `MALLOC_MMAP_THRESHOLD_` the same way).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_malloc() {
    extern "C" {
        fn mallopt(param: i32, value: i32) -> i32;
    }
    const M_TRIM_THRESHOLD: i32 = -1;
    const M_MMAP_THRESHOLD: i32 = -3;
    // SAFETY: mallopt only changes glibc's allocator settings; called before any thread starts.
    unsafe {
        mallopt(M_TRIM_THRESHOLD, 512 << 20);
        mallopt(M_MMAP_THRESHOLD, 32 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_malloc() {}

fn main() {
    tune_malloc();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map(String::as_str).unwrap_or("tiny-linear");
    match what {
        "tiny-linear" => {
            let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
            let s = best_of(1, 5, || tiny_linear(n)) / n as f64;
            println!("{{\"workload\":\"tiny-linear\",\"us_per_update\":{:.3}}}", s * 1e6);
        }
        "tiny-mlp" => {
            let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);
            let s = best_of(1, 5, || tiny_mlp(n)) / n as f64;
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
        "mnist-epoch" => {
            let opt_name = args.get(1).map_or("sgd", String::as_str);
            let batch: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(128);
            let data = MnistData::random(60_000);
            let (model, _, _) = mnist_mlp(1);
            let mut opt = mnist_optimizer(opt_name, model.parameters());
            // Warm-up: a few batches, so the first timed epoch does not pay for first touches.
            let few = MnistData {
                images: data.images[..784 * 20 * batch].to_vec(),
                labels: data.labels[..20 * batch].to_vec(),
            };
            mnist_epoch(&model, opt.as_mut(), &few, batch, 0);
            let mut best = f64::INFINITY;
            for e in 1..=2 {
                let t = Instant::now();
                std::hint::black_box(mnist_epoch(&model, opt.as_mut(), &data, batch, e));
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "{{\"workload\":\"mnist-epoch\",\"opt\":\"{opt_name}\",\"batch\":{batch},\"s_per_epoch\":{best:.4},\"max_rss_mib\":{:.1}}}",
                max_rss_mib()
            );
        }
        "mnist-train" => {
            let opt_name = args.get(1).map_or("adam", String::as_str);
            let batch: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(128);
            let target: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0.975);
            let dir = args.get(4).map_or("/work/shared/data/mnist", String::as_str);
            let (train, test) = match (MnistData::real(dir, "train"), MnistData::real(dir, "t10k")) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("error: {e}");
                    std::process::exit(1);
                }
            };
            let (model, _, _) = mnist_mlp(1);
            let mut opt = mnist_optimizer(opt_name, model.parameters());
            let t = Instant::now();
            let (mut epochs, mut acc) = (0, 0.0);
            while epochs < 30 && acc < target {
                epochs += 1;
                mnist_epoch(&model, opt.as_mut(), &train, batch, epochs);
                acc = mnist_accuracy(&model, &test);
            }
            println!(
                "{{\"workload\":\"mnist-train\",\"opt\":\"{opt_name}\",\"batch\":{batch},\"s_to_target\":{:.3},\"epochs\":{epochs},\"test_acc\":{acc:.4}}}",
                t.elapsed().as_secs_f64()
            );
        }
        other => {
            eprintln!("error: unknown workload '{other}' (tiny-linear, tiny-mlp, mlp-step, matmul N, mnist-epoch OPT BATCH, mnist-train OPT BATCH TARGET [DIR])");
            std::process::exit(2);
        }
    }
}
