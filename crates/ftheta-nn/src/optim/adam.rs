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

/// The constants of one Adam step.
#[derive(Clone, Copy)]
struct AdamStep {
    b1: f32,
    b2: f32,
    step: f32,
    inv_sqrt_bc2: f32,
    eps: f32,
    wd: f32,
    shrink: f32,
    decoupled: bool,
}

impl AdamStep {
    /// Updates `w`, `m` and `v` from `g` element by element. The two kinds of weight decay get
    /// separate loops without a branch inside, so that they vectorize (with AVX2 where the
    /// processor has it; Rust never fuses a multiply and an add, so the result is the same).
    #[inline(always)]
    fn kernel(&self, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        let AdamStep { b1, b2, step, inv_sqrt_bc2, eps, wd, shrink, decoupled } = *self;
        let n = w.len().min(g.len()).min(m.len()).min(v.len());
        let (w, g, m, v) = (&mut w[..n], &g[..n], &mut m[..n], &mut v[..n]);
        if decoupled {
            for i in 0..n {
                let wi = w[i] * shrink;
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                w[i] = wi - step * m[i] / (v[i].sqrt() * inv_sqrt_bc2 + eps);
            }
        } else {
            for i in 0..n {
                let gi = g[i] + wd * w[i];
                m[i] = b1 * m[i] + (1.0 - b1) * gi;
                v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
                w[i] -= step * m[i] / (v[i].sqrt() * inv_sqrt_bc2 + eps);
            }
        }
    }

    fn apply(&self, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx2")]
            unsafe fn wide(k: &AdamStep, w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
                k.kernel(w, g, m, v)
            }
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the feature was just detected.
                return unsafe { wide(self, w, g, m, v) };
            }
        }
        self.kernel(w, g, m, v)
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
        let k = AdamStep { b1, b2, step, inv_sqrt_bc2, eps, wd, shrink, decoupled: c.decoupled };
        no_grad(|| {
            for ((p, m), v) in self.params.iter().zip(&mut self.m).zip(&mut self.v) {
                let Some(g) = p.grad() else { continue };
                g.with_contiguous(|g| p.update_(|w| k.apply(w, g, m, v)));
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
