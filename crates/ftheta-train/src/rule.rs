//! How the trainer moves a model's parameters on one batch. [`Gradient`], the default, descends
//! the configured loss with the configured optimizer; a model trained without gradients brings
//! its own [`Rule`] (Rosenblatt's perceptron: [`crate::perceptron::PerceptronRule`]). The trainer
//! itself knows no model: it draws the batches, counts updates, evaluates and checkpoints.

use ftheta_data::{Dataset, InMemoryDataset, Targets};
use ftheta_nn::{clip_grad_norm, Loss, Module, Optimizer};

use crate::metrics::loss_target;
use crate::trainer::TrainConfig;
use crate::TrainError;

/// One batch handed to [`Rule::step`].
pub struct Batch<'a> {
    /// The model being trained.
    pub model: &'a dyn Module,
    /// The training part.
    pub train: &'a InMemoryDataset,
    /// The rows of `train` in this batch, in order.
    pub rows: &'a [usize],
    /// The training settings (learning rate, loss, clipping).
    pub config: &'a TrainConfig,
    /// The update this batch makes (1-based), for a [`TrainError::Diverged`].
    pub update: u64,
}

/// A way of training: checks the data once, then makes one update per batch.
pub trait Rule {
    /// Called at the start of [`crate::Trainer::fit`] with a training part that has rows: refuses
    /// data the rule cannot learn from and keeps what it needs from it.
    fn start(&mut self, train: &InMemoryDataset, config: &TrainConfig) -> Result<(), TrainError>;

    /// One update of the model's parameters on `batch`; returns the batch's loss (what
    /// [`crate::Observer::on_update`] reports). A loss that is not finite is a
    /// [`TrainError::Diverged`], returned before the parameters move.
    fn step(&mut self, batch: Batch<'_>, optimizer: &mut dyn Optimizer) -> Result<f64, TrainError>;

    /// The loss evaluations score with; `None` scores the fraction of rows misclassified.
    fn scoring_loss(&self, config: &TrainConfig) -> Option<Loss> {
        Some(config.loss)
    }
}

/// Gradient descent: the loss of the batch, back-propagated, the gradients clipped when asked,
/// one optimizer step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gradient;

impl Rule for Gradient {
    fn start(&mut self, train: &InMemoryDataset, config: &TrainConfig) -> Result<(), TrainError> {
        let classes = matches!(train.targets(), Targets::Classes(_));
        if classes != config.loss.is_classification() {
            return Err(TrainError::Config(format!(
                "loss {} needs {} targets, the data has {}",
                config.loss,
                if config.loss.is_classification() { "class" } else { "numeric" },
                if classes { "classes" } else { "numbers" }
            )));
        }
        Ok(())
    }

    fn step(&mut self, batch: Batch<'_>, optimizer: &mut dyn Optimizer) -> Result<f64, TrainError> {
        let cfg = batch.config;
        let (x, y) = batch.train.get_batch(batch.rows);
        optimizer.zero_grad();
        let z = batch.model.forward(&x);
        let (loss, value) = match &cfg.target_scale {
            None => {
                let loss = cfg.loss.compute(&z, &loss_target(cfg.loss, &y));
                let value = loss.item() as f64;
                (loss, value)
            }
            Some(s) => {
                // Trained on standardized targets; the loss reported is the one in y's units.
                let loss = cfg.loss.compute(&z, &s.to_model(&y));
                let raw = ftheta_core::no_grad(|| cfg.loss.compute(&s.to_target(&z.detach()), &y));
                let value = if loss.item().is_finite() { raw.item() as f64 } else { loss.item() as f64 };
                (loss, value)
            }
        };
        if !value.is_finite() {
            return Err(TrainError::Diverged { update: batch.update, loss: value, lr: cfg.lr, stable_lr: None });
        }
        loss.backward();
        if let Some(max) = cfg.max_grad_norm {
            clip_grad_norm(optimizer.params(), max);
        }
        optimizer.step();
        Ok(value)
    }
}
