//! Causal self-attention (Vaswani et al. 2017), several heads, as in nanoGPT's
//! `CausalSelfAttention`: every position looks at itself and the positions before it, and takes a
//! weighted mean of what they offer.
//!
//! For an input `x` of `[B, T, C]`, one product gives a query, a key and a value for every position
//! (`c_attn`, `[3C, C]`), each split into H heads of D = C/H numbers. In each head
//!
//! ```text
//! A = softmax(Q·Kᵀ / √D + M)     M[i, j] = 0 for j ≤ i, −∞ for j > i (no look at the future)
//! Y = A·V
//! ```
//!
//! so row i of A says how much position i attends to each earlier position; the heads' outputs
//! are joined again and mixed by `c_proj` (`[C, C]`).

use ftheta_core::{Float, Tensor};

use crate::dropout::Dropout;
use crate::init::Init;
use crate::layers::Linear;
use crate::module::{join_name, Module};

/// `[T, T]`: 0 where position i may look at position j (j ≤ i), −∞ above the diagonal.
pub fn causal_mask<T: Float>(steps: usize) -> Tensor<T> {
    let data = (0..steps * steps).map(|k| if k % steps > k / steps { T::neg_infinity() } else { T::zero() }).collect();
    Tensor::from_data(data, &[steps, steps])
}

/// `[T, T]`: 1 where position j lies after position i (j > i), the entries `masked_fill` hides
/// (nanoGPT's `bias == 0`).
pub fn future_mask<T: Float>(steps: usize) -> Tensor<T> {
    let data = (0..steps * steps).map(|k| if k % steps > k / steps { T::one() } else { T::zero() }).collect();
    Tensor::from_data(data, &[steps, steps])
}

/// Scaled dot-product attention over the last two dimensions of `q`, `k`, `v` (`[…, T, D]`, any
/// leading dimensions such as `[B, H]`): the output `[…, T, D]` and the attention weights
/// `[…, T, T]` (each row sums to 1). `causal` hides the positions after each query. Generic over the
/// element type for the finite-difference checks.
pub fn scaled_dot_product_attention<T: Float>(
    q: &Tensor<T>,
    k: &Tensor<T>,
    v: &Tensor<T>,
    causal: bool,
) -> (Tensor<T>, Tensor<T>) {
    let nd = q.ndim();
    let (steps, d) = (q.shape()[nd - 2], q.shape()[nd - 1]);
    let mut scores = q.matmul(&k.transpose(-2, -1)).mul_scalar(1.0 / (d as f64).sqrt());
    if causal {
        scores = scores.masked_fill(&future_mask(steps), f64::NEG_INFINITY);
    }
    let weights = scores.softmax(-1);
    (weights.matmul(v), weights)
}

/// Splits `[B, T, 3C]` (queries, keys, values side by side) into three `[B, H, T, D]` tensors.
pub fn split_heads<T: Float>(qkv: &Tensor<T>, heads: usize) -> [Tensor<T>; 3] {
    let (b, t, c3) = (qkv.shape()[0], qkv.shape()[1], qkv.shape()[2]);
    let c = c3 / 3;
    let part = |i: usize| qkv.narrow(2, i * c, c).reshape(&[b, t, heads, c / heads]).transpose(1, 2);
    [part(0), part(1), part(2)]
}

/// Joins `[B, H, T, D]` heads back into `[B, T, H·D]`.
pub fn merge_heads<T: Float>(y: &Tensor<T>) -> Tensor<T> {
    let (b, h, t, d) = (y.shape()[0], y.shape()[1], y.shape()[2], y.shape()[3]);
    y.transpose(1, 2).reshape(&[b, t, h * d])
}

/// nanoGPT's `CausalSelfAttention`: parameters `c_attn` (`[3C, C]`, queries, keys and values) and
/// `c_proj` (`[C, C]`), with dropout on the attention weights and on the output while training.
pub struct CausalSelfAttention {
    /// `x → [q, k, v]`, `[3C, C]` with bias.
    pub c_attn: Linear,
    /// The joined heads' output projection, `[C, C]` with bias.
    pub c_proj: Linear,
    heads: usize,
    attn_dropout: Dropout,
    resid_dropout: Dropout,
}

impl CausalSelfAttention {
    /// Attention over `dim` numbers a position in `heads` heads, PyTorch's default `Linear`
    /// initialization, no dropout.
    ///
    /// # Panics
    /// When `heads` is 0 or does not divide `dim`.
    #[track_caller]
    pub fn new(dim: usize, heads: usize) -> Self {
        Self::with_init(dim, heads, 0.0, Init::PyTorch)
    }

    /// With dropout probability `dropout` (on the weights and the output) and an initialization.
    #[track_caller]
    pub fn with_init(dim: usize, heads: usize, dropout: f64, init: Init) -> Self {
        assert!(heads > 0 && dim % heads == 0, "CausalSelfAttention: {heads} heads do not divide dimension {dim}");
        CausalSelfAttention {
            c_attn: Linear::with_init(dim, 3 * dim, init),
            c_proj: Linear::with_init(dim, dim, init),
            heads,
            attn_dropout: Dropout::new(dropout),
            resid_dropout: Dropout::new(dropout),
        }
    }

    /// The number of heads H.
    pub fn heads(&self) -> usize {
        self.heads
    }

    /// The output `[B, T, C]` and the attention weights `[B, H, T, T]` (before dropout) of `x`.
    ///
    /// # Panics
    /// When `x` is not `[B, T, C]` with this layer's C.
    #[track_caller]
    pub fn forward_with_weights(&self, x: &Tensor) -> (Tensor, Tensor) {
        let c = self.c_proj.out_features();
        if x.ndim() != 3 || x.shape()[2] != c {
            panic!("CausalSelfAttention: the input must be [B, T, {c}], got shape {:?}", x.shape());
        }
        let [q, k, v] = split_heads(&self.c_attn.forward(x), self.heads);
        let (y, weights) = if self.attn_dropout.p() > 0.0 && self.attn_dropout.is_training() {
            let (_, w) = scaled_dot_product_attention(&q, &k, &v, true);
            (self.attn_dropout.forward(&w).matmul(&v), w)
        } else {
            scaled_dot_product_attention(&q, &k, &v, true)
        };
        (self.resid_dropout.forward(&self.c_proj.forward(&merge_heads(&y))), weights)
    }
}

impl Module for CausalSelfAttention {
    /// `x` is `[B, T, C]`; so is the result.
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_with_weights(x).0
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.c_attn.visit_parameters(&join_name(prefix, "c_attn"), f);
        self.c_proj.visit_parameters(&join_name(prefix, "c_proj"), f);
    }

    fn set_training(&self, training: bool) {
        self.attn_dropout.set_training(training);
        self.resid_dropout.set_training(training);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_never_attends_to_the_future() {
        ftheta_core::manual_seed(2);
        let a = CausalSelfAttention::new(8, 2);
        let x = Tensor::randn(&[3, 5, 8]);
        let (y, w) = a.forward_with_weights(&x);
        assert_eq!((y.shape(), w.shape()), (&[3, 5, 8][..], &[3, 2, 5, 5][..]));
        let wv = w.to_vec();
        for (r, row) in wv.chunks(5).enumerate() {
            let i = r % 5;
            assert!(row[i + 1..].iter().all(|&p| p == 0.0), "row {r} looks ahead: {row:?}");
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        // Changing the last position changes no earlier output.
        let x2 = Tensor::cat(&[x.narrow(1, 0, 4), Tensor::randn(&[3, 1, 8])], 1);
        let y2 = a.forward(&x2);
        assert_eq!(y.narrow(1, 0, 4).to_vec(), y2.narrow(1, 0, 4).to_vec());
        assert_ne!(y.narrow(1, 4, 1).to_vec(), y2.narrow(1, 4, 1).to_vec());
        let names: Vec<String> = a.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["c_attn.weight", "c_attn.bias", "c_proj.weight", "c_proj.bias"]);
    }

    #[test]
    #[should_panic(expected = "3 heads do not divide dimension 8")]
    fn heads_must_divide_the_dimension() {
        CausalSelfAttention::new(8, 3);
    }
}
