//! `--model` layer lists: trained end to end, written to config.json as typed, resumed from it, and
//! bad or not-yet-built layer tokens refused with exit 2 naming the token.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn ftheta(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ftheta")).args(args).env("RUST_BACKTRACE", "1").output().unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ftheta-specs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn a_layer_list_trains_and_its_config_keeps_the_spec() {
    let dir = tmp("list");
    let d = dir.to_str().unwrap();
    let args = ["train", "-q", "--data", "xor", "--model", "linear:8, tanh,linear:4,none", "--optimizer", "adam"];
    let out = ftheta(&[&args[..], &["--lr", "0.05", "--epochs", "3", "--batch-size", "4", "--out", d]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cfg: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["spec"], "linear:8,tanh,linear:4,none");
    // Linear, Tanh, Linear, then the output layer for XOR's two classes: indices 0, 2 and 3.
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let mut names: Vec<&str> = header.as_object().unwrap().keys().map(String::as_str).collect();
    names.retain(|n| *n != "__metadata__");
    names.sort();
    assert_eq!(
        names,
        ["layers.0.bias", "layers.0.weight", "layers.2.bias", "layers.2.weight", "layers.3.bias", "layers.3.weight"]
    );
    assert_eq!(header["layers.3.weight"]["shape"], serde_json::json!([2, 4]));
    assert_eq!(header["__metadata__"]["spec"], "linear:8,tanh,linear:4,none");
    let out = ftheta(&["train", "-q", "--resume", d, "--epochs", "5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = ftheta(&["eval", "--run", d, "--data", "xor", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn bad_layer_tokens_are_named_and_refused() {
    for (spec, needles) in [
        ("conv:32x3,maxpool:2,linear:128", &["'conv:32x3'", "not built yet"][..]),
        ("linear:64,gru:128x2", &["'gru:128x2'", "not built yet"]),
        ("linear:64,lineer:3", &["'lineer:3'", "unknown layer kind"]),
        ("linear:64,,tanh", &["empty layer"]),
    ] {
        let dir = tmp("bad");
        let out = ftheta(&["train", "-q", "--data", "deliveries", "--model", spec, "--out", dir.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{spec}: {err}");
        assert!(err.contains("--model"), "{spec}: {err}");
        for n in needles {
            assert!(err.contains(n), "{spec}: expected {n} in {err}");
        }
        assert!(err.trim().lines().count() <= 2 && !err.contains("panicked"), "{err}");
        assert!(!dir.exists());
    }
}
