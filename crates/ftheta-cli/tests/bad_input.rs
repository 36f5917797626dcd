//! Malformed inputs and bad flags, run against the built binary. Each must exit with code 2 and a
//! message of one or two lines that names the file or flag and the problem; none may panic, and
//! none may leave a partial output behind (the --out run folder or predict's --out file) or touch
//! a file the user already had. The inputs are in `tests/bad_input/`; a UTF-8 BOM with CRLF line
//! ends is not an error and must train.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn inputs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_input")
}

fn input(name: &str) -> String {
    inputs().join(name).to_str().unwrap().to_string()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ftheta-bad-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn ftheta(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ftheta")).args(args).env("RUST_BACKTRACE", "1").output().unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Exit 2, a short message holding every `expected` part, no panic.
fn assert_refused(case: &str, out: &Output, expected: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{case}: {err}");
    for e in expected {
        assert!(err.contains(e), "{case}: expected '{e}' in: {err}");
    }
    let lines = err.trim().lines().count();
    assert!((1..=2).contains(&lines), "{case}: {lines} lines: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace") && !err.contains("internal error"),
        "{case}: {err}"
    );
}

/// `train` on a bad input: refused, and the run folder is not created.
fn train_refused(case: &str, args: &[&str], expected: &[&str]) {
    let out_dir = tmp(case);
    let mut a = strings(&["train", "-q", "--epochs", "1", "--out", out_dir.to_str().unwrap()]);
    a.extend(strings(args));
    assert_refused(case, &ftheta(&a), expected);
    assert!(!out_dir.exists(), "{case}: left {}", out_dir.display());
}

#[test]
fn malformed_csv_files() {
    let cases: &[(&str, &[&str])] = &[
        ("empty.csv", &["empty.csv is empty"]),
        ("header_only.csv", &["header_only.csv has a header but no data rows"]),
        ("ragged.csv", &["ragged.csv line 4 has 1 fields, the header has 2"]),
        ("not_a_number.csv", &["not_a_number.csv line 4, column x: 'five' is not a number"]),
        ("nan.csv", &["nan.csv line 3, column x: 'NaN' is not finite"]),
        ("infinite.csv", &["infinite.csv line 3, column y: 'inf' is not finite"]),
        ("duplicate_columns.csv", &["duplicate_columns.csv line 1: column name 'x' appears twice"]),
    ];
    for (file, expected) in cases {
        train_refused(file, &["--data", &input(file), "--target", "y"], expected);
    }
    train_refused("unknown-target", &["--data", &input("good.csv"), "--target", "z"], &["good.csv has no column 'z'"]);
    train_refused(
        "single-class",
        &["--data", &input("single_class.csv"), "--target", "label", "--categorical", "label"],
        &["single_class.csv", "single class (cat)"],
    );
}

#[test]
fn a_bom_and_crlf_line_ends_just_work() {
    let out_dir = tmp("bom");
    let out = ftheta(&strings(&[
        "train",
        "-q",
        "--data",
        &input("bom_crlf.csv"),
        "--target",
        "y",
        "--epochs",
        "1",
        "--out",
        out_dir.to_str().unwrap(),
    ]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let config = std::fs::read_to_string(out_dir.join("config.json")).unwrap();
    assert!(config.contains("\"x\"") && !config.contains('\u{feff}'), "{config}");
}

#[test]
fn malformed_idx_folders() {
    let cases: &[(&str, &[&str])] = &[
        ("idx_empty", &["idx_empty/train-images-idx3-ubyte is empty"]),
        ("idx_bad_magic", &["idx_bad_magic/train-labels-idx1-ubyte: magic number 0x00000803", "labels"]),
        ("idx_truncated", &["idx_truncated/train-images-idx3-ubyte is truncated"]),
        ("idx_count_mismatch", &["holds 6 images but", "idx_count_mismatch/train-labels-idx1-ubyte holds 5 labels"]),
    ];
    for (dir, expected) in cases {
        train_refused(dir, &["--data", &input(dir)], expected);
    }
    // The same folders are refused by eval and predict too.
    let run = trained_run("idx-run", &["--data", &input("idx_good")]);
    let a = strings(&["eval", "--run", run.to_str().unwrap(), "--data", &input("idx_truncated")]);
    assert_refused("eval idx_truncated", &ftheta(&a), &["truncated"]);
}

#[test]
fn bad_flags() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--lr", "-1"], &["--lr", "positive"]),
        (&["--lr", "nan"], &["--lr", "positive finite"]),
        (&["--batch-size", "0"], &["--batch-size", "at least 1"]),
        (&["--split", "0.9,0.9,0.1"], &["--split", "more than 1"]),
        (&["--model", "mlp:0"], &["--model", "at least 1 unit"]),
        (&["--model", "mlp:1000000000000"], &["--model", "parameters", "GiB"]),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["--data", "deliveries"];
        args.extend_from_slice(flags);
        train_refused(&flags.join(" "), &args, expected);
    }
}

#[test]
fn a_model_and_batch_larger_than_memory_fail_at_once_with_their_size() {
    let mnist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist");
    if !mnist.is_dir() {
        eprintln!("skipped: no {}", mnist.display());
        return;
    }
    // 795 million parameters fit the spec's limit, but a full batch of 53,333 images through a
    // layer of a million units needs about 800 GiB.
    train_refused(
        "memory",
        &["--data", mnist.to_str().unwrap(), "--model", "mlp:1000000", "--batch-size", "full"],
        &["--model mlp:1000000", "--batch-size full", "would need about", "GiB", "available"],
    );
}

/// A finished run folder trained with `args`.
fn trained_run(name: &str, args: &[&str]) -> PathBuf {
    let dir = tmp(name);
    let mut a = strings(&["train", "-q", "--epochs", "2", "--out", dir.to_str().unwrap()]);
    a.extend(strings(args));
    let out = ftheta(&a);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    dir
}

fn copy_run(from: &Path, name: &str) -> PathBuf {
    let to = tmp(name);
    std::fs::create_dir_all(to.join("checkpoint")).unwrap();
    for f in ["config.json", "history.jsonl", "model.safetensors"] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    for f in ["model.safetensors", "optimizer.safetensors", "best.safetensors", "state.json"] {
        std::fs::copy(from.join("checkpoint").join(f), to.join("checkpoint").join(f)).unwrap();
    }
    to
}

#[test]
fn broken_checkpoints_for_eval_predict_and_resume() {
    let good = trained_run("ckpt-good", &["--data", &input("good.csv"), "--target", "y"]);
    let other = trained_run("ckpt-other", &["--data", &input("good.csv"), "--target", "y", "--model", "mlp:3"]);
    let bytes = std::fs::read(good.join("model.safetensors")).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;

    let truncated = copy_run(&good, "ckpt-truncated");
    std::fs::write(truncated.join("model.safetensors"), &bytes[..bytes.len() - 3]).unwrap();
    // The header says the weight has shape [1, 1]; it is [1, 1] with one more float's worth of
    // data claimed, so offsets and shapes disagree.
    let tampered = copy_run(&good, "ckpt-tampered");
    let mut t = bytes.clone();
    let header = String::from_utf8(t[8..8 + header_len].to_vec()).unwrap();
    let changed = header.replacen("[1,1]", "[1,2]", 1);
    assert_ne!(header, changed, "{header}");
    t[8..8 + header_len].copy_from_slice(changed.as_bytes());
    std::fs::write(tampered.join("model.safetensors"), &t).unwrap();
    let garbage = copy_run(&good, "ckpt-garbage");
    std::fs::write(garbage.join("model.safetensors"), b"\xff\xff\xff\xff\xff\xff\xff\x7fnot safetensors").unwrap();
    // One bit of the last weight flipped: a valid file whose weights no longer match their CRC-32.
    let flipped = copy_run(&good, "ckpt-flipped");
    let mut f = bytes.clone();
    *f.last_mut().unwrap() ^= 0x10;
    std::fs::write(flipped.join("model.safetensors"), &f).unwrap();
    // Weights of an MLP in the folder of a linear model.
    let mismatch = copy_run(&good, "ckpt-mismatch");
    std::fs::copy(other.join("model.safetensors"), mismatch.join("model.safetensors")).unwrap();

    let cases: &[(&Path, &[&str])] = &[
        (&truncated, &["model.safetensors", "not a valid safetensors file"]),
        (&tampered, &["model.safetensors", "not a valid safetensors file"]),
        (&garbage, &["model.safetensors", "not a valid safetensors file"]),
        (&flipped, &["model.safetensors", "is corrupt", "checksum"]),
        (&mismatch, &["model.safetensors", "does not fit the model", "unexpected 'layers.2.weight'"]),
    ];
    let data = input("good.csv");
    for (run, expected) in cases {
        let r = run.to_str().unwrap();
        let case = run.file_name().unwrap().to_string_lossy().into_owned();
        assert_refused(&format!("eval {case}"), &ftheta(&strings(&["eval", "--run", r, "--data", &data])), expected);
        // predict --out: no file appears, and a file the user had is left as it was.
        let fresh = run.join("fresh.csv");
        let a = strings(&["predict", "--run", r, "--data", &data, "--out", fresh.to_str().unwrap()]);
        assert_refused(&format!("predict {case}"), &ftheta(&a), expected);
        assert!(!fresh.exists(), "{case}: predict left {}", fresh.display());
        let mine = run.join("mine.csv");
        std::fs::write(&mine, "my own file\n").unwrap();
        let a = strings(&["predict", "--run", r, "--data", &data, "--out", mine.to_str().unwrap()]);
        assert_refused(&format!("predict {case} over a file"), &ftheta(&a), expected);
        assert_eq!(std::fs::read_to_string(&mine).unwrap(), "my own file\n", "{case}");
        let leftovers: Vec<_> = std::fs::read_dir(run)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{case}: {leftovers:?}");
    }

    // --resume with a broken checkpoint names the file; the run folder is left as it was.
    let resume = copy_run(&good, "ckpt-resume");
    let ck = resume.join("checkpoint/optimizer.safetensors");
    let opt = std::fs::read(&ck).unwrap();
    std::fs::write(&ck, &opt[..opt.len() / 2]).unwrap();
    let out = ftheta(&strings(&["train", "--resume", resume.to_str().unwrap(), "-q"]));
    assert_refused("resume truncated optimizer", &out, &["optimizer.safetensors", "not a valid safetensors file"]);
    assert!(resume.join("config.json").is_file() && resume.join("checkpoint/state.json").is_file());
}
