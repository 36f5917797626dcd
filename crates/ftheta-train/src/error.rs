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
    /// A file of the run folder that does not hold what it should.
    #[error("{}: {message}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

fn stable_hint(limit: Option<f64>) -> String {
    match limit {
        Some(l) => format!(" (for MSE on this linear model, rates above 2/λ_max = {l:.6} diverge)"),
        None => String::new(),
    }
}
