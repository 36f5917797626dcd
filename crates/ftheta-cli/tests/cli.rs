//! Acceptance tests of the `ftheta` binary: solve against numpy, gradient descent against solve,
//! digits accuracy, resume, divergence, bad flags.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::{json, Value};

mod common;
use common::history_without_seconds;

fn ftheta(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ftheta")).args(args).env("RUST_BACKTRACE", "1").output().unwrap()
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ftheta-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// numpy.linalg.lstsq on deliveries.csv with `day` one-hot encoded, Fri as the baseline level.
const NUMPY: &[(&str, f64)] = &[
    ("hour", 1.7717485080639215),
    ("day=Mon", -7.1141302325723865),
    ("day=Sat", 0.8347343139484891),
    ("distance", 2.7879209100844085),
    ("item_01", 1.5723718805402422),
    ("item_19", -0.30044374071193697),
];
const NUMPY_BIAS: f64 = -11.284970206112076;
const NUMPY_MSE: f64 = 13.708767835610846;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn solve_agrees_with_numpy() {
    let v = json_of(&ftheta(&["solve", "--data", "deliveries", "--json"]));
    for (name, want) in NUMPY {
        let got = v["weights"][name].as_f64().unwrap();
        assert!(rel(got, *want) < 1e-6, "{name}: {got} vs {want}");
    }
    assert!(rel(v["bias"].as_f64().unwrap(), NUMPY_BIAS) < 1e-6);
    assert!(rel(v["mse"].as_f64().unwrap(), NUMPY_MSE) < 1e-6);
}

#[test]
fn standardized_gradient_descent_reaches_the_least_squares_loss() {
    let v = json_of(&ftheta(&[
        "train",
        "--data",
        "deliveries",
        "--standardize",
        "--split",
        "1,0,0",
        "--batch-size",
        "full",
        "--optimizer",
        "adam",
        "--lr",
        "0.1",
        "--updates",
        "700",
        "--eval-every",
        "50",
        "--json",
        "-q",
    ]));
    let loss = v["train_loss"].as_f64().unwrap();
    assert!(rel(loss, NUMPY_MSE) < 1e-3, "{loss} vs {NUMPY_MSE}");
    // Weights come back in the original units.
    assert!(rel(v["weights"]["distance"].as_f64().unwrap(), 2.7879209100844085) < 1e-2, "{v}");
}

#[test]
fn digits_mlp_reaches_95_percent() {
    let v = json_of(&ftheta(&[
        "train",
        "--data",
        "digits",
        "--model",
        "mlp:64",
        "--optimizer",
        "adam",
        "--lr",
        "0.003",
        "--epochs",
        "15",
        "--json",
        "-q",
    ]));
    let acc = v["test_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.95, "{v}");
}

#[test]
fn resume_reaches_identical_weights_and_history() {
    let common = [
        "train",
        "--data",
        "digits",
        "--model",
        "mlp:16",
        "--optimizer",
        "adam",
        "--lr",
        "0.003",
        "--epochs",
        "4",
        "--batch-size",
        "64",
        "-q",
    ];
    let (a, b) = (tmp("resume-a"), tmp("resume-b"));
    let run = |extra: &[&str]| {
        let out = ftheta(&[&common[..], extra].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    run(&["--out", a.to_str().unwrap()]);
    run(&["--out", b.to_str().unwrap(), "--interrupt-after", "2"]);
    assert_eq!(history_without_seconds(&b).len(), 2);
    let state = |dir: &PathBuf| -> Value {
        serde_json::from_str::<Value>(&std::fs::read_to_string(dir.join("status.json")).unwrap()).unwrap()["state"]
            .clone()
    };
    assert_eq!(state(&b), "interrupted");
    let out = ftheta(&["train", "--resume", b.to_str().unwrap(), "-q"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!((state(&a), state(&b)), (json!("finished"), json!("finished")));
    for f in ["model.safetensors", "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f}");
    }
    assert_eq!(history_without_seconds(&a), history_without_seconds(&b));
    // The saved model predicts and evaluates.
    let e = json_of(&ftheta(&["eval", "--run", a.to_str().unwrap(), "--data", "digits", "--json"]));
    assert!(e["accuracy"].as_f64().unwrap() > 0.8, "{e}");
    let p = a.join("pred.csv");
    let out = ftheta(&["predict", "--run", a.to_str().unwrap(), "--data", "digits", "--out", p.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 1798);
}

#[test]
fn divergence_exits_1_names_the_rate_and_marks_the_run_diverged() {
    let out_dir = tmp("diverge");
    let out = ftheta(&[
        "train",
        "--data",
        "deliveries",
        "--lr",
        "0.01",
        "--batch-size",
        "full",
        "--epochs",
        "200",
        "-q",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("diverged at update") && err.contains("learning rate 0.01"), "{err}");
    assert!(err.contains("2/λ_max = 0.0035"), "{err}");
    // The folder stays, marked diverged, so the dashboard can show the curve up to the blow-up.
    let status: Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("status.json")).unwrap()).unwrap();
    assert_eq!(status["state"], "diverged", "{status}");
    assert!(status["message"].as_str().unwrap().contains("diverged at update"), "{status}");
    assert!(status.get("pid").is_none(), "{status}");
    assert!(out_dir.join("config.json").is_file());
}

#[test]
fn bad_flags_exit_2_with_a_short_message_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&["--lr", "-1"], "--lr"),
        (&["--lr", "nan"], "--lr"),
        (&["--batch-size", "0"], "--batch-size"),
        (&["--split", "0.9,0.9,0.1"], "--split"),
        (&["--model", "mlp:0"], "--model"),
        (&["--model", "mlp:1000000000000"], "--model"),
        (&["--target", "nope"], "nope"),
    ];
    for (extra, flag) in cases {
        let out_dir = tmp("bad");
        let args = [&["train", "--data", "deliveries", "-q", "--out", out_dir.to_str().unwrap()], *extra].concat();
        let out = ftheta(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(flag), "{extra:?}: {err}");
        assert!(err.trim().lines().count() <= 2 && !err.contains("panicked") && !err.contains("backtrace"), "{err}");
        assert!(!out_dir.exists(), "{extra:?} left {}", out_dir.display());
    }
    let bad_csv = tmp("csv");
    std::fs::create_dir_all(&bad_csv).unwrap();
    let f = bad_csv.join("bad.csv");
    std::fs::write(&f, "a,b\n1,2\n3,x\n").unwrap();
    let out = ftheta(&["train", "--data", f.to_str().unwrap(), "--target", "b"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 3"));
}

#[test]
fn serve_refuses_bad_settings_in_one_line() {
    let file = tmp("serve-file");
    std::fs::create_dir_all(&file).unwrap();
    let file = file.join("runs.txt");
    std::fs::write(&file, "not a folder").unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["--port", "70000"], "--port"),
        (&["--host", "my-laptop"], "--host"),
        (&["--runs", file.to_str().unwrap()], "is not a folder"),
        (&["--port", &port], "in use"),
    ];
    for (extra, needle) in cases {
        let out = ftheta(&[&["serve"], *extra].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(needle), "{extra:?}: {err}");
        assert!(err.trim().lines().count() <= 2 && !err.contains("panicked"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a folder");
}

#[test]
fn resume_with_more_epochs_trains_on_as_one_longer_run() {
    let common =
        ["train", "--data", "digits", "--model", "mlp:16", "--optimizer", "adam", "--batch-size", "64", "-q", "--out"];
    let (long, short) = (tmp("extend-long"), tmp("extend-short"));
    let ok = |out: Output| assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    ok(ftheta(&[&common[..], &[long.to_str().unwrap(), "--epochs", "4"]].concat()));
    ok(ftheta(&[&common[..], &[short.to_str().unwrap(), "--epochs", "2"]].concat()));
    let s = short.to_str().unwrap();
    let status = || std::fs::read_to_string(short.join("status.json")).unwrap();
    let before = (status(), std::fs::read(short.join("model.safetensors")).unwrap());
    // Flags that would change the run, or a budget already spent, are refused and change nothing.
    for (args, needle) in [
        (vec!["--lr", "0.1"], "--lr"),
        (vec!["--batch-size", "64", "--epochs", "4"], "--batch-size"),
        (vec!["--epochs", "2"], "already done 2 epochs"),
    ] {
        let out = ftheta(&[&["train", "--resume", s, "-q"], &args[..]].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle) && err.trim().lines().count() == 1, "{args:?}: {err}");
        assert_eq!((status(), std::fs::read(short.join("model.safetensors")).unwrap()), before, "{args:?}");
    }
    ok(ftheta(&["train", "--resume", s, "--epochs", "4", "-q"]));
    assert_eq!(history_without_seconds(&long), history_without_seconds(&short));
    for f in ["model.safetensors", "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors"] {
        assert_eq!(std::fs::read(long.join(f)).unwrap(), std::fs::read(short.join(f)).unwrap(), "{f}");
    }
    let cfg: Value = serde_json::from_str(&std::fs::read_to_string(short.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["train"]["budget"], json!({"epochs": 4}), "{cfg}");
}
