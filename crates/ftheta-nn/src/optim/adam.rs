//! Adam and AdamW, with PyTorch's update rule.

use std::collections::HashMap;

use ftheta_core::{no_grad, Tensor};

use super::{check_hyper, take_state, Optimizer};
use crate::NnError;

/// Settings of [`Adam`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    /// Learning rate η.
    pub lr: f64,
    /// Decay of the first moment, β₁.
    pub beta1: f64,
    /// Decay of the second moment, β₂.
    pub beta2: f64,
    /// Added to the denominator for stability, ε.
    pub eps: f64,
    /// Weight decay λ: added to the gradient (Adam) or applied to θ directly (AdamW).
    pub weight_decay: f64,
    /// Decoupled weight decay (AdamW): `θ ← θ·(1 − η·λ)` before the Adam step.
    pub decoupled: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false }
    }
}

/// Adam: `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`,
/// `θ ← θ − η·m̂ / (√v̂ + ε)` with bias-corrected `m̂ = m/(1−β₁ᵗ)`, `v̂ = v/(1−β₂ᵗ)`.
pub struct Adam {
    params: Vec<Tensor>,
    cfg: AdamConfig,
    m: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    t: u64,
}

impl Adam {
    /// Adam with learning rate `lr` and PyTorch's other defaults.
    pub fn new(params: Vec<Tensor>, lr: f64) -> Result<Self, NnError> {
        Self::with_config(params, AdamConfig { lr, ..Default::default() })
    }

    /// AdamW (decoupled weight decay, PyTorch's default λ = 0.01).
    pub fn adamw(params: Vec<Tensor>, lr: f64) -> Result<Self, NnError> {
        Self::with_config(params, AdamConfig { lr, weight_decay: 0.01, decoupled: true, ..Default::default() })
    }

    /// Adam with all settings.
    pub fn with_config(params: Vec<Tensor>, cfg: AdamConfig) -> Result<Self, NnError> {
        check_hyper("learning rate", cfg.lr, 0.0, f64::INFINITY)?;
        check_hyper("beta1", cfg.beta1, 0.0, 1.0)?;
        check_hyper("beta2", cfg.beta2, 0.0, 1.0)?;
        check_hyper("eps", cfg.eps, 0.0, f64::INFINITY)?;
        check_hyper("weight decay", cfg.weight_decay, 0.0, f64::INFINITY)?;
        let m = params.iter().map(|p| vec![0.0; p.numel()]).collect();
        let v = params.iter().map(|p| vec![0.0; p.numel()]).collect();
        Ok(Adam { params, cfg, m, v, t: 0 })
    }

    /// The number of steps taken.
    pub fn steps(&self) -> u64 {
        self.t
    }
}

impl Optimizer for Adam {
    fn step(&mut self) {
        self.t += 1;
        let c = self.cfg;
        let (b1, b2) = (c.beta1 as f32, c.beta2 as f32);
        let bc1 = 1.0 - c.beta1.powi(self.t as i32);
        let bc2 = 1.0 - c.beta2.powi(self.t as i32);
        // PyTorch's arrangement: θ ← θ − (η/bc1)·m / (√v/√bc2 + ε).
        let step = (c.lr / bc1) as f32;
        let inv_sqrt_bc2 = (1.0 / bc2.sqrt()) as f32;
        let eps = c.eps as f32;
        let wd = c.weight_decay as f32;
        let shrink = (1.0 - c.lr * c.weight_decay) as f32;
        no_grad(|| {
            for ((p, m), v) in self.params.iter().zip(&mut self.m).zip(&mut self.v) {
                let Some(g) = p.grad() else { continue };
                g.with_contiguous(|g| {
                    p.update_(|w| {
                        for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                            let g = if c.decoupled {
                                *w *= shrink;
                                g
                            } else {
                                g + wd * *w
                            };
                            *m = b1 * *m + (1.0 - b1) * g;
                            *v = b2 * *v + (1.0 - b2) * g * g;
                            *w -= step * *m / (v.sqrt() * inv_sqrt_bc2 + eps);
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
        let mut out = vec![("adam.step".to_string(), Tensor::scalar(self.t as f32))];
        for (i, (m, v)) in self.m.iter().zip(&self.v).enumerate() {
            out.push((format!("adam.{i}.exp_avg"), Tensor::from_vec(m.clone(), &[m.len()])));
            out.push((format!("adam.{i}.exp_avg_sq"), Tensor::from_vec(v.clone(), &[v.len()])));
        }
        out
    }

    fn load_state(&mut self, state: &HashMap<String, Tensor>) -> Result<(), NnError> {
        let t = take_state(state, "adam.step", 1)?[0];
        for (i, p) in self.params.iter().enumerate() {
            self.m[i] = take_state(state, &format!("adam.{i}.exp_avg"), p.numel())?;
            self.v[i] = take_state(state, &format!("adam.{i}.exp_avg_sq"), p.numel())?;
        }
        self.t = t as u64;
        Ok(())
    }
}
