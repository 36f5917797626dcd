//! Model specs: the lecture's function families by name, parsed from strings such as
//! `linear`, `mlp:64,32:tanh`, `relu-sum:10` or `sigmoid-sum:3`, and lists of layers such as
//! `linear:64,tanh,linear:32` ([`LayerSpec`]). Every spec stands for a list of layers
//! ([`ModelSpec::layers`]), planned and built in one place, so the shorthands and the lists build
//! the same modules with the same parameter names.
//!
//! **Adding a layer kind** (the recipe): one variant of [`LayerSpec`] with its arms in `layer.rs`
//! (plan: output width and parameter count; build: the module; token: its text), one arm in the
//! grammar's `layer` function (`grammar.rs`, which also drops the kind from its list of kinds still
//! to come), and a round-trip case in its tests. The output layer for the data is appended by
//! [`ModelSpec::plan`].

mod grammar;
mod layer;

pub use grammar::GRAMMAR;
pub use layer::LayerSpec;

use ftheta_core::Tensor;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::init::Init;
use crate::layers::Activation;
use crate::module::{join_name, Module, Sequential};
use crate::NnError;

/// The largest model a spec may ask for, in parameters (4 GiB of `f32`); larger requests fail at
/// once with the size they would need instead of being killed by the kernel.
pub const MAX_PARAMETERS: usize = 1 << 30;

/// A family of functions f_θ, chosen by name. Its text form (`Display` and `FromStr`, also its
/// serde form, as in a run's `config.json`) is described in the grammar module's docs: see
/// [`GRAMMAR`].
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
    /// A list of layers (`linear:64,tanh,linear:32`), followed by the output layer for the data.
    Layers(Vec<LayerSpec>),
}

/// One layer of a planned model: the layer, the width of a row going in and coming out, and its
/// number of parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerPlan {
    /// The layer.
    pub layer: LayerSpec,
    /// Numbers per row going in.
    pub inputs: usize,
    /// Numbers per row coming out.
    pub outputs: usize,
    /// Parameters of the layer.
    pub parameters: u128,
}

impl ModelSpec {
    /// The layers this spec stands for, without the output layer: `mlp:32,16:tanh` is
    /// `linear:32,tanh,linear:16,tanh`, `linear` and `perceptron` have none.
    pub fn layers(&self) -> Vec<LayerSpec> {
        let dense = |hidden: &[usize], a: Activation| -> Vec<LayerSpec> {
            hidden.iter().flat_map(|&units| [LayerSpec::Linear { units }, LayerSpec::Activation(a)]).collect()
        };
        match self {
            ModelSpec::Linear | ModelSpec::Perceptron => vec![],
            ModelSpec::Mlp { hidden, activation } => dense(hidden, *activation),
            ModelSpec::ReluSum { units } => dense(&[*units], Activation::Relu),
            ModelSpec::SigmoidSum { units } => dense(&[*units], Activation::Sigmoid),
            ModelSpec::Layers(layers) => layers.clone(),
        }
    }

    /// Every layer the model for `inputs` features and `outputs` outputs will have, the output
    /// layer (`linear:outputs`, no activation) last, with widths and parameter counts; an error
    /// names the layer that does not fit its input.
    pub fn plan(&self, inputs: usize, outputs: usize) -> Result<Vec<LayerPlan>, NnError> {
        let mut width = inputs;
        let mut plan = Vec::new();
        for layer in self.layers().into_iter().chain([LayerSpec::Linear { units: outputs }]) {
            let (out, parameters) = layer.plan(width).map_err(|problem| NnError::Spec {
                spec: self.to_string(),
                problem: format!("'{}': {problem}", layer.token()),
            })?;
            plan.push(LayerPlan { layer, inputs: width, outputs: out, parameters });
            width = out;
        }
        Ok(plan)
    }

    /// The number of parameters for `inputs` features and `outputs` outputs (0 when the layers do
    /// not fit those sizes: [`ModelSpec::build`] then says why).
    pub fn num_parameters(&self, inputs: usize, outputs: usize) -> u128 {
        self.plan(inputs, outputs).map_or(0, |p| p.iter().map(|l| l.parameters).sum())
    }

    /// Builds the model with freshly initialized parameters (from the thread's seeded generator).
    pub fn build(&self, inputs: usize, outputs: usize, init: Init) -> Result<Model, NnError> {
        let plan = self.plan(inputs, outputs)?;
        let n: u128 = plan.iter().map(|l| l.parameters).sum();
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
        let mut layers = Sequential::new();
        for l in &plan {
            layers.push(l.layer.build(l.inputs, init));
        }
        Ok(Model { spec: self.clone(), layers })
    }
}

/// As its text (`"mlp:32,16:relu"`), the form `config.json` has always held.
impl Serialize for ModelSpec {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ModelSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
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

    #[test]
    fn a_shorthand_and_its_layer_list_build_the_same_model() {
        let build = |s: &str| {
            ftheta_core::manual_seed(3);
            s.parse::<ModelSpec>().unwrap().build(3, 2, Init::PyTorch).unwrap()
        };
        let (a, b) = (build("mlp:5,4:tanh"), build("linear:5,tanh,linear:4,tanh"));
        let values = |m: &Model| -> Vec<(String, Vec<f32>)> {
            m.named_parameters().into_iter().map(|(n, t)| (n, t.to_vec())).collect()
        };
        assert_eq!(values(&a), values(&b));
        let x = Tensor::from_vec((0..12).map(|i| i as f32 / 7.0).collect(), &[4, 3]);
        assert_eq!(a.forward(&x).to_vec(), b.forward(&x).to_vec());
        // Without activations the layers sit at consecutive indices, as in torch.nn.Sequential.
        let c = build("linear:5,none,linear:4,none");
        let names: Vec<String> = c.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[4], "layers.2.weight");
        assert_eq!(
            c.num_parameters() as u128,
            "linear:5,none,linear:4,none".parse::<ModelSpec>().unwrap().num_parameters(3, 2)
        );
    }

    #[test]
    fn specs_serialize_as_their_text() {
        for s in ["mlp:32,16:relu", "linear", "perceptron", "relu-sum:10", "linear:8,tanh,linear:4"] {
            let spec: ModelSpec = s.parse().unwrap();
            let json = serde_json::to_string(&spec).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<ModelSpec>(&json).unwrap(), spec);
        }
        let e = serde_json::from_str::<ModelSpec>("\"conv:3x3\"").unwrap_err().to_string();
        assert!(e.contains("conv:3x3") && e.contains("not built yet"), "{e}");
    }

    #[test]
    fn the_plan_lists_every_layer_with_its_widths() {
        let plan = "mlp:4".parse::<ModelSpec>().unwrap().plan(3, 2).unwrap();
        let widths: Vec<(usize, usize, u128)> = plan.iter().map(|l| (l.inputs, l.outputs, l.parameters)).collect();
        assert_eq!(widths, [(3, 4, 16), (4, 4, 0), (4, 2, 10)]);
    }
}
