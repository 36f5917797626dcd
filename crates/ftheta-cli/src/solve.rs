//! `ftheta solve`: the least-squares line through the data in closed form.

use anyhow::{bail, Result};
use ftheta_train::run::DataConfig;
use ftheta_train::source::{categorical_columns, drop_first_levels, load, Loaded};
use ftheta_train::{least_squares, weights_json};
use serde_json::json;

use crate::args::DataArgs;

/// Solves for the weights and bias of `y = w·x + b` on every row, in the features' units.
pub fn solve(a: &DataArgs, as_json: bool) -> Result<()> {
    let cfg = DataConfig {
        source: a.data.clone(),
        target: a.target.clone(),
        features: a.features.clone(),
        drop: a.drop.clone(),
        categorical: a.categorical.clone(),
        classification: false,
        split: [1.0, 0.0, 0.0],
        standardize: false,
    };
    let mut t = match load(&cfg, true)? {
        Loaded::Table(t) => t,
        Loaded::Mnist(_) => bail!("--data: solve needs a table with a numeric target, not an image folder"),
    };
    drop_first_levels(&mut t, &categorical_columns(&cfg));
    let names = &t.feature_names;
    let s = least_squares(&t.features, &t.targets, t.n_rows, t.n_features()).map_err(|e| {
        // Name the offending column rather than its index.
        let mut msg = e.to_string();
        for (k, n) in names.iter().enumerate().rev() {
            msg = msg.replace(&format!("column {k} "), &format!("column '{n}' "));
        }
        anyhow::anyhow!("{}", msg.replace(&format!("column {} ", names.len()), "the bias column "))
    })?;
    let out = json!({
        "weights": weights_json(&t.feature_names, &s.weights),
        "bias": s.bias,
        "mse": s.mse,
        "rows": t.n_rows,
    });
    if as_json {
        println!("{out}");
    } else {
        for (n, w) in t.feature_names.iter().zip(&s.weights) {
            println!("{n} {w}");
        }
        println!("bias {}\nmse {}", s.bias, s.mse);
    }
    Ok(())
}
