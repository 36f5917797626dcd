//! The `Module` trait: a function family with named parameters, and `Sequential` to chain them.

use std::path::Path;

use ftheta_core::Tensor;

use crate::{Checkpoint, NnError};

/// A model or a piece of one: a function `forward` with parameters θ.
///
/// Parameter names follow PyTorch's `state_dict` keys (`layers.0.weight`), so a checkpoint maps
/// one-to-one onto the equivalent `torch.nn` model.
pub trait Module {
    /// Computes the output for a batch `x`.
    fn forward(&self, x: &Tensor) -> Tensor;

    /// Calls `f` with each parameter and its full name (`prefix` followed by the local name).
    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor));

    /// Calls `f` with each buffer and its full name: state that is saved with the model but is not
    /// trained, such as batch normalization's `running_mean`, `running_var` and
    /// `num_batches_tracked` (PyTorch's `named_buffers`). A module that holds other modules passes
    /// the call on to each of them, as it does for `visit_parameters`.
    fn visit_buffers(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Tensor)) {}

    /// Switches between training and evaluation behaviour (dropout drops only while training;
    /// batch normalization uses the batch's statistics while training and its running statistics
    /// in evaluation). It takes `&self`, as PyTorch's `model.eval()` needs no exclusive access: the
    /// modules that care keep their mode in a `Cell`. A module that holds other modules passes the
    /// call on to each of them.
    fn set_training(&self, _training: bool) {}

    /// Training mode, as PyTorch's `model.train()` (every module starts in it).
    fn train(&self) {
        self.set_training(true);
    }

    /// Evaluation mode, as PyTorch's `model.eval()`.
    fn eval(&self) {
        self.set_training(false);
    }

    /// The parameters with their names, in a stable order.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        self.visit_parameters("", &mut |n, t| out.push((n.to_string(), t.clone())));
        out
    }

    /// The parameters, in the order of `named_parameters`.
    fn parameters(&self) -> Vec<Tensor> {
        let mut out = Vec::new();
        self.visit_parameters("", &mut |_, t| out.push(t.clone()));
        out
    }

    /// The buffers with their names, in a stable order.
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        self.visit_buffers("", &mut |n, t| out.push((n.to_string(), t.clone())));
        out
    }

    /// Everything a checkpoint holds: the parameters, then the buffers, under PyTorch's
    /// `state_dict` names.
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        let mut out = self.named_parameters();
        out.extend(self.named_buffers());
        out
    }

    /// The number of scalar parameters.
    fn num_parameters(&self) -> usize {
        let mut n = 0;
        self.visit_parameters("", &mut |_, t| n += t.numel());
        n
    }

    /// Stops (or restarts) gradient updates of every parameter.
    fn set_frozen(&self, frozen: bool) {
        self.visit_parameters("", &mut |_, t| t.set_requires_grad(!frozen));
    }

    /// Sets every parameter's gradient to zero.
    fn zero_grad(&self) {
        self.visit_parameters("", &mut |_, t| t.zero_grad());
    }

    /// Writes the parameters and buffers to a safetensors file under their `state_dict` names, atomically
    /// (a crash leaves the old file or the new one). PyTorch reads it with
    /// `model.load_state_dict(safetensors.torch.load_file(path))`. For metadata (the model's spec,
    /// a standardizer), build a [`Checkpoint`] with `Checkpoint::from_module` and `with_meta`.
    fn save_weights(&self, path: impl AsRef<Path>) -> Result<(), NnError>
    where
        Self: Sized,
    {
        Checkpoint::from_module(self).save(path)
    }

    /// Loads the parameters from a file written by [`Module::save_weights`] (or by PyTorch's
    /// `safetensors.torch.save_file(model.state_dict(), path)`). Every parameter must be in the file
    /// with its shape and nothing else; otherwise nothing changes and the error names the file and
    /// lists each difference.
    fn load_weights(&self, path: impl AsRef<Path>) -> Result<(), NnError>
    where
        Self: Sized,
    {
        let path = path.as_ref();
        Checkpoint::load(path)?.load_into(self, path)
    }
}

/// Joins a prefix and a local name with a dot, as PyTorch's state-dict keys.
pub fn join_name(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Modules applied one after another; child `i` names its parameters `i.weight`, `i.bias`, as
/// `torch.nn.Sequential` does.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a module (builder style).
    // A builder step, not `+`: chaining modules is no addition.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, m: impl Module + 'static) -> Self {
        self.layers.push(Box::new(m));
        self
    }

    /// Appends a boxed module.
    pub fn push(&mut self, m: Box<dyn Module>) {
        self.layers.push(m);
    }

    /// The number of modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the chain is empty (then `forward` is the identity).
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The modules in order.
    pub fn layers(&self) -> &[Box<dyn Module>] {
        &self.layers
    }

    /// The module at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&dyn Module> {
        self.layers.get(index).map(|m| m.as_ref())
    }
}

impl From<Vec<Box<dyn Module>>> for Sequential {
    fn from(layers: Vec<Box<dyn Module>>) -> Self {
        Sequential { layers }
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut h = x.clone();
        for l in &self.layers {
            h = l.forward(&h);
        }
        h
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        for (i, l) in self.layers.iter().enumerate() {
            l.visit_parameters(&join_name(prefix, &i.to_string()), f);
        }
    }

    fn visit_buffers(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        for (i, l) in self.layers.iter().enumerate() {
            l.visit_buffers(&join_name(prefix, &i.to_string()), f);
        }
    }

    fn set_training(&self, training: bool) {
        self.layers.iter().for_each(|l| l.set_training(training));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BatchNorm1d, Dropout, Linear};

    #[test]
    fn eval_through_a_shared_reference_reaches_every_layer_and_buffers_are_named() {
        ftheta_core::manual_seed(1);
        let net = Sequential::new().add(Linear::new(3, 4)).add(BatchNorm1d::new(4)).add(Dropout::new(0.5));
        let shared: &dyn Module = &net;
        let x = Tensor::randn(&[8, 3]);
        shared.eval();
        let a = net.forward(&x).to_vec();
        assert_eq!(a, net.forward(&x).to_vec(), "no dropout, no batch statistics in evaluation");
        shared.train();
        assert_ne!(a, net.forward(&x).to_vec());
        let names: Vec<String> = net.state_dict().into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var", "1.num_batches_tracked"]
        );
        assert_eq!(net.num_parameters(), 3 * 4 + 4 + 4 + 4);
        assert_eq!(net.named_buffers().len(), 3);
    }
}
