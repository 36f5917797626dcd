//! Seeded random numbers. Each thread owns a ChaCha8 generator (portable: the same seed gives the
//! same numbers on every platform and version), seeded with 0 until `manual_seed` is called, so a
//! program is repeatable by default.

use std::cell::RefCell;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

use crate::{Float, Tensor};

thread_local! {
    static RNG: RefCell<ChaCha8Rng> = RefCell::new(ChaCha8Rng::seed_from_u64(0));
}

/// Seeds this thread's generator, as PyTorch's `torch.manual_seed`.
pub fn manual_seed(seed: u64) {
    RNG.with(|r| *r.borrow_mut() = ChaCha8Rng::seed_from_u64(seed));
}

/// Runs `f` with this thread's generator (for shuffling and initialization elsewhere in ftheta).
pub fn with_rng<R>(f: impl FnOnce(&mut ChaCha8Rng) -> R) -> R {
    RNG.with(|r| f(&mut r.borrow_mut()))
}

pub(crate) fn rand_t<T: Float>(shape: &[usize]) -> Tensor<T> {
    let n = shape.iter().product();
    let data = with_rng(|r| (0..n).map(|_| T::from_f64(r.random::<f64>())).collect());
    Tensor::from_data(data, shape)
}

pub(crate) fn randn_t<T: Float>(shape: &[usize]) -> Tensor<T> {
    let n = shape.iter().product();
    let data = with_rng(|r| (0..n).map(|_| T::from_f64(r.sample::<f64, _>(StandardNormal))).collect());
    Tensor::from_data(data, shape)
}

impl<T: Float> Tensor<T> {
    /// Uniform samples in `[low, high)` with this tensor's element type and the given shape.
    pub fn uniform(shape: &[usize], low: f64, high: f64) -> Self {
        let n = shape.iter().product();
        let data = with_rng(|r| (0..n).map(|_| T::from_f64(low + (high - low) * r.random::<f64>())).collect());
        Tensor::from_data(data, shape)
    }

    /// Normal samples with the given mean and standard deviation.
    pub fn normal(shape: &[usize], mean: f64, std: f64) -> Self {
        let n = shape.iter().product();
        let data = with_rng(|r| (0..n).map(|_| T::from_f64(mean + std * r.sample::<f64, _>(StandardNormal))).collect());
        Tensor::from_data(data, shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers() {
        manual_seed(7);
        let a = Tensor::randn(&[5]).to_vec();
        manual_seed(7);
        let b = Tensor::randn(&[5]).to_vec();
        assert_eq!(a, b);
        let c = Tensor::randn(&[5]).to_vec();
        assert_ne!(a, c);
    }
}
