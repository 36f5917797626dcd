//! # ftheta-train
//!
//! The training loop and what surrounds it: a [`Trainer`] that fits any model on a training part
//! and watches a validation part, one [`rule`] step per batch (gradient descent, or the model's own
//! rule), [`metrics`], a closed-form least-squares [`solve`]r to check gradient
//! descent against, Rosenblatt's [`perceptron`] rule, and the [`run`] folder with its resumable
//! checkpoint.
//!
//! Runs are built here as the command line builds them: [`source`] turns a data source into the
//! model's features and parts, [`Run`] builds a new run from a [`RunRequest`] (or resumes one) and
//! trains it ([`session`]), and [`SavedRun`] applies a trained run to new data (`ftheta eval`,
//! `ftheta predict`).

#![warn(missing_docs)]

pub mod claim;
mod error;
pub mod memory;
pub mod metrics;
mod observer;
pub mod perceptron;
pub mod progress;
pub mod rule;
pub mod run;
pub mod saved;
pub mod session;
pub mod solve;
pub mod source;
pub mod summary;
pub mod trainer;

pub use error::{chain_text, TrainError};
pub use metrics::{evaluate, Metrics};
pub use perceptron::PerceptronRule;
pub use rule::{Batch, Gradient, Rule};
pub use saved::{Predictions, SavedRun};
pub use session::{FitOptions, Run, RunRequest};
pub use solve::{least_squares, stable_lr_limit, LeastSquares};
pub use summary::{weights_json, Evaluation, Part, RunSummary};
pub use trainer::{
    check_budget, Budget, EvalEvery, Observer, OptimizerKind, Record, TargetScale, TrainConfig, TrainState, Trainer,
};
