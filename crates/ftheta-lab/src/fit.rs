//! Training loops shared by the experiments: gradient descent on the lecture's line
//! `y = w·x + b` ([`LineDescent`], which the dashboard's playground runs too, and [`gd_line`],
//! recording every step for paths on the loss landscape), and a mini-batch loop
//! for networks that records training and validation loss.

use ftheta_core::{no_grad, Tensor};
use ftheta_data::{DataLoader, Dataset, InMemoryDataset};
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
/// through ftheta's autograd ([`LineDescent`]). Stops early once the loss exceeds 10¹⁰ times its
/// start (or is not finite): the run has diverged and further numbers would only be infinities.
pub fn gd_line(x: &[f64], y: &[f64], start: (f64, f64), lr: f64, steps: usize) -> LinePath {
    let mut path =
        LinePath { params: Vec::with_capacity(steps + 1), loss: Vec::with_capacity(steps + 1), diverged: false };
    let Ok(mut descent) = LineDescent::new(x, y, start, lr, LineBatches::Full) else {
        // No rows: no loss to descend.
        path.params.push(start);
        path.loss.push(f64::NAN);
        return path;
    };
    for t in 0..=steps {
        path.params.push(descent.theta());
        let n = path.params.len();
        // θ stopped moving (the steps fall below f32 resolution): later updates change nothing.
        let last = t == steps || (n > 20 && path.params[n - 20..].iter().all(|&q| q == path.params[n - 1]));
        // The loss at θ before update t: the step's own forward pass, or (after the last) one more.
        let value = if last { descent.loss() } else { descent.step() };
        path.loss.push(value);
        if !value.is_finite() || value > 1e10 * path.loss[0] {
            path.diverged = true;
            break;
        }
        if last {
            break;
        }
    }
    path
}

/// Which rows each update of a [`LineDescent`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineBatches {
    /// Every row, every update (full-batch gradient descent).
    Full,
    /// `size` rows an update in file order: every epoch repeats the same sequence of batches.
    InOrder(usize),
    /// `size` rows an update, in an order drawn afresh each epoch by the data crate's seeded
    /// [`DataLoader`] (epoch `e`'s order depends only on `seed` and `e`, as in `ftheta train`).
    Shuffled {
        /// Rows a batch (the last batch of an epoch holds what is left).
        size: usize,
        /// Seeds every epoch's order.
        seed: u64,
    },
}

/// Gradient descent on the lecture's line `y = w·x + b` with MSE loss, one update at a time,
/// through ftheta's autograd: the one loop behind the lab's learning-rate, landscape and
/// batch-size experiments and the dashboard's playground, so the same start, rate, batch size
/// and seed walk the same path everywhere.
pub struct LineDescent {
    loader: DataLoader<InMemoryDataset>,
    /// Every row as `[n, 1]` tensors (the full batch, and the loss on it).
    all: (Tensor, Tensor),
    full_batch: bool,
    /// The current epoch's sample order and how far into it the updates are.
    order: Vec<usize>,
    pos: usize,
    w: Tensor,
    b: Tensor,
    lr: f64,
    updates: usize,
}

impl LineDescent {
    /// A descent over the points `(x, y)` from `start = (w, b)` with learning rate `lr`. Fails
    /// when `x` and `y` differ in length, or a batch size is 0.
    pub fn new(x: &[f64], y: &[f64], start: (f64, f64), lr: f64, batches: LineBatches) -> ftheta_data::Result<Self> {
        let f32s = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<_>>();
        let dataset = InMemoryDataset::new(f32s(x), 1, f32s(y), 1)?;
        if dataset.is_empty() {
            return Err(ftheta_data::DataError::Shape("gradient descent on the line needs at least one point".into()));
        }
        let all = dataset.tensors();
        let loader = match batches {
            LineBatches::Full => DataLoader::full_batch(dataset),
            LineBatches::InOrder(size) => DataLoader::new(dataset, size)?,
            LineBatches::Shuffled { size, seed } => DataLoader::new(dataset, size)?.shuffled(seed),
        };
        Ok(LineDescent {
            loader,
            all,
            full_batch: batches == LineBatches::Full,
            order: Vec::new(),
            pos: 0,
            w: Tensor::from_vec(vec![start.0 as f32], &[1, 1]).requires_grad(),
            b: Tensor::scalar(start.1 as f32).requires_grad(),
            lr,
            updates: 0,
        })
    }

    /// The current `(w, b)`.
    pub fn theta(&self) -> (f64, f64) {
        (self.w.item() as f64, self.b.item() as f64)
    }

    /// Updates made so far.
    pub fn updates(&self) -> usize {
        self.updates
    }

    /// Rows in a full batch.
    pub fn batch_size(&self) -> usize {
        self.loader.batch_size()
    }

    /// Batches in an epoch (a pass over every row).
    pub fn batches_per_epoch(&self) -> usize {
        self.loader.len()
    }

    /// One update θ ← θ − η·∂L_batch/∂θ on the next batch (a new epoch's order once the last one
    /// is used up). Returns the batch's MSE at θ before the update, computed in f32 by the forward
    /// pass the gradient comes from.
    pub fn step(&mut self) -> f64 {
        let (x, y) = if self.full_batch {
            self.all.clone()
        } else {
            if self.pos >= self.order.len() {
                self.order = self.loader.next_epoch().indices().to_vec();
                self.pos = 0;
            }
            let end = (self.pos + self.loader.batch_size()).min(self.order.len());
            let batch = self.loader.dataset().get_batch(&self.order[self.pos..end]);
            self.pos = end;
            batch
        };
        self.w.zero_grad();
        self.b.zero_grad();
        let l = loss::mse(&(x.matmul(&self.w) + &self.b), &y);
        let value = l.item() as f64;
        l.backward();
        // In place and outside the graph.
        no_grad(|| {
            self.w.add_scaled_(&self.w.grad().expect("w has a gradient"), -self.lr);
            self.b.add_scaled_(&self.b.grad().expect("b has a gradient"), -self.lr);
        });
        self.updates += 1;
        value
    }

    /// The MSE on every row at the current θ, in f32 through the same forward pass as a
    /// full-batch [`LineDescent::step`] (so it equals what the next full-batch step reports).
    pub fn loss(&self) -> f64 {
        no_grad(|| loss::mse(&(self.all.0.matmul(&self.w) + &self.b), &self.all.1).item() as f64)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn points() -> (Vec<f64>, Vec<f64>) {
        let x: Vec<f64> = (0..23).map(|i| (i as f64 * 0.37).sin() * 2.0).collect();
        let y = x.iter().enumerate().map(|(i, v)| 3.0 * v + 1.0 + (i as f64 * 1.7).cos()).collect();
        (x, y)
    }

    #[test]
    fn shuffled_descent_takes_the_seeded_loaders_batches() {
        let (x, y) = points();
        let (lr, seed, size) = (0.05, 9, 5);
        let mut d = LineDescent::new(&x, &y, (0.0, 0.0), lr, LineBatches::Shuffled { size, seed }).unwrap();
        assert_eq!(d.batches_per_epoch(), 5);
        // The same updates written out over the data crate's loader: three epochs, short last batches.
        let f32s = |v: &[f64]| v.iter().map(|&v| v as f32).collect::<Vec<_>>();
        let ds = InMemoryDataset::new(f32s(&x), 1, f32s(&y), 1).unwrap();
        let mut loader = DataLoader::new(ds, size).unwrap().shuffled(seed);
        let (mut w, mut b) = (0.0f32, 0.0f32);
        for _ in 0..3 {
            for (xb, yb) in loader.next_epoch() {
                let (xs, ys) = (xb.to_vec(), yb.to_vec());
                let n = xs.len() as f32;
                // ∂/∂w mean (w·x + b − y)² = 2·mean((w·x + b − y)·x); ∂/∂b = 2·mean(w·x + b − y).
                let r: Vec<f32> = xs.iter().zip(&ys).map(|(x, y)| w * x + b - y).collect();
                let gw = 2.0 * r.iter().zip(&xs).map(|(r, x)| r * x).sum::<f32>() / n;
                let gb = 2.0 * r.iter().sum::<f32>() / n;
                let before = d.theta();
                assert!((before.0 - w as f64).abs() < 1e-5 && (before.1 - b as f64).abs() < 1e-5);
                d.step();
                w -= lr as f32 * gw;
                b -= lr as f32 * gb;
            }
        }
        assert_eq!(d.updates(), 15);
        let (dw, db) = d.theta();
        assert!((dw - w as f64).abs() < 1e-5 && (db - b as f64).abs() < 1e-5, "{dw} {db} vs {w} {b}");
        // In file order the batches differ, and so does the end.
        let mut ordered = LineDescent::new(&x, &y, (0.0, 0.0), lr, LineBatches::InOrder(size)).unwrap();
        for _ in 0..15 {
            ordered.step();
        }
        assert!((ordered.theta().0 - dw).abs() > 1e-4, "{:?} vs {:?}", ordered.theta(), d.theta());
    }

    #[test]
    fn full_batch_steps_report_the_loss_before_the_update_and_descend() {
        let (x, y) = points();
        let mut d = LineDescent::new(&x, &y, (0.0, 0.0), 0.05, LineBatches::Full).unwrap();
        let before = d.loss();
        assert_eq!(d.step(), before);
        assert!(d.loss() < before);
        let path = gd_line(&x, &y, (0.0, 0.0), 0.05, 30);
        assert_eq!(path.params.len(), 31);
        assert_eq!(path.loss[0], before);
        assert!(path.loss.windows(2).all(|l| l[1] < l[0]));
        assert!(LineDescent::new(&[], &[], (0.0, 0.0), 0.1, LineBatches::Full).is_err());
        assert!(LineDescent::new(&x, &y, (0.0, 0.0), 0.1, LineBatches::InOrder(0)).is_err());
    }
}
