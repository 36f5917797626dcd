//! # ftheta
//!
//! Machine learning is finding a function f_θ from data: a model (a family of functions with
//! parameters θ), a loss that scores a candidate, and an optimizer that searches for the θ with
//! the lowest loss. ftheta gives each of these a small, readable Rust API on a fast CPU engine.
//!
//! `use ftheta::prelude::*;` brings in everything a program usually needs.
//!
//! ```
//! use ftheta::prelude::*;
//! let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3, 1]);
//! let t = Tensor::from_vec(vec![2.0, 4.1, 5.9], &[3, 1]);
//! let w = Tensor::from_vec(vec![0.5], &[1, 1]).requires_grad();
//! let b = Tensor::scalar(0.0).requires_grad();
//! let y = x.matmul(&w) + &b;
//! let loss = (&y - &t).pow(2.0).mean();
//! loss.backward();
//! let dw: Vec<f32> = w.grad().unwrap().to_vec();
//! assert_eq!(w.shape(), &[1, 1]);
//! # assert!(dw[0] < 0.0);
//! ```

pub use ftheta_core as core;
pub use ftheta_data as data;
/// Data-parallel training: a communicator (one process, or MPI's ranks with the `mpi` feature),
/// parameter broadcast, sharded batches and the gradient all-reduce (`DataParallel`).
pub use ftheta_dist as dist;
pub use ftheta_nn as nn;
/// The training loop (`Trainer` with evaluation, early stopping and checkpoints), metrics, least
/// squares in closed form, the perceptron rule and run folders, as `ftheta train` uses them.
pub use ftheta_train as train;

/// Everything a typical program needs, in one import.
pub mod prelude {
    pub use ftheta_core::{
        is_grad_enabled, manual_seed, no_grad, BackwardOptions, CsrMatrix, Float, NoGradGuard, Tensor, TensorError,
    };
    pub use ftheta_data::{
        builtin, read_csv, read_mnist_dir, split_indices, CsvOptions, DataError, DataLoader, Dataset, InMemoryDataset,
        Standardizer, Table,
    };
    pub use ftheta_nn::loss::{bce_with_logits, cross_entropy, huber, mae, mse};
    pub use ftheta_nn::module::join_name;
    pub use ftheta_nn::{
        clip_grad_norm, Activation, Adam, AdamConfig, BatchNorm1d, BatchNorm2d, Checkpoint, Dropout, Flatten, Init,
        LayerNorm, LayerSpec, Linear, Loss, Model, ModelSpec, Module, NnError, Optimizer, Schedule, Sequential, Sgd,
        SgdConfig,
    };
}
