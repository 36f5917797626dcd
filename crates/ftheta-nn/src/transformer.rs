//! A small GPT (Radford et al. 2018, as in Karpathy's nanoGPT): token and learned position
//! embeddings, pre-LayerNorm transformer blocks of causal self-attention and an MLP with
//! residual connections, and a final LayerNorm.
//!
//! ```text
//! x = wte[tokens] + wpe[0 … T−1]
//! for each block:  x = x + attn(ln_1(x))      (positions exchange information)
//!                  x = x + mlp(ln_2(x))       (each position on its own: C → 4C → GELU → C)
//! h = ln_f(x)
//! ```
//!
//! The residual stream `x` keeps every block's contribution added to its input, so gradients reach
//! the embeddings through the identity paths however deep the stack is; normalizing before each
//! sub-layer (rather than after, as in the 2017 paper) keeps the stream's scale free.

use ftheta_core::Tensor;

use crate::attention::CausalSelfAttention;
use crate::dropout::Dropout;
use crate::embedding::{indices, Embedding};
use crate::init::Init;
use crate::layernorm::LayerNorm;
use crate::layers::Linear;
use crate::module::{join_name, Module};

/// The sizes of a [`Transformer`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TransformerConfig {
    /// Tokens in the vocabulary.
    pub vocab: usize,
    /// The longest sequence (rows of the position embedding), nanoGPT's `block_size`.
    pub context: usize,
    /// Blocks.
    pub layers: usize,
    /// Attention heads per block.
    pub heads: usize,
    /// Numbers per position, C (nanoGPT's `n_embd`).
    pub dim: usize,
    /// Dropout probability after the embeddings, on the attention weights and after each
    /// sub-layer, while training.
    pub dropout: f64,
}

/// nanoGPT's `MLP`: `c_fc` (`[4C, C]`), GELU, `c_proj` (`[C, 4C]`), dropout.
pub struct FeedForward {
    /// `[4C, C]` with bias.
    pub c_fc: Linear,
    /// `[C, 4C]` with bias.
    pub c_proj: Linear,
    dropout: Dropout,
}

impl Module for FeedForward {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.dropout.forward(&self.c_proj.forward(&self.c_fc.forward(x).gelu()))
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.c_fc.visit_parameters(&join_name(prefix, "c_fc"), f);
        self.c_proj.visit_parameters(&join_name(prefix, "c_proj"), f);
    }

    fn set_training(&self, training: bool) {
        self.dropout.set_training(training);
    }
}

/// One pre-LayerNorm block: `x + attn(ln_1(x))`, then `+ mlp(ln_2(x))` (nanoGPT's `Block`).
pub struct Block {
    /// Before attention.
    pub ln_1: LayerNorm,
    /// Causal self-attention.
    pub attn: CausalSelfAttention,
    /// Before the MLP.
    pub ln_2: LayerNorm,
    /// The position-wise MLP.
    pub mlp: FeedForward,
}

impl Block {
    /// A block over `dim` numbers with `heads` heads, PyTorch's default initialization.
    pub fn new(dim: usize, heads: usize, dropout: f64) -> Self {
        Self::with_init(dim, heads, dropout, Init::PyTorch)
    }

    fn with_init(dim: usize, heads: usize, dropout: f64, init: Init) -> Self {
        Block {
            ln_1: LayerNorm::new(&[dim]),
            attn: CausalSelfAttention::with_init(dim, heads, dropout, init),
            ln_2: LayerNorm::new(&[dim]),
            mlp: FeedForward {
                c_fc: Linear::with_init(dim, 4 * dim, init),
                c_proj: Linear::with_init(4 * dim, dim, init),
                dropout: Dropout::new(dropout),
            },
        }
    }

    /// The block's output `[B, T, C]` and its attention weights `[B, H, T, T]`.
    #[track_caller]
    pub fn forward_with_weights(&self, x: &Tensor) -> (Tensor, Tensor) {
        let (a, w) = self.attn.forward_with_weights(&self.ln_1.forward(x));
        let x = x.add(&a);
        (x.add(&self.mlp.forward(&self.ln_2.forward(&x))), w)
    }
}

impl Module for Block {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_with_weights(x).0
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.ln_1.visit_parameters(&join_name(prefix, "ln_1"), f);
        self.attn.visit_parameters(&join_name(prefix, "attn"), f);
        self.ln_2.visit_parameters(&join_name(prefix, "ln_2"), f);
        self.mlp.visit_parameters(&join_name(prefix, "mlp"), f);
    }

    fn set_training(&self, training: bool) {
        self.attn.set_training(training);
        self.mlp.set_training(training);
    }
}

/// Token ids `[B, T]` to the final hidden states `[B, T, C]` (nanoGPT's `GPT.transformer`; the
/// output layer over the vocabulary is a separate [`Linear`], as for any classifier). Parameters are
/// named as nanoGPT's: `wte.weight`, `wpe.weight`, `h.0.ln_1.weight`, `h.0.attn.c_attn.weight`, …,
/// `ln_f.weight`.
pub struct Transformer {
    /// Token embedding, `[vocab, C]`.
    pub wte: Embedding,
    /// Learned position embedding, `[context, C]`: row t is added at position t.
    pub wpe: Embedding,
    /// The blocks.
    pub h: Vec<Block>,
    /// The final LayerNorm.
    pub ln_f: LayerNorm,
    drop: Dropout,
    config: TransformerConfig,
}

impl Transformer {
    /// A transformer with nanoGPT's initialization: every weight from N(0, 0.02) (the projections
    /// into the residual stream, `c_proj`, from N(0, 0.02/√(2·layers)), so the stream's variance does
    /// not grow with depth), biases 0, LayerNorms 1 and 0.
    ///
    /// # Panics
    /// When a size is 0 or `heads` does not divide `dim`.
    #[track_caller]
    pub fn new(config: TransformerConfig) -> Self {
        let c = config;
        assert!(
            c.vocab > 0 && c.context > 0 && c.layers > 0 && c.dim > 0,
            "Transformer: vocab, context, layers and dim must be at least 1: {c:?}"
        );
        let normal = |shape: &[usize], std: f64| Tensor::normal(shape, 0.0, std);
        let t = Transformer {
            wte: Embedding::from_tensor(normal(&[c.vocab, c.dim], 0.02)),
            wpe: Embedding::from_tensor(normal(&[c.context, c.dim], 0.02)),
            h: (0..c.layers).map(|_| Block::with_init(c.dim, c.heads, c.dropout, Init::PyTorch)).collect(),
            ln_f: LayerNorm::new(&[c.dim]),
            drop: Dropout::new(c.dropout),
            config: c,
        };
        let proj_std = 0.02 / ((2 * c.layers) as f64).sqrt();
        ftheta_core::no_grad(|| {
            for b in &t.h {
                for (l, std) in
                    [(&b.attn.c_attn, 0.02), (&b.attn.c_proj, proj_std), (&b.mlp.c_fc, 0.02), (&b.mlp.c_proj, proj_std)]
                {
                    l.weight.copy_(&normal(l.weight.shape(), std));
                    if let Some(bias) = &l.bias {
                        bias.fill_(0.0);
                    }
                }
            }
        });
        t
    }

    /// Its sizes.
    pub fn config(&self) -> &TransformerConfig {
        &self.config
    }

    /// The hidden states `[B, T, C]` of token ids `x` (`[B, T]`, whole numbers, T at most
    /// `context`) and every block's attention weights (`[B, H, T, T]` each).
    ///
    /// # Panics
    /// When `x` is not 2-D, longer than the context, or holds a value that is not a token id.
    #[track_caller]
    pub fn forward_with_weights(&self, x: &Tensor) -> (Tensor, Vec<Tensor>) {
        if x.ndim() != 2 || x.shape()[1] > self.config.context || x.shape()[1] == 0 {
            panic!(
                "Transformer: the input must be [B, T] token ids with 1 ≤ T ≤ {} (the context), got shape {:?}",
                self.config.context,
                x.shape()
            );
        }
        let steps = x.shape()[1];
        let ids = indices(x, self.config.vocab, "Transformer");
        let tok = self.wte.lookup(&ids, x.shape());
        let pos = self.wpe.weight.narrow(0, 0, steps);
        let mut h = self.drop.forward(&tok.add(&pos));
        let mut weights = Vec::with_capacity(self.h.len());
        for b in &self.h {
            let (y, w) = b.forward_with_weights(&h);
            h = y;
            weights.push(w);
        }
        (self.ln_f.forward(&h), weights)
    }
}

impl Module for Transformer {
    /// `x`: token ids `[B, T]`; the result: the final hidden states `[B, T, C]`.
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        self.forward_with_weights(x).0
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.wte.visit_parameters(&join_name(prefix, "wte"), f);
        self.wpe.visit_parameters(&join_name(prefix, "wpe"), f);
        for (i, b) in self.h.iter().enumerate() {
            b.visit_parameters(&join_name(prefix, &format!("h.{i}")), f);
        }
        self.ln_f.visit_parameters(&join_name(prefix, "ln_f"), f);
    }

    fn set_training(&self, training: bool) {
        self.drop.set_training(training);
        self.h.iter().for_each(|b| b.set_training(training));
    }
}

/// `[B, T, C]` to `[B, C]`: the last step of a sequence, what a model that predicts the next token
/// from a context reads out (`x[:, -1, :]`).
#[derive(Clone, Copy, Debug, Default)]
pub struct LastStep;

impl Module for LastStep {
    #[track_caller]
    fn forward(&self, x: &Tensor) -> Tensor {
        if x.ndim() != 3 || x.shape()[1] == 0 {
            panic!("LastStep: the input must be [B, T, C] with T ≥ 1, got shape {:?}", x.shape());
        }
        x.narrow(1, x.shape()[1] - 1, 1).squeeze(1)
    }

    fn visit_parameters(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Tensor)) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TransformerConfig {
        TransformerConfig { vocab: 7, context: 6, layers: 2, heads: 2, dim: 8, dropout: 0.0 }
    }

    #[test]
    fn parameters_are_named_like_nanogpt() {
        ftheta_core::manual_seed(1);
        let t = Transformer::new(config());
        let names: Vec<String> = t.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(&names[..4], ["wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.ln_1.bias"]);
        assert!(names.contains(&"h.1.attn.c_attn.weight".to_string()));
        assert!(names.contains(&"h.1.mlp.c_proj.bias".to_string()));
        assert_eq!(names.last().unwrap(), "ln_f.bias");
        let p = |n: &str| t.named_parameters().into_iter().find(|(k, _)| k == n).unwrap().1.to_vec();
        let std = |v: Vec<f32>| (v.iter().map(|x| (x * x) as f64).sum::<f64>() / v.len() as f64).sqrt();
        assert!((std(p("h.0.mlp.c_fc.weight")) - 0.02).abs() < 0.003);
        assert!((std(p("h.0.mlp.c_proj.weight")) - 0.01).abs() < 0.002, "0.02/√(2·2)");
        assert!(p("h.0.attn.c_attn.bias").iter().all(|&b| b == 0.0));
    }

    #[test]
    fn outputs_depend_only_on_the_past_and_too_long_inputs_are_refused() {
        ftheta_core::manual_seed(5);
        let t = Transformer::new(config());
        let x = Tensor::from_vec(vec![1., 2., 3., 4., 0., 6., 5., 4.], &[2, 4]);
        let (h, w) = t.forward_with_weights(&x);
        assert_eq!((h.shape(), w.len(), w[0].shape()), (&[2, 4, 8][..], 2, &[2, 2, 4, 4][..]));
        let x2 = Tensor::from_vec(vec![1., 2., 3., 5., 0., 6., 5., 1.], &[2, 4]);
        let h2 = t.forward(&x2);
        assert_eq!(h.narrow(1, 0, 3).to_vec(), h2.narrow(1, 0, 3).to_vec());
        assert_eq!(LastStep.forward(&h).to_vec(), h.narrow(1, 3, 1).to_vec());
        let too_long =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| t.forward(&Tensor::zeros(&[1, 7])))).unwrap_err();
        let msg = too_long.downcast_ref::<String>().unwrap();
        assert!(msg.contains("1 ≤ T ≤ 6") && msg.contains("[1, 7]"), "{msg}");
    }
}
