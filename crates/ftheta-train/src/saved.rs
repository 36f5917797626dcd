//! A trained run read back from its folder to score or predict on data, as `ftheta eval` and
//! `ftheta predict` do: the model rebuilt from `config.json`, the best weights loaded from
//! `model.safetensors`, and the data's columns matched by name and standardized as in training.

use std::path::Path;

use ftheta_core::no_grad;
use ftheta_data::{Dataset, InMemoryDataset};
use ftheta_nn::{Model, Module};

use crate::metrics::{evaluate_scaled, predicted_classes};
use crate::run::{RunConfig, RunDir};
use crate::source::{prepare, rebuild};
use crate::summary::{Evaluation, Part};
use crate::TrainError;

/// A run's best model, with the data source it is to be applied to.
pub struct SavedRun {
    config: RunConfig,
    model: Model,
    /// The source the run was trained on (its split applies only to that one).
    trained_on: String,
}

/// One prediction per row ([`SavedRun::predict`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Predictions {
    /// The predicted class of each row, by name when the run knows the class names.
    Classes(Vec<String>),
    /// The model's outputs, row after row.
    Values(Vec<f32>),
    /// The predicted class of each row and the probability of every class (`--proba`).
    Probabilities {
        /// The class names, in the model's output order.
        names: Vec<String>,
        /// The predicted class of each row, by name.
        classes: Vec<String>,
        /// One probability per class a row, row after row (softmax of the logits; for one logit,
        /// its sigmoid is the second class's).
        probabilities: Vec<f64>,
    },
}

impl Predictions {
    /// As `ftheta predict` writes them: a header (`class` or `prediction`), then one value a line.
    pub fn to_csv(&self) -> String {
        let mut text = String::new();
        match self {
            Predictions::Classes(c) => {
                text += "class\n";
                for c in c {
                    text += c;
                    text.push('\n');
                }
            }
            Predictions::Values(v) => {
                text += "prediction\n";
                for v in v {
                    text += &format!("{v}\n");
                }
            }
            Predictions::Probabilities { names, classes, probabilities } => {
                text += "class";
                for n in names {
                    text += &format!(",p_{n}");
                }
                text.push('\n');
                for (c, p) in classes.iter().zip(probabilities.chunks_exact(names.len().max(1))) {
                    text += c;
                    for p in p {
                        text += &format!(",{p}");
                    }
                    text.push('\n');
                }
            }
        }
        text
    }
}

impl SavedRun {
    /// Opens the run in `run` and loads its best weights, to be applied to `source` (a CSV path, an
    /// MNIST folder or a built-in name; the run's column choices apply).
    pub fn open(run: &Path, source: &str) -> Result<SavedRun, TrainError> {
        let dir = RunDir::open(run).map_err(|e| e.context("--run"))?;
        let mut config = dir.read_config()?;
        let trained_on = std::mem::replace(&mut config.data.source, source.to_string());
        let model = config.build_model()?;
        dir.load_model(&model)?;
        Ok(SavedRun { config, model, trained_on })
    }

    /// The run's config, with the data source it was opened for.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }

    /// The model, holding the run's best weights.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Every row of the source as the model sees it (an MNIST folder: its test part);
    /// `with_target: false` allows a CSV without the target column.
    pub fn dataset(&self, with_target: bool) -> Result<InMemoryDataset, TrainError> {
        let cfg = &self.config;
        let classes = cfg.class_names.is_some();
        rebuild(&cfg.data, &cfg.feature_names, cfg.standardizer.as_ref(), classes, with_target)
            .map_err(|e| e.context("--data"))
    }

    /// Whether the source is the one the run was trained on, so that its split applies.
    pub fn is_own_data(&self) -> bool {
        self.config.data.source == self.trained_on
    }

    /// The model's scores as `ftheta eval` gives them without `--part`: on the run's own data its
    /// test part (rows training never saw), or every row when the split left the test part
    /// empty; on other data every row. [`Evaluation::part`] says which.
    pub fn evaluate(&self) -> Result<Evaluation, TrainError> {
        if self.is_own_data() {
            if let Some(test) = self.own_part(Part::Test)? {
                return Ok(self.score(test, Part::Test));
            }
        }
        self.evaluate_part(Part::All)
    }

    /// The model's scores on one part of the run's own data (split again with its seed, exactly
    /// as in training), or on every row of the source with [`Part::All`]. A part of other data
    /// than the run's is refused (the split belongs to the run's data), and so is an empty part.
    pub fn evaluate_part(&self, part: Part) -> Result<Evaluation, TrainError> {
        let ds = match part {
            Part::All => self.dataset(true)?,
            _ if !self.is_own_data() => {
                let message = format!(
                    "the run's split belongs to its own data ({}); score other data with --part all",
                    self.trained_on
                );
                return Err(TrainError::Config(message).context(format!("--part {part}")));
            }
            _ => self.own_part(part)?.ok_or_else(|| {
                TrainError::Config(format!("the run's split gave its {part} part no rows"))
                    .context(format!("--part {part}"))
            })?,
        };
        Ok(self.score(ds, part))
    }

    /// A part of the run's own data, split again as in training; `None` when it has no rows.
    fn own_part(&self, part: Part) -> Result<Option<InMemoryDataset>, TrainError> {
        let parts = prepare(&self.config.data, self.config.train.seed).map_err(|e| e.context("--data"))?;
        let ds = match part {
            Part::Train => parts.train,
            Part::Validation => parts.val,
            _ => parts.test,
        };
        Ok((!ds.is_empty()).then_some(ds))
    }

    fn score(&self, ds: InMemoryDataset, part: Part) -> Evaluation {
        self.model.eval();
        let scale = self.config.train.target_scale.as_ref();
        let metrics = evaluate_scaled(&self.model, &ds, self.config.scoring_loss(), scale);
        Evaluation { metrics, rows: ds.len(), part }
    }

    /// The predicted class and every class's probability for each row of the source, which need
    /// not hold the target; refused for a run that predicts numbers.
    pub fn predict_proba(&self) -> Result<Predictions, TrainError> {
        let Some(names) = &self.config.class_names else {
            return Err(TrainError::Config("the run predicts numbers, not classes".into()).context("--proba"));
        };
        let (z, width) = self.outputs()?;
        let classes = predicted_classes(&z, width)
            .into_iter()
            .map(|c| names.get(c).cloned().unwrap_or_else(|| c.to_string()))
            .collect();
        let mut probabilities = Vec::with_capacity(z.len() * width.max(2));
        for row in z.chunks_exact(width) {
            if width == 1 {
                let p = 1.0 / (1.0 + (-(row[0] as f64)).exp());
                probabilities.extend([1.0 - p, p]);
            } else {
                // Softmax, shifted by the row's largest logit so that exp cannot overflow.
                let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
                let e: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
                let sum: f64 = e.iter().sum();
                probabilities.extend(e.into_iter().map(|v| v / sum));
            }
        }
        let mut names = names.clone();
        names.resize_with(width.max(2), String::new);
        for (i, n) in names.iter_mut().enumerate() {
            if n.is_empty() {
                *n = i.to_string();
            }
        }
        Ok(Predictions::Probabilities { names, classes, probabilities })
    }

    /// The model's outputs on every row of the source, and their width.
    fn outputs(&self) -> Result<(Vec<f32>, usize), TrainError> {
        let ds = self.dataset(false)?;
        let (x, _) = ds.tensors();
        self.model.eval();
        let z = no_grad(|| self.model.forward(&x));
        let width = z.shape().get(1).copied().unwrap_or(1);
        Ok((z.to_vec(), width))
    }

    /// One prediction per row of the source, which need not hold the target.
    pub fn predict(&self) -> Result<Predictions, TrainError> {
        let ds = self.dataset(false)?;
        let (x, _) = ds.tensors();
        self.model.eval();
        let mut z = no_grad(|| self.model.forward(&x));
        if let (Some(s), None) = (&self.config.train.target_scale, &self.config.class_names) {
            z = s.to_target(&z);
        }
        let width = z.shape().get(1).copied().unwrap_or(1);
        let z = z.to_vec();
        Ok(match &self.config.class_names {
            Some(names) => Predictions::Classes(
                predicted_classes(&z, width)
                    .into_iter()
                    .map(|c| names.get(c).cloned().unwrap_or_else(|| c.to_string()))
                    .collect(),
            ),
            None => Predictions::Values(z),
        })
    }
}
