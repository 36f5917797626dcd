//! The run folder against the user's files and against other processes: a new run goes only into
//! a new or empty folder and, when it fails, removes only what it wrote; a folder with anything
//! else in it (the user's files, the user's own `model.safetensors` or `status.json`, another run)
//! is refused with exit 2 and left byte for byte as it was; and one process at a time writes a
//! run folder (the second `train --out D` or `--resume D` is refused, naming the holder).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{assert_refused, fresh_dir, ftheta, ftheta_in};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every file under `dir` (relative path → bytes), folders as empty entries ending in `/`.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &p, out);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A folder of the user's: notes, data, and files named as a run's are.
fn user_folder(dir: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = dir.join(name);
    for (f, text) in files {
        let p = d.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A run that fails once training starts (mean absolute error on classes), and one that trains.
const FAILS: &[&str] = &["train", "-q", "--data", "digits", "--loss", "mae", "--epochs", "1"];
const TRAINS: &[&str] = &["train", "-q", "--data", "xor", "--epochs", "2"];

#[test]
fn a_folder_that_is_not_new_or_empty_is_refused_and_left_as_it_was() {
    let dir = fresh_dir("folders", "foreign");
    let folders: &[(&str, &[(&str, &str)])] = &[
        ("project", &[("notes.txt", "my notes\n"), ("data/train.csv", "x,y\n1,2\n")]),
        ("own-model", &[("model.safetensors", "the user's own weights")]),
        ("own-status", &[("status.json", "{\"mine\": true}")]),
        ("own-history", &[("history.jsonl", "{\"a\":1}\n")]),
        ("own-checkpoint", &[("checkpoint/state.json", "{}")]),
        ("hidden", &[(".git/HEAD", "ref: refs/heads/main\n")]),
        ("lock-and-file", &[("ftheta.lock", ""), ("keep.txt", "keep")]),
    ];
    for (name, files) in folders {
        let d = user_folder(&dir, name, files);
        let before = snapshot(&d);
        for args in [FAILS, TRAINS] {
            let case = format!("{name} {}", args[4]);
            let out = ftheta(&[args, &["--out", s(&d)]].concat());
            assert_refused(&case, &out, &[s(&d), "is not empty", "not an ftheta run"]);
            assert_eq!(snapshot(&d), before, "{case}: the folder changed");
        }
    }
    // `--out .` from inside the user's project (the case that used to empty it).
    let d = dir.join("project");
    let before = snapshot(&d);
    let out = ftheta_in(Some(&d), &[FAILS, &["--out", "."]].concat(), Duration::from_secs(60));
    assert_refused("--out .", &out, &["is not empty (it holds 'data' and 1 more)"]);
    assert_eq!(snapshot(&d), before, "--out .: the project changed");
    // An existing file as --out: refused, not replaced.
    let file = dir.join("project/notes.txt");
    let out = ftheta(&[TRAINS, &["--out", s(&file)]].concat());
    assert_refused("--out FILE", &out, &["notes.txt exists and is not a folder"]);
    assert_eq!(snapshot(&d), before, "--out FILE: the project changed");
    // A finished run is not overwritten by a new one.
    let run = dir.join("run");
    assert!(ftheta(&[TRAINS, &["--out", s(&run)]].concat()).status.success());
    let before = snapshot(&run);
    let out = ftheta(&[TRAINS, &["--out", s(&run)]].concat());
    assert_refused("--out RUN", &out, &["already holds a run", "--resume"]);
    assert_eq!(snapshot(&run), before, "--out RUN: the run changed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_new_run_removes_only_what_it_made() {
    let dir = fresh_dir("folders", "failed");
    // An empty folder the user made stays, empty.
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_refused("empty", &ftheta(&[FAILS, &["--out", s(&empty)]].concat()), &["mae needs numeric targets"]);
    assert!(empty.is_dir() && snapshot(&empty).is_empty(), "empty: {:?}", snapshot(&empty).keys());
    // Folders the run made, parents too, go; the parent the user had stays with its files.
    let parent = user_folder(&dir, "parent", &[("keep.txt", "keep")]);
    let nested = parent.join("a/b/run");
    assert_refused("nested", &ftheta(&[FAILS, &["--out", s(&nested)]].concat()), &["mae needs numeric targets"]);
    assert_eq!(snapshot(&parent).keys().collect::<Vec<_>>(), ["keep.txt"]);
    // A stale lock file alone (a run killed before writing anything) does not make a folder foreign.
    let stale = user_folder(&dir, "stale", &[("ftheta.lock", "12345\n")]);
    let out = ftheta(&[TRAINS, &["--out", s(&stale)]].concat());
    assert!(out.status.success(), "stale lock: {}", String::from_utf8_lossy(&out.stderr));
    assert!(stale.join("config.json").is_file());
    // An empty folder takes a run that trains.
    std::fs::create_dir(dir.join("empty2")).unwrap();
    assert!(ftheta(&[TRAINS, &["--out", s(&dir.join("empty2"))]].concat()).status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Long enough to be still training while the other commands run (stopped by the test).
const LONG: &[&str] =
    &["train", "-q", "--data", "digits", "--model", "mlp:16", "--batch-size", "64", "--epochs", "100000"];

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ftheta"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until the run in `dir` has written a checkpoint.
fn wait_for_checkpoint(dir: &Path, child: &mut Child) {
    let started = Instant::now();
    while !dir.join("checkpoint/state.json").is_file() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        assert!(started.elapsed() < Duration::from_secs(60), "no checkpoint after a minute");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_second_writer_of_a_training_run_is_refused_naming_the_holder() {
    let dir = fresh_dir("folders", "lock");
    let run = dir.join("run");
    let mut holder = spawn(&[LONG, &["--out", s(&run)]].concat());
    wait_for_checkpoint(&run, &mut holder);
    let named = format!("is in use by process {}", holder.id());
    let before = std::fs::read(run.join("config.json")).unwrap();
    let cases: [(&str, Vec<&str>); 3] = [
        ("--resume", vec!["train", "-q", "--resume", s(&run)]),
        ("--resume --epochs", vec!["train", "-q", "--resume", s(&run), "--epochs", "200000"]),
        ("--out", [TRAINS, &["--out", s(&run)]].concat()),
    ];
    for (case, args) in &cases {
        assert_refused(case, &ftheta(args), &[s(&run), &named, "ftheta.lock"]);
    }
    assert_eq!(std::fs::read(run.join("config.json")).unwrap(), before);
    assert!(holder.try_wait().unwrap().is_none(), "the holder stopped");
    // The lock dies with its holder, however it ends: a killed run resumes at once.
    holder.kill().unwrap();
    holder.wait().unwrap();
    let out = ftheta(&["train", "-q", "--resume", s(&run), "--interrupt-after", "1"]);
    assert!(out.status.success(), "resume after kill: {}", String::from_utf8_lossy(&out.stderr));
    let status = std::fs::read_to_string(run.join("status.json")).unwrap();
    assert!(status.contains("interrupted"), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn of_new_runs_started_together_into_one_folder_one_trains() {
    let dir = fresh_dir("folders", "race");
    for round in 0..3 {
        let run = dir.join(format!("run{round}"));
        let mut racers: Vec<Child> = (0..4).map(|_| spawn(&[LONG, &["--out", s(&run)]].concat())).collect();
        let mut winner = None;
        let started = Instant::now();
        // The losers are refused at once; the winner trains on until it is stopped.
        while racers.iter_mut().filter_map(|c| c.try_wait().unwrap().is_none().then_some(())).count() > 1 {
            assert!(started.elapsed() < Duration::from_secs(60), "round {round}: several still running");
            std::thread::sleep(Duration::from_millis(20));
        }
        for mut c in racers {
            if c.try_wait().unwrap().is_none() {
                winner = Some(c);
                continue;
            }
            let out = c.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "round {round}: {err}");
            assert!(err.contains("is in use by process"), "round {round}: {err}");
        }
        let mut winner = winner.expect("one run trains");
        wait_for_checkpoint(&run, &mut winner);
        winner.kill().unwrap();
        winner.wait().unwrap();
        let status = std::fs::read_to_string(run.join("status.json")).unwrap();
        assert!(status.contains("running") && status.contains(&winner.id().to_string()), "{status}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
