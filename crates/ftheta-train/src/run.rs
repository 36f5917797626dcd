//! The run folder: everything a training run leaves behind, and what `--resume` needs.
//!
//! ```text
//! config.json                   how to rebuild the model and the data (RunConfig)
//! history.jsonl                 one Record per evaluation
//! model.safetensors             the best weights (metadata: spec)
//! checkpoint/model.safetensors  the weights at the last epoch's end
//! checkpoint/optimizer.safetensors
//! checkpoint/best.safetensors   the best weights so far
//! checkpoint/state.json         TrainState, written last
//! status.json                   RunStatus: running (with the process id), finished, diverged, …
//! summary.json                  the kept model's scores on train, validation and test (at the end)
//! ftheta.lock                   locked while a process writes the run (see claim)
//! ```
//! Every file is written to a temporary name and renamed. A checkpoint is written whole into
//! `checkpoint.new/` (`state.json` last), then the old `checkpoint/` is renamed to
//! `checkpoint.old/` and `checkpoint.new/` to `checkpoint/`; renames are atomic, so a process
//! killed at any moment leaves a complete `checkpoint/` or, between the two renames, a complete
//! `checkpoint.old/`, which loading then uses. The weights' metadata carry the update they belong
//! to and loading checks that it matches `state.json`. A run killed before its first checkpoint
//! resumes from the start. `history.jsonl` is appended to; lines past the checkpoint (and a torn
//! last line) are dropped when resuming.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ftheta_data::Standardizer;
use ftheta_nn::checkpoint::write_atomic;
use ftheta_nn::{Checkpoint, Model, ModelSpec, Module};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::claim::{FreshFolder, RunLock};
use crate::trainer::{Observer, Record, TrainConfig, TrainState, Trainer};
use crate::TrainError;

/// Where the data came from and how it was turned into features and parts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataConfig {
    /// A CSV path, an MNIST-layout folder or a built-in name, as given.
    pub source: String,
    /// The target column.
    pub target: Option<String>,
    /// The feature columns asked for (`None`: every column but the target).
    pub features: Option<Vec<String>>,
    /// Columns left out.
    pub drop: Vec<String>,
    /// Columns one-hot encoded.
    pub categorical: Vec<String>,
    /// Whether the target holds classes.
    pub classification: bool,
    /// Train, validation and test fractions.
    pub split: [f64; 3],
    /// Whether features were standardized (with `RunConfig::standardizer`).
    pub standardize: bool,
}

/// `config.json`: everything needed to rebuild the model and its data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The model spec, written as its text (`"mlp:64,32:relu"`, …).
    pub spec: ModelSpec,
    /// Constant initial weight and bias, when not the default initialization.
    pub init: Option<[f64; 2]>,
    /// The data.
    pub data: DataConfig,
    /// The model's input features, in order (one-hot columns as `column=value`).
    pub feature_names: Vec<String>,
    /// Class names for classification.
    pub class_names: Option<Vec<String>>,
    /// Outputs of the model.
    pub n_outputs: usize,
    /// The standardizer fitted on the training rows.
    pub standardizer: Option<Standardizer>,
    /// Where a regression model's output bias starts: the training targets' mean, in the units
    /// the model predicts (0 for standardized targets). `None`: the layer's own initialization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_bias: Option<f64>,
    /// How the model is trained.
    pub train: TrainConfig,
}

/// What became of a run, as `status.json` says (the dashboard reads it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// A training process is (or was, if it died without a word) working on it.
    Running,
    /// The budget was spent or early stopping ended it.
    Finished,
    /// The loss became NaN or infinite.
    Diverged,
    /// Stopped on request (Ctrl-C) after a checkpoint; `--resume` continues it.
    Interrupted,
    /// Stopped by an error other than divergence.
    Failed,
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunState::Running => "running",
            RunState::Finished => "finished",
            RunState::Diverged => "diverged",
            RunState::Interrupted => "interrupted",
            RunState::Failed => "failed",
        })
    }
}

/// `status.json`: the run's state, the process that trains it and, when it ended badly, why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    /// Where the run stands.
    pub state: RunState,
    /// The training process, while `Running` (so a reader can tell a killed run from a live one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// What went wrong, for `Diverged` and `Failed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl RunStatus {
    /// The status of a run that this process trains now.
    pub fn running() -> Self {
        RunStatus { state: RunState::Running, pid: Some(std::process::id()), message: None }
    }

    /// A run that ended in `state`, with an optional reason.
    pub fn ended(state: RunState, message: Option<String>) -> Self {
        RunStatus { state, pid: None, message }
    }
}

/// A run folder, with its lock when this process writes it.
#[derive(Clone, Debug)]
pub struct RunDir {
    root: PathBuf,
    lock: Option<Arc<RunLock>>,
    /// Made by this process for a new run.
    fresh: Option<Arc<FreshFolder>>,
}

/// Maps an I/O failure to [`TrainError::Io`] naming `path`.
pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io { path: path.to_path_buf(), source }
}

impl RunDir {
    /// Creates a new run folder and takes its lock ([`FreshFolder::claim`]): a folder that does
    /// not exist yet (parents too) or an empty one; anything else is refused untouched.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self, TrainError> {
        let root = root.into();
        let (fresh, lock) = FreshFolder::claim(&root)?;
        Ok(RunDir { root, lock: Some(Arc::new(lock)), fresh: Some(Arc::new(fresh)) })
    }

    /// Opens an existing run folder to read it (no lock: reading while it trains is fine).
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, TrainError> {
        let root = root.into();
        if !root.join("config.json").is_file() {
            return Err(TrainError::Format { path: root, message: "is not a run folder (no config.json)".into() });
        }
        Ok(RunDir { root, lock: None, fresh: None })
    }

    /// Opens an existing run folder to write it (`--resume`), taking its lock: a run that another
    /// process trains is [`TrainError::Busy`].
    pub fn open_to_write(root: impl Into<PathBuf>) -> Result<Self, TrainError> {
        let mut dir = RunDir::open(root)?;
        dir.lock = Some(Arc::new(RunLock::acquire(&dir.root)?));
        Ok(dir)
    }

    /// For a folder made by [`RunDir::create`], removes what the run wrote and the folders it
    /// created ([`FreshFolder::clean`]), leaving anything else; `false` (and nothing removed) for
    /// a folder that was opened.
    pub fn remove_new_run(&self) -> bool {
        match &self.fresh {
            Some(f) => {
                f.clean();
                true
            }
            None => false,
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.root
    }

    /// A file in the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Writes `config.json`.
    pub fn write_config(&self, config: &RunConfig) -> Result<(), TrainError> {
        write_json(&self.file("config.json"), config)
    }

    /// Reads `config.json`.
    pub fn read_config(&self) -> Result<RunConfig, TrainError> {
        read_json(&self.file("config.json"))
    }

    /// Writes `status.json` (atomically).
    pub fn write_status(&self, status: &RunStatus) -> Result<(), TrainError> {
        write_json(&self.file("status.json"), status)
    }

    /// Reads `status.json`; `None` for a run folder written before ftheta kept one.
    pub fn read_status(&self) -> Result<Option<RunStatus>, TrainError> {
        let path = self.file("status.json");
        if !path.is_file() {
            return Ok(None);
        }
        read_json(&path).map(Some)
    }

    /// Writes `summary.json` (atomically): the kept model's scores on each part, test included,
    /// as `ftheta train --json` prints them.
    pub fn write_summary(&self, summary: &crate::summary::RunSummary) -> Result<(), TrainError> {
        write_json(&self.file("summary.json"), &summary.to_json())
    }

    /// Saves the model's current weights as `model.safetensors`, with its spec in the metadata.
    pub fn save_model(&self, model: &Model) -> Result<(), TrainError> {
        Ok(Checkpoint::from_module(model)
            .with_meta("spec", model.spec.to_string())
            .save(self.file("model.safetensors"))?)
    }

    /// Loads `model.safetensors` into `model`.
    pub fn load_model(&self, model: &Model) -> Result<(), TrainError> {
        let path = self.file("model.safetensors");
        Ok(Checkpoint::load(&path)?.load_into(model, &path)?)
    }

    /// Appends one line to `history.jsonl`.
    pub fn append_history(&self, record: &Record) -> Result<(), TrainError> {
        let path = self.file("history.jsonl");
        let line = serde_json::to_string(record).expect("records serialize");
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;
        writeln!(f, "{line}").map_err(io_err(&path))
    }

    /// The records of `history.jsonl` up to and including update `up_to`.
    pub fn read_history(&self, up_to: u64) -> Result<Vec<Record>, TrainError> {
        let path = self.file("history.jsonl");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io_err(&path)(e)),
        };
        // A process killed while appending leaves a last line without its newline: not an error.
        let complete = match text.rfind('\n') {
            Some(end) => &text[..=end],
            None => "",
        };
        let mut out = Vec::new();
        for (i, line) in complete.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let r: Record = serde_json::from_str(line)
                .map_err(|e| TrainError::Format { path: path.clone(), message: format!("line {}: {e}", i + 1) })?;
            if r.update <= up_to {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// Rewrites `history.jsonl` with exactly these records (atomically).
    pub fn write_history(&self, records: &[Record]) -> Result<(), TrainError> {
        let path = self.file("history.jsonl");
        let mut text = String::new();
        for r in records {
            text += &serde_json::to_string(r).expect("records serialize");
            text.push('\n');
        }
        write_atomic(&path, text.as_bytes()).map_err(io_err(&path))
    }

    /// Writes the resumable checkpoint of `trainer` (see the module's notes on how a kill at any
    /// moment leaves a complete one).
    pub fn save_checkpoint<M: Module>(&self, trainer: &Trainer<'_, M>) -> Result<(), TrainError> {
        let (dir, new, old) = (self.file("checkpoint"), self.file("checkpoint.new"), self.file("checkpoint.old"));
        if new.exists() {
            std::fs::remove_dir_all(&new).map_err(io_err(&new))?;
        }
        std::fs::create_dir_all(&new).map_err(io_err(&new))?;
        let update = trainer.state().update.to_string();
        let model = trainer.model();
        Checkpoint::from_module(model).with_meta("update", update.clone()).save(new.join("model.safetensors"))?;
        let mut opt = Checkpoint::new().with_meta("update", update.clone());
        for (n, t) in trainer.optimizer().state() {
            opt.insert(n, t);
        }
        opt.save(new.join("optimizer.safetensors"))?;
        let mut best = Checkpoint::new().with_meta("update", update);
        if let Some(weights) = trainer.best_weights() {
            for ((name, p), w) in model.named_parameters().into_iter().zip(weights) {
                best.insert(name, ftheta_core::Tensor::from_vec(w.clone(), p.shape()));
            }
        }
        best.save(new.join("best.safetensors"))?;
        write_json(&new.join("state.json"), trainer.state())?;
        if dir.exists() {
            if old.exists() {
                std::fs::remove_dir_all(&old).map_err(io_err(&old))?;
            }
            std::fs::rename(&dir, &old).map_err(io_err(&dir))?;
        }
        std::fs::rename(&new, &dir).map_err(io_err(&new))?;
        // The renames reach the disk too (for power loss; a killed process needs no sync).
        if let Ok(root) = std::fs::File::open(&self.root) {
            let _ = root.sync_all();
        }
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(io_err(&old))?;
        }
        Ok(())
    }

    /// The folder of the last complete checkpoint: `checkpoint/`, or `checkpoint.old/` when a save
    /// was killed between its two renames; `None` before the first checkpoint.
    pub fn checkpoint_dir(&self) -> Option<PathBuf> {
        ["checkpoint", "checkpoint.old"].iter().map(|d| self.file(d)).find(|d| d.join("state.json").is_file())
    }

    /// The last complete checkpoint's `state.json` alone; `None` before the first checkpoint.
    pub fn read_state(&self) -> Result<Option<TrainState>, TrainError> {
        self.checkpoint_dir().map(|d| read_json(&d.join("state.json"))).transpose()
    }

    /// Reads the last complete checkpoint's state and checks that each of its files loads and
    /// belongs to the same update; `None` before the first checkpoint.
    pub fn read_checkpoint(&self) -> Result<Option<(TrainState, CheckpointFiles)>, TrainError> {
        let Some(dir) = self.checkpoint_dir() else { return Ok(None) };
        let state: TrainState = read_json(&dir.join("state.json"))?;
        let load = |name: &str| -> Result<Checkpoint, TrainError> {
            let path = dir.join(name);
            let ck = Checkpoint::load(&path)?;
            let at = ck.metadata.get("update").and_then(|u| u.parse::<u64>().ok());
            if at != Some(state.update) {
                return Err(TrainError::Format {
                    path,
                    message: format!("belongs to update {at:?}, state.json to update {}", state.update),
                });
            }
            Ok(ck)
        };
        let files = CheckpointFiles {
            model: load("model.safetensors")?,
            optimizer: load("optimizer.safetensors")?,
            best: load("best.safetensors")?,
            dir: dir.clone(),
        };
        Ok(Some((state, files)))
    }

    /// Restores the last checkpoint into `trainer` (weights, optimizer state, best weights, state
    /// and the history up to the checkpoint, which is also trimmed on disk). Without a checkpoint
    /// (a run stopped before its first) the trainer is left at the start and the history emptied.
    pub fn load_checkpoint<M: Module>(&self, trainer: &mut Trainer<'_, M>) -> Result<(), TrainError> {
        let Some((state, files)) = self.read_checkpoint()? else {
            return self.write_history(&[]);
        };
        files.model.load_into(trainer.model(), &files.dir.join("model.safetensors"))?;
        trainer.optimizer_mut().load_state(&files.optimizer.to_map())?;
        let weights = trainer
            .model()
            .named_parameters()
            .iter()
            .map(|(n, _)| files.best.get(n).map(|t| t.to_vec()))
            .collect::<Option<Vec<_>>>();
        let history = self.read_history(state.update)?;
        self.write_history(&history)?;
        trainer.resume(state, weights, history);
        Ok(())
    }
}

/// The three weight files of a checkpoint, read and checked against its `state.json`.
pub struct CheckpointFiles {
    /// The folder they were read from.
    pub dir: PathBuf,
    /// The model's weights.
    pub model: Checkpoint,
    /// The optimizer's state.
    pub optimizer: Checkpoint,
    /// The best weights so far (empty before the first evaluation).
    pub best: Checkpoint,
}

/// Writes the run folder as training goes: history lines, the best model, checkpoints. With
/// `interrupt_after`, stops training after that many epochs as if the process had been killed.
pub struct RunWriter<'a> {
    dir: &'a RunDir,
    /// Stop after this many completed epochs (for testing `--resume`).
    pub interrupt_after: Option<u64>,
}

impl<'a> RunWriter<'a> {
    /// A writer into `dir`.
    pub fn new(dir: &'a RunDir) -> Self {
        RunWriter { dir, interrupt_after: None }
    }
}

impl Observer for RunWriter<'_> {
    fn on_eval(&mut self, record: &Record, improved: bool, model: &Model) -> Result<(), TrainError> {
        self.dir.append_history(record)?;
        if improved {
            self.dir.save_model(model)?;
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, trainer: &Trainer<'_>) -> Result<bool, TrainError> {
        self.dir.save_checkpoint(trainer)?;
        Ok(self.interrupt_after.map_or(true, |n| trainer.state().epoch < n))
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).expect("plain data serializes");
    write_atomic(path, text.as_bytes()).map_err(io_err(path))
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, TrainError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Format { path: path.to_path_buf(), message: e.to_string() })
}
