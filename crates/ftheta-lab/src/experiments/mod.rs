//! The experiments, one idea per file, each `run_<name>(cfg) -> Result<Section>`, and the line
//! problem that the landscape and learning-rate experiments share.

pub mod batch_size;
pub mod deep;
pub mod features;
pub mod graph;
pub mod landscape;
pub mod learning_rate;
pub mod next_token;
pub mod perceptron;
pub mod piecewise;

use anyhow::Result;
use serde_json::{json, Value};

use crate::data::{self, Deliveries};
use crate::linalg::eig_sym2;
use crate::LabConfig;

/// The lecture's start for gradient descent on the line: w = 1.0 minutes per mile, b = 15.0 minutes.
pub const START: (f64, f64) = (1.0, 15.0);

/// Delivery time against distance on the training rows, `y = w·x + b` with MSE loss, and the
/// moments that make the loss, its optimum and its Hessian exact in closed form.
pub struct LineProblem {
    /// Distance (miles), or its standardized value.
    pub x: Vec<f64>,
    /// Delivery time (minutes).
    pub y: Vec<f64>,
    mx: f64,
    mxx: f64,
    my: f64,
    myy: f64,
    mxy: f64,
}

impl LineProblem {
    /// The training rows (a seeded 1,000 of them in a quick run).
    pub fn load(cfg: &LabConfig) -> Result<LineProblem> {
        LineProblem::deliveries(cfg.seed, cfg.quick.then_some(1000))
    }

    /// The deliveries table's training rows of the split seeded by `seed`, or a seeded `subsample`
    /// of them.
    pub fn deliveries(seed: u64, subsample: Option<usize>) -> Result<LineProblem> {
        let d = Deliveries::load(seed)?;
        let rows = match subsample {
            Some(k) => data::subsample(&d.split.train, k, seed),
            None => d.split.train.clone(),
        };
        Ok(LineProblem::new(d.values("distance", &rows)?, d.target(&rows)))
    }

    /// The problem for these points.
    pub fn new(x: Vec<f64>, y: Vec<f64>) -> LineProblem {
        let n = x.len().max(1) as f64;
        let m = |f: &dyn Fn(usize) -> f64| (0..x.len()).map(f).sum::<f64>() / n;
        LineProblem {
            mx: m(&|i| x[i]),
            mxx: m(&|i| x[i] * x[i]),
            my: m(&|i| y[i]),
            myy: m(&|i| y[i] * y[i]),
            mxy: m(&|i| x[i] * y[i]),
            x,
            y,
        }
    }

    /// The same problem with x standardized to mean 0 and standard deviation 1.
    pub fn standardized(&self) -> (LineProblem, f64, f64) {
        let (mean, std) = data::mean_std(&self.x);
        (LineProblem::new(self.x.iter().map(|v| (v - mean) / std).collect(), self.y.clone()), mean, std)
    }

    /// L(w, b) = mean of (w·x + b − y)², from the moments (exact, no pass over the data).
    pub fn loss(&self, w: f64, b: f64) -> f64 {
        w * w * self.mxx + b * b + self.myy + 2.0 * w * b * self.mx - 2.0 * w * self.mxy - 2.0 * b * self.my
    }

    /// The least-squares optimum (w*, b*).
    pub fn optimum(&self) -> (f64, f64) {
        let w = (self.mxy - self.mx * self.my) / (self.mxx - self.mx * self.mx);
        (w, self.my - w * self.mx)
    }

    /// The Hessian H = (2/N)[x 1]ᵀ[x 1] as `(h_ww, h_wb, h_bb)` (constant: the loss is quadratic).
    pub fn hessian(&self) -> (f64, f64, f64) {
        (2.0 * self.mxx, 2.0 * self.mx, 2.0)
    }

    /// The Hessian's eigenvalues `(λ_max, λ_min)`.
    pub fn eigenvalues(&self) -> (f64, f64) {
        let (a, b, c) = self.hessian();
        eig_sym2(a, b, c)
    }

    /// The unit eigenvector of λ_max (the steep direction, where too large a step oscillates).
    pub fn steep_direction(&self) -> (f64, f64) {
        let (a, b, _) = self.hessian();
        let (l, _) = self.eigenvalues();
        // (H − λI)v = 0 → v ∝ (b, λ − a); b ≠ 0 whenever the mean distance is not 0.
        let (vx, vy) = if b.abs() > 1e-12 { (b, l - a) } else { (1.0, 0.0) };
        let n = (vx * vx + vy * vy).sqrt();
        (vx / n, vy / n)
    }

    /// L on a grid: `xs` (w) by `ys` (b), `z[j][i] = L(xs[i], ys[j])`.
    pub fn grid(&self, w: (f64, f64), b: (f64, f64), n: usize) -> (Vec<f64>, Vec<f64>, Vec<Vec<f64>>) {
        let lin =
            |(lo, hi): (f64, f64)| -> Vec<f64> { (0..n).map(|k| lo + (hi - lo) * k as f64 / (n - 1) as f64).collect() };
        let (ws, bs) = (lin(w), lin(b));
        let z = bs.iter().map(|&bb| ws.iter().map(|&ww| self.loss(ww, bb)).collect()).collect();
        (ws, bs, z)
    }

    /// Moments and closed-form answers, for results.json.
    pub fn describe(&self) -> Value {
        let (w, b) = self.optimum();
        let (l1, l2) = self.eigenvalues();
        json!({"n": self.x.len(), "w_star": w, "b_star": b, "loss_star": self.loss(w, b),
               "lambda_max": l1, "lambda_min": l2, "condition_number": l1 / l2, "stability_limit": 2.0 / l1})
    }
}

/// The grid point with the lowest loss: `(w, b, L)`.
pub fn grid_best(ws: &[f64], bs: &[f64], z: &[Vec<f64>]) -> (f64, f64, f64) {
    let mut best = (ws[0], bs[0], f64::INFINITY);
    for (j, row) in z.iter().enumerate() {
        for (i, &v) in row.iter().enumerate() {
            if v < best.2 {
                best = (ws[i], bs[j], v);
            }
        }
    }
    best
}

/// Rounds for display through the same formatter the figures use.
pub fn s(x: f64) -> String {
    crate::plot::sig(x, 4)
}

/// The learning rate the lecture calls good for the raw distance feature: below 1/λ_max, so
/// every step moves monotonically downhill, yet large enough to converge within a few thousand
/// updates.
pub const GOOD_RATE: f64 = 0.04;

/// A square box (equal units on both axes, so round valleys look round) centred on the
/// optimum, `factor` times as wide as the start's larger offset from it.
pub fn frame(start: (f64, f64), opt: (f64, f64), factor: f64) -> ((f64, f64), (f64, f64)) {
    let r = factor * (start.0 - opt.0).abs().max((start.1 - opt.1).abs()).max(1e-3);
    ((opt.0 - r, opt.0 + r), (opt.1 - r, opt.1 + r))
}
