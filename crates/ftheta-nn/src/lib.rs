//! # ftheta-nn
//!
//! Models, losses and optimizers on top of `ftheta-core`: the lecture's three steps as code.
//! A [`Module`] is a family of functions f_θ; a loss scores one member on data; an
//! [`Optimizer`](optim::Optimizer) moves θ downhill.

#![warn(missing_docs)]

pub mod attention;
pub mod batchnorm;
pub mod checkpoint;
pub mod dropout;
pub mod embedding;
mod error;
pub mod flatten;
pub mod init;
pub mod layernorm;
pub mod layers;
pub mod loss;
pub mod module;
pub mod optim;
pub mod recurrent;
pub mod spec;
pub mod transformer;

pub use attention::CausalSelfAttention;
pub use batchnorm::{BatchNorm, BatchNorm1d, BatchNorm2d, BatchNormConfig};
pub use checkpoint::Checkpoint;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use error::NnError;
pub use flatten::Flatten;
pub use init::Init;
pub use layernorm::LayerNorm;
pub use layers::{Activation, Linear};
pub use loss::Loss;
pub use module::{Module, Sequential};
pub use optim::{clip_grad_norm, Adam, AdamConfig, Optimizer, Schedule, Sgd, SgdConfig};
pub use recurrent::{CellKind, Recurrent, RecurrentState};
pub use spec::{LayerPlan, LayerSpec, Model, ModelSpec};
pub use transformer::{LastStep, Transformer, TransformerConfig};
