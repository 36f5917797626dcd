//! `Flatten`: merges a range of dimensions into one, as PyTorch's `nn.Flatten` (by default every
//! dimension after the batch: `[N, C, H, W]` becomes `[N, C·H·W]`, where a convolutional network
//! hands over to dense layers). A reshape: no copy for contiguous inputs, no parameters.

use ftheta_core::Tensor;

use crate::module::Module;

/// Merges dimensions `start_dim..=end_dim` (negative counts from the end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flatten {
    /// The first dimension merged (PyTorch's default 1).
    pub start_dim: isize,
    /// The last dimension merged (default -1, the last).
    pub end_dim: isize,
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten { start_dim: 1, end_dim: -1 }
    }
}

impl Flatten {
    /// Flattens every dimension after the first.
    pub fn new() -> Self {
        Self::default()
    }

    /// Flattens dimensions `start_dim..=end_dim`.
    pub fn dims(start_dim: isize, end_dim: isize) -> Self {
        Flatten { start_dim, end_dim }
    }

    /// The shape an input of `shape` takes.
    ///
    /// # Panics
    /// When a dimension is out of range or `start_dim` comes after `end_dim`.
    #[track_caller]
    pub fn output_shape(&self, shape: &[usize]) -> Vec<usize> {
        let n = shape.len().max(1) as isize;
        let norm = |d: isize| if d < 0 { d + n } else { d };
        let (s, e) = (norm(self.start_dim), norm(self.end_dim));
        if s < 0 || e >= n || s > e {
            panic!(
                "flatten: dimensions {}..={} do not fit an input of shape {:?}",
                self.start_dim, self.end_dim, shape
            );
        }
        if shape.is_empty() {
            return vec![1];
        }
        let (s, e) = (s as usize, e as usize);
        let mut out = shape[..s].to_vec();
        out.push(shape[s..=e].iter().product());
        out.extend_from_slice(&shape[e + 1..]);
        out
    }
}

impl Module for Flatten {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        x.reshape(&self.output_shape(x.shape())[..])
    }

    fn visit_parameters(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Tensor)) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_the_dims_after_the_batch() {
        let x = Tensor::arange(0.0, 120.0, 1.0).reshape(&[2, 3, 4, 5][..]);
        let y = Flatten::new().forward(&x);
        assert_eq!(y.shape(), &[2, 60]);
        assert_eq!(y.to_vec(), x.to_vec());
        assert_eq!(Flatten::dims(1, 2).output_shape(&[2, 3, 4, 5]), [2, 12, 5]);
        assert_eq!(Flatten::dims(0, -1).output_shape(&[2, 3]), [6]);
        assert_eq!(Flatten::dims(-2, -1).output_shape(&[2, 3, 4]), [2, 12]);
    }

    #[test]
    #[should_panic(expected = "flatten: dimensions 3..=-1 do not fit an input of shape [2, 3]")]
    fn dimensions_out_of_range_are_named() {
        Flatten::dims(3, -1).forward(&Tensor::zeros(&[2, 3]));
    }
}
