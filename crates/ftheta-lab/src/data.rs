//! The built-in data: the deliveries table shipped with the repository (compiled into the binary,
//! so the lab runs from any folder with no download), split once into training, validation and
//! test rows by the lab's seed.

use anyhow::{Context, Result};
use ftheta_data::{builtin, split_indices, Split, Table};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The day names in week order (the table's one-hot columns are `day=Mon` … `day=Sun`).
pub const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The deliveries table and its 60/20/20 split.
pub struct Deliveries {
    /// Every row: target `time_to_delivery` (minutes); features `hour`, `day=…` one-hot,
    /// `distance` (miles), `item_01` … `item_27`.
    pub table: Table,
    /// Training, validation and test rows.
    pub split: Split,
}

impl Deliveries {
    /// The built-in table (`data/deliveries.csv`, modeldata, MIT; see `data/README.md`), compiled
    /// into ftheta-data, split with `seed`.
    pub fn load(seed: u64) -> Result<Deliveries> {
        let table = builtin::deliveries().context("the built-in deliveries table")?;
        let split = split_indices(table.n_rows, 0.6, 0.2, 0.2, seed)?;
        Ok(Deliveries { table, split })
    }

    /// The index of the feature column `name`.
    pub fn col(&self, name: &str) -> Result<usize> {
        self.table
            .feature_names
            .iter()
            .position(|n| n == name)
            .with_context(|| format!("the deliveries table has no column '{name}'"))
    }

    /// Column `name` at `rows`.
    pub fn values(&self, name: &str, rows: &[usize]) -> Result<Vec<f64>> {
        let (j, d) = (self.col(name)?, self.table.n_features());
        Ok(rows.iter().map(|&i| self.table.features[i * d + j]).collect())
    }

    /// Delivery time (minutes) at `rows`.
    pub fn target(&self, rows: &[usize]) -> Vec<f64> {
        rows.iter().map(|&i| self.table.targets[i]).collect()
    }

    /// 1 on Saturday and Sunday (the lecture's 0/1 "holiday" feature), at `rows`.
    pub fn weekend(&self, rows: &[usize]) -> Result<Vec<f64>> {
        let (sat, sun) = (self.values("day=Sat", rows)?, self.values("day=Sun", rows)?);
        Ok(sat.iter().zip(&sun).map(|(a, b)| a + b).collect())
    }
}

/// Up to `n` of `rows`, chosen by `seed` (for quick runs and for scatter plots that would
/// otherwise draw ten thousand dots).
pub fn subsample(rows: &[usize], n: usize, seed: u64) -> Vec<usize> {
    if rows.len() <= n {
        return rows.to_vec();
    }
    let mut r = rows.to_vec();
    r.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5eed));
    r.truncate(n);
    r
}

/// Per-column `(mean, std)` of `values` (population std; 1 for a constant column).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, if var > 0.0 { var.sqrt() } else { 1.0 })
}
