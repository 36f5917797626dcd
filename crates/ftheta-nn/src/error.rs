//! Errors from model specs, checkpoints and optimizer settings.

/// What can go wrong when a model or optimizer is built from user input, or a checkpoint loaded.
#[derive(Debug, thiserror::Error)]
pub enum NnError {
    /// A model spec such as `mlp:64,32:tanh` that cannot be parsed or built.
    #[error("model '{spec}': {problem}")]
    Spec {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A hyperparameter outside its valid range.
    #[error("{name} = {value}: {problem}")]
    Hyper {
        /// The setting's name (`learning rate`, `momentum`, …).
        name: &'static str,
        /// The value given.
        value: f64,
        /// Why it is invalid.
        problem: &'static str,
    },
    /// A checkpoint that cannot be read or does not fit the model.
    #[error("checkpoint {path}: {problem}")]
    Checkpoint {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
}
