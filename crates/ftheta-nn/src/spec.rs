//! Model specs: the lecture's function families by name, parsed from strings such as
//! `linear`, `mlp:64,32:tanh`, `relu-sum:10` or `sigmoid-sum:3`.

use std::fmt;
use std::str::FromStr;

use ftheta_core::Tensor;

use crate::init::Init;
use crate::layers::{Activation, Linear};
use crate::module::{join_name, Module, Sequential};
use crate::NnError;

/// The largest model a spec may ask for, in parameters (4 GiB of `f32`); larger requests fail at
/// once with the size they would need instead of being killed by the kernel.
pub const MAX_PARAMETERS: usize = 1 << 30;

/// A family of functions f_θ, chosen by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSpec {
    /// `y = W·x + b`.
    Linear,
    /// A multi-layer perceptron with these hidden widths and one activation.
    Mlp {
        /// Widths of the hidden layers.
        hidden: Vec<usize>,
        /// The activation after each hidden layer.
        activation: Activation,
    },
    /// `y = b + Σᵢ cᵢ·max(0, wᵢ·x + bᵢ)`: a piecewise-linear curve of `units` ReLU pieces.
    ReluSum {
        /// The number of pieces H.
        units: usize,
    },
    /// `y = b + Σᵢ cᵢ·σ(wᵢ·x + bᵢ)`: a sum of `units` sigmoids.
    SigmoidSum {
        /// The number of sigmoids H.
        units: usize,
    },
    /// Rosenblatt's perceptron: a step of `W·x + b`, trained by the perceptron rule.
    Perceptron,
}

impl ModelSpec {
    /// The hidden widths and activation this spec builds (a perceptron is linear underneath).
    fn layout(&self) -> (Vec<usize>, Activation) {
        match self {
            ModelSpec::Linear | ModelSpec::Perceptron => (vec![], Activation::Identity),
            ModelSpec::Mlp { hidden, activation } => (hidden.clone(), *activation),
            ModelSpec::ReluSum { units } => (vec![*units], Activation::Relu),
            ModelSpec::SigmoidSum { units } => (vec![*units], Activation::Sigmoid),
        }
    }

    /// The number of parameters for `inputs` features and `outputs` outputs.
    pub fn num_parameters(&self, inputs: usize, outputs: usize) -> u128 {
        let (hidden, _) = self.layout();
        let mut widths = vec![inputs as u128];
        widths.extend(hidden.iter().map(|&h| h as u128));
        widths.push(outputs as u128);
        widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum()
    }

    /// Builds the model with freshly initialized parameters (from the thread's seeded generator).
    pub fn build(&self, inputs: usize, outputs: usize, init: Init) -> Result<Model, NnError> {
        let n = self.num_parameters(inputs, outputs);
        if n > MAX_PARAMETERS as u128 {
            return Err(NnError::Spec {
                spec: self.to_string(),
                problem: format!(
                    "{n} parameters would need {:.1} GiB for weights alone (limit {} parameters)",
                    n as f64 * 4.0 / (1u64 << 30) as f64,
                    MAX_PARAMETERS
                ),
            });
        }
        let (hidden, act) = self.layout();
        let mut layers = Sequential::new();
        let mut width = inputs;
        for &h in &hidden {
            layers.push(Box::new(Linear::with_init(width, h, init)));
            layers.push(Box::new(act));
            width = h;
        }
        layers.push(Box::new(Linear::with_init(width, outputs, init)));
        Ok(Model { spec: self.clone(), layers })
    }
}

impl fmt::Display for ModelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelSpec::Linear => write!(f, "linear"),
            ModelSpec::Perceptron => write!(f, "perceptron"),
            ModelSpec::ReluSum { units } => write!(f, "relu-sum:{units}"),
            ModelSpec::SigmoidSum { units } => write!(f, "sigmoid-sum:{units}"),
            ModelSpec::Mlp { hidden, activation } => {
                let h: Vec<String> = hidden.iter().map(|h| h.to_string()).collect();
                write!(f, "mlp:{}:{activation}", h.join(","))
            }
        }
    }
}

impl FromStr for ModelSpec {
    type Err = NnError;
    fn from_str(s: &str) -> Result<Self, NnError> {
        let err = |problem: String| NnError::Spec { spec: s.to_string(), problem };
        let width = |w: &str| -> Result<usize, NnError> {
            match w.trim().parse::<usize>() {
                Ok(0) => Err(err("a layer needs at least 1 unit, not 0".into())),
                Ok(n) => Ok(n),
                Err(_) => Err(err(format!("'{w}' is not a positive whole number of units"))),
            }
        };
        let mut parts = s.split(':');
        let kind = parts.next().unwrap_or("");
        let rest: Vec<&str> = parts.collect();
        let spec = match (kind, rest.as_slice()) {
            ("linear", []) => ModelSpec::Linear,
            ("perceptron", []) => ModelSpec::Perceptron,
            ("relu-sum", [h]) => ModelSpec::ReluSum { units: width(h)? },
            ("sigmoid-sum", [h]) => ModelSpec::SigmoidSum { units: width(h)? },
            ("mlp", [hs]) | ("mlp", [hs, _]) => {
                let hidden = hs.split(',').map(width).collect::<Result<Vec<_>, _>>()?;
                let activation = match rest.get(1) {
                    Some(a) => a.parse().map_err(err)?,
                    None => Activation::Relu,
                };
                ModelSpec::Mlp { hidden, activation }
            }
            _ => {
                return Err(err(
                    "expected linear, mlp:H1,H2[:relu|sigmoid|tanh], relu-sum:H, sigmoid-sum:H or perceptron".into(),
                ))
            }
        };
        Ok(spec)
    }
}

/// A model built from a [`ModelSpec`]: a chain of layers whose parameters are named
/// `layers.0.weight`, `layers.0.bias`, … as a `torch.nn` module with `self.layers = Sequential(…)`.
pub struct Model {
    /// The spec it was built from.
    pub spec: ModelSpec,
    /// The layers.
    pub layers: Sequential,
}

impl Module for Model {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.layers.forward(x)
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.layers.visit_parameters(&join_name(prefix, "layers"), f);
    }

    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.layers.visit_buffers(&join_name(prefix, "layers"), f);
    }

    fn set_training(&self, training: bool) {
        self.layers.set_training(training);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_and_reject_nonsense() {
        for s in ["linear", "mlp:64,32:relu", "mlp:8:tanh", "relu-sum:10", "sigmoid-sum:3", "perceptron"] {
            assert_eq!(s.parse::<ModelSpec>().unwrap().to_string(), s);
        }
        assert_eq!("mlp:4".parse::<ModelSpec>().unwrap().to_string(), "mlp:4:relu");
        let e = "mlp:0".parse::<ModelSpec>().unwrap_err().to_string();
        assert!(e.contains("mlp:0") && e.contains("at least 1 unit"), "{e}");
        let e = "mlp:64,x".parse::<ModelSpec>().unwrap_err().to_string();
        assert!(e.contains("'x'"), "{e}");
        assert!("mlp:4:swish".parse::<ModelSpec>().unwrap_err().to_string().contains("swish"));
        assert!("conv".parse::<ModelSpec>().is_err());
    }

    #[test]
    fn huge_models_fail_with_their_size() {
        let spec: ModelSpec = "mlp:1000000000000".parse().unwrap();
        let e = spec.build(784, 10, Init::PyTorch).err().unwrap().to_string();
        assert!(e.contains("GiB") && e.contains("parameters"), "{e}");
    }

    #[test]
    fn mlp_parameters_are_named_like_torch() {
        let m = "mlp:5,4".parse::<ModelSpec>().unwrap().build(3, 2, Init::PyTorch).unwrap();
        let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "layers.0.weight",
                "layers.0.bias",
                "layers.2.weight",
                "layers.2.bias",
                "layers.4.weight",
                "layers.4.bias"
            ]
        );
        assert_eq!(m.num_parameters(), 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2);
        assert_eq!(m.forward(&Tensor::ones(&[7, 3])).shape(), &[7, 2]);
    }
}
