//! The same command with the same seed gives bit-identical history (but for the seconds) and
//! weights at 1 and at 2 threads. The model is big enough for the threaded matrix multiply: an
//! MNIST-sized input (784 features) through `mlp:512,512` in batches of 256 is 256 × 784 × 512 ≈
//! 2^26.6 multiply-adds in the first layer, above `GEMM_PARALLEL_MIN` (2^26), so the two runs take
//! different paths through the kernels. The data is a generated table of 700 rows (MNIST itself
//! would spend most of the test scoring 60,000 images).

use std::path::PathBuf;
use std::process::Command;

mod common;
use common::history_without_seconds;

#[test]
fn one_and_two_threads_give_bit_identical_runs() {
    let dir = std::env::temp_dir().join(format!("ftheta-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("wide.csv");
    let mut text: String = (0..784).map(|j| format!("p{j},")).collect::<String>() + "label\n";
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..700 {
        for _ in 0..784 {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            text += &format!("{},", (rng >> 56) as f32 / 255.0);
        }
        text += &format!("{}\n", (rng >> 40) % 10);
    }
    std::fs::write(&csv, text).unwrap();
    let run = |threads: &str| -> PathBuf {
        let dir = dir.join(format!("threads-{threads}"));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(env!("CARGO_BIN_EXE_ftheta"))
            .args(["train", "--data", csv.to_str().unwrap(), "--target", "label", "--categorical", "label"])
            .args(["--model", "mlp:512,512", "--optimizer", "adam"])
            .args(["--batch-size", "256", "--updates", "4", "--eval-every", "2", "--seed", "7", "-q"])
            .arg("--out")
            .arg(&dir)
            .env("RAYON_NUM_THREADS", threads)
            .output()
            .unwrap();
        assert!(out.status.success(), "{threads} threads: {}", String::from_utf8_lossy(&out.stderr));
        dir
    };
    let (one, two) = (run("1"), run("2"));
    let history = history_without_seconds(&one);
    assert_eq!(history.len(), 2, "{history:?}");
    assert_eq!(history, history_without_seconds(&two));
    for f in ["model.safetensors", "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors"] {
        assert!(std::fs::read(one.join(f)).unwrap() == std::fs::read(two.join(f)).unwrap(), "{f} differs");
    }
}
