//! `Embedding`: a table of learned vectors, one row per token, looked up by index.
//!
//! Multiplying a one-hot row by a matrix picks one of its rows, so `one_hot(t) · W` is row `t` of
//! `W`. The lookup computes that without the multiplications by zero: `index_select` on the rows.
//! Its backward adds each output row's gradient into the row it came from, so a token that occurs
//! several times in a batch gets the sum of their gradients (PyTorch's `EmbeddingBackward`).

use ftheta_core::Tensor;

use crate::module::{join_name, Module};

/// PyTorch's `torch.nn.Embedding`: `weight` is `[num_embeddings, embedding_dim]`, initialized from
/// N(0, 1) as PyTorch does.
pub struct Embedding {
    /// `[num_embeddings, embedding_dim]`: row `t` is token `t`'s vector.
    pub weight: Tensor,
}

impl Embedding {
    /// A table of `num_embeddings` vectors of `embedding_dim` numbers each, from N(0, 1).
    pub fn new(num_embeddings: usize, embedding_dim: usize) -> Self {
        Embedding { weight: Tensor::randn(&[num_embeddings, embedding_dim]).requires_grad() }
    }

    /// A table from a given `[num_embeddings, embedding_dim]` weight (it becomes a parameter).
    ///
    /// # Panics
    /// When `weight` is not 2-D.
    #[track_caller]
    pub fn from_tensor(weight: Tensor) -> Self {
        assert_eq!(
            weight.ndim(),
            2,
            "Embedding: the weight must be [num_embeddings, embedding_dim], got shape {:?}",
            weight.shape()
        );
        Embedding { weight: weight.requires_grad() }
    }

    /// The number of rows (tokens).
    pub fn num_embeddings(&self) -> usize {
        self.weight.shape()[0]
    }

    /// The length of each vector.
    pub fn embedding_dim(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The vectors of `ids` (row-major, `shape` holding `ids.len()` elements in all): a tensor of
    /// `shape` followed by `embedding_dim`.
    ///
    /// # Panics
    /// When an id is not below `num_embeddings` or `shape` does not hold `ids.len()` elements.
    #[track_caller]
    pub fn lookup(&self, ids: &[usize], shape: &[usize]) -> Tensor {
        if shape.iter().product::<usize>() != ids.len() {
            panic!("Embedding: {} ids do not fill shape {shape:?}", ids.len());
        }
        let mut out: Vec<usize> = shape.to_vec();
        out.push(self.embedding_dim());
        self.weight.index_select(0, ids).reshape(&out)
    }
}

/// The whole numbers in `x` as indices below `n` (`what` names the caller in the panic message).
///
/// # Panics
/// When a value is negative, not whole, or not below `n`: ids come from the program's own
/// tokenizer, so a bad one is a bug, reported with the offending value and the input's shape.
#[track_caller]
pub fn indices(x: &Tensor, n: usize, what: &str) -> Vec<usize> {
    x.with_contiguous(|v| {
        v.iter()
            .map(|&f| {
                if !(f >= 0.0 && f.fract() == 0.0 && (f as usize) < n) {
                    panic!("{what}: {f} is not a token id below {n} (input shape {:?})", x.shape());
                }
                f as usize
            })
            .collect()
    })
}

impl Module for Embedding {
    /// `x`: token ids of any shape, as whole numbers in an `f32` tensor (as cross-entropy takes its
    /// classes); the result has `x`'s shape followed by `embedding_dim`.
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        let ids = indices(x, self.num_embeddings(), "Embedding");
        self.lookup(&ids, x.shape())
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        f(&join_name(prefix, "weight"), &self.weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lookup_is_the_one_hot_product_and_repeated_ids_add_their_gradients() {
        ftheta_core::manual_seed(3);
        let e = Embedding::new(5, 3);
        let ids = Tensor::from_vec(vec![4.0, 1.0, 4.0, 0.0, 4.0, 2.0], &[2, 3]);
        let y = e.forward(&ids);
        assert_eq!(y.shape(), &[2, 3, 3]);
        let mut onehot = vec![0.0; 6 * 5];
        for (i, &t) in [4, 1, 4, 0, 4, 2].iter().enumerate() {
            onehot[i * 5 + t] = 1.0;
        }
        let want = Tensor::from_vec(onehot, &[6, 5]).matmul(&e.weight.detach());
        assert_eq!(y.reshape(&[6, 3]).to_vec(), want.to_vec());
        // d(Σ y·c)/dW: row t gets c times the number of times t was looked up.
        let c = Tensor::from_vec((0..18).map(|i| i as f32).collect(), &[2, 3, 3]);
        y.mul(&c).sum().backward();
        let g = e.weight.grad().unwrap().to_vec();
        // Token 4 sits at positions 0, 2, 4: gradient rows 0, 2, 4 of c added.
        let row = |p: usize| -> Vec<f32> { (0..3).map(|j| (p * 3 + j) as f32).collect() };
        let sum4: Vec<f32> = (0..3).map(|j| row(0)[j] + row(2)[j] + row(4)[j]).collect();
        assert_eq!(&g[12..15], &sum4[..]);
        assert_eq!(&g[3..6], &row(1)[..]);
        assert_eq!(&g[9..12], &[0.0, 0.0, 0.0], "token 3 was never looked up");
        assert_eq!(e.named_parameters()[0].0, "weight");
    }

    #[test]
    #[should_panic(expected = "Embedding: 5 is not a token id below 5")]
    fn an_id_out_of_range_names_itself() {
        Embedding::new(5, 2).forward(&Tensor::from_vec(vec![1.0, 5.0], &[2]));
    }
}
