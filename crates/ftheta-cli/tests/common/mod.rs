//! Helpers shared by the command-line tests.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A run's `history.jsonl` records without their `seconds` field, the one value that may differ
/// between two runs of the same command.
pub fn history_without_seconds(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("history.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

/// A fresh, empty folder under the system temp dir for test `tag` of `file`.
pub fn fresh_dir(file: &str, tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ftheta-{file}-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The `ftheta` binary run with `args` in `cwd` (the test's folder when `None`), killed after
/// `limit` (which fails the test: nothing a user can type may hang).
pub fn ftheta_in(cwd: Option<&Path>, args: &[&str], limit: Duration) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ftheta"));
    cmd.args(args).env("RUST_BACKTRACE", "1").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some(d) = cwd {
        cmd.current_dir(d);
    }
    let mut child = cmd.spawn().unwrap();
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let o = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let e = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ftheta {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output { status, stdout: o.join().unwrap(), stderr: e.join().unwrap() }
}

/// [`ftheta_in`] in the test's folder, with a limit of a minute.
pub fn ftheta(args: &[&str]) -> Output {
    ftheta_in(None, args, Duration::from_secs(60))
}

/// Exit 2 and a short message holding every `expected` part: one or two lines, no panic, no
/// backtrace, at most 600 bytes, and no control character but the line break (nothing from a file
/// reaches the terminal raw).
pub fn assert_refused(case: &str, out: &Output, expected: &[&str]) {
    assert_error(case, out, 2, expected);
}

/// As [`assert_refused`], with exit code `code`.
pub fn assert_error(case: &str, out: &Output, code: i32, expected: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{case}: {err}");
    for e in expected {
        assert!(err.contains(e), "{case}: expected '{e}' in: {err}");
    }
    let lines = err.trim().lines().count();
    assert!((1..=2).contains(&lines), "{case}: {lines} lines: {err}");
    assert!(err.len() <= 600, "{case}: a message of {} bytes: {err}", err.len());
    assert!(
        !err.contains("panicked") && !err.contains("backtrace") && !err.contains("internal error"),
        "{case}: {err}"
    );
    assert!(!err.chars().any(|c| c.is_control() && c != '\n'), "{case}: a control character in: {err:?}");
}

/// The bytes of an IDX file of unsigned bytes with the given dimensions and data.
pub fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

/// Writes an MNIST-layout folder: `(images dims, pixels, labels)` for train and for t10k.
pub fn mnist_dir(dir: &Path, train: (&[u32], &[u8], &[u8]), test: (&[u32], &[u8], &[u8])) {
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, (dims, pixels, labels)) in [("train", train), ("t10k", test)] {
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), idx(dims, pixels)).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), idx(&[labels.len() as u32], labels)).unwrap();
    }
}

/// The names in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}
