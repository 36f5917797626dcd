//! What a run reports when it ends ([`RunSummary`], the object `ftheta train --json` prints) and
//! the scores of a saved model on data ([`Evaluation`], `ftheta eval --json`).

use std::path::PathBuf;

use serde_json::{json, Map, Value};

use crate::metrics::{significant, Metrics};

/// The outcome of [`crate::Run::fit`]: the best model's scores on each part and where training
/// stands.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Scores on the training part.
    pub train: Metrics,
    /// Scores on the validation part (`None` when it has no rows).
    pub val: Option<Metrics>,
    /// Scores on the test part (`None` when it has no rows).
    pub test: Option<Metrics>,
    /// Epochs begun.
    pub epochs: u64,
    /// Updates done.
    pub updates: u64,
    /// The update of the best (kept) weights.
    pub best_update: u64,
    /// Seconds spent training.
    pub seconds: f64,
    /// Whether training is over (budget spent or stopped early), rather than stopped on request.
    pub finished: bool,
    /// The run folder, if the run has one.
    pub run: Option<PathBuf>,
    /// For a linear model or perceptron with one output: each feature's coefficient, in the
    /// features' own units (undoing standardization).
    pub weights: Option<Vec<(String, f64)>>,
    /// The bias that goes with [`RunSummary::weights`].
    pub bias: Option<f64>,
}

/// Reads one score of a part's metrics (a column of [`RunSummary::to_table`]).
type Score = fn(&Metrics) -> Option<f64>;

impl RunSummary {
    /// For people: a table of the kept model's scores on each part, to 4 significant digits
    /// (the loss column left out where it is the MSE), which weights they are (the best at
    /// update N, or the last), how long training took, and a linear model's coefficients.
    ///
    /// ```text
    ///        loss   mse    mae    r2
    /// train  ...
    /// kept: the best weights, at update 4518 of 5020 (validation loss lowest there)
    /// ```
    pub fn to_table(&self) -> String {
        let parts: Vec<(&str, &Metrics)> =
            [("train", Some(&self.train)), ("val", self.val.as_ref()), ("test", self.test.as_ref())]
                .into_iter()
                .filter_map(|(n, m)| m.map(|m| (n, m)))
                .collect();
        let same = |a: f64, b: Option<f64>| b.is_some_and(|b| (a - b).abs() <= 1e-6 * b.abs().max(1e-12));
        let loss_is_mse = parts.iter().all(|(_, m)| same(m.loss, m.mse));
        let mut columns: Vec<(&str, Score)> = Vec::new();
        if !loss_is_mse {
            columns.push(("loss", |m| Some(m.loss)));
        }
        columns.push(("accuracy", |m| m.accuracy));
        columns.push(("mse", |m| m.mse));
        columns.push(("mae", |m| m.mae));
        columns.push(("r2", |m| m.r2.filter(|r| r.is_finite())));
        columns.retain(|(_, get)| parts.iter().any(|(_, m)| get(m).is_some()));
        let mut rows = vec![std::iter::once("").chain(columns.iter().map(|(n, _)| *n)).map(String::from).collect()];
        for (name, m) in &parts {
            let cells = columns.iter().map(|(_, get)| get(m).map_or("-".into(), |v| significant(v, 4)));
            rows.push(std::iter::once(name.to_string()).chain(cells).collect::<Vec<_>>());
        }
        let widths: Vec<usize> =
            (0..rows[0].len()).map(|j| rows.iter().map(|r| r[j].chars().count()).max().unwrap_or(0)).collect();
        let mut out = String::new();
        for r in &rows {
            let line: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            out += line.join("  ").trim_end();
            out.push('\n');
        }
        let which = if self.val.is_some() { "validation" } else { "training" };
        out += &if self.best_update == self.updates {
            format!("kept: the weights at update {}, the last and the best ({which} loss)\n", self.updates)
        } else {
            format!(
                "kept: the best weights, at update {} of {} ({which} loss lowest there)\n",
                self.best_update, self.updates
            )
        };
        out +=
            &format!("trained {} epochs, {} updates in {} s", self.epochs, self.updates, significant(self.seconds, 3));
        if !self.finished {
            out += " (stopped before the end; --resume continues)";
        }
        out.push('\n');
        if let Some(run) = &self.run {
            out += &format!("run folder: {}\n", run.display());
        }
        if let (Some(w), Some(b)) = (&self.weights, self.bias) {
            out += "weights (in the features' own units):\n";
            let width = w.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0).max(4);
            for (n, v) in w {
                out += &format!("  {n:<width$}  {}\n", significant(*v, 4));
            }
            out += &format!("  {:<width$}  {}\n", "bias", significant(b, 4));
        }
        out
    }

    /// As `ftheta train --json` prints it: `train_loss`, `train_accuracy` or `train_mse`, …, the
    /// same for `val_` and `test_` (`val_loss` is null without validation rows; a test part without
    /// rows is left out), `epochs`, `updates`, `best_update`, `seconds`, `finished`, `run`, and
    /// `weights` (an object, feature name to coefficient) with `bias` for linear models.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        put_metrics(&mut out, "train_", Some(&self.train));
        put_metrics(&mut out, "val_", self.val.as_ref());
        if let Some(test) = &self.test {
            put_metrics(&mut out, "test_", Some(test));
        }
        out.insert("epochs".into(), json!(self.epochs));
        out.insert("updates".into(), json!(self.updates));
        out.insert("best_update".into(), json!(self.best_update));
        out.insert("seconds".into(), json!(self.seconds));
        out.insert("finished".into(), json!(self.finished));
        if let Some(run) = &self.run {
            out.insert("run".into(), json!(run.display().to_string()));
        }
        if let (Some(w), Some(b)) = (&self.weights, self.bias) {
            out.insert("weights".into(), Value::Object(w.iter().map(|(n, w)| (n.clone(), json!(w))).collect()));
            out.insert("bias".into(), json!(b));
        }
        Value::Object(out)
    }
}

/// A saved model's scores on rows of a data set ([`crate::SavedRun::evaluate`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// The scores.
    pub metrics: Metrics,
    /// The rows scored.
    pub rows: usize,
    /// Which rows: a part of the run's own split, or every row of the source.
    pub part: Part,
}

impl Evaluation {
    /// For people: which rows were scored, then the scores to 4 significant digits.
    pub fn to_table(&self, source: &str) -> String {
        let which = match self.part {
            Part::All => format!("every row of {source}"),
            p => format!("the run's {p} part of {source}"),
        };
        format!("scored {which}: {} rows\n{}\n", self.rows, self.metrics)
    }

    /// As `ftheta eval --json` prints it: `loss`, `accuracy` or `mse`, `mae`, `r2`, `rows`, and
    /// `part` (`train`, `validation`, `test` or `all`).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        put_metrics(&mut out, "", Some(&self.metrics));
        out.insert("rows".into(), json!(self.rows));
        out.insert("part".into(), json!(self.part.to_string()));
        Value::Object(out)
    }
}

/// Which rows of its data a saved run is scored on (`ftheta eval --part`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The run's training rows.
    Train,
    /// The run's validation rows.
    Validation,
    /// The run's test rows (for MNIST, t10k), which training never saw.
    Test,
    /// Every row of the source.
    All,
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Part::Train => "train",
            Part::Validation => "validation",
            Part::Test => "test",
            Part::All => "all",
        })
    }
}

impl std::str::FromStr for Part {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "train" => Ok(Part::Train),
            "validation" | "val" => Ok(Part::Validation),
            "test" => Ok(Part::Test),
            "all" => Ok(Part::All),
            other => Err(format!("'{other}' is not a part; expected train, validation, test or all")),
        }
    }
}

/// Feature name → coefficient, as a JSON object (`ftheta solve --json`'s `weights`).
pub fn weights_json(names: &[String], w: &[f64]) -> Value {
    Value::Object(names.iter().zip(w).map(|(n, w)| (n.clone(), json!(w))).collect())
}

/// `{prefix}loss` (null without metrics) and each finite score among accuracy, MSE, MAE and R².
fn put_metrics(out: &mut Map<String, Value>, prefix: &str, m: Option<&Metrics>) {
    let Some(m) = m else {
        out.insert(format!("{prefix}loss"), Value::Null);
        return;
    };
    out.insert(format!("{prefix}loss"), json!(m.loss));
    for (k, v) in m.scores() {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            out.insert(format!("{prefix}{k}"), json!(v));
        }
    }
}
