//! Optimizers: how θ moves downhill. Each holds handles to the parameters and updates them in
//! place from their `.grad` (under `no_grad`, so updates build no graph).

mod adam;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamConfig};
pub use schedule::Schedule;
pub use sgd::{Sgd, SgdConfig};

use std::collections::HashMap;

use ftheta_core::Tensor;

use crate::NnError;

/// One step of an optimization algorithm over a fixed set of parameters.
pub trait Optimizer {
    /// Updates every parameter that has a gradient.
    fn step(&mut self);

    /// The parameters it updates.
    fn params(&self) -> &[Tensor];

    /// Sets every parameter's gradient to zero (keeping the buffers).
    fn zero_grad(&self) {
        self.params().iter().for_each(|p| p.zero_grad());
    }

    /// The current learning rate.
    fn lr(&self) -> f64;

    /// Changes the learning rate (schedules call this between steps).
    fn set_lr(&mut self, lr: f64);

    /// The internal state (moments, step count) as named tensors, for checkpoints.
    fn state(&self) -> Vec<(String, Tensor)>;

    /// Restores state written by [`Optimizer::state`].
    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<(), NnError>;
}

/// Checks a hyperparameter and names it when it is not finite or out of range.
pub(crate) fn check_hyper(name: &'static str, value: f64, min: f64, max: f64) -> Result<(), NnError> {
    if !value.is_finite() {
        return Err(NnError::Hyper { name, value, problem: "must be a finite number" });
    }
    if value < min || value > max {
        let problem = match (min, max) {
            (0.0, f64::INFINITY) => "must not be negative",
            (0.0, 1.0) => "must lie in [0, 1]",
            _ => "is out of range",
        };
        return Err(NnError::Hyper { name, value, problem });
    }
    Ok(())
}

/// Reads one named state tensor and checks its length.
pub(crate) fn take_state(state: &HashMap<String, Tensor>, name: &str, len: usize) -> Result<Vec<f32>, NnError> {
    let t = state.get(name).ok_or_else(|| NnError::Checkpoint {
        path: String::new(),
        problem: format!("optimizer state '{name}' is missing"),
    })?;
    if t.numel() != len {
        return Err(NnError::Checkpoint {
            path: String::new(),
            problem: format!("optimizer state '{name}' has {} values, the parameter has {len}", t.numel()),
        });
    }
    Ok(t.to_vec())
}

/// Scales all gradients together so that their joint L2 norm is at most `max_norm` (PyTorch's
/// `clip_grad_norm_`). Returns the norm before clipping.
pub fn clip_grad_norm(params: &[Tensor], max_norm: f64) -> f64 {
    let grads: Vec<Tensor> = params.iter().filter_map(|p| p.grad()).collect();
    let total: f64 =
        grads.iter().map(|g| g.with_contiguous(|s| s.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>())).sum();
    let norm = total.sqrt();
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        ftheta_core::no_grad(|| grads.iter().for_each(|g| g.update_(|d| d.iter_mut().for_each(|v| *v *= coef as f32))));
    }
    norm
}
