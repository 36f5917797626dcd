//! Learning-rate schedules: the rate as a function of the update number.

use std::f64::consts::PI;

/// How the learning rate changes over updates; `lr(base, t)` is the rate for update `t` (from 0).
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// The base rate throughout.
    Constant,
    /// Multiply by `gamma` every `every` updates (PyTorch's `StepLR`).
    Step {
        /// Updates between decays.
        every: usize,
        /// The factor applied at each decay.
        gamma: f64,
    },
    /// Cosine annealing from the base rate to `min_lr` over `total` updates (`CosineAnnealingLR`
    /// with `T_max = total`), then `min_lr`. PyTorch's equals it up to update `total` but after
    /// that rises again (period `2·T_max`); ftheta stays at `min_lr`.
    Cosine {
        /// Updates over which the rate falls.
        total: usize,
        /// The final rate.
        min_lr: f64,
    },
    /// A linear ramp from 0 over `warmup` updates, then `then`.
    Warmup {
        /// Updates of the ramp.
        warmup: usize,
        /// The schedule that follows (its update count starts after the ramp).
        then: Box<Schedule>,
    },
}

impl Schedule {
    /// The learning rate at update `t` for base rate `base`.
    pub fn lr(&self, base: f64, t: usize) -> f64 {
        match self {
            Schedule::Constant => base,
            Schedule::Step { every, gamma } => base * gamma.powi((t / (*every).max(1)) as i32),
            Schedule::Cosine { total, min_lr } => {
                let p = (t.min(*total) as f64) / (*total).max(1) as f64;
                min_lr + (base - min_lr) * 0.5 * (1.0 + (PI * p).cos())
            }
            Schedule::Warmup { warmup, then } => {
                if t < *warmup {
                    base * (t + 1) as f64 / *warmup as f64
                } else {
                    then.lr(base, t - warmup)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_their_formulas() {
        let s = Schedule::Step { every: 10, gamma: 0.5 };
        assert_eq!((s.lr(1.0, 9), s.lr(1.0, 10), s.lr(1.0, 25)), (1.0, 0.5, 0.25));
        let c = Schedule::Cosine { total: 100, min_lr: 0.0 };
        assert!((c.lr(1.0, 50) - 0.5).abs() < 1e-12 && c.lr(1.0, 100).abs() < 1e-12 && c.lr(1.0, 0) == 1.0);
        let w = Schedule::Warmup { warmup: 4, then: Box::new(Schedule::Constant) };
        assert_eq!((w.lr(1.0, 0), w.lr(1.0, 3), w.lr(1.0, 10)), (0.25, 1.0, 1.0));
    }
}
