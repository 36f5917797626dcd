//! A Rust program builds, trains, evaluates and resumes a run with `ftheta_train` exactly as the
//! command line does: the same config.json, history, weights and summary, bit for bit.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ftheta_nn::ModelSpec;
use ftheta_train::{Budget, FitOptions, OptimizerKind, Run, RunRequest, SavedRun};
use serde_json::Value;

mod common;
use common::history_without_seconds;

fn ftheta(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_ftheta")).args(args).env("RUST_BACKTRACE", "1").output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ftheta-library-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
}

/// As printed and read back: serde_json's default float parsing may round the last bit, so both
/// sides go through the same text.
fn reparsed(v: &Value) -> Value {
    serde_json::from_str(&v.to_string()).unwrap()
}

/// The summary without its timing and run folder (checked to be `dir`).
fn comparable(mut v: Value, dir: &Path) -> Value {
    let m = v.as_object_mut().unwrap();
    m.remove("seconds");
    assert_eq!(m.remove("run"), Some(Value::from(dir.display().to_string())));
    v
}

#[test]
fn a_program_builds_the_run_the_command_line_builds() {
    let (cli, lib) = (tmp("cli"), tmp("lib"));
    let out = ftheta(&[
        "train",
        "--data",
        "deliveries",
        "--model",
        "mlp:6",
        "--optimizer",
        "adam",
        "--standardize",
        "--epochs",
        "2",
        "--batch-size",
        "64",
        "--seed",
        "3",
        "--out",
        cli.to_str().unwrap(),
        "--json",
        "-q",
    ]);
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();

    let request = RunRequest {
        model: "mlp:6".parse::<ModelSpec>().unwrap(),
        optimizer: OptimizerKind::Adam,
        standardize: true,
        budget: Budget::Epochs(2),
        batch_size: Some(64),
        seed: 3,
        ..RunRequest::new("deliveries")
    };
    let run = Run::create(&request, Some(&lib)).unwrap();
    let summary = run.fit(&mut (), &FitOptions::default()).unwrap();

    assert_eq!(comparable(reparsed(&summary.to_json()), &lib), comparable(printed, &cli));
    assert_eq!(read(&lib, "config.json"), read(&cli, "config.json"));
    assert_eq!(read(&lib, "model.safetensors"), read(&cli, "model.safetensors"));
    assert_eq!(read(&lib, "checkpoint/optimizer.safetensors"), read(&cli, "checkpoint/optimizer.safetensors"));
    assert_eq!(history_without_seconds(&lib), history_without_seconds(&cli));
    assert_eq!(summary.updates, 2 * 8010usize.div_ceil(64) as u64, "80% of 10,012 rows in batches of 64");

    // A Run holds its folder's lock until dropped: the resume below is a second writer otherwise.
    drop(run);
    // Trained on: the library's resume equals `ftheta train --resume DIR --epochs 3`.
    ftheta(&["train", "--resume", cli.to_str().unwrap(), "--epochs", "3", "-q"]);
    Run::resume(&lib, Some(Budget::Epochs(3))).unwrap().fit(&mut (), &FitOptions::default()).unwrap();
    assert_eq!(read(&lib, "model.safetensors"), read(&cli, "model.safetensors"));
    assert_eq!(history_without_seconds(&lib), history_without_seconds(&cli));

    // Scored and applied to data as `ftheta eval` and `ftheta predict` do.
    let saved = SavedRun::open(&lib, "deliveries").unwrap();
    let eval = ftheta(&["eval", "--run", cli.to_str().unwrap(), "--data", "deliveries", "--json"]);
    assert_eq!(reparsed(&saved.evaluate().unwrap().to_json()), serde_json::from_slice::<Value>(&eval.stdout).unwrap());
    let predict = ftheta(&["predict", "--run", cli.to_str().unwrap(), "--data", "deliveries"]);
    assert_eq!(saved.predict().unwrap().to_csv(), String::from_utf8(predict.stdout).unwrap());
    for d in [cli, lib] {
        std::fs::remove_dir_all(d).unwrap();
    }
}

#[test]
fn library_errors_name_the_flag_they_belong_to() {
    let e = Run::create(&RunRequest::new("no-such-file.csv"), None).err().unwrap().to_string();
    assert!(e.contains("--target"), "{e}");
    let dir = tmp("twice");
    let request = RunRequest { budget: Budget::Updates(1), ..RunRequest::new("xor") };
    Run::create(&request, Some(&dir)).unwrap();
    let e = Run::create(&request, Some(&dir)).err().unwrap().to_string();
    assert!(e.starts_with("--out: ") && e.contains("already holds a run"), "{e}");
    let e = Run::resume(dir.join("nope"), None).err().unwrap().to_string();
    assert!(e.starts_with("--resume: ") && e.contains("not a run folder"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}
