//! Layer normalization (Ba, Kiros and Hinton 2016): each sample is standardized over its last
//! dimensions (the `normalized_shape`), then scaled and shifted elementwise:
//!
//! ```text
//! μ = mean of x over the normalized dims    σ² = mean of (x − μ)² (biased)
//! y = (x − μ) / √(σ² + ε) · γ + β            γ, β of shape normalized_shape
//! ```
//!
//! as PyTorch's `LayerNorm` (ε = 1e-5, `weight` starting at 1, `bias` at 0). Unlike batch
//! normalization it behaves the same in training and evaluation and keeps no running state.

use ftheta_core::Tensor;

use crate::module::{join_name, Module};

/// Normalizes over the trailing `normalized_shape` dimensions of its input.
pub struct LayerNorm {
    /// γ, of shape `normalized_shape`, or none without an elementwise affine map.
    pub weight: Option<Tensor>,
    /// β, of shape `normalized_shape`, or none.
    pub bias: Option<Tensor>,
    normalized_shape: Vec<usize>,
    eps: f64,
}

impl LayerNorm {
    /// Normalization over the trailing dimensions `normalized_shape` (for a transformer, `&[d_model]`),
    /// with PyTorch's defaults: ε = 1e-5, learned weight and bias.
    pub fn new(normalized_shape: &[usize]) -> Self {
        Self::with_options(normalized_shape, 1e-5, true, true)
    }

    /// PyTorch's `LayerNorm(normalized_shape, eps, elementwise_affine, bias)`.
    pub fn with_options(normalized_shape: &[usize], eps: f64, elementwise_affine: bool, bias: bool) -> Self {
        LayerNorm {
            weight: elementwise_affine.then(|| Tensor::ones(normalized_shape).requires_grad()),
            bias: (elementwise_affine && bias).then(|| Tensor::zeros(normalized_shape).requires_grad()),
            normalized_shape: normalized_shape.to_vec(),
            eps,
        }
    }

    /// The trailing dimensions normalized over.
    pub fn normalized_shape(&self) -> &[usize] {
        &self.normalized_shape
    }

    /// ε.
    pub fn eps(&self) -> f64 {
        self.eps
    }
}

impl Module for LayerNorm {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let k = self.normalized_shape.len();
        if x.ndim() < k || x.shape()[x.ndim() - k..] != self.normalized_shape[..] {
            panic!(
                "LayerNorm: the input's last dimensions must be normalized_shape {:?}, got shape {:?}",
                self.normalized_shape,
                x.shape()
            );
        }
        let dims: Vec<isize> = (1..=k as isize).map(|d| -d).collect();
        let centered = x.sub(&x.mean_dims(&dims, true));
        let var = centered.pow(2.0).mean_dims(&dims, true);
        let mut y = centered.mul(&var.add_scalar(self.eps).pow(-0.5));
        if let Some(w) = &self.weight {
            y = y.mul(w);
        }
        if let Some(b) = &self.bias {
            y = y.add(b);
        }
        y
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        if let Some(w) = &self.weight {
            f(&join_name(prefix, "weight"), w);
        }
        if let Some(b) = &self.bias {
            f(&join_name(prefix, "bias"), b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_is_standardized_over_the_last_dims() {
        ftheta_core::manual_seed(4);
        let ln = LayerNorm::new(&[3, 4]);
        let x = Tensor::randn(&[5, 3, 4]).mul_scalar(3.0).add_scalar(2.0);
        let y = ln.forward(&x);
        let m = y.mean_dims(&[1, 2], false).to_vec();
        let v = y.var_dims(&[1, 2], false, false).to_vec();
        for i in 0..5 {
            assert!(m[i].abs() < 1e-5 && (v[i] - 1.0).abs() < 1e-3, "row {i}");
        }
        let names: Vec<String> = ln.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight", "bias"]);
        assert_eq!(LayerNorm::with_options(&[4], 1e-5, false, true).num_parameters(), 0);
        assert_eq!(LayerNorm::with_options(&[4], 1e-5, true, false).num_parameters(), 4);
    }

    #[test]
    #[should_panic(expected = "LayerNorm: the input's last dimensions must be normalized_shape [4], got shape [2, 5]")]
    fn a_wrong_shape_names_both() {
        LayerNorm::new(&[4]).forward(&Tensor::zeros(&[2, 5]));
    }
}
