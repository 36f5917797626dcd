//! # ftheta-train
//!
//! The training loop and what surrounds it: a [`Trainer`] that fits a model on a training part and
//! watches a validation part, [`metrics`], a closed-form least-squares [`solve`]r to check gradient
//! descent against, Rosenblatt's [`perceptron`] rule, and the [`run`] folder with its resumable
//! checkpoint.

#![warn(missing_docs)]

mod error;
pub mod memory;
pub mod metrics;
pub mod perceptron;
pub mod progress;
pub mod run;
pub mod solve;
pub mod trainer;

pub use error::TrainError;
pub use metrics::{evaluate, Metrics};
pub use solve::{least_squares, stable_lr_limit, LeastSquares};
pub use trainer::{check_budget, Budget, EvalEvery, Observer, OptimizerKind, Record, TrainConfig, TrainState, Trainer};
