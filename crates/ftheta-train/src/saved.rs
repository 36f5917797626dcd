//! A trained run read back from its folder to score or predict on data, as `ftheta eval` and
//! `ftheta predict` do: the model rebuilt from `config.json`, the best weights loaded from
//! `model.safetensors`, and the data's columns matched by name and standardized as in training.

use std::path::Path;

use ftheta_core::no_grad;
use ftheta_data::{Dataset, InMemoryDataset};
use ftheta_nn::{Model, Module};

use crate::metrics::{evaluate, predicted_classes};
use crate::run::{RunConfig, RunDir};
use crate::source::rebuild;
use crate::summary::Evaluation;
use crate::TrainError;

/// A run's best model, with the data source it is to be applied to.
pub struct SavedRun {
    config: RunConfig,
    model: Model,
}

/// One prediction per row ([`SavedRun::predict`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Predictions {
    /// The predicted class of each row, by name when the run knows the class names.
    Classes(Vec<String>),
    /// The model's outputs, row after row.
    Values(Vec<f32>),
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
        config.data.source = source.to_string();
        let model = config.build_model()?;
        dir.load_model(&model)?;
        Ok(SavedRun { config, model })
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

    /// The model's scores on every row of the source.
    pub fn evaluate(&self) -> Result<Evaluation, TrainError> {
        let ds = self.dataset(true)?;
        self.model.eval();
        Ok(Evaluation { metrics: evaluate(&self.model, &ds, self.config.scoring_loss()), rows: ds.len() })
    }

    /// One prediction per row of the source, which need not hold the target.
    pub fn predict(&self) -> Result<Predictions, TrainError> {
        let ds = self.dataset(false)?;
        let (x, _) = ds.tensors();
        self.model.eval();
        let z = no_grad(|| self.model.forward(&x));
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
