//! The error type of the training crate.

use std::path::PathBuf;

use ftheta_data::DataError;
use ftheta_nn::NnError;

/// What can go wrong while training, solving or reading and writing a run folder.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The loss became NaN or infinite.
    #[error(
        "training diverged at update {update}: the loss became {loss}; the learning rate {lr} is the likely cause{}",
        stable_hint(*stable_lr)
    )]
    Diverged {
        /// The update (1-based) whose loss was not finite.
        update: u64,
        /// The loss value (NaN or ±∞).
        loss: f64,
        /// The learning rate in use.
        lr: f64,
        /// For MSE on a linear model, the largest stable full-batch rate 2/λ_max.
        stable_lr: Option<f64>,
    },
    /// Training was stopped on request ([`crate::Observer::interrupted`]) after a checkpoint.
    #[error("interrupted at update {update}")]
    Interrupted {
        /// Updates done.
        update: u64,
    },
    /// Settings that do not fit together or with the data.
    #[error("{0}")]
    Config(String),
    /// Least squares without a unique solution.
    #[error("least squares has no unique solution: {0}")]
    Singular(String),
    /// A model, optimizer or checkpoint error.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// A data error.
    #[error(transparent)]
    Data(#[from] DataError),
    /// A file of the run folder could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// An error with what was being done when it happened (the flag or step it belongs to, as
    /// `--resume` or `training settings`), as `anyhow`'s context gives it.
    #[error("{context}: {source}")]
    Context {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: Box<TrainError>,
    },
    /// The run folder is being written by another process (it holds the folder's lock).
    #[error("{} is in use by {holder} (it holds {}); wait for it to end or stop it", path.display(), lock.display())]
    Busy {
        /// The run folder.
        path: PathBuf,
        /// Who holds it: `process 1234`, or `another process` when its lock file names none.
        holder: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// A file of the run folder that does not hold what it should.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl TrainError {
    /// This error with what was being done when it happened (`--resume`, `training settings`).
    pub fn context(self, context: impl Into<String>) -> TrainError {
        TrainError::Context { context: context.into(), source: Box::new(self) }
    }

    /// The error under any [`TrainError::Context`] wrappers.
    pub fn root(&self) -> &TrainError {
        match self {
            TrainError::Context { source, .. } => source.root(),
            other => other,
        }
    }
}

/// An error and its causes joined by `: `, leaving out a cause whose text the message so far
/// already holds (a context's message holds its error's).
pub fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut cause = Some(e);
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            if !out.is_empty() {
                out += ": ";
            }
            out += &s;
        }
        cause = c.source();
    }
    out
}

fn stable_hint(limit: Option<f64>) -> String {
    match limit {
        Some(l) => format!(" (for MSE on this linear model, rates above 2/λ_max = {l:.6} diverge)"),
        None => String::new(),
    }
}
