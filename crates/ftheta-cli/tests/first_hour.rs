//! What a newcomer runs in the first hour, from the README (issue 17): the headline commands train
//! good models with their defaults, a run trained on built-in data predicts on a CSV of new rows,
//! every built-in is compiled in and named in help and errors, a mistyped flag gets clap's
//! suggestion, and `eval` scores the run's own test rows unless told otherwise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn ftheta_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ftheta")).args(args).current_dir(dir).env("RUST_BACKTRACE", "1").output().unwrap()
}

fn ftheta(args: &[&str]) -> Output {
    ftheta_in(&std::env::temp_dir(), args)
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ftheta-first-hour-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// The variance of `time_to_delivery` over all rows: the MSE of predicting the mean.
fn target_variance() -> f64 {
    let t = ftheta_data::builtin::deliveries().unwrap();
    let n = t.targets.len() as f64;
    let mean = t.targets.iter().sum::<f64>() / n;
    t.targets.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n
}

fn num(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("no {key} in {v}"))
}

#[test]
fn standardize_scales_the_target_and_reports_in_its_units() {
    let var = target_variance();
    assert!((40.0..50.0).contains(&var), "{var}");
    let dir = tmp("linear");
    let d = dir.to_str().unwrap();
    let v = json_of(&ftheta(&[
        "train",
        "--data",
        "deliveries",
        "--model",
        "linear",
        "--optimizer",
        "adam",
        "--lr",
        "0.01",
        "--standardize",
        "--epochs",
        "10",
        "--out",
        d,
        "--json",
        "-q",
    ]));
    // Beats predicting the mean by far (it ended at 60, above the variance, with raw targets).
    let val_mse = num(&v, "val_mse");
    assert!(val_mse < 0.5 * var, "val_mse {val_mse}, variance {var}");
    // The loss is the MSE in minutes², not in standardized units.
    assert!((num(&v, "val_loss") - val_mse).abs() < 1e-3 * val_mse, "{v}");
    let config: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let scale = &config["train"]["target_scale"];
    assert!((20.0..40.0).contains(&num(scale, "mean")) && (5.0..9.0).contains(&num(scale, "std")), "{config}");
    // Weights in the features' and the target's units: close to least squares' 2.79 min/mile.
    assert!((num(&v["weights"], "distance") - 2.79).abs() < 0.3, "{v}");
    // eval and predict undo the scaling too.
    let e = json_of(&ftheta(&["eval", "--run", d, "--part", "validation", "--json"]));
    assert!((num(&e, "mse") - val_mse).abs() < 1e-9 * val_mse, "{e} vs {v}");
    let p = ftheta(&["predict", "--run", d, "--data", "deliveries"]);
    assert!(p.status.success(), "{}", stderr(&p));
    let preds: Vec<f64> = String::from_utf8(p.stdout).unwrap().lines().skip(1).map(|l| l.parse().unwrap()).collect();
    let mean = preds.iter().sum::<f64>() / preds.len() as f64;
    assert!((num(scale, "mean") - mean).abs() < 1.0, "predictions average {mean} minutes");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_simplest_command_trains_with_its_defaults() {
    // `ftheta train --data deliveries --model linear` diverged at η = 0.01 (2/λ_max = 0.0036).
    let v = json_of(&ftheta(&["train", "--data", "deliveries", "--model", "linear", "--json", "-q"]));
    let val_mse = num(&v, "val_mse");
    assert!(val_mse < target_variance(), "val_mse {val_mse}: no better than the mean");
    // An explicit rate keeps its word, and its divergence message.
    let out =
        ftheta(&["train", "--data", "deliveries", "--lr", "0.01", "--batch-size", "full", "--epochs", "200", "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("2/λ_max = 0.0035"), "{}", stderr(&out));
}

#[test]
fn a_run_on_built_in_data_predicts_on_a_csv_of_new_rows() {
    let dir = tmp("predict");
    std::fs::create_dir_all(&dir).unwrap();
    let run = dir.join("run");
    let r = run.to_str().unwrap();
    let out = ftheta(&["train", "--data", "deliveries", "--model", "linear", "--epochs", "1", "-q", "--out", r]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The README's new_orders.csv: the first rows of deliveries without the target, columns shuffled.
    let text = std::str::from_utf8(ftheta_data::builtin::DELIVERIES_CSV).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let t = header.iter().position(|h| *h == "time_to_delivery").unwrap();
    let keep: Vec<usize> = (0..header.len()).rev().filter(|&j| j != t).collect();
    let pick = |row: &str| {
        let cells: Vec<&str> = row.split(',').collect();
        keep.iter().map(|&j| cells[j]).collect::<Vec<_>>().join(",")
    };
    let mut csv = pick(&header.join(",")) + "\n";
    for row in lines.take(5) {
        csv += &(pick(row) + "\n");
    }
    std::fs::write(dir.join("new_orders.csv"), csv).unwrap();
    let out = ftheta_in(&dir, &["predict", "--run", "run", "--data", "new_orders.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let all = ftheta(&["predict", "--run", r, "--data", "deliveries"]);
    let all: Vec<String> = String::from_utf8(all.stdout).unwrap().lines().take(6).map(String::from).collect();
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().collect::<Vec<_>>(), all);
    let config: Value = serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["data"]["categorical"], serde_json::json!(["day"]), "{config}");
    assert_eq!(config["data"]["target"], "time_to_delivery", "{config}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn built_in_names_are_listed_and_work_from_any_folder() {
    let help = ftheta(&["train", "--help"]);
    let help = String::from_utf8_lossy(&help.stdout);
    for name in ["deliveries", "digits", "iris", "xor"] {
        assert!(help.contains(name), "--help lacks {name}");
    }
    let out = ftheta(&["train", "--data", "mnist"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--data mnist") && err.contains("deliveries, digits, iris, xor"), "{err}");
    assert!(!err.contains("--target") && err.trim().lines().count() == 1, "{err}");
    let empty = tmp("anywhere");
    std::fs::create_dir_all(&empty).unwrap();
    let v =
        json_of(&ftheta_in(&empty, &["train", "--data", "iris", "--model", "mlp:8", "--epochs", "3", "--json", "-q"]));
    assert!(num(&v, "train_accuracy") > 0.5, "{v}");
    let v = json_of(&ftheta_in(&empty, &["train", "--data", "digits", "--epochs", "1", "--json", "-q"]));
    assert!(num(&v, "val_accuracy") > 0.5, "{v}");
    std::fs::remove_dir_all(empty).unwrap();
}

#[test]
fn a_mistyped_flag_or_command_gets_a_suggestion_in_two_lines() {
    for (args, tip) in [
        (&["train", "--data", "xor", "--epoch", "3"][..], "'--epochs'"),
        (&["train", "--data", "xor", "--batch", "4"], "'--batch-size'"),
        (&["trian", "--data", "xor"], "'train'"),
    ] {
        let out = ftheta(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("tip:") && err.contains(tip), "{args:?}: {err}");
        assert!(err.trim().lines().count() <= 2 && !err.contains("Usage"), "{args:?}: {err}");
    }
}

#[test]
fn eval_scores_the_runs_own_test_rows_unless_told_otherwise() {
    let dir = tmp("eval");
    let d = dir.to_str().unwrap();
    let v = json_of(&ftheta(&[
        "train",
        "--data",
        "deliveries",
        "--model",
        "linear",
        "--standardize",
        "--epochs",
        "2",
        "--out",
        d,
        "--json",
        "-q",
    ]));
    let e = json_of(&ftheta(&["eval", "--run", d, "--json"]));
    assert_eq!(e["part"], "test", "{e}");
    assert_eq!(num(&e, "mse"), num(&v, "test_mse"), "the test rows training reported on: {e} {v}");
    assert!((900..1100).contains(&(num(&e, "rows") as i64)), "{e}");
    let all = json_of(&ftheta(&["eval", "--run", d, "--part", "all", "--json"]));
    assert_eq!((all["part"].as_str(), num(&all, "rows")), (Some("all"), 10012.0), "{all}");
    let train = json_of(&ftheta(&["eval", "--run", d, "--part", "train", "--json"]));
    assert!((num(&train, "mse") - num(&v, "train_mse")).abs() < 1e-9, "{train} {v}");
    let human = ftheta(&["eval", "--run", d]);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(text.contains("test part") && text.contains(&format!("{} rows", num(&e, "rows"))), "{text}");
    // Other data: every row; a part of it is refused, naming the flag.
    let text = std::str::from_utf8(ftheta_data::builtin::DELIVERIES_CSV).unwrap();
    let csv = dir.join("some.csv");
    std::fs::write(&csv, text.lines().take(101).collect::<Vec<_>>().join("\n")).unwrap();
    let c = csv.to_str().unwrap();
    let other = json_of(&ftheta(&["eval", "--run", d, "--data", c, "--json"]));
    assert_eq!((other["part"].as_str(), num(&other, "rows")), (Some("all"), 100.0), "{other}");
    let out = ftheta(&["eval", "--run", d, "--data", c, "--part", "test"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--part test") && stderr(&out).contains("--part all"), "{}", stderr(&out));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn predict_into_a_closed_pipe_exits_quietly_and_writes_probabilities() {
    use std::io::{BufRead, BufReader};
    let dir = tmp("pipe");
    let d = dir.to_str().unwrap();
    let out = ftheta(&["train", "--data", "deliveries", "--epochs", "1", "-q", "--out", d]);
    assert!(out.status.success(), "{}", stderr(&out));
    // As `ftheta predict ... | head -1`: 10,012 lines are more than a pipe holds, so the writer
    // meets the closed pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftheta"))
        .args(["predict", "--run", d, "--data", "deliveries"])
        .env("RUST_BACKTRACE", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert_eq!(first, "prediction\n");
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "{:?}: {}", done.status, stderr(&done));
    assert_eq!(stderr(&done), "");
    // --proba is for classes.
    let out = ftheta(&["predict", "--run", d, "--data", "deliveries", "--proba"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--proba"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();

    let out = ftheta(&["train", "--data", "iris", "--model", "mlp:8", "--epochs", "5", "-q", "--out", d]);
    assert!(out.status.success(), "{}", stderr(&out));
    let p = ftheta(&["predict", "--run", d, "--data", "iris", "--proba"]);
    assert!(p.status.success(), "{}", stderr(&p));
    let text = String::from_utf8(p.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("class,p_setosa,p_versicolor,p_virginica"));
    let plain = String::from_utf8(ftheta(&["predict", "--run", d, "--data", "iris"]).stdout).unwrap();
    let mut n = 0;
    for (line, class) in lines.zip(plain.lines().skip(1)) {
        let cells: Vec<&str> = line.split(',').collect();
        let p: Vec<f64> = cells[1..].iter().map(|c| c.parse().unwrap()).collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{line}");
        let best = (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        assert_eq!((cells[0], ["setosa", "versicolor", "virginica"][best]), (class, cells[0]), "{line}");
        n += 1;
    }
    assert_eq!(n, 150);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_summary_is_a_short_table_and_json_keeps_precision_and_errors() {
    let dir = tmp("summary");
    let d = dir.to_str().unwrap();
    let args = ["train", "--data", "deliveries", "--model", "mlp:8", "--optimizer", "adam", "--standardize"];
    let out = ftheta(&[&args[..], &["--epochs", "3", "--eval-every", "100", "-q", "--out", d]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // A header of the scores (loss left out: it is the MSE), then train, val, test.
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["mse", "mae", "r2"], "{text}");
    for (line, part) in lines[1..4].iter().zip(["train", "val", "test"]) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells[0], part, "{text}");
        for c in &cells[1..] {
            let digits = c.trim_start_matches(['-', '0', '.']).chars().filter(char::is_ascii_digit).count();
            assert!(digits <= 4, "{c} has more than 4 significant digits: {text}");
        }
    }
    assert!(text.contains("kept: the best weights, at update") || text.contains("the last and the best"), "{text}");
    // The folder holds the kept model's scores on every part, test included, in full precision.
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    let test_mse = num(&summary, "test_mse");
    assert!(test_mse.to_string().len() > 8, "{summary}");
    assert!(lines[3].contains(&ftheta_train::metrics::significant(test_mse, 4)), "{text} vs {summary}");
    // --json on failure: an object with the error on stdout, and the same exit code.
    let out =
        ftheta(&["train", "--data", "deliveries", "--lr", "0.01", "--batch-size", "full", "--epochs", "50", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("diverged at update"), "{v}");
    let out = ftheta(&["eval", "--run", "/nonexistent/run", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["error"].as_str().unwrap().contains("--run"), "{v}");
    std::fs::remove_dir_all(dir).unwrap();
}
