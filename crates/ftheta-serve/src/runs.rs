//! Run folders as the dashboard sees them: found under the runs folder, each with its status,
//! configuration, history and the statistics of its saved parameters.
//!
//! Everything here reads files that a training process may be writing at the same moment, so it
//! is lenient: `config.json` is read as plain JSON (not as this version's `RunConfig`), a last
//! history line without its newline is one still being written and is left for the next read, and
//! a file that cannot be read makes a field empty rather than the page fail.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use ftheta_nn::Checkpoint;
use ftheta_train::run::{RunDir, RunState};
use serde::Serialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::paths::{check_parts, resolve};

/// How deep below the runs folder run folders are looked for (`runs/sweep/lr-0.1` is depth 2).
const MAX_DEPTH: usize = 4;

/// A run's status word and, when it ended badly or its process vanished, why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    /// `running`, `finished`, `diverged`, `interrupted`, `stopped`, `failed` or `unknown`.
    pub status: String,
    /// Why, for `diverged`, `failed`, `stopped` and `unknown`.
    pub message: Option<String>,
}

/// One line of the runs page.
#[derive(Debug, Serialize)]
pub struct RunSummary {
    id: String,
    spec: Option<String>,
    data: Option<String>,
    optimizer: Option<String>,
    lr: Option<f64>,
    batch_size: Option<u64>,
    loss: Option<String>,
    #[serde(flatten)]
    status: Status,
    updates: u64,
    epochs: u64,
    seconds: f64,
    last: Option<Value>,
    best_val_loss: Option<f64>,
    modified: f64,
}

/// Summary statistics of one saved parameter tensor.
#[derive(Debug, Serialize)]
pub struct ParamStats {
    name: String,
    shape: Vec<usize>,
    numel: usize,
    mean: f64,
    std: f64,
    min: f64,
    max: f64,
    /// Counts in [`HISTOGRAM_BINS`] equal bins from `min` to `max` (all in the first when equal).
    histogram: Vec<u64>,
}

/// Bins of a parameter's histogram.
pub const HISTOGRAM_BINS: usize = 20;

fn histogram(v: &[f64], min: f64, max: f64) -> Vec<u64> {
    let mut counts = vec![0; HISTOGRAM_BINS];
    let width = (max - min) / HISTOGRAM_BINS as f64;
    for &x in v.iter().filter(|x| x.is_finite()) {
        let bin = if width > 0.0 { ((x - min) / width) as usize } else { 0 };
        counts[bin.min(HISTOGRAM_BINS - 1)] += 1;
    }
    counts
}

/// The run folder that `id` (`mlp`, `sweep/lr-0.1`) names under `root`.
pub fn run_dir(root: &Path, id: &str) -> Result<PathBuf, ApiError> {
    let parts = check_parts(id)?;
    let dir = resolve(root, &parts).map_err(|_| ApiError::not_found(format!("no run '{id}' in the runs folder")))?;
    if !dir.join("config.json").is_file() {
        return Err(ApiError::not_found(format!("'{id}' is not a run folder (no config.json)")));
    }
    Ok(dir)
}

/// Every run folder under `root` (a folder holding `config.json`), newest first.
pub fn list(root: &Path) -> Vec<RunSummary> {
    let mut found = Vec::new();
    find(root, root, 0, &mut found);
    let mut runs: Vec<RunSummary> = found.iter().map(|(id, dir)| summary(id, dir)).collect();
    runs.sort_by(|a, b| b.modified.total_cmp(&a.modified).then_with(|| a.id.cmp(&b.id)));
    runs
}

fn find(root: &Path, dir: &Path, depth: usize, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        // Real folders only: a link could lead the walk out of the runs folder or round in a loop.
        if name.starts_with('.') || !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let path = e.path();
        if path.join("config.json").is_file() {
            let id = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            out.push((id, path));
        } else if depth + 1 < MAX_DEPTH {
            find(root, &path, depth + 1, out);
        }
    }
}

fn summary(id: &str, dir: &Path) -> RunSummary {
    let config = read_json(&dir.join("config.json")).unwrap_or(Value::Null);
    let history = history(dir);
    let last = history.last().cloned();
    let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64);
    let val_losses = history.iter().filter_map(|r| num(r, "val_loss").or_else(|| num(r, "train_loss")));
    let text = |v: &Value| v.as_str().map(String::from);
    RunSummary {
        id: id.to_string(),
        spec: text(&config["spec"]),
        data: text(&config["data"]["source"]),
        optimizer: text(&config["train"]["optimizer"]),
        lr: config["train"]["lr"].as_f64(),
        batch_size: config["train"]["batch_size"].as_u64(),
        loss: text(&config["train"]["loss"]),
        status: status(dir),
        updates: last.as_ref().and_then(|r| r["update"].as_u64()).unwrap_or(0),
        epochs: last.as_ref().and_then(|r| r["epoch"].as_u64()).unwrap_or(0),
        seconds: last.as_ref().and_then(|r| num(r, "seconds")).unwrap_or(0.0),
        best_val_loss: val_losses.fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.min(v)))),
        last,
        modified: modified(dir),
    }
}

/// The latest change to the run: its history, status or config, in seconds since 1970.
fn modified(dir: &Path) -> f64 {
    ["history.jsonl", "status.json", "config.json"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).and_then(|m| m.modified()).ok())
        .filter_map(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .fold(0.0, f64::max)
}

/// The run's status, from `status.json`; `running` only while its process is alive.
pub fn status(dir: &Path) -> Status {
    let word = |s: &str, m: Option<String>| Status { status: s.to_string(), message: m };
    match RunDir::open(dir).and_then(|run| run.read_status()) {
        Ok(Some(s)) if s.state == RunState::Running => match s.pid {
            Some(pid) if !process_alive(pid) => word(
                "stopped",
                Some(format!(
                    "the training process ({pid}) ended without finishing; `ftheta train --resume` continues from \
                     the last checkpoint"
                )),
            ),
            _ => word("running", None),
        },
        Ok(Some(s)) => word(&s.state.to_string(), s.message),
        // Written before runs kept a status: the checkpoint says whether training finished.
        Ok(None) => match read_json(&dir.join("checkpoint/state.json")) {
            Some(state) if state["finished"] == Value::Bool(true) => word("finished", None),
            _ => word("stopped", Some("no status.json; the run did not finish".into())),
        },
        Err(e) => word("unknown", Some(e.to_string())),
    }
}

/// Whether process `pid` is alive (and not a zombie waiting to be reaped).
#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the command name, which is in parentheses and may hold spaces.
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Without /proc, a run that says it is running is taken at its word.
#[cfg(not(target_os = "linux"))]
fn process_alive(_pid: u32) -> bool {
    true
}

/// The complete lines of `history.jsonl` (a torn last line is still being written), each parsed;
/// a line that is not JSON is skipped.
pub fn history(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("history.jsonl")).unwrap_or_default();
    complete_lines(&text).filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The lines of `text` that end with a newline, blank ones left out.
pub fn complete_lines(text: &str) -> impl Iterator<Item = &str> {
    let end = text.rfind('\n').map_or(0, |i| i + 1);
    text[..end].lines().filter(|l| !l.trim().is_empty())
}

/// Statistics of each tensor in `model.safetensors` (the best weights so far); empty before the
/// first is saved or when it cannot be read.
pub fn parameters(dir: &Path) -> Vec<ParamStats> {
    let Ok(ck) = Checkpoint::load(dir.join("model.safetensors")) else { return Vec::new() };
    ck.tensors
        .iter()
        .map(|(name, t)| {
            let v = t.to_vec_f64();
            let n = v.len().max(1) as f64;
            let mean = v.iter().sum::<f64>() / n;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
            let min = v.iter().copied().fold(f64::INFINITY, f64::min);
            let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            ParamStats {
                name: name.clone(),
                shape: t.shape().to_vec(),
                numel: v.len(),
                mean,
                std: var.sqrt(),
                min,
                max,
                histogram: histogram(&v, min, max),
            }
        })
        .collect()
}

/// The plain files of the run folder (what `/runs/ID/FILE` serves), sorted.
pub fn files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// `config.json` as JSON.
pub fn config(dir: &Path) -> Value {
    read_json(&dir.join("config.json")).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_count_every_value_once_with_the_maximum_in_the_last_bin() {
        let v: Vec<f64> = (0..=20).map(f64::from).chain([f64::NAN]).collect();
        let mut want = vec![1; HISTOGRAM_BINS];
        want[HISTOGRAM_BINS - 1] = 2;
        assert_eq!(histogram(&v, 0.0, 20.0), want);
        assert_eq!(histogram(&[2.0, 2.0], 2.0, 2.0)[0], 2);
    }
}
