//! Building and training a run exactly as `ftheta train` does: a [`RunRequest`] (what the flags
//! say) becomes a [`Run`] (data loaded, split and standardized, the model built from its seed, the
//! run folder created), [`Run::resume`] reopens one from its folder, and [`Run::fit`] trains it,
//! keeps `status.json` up to date and returns the [`RunSummary`] that `ftheta train --json`
//! prints.
//!
//! ```
//! use ftheta_nn::ModelSpec;
//! use ftheta_train::{Budget, FitOptions, OptimizerKind, Run, RunRequest};
//!
//! let request = RunRequest {
//!     model: "mlp:8".parse::<ModelSpec>()?,
//!     optimizer: OptimizerKind::Adam,
//!     lr: Some(0.01),
//!     standardize: true,
//!     budget: Budget::Epochs(2),
//!     ..RunRequest::new("deliveries")
//! };
//! // As `ftheta train --data deliveries --model mlp:8 --optimizer adam --lr 0.01 --standardize
//! // --epochs 2`; `Some(path)` instead of `None` writes the run folder, as `--out` does.
//! let run = Run::create(&request, None)?;
//! let summary = run.fit(&mut (), &FitOptions::default())?;
//! assert_eq!(summary.updates, 2 * 251); // 8,010 training rows in batches of 32
//! // From about 700 (minutes², the model starts near 0) to under 20 (the variance is about 44).
//! assert!(summary.val.unwrap().mse.unwrap() < 20.0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

use ftheta_data::Dataset;
use ftheta_nn::{Init, Loss, Model, ModelSpec, Module};

use crate::memory::{available_memory, MemoryEstimate};
use crate::metrics::evaluate_scaled;
use crate::perceptron::PerceptronRule;
use crate::progress::Progress;
use crate::run::{DataConfig, RunConfig, RunDir, RunState, RunStatus, RunWriter};
use crate::solve::stable_lr_limit;
use crate::source::{prepare, with_implied_columns, Prepared};
use crate::summary::RunSummary;
use crate::trainer::{check_budget, Budget, EvalEvery, Observer, OptimizerKind, TrainConfig, Trainer};
use crate::TrainError;

/// Everything `ftheta train` is told about a new run: the data, the model and how to train it.
/// [`RunRequest::new`] has the command line's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRequest {
    /// A CSV path, an MNIST-layout folder or a built-in name (`deliveries`, `xor`, `iris`,
    /// `digits`), as `--data` takes.
    pub source: String,
    /// The column to predict (`--target`; the built-in data sets have their own default).
    pub target: Option<String>,
    /// The feature columns to use (`--features`; `None`: all but the target).
    pub features: Option<Vec<String>>,
    /// Columns to leave out (`--drop`).
    pub drop: Vec<String>,
    /// Columns of labels, one-hot encoded (`--categorical`).
    pub categorical: Vec<String>,
    /// Train, validation and test fractions (`--split`).
    pub split: [f64; 3],
    /// Standardize features with the training rows' mean and deviation (`--standardize`).
    pub standardize: bool,
    /// The model (`--model`).
    pub model: ModelSpec,
    /// Constant initial weight and bias (`--init w=W,b=B`).
    pub init: Option<[f64; 2]>,
    /// The loss (`--loss`; `None`: cross-entropy for classes, else MSE).
    pub loss: Option<Loss>,
    /// The optimizer (`--optimizer`).
    pub optimizer: OptimizerKind,
    /// The learning rate (`--lr`; `None`: 0.01 for SGD and momentum, 0.001 for Adam and AdamW, 1
    /// for the perceptron).
    pub lr: Option<f64>,
    /// Rows per batch (`--batch-size`; `None`: the whole training part).
    pub batch_size: Option<usize>,
    /// How long to train (`--epochs`, `--updates`).
    pub budget: Budget,
    /// Shuffle the training rows every epoch (`--no-shuffle` turns it off).
    pub shuffle: bool,
    /// Seed of initialization, split and shuffling (`--seed`).
    pub seed: u64,
    /// When to evaluate (`--eval-every`).
    pub eval_every: EvalEvery,
    /// Stop after this many evaluations without a better validation loss (`--patience`).
    pub patience: Option<u64>,
    /// Clip the gradients' joint norm (`--max-grad-norm`).
    pub max_grad_norm: Option<f64>,
}

impl RunRequest {
    /// A run on `source` with `ftheta train`'s defaults: a linear model, SGD, batches of 32, 10
    /// epochs, shuffled, seed 0, an 80/10/10 split, evaluated every epoch.
    pub fn new(source: impl Into<String>) -> Self {
        RunRequest {
            source: source.into(),
            target: None,
            features: None,
            drop: Vec::new(),
            categorical: Vec::new(),
            split: [0.8, 0.1, 0.1],
            standardize: false,
            model: ModelSpec::Linear,
            init: None,
            loss: None,
            optimizer: OptimizerKind::Sgd,
            lr: None,
            batch_size: Some(32),
            budget: Budget::Epochs(10),
            shuffle: true,
            seed: 0,
            eval_every: EvalEvery::Epoch,
            patience: None,
            max_grad_norm: None,
        }
    }

    /// The learning rate: the one asked for, else the default for the model and optimizer.
    pub fn learning_rate(&self) -> f64 {
        use OptimizerKind::*;
        self.lr.unwrap_or(match (&self.model, self.optimizer) {
            (ModelSpec::Perceptron, _) => 1.0,
            (_, Sgd | Momentum) => 0.01,
            (_, Adam | Adamw) => 0.001,
        })
    }

    /// The run's config before the data is read (features, classes, outputs and standardizer are
    /// filled in by [`Run::create`]).
    pub fn config(&self) -> RunConfig {
        let perceptron = self.model == ModelSpec::Perceptron;
        let data = DataConfig {
            source: self.source.clone(),
            target: self.target.clone(),
            features: self.features.clone(),
            drop: self.drop.clone(),
            categorical: self.categorical.clone(),
            classification: matches!(self.loss, Some(Loss::CrossEntropy | Loss::Bce)) || perceptron,
            split: self.split,
            standardize: self.standardize,
        };
        let train = TrainConfig {
            budget: self.budget,
            batch_size: self.batch_size,
            shuffle: self.shuffle,
            seed: self.seed,
            lr: self.learning_rate(),
            optimizer: self.optimizer,
            loss: self.loss.unwrap_or(Loss::Mse),
            eval_every: self.eval_every,
            patience: self.patience,
            max_grad_norm: self.max_grad_norm,
            target_scale: None,
        };
        RunConfig {
            spec: self.model.clone(),
            init: self.init,
            data,
            feature_names: Vec::new(),
            class_names: None,
            n_outputs: 1,
            standardizer: None,
            initial_bias: None,
            train,
        }
    }
}

impl RunConfig {
    /// The run's model with freshly initialized parameters, seeded by the run's seed (so the same
    /// config always starts from the same weights).
    pub fn build_model(&self) -> Result<Model, TrainError> {
        let init = self.init.map_or(Init::PyTorch, |[w, b]| Init::Constant { w, b });
        ftheta_core::manual_seed(self.train.seed);
        let model = self
            .spec
            .build(self.feature_names.len(), self.n_outputs, init)
            .map_err(|e| TrainError::from(e).context("--model"))?;
        if let Some(b) = self.initial_bias {
            // The output layer's bias is its last parameter; a regression model starts at the
            // targets' mean instead of near 0, which is far from minutes or prices.
            let named = model.named_parameters();
            if let Some((_, bias)) = named.last().filter(|(n, p)| n.ends_with("bias") && p.numel() == 1) {
                ftheta_core::no_grad(|| bias.fill_(b));
            }
        }
        Ok(model)
    }

    /// The loss the run is scored with: its training loss, or none for the perceptron, which is
    /// scored by the fraction it misclassifies.
    pub fn scoring_loss(&self) -> Option<Loss> {
        (self.spec != ModelSpec::Perceptron).then_some(self.train.loss)
    }
}

/// How [`Run::fit`] reports while it trains.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FitOptions {
    /// Progress on stderr: a bar on a terminal, else one line per evaluation.
    pub progress: bool,
    /// Stop after this many epochs as if interrupted (to test resuming; `--interrupt-after`).
    pub interrupt_after: Option<u64>,
}

/// A run ready to train: its config, its data split into parts, its model and, when it has one,
/// its folder. A `Run` with a folder holds that folder's lock (`ftheta.lock`) until it is dropped:
/// another `Run::resume` or `ftheta train` on the same folder meanwhile gets [`TrainError::Busy`].
pub struct Run {
    config: RunConfig,
    data: Prepared,
    model: Model,
    dir: Option<RunDir>,
    /// Resumed from its folder; `true` inside when given a new budget.
    resumed: Option<bool>,
}

impl Run {
    /// A new run: reads and splits the data, fills in the config (features, classes, outputs,
    /// the default loss for classes), checks that training fits in memory, builds the model and,
    /// with `out`, creates the run folder and writes `config.json`.
    pub fn create(request: &RunRequest, out: Option<&Path>) -> Result<Run, TrainError> {
        let mut cfg = request.config();
        cfg.data = with_implied_columns(&cfg.data);
        let data = prepare(&cfg.data, cfg.train.seed)?;
        cfg.feature_names = data.feature_names.clone();
        cfg.class_names = data.class_names.clone();
        cfg.standardizer = data.standardizer.clone();
        cfg.train.target_scale = data.target_scale;
        let perceptron = cfg.spec == ModelSpec::Perceptron;
        let classes = data.class_names.is_some();
        if request.loss.is_none() && classes && !perceptron {
            cfg.train.loss = Loss::CrossEntropy;
        }
        cfg.n_outputs = if cfg.train.loss == Loss::CrossEntropy && !perceptron {
            data.train.n_classes().unwrap_or(1).max(data.class_names.as_ref().map_or(0, Vec::len)).max(2)
        } else {
            1
        };
        if cfg.train.loss == Loss::Bce && data.class_names.as_ref().is_some_and(|c| c.len() > 2) {
            return Err(TrainError::Config(format!(
                "--loss bce: the target has {} classes; use cross-entropy",
                data.class_names.as_ref().map_or(0, Vec::len)
            )));
        }
        let regression = !classes && !perceptron && cfg.n_outputs == 1;
        if regression && cfg.init.is_none() {
            cfg.initial_bias = data.train_target_mean();
        }
        if request.lr.is_none()
            && regression
            && matches!(cfg.train.optimizer, OptimizerKind::Sgd | OptimizerKind::Momentum)
        {
            cfg.train.lr = cfg.train.lr.min(stable_default_lr(&data.train));
        }
        check_memory(&cfg, &data, false)?;
        let model = cfg.build_model()?;
        let dir = match out {
            Some(out) => {
                let d = RunDir::create(out).map_err(|e| e.context("--out"))?;
                if let Err(e) = d.write_config(&cfg) {
                    d.remove_new_run();
                    return Err(e);
                }
                Some(d)
            }
            None => None,
        };
        Ok(Run { config: cfg, data, model, dir, resumed: None })
    }

    /// Reopens the run in `dir` to continue it from its checkpoint with the settings of its
    /// `config.json`; with `budget`, to that new length (also after it finished). A budget already
    /// spent is refused before anything is written.
    pub fn resume(dir: impl Into<PathBuf>, budget: Option<Budget>) -> Result<Run, TrainError> {
        let dir = RunDir::open_to_write(dir).map_err(|e| e.context("--resume"))?;
        let mut cfg = dir.read_config()?;
        if let Some(budget) = budget {
            // Checked before the run is marked running again, so a refused budget leaves it as it was.
            if let Some(state) = dir.read_state()? {
                check_budget(&state, budget)?;
            }
            cfg.train.budget = budget;
        }
        let data = prepare(&cfg.data, cfg.train.seed)?;
        check_memory(&cfg, &data, true)?;
        let model = cfg.build_model()?;
        Ok(Run { config: cfg, data, model, dir: Some(dir), resumed: Some(budget.is_some()) })
    }

    /// The run's config (what `config.json` holds).
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The training, validation and test parts.
    pub fn data(&self) -> &Prepared {
        &self.data
    }

    /// The model: freshly initialized before [`Run::fit`], holding the best weights after it.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The run folder, if the run has one.
    pub fn dir(&self) -> Option<&RunDir> {
        self.dir.as_ref()
    }

    /// Whether the run was reopened by [`Run::resume`].
    pub fn is_resumed(&self) -> bool {
        self.resumed.is_some()
    }

    /// Trains the run (from its checkpoint when resumed) with `observer` called after the run's
    /// own (progress, the run folder's writer), restores the best weights and scores them on
    /// every part. `status.json` says running while it trains and how it ended after: a diverged
    /// run keeps its folder, so that its curve up to the blow-up can be looked at; a new run that
    /// failed for any other reason (bad settings found once training starts, a disk error)
    /// leaves no partial run behind: its own files are removed, and the folder if it made it,
    /// while anything else in the folder stays. Stopped by [`Observer::interrupted`], it returns
    /// [`TrainError::Interrupted`] after saving a checkpoint. Call it once.
    pub fn fit(&self, observer: &mut dyn Observer, options: &FitOptions) -> Result<RunSummary, TrainError> {
        if let Some(d) = &self.dir {
            d.write_status(&RunStatus::running())?;
        }
        let result = self.train(observer, options);
        if let (Some(d), Ok(summary)) = (&self.dir, &result) {
            // The kept model's scores on every part, test included, for the dashboard and scripts.
            d.write_summary(summary)?;
        }
        if let Some(d) = &self.dir {
            self.record_outcome(d, &result)?;
        }
        result
    }

    fn train(&self, observer: &mut dyn Observer, options: &FitOptions) -> Result<RunSummary, TrainError> {
        let cfg = &self.config;
        let trainer = match cfg.spec {
            ModelSpec::Perceptron => Trainer::with_rule(&self.model, cfg.train.clone(), PerceptronRule::default()),
            _ => Trainer::new(&self.model, cfg.train.clone()),
        };
        let mut trainer = trainer.map_err(|e| e.context("training settings"))?;
        if let (Some(d), Some(new_budget)) = (&self.dir, self.resumed) {
            d.load_checkpoint(&mut trainer).map_err(|e| e.context("--resume"))?;
            if new_budget {
                trainer.set_budget(cfg.train.budget)?;
                d.write_config(cfg)?;
            }
        }
        let per_epoch = match cfg.train.batch_size {
            Some(b) => self.data.train.len().div_ceil(b) as u64,
            None => 1,
        };
        let total = match cfg.train.budget {
            Budget::Epochs(e) => e * per_epoch,
            Budget::Updates(u) => u,
        };
        let progress = Progress::new(total, trainer.state().update, !options.progress);
        let writer = self.dir.as_ref().map(|d| {
            let mut w = RunWriter::new(d);
            w.interrupt_after = options.interrupt_after;
            w
        });
        let mut obs = ((progress, writer), observer);
        let result = trainer.fit(&self.data.train, &self.data.val, &mut obs);
        obs.0 .0.finish();
        result.map_err(|e| self.stable_lr_hint(e))?;
        trainer.restore_best();
        let st = trainer.state();
        let loss = cfg.scoring_loss();
        let scale = cfg.train.target_scale.as_ref();
        let score = |part: &ftheta_data::InMemoryDataset| {
            (!part.is_empty()).then(|| evaluate_scaled(&self.model, part, loss, scale))
        };
        let mut summary = RunSummary {
            train: evaluate_scaled(&self.model, &self.data.train, loss, scale),
            val: score(&self.data.val),
            test: score(&self.data.test),
            epochs: st.epoch + u64::from(st.batch > 0),
            updates: st.update,
            best_update: st.best_update,
            seconds: st.seconds,
            finished: st.finished,
            run: self.dir.as_ref().map(|d| d.path().to_path_buf()),
            weights: None,
            bias: None,
        };
        if matches!(cfg.spec, ModelSpec::Linear | ModelSpec::Perceptron) && cfg.n_outputs == 1 {
            let p = self.model.parameters();
            let (mut w, mut b) = (p[0].to_vec_f64(), p[1].to_vec_f64()[0]);
            if let Some(s) = &cfg.train.target_scale {
                w.iter_mut().for_each(|w| *w *= s.std);
                b = s.mean + s.std * b;
            }
            let (w, b) = match &cfg.standardizer {
                Some(s) => s.unstandardize_linear(&w, b)?,
                None => (w, b),
            };
            summary.weights = Some(cfg.feature_names.iter().cloned().zip(w).collect());
            summary.bias = Some(b);
        }
        Ok(summary)
    }

    /// Adds to a divergence of MSE on a linear model the largest stable full-batch rate 2/λ_max of
    /// its training features.
    fn stable_lr_hint(&self, e: TrainError) -> TrainError {
        match e {
            TrainError::Diverged { update, loss, lr, stable_lr: None }
                if self.config.spec == ModelSpec::Linear && self.config.train.loss == Loss::Mse =>
            {
                let train = &self.data.train;
                let x: Vec<f64> = train.features().iter().map(|&v| v as f64).collect();
                let stable_lr = Some(stable_lr_limit(&x, train.len(), train.n_features()));
                TrainError::Diverged { update, loss, lr, stable_lr }
            }
            e => e,
        }
    }

    fn record_outcome(&self, d: &RunDir, result: &Result<RunSummary, TrainError>) -> Result<(), TrainError> {
        let status = match result {
            Ok(summary) if summary.finished => RunStatus::ended(RunState::Finished, None),
            Ok(_) => RunStatus::ended(RunState::Interrupted, None),
            Err(e) => match e.root() {
                TrainError::Interrupted { .. } => RunStatus::ended(RunState::Interrupted, None),
                diverged @ TrainError::Diverged { .. } => {
                    RunStatus::ended(RunState::Diverged, Some(diverged.to_string()))
                }
                _ if d.remove_new_run() => return Ok(()),
                _ => RunStatus::ended(RunState::Failed, Some(crate::error::chain_text(e))),
            },
        };
        d.write_status(&status)
    }
}

/// The default learning rate of SGD on regression data, when 0.01 would diverge: half the
/// stable limit 2/λ_max of least squares on the training features (λ_max of the MSE Hessian of a
/// linear model), so that unscaled features train instead of blowing up. A deeper model's first
/// layer sees the same curvature, so the same bound serves it.
fn stable_default_lr(train: &ftheta_data::InMemoryDataset) -> f64 {
    let x: Vec<f64> = train.features().iter().map(|&v| v as f64).collect();
    let limit = crate::solve::stable_lr_limit(&x, train.len(), train.n_features());
    if limit.is_finite() && limit > 0.0 {
        limit / 2.0
    } else {
        f64::INFINITY
    }
}

/// Fails at once when training would need more memory than the machine has available; the
/// message names the settings as the command line gives them.
fn check_memory(cfg: &RunConfig, data: &Prepared, resumed: bool) -> Result<(), TrainError> {
    let (spec, Some(available)) = (&cfg.spec, available_memory()) else { return Ok(()) };
    let (inputs, outputs) = (cfg.feature_names.len(), cfg.n_outputs);
    if spec.num_parameters(inputs, outputs) > ftheta_nn::spec::MAX_PARAMETERS as u128 {
        return Ok(()); // refused with its size when built
    }
    let rows = data.train.len().max(1);
    let batch = cfg.train.batch_size.map_or(rows, |b| b.min(rows));
    let e = MemoryEstimate::new(spec, inputs, outputs, batch, cfg.train.optimizer);
    let flags = match (resumed, cfg.train.batch_size) {
        (true, _) => format!("the run's model {spec} with batches of {batch} rows"),
        (false, Some(_)) => format!("--model {spec} with --batch-size {batch}"),
        (false, None) => format!("--model {spec} with --batch-size full ({batch} rows)"),
    };
    e.check(available, &flags)
}
