//! Stochastic gradient descent with momentum, Nesterov momentum and weight decay, with
//! PyTorch's update rule so that runs can be compared step for step.

use std::collections::HashMap;

use ftheta_core::{no_grad, Tensor};

use super::{check_hyper, take_state, Optimizer};
use crate::NnError;

/// Settings of [`Sgd`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdConfig {
    /// Learning rate η.
    pub lr: f64,
    /// Momentum μ (0 for plain gradient descent).
    pub momentum: f64,
    /// Dampening of the momentum's gradient term.
    pub dampening: f64,
    /// L2 penalty λ added to the gradient as `λ·θ`.
    pub weight_decay: f64,
    /// Nesterov's look-ahead momentum.
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig { lr: 0.01, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false }
    }
}

/// `θ ← θ − η·g`, where `g` is the gradient, or the momentum buffer `b ← μ·b + (1 − d)·g`.
pub struct Sgd {
    params: Vec<Tensor>,
    cfg: SgdConfig,
    buffers: Vec<Option<Vec<f32>>>,
}

impl Sgd {
    /// Plain gradient descent with learning rate `lr`.
    pub fn new(params: Vec<Tensor>, lr: f64) -> Result<Self, NnError> {
        Self::with_config(params, SgdConfig { lr, ..Default::default() })
    }

    /// SGD with all settings.
    pub fn with_config(params: Vec<Tensor>, cfg: SgdConfig) -> Result<Self, NnError> {
        check_hyper("learning rate", cfg.lr, 0.0, f64::INFINITY)?;
        check_hyper("momentum", cfg.momentum, 0.0, f64::INFINITY)?;
        check_hyper("dampening", cfg.dampening, 0.0, 1.0)?;
        check_hyper("weight decay", cfg.weight_decay, 0.0, f64::INFINITY)?;
        if cfg.nesterov && (cfg.momentum <= 0.0 || cfg.dampening != 0.0) {
            return Err(NnError::Hyper {
                name: "momentum",
                value: cfg.momentum,
                problem: "Nesterov needs momentum > 0 and no dampening",
            });
        }
        let buffers = vec![None; params.len()];
        Ok(Sgd { params, cfg, buffers })
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) {
        let c = self.cfg;
        let (lr, mu, wd, damp) = (c.lr as f32, c.momentum as f32, c.weight_decay as f32, c.dampening as f32);
        no_grad(|| {
            for (p, buf) in self.params.iter().zip(self.buffers.iter_mut()) {
                let Some(g) = p.grad() else { continue };
                g.with_contiguous(|g| {
                    p.update_(|w| {
                        if mu == 0.0 {
                            for (w, &g) in w.iter_mut().zip(g) {
                                *w -= lr * (g + wd * *w);
                            }
                            return;
                        }
                        // PyTorch starts the buffer at the first gradient itself, undamped.
                        let first = buf.is_none();
                        let b = buf.get_or_insert_with(|| vec![0.0; w.len()]);
                        for ((w, &g), b) in w.iter_mut().zip(g).zip(b.iter_mut()) {
                            let g = g + wd * *w;
                            *b = if first { g } else { mu * *b + (1.0 - damp) * g };
                            let d = if c.nesterov { g + mu * *b } else { *b };
                            *w -= lr * d;
                        }
                    })
                });
            }
        });
    }

    fn params(&self) -> &[Tensor] {
        &self.params
    }

    fn lr(&self) -> f64 {
        self.cfg.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        self.buffers
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                b.as_ref().map(|b| (format!("sgd.{i}.momentum_buffer"), Tensor::from_vec(b.clone(), &[b.len()])))
            })
            .collect()
    }

    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<(), NnError> {
        for (i, p) in self.params.iter().enumerate() {
            let name = format!("sgd.{i}.momentum_buffer");
            self.buffers[i] = if state.contains_key(&name) { Some(take_state(state, &name, p.numel())?) } else { None };
        }
        Ok(())
    }
}
