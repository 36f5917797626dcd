//! One layer of a layer-list model: what it is ([`LayerSpec`]), what it does to the width of a row
//! and how many parameters it has (its plan), and the module it builds.
//!
//! A new kind of layer is one variant here, one arm in each `match` of this file (plan, build,
//! token) and one arm in the grammar's `layer` function (`grammar.rs`).

use crate::init::Init;
use crate::layers::{Activation, Linear};
use crate::module::Module;

/// One layer of a [`ModelSpec::Layers`](super::ModelSpec::Layers) list, as written in a spec.
///
/// Each layer is one module of the built model's `Sequential`, so its index names its parameters
/// as in the equivalent `torch.nn.Sequential` (`layers.0.weight`); an activation is a layer of its
/// own, as `torch.nn.ReLU` is.
// Eq because ModelSpec is Eq (public): a real-valued argument (dropout's P) must be stored so that it
// stays Eq, e.g. as its f64 bits behind a small type with a manual impl.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LayerSpec {
    /// `linear:N`: a dense layer `y = x·Wᵀ + b` of N units (`torch.nn.Linear`).
    Linear {
        /// The number of outputs N.
        units: usize,
    },
    /// An activation σ applied elementwise (`relu`, `tanh`, `sigmoid`, `gelu`, …).
    Activation(Activation),
}

impl LayerSpec {
    /// Whether the grammar puts a ReLU after this layer unless an activation token (or `none`)
    /// follows it: true for the layers with weights that issue 13 names (linear, and later conv).
    pub fn takes_activation(&self) -> bool {
        matches!(self, LayerSpec::Linear { .. })
    }

    /// The width of a row after this layer for `inputs` numbers per row, and its number of
    /// parameters; an error says why the layer does not fit its input.
    pub(crate) fn plan(&self, inputs: usize) -> Result<(usize, u128), String> {
        Ok(match self {
            LayerSpec::Linear { units } => (*units, inputs as u128 * *units as u128 + *units as u128),
            LayerSpec::Activation(_) => (inputs, 0),
        })
    }

    /// The module, with freshly initialized parameters (from the thread's seeded generator).
    pub(crate) fn build(&self, inputs: usize, init: Init) -> Box<dyn Module> {
        match self {
            LayerSpec::Linear { units } => Box::new(Linear::with_init(inputs, *units, init)),
            LayerSpec::Activation(a) => Box::new(*a),
        }
    }

    /// The layer as a token of a spec (`linear:32`, `tanh`).
    pub(crate) fn token(&self) -> String {
        match self {
            LayerSpec::Linear { units } => format!("linear:{units}"),
            LayerSpec::Activation(a) => a.name().to_string(),
        }
    }
}
