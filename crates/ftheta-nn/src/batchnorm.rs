//! Batch normalization (Ioffe and Szegedy 2015): each channel is standardized with its mean and
//! variance over the batch (and the spatial positions), then scaled by γ and shifted by β.
//!
//! ```text
//! training:   μ_c = mean of x[:, c, …]     σ²_c = mean of (x[:, c, …] − μ_c)²   (biased)
//!             y = (x − μ_c) / √(σ²_c + ε) · γ_c + β_c
//!             running_mean ← (1 − m)·running_mean + m·μ_c
//!             running_var  ← (1 − m)·running_var  + m·σ²_c·n/(n − 1)            (unbiased)
//! evaluation: y = (x − running_mean_c) / √(running_var_c + ε) · γ_c + β_c
//! ```
//!
//! as PyTorch's `BatchNorm1d` / `BatchNorm2d`, with its defaults (ε = 1e-5, momentum m = 0.1, or
//! the cumulative average 1/num_batches_tracked when the momentum is `None`) and its state-dict
//! names (`weight`, `bias`, `running_mean`, `running_var`, `num_batches_tracked`). Composed of
//! tensor ops whose chain rules are proven, so the gradient flows through μ and σ² too.

use std::cell::Cell;

use ftheta_core::Tensor;

use crate::module::{join_name, Module};

/// The settings of a batch normalization layer, PyTorch's keyword arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    /// Added to the variance before the square root: ε.
    pub eps: f64,
    /// The weight m of the newest batch in the running statistics; `None` for their cumulative
    /// average over every batch so far.
    pub momentum: Option<f64>,
    /// Learn a scale γ (`weight`, starting at 1) and a shift β (`bias`, starting at 0).
    pub affine: bool,
    /// Keep running statistics for evaluation; without them the batch's statistics are used in
    /// both modes and the layer has no buffers.
    pub track_running_stats: bool,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig { eps: 1e-5, momentum: Some(0.1), affine: true, track_running_stats: true }
    }
}

/// Batch normalization over the channels (dimension 1) of `D`-dimensional feature maps; use the
/// aliases [`BatchNorm1d`] (inputs `[N, C]` or `[N, C, L]`) and [`BatchNorm2d`] (`[N, C, H, W]`).
pub struct BatchNorm<const D: usize> {
    /// γ, `[C]`, or none without `affine`.
    pub weight: Option<Tensor>,
    /// β, `[C]`, or none without `affine`.
    pub bias: Option<Tensor>,
    /// The running mean, `[C]` (a buffer), or none without `track_running_stats`.
    pub running_mean: Option<Tensor>,
    /// The running (unbiased) variance, `[C]` (a buffer).
    pub running_var: Option<Tensor>,
    /// The number of training batches seen, a scalar (a buffer; PyTorch's is an `int64`).
    pub num_batches_tracked: Option<Tensor>,
    num_features: usize,
    config: BatchNormConfig,
    training: Cell<bool>,
}

/// Batch normalization of `[N, C]` features or `[N, C, L]` sequences, PyTorch's `BatchNorm1d`.
pub type BatchNorm1d = BatchNorm<1>;
/// Batch normalization of `[N, C, H, W]` images, PyTorch's `BatchNorm2d`.
pub type BatchNorm2d = BatchNorm<2>;

impl<const D: usize> BatchNorm<D> {
    /// A layer for `num_features` channels with PyTorch's defaults, in training mode.
    pub fn new(num_features: usize) -> Self {
        Self::with_config(num_features, BatchNormConfig::default())
    }

    /// A layer with the given settings.
    pub fn with_config(num_features: usize, config: BatchNormConfig) -> Self {
        let c = [num_features];
        let (weight, bias) = if config.affine {
            (Some(Tensor::ones(&c).requires_grad()), Some(Tensor::zeros(&c).requires_grad()))
        } else {
            (None, None)
        };
        let track = config.track_running_stats;
        BatchNorm {
            weight,
            bias,
            running_mean: track.then(|| Tensor::zeros(&c)),
            running_var: track.then(|| Tensor::ones(&c)),
            num_batches_tracked: track.then(|| Tensor::scalar(0.0)),
            num_features,
            config,
            training: Cell::new(true),
        }
    }

    /// The number of channels C.
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// The settings.
    pub fn config(&self) -> BatchNormConfig {
        self.config
    }

    /// Whether the layer normalizes with the batch's statistics (training) or the running ones.
    pub fn is_training(&self) -> bool {
        self.training.get()
    }

    /// The shape a `[C]` vector takes to broadcast over an input of `ndim` dimensions.
    fn channel_shape(&self, ndim: usize) -> Vec<usize> {
        let mut s = vec![1; ndim];
        s[1] = self.num_features;
        s
    }

    #[track_caller]
    fn check(&self, x: &Tensor) {
        let ok_rank = if D == 1 { matches!(x.ndim(), 2 | 3) } else { x.ndim() == D + 2 };
        let name = if D == 1 { "BatchNorm1d" } else { "BatchNorm2d" };
        let want = if D == 1 { "[N, C] or [N, C, L]" } else { "[N, C, H, W]" };
        if !ok_rank || x.shape()[1] != self.num_features {
            panic!("{name}: expected input {want} with C = {}, got shape {:?}", self.num_features, x.shape());
        }
    }

    /// Folds the batch's statistics into the running ones (under `no_grad`).
    fn track(&self, mean: &Tensor, var: &Tensor, n: usize) {
        let (Some(rm), Some(rv), Some(count)) = (&self.running_mean, &self.running_var, &self.num_batches_tracked)
        else {
            return;
        };
        // One value per channel gives no variance estimate (PyTorch refuses to train on it); the
        // running statistics are then left as they are.
        if n < 2 {
            return;
        }
        ftheta_core::no_grad(|| {
            let batches = count.item() as f64 + 1.0;
            count.fill_(batches);
            let m = self.config.momentum.unwrap_or(1.0 / batches);
            let c = [self.num_features];
            let unbiased = var.reshape(&c[..]).mul_scalar(n as f64 / (n - 1) as f64);
            rm.copy_(&rm.mul_scalar(1.0 - m).add(&mean.reshape(&c[..]).mul_scalar(m)));
            rv.copy_(&rv.mul_scalar(1.0 - m).add(&unbiased.mul_scalar(m)));
        });
    }
}

impl<const D: usize> Module for BatchNorm<D> {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        self.check(x);
        let shape = self.channel_shape(x.ndim());
        let use_batch = self.training.get() || self.running_mean.is_none();
        let normalized = if use_batch {
            let dims: Vec<isize> = (0..x.ndim() as isize).filter(|&d| d != 1).collect();
            let mean = x.mean_dims(&dims, true);
            let centered = x.sub(&mean);
            let var = centered.pow(2.0).mean_dims(&dims, true);
            if self.training.get() {
                self.track(&mean.detach(), &var.detach(), x.numel() / self.num_features.max(1));
            }
            centered.mul(&var.add_scalar(self.config.eps).pow(-0.5))
        } else {
            let rm = self.running_mean.as_ref().expect("tracked").reshape(&shape[..]);
            let rv = self.running_var.as_ref().expect("tracked").reshape(&shape[..]);
            x.sub(&rm).mul(&rv.add_scalar(self.config.eps).pow(-0.5))
        };
        match (&self.weight, &self.bias) {
            (Some(w), Some(b)) => normalized.mul(&w.reshape(&shape[..])).add(&b.reshape(&shape[..])),
            _ => normalized,
        }
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        if let (Some(w), Some(b)) = (&self.weight, &self.bias) {
            f(&join_name(prefix, "weight"), w);
            f(&join_name(prefix, "bias"), b);
        }
    }

    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        if let (Some(rm), Some(rv), Some(n)) = (&self.running_mean, &self.running_var, &self.num_batches_tracked) {
            f(&join_name(prefix, "running_mean"), rm);
            f(&join_name(prefix, "running_var"), rv);
            f(&join_name(prefix, "num_batches_tracked"), n);
        }
    }

    fn set_training(&self, training: bool) {
        self.training.set(training);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_standardizes_each_channel_and_tracks_the_statistics() {
        ftheta_core::manual_seed(2);
        let bn = BatchNorm2d::new(3);
        let x = Tensor::randn(&[4, 3, 5, 5]).mul_scalar(2.0).add_scalar(1.0);
        let y = bn.forward(&x);
        let m = y.mean_dims(&[0, 2, 3], false).to_vec();
        let v = y.var_dims(&[0, 2, 3], false, false).to_vec();
        for c in 0..3 {
            assert!(m[c].abs() < 1e-5 && (v[c] - 1.0).abs() < 1e-3, "channel {c}: mean {} var {}", m[c], v[c]);
        }
        let mean = x.mean_dims(&[0, 2, 3], false).to_vec();
        let var = x.var_dims(&[0, 2, 3], true, false).to_vec();
        let rm = bn.running_mean.as_ref().unwrap().to_vec();
        let rv = bn.running_var.as_ref().unwrap().to_vec();
        for c in 0..3 {
            assert!((rm[c] - 0.1 * mean[c]).abs() < 1e-6, "running mean {c}");
            assert!((rv[c] - (0.9 + 0.1 * var[c])).abs() < 1e-5, "running var {c}");
        }
        assert_eq!(bn.num_batches_tracked.as_ref().unwrap().item(), 1.0);
        let names: Vec<String> = bn.state_dict().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
        assert_eq!(bn.num_parameters(), 6, "buffers are not parameters");
    }

    #[test]
    fn evaluation_uses_the_running_statistics_and_changes_nothing() {
        let bn = BatchNorm1d::new(2);
        bn.running_mean.as_ref().unwrap().copy_(&Tensor::from_vec(vec![1.0, -2.0], &[2]));
        bn.running_var.as_ref().unwrap().copy_(&Tensor::from_vec(vec![4.0, 0.25], &[2]));
        bn.eval();
        let x = Tensor::from_vec(vec![3.0, -1.0, 1.0, -2.0], &[2, 2]);
        let y = bn.forward(&x).to_vec();
        let want = [2.0 / (4.0f32 + 1e-5).sqrt(), 1.0 / (0.25f32 + 1e-5).sqrt(), 0.0, 0.0];
        for (g, w) in y.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{y:?}");
        }
        assert_eq!(bn.num_batches_tracked.as_ref().unwrap().item(), 0.0);
        assert_eq!(bn.running_mean.as_ref().unwrap().to_vec(), vec![1.0, -2.0]);
    }

    #[test]
    fn momentum_none_is_the_cumulative_average() {
        let bn = BatchNorm1d::with_config(1, BatchNormConfig { momentum: None, ..Default::default() });
        for batch in [[1.0, 3.0], [5.0, 7.0]] {
            bn.forward(&Tensor::from_vec(batch.to_vec(), &[2, 1]));
        }
        assert_eq!(bn.running_mean.as_ref().unwrap().to_vec(), vec![4.0], "mean of 2 and 6");
        let plain = BatchNorm1d::with_config(
            2,
            BatchNormConfig { affine: false, track_running_stats: false, ..Default::default() },
        );
        assert!(plain.state_dict().is_empty());
        plain.eval();
        let y = plain.forward(&Tensor::from_vec(vec![1.0, 0.0, 3.0, 0.0], &[2, 2])).to_vec();
        assert!((y[0] + 1.0).abs() < 1e-4 && (y[2] - 1.0).abs() < 1e-4, "batch statistics in eval too: {y:?}");
    }

    #[test]
    #[should_panic(expected = "BatchNorm2d: expected input [N, C, H, W] with C = 3, got shape [2, 4, 5, 5]")]
    fn a_wrong_channel_count_names_both_shapes() {
        BatchNorm2d::new(3).forward(&Tensor::zeros(&[2, 4, 5, 5]));
    }
}
