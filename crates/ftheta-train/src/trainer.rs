//! The training loop: [`TrainConfig`] says how long, in which batches, with which optimizer and
//! loss; [`Trainer`] runs it on a training part for any [`Module`], scores a validation part at
//! every evaluation, keeps the best weights by validation loss, stops early when asked, and reports
//! to an [`Observer`]. How one batch moves the parameters is the trainer's [`Rule`]: a gradient
//! step unless the model brings its own (the perceptron's).

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use ftheta_core::Tensor;
use ftheta_data::{DataLoader, Dataset, InMemoryDataset};
use ftheta_nn::{Adam, Loss, Model, Module, NnError, Optimizer, Sgd, SgdConfig};
use serde::{Deserialize, Serialize};

use crate::metrics::{evaluate_scaled, Metrics};
pub use crate::observer::Observer;
use crate::rule::{Batch, Gradient, Rule};
use crate::TrainError;

/// Which optimizer moves the parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Plain gradient descent.
    Sgd,
    /// SGD with momentum 0.9.
    Momentum,
    /// Adam with PyTorch's defaults.
    Adam,
    /// AdamW (decoupled weight decay 0.01).
    Adamw,
}

impl OptimizerKind {
    /// The optimizer over `params` with learning rate `lr`.
    pub fn build(self, params: Vec<Tensor>, lr: f64) -> Result<Box<dyn Optimizer>, NnError> {
        Ok(match self {
            OptimizerKind::Sgd => Box::new(Sgd::new(params, lr)?),
            OptimizerKind::Momentum => {
                Box::new(Sgd::with_config(params, SgdConfig { lr, momentum: 0.9, ..Default::default() })?)
            }
            OptimizerKind::Adam => Box::new(Adam::new(params, lr)?),
            OptimizerKind::Adamw => Box::new(Adam::adamw(params, lr)?),
        })
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Adam => "adam",
            OptimizerKind::Adamw => "adamw",
        })
    }
}

impl FromStr for OptimizerKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "sgd" => OptimizerKind::Sgd,
            "momentum" => OptimizerKind::Momentum,
            "adam" => OptimizerKind::Adam,
            "adamw" => OptimizerKind::Adamw,
            other => return Err(format!("unknown optimizer '{other}' (expected sgd, momentum, adam or adamw)")),
        })
    }
}

/// How long to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Budget {
    /// This many passes over the training part.
    Epochs(u64),
    /// This many parameter updates (batches).
    Updates(u64),
}

/// When to score the model on the training and validation parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvalEvery {
    /// At the end of every epoch.
    Epoch,
    /// Every this many updates.
    Updates(u64),
}

/// Everything about how a model is trained (but not which model or data).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// How long to train.
    pub budget: Budget,
    /// Samples per batch; `None` for full-batch gradient descent.
    pub batch_size: Option<usize>,
    /// Shuffle the training part every epoch (the order depends only on seed and epoch).
    pub shuffle: bool,
    /// Seed of the shuffling (and, by the caller, of initialization).
    pub seed: u64,
    /// Learning rate η.
    pub lr: f64,
    /// The optimizer.
    pub optimizer: OptimizerKind,
    /// The loss, by name (`mse`, `cross-entropy`, …).
    #[serde(with = "loss_name")]
    pub loss: Loss,
    /// When to evaluate.
    pub eval_every: EvalEvery,
    /// Stop after this many evaluations without a better validation loss.
    pub patience: Option<u64>,
    /// Clip the gradients' joint norm to this.
    pub max_grad_norm: Option<f64>,
    /// Regression targets standardized for training (`--standardize`): the model learns
    /// `(y − mean) / std`, and every reported loss and score maps its outputs back to `y`'s units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_scale: Option<TargetScale>,
}

/// The mean and deviation of the training targets, with which a model learns standardized
/// targets and its outputs are mapped back (`y = mean + std · z`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetScale {
    /// Mean of the training targets.
    pub mean: f64,
    /// Population standard deviation of the training targets (1 where it was 0).
    pub std: f64,
}

impl TargetScale {
    /// Fitted on the training targets; `None` without targets.
    pub fn fit(targets: &[f64]) -> Option<Self> {
        if targets.is_empty() {
            return None;
        }
        let n = targets.len() as f64;
        let mean = targets.iter().sum::<f64>() / n;
        let var = targets.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n;
        let std = if var.sqrt() > 0.0 && var.is_finite() { var.sqrt() } else { 1.0 };
        Some(TargetScale { mean, std })
    }

    /// Targets in the model's units: `(y − mean) / std`.
    pub fn to_model(&self, y: &Tensor) -> Tensor {
        y.add_scalar(-self.mean).mul_scalar(1.0 / self.std)
    }

    /// Model outputs in the targets' units: `mean + std · z`.
    pub fn to_target(&self, z: &Tensor) -> Tensor {
        z.mul_scalar(self.std).add_scalar(self.mean)
    }
}

mod loss_name {
    use ftheta_nn::Loss;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(l: &Loss, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&l.to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Loss, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Where training stands: what a resumable checkpoint's `state.json` holds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs completed.
    pub epoch: u64,
    /// Batches done in the epoch under way.
    pub batch: u64,
    /// Updates done.
    pub update: u64,
    /// The best validation loss so far (training loss when there is no validation part).
    pub best_loss: Option<f64>,
    /// The update at which it was reached.
    pub best_update: u64,
    /// Evaluations since the best.
    pub since_best: u64,
    /// The update of the last evaluation.
    pub last_eval: Option<u64>,
    /// Seconds spent training.
    pub seconds: f64,
    /// Whether training is over (budget spent or stopped early).
    pub finished: bool,
}

/// One evaluation, as a line of `history.jsonl`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Updates done.
    pub update: u64,
    /// The epoch under way (1-based; at an epoch's end, that epoch).
    pub epoch: u64,
    /// Seconds since training started.
    pub seconds: f64,
    /// Loss on the training part.
    pub train_loss: f64,
    /// Loss on the validation part.
    pub val_loss: Option<f64>,
    /// Accuracy on the training part (classification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_accuracy: Option<f64>,
    /// Accuracy on the validation part (classification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_accuracy: Option<f64>,
    /// MSE on the training part (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_mse: Option<f64>,
    /// MSE on the validation part (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_mse: Option<f64>,
    /// MAE on the training part (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_mae: Option<f64>,
    /// MAE on the validation part (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_mae: Option<f64>,
    /// R² on the training part (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_r2: Option<f64>,
    /// R² on the validation part (regression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_r2: Option<f64>,
}

impl Record {
    fn new(update: u64, epoch: u64, seconds: f64, t: &Metrics, v: Option<&Metrics>) -> Self {
        Record {
            update,
            epoch,
            seconds,
            train_loss: t.loss,
            val_loss: v.map(|v| v.loss),
            train_accuracy: t.accuracy,
            val_accuracy: v.and_then(|v| v.accuracy),
            train_mse: t.mse,
            val_mse: v.and_then(|v| v.mse),
            train_mae: t.mae,
            val_mae: v.and_then(|v| v.mae),
            train_r2: t.r2.filter(|r| r.is_finite()),
            val_r2: v.and_then(|v| v.r2).filter(|r| r.is_finite()),
        }
    }
}

/// Whether `budget` leaves something to do for a run at `state`; the error names what was done.
pub fn check_budget(state: &TrainState, budget: Budget) -> Result<(), TrainError> {
    let (asked, done) = match budget {
        Budget::Epochs(e) => (format!("--epochs {e}"), (e <= state.epoch).then(|| format!("{} epochs", state.epoch))),
        Budget::Updates(u) => {
            (format!("--updates {u}"), (u <= state.update).then(|| format!("{} updates", state.update)))
        }
    };
    match done {
        Some(done) => {
            Err(TrainError::Config(format!("{asked}: the run has already done {done}; give more to train it longer")))
        }
        None => Ok(()),
    }
}

/// Trains one model of any [`Module`] type `M` (a [`Model`] built from a spec unless said
/// otherwise), one [`Rule`] step per batch.
pub struct Trainer<'m, M: Module = Model> {
    model: &'m M,
    cfg: TrainConfig,
    optimizer: Box<dyn Optimizer>,
    rule: Box<dyn Rule>,
    state: TrainState,
    best: Option<Vec<Vec<f32>>>,
    history: Vec<Record>,
}

impl<'m, M: Module> Trainer<'m, M> {
    /// A trainer for `model` starting from its current weights, by gradient descent on the
    /// configured loss ([`Gradient`]).
    pub fn new(model: &'m M, cfg: TrainConfig) -> Result<Self, TrainError> {
        Self::with_rule(model, cfg, Gradient)
    }

    /// A trainer that moves the parameters by `rule` (the configured optimizer is still built
    /// over them, and checkpointed, whether the rule uses it or not).
    pub fn with_rule(model: &'m M, cfg: TrainConfig, rule: impl Rule + 'static) -> Result<Self, TrainError> {
        if cfg.batch_size == Some(0) {
            return Err(TrainError::Config("the batch size must be at least 1".into()));
        }
        if matches!(cfg.budget, Budget::Epochs(0) | Budget::Updates(0)) {
            return Err(TrainError::Config("train for at least 1 epoch or update".into()));
        }
        if cfg.eval_every == EvalEvery::Updates(0) {
            return Err(TrainError::Config("evaluate every 1 or more updates".into()));
        }
        let optimizer = cfg.optimizer.build(model.parameters(), cfg.lr)?;
        Ok(Trainer {
            model,
            cfg,
            optimizer,
            rule: Box::new(rule),
            state: TrainState::default(),
            best: None,
            history: Vec::new(),
        })
    }

    /// Continues from a checkpoint: its state, the best weights so far and the history up to it.
    pub fn resume(&mut self, state: TrainState, best: Option<Vec<Vec<f32>>>, history: Vec<Record>) {
        self.state = state;
        self.best = best;
        self.history = history;
    }

    /// Trains longer (or less) than the budget it was started with: after [`Trainer::resume`], a
    /// run that had finished goes on to the new budget. A budget already spent is an error naming
    /// what was done. Early stopping still applies: a run stopped by `patience` stops again at its
    /// next evaluation unless it improves.
    pub fn set_budget(&mut self, budget: Budget) -> Result<(), TrainError> {
        check_budget(&self.state, budget)?;
        self.cfg.budget = budget;
        self.state.finished = false;
        Ok(())
    }

    /// The settings.
    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    /// Where training stands.
    pub fn state(&self) -> &TrainState {
        &self.state
    }

    /// The model being trained.
    pub fn model(&self) -> &M {
        self.model
    }

    /// The optimizer (for checkpointing its state).
    pub fn optimizer(&self) -> &dyn Optimizer {
        self.optimizer.as_ref()
    }

    /// The optimizer, to restore its state.
    pub fn optimizer_mut(&mut self) -> &mut dyn Optimizer {
        self.optimizer.as_mut()
    }

    /// Every evaluation so far.
    pub fn history(&self) -> &[Record] {
        &self.history
    }

    /// The best weights so far, in the order of `named_parameters`.
    pub fn best_weights(&self) -> Option<&[Vec<f32>]> {
        self.best.as_deref()
    }

    /// Copies the best weights into the model.
    pub fn restore_best(&self) {
        if let Some(best) = &self.best {
            ftheta_core::no_grad(|| {
                for (p, w) in self.model.parameters().iter().zip(best) {
                    p.copy_(&Tensor::from_vec(w.clone(), p.shape()));
                }
            });
        }
    }

    /// Trains until the budget is spent, early stopping triggers or the observer says stop.
    /// Returns a [`TrainError::Diverged`] as soon as a loss is NaN or infinite, and
    /// [`TrainError::Interrupted`] when [`Observer::interrupted`] stopped it before the end.
    pub fn fit(
        &mut self,
        train: &InMemoryDataset,
        val: &InMemoryDataset,
        obs: &mut dyn Observer<M>,
    ) -> Result<(), TrainError> {
        if train.is_empty() {
            return Err(TrainError::Config("the training part has no rows".into()));
        }
        self.rule.start(train, &self.cfg)?;
        let mut loader = match self.cfg.batch_size {
            Some(b) => DataLoader::new(train, b)?,
            None => DataLoader::full_batch(train),
        };
        if self.cfg.shuffle {
            loader = loader.shuffled(self.cfg.seed);
        }
        let batch = loader.batch_size();
        let start = Instant::now();
        let base_seconds = self.state.seconds;
        let seconds = |start: &Instant| base_seconds + start.elapsed().as_secs_f64();
        let mut interrupted = false;
        while !self.state.finished {
            let order = loader.order(self.state.epoch);
            let chunks: Vec<&[usize]> = order.chunks(batch).collect();
            let mut stop = false;
            for chunk in chunks.iter().skip(self.state.batch as usize) {
                if let Budget::Updates(u) = self.cfg.budget {
                    if self.state.update >= u {
                        break;
                    }
                }
                let batch =
                    Batch { model: self.model, train, rows: chunk, config: &self.cfg, update: self.state.update + 1 };
                let loss = self.rule.step(batch, self.optimizer.as_mut())?;
                self.state.update += 1;
                self.state.batch += 1;
                obs.on_update(self.state.update, loss);
                if let EvalEvery::Updates(k) = self.cfg.eval_every {
                    if self.state.update % k == 0 && self.evaluate(train, val, seconds(&start), obs)? {
                        stop = true;
                        break;
                    }
                }
                // After the evaluation due at this update, so that a resumed run does not miss it.
                if obs.interrupted() {
                    interrupted = true;
                    break;
                }
            }
            if self.state.batch as usize >= chunks.len() {
                self.state.epoch += 1;
                self.state.batch = 0;
                if self.cfg.eval_every == EvalEvery::Epoch && self.evaluate(train, val, seconds(&start), obs)? {
                    stop = true;
                }
            }
            let spent = match self.cfg.budget {
                Budget::Epochs(e) => self.state.epoch >= e,
                Budget::Updates(u) => self.state.update >= u,
            };
            if stop || spent {
                if self.state.last_eval != Some(self.state.update) {
                    self.evaluate(train, val, seconds(&start), obs)?;
                }
                self.state.finished = true;
            }
            self.state.seconds = seconds(&start);
            if !obs.on_epoch_end(self)? {
                break;
            }
            if interrupted && !self.state.finished {
                return Err(TrainError::Interrupted { update: self.state.update });
            }
        }
        Ok(())
    }

    fn diverged(&self, update: u64, loss: f64) -> TrainError {
        TrainError::Diverged { update, loss, lr: self.cfg.lr, stable_lr: None }
    }

    /// Scores both parts, tracks the best weights; returns whether early stopping says stop.
    fn evaluate(
        &mut self,
        train: &InMemoryDataset,
        val: &InMemoryDataset,
        seconds: f64,
        obs: &mut dyn Observer<M>,
    ) -> Result<bool, TrainError> {
        let loss = self.rule.scoring_loss(&self.cfg);
        let scale = self.cfg.target_scale.as_ref();
        let t = evaluate_scaled(self.model, train, loss, scale);
        let v = (!val.is_empty()).then(|| evaluate_scaled(self.model, val, loss, scale));
        let score = v.as_ref().map_or(t.loss, |v| v.loss);
        if !score.is_finite() || !t.loss.is_finite() {
            let bad = if t.loss.is_finite() { score } else { t.loss };
            return Err(self.diverged(self.state.update, bad));
        }
        let improved = self.state.best_loss.map_or(true, |b| score < b);
        if improved {
            self.best = Some(self.model.parameters().iter().map(Tensor::to_vec).collect());
            self.state.best_loss = Some(score);
            self.state.best_update = self.state.update;
            self.state.since_best = 0;
        } else {
            self.state.since_best += 1;
        }
        self.state.last_eval = Some(self.state.update);
        let epoch = if self.state.batch == 0 { self.state.epoch } else { self.state.epoch + 1 };
        let record = Record::new(self.state.update, epoch, seconds, &t, v.as_ref());
        obs.on_eval(&record, improved, self.model)?;
        self.history.push(record);
        Ok(self.cfg.patience.is_some_and(|p| self.state.since_best >= p))
    }
}
