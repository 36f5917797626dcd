//! Training loops shared by the experiments: gradient descent on the lecture's line
//! `y = w·x + b` (recording every step, for paths on the loss landscape), and a mini-batch loop
//! for networks that records training and validation loss.

use ftheta_core::{no_grad, Tensor};
use ftheta_nn::optim::Optimizer;
use ftheta_nn::{loss, Module};

/// `[n, 1]` tensor from f64 values.
pub fn column(values: &[f64]) -> Tensor {
    Tensor::from_vec(values.iter().map(|&v| v as f32).collect(), &[values.len(), 1])
}

/// `[n, d]` tensor from row-major f64 values.
pub fn matrix(values: &[f64], d: usize) -> Tensor {
    Tensor::from_vec(values.iter().map(|&v| v as f32).collect(), &[values.len() / d.max(1), d])
}

/// A gradient-descent run on `y = w·x + b`: θ and the loss before each update.
#[derive(Clone, Debug)]
pub struct LinePath {
    /// `(w, b)` before update `t` (index 0 is the start).
    pub params: Vec<(f64, f64)>,
    /// MSE at `params[t]`.
    pub loss: Vec<f64>,
    /// Whether the run stopped because the loss blew up.
    pub diverged: bool,
}

impl LinePath {
    /// The loss after `t` updates. A run that stopped early because θ no longer changed (in f32)
    /// keeps its last loss; a diverged run is infinite from where it stopped.
    pub fn loss_at(&self, t: usize) -> f64 {
        match self.loss.get(t) {
            Some(&l) => l,
            None if self.diverged => f64::INFINITY,
            None => *self.loss.last().unwrap_or(&f64::NAN),
        }
    }
}

/// Runs `steps` full-batch gradient-descent updates with learning rate `lr` from `(w0, b0)`,
/// through ftheta's autograd. Stops early once the loss exceeds 10¹⁰ times its start (or is not
/// finite): the run has diverged and further numbers would only be infinities.
pub fn gd_line(x: &[f64], y: &[f64], start: (f64, f64), lr: f64, steps: usize) -> LinePath {
    let (xt, yt) = (column(x), column(y));
    let w = Tensor::from_vec(vec![start.0 as f32], &[1, 1]).requires_grad();
    let b = Tensor::scalar(start.1 as f32).requires_grad();
    let mut path =
        LinePath { params: Vec::with_capacity(steps + 1), loss: Vec::with_capacity(steps + 1), diverged: false };
    for t in 0..=steps {
        w.zero_grad();
        b.zero_grad();
        let l = loss::mse(&(xt.matmul(&w) + &b), &yt);
        let value = l.item() as f64;
        path.params.push((w.item() as f64, b.item() as f64));
        path.loss.push(value);
        if !value.is_finite() || value > 1e10 * path.loss[0] {
            path.diverged = true;
            break;
        }
        // θ stopped moving (the steps fall below f32 resolution): later updates change nothing.
        let n = path.params.len();
        if t == steps || (n > 20 && path.params[n - 20..].iter().all(|&q| q == path.params[n - 1])) {
            break;
        }
        l.backward();
        // θ ← θ − η·∂L/∂θ, in place and outside the graph.
        no_grad(|| {
            w.add_scaled_(&w.grad().expect("w has a gradient"), -lr);
            b.add_scaled_(&b.grad().expect("b has a gradient"), -lr);
        });
    }
    path
}

/// Indices `0..n` thinned to about `max` of them, dense at the start and log-spaced after, so a
/// curve over 10,000 updates keeps its early shape without 10,000 vertices.
pub fn thin(n: usize, max: usize) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    let mut out: Vec<usize> = (0..max / 4).collect();
    let (lo, hi) = (((max / 4) as f64).ln(), ((n - 1) as f64).ln());
    let rest = max - max / 4;
    for k in 0..=rest {
        let i = (lo + (hi - lo) * k as f64 / rest as f64).exp().round() as usize;
        if out.last().map_or(true, |&l| i > l) {
            out.push(i.min(n - 1));
        }
    }
    out
}

/// MSE of `model` on `(x, y)` without building a graph.
pub fn eval_mse(model: &dyn Module, x: &Tensor, y: &Tensor) -> f64 {
    no_grad(|| loss::mse(&model.forward(x), y).item() as f64)
}

/// Training and validation loss after each epoch.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Training MSE after each epoch (index 0: before training).
    pub train: Vec<f64>,
    /// Validation MSE after each epoch.
    pub validation: Vec<f64>,
    /// Updates done in all.
    pub updates: usize,
}

/// Trains `model` for `epochs` passes over `(x, y)` in shuffled mini-batches of `batch` rows
/// (`rng_seed` fixes the order), recording the loss on both sets after each epoch.
#[allow(clippy::too_many_arguments)]
pub fn train_epochs(
    model: &dyn Module,
    opt: &mut dyn Optimizer,
    (x, y): (&Tensor, &Tensor),
    (xv, yv): (&Tensor, &Tensor),
    epochs: usize,
    batch: usize,
    rng_seed: u64,
) -> anyhow::Result<History> {
    let n = x.shape()[0];
    let dataset = ftheta_data::InMemoryDataset::from_tensors(x, y)?;
    let mut loader = ftheta_data::DataLoader::new(dataset, batch.min(n).max(1))?.shuffled(rng_seed);
    let mut h = History { train: vec![eval_mse(model, x, y)], validation: vec![eval_mse(model, xv, yv)], updates: 0 };
    for _ in 0..epochs {
        for (xb, yb) in loader.next_epoch() {
            opt.zero_grad();
            loss::mse(&model.forward(&xb), &yb).backward();
            opt.step();
            h.updates += 1;
        }
        h.train.push(eval_mse(model, x, y));
        h.validation.push(eval_mse(model, xv, yv));
    }
    Ok(h)
}

/// Trains `model` full-batch for `steps` updates, returning the final training MSE.
pub fn train_full_batch(model: &dyn Module, opt: &mut dyn Optimizer, x: &Tensor, y: &Tensor, steps: usize) -> f64 {
    for _ in 0..steps {
        opt.zero_grad();
        loss::mse(&model.forward(x), y).backward();
        opt.step();
    }
    eval_mse(model, x, y)
}
