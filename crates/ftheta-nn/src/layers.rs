//! Layers: `Linear` (a' = W·a + b) and the activations σ as modules.

use std::fmt;
use std::str::FromStr;

use ftheta_core::Tensor;

use crate::init::Init;
use crate::module::{join_name, Module};

/// A fully connected layer `y = x·Wᵀ + b`, with PyTorch's layout: `weight` is
/// `[out_features, in_features]`, `bias` is `[out_features]`.
pub struct Linear {
    /// `[out_features, in_features]`.
    pub weight: Tensor,
    /// `[out_features]`, or none for a layer without bias.
    pub bias: Option<Tensor>,
}

impl Linear {
    /// A layer with PyTorch's default initialization.
    pub fn new(in_features: usize, out_features: usize) -> Self {
        Self::with_init(in_features, out_features, Init::PyTorch)
    }

    /// A layer initialized by `init`.
    pub fn with_init(in_features: usize, out_features: usize, init: Init) -> Self {
        let (w, b) = init.linear(in_features, out_features);
        Linear { weight: w.requires_grad(), bias: Some(b.requires_grad()) }
    }

    /// A layer from given weight `[out, in]` and bias `[out]` (they become parameters).
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Self {
        Linear { weight: weight.requires_grad(), bias: bias.map(|b| b.requires_grad()) }
    }

    /// The number of inputs.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// The number of outputs.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Tensor {
        // One fused op (`x·Wᵀ + b` with its own backward) rather than matmul, transpose and add.
        x.linear(&self.weight, self.bias.as_ref())
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        f(&join_name(prefix, "weight"), &self.weight);
        if let Some(b) = &self.bias {
            f(&join_name(prefix, "bias"), b);
        }
    }
}

/// An activation function σ, applied elementwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Activation {
    /// `max(0, x)`.
    #[default]
    Relu,
    /// `1 / (1 + e⁻ˣ)`.
    Sigmoid,
    /// `tanh x`.
    Tanh,
    /// `clamp(x/6 + 1/2, 0, 1)`, PyTorch's `Hardsigmoid`.
    HardSigmoid,
    /// `ln(1 + eˣ)`.
    Softplus,
    /// `x·Φ(x)`.
    Gelu,
    /// The identity (a linear "activation").
    Identity,
}

impl Activation {
    /// Applies the function.
    pub fn apply(self, x: &Tensor) -> Tensor {
        match self {
            Activation::Relu => x.relu(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::Tanh => x.tanh(),
            Activation::HardSigmoid => x.hard_sigmoid(),
            Activation::Softplus => x.softplus(),
            Activation::Gelu => x.gelu(),
            Activation::Identity => x.clone(),
        }
    }

    /// The name used in model specs (`relu`, `sigmoid`, …).
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::HardSigmoid => "hard-sigmoid",
            Activation::Softplus => "softplus",
            Activation::Gelu => "gelu",
            Activation::Identity => "identity",
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "relu" => Activation::Relu,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "hard-sigmoid" | "hard_sigmoid" | "hardsigmoid" => Activation::HardSigmoid,
            "softplus" => Activation::Softplus,
            "gelu" => Activation::Gelu,
            "identity" | "linear" => Activation::Identity,
            other => {
                return Err(format!(
                "unknown activation '{other}' (expected relu, sigmoid, tanh, hard-sigmoid, softplus, gelu or identity)"
            ))
            }
        })
    }
}

impl Module for Activation {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.apply(x)
    }

    fn visit_parameters(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Tensor)) {}
}
