//! Turning a data source (a CSV path, an MNIST-layout folder or a built-in name, as `--data`
//! takes) into the model's features and the train / validation / test parts, as `ftheta train`,
//! `eval`, `predict` and `solve` do.

use std::path::Path;

use ftheta_data::{builtin, split_indices, CsvOptions, InMemoryDataset, Standardizer, Table};

use crate::run::DataConfig;
use crate::trainer::TargetScale;
use crate::TrainError;

type Result<T> = std::result::Result<T, TrainError>;

fn bail<T>(message: String) -> Result<T> {
    Err(TrainError::Config(message))
}

/// A table read from a source, or the two parts of an MNIST folder.
pub enum Loaded {
    /// A table (CSV or built-in).
    Table(Table),
    /// MNIST: train and test parts.
    Mnist(ftheta_data::Mnist),
}

/// Whether `source` names a built-in data set rather than a path: a known name that is not also
/// a file or folder here (a file called `iris` is read as a file).
pub fn is_builtin(source: &str) -> bool {
    builtin::BUILTIN_NAMES.contains(&source) && !Path::new(source).exists()
}

/// The built-in data sets' names, for help and errors.
pub fn builtin_names() -> String {
    let mut names = builtin::BUILTIN_NAMES.to_vec();
    names.sort_unstable();
    names.join(", ")
}

/// Reads a source with the column choices of `cfg`. `with_target: false` reads a CSV without
/// requiring its target (for predictions).
pub fn load(cfg: &DataConfig, with_target: bool) -> Result<Loaded> {
    let src = cfg.source.as_str();
    let path = Path::new(src);
    if path.is_dir() {
        return Ok(Loaded::Mnist(ftheta_data::read_mnist_dir(path)?));
    }
    let mut options = CsvOptions {
        target: if with_target { cfg.target.clone() } else { None },
        features: cfg.features.clone(),
        drop: cfg.drop.clone(),
        categorical: cfg.categorical.clone(),
        classification: cfg.classification,
        ..CsvOptions::default()
    };
    if !with_target {
        // Read every column; the model's features are picked by name afterwards.
        options.features = None;
        options.drop.clear();
    }
    let table = match src {
        "xor" => builtin::xor(),
        "deliveries" if !path.exists() => {
            // Compiled into the binary: works from any folder, with no download.
            if options.target.is_none() && with_target {
                options.target = Some("time_to_delivery".into());
            }
            builtin::deliveries_with(&options)?
        }
        "digits" | "iris" if !path.exists() => {
            // Compiled in like deliveries: an installed binary needs no data folder.
            let mut table = if src == "iris" { builtin::iris()? } else { builtin::digits()? };
            if !with_target {
                table.target_name = None;
            }
            table
        }
        _ if !path.exists() && !src.contains(['.', '/', std::path::MAIN_SEPARATOR]) => {
            // A bare word that is no file: meant as a built-in name, so say which exist.
            let message =
                format!("no such file, folder or built-in data set; the built-in ones are {}", builtin_names());
            return Err(TrainError::Config(message).context(format!("--data {src}")));
        }
        _ => {
            if with_target && options.target.is_none() {
                return bail("--target: name the column to predict (a CSV source has no default target)".into());
            }
            ftheta_data::read_csv(path, &options)?
        }
    };
    Ok(Loaded::Table(table))
}

/// `cfg` with what its source implies written out: the built-in deliveries' target
/// (`time_to_delivery`) and categorical column (`day`). A run stores this in its `config.json`,
/// so that `predict` and `eval` read a CSV of new rows the way training read the built-in table.
pub fn with_implied_columns(cfg: &DataConfig) -> DataConfig {
    let mut cfg = cfg.clone();
    if cfg.source == "deliveries" && is_builtin("deliveries") {
        cfg.target.get_or_insert_with(|| "time_to_delivery".into());
        cfg.categorical = categorical_columns(&cfg);
    }
    cfg
}

/// The categorical columns a source implies (deliveries' `day`) plus those asked for.
pub fn categorical_columns(cfg: &DataConfig) -> Vec<String> {
    let mut c = cfg.categorical.clone();
    if cfg.source == "deliveries" && !Path::new("deliveries").exists() && !c.iter().any(|x| x == "day") {
        c.push("day".into());
    }
    c
}

/// Drops the first one-hot column of each categorical feature (its level becomes the baseline),
/// so that the one-hot columns and the bias are not collinear and least squares has one solution.
pub fn drop_first_levels(table: &mut Table, categorical: &[String]) {
    let d = table.n_features();
    let mut keep = vec![true; d];
    for c in categorical {
        let prefix = format!("{c}=");
        if let Some(j) = table.feature_names.iter().position(|n| n.starts_with(&prefix)) {
            keep[j] = false;
        }
    }
    if keep.iter().all(|&k| k) {
        return;
    }
    let features: Vec<f64> = table
        .features
        .chunks_exact(d.max(1))
        .flat_map(|row| row.iter().zip(&keep).filter(|(_, &k)| k).map(|(v, _)| *v).collect::<Vec<_>>())
        .collect();
    table.feature_names = table.feature_names.iter().zip(&keep).filter(|(_, &k)| k).map(|(n, _)| n.clone()).collect();
    table.features = features;
}

/// The data a model sees: feature names and the three parts.
pub struct Prepared {
    /// The model's input features.
    pub feature_names: Vec<String>,
    /// Class names for classification.
    pub class_names: Option<Vec<String>>,
    /// Training part.
    pub train: InMemoryDataset,
    /// Validation part.
    pub val: InMemoryDataset,
    /// Test part.
    pub test: InMemoryDataset,
    /// Fitted on the training rows, when asked for.
    pub standardizer: Option<Standardizer>,
    /// Fitted on the training targets when standardizing regression data.
    pub target_scale: Option<TargetScale>,
}

impl Prepared {
    /// The mean of the training targets in the units the model predicts (standardized when
    /// [`Prepared::target_scale`] is set); `None` for classes or no rows.
    pub fn train_target_mean(&self) -> Option<f64> {
        let ftheta_data::Targets::Values { data, .. } = self.train.targets() else { return None };
        if data.is_empty() {
            return None;
        }
        let mean = data.iter().map(|&v| v as f64).sum::<f64>() / data.len() as f64;
        Some(self.target_scale.map_or(mean, |s| (mean - s.mean) / s.std))
    }
}

fn dataset(x: Vec<f64>, d: usize, y: Vec<f64>, classes: bool) -> Result<InMemoryDataset> {
    let x: Vec<f32> = x.into_iter().map(|v| v as f32).collect();
    Ok(if classes {
        InMemoryDataset::with_classes(x, d, y.into_iter().map(|v| v as usize).collect())?
    } else {
        InMemoryDataset::new(x, d, y.into_iter().map(|v| v as f32).collect(), 1)?
    })
}

fn rows(x: &[f64], y: &[f64], d: usize, idx: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let xs = idx.iter().flat_map(|&i| x[i * d..(i + 1) * d].iter().copied()).collect();
    (xs, idx.iter().map(|&i| y[i]).collect())
}

/// Loads, splits and (optionally) standardizes the data of a training run.
pub fn prepare(cfg: &DataConfig, seed: u64) -> Result<Prepared> {
    let [tr, va, te] = cfg.split;
    match load(cfg, true)? {
        Loaded::Mnist(m) => {
            let d = m.train.pixels_per_image();
            let x: Vec<f64> = m.train.images.iter().map(|&v| v as f64).collect();
            let y: Vec<f64> = m.train.labels.iter().map(|&v| v as f64).collect();
            let split = split_indices(m.train.len(), tr / (tr + va), va / (tr + va), 0.0, seed)?;
            let tx: Vec<f64> = m.test.images.iter().map(|&v| v as f64).collect();
            let ty: Vec<f64> = m.test.labels.iter().map(|&v| v as f64).collect();
            let names = (0..d).map(|i| format!("pixel_{i}")).collect();
            finish(
                names,
                Some((0..10).map(|c| c.to_string()).collect()),
                &x,
                &y,
                d,
                &split.train,
                &split.validation,
                (tx, ty),
                cfg.standardize,
            )
        }
        Loaded::Table(mut t) => {
            drop_first_levels(&mut t, &categorical_columns(cfg));
            let split = split_indices(t.n_rows, tr, va, te, seed)?;
            let d = t.n_features();
            let test = rows(&t.features, &t.targets, d, &split.test);
            finish(
                t.feature_names,
                t.class_names,
                &t.features,
                &t.targets,
                d,
                &split.train,
                &split.validation,
                test,
                cfg.standardize,
            )
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn finish(
    feature_names: Vec<String>,
    class_names: Option<Vec<String>>,
    x: &[f64],
    y: &[f64],
    d: usize,
    train: &[usize],
    val: &[usize],
    test: (Vec<f64>, Vec<f64>),
    standardize: bool,
) -> Result<Prepared> {
    if train.is_empty() {
        return bail("--split: the training part has no rows".into());
    }
    let classes = class_names.is_some();
    let (mut trx, try_) = rows(x, y, d, train);
    let (mut vax, vay) = rows(x, y, d, val);
    let (mut tex, tey) = test;
    let standardizer = if standardize {
        let s = Standardizer::fit(&trx, d, None)?;
        for part in [&mut trx, &mut vax, &mut tex] {
            s.transform(part)?;
        }
        Some(s)
    } else {
        None
    };
    let target_scale = if standardize && !classes { TargetScale::fit(&try_) } else { None };
    Ok(Prepared {
        feature_names,
        class_names,
        train: dataset(trx, d, try_, classes)?,
        val: dataset(vax, d, vay, classes)?,
        test: dataset(tex, d, tey, classes)?,
        standardizer,
        target_scale,
    })
}

/// All rows of a source as the model of a run sees them (columns matched by name, standardized as
/// in training); an MNIST folder gives its test part. `with_target: false` allows a CSV without the
/// target, whose rows then get target 0.
pub fn rebuild(
    cfg: &DataConfig,
    feature_names: &[String],
    standardizer: Option<&Standardizer>,
    classification: bool,
    with_target: bool,
) -> Result<InMemoryDataset> {
    let d = feature_names.len();
    let (mut x, y) = match load(cfg, with_target)? {
        Loaded::Mnist(m) => {
            (m.test.images.iter().map(|&v| v as f64).collect(), m.test.labels.iter().map(|&v| v as f64).collect())
        }
        Loaded::Table(t) => {
            let cols: Vec<Option<usize>> =
                feature_names.iter().map(|n| t.feature_names.iter().position(|m| m == n)).collect();
            for (name, c) in feature_names.iter().zip(&cols) {
                if c.is_none() && !name.contains('=') {
                    return bail(format!("{}: the model needs column '{name}', which the data lacks", cfg.source));
                }
            }
            let mut x = Vec::with_capacity(t.n_rows * d);
            for i in 0..t.n_rows {
                let row = t.row(i).expect("in range");
                x.extend(cols.iter().map(|c| c.map_or(0.0, |j| row[j])));
            }
            let y = if t.targets.is_empty() { vec![0.0; t.n_rows] } else { t.targets.clone() };
            (x, y)
        }
    };
    if let Some(s) = standardizer {
        s.transform(&mut x)?;
    }
    dataset(x, d, y, classification)
}
