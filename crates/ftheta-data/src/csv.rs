//! Reading a CSV file into a numeric [`Table`]: header row, commas, plain or gzip, UTF-8 with or
//! without a byte-order mark, LF or CRLF. Categorical columns are one-hot encoded; every other cell
//! must be a finite number, and the first one that is not is reported with its file, line and column.

use std::collections::BTreeSet;
use std::path::Path;

use ::csv::{ReaderBuilder, StringRecord, Trim};
use ftheta_core::Tensor;

use crate::dataset::InMemoryDataset;
use crate::error::{DataError, Result};
use crate::io::{display_name, read_bytes};
use crate::limits::{MAX_CATEGORIES, MAX_TABLE_VALUES};
use crate::split::to_f32;

/// What to take from a CSV file and how to read it. [`CsvOptions::default`] reads every column as
/// a numeric feature, with no target.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    /// The column to predict; it is never also a feature.
    pub target: Option<String>,
    /// The feature columns to keep, in this order; `None` keeps every column but the target.
    pub features: Option<Vec<String>>,
    /// Columns to leave out of the features.
    pub drop: Vec<String>,
    /// Columns of labels rather than numbers, one-hot encoded as `name=value` columns with the
    /// values sorted. A categorical target makes the table a classification one.
    pub categorical: Vec<String>,
    /// The target holds classes: class indices (whole numbers >= 0) or labels, which are numbered
    /// in sorted order.
    pub classification: bool,
    /// The first row holds column names (the default).
    pub has_header: bool,
    /// Names to use instead of the header's (which is then skipped), or for a file without one.
    /// Without a header and without names, columns are called `column_1`, `column_2`, ….
    pub column_names: Option<Vec<String>>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            target: None,
            features: None,
            drop: Vec::new(),
            categorical: Vec::new(),
            classification: false,
            has_header: true,
            column_names: None,
        }
    }
}

impl CsvOptions {
    /// Sets the target column.
    pub fn target(mut self, name: impl Into<String>) -> Self {
        self.target = Some(name.into());
        self
    }

    /// Keeps only these feature columns, in this order.
    pub fn features<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.features = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Leaves these columns out of the features.
    pub fn drop<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.drop.extend(names.into_iter().map(Into::into));
        self
    }

    /// Declares these columns categorical.
    pub fn categorical<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.categorical.extend(names.into_iter().map(Into::into));
        self
    }

    /// Makes the target a class label.
    pub fn classification(mut self, on: bool) -> Self {
        self.classification = on;
        self
    }

    /// Reads a file that has no header row, naming its columns.
    pub fn no_header<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.has_header = false;
        self.column_names = Some(names.into_iter().map(Into::into).collect());
        self
    }
}

/// A numeric table: features row-major, and an optional target column.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// One name per feature column; a one-hot column is called `column=value`.
    pub feature_names: Vec<String>,
    /// `n_rows x feature_names.len()` values, row after row.
    pub features: Vec<f64>,
    /// The target column's name, when there is one.
    pub target_name: Option<String>,
    /// One value per row (a class index for classification); empty without a target.
    pub targets: Vec<f64>,
    /// For classification, the name of each class index; `None` for regression.
    pub class_names: Option<Vec<String>>,
    /// Number of data rows.
    pub n_rows: usize,
}

impl Table {
    /// Number of feature columns.
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Number of classes, for a classification table.
    pub fn n_classes(&self) -> Option<usize> {
        self.class_names.as_ref().map(Vec::len)
    }

    /// The features of row `i`, or `None` past the end.
    pub fn row(&self, i: usize) -> Option<&[f64]> {
        let d = self.n_features();
        self.features.get(i * d..(i + 1) * d)
    }

    /// The features as an `f32` tensor of shape `[n_rows, n_features]`.
    pub fn features_tensor(&self) -> Tensor {
        Tensor::from_vec(self.features.iter().map(|&v| v as f32).collect(), &[self.n_rows, self.n_features()])
    }

    /// The target as an `f32` tensor of shape `[n_rows, 1]`, when there is one.
    pub fn targets_tensor(&self) -> Option<Tensor> {
        self.target_name.as_ref()?;
        Some(Tensor::from_vec(self.targets.iter().map(|&v| v as f32).collect(), &[self.n_rows, 1]))
    }

    /// Features `[N, D]` and targets `[N, 1]`, both `f32`; an error when the table has no target.
    pub fn to_tensors(&self) -> Result<(Tensor, Tensor)> {
        let y = self.targets_tensor().ok_or_else(no_target)?;
        Ok((self.features_tensor(), y))
    }

    /// The class index of each row, for a classification table.
    pub fn class_indices(&self) -> Option<Vec<usize>> {
        self.class_names.as_ref()?;
        Some(self.targets.iter().map(|&v| v as usize).collect())
    }

    /// An in-memory data set: class-index targets for classification, `[N, 1]` targets otherwise.
    /// A value beyond the range of `f32` is an error naming its column.
    pub fn to_dataset(&self) -> Result<InMemoryDataset> {
        let x = to_f32(&self.features, &self.feature_names, "the table", false)?;
        match self.class_indices() {
            Some(classes) => InMemoryDataset::with_classes(x, self.n_features(), classes),
            None if self.target_name.is_some() => {
                let name = self.target_name.clone().into_iter().collect::<Vec<_>>();
                InMemoryDataset::new(x, self.n_features(), to_f32(&self.targets, &name, "the table", false)?, 1)
            }
            None => Err(no_target()),
        }
    }
}

fn no_target() -> DataError {
    DataError::Shape("the table has no target column; name one with the target option".into())
}

/// Reads the CSV file at `path` (gzip-compressed when its name ends in `.gz` or its bytes say so).
pub fn read_csv(path: impl AsRef<Path>, options: &CsvOptions) -> Result<Table> {
    let path = path.as_ref();
    parse_csv(&display_name(path), &read_bytes(path)?, options)
}

/// Parses CSV text already in memory; `file` is the name used in error messages.
pub fn parse_csv(file: &str, bytes: &[u8], options: &CsvOptions) -> Result<Table> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(DataError::Empty { file: file.into() });
    }
    let (names, rows) = records(file, bytes, options)?;
    let plan = Plan::new(file, &names, &rows, options)?;
    plan.build(file, &names, &rows)
}

/// Column names and the data rows, checked to be rectangular.
pub(crate) fn records(file: &str, bytes: &[u8], options: &CsvOptions) -> Result<(Vec<String>, Vec<StringRecord>)> {
    // Flexible, so that a ragged row gets our message (with the header's width) instead of the
    // parser's; trimmed, so that `1, 2` reads as numbers.
    let reader = ReaderBuilder::new().has_headers(false).flexible(true).trim(Trim::All).from_reader(bytes);
    let mut rows = Vec::new();
    for rec in reader.into_records() {
        rows.push(rec.map_err(|e| DataError::Csv {
            file: file.into(),
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        })?);
    }
    let (header, header_line) = if options.has_header && !rows.is_empty() {
        let h = rows.remove(0);
        let line = line_of(&h);
        (Some(h), line)
    } else {
        (None, 0)
    };
    let width = header.as_ref().or(rows.first()).map_or(0, StringRecord::len);
    if rows.is_empty() {
        return Err(if header.is_some() {
            DataError::HeaderOnly { file: file.into() }
        } else {
            DataError::Empty { file: file.into() }
        });
    }
    let names: Vec<String> = match (&options.column_names, &header) {
        (Some(given), _) if given.len() != width => {
            return Err(DataError::Options {
                file: file.into(),
                message: format!("{} column names were given, but the file has {width} columns", given.len()),
            })
        }
        (Some(given), _) => given.clone(),
        (None, Some(h)) => h.iter().map(str::to_string).collect(),
        (None, None) => (1..=width).map(|i| format!("column_{i}")).collect(),
    };
    for (j, name) in names.iter().enumerate() {
        if name.is_empty() {
            return Err(DataError::EmptyColumnName { file: file.into(), line: header_line, position: j + 1 });
        }
        if let Some(i) = names[..j].iter().position(|n| n == name) {
            return Err(DataError::DuplicateColumn {
                file: file.into(),
                line: header_line,
                column: name.clone(),
                first: i + 1,
                second: j + 1,
            });
        }
    }
    if let Some(bad) = rows.iter().find(|r| r.len() != width) {
        return Err(DataError::Ragged { file: file.into(), line: line_of(bad), found: bad.len(), expected: width });
    }
    Ok((names, rows))
}

pub(crate) fn line_of(rec: &StringRecord) -> u64 {
    rec.position().map_or(0, |p| p.line())
}

/// One output feature source: a numeric column, or a categorical one with its sorted values.
enum Source {
    Numeric(usize),
    OneHot(usize, Vec<String>),
}

/// Which columns become what, resolved from the options before any cell is converted.
struct Plan {
    sources: Vec<Source>,
    target: Option<usize>,
    classification: bool,
}

impl Plan {
    fn new(file: &str, names: &[String], rows: &[StringRecord], o: &CsvOptions) -> Result<Plan> {
        let find = |name: &str, role: &'static str| {
            names.iter().position(|n| n == name).ok_or_else(|| DataError::UnknownColumn {
                file: file.into(),
                column: name.into(),
                role,
                available: names.to_vec(),
            })
        };
        let conflict = |message: String| DataError::Options { file: file.into(), message };
        let target = o.target.as_deref().map(|t| find(t, "target")).transpose()?;
        let categorical = o.categorical.iter().map(|c| find(c, "categorical")).collect::<Result<BTreeSet<_>>>()?;
        let mut columns = match &o.features {
            Some(list) => list.iter().map(|f| find(f, "feature")).collect::<Result<Vec<_>>>()?,
            None => (0..names.len()).filter(|&j| Some(j) != target).collect(),
        };
        for (k, &j) in columns.iter().enumerate() {
            if Some(j) == target {
                return Err(conflict(format!("column '{}' is the target, so it cannot also be a feature", names[j])));
            }
            if columns[..k].contains(&j) {
                return Err(conflict(format!("column '{}' is listed twice among the features", names[j])));
            }
        }
        for d in &o.drop {
            let j = find(d, "drop")?;
            if Some(j) == target {
                return Err(conflict(format!("column '{d}' is the target, so it cannot be dropped")));
            }
            columns.retain(|&c| c != j);
        }
        // An explicit empty list asks for no features (a node table whose features are made
        // afterwards); columns that all went by dropping are a mistake.
        if columns.is_empty() && !matches!(&o.features, Some(f) if f.is_empty()) {
            return Err(DataError::NoFeatures {
                file: file.into(),
                target: target.map(|t| names[t].clone()),
                dropped: o.drop.clone(),
            });
        }
        let sources = columns
            .into_iter()
            .map(|j| {
                if !categorical.contains(&j) {
                    return Ok(Source::Numeric(j));
                }
                let values = distinct(file, &names[j], rows, j)?;
                Ok(Source::OneHot(j, values))
            })
            .collect::<Result<Vec<_>>>()?;
        let classification = o.classification || target.is_some_and(|t| categorical.contains(&t));
        Ok(Plan { sources, target, classification })
    }

    fn build(&self, file: &str, names: &[String], rows: &[StringRecord]) -> Result<Table> {
        let mut feature_names = Vec::new();
        for s in &self.sources {
            match s {
                Source::Numeric(j) => feature_names.push(names[*j].clone()),
                Source::OneHot(j, values) => feature_names.extend(values.iter().map(|v| format!("{}={v}", names[*j]))),
            }
        }
        let d = feature_names.len();
        if rows.len() as u64 * d as u64 > MAX_TABLE_VALUES {
            let widest = self
                .sources
                .iter()
                .filter_map(|s| match s {
                    Source::OneHot(j, values) => Some((names[*j].clone(), values.len())),
                    Source::Numeric(_) => None,
                })
                .max_by_key(|(_, n)| *n);
            return Err(DataError::TableTooLarge {
                file: file.into(),
                rows: rows.len(),
                columns: d,
                limit: MAX_TABLE_VALUES,
                widest,
            });
        }
        let mut features = vec![0.0; rows.len() * d];
        for (row, out) in rows.iter().zip(features.chunks_exact_mut(d.max(1))) {
            let mut c = 0;
            for s in &self.sources {
                match s {
                    Source::Numeric(j) => {
                        out[c] = number(file, &names[*j], rows, row, *j)?;
                        c += 1;
                    }
                    Source::OneHot(j, values) => {
                        // Always found: `values` was collected from these very rows.
                        if let Ok(k) = values.binary_search_by(|v| v.as_str().cmp(&row[*j])) {
                            out[c + k] = 1.0;
                        }
                        c += values.len();
                    }
                }
            }
        }
        let (targets, class_names) = match self.target {
            None => (Vec::new(), None),
            Some(t) if self.classification => {
                let (ys, classes) = classes(file, &names[t], rows, t)?;
                (ys, Some(classes))
            }
            Some(t) => (rows.iter().map(|r| number(file, &names[t], rows, r, t)).collect::<Result<_>>()?, None),
        };
        Ok(Table {
            feature_names,
            features,
            target_name: self.target.map(|t| names[t].clone()),
            targets,
            class_names,
            n_rows: rows.len(),
        })
    }
}

/// The sorted distinct values of column `j`; an empty cell is an error, not a category, and more
/// than [`MAX_CATEGORIES`] values are refused.
fn distinct(file: &str, name: &str, rows: &[StringRecord], j: usize) -> Result<Vec<String>> {
    let mut set = BTreeSet::new();
    for r in rows {
        if r[j].is_empty() {
            return Err(DataError::MissingValue { file: file.into(), line: line_of(r), column: name.into() });
        }
        if set.insert(&r[j]) && set.len() > MAX_CATEGORIES {
            return Err(DataError::TooManyCategories {
                file: file.into(),
                line: line_of(r),
                column: name.into(),
                limit: MAX_CATEGORIES,
            });
        }
    }
    Ok(set.into_iter().map(str::to_string).collect())
}

/// Cell `j` of `row` as a finite number, or an error that says where and why.
fn number(file: &str, name: &str, rows: &[StringRecord], row: &StringRecord, j: usize) -> Result<f64> {
    let cell = &row[j];
    let at = |value: &str| (file.to_string(), line_of(row), name.to_string(), value.to_string());
    if cell.is_empty() {
        return Err(DataError::MissingValue { file: file.into(), line: line_of(row), column: name.into() });
    }
    match cell.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => {
            let (file, line, column, value) = at(cell);
            Err(DataError::NonFinite { file, line, column, value })
        }
        Err(_) => {
            // Only now scan the column: a stray typo and a column of labels need different advice.
            let any_number = rows.iter().any(|r| r[j].parse::<f64>().is_ok());
            let (file, line, column, value) = at(cell);
            Err(if any_number {
                DataError::NotANumber { file, line, column, value }
            } else {
                DataError::NonNumericColumn { file, line, column, value }
            })
        }
    }
}

/// The most classes a target may have. Class indices name their own class, so one stray large
/// number (an ID column taken for the target) would otherwise allocate a name for every index below.
pub const MAX_CLASSES: usize = 1 << 16;

/// Class indices for column `t` and the name of each class. Numbers must be whole and >= 0 and
/// index themselves; any other label is numbered by its place among the sorted labels.
fn classes(file: &str, name: &str, rows: &[StringRecord], t: usize) -> Result<(Vec<f64>, Vec<String>)> {
    let labels = distinct(file, name, rows, t)?;
    let single = |class: &str| DataError::SingleClass { file: file.into(), column: name.into(), class: class.into() };
    if !labels.iter().all(|l| l.parse::<f64>().is_ok()) {
        if labels.len() < 2 {
            return Err(single(&labels[0]));
        }
        let ys = rows.iter().map(|r| labels.binary_search_by(|l| l.as_str().cmp(&r[t])).unwrap_or(0) as f64).collect();
        return Ok((ys, labels));
    }
    let mut ys = Vec::with_capacity(rows.len());
    for r in rows {
        let v = number(file, name, rows, r, t)?;
        if v < 0.0 || v.fract() != 0.0 {
            return Err(DataError::NotAClassIndex {
                file: file.into(),
                line: line_of(r),
                column: name.into(),
                value: r[t].into(),
            });
        }
        if v >= MAX_CLASSES as f64 {
            return Err(DataError::TooManyClasses {
                file: file.into(),
                line: line_of(r),
                column: name.into(),
                value: r[t].into(),
                limit: MAX_CLASSES,
            });
        }
        ys.push(v);
    }
    // Compared as numbers, so that `1` and `1.0` are one class.
    if ys.iter().all(|&v| v == ys[0]) {
        return Err(single(&ys[0].to_string()));
    }
    let k = ys.iter().fold(0.0f64, |m, &v| m.max(v)) as usize + 1;
    let class_names = (0..k).map(|i| i.to_string()).collect();
    Ok((ys, class_names))
}
