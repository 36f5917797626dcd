//! Seeded train/validation/test splits, and per-feature standardization fitted on the training part
//! only, so that no statistic of the held-out data leaks into training.

use ftheta_core::Tensor;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// Row indices of the three parts of a split; together they hold each row at most once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Rows to train on.
    pub train: Vec<usize>,
    /// Rows to choose hyperparameters and stop early with.
    pub validation: Vec<usize>,
    /// Rows to report the final score on.
    pub test: Vec<usize>,
}

/// Shuffles `0..n` with `seed` and cuts it into parts of the given fractions of `n`.
///
/// Each fraction must be in [0, 1] and their sum at most 1 (rows beyond the sum are left out).
/// Boundaries are rounded cumulatively, so fractions that sum to 1 use every row, and the sizes
/// differ from the exact products by less than one row each.
pub fn split_indices(n: usize, train: f64, validation: f64, test: f64, seed: u64) -> Result<Split> {
    for (name, value) in [("train", train), ("validation", validation), ("test", test)] {
        if !(0.0..=1.0).contains(&value) {
            return Err(DataError::BadFraction { name, value });
        }
    }
    let sum = train + validation + test;
    if sum > 1.0 + 1e-9 {
        return Err(DataError::FractionSum { sum });
    }
    let cut = |f: f64| ((n as f64 * f).round() as usize).min(n);
    let (a, b) = (cut(train), cut(train + validation));
    // Snap to the end when the fractions are meant to cover everything but rounding fell short.
    let c = if (sum - 1.0).abs() <= 1e-9 { n } else { cut(sum) };
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    Ok(Split { train: order[..a].to_vec(), validation: order[a..b].to_vec(), test: order[b..c.max(b)].to_vec() })
}

/// Per-feature mean and standard deviation: `transform` maps each feature to `(x - mean) / std`.
///
/// A feature whose standard deviation is zero (a constant column) gets `std = 1`, so it becomes
/// all zeros instead of NaN. Serializable, to be saved with the model it was fitted for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Mean of each feature over the fitting rows.
    pub mean: Vec<f64>,
    /// Population standard deviation of each feature over the fitting rows (1 where it was 0).
    pub std: Vec<f64>,
}

impl Standardizer {
    /// Fits on the rows `rows` of `features` (row-major, `n_features` a row): pass the training
    /// indices of a [`Split`]. `rows: None` uses every row.
    pub fn fit(features: &[f64], n_features: usize, rows: Option<&[usize]>) -> Result<Self> {
        let n_rows = check_width(features.len(), n_features)?;
        let all: Vec<usize>;
        let rows = match rows {
            Some(r) => r,
            None => {
                all = (0..n_rows).collect();
                &all
            }
        };
        if rows.is_empty() {
            return Err(DataError::Shape("cannot fit a standardizer on zero rows".into()));
        }
        if let Some(bad) = rows.iter().find(|&&r| r >= n_rows) {
            return Err(DataError::Shape(format!("row {bad} is out of range for {n_rows} rows")));
        }
        let d = n_features;
        let (mut mean, mut std) = moments(features, d, rows, &vec![1.0; d]);
        // Values near f64's limits overflow the sums (1e200 squared); such columns are measured
        // again in units of their largest magnitude, which no value exceeds.
        let overflowed: Vec<usize> = (0..d).filter(|&j| !(mean[j].is_finite() && std[j].is_finite())).collect();
        if !overflowed.is_empty() {
            let mut scale = vec![1.0f64; d];
            for &j in &overflowed {
                scale[j] = rows.iter().map(|&r| features[r * d + j].abs()).fold(0.0, f64::max);
            }
            let (m, s) = moments(features, d, rows, &scale);
            for &j in &overflowed {
                mean[j] = m[j] * scale[j];
                std[j] = s[j] * scale[j];
            }
        }
        let std = std.into_iter().map(|s| if s > 0.0 && s.is_finite() { s } else { 1.0 }).collect();
        Ok(Standardizer { mean, std })
    }

    /// Fits on every row of a `[N, D]` tensor.
    pub fn fit_tensor(x: &Tensor) -> Result<Self> {
        let d = tensor_width(x)?;
        Self::fit(&x.to_vec_f64(), d, None)
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.mean.len()
    }

    /// Standardizes row-major `features` in place.
    pub fn transform(&self, features: &mut [f64]) -> Result<()> {
        check_width(features.len(), self.n_features())?;
        for row in features.chunks_exact_mut(self.n_features().max(1)) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = (*x - m) / s;
            }
        }
        Ok(())
    }

    /// Undoes [`Standardizer::transform`] in place.
    pub fn inverse_transform(&self, features: &mut [f64]) -> Result<()> {
        check_width(features.len(), self.n_features())?;
        for row in features.chunks_exact_mut(self.n_features().max(1)) {
            for ((x, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *x = *x * s + m;
            }
        }
        Ok(())
    }

    /// A standardized copy of a `[N, D]` tensor.
    pub fn transform_tensor(&self, x: &Tensor) -> Result<Tensor> {
        let d = tensor_width(x)?;
        if d != self.n_features() {
            return Err(DataError::Shape(format!("the standardizer has {} features, the data {d}", self.n_features())));
        }
        let mut v = x.to_vec_f64();
        self.transform(&mut v)?;
        Ok(Tensor::from_vec(v.into_iter().map(|v| v as f32).collect(), x.shape()))
    }

    /// The weights and bias of a linear model `y = w . x + b` on the original features, from
    /// those learned on standardized ones: `w_j / std_j` and `b - sum_j w_j mean_j / std_j`.
    pub fn unstandardize_linear(&self, weights: &[f64], bias: f64) -> Result<(Vec<f64>, f64)> {
        if weights.len() != self.n_features() {
            return Err(DataError::Shape(format!(
                "{} weights for a standardizer of {} features",
                weights.len(),
                self.n_features()
            )));
        }
        let w: Vec<f64> = weights.iter().zip(&self.std).map(|(w, s)| w / s).collect();
        let b = bias - w.iter().zip(&self.mean).map(|(w, m)| w * m).sum::<f64>();
        Ok((w, b))
    }
}

/// The mean and population standard deviation of each column of `features / scale` over `rows`.
fn moments(features: &[f64], d: usize, rows: &[usize], scale: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut mean = vec![0.0; d];
    for &r in rows {
        for ((m, x), s) in mean.iter_mut().zip(&features[r * d..(r + 1) * d]).zip(scale) {
            *m += x / s;
        }
    }
    mean.iter_mut().for_each(|m| *m /= rows.len() as f64);
    // Two passes rather than sum-of-squares, which cancels catastrophically for large means.
    let mut var = vec![0.0; d];
    for &r in rows {
        for (((v, x), m), s) in var.iter_mut().zip(&features[r * d..(r + 1) * d]).zip(&mean).zip(scale) {
            *v += (x / s - m) * (x / s - m);
        }
    }
    (mean, var.into_iter().map(|v| (v / rows.len() as f64).sqrt()).collect())
}

/// Row-major `values` (one column per name) as `f32`, the type models compute in; a value beyond
/// `f32`'s range, or not finite, is an error naming its column and `source` (a file name).
/// `standardized` says, in the message, that the values were already standardized.
pub fn to_f32(values: &[f64], names: &[String], source: &str, standardized: bool) -> Result<Vec<f32>> {
    let d = names.len().max(1);
    let mut out = Vec::with_capacity(values.len());
    for (i, &v) in values.iter().enumerate() {
        let x = v as f32;
        if !x.is_finite() {
            return Err(DataError::NotF32 {
                source_name: source.to_string(),
                column: names.get(i % d).cloned().unwrap_or_default(),
                value: v,
                standardized,
            });
        }
        out.push(x);
    }
    Ok(out)
}

/// Rows in `len` values of `width` each, or an error when they do not divide.
fn check_width(len: usize, width: usize) -> Result<usize> {
    if width == 0 || len % width != 0 {
        return Err(DataError::Shape(format!("{len} values do not make rows of {width} features")));
    }
    Ok(len / width)
}

fn tensor_width(x: &Tensor) -> Result<usize> {
    match *x.shape() {
        [_, d] => Ok(d),
        ref s => Err(DataError::Shape(format!("expected a [N, D] tensor, not {s:?}"))),
    }
}
