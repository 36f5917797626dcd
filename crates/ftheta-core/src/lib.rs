//! # ftheta-core
//!
//! The engine under ftheta: an n-dimensional [`Tensor`] with reverse-mode automatic
//! differentiation and a PyTorch-like API.
//!
//! ```
//! use ftheta_core::Tensor;
//! let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], &[3, 1]);
//! let t = Tensor::from_vec(vec![2.0, 4.1, 5.9], &[3, 1]);
//! let w = Tensor::from_vec(vec![0.5], &[1, 1]).requires_grad();
//! let b = Tensor::scalar(0.0).requires_grad();
//! let y = x.matmul(&w) + &b;
//! let loss = (&y - &t).pow(2.0).mean();
//! loss.backward();
//! assert!(w.grad().unwrap().item() < 0.0); // w = 0.5 is too small: the gradient says grow
//! ```

#![warn(missing_docs)]

mod autograd;
mod backprop;
mod check;
mod display;
mod dot;
pub(crate) mod dtype;
mod error;
mod grad_mode;
mod kernels;
pub mod layout;
mod op;
mod ops;
mod random;
mod sparse;
mod tensor;

pub use autograd::BackwardOptions;
pub use dtype::Float;
pub use error::TensorError;
pub use grad_mode::{is_grad_enabled, no_grad, NoGradGuard};
pub use kernels::choice::{gemm_isa, gemm_kernel, set_gemm_kernel, GemmKernel};
pub use layout::Layout;
pub use ops::conv::{Conv2dParams, Pool2d};
pub use ops::shape::ShapeArg;
pub use random::{manual_seed, with_rng};
pub use sparse::CsrMatrix;
pub use tensor::Tensor;
