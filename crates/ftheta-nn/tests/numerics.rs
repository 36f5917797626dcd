//! Numerical safety, as properties over random inputs: stable log-sum-exp, sigmoid and softmax at
//! extreme logits, non-negative cross-entropy, and a batch mean's gradient equal to the mean of
//! the per-sample gradients.

use ftheta_core::Tensor;
use ftheta_nn::loss::{bce_with_logits, cross_entropy, mse};
use proptest::prelude::*;

fn logits(rows: usize, cols: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(prop_oneof![-1e4f32..1e4, -30f32..30.0, Just(1e4f32), Just(-1e4f32)], rows * cols)
}

/// A `rows × cols` matrix of logits with its sizes.
fn matrix(
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
) -> impl Strategy<Value = (usize, usize, Vec<f32>)> {
    (rows, cols).prop_flat_map(|(r, c)| (Just(r), Just(c), logits(r, c)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn logsumexp_and_softmax_stay_finite_and_normalized((rows, cols, data) in matrix(1..5, 1..7)) {
        let x = Tensor::from_vec(data.clone(), &[rows, cols]);
        let lse = x.logsumexp(-1, false).to_vec();
        let p = x.softmax(-1);
        for r in 0..rows {
            let row = &data[r * cols..(r + 1) * cols];
            let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
            let exact = m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
            prop_assert!(lse[r].is_finite());
            prop_assert!((lse[r] as f64 - exact).abs() <= 1e-5 * exact.abs().max(1.0), "{} vs {exact}", lse[r]);
            let s: f32 = p.narrow(0, r, 1).sum().item();
            prop_assert!((s - 1.0).abs() < 1e-5, "row {r} sums to {s}");
        }
        prop_assert!(p.to_vec().iter().all(|v| v.is_finite() && *v >= 0.0));
    }

    #[test]
    fn sigmoid_is_finite_and_right_at_the_extremes(x in prop_oneof![-1e4f32..1e4, Just(1e4f32), Just(-1e4f32)]) {
        let s = Tensor::from_vec(vec![x], &[1]).sigmoid().item() as f64;
        let exact = 1.0 / (1.0 + (-(x as f64)).exp());
        prop_assert!(s.is_finite() && (0.0..=1.0).contains(&s));
        prop_assert!((s - exact).abs() <= 1e-6 * exact.max(1e-30) + 1e-38, "sigmoid({x}) = {s}, exact {exact}");
    }

    #[test]
    fn cross_entropy_is_never_negative((rows, cols, data) in matrix(1..6, 2..6), seed in any::<u64>()) {
        let x = Tensor::from_vec(data, &[rows, cols]);
        let y = Tensor::from_vec((0..rows).map(|i| ((i as u64 + seed) % cols as u64) as f32).collect(), &[rows]);
        let l = cross_entropy(&x, &y).item();
        prop_assert!(l.is_finite() && l >= 0.0, "cross-entropy {l}");
        let b = bce_with_logits(&x, &x.gt_scalar(0.0)).item();
        prop_assert!(b.is_finite() && b >= 0.0, "bce {b}");
    }

    #[test]
    fn batch_mean_gradient_is_the_mean_of_per_sample_gradients(
        n in 1usize..6,
        d in 1usize..4,
        xs in prop::collection::vec(-3f32..3.0, 24),
        ws in prop::collection::vec(-1f32..1.0, 3),
    ) {
        let x = Tensor::from_vec(xs[..n * d].to_vec(), &[n, d]);
        let t = Tensor::from_vec(xs[xs.len() - n..].to_vec(), &[n, 1]);
        let w = Tensor::from_vec(ws[..d].to_vec(), &[d, 1]).requires_grad();
        mse(&x.matmul(&w).tanh(), &t).backward();
        let batch = w.grad().unwrap().to_vec();
        let mut mean = vec![0.0f64; d];
        for i in 0..n {
            w.clear_grad();
            mse(&x.narrow(0, i, 1).matmul(&w).tanh(), &t.narrow(0, i, 1)).backward();
            for (m, g) in mean.iter_mut().zip(w.grad().unwrap().to_vec()) {
                *m += g as f64 / n as f64;
            }
        }
        for (b, m) in batch.iter().zip(&mean) {
            prop_assert!((*b as f64 - m).abs() <= 1e-5 * m.abs().max(1.0), "{b} vs {m}");
        }
    }
}
