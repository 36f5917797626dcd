//! Runs that are killed (SIGKILL) or interrupted (Ctrl-C, SIGINT) at any moment: the run folder's
//! last checkpoint always loads, `--resume` continues from it, and the finished run has the same
//! weights and history, bit for bit, as a run never stopped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ftheta_train::run::RunDir;

mod common;
use common::history_without_seconds;

/// 300 epochs of 6 updates on digits, a checkpoint at every epoch's end (a few seconds, mostly
/// the checkpoints' fsyncs).
const TRAIN: &[&str] = &[
    "train",
    "--data",
    "digits",
    "--model",
    "mlp:16",
    "--optimizer",
    "adam",
    "--lr",
    "0.003",
    "--batch-size",
    "256",
    "--epochs",
    "300",
    "-q",
];

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ftheta-kill-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ftheta"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(args: &[&str]) {
    let out = spawn(args).wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A run never stopped, computed once.
fn reference() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tmp("reference");
        finish(&[TRAIN, &["--out", d.to_str().unwrap()]].concat());
        d
    })
}

fn assert_same_run(a: &Path, b: &Path) {
    for f in [
        "model.safetensors",
        "checkpoint/model.safetensors",
        "checkpoint/optimizer.safetensors",
        "checkpoint/best.safetensors",
    ] {
        assert!(std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(), "{f} differs");
    }
    assert_eq!(history_without_seconds(a), history_without_seconds(b));
}

/// The update of the last checkpoint, after checking that every one of its files loads and belongs
/// to it; 0 before the first.
fn checkpoint_update(dir: &Path) -> u64 {
    let run = RunDir::open(dir).unwrap();
    match run.read_checkpoint() {
        Ok(Some((state, _))) => state.update,
        Ok(None) => 0,
        Err(e) => panic!("the last checkpoint of {} does not load: {e}", dir.display()),
    }
}

/// Starts the run, or resumes it once it has a config.
fn start_or_resume(dir: &Path) -> Child {
    let d = dir.to_str().unwrap();
    if dir.join("config.json").is_file() {
        spawn(&["train", "--resume", d, "-q"])
    } else {
        spawn(&[TRAIN, &["--out", d]].concat())
    }
}

#[test]
fn sigkill_at_random_moments_then_resume_gives_the_same_run() {
    let dir = tmp("sigkill");
    let seed = std::env::var("FTHETA_KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    let mut rng = seed | 1;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut last = 0;
    let mut kills = 0;
    while kills < 20 {
        let mut child = start_or_resume(&dir);
        let delay = Duration::from_millis(20 + next() % 200);
        let started = Instant::now();
        while started.elapsed() < delay && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        if child.try_wait().unwrap().is_some() {
            // Finished before this kill (a fast machine): check it, then kill a new run.
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "seed {seed}: {}", String::from_utf8_lossy(&out.stderr));
            assert_same_run(reference(), &dir);
            std::fs::remove_dir_all(&dir).unwrap();
            last = 0;
            continue;
        }
        child.kill().unwrap();
        let out = child.wait_with_output().unwrap();
        kills += 1;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "seed {seed}: {err}");
        if !dir.join("config.json").is_file() {
            continue; // killed before the run folder was made
        }
        let update = checkpoint_update(&dir);
        assert!(update >= last, "seed {seed}: the checkpoint went back from update {last} to {update}");
        last = update;
        eprintln!("kill {kills} after {delay:?}: checkpoint at update {update}");
    }
    let out = start_or_resume(&dir).wait_with_output().unwrap();
    assert!(out.status.success(), "seed {seed}: {}", String::from_utf8_lossy(&out.stderr));
    assert_same_run(reference(), &dir);
}

#[test]
fn ctrl_c_saves_a_checkpoint_prints_the_resume_command_and_exits_130() {
    let dir = tmp("sigint");
    let child = spawn(&[TRAIN, &["--out", dir.to_str().unwrap()]].concat());
    // The handler is installed before the run folder is made.
    let started = Instant::now();
    while !dir.join("config.json").is_file() {
        assert!(started.elapsed() < Duration::from_secs(20), "no run folder");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted at update") && err.contains("checkpoint is saved"), "{err}");
    let resume = format!("ftheta train --resume {}", dir.display());
    assert!(err.contains(&resume), "{err}");
    assert!(err.trim().lines().count() <= 2 && !err.contains("error"), "{err}");
    let update: u64 = err.split("update ").nth(1).unwrap().split(';').next().unwrap().parse().unwrap();
    assert_eq!(checkpoint_update(&dir), update, "the checkpoint is that of the update it stopped at");
    finish(&["train", "--resume", dir.to_str().unwrap(), "-q"]);
    assert_same_run(reference(), &dir);
}
