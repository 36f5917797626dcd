//! Data sets that hand out batches by index, and a loader that walks one in (optionally shuffled)
//! batches, with a fresh but reproducible order every epoch.

use ftheta_core::Tensor;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::{DataError, Result};

/// Something that can produce a batch of samples from their indices.
pub trait Dataset {
    /// Number of samples.
    fn len(&self) -> usize;

    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The samples at `indices`, in that order, as `(features, targets)` tensors whose first
    /// dimension is `indices.len()`.
    ///
    /// # Panics
    /// When an index is `>= len()`: indices come from the program (a loader, a split), not from
    /// a user, so a bad one is a bug.
    fn get_batch(&self, indices: &[usize]) -> (Tensor, Tensor);
}

impl<D: Dataset + ?Sized> Dataset for &D {
    fn len(&self) -> usize {
        (**self).len()
    }

    fn get_batch(&self, indices: &[usize]) -> (Tensor, Tensor) {
        (**self).get_batch(indices)
    }
}

/// The targets of an [`InMemoryDataset`].
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// `width` values per sample (regression outputs, one-hot rows, …), batched as `[B, width]`.
    Values {
        /// `len * width` values, sample after sample.
        data: Vec<f32>,
        /// Values per sample.
        width: usize,
    },
    /// One class index per sample, batched as an `f32` tensor of shape `[B]`.
    Classes(Vec<usize>),
}

/// A data set held in memory: features `[N, D]` and targets `[N, K]` or class indices `[N]`.
#[derive(Debug, Clone, PartialEq)]
pub struct InMemoryDataset {
    features: Vec<f32>,
    n_features: usize,
    targets: Targets,
    len: usize,
}

impl InMemoryDataset {
    /// Features (`n_features` per sample, row-major) with `target_width` target values per sample.
    pub fn new(features: Vec<f32>, n_features: usize, targets: Vec<f32>, target_width: usize) -> Result<Self> {
        if target_width == 0 {
            return Err(DataError::Shape("the target width must be at least 1".into()));
        }
        if targets.len() % target_width != 0 {
            return Err(DataError::Shape(format!(
                "{} target values do not divide into rows of {target_width}",
                targets.len()
            )));
        }
        let len = targets.len() / target_width;
        Self::checked(features, n_features, Targets::Values { data: targets, width: target_width }, len)
    }

    /// Features (`n_features` per sample, row-major) with one class index per sample.
    pub fn with_classes(features: Vec<f32>, n_features: usize, classes: Vec<usize>) -> Result<Self> {
        let len = classes.len();
        Self::checked(features, n_features, Targets::Classes(classes), len)
    }

    /// From a features tensor `[N, D]` and a targets tensor `[N, K]` (values) or `[N]` (class
    /// indices, which must be whole numbers >= 0).
    pub fn from_tensors(features: &Tensor, targets: &Tensor) -> Result<Self> {
        let &[_, d] = features.shape() else {
            return Err(DataError::Shape(format!("features must be [N, D], not {:?}", features.shape())));
        };
        let x = features.to_vec();
        match *targets.shape() {
            [_, k] => Self::new(x, d, targets.to_vec(), k),
            [_] => {
                let y = targets.to_vec();
                if let Some(bad) = y.iter().find(|v| !(v.is_finite() && **v >= 0.0 && v.fract() == 0.0)) {
                    return Err(DataError::Shape(format!("1-D targets must be class indices, but {bad} is not")));
                }
                Self::with_classes(x, d, y.into_iter().map(|v| v as usize).collect())
            }
            ref s => Err(DataError::Shape(format!("targets must be [N, K] or [N], not {s:?}"))),
        }
    }

    fn checked(features: Vec<f32>, n_features: usize, targets: Targets, len: usize) -> Result<Self> {
        if features.len() != len * n_features {
            return Err(DataError::Shape(format!(
                "{} feature values do not make {len} rows of {n_features}, as the {len} targets need",
                features.len()
            )));
        }
        Ok(InMemoryDataset { features, n_features, targets, len })
    }

    /// Features per sample.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// All features, row-major.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// The targets.
    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    /// For class targets, one more than the largest class index (0 when there are no samples).
    pub fn n_classes(&self) -> Option<usize> {
        match &self.targets {
            Targets::Classes(c) => Some(c.iter().max().map_or(0, |m| m + 1)),
            Targets::Values { .. } => None,
        }
    }

    /// A new data set of the samples at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        if let Some(bad) = indices.iter().find(|&&i| i >= self.len) {
            return Err(DataError::Shape(format!("index {bad} is out of range for {} samples", self.len)));
        }
        let (features, targets) = self.gather(indices);
        Ok(InMemoryDataset { features, n_features: self.n_features, targets, len: indices.len() })
    }

    /// Every sample, in order, as one batch.
    pub fn tensors(&self) -> (Tensor, Tensor) {
        self.get_batch(&(0..self.len).collect::<Vec<_>>())
    }

    fn gather(&self, indices: &[usize]) -> (Vec<f32>, Targets) {
        let d = self.n_features;
        let mut x = Vec::with_capacity(indices.len() * d);
        for &i in indices {
            x.extend_from_slice(&self.features[i * d..(i + 1) * d]);
        }
        let y = match &self.targets {
            Targets::Values { data, width } => {
                let k = *width;
                let mut y = Vec::with_capacity(indices.len() * k);
                for &i in indices {
                    y.extend_from_slice(&data[i * k..(i + 1) * k]);
                }
                Targets::Values { data: y, width: k }
            }
            Targets::Classes(c) => Targets::Classes(indices.iter().map(|&i| c[i]).collect()),
        };
        (x, y)
    }
}

impl Dataset for InMemoryDataset {
    fn len(&self) -> usize {
        self.len
    }

    fn get_batch(&self, indices: &[usize]) -> (Tensor, Tensor) {
        if let Some(bad) = indices.iter().find(|&&i| i >= self.len) {
            panic!("get_batch: index {bad} is out of range for {} samples", self.len);
        }
        let b = indices.len();
        let (x, y) = self.gather(indices);
        let y = match y {
            Targets::Values { data, width } => Tensor::from_vec(data, &[b, width]),
            Targets::Classes(c) => Tensor::from_vec(c.into_iter().map(|v| v as f32).collect(), &[b]),
        };
        (Tensor::from_vec(x, &[b, self.n_features]), y)
    }
}

/// Walks a [`Dataset`] in batches. Unshuffled, every epoch is `0..len` in order; shuffled, the
/// order of epoch `e` depends only on the seed and `e`, so a run can be repeated or resumed.
#[derive(Debug, Clone)]
pub struct DataLoader<D> {
    dataset: D,
    batch_size: Option<usize>,
    seed: Option<u64>,
    drop_last: bool,
    next_epoch: u64,
}

impl<D: Dataset> DataLoader<D> {
    /// A loader of `batch_size` samples a batch, in order, keeping a short last batch.
    pub fn new(dataset: D, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(DataError::ZeroBatchSize);
        }
        Ok(DataLoader { dataset, batch_size: Some(batch_size), seed: None, drop_last: false, next_epoch: 0 })
    }

    /// A loader whose one batch is the whole data set (full-batch gradient descent).
    pub fn full_batch(dataset: D) -> Self {
        DataLoader { dataset, batch_size: None, seed: None, drop_last: false, next_epoch: 0 }
    }

    /// Shuffles every epoch, with orders drawn from `seed`.
    pub fn shuffled(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Leaves out a last batch smaller than the batch size (it would weigh its few samples more).
    pub fn drop_last(mut self, on: bool) -> Self {
        self.drop_last = on;
        self
    }

    /// The data set.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    /// Samples in a full batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size.unwrap_or(self.dataset.len()).max(1)
    }

    /// Number of batches in an epoch.
    pub fn len(&self) -> usize {
        let (n, b) = (self.dataset.len(), self.batch_size());
        if self.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// Whether an epoch has no batches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sample order of epoch `epoch`.
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if let Some(seed) = self.seed {
            // One ChaCha stream per epoch: independent orders, any epoch computable directly.
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(epoch);
            order.shuffle(&mut rng);
        }
        order
    }

    /// The batches of epoch `epoch`, without touching the loader's epoch counter.
    pub fn epoch(&self, epoch: u64) -> Batches<'_, D> {
        let mut order = self.order(epoch);
        order.truncate(self.len() * self.batch_size());
        Batches { dataset: &self.dataset, order, batch_size: self.batch_size(), pos: 0 }
    }

    /// The batches of the next epoch (0 first), advancing the counter; `for (x, y) in &mut loader`
    /// does the same.
    pub fn next_epoch(&mut self) -> Batches<'_, D> {
        let e = self.next_epoch;
        self.next_epoch += 1;
        self.epoch(e)
    }

    /// How many epochs [`DataLoader::next_epoch`] has started.
    pub fn epochs_started(&self) -> u64 {
        self.next_epoch
    }
}

impl<'a, D: Dataset> IntoIterator for &'a mut DataLoader<D> {
    type Item = (Tensor, Tensor);
    type IntoIter = Batches<'a, D>;

    fn into_iter(self) -> Batches<'a, D> {
        self.next_epoch()
    }
}

/// The batches of one epoch, as `(features, targets)`.
#[derive(Debug)]
pub struct Batches<'a, D> {
    dataset: &'a D,
    order: Vec<usize>,
    batch_size: usize,
    pos: usize,
}

impl<D: Dataset> Batches<'_, D> {
    /// The sample indices of this epoch's batches, in order (the tail a dropped last batch would
    /// have held is not included).
    pub fn indices(&self) -> &[usize] {
        &self.order
    }
}

impl<D: Dataset> Iterator for Batches<'_, D> {
    type Item = (Tensor, Tensor);

    fn next(&mut self) -> Option<(Tensor, Tensor)> {
        if self.pos >= self.order.len() {
            return None;
        }
        let end = (self.pos + self.batch_size).min(self.order.len());
        let batch = self.dataset.get_batch(&self.order[self.pos..end]);
        self.pos = end;
        Some(batch)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = (self.order.len() - self.pos).div_ceil(self.batch_size);
        (n, Some(n))
    }
}

impl<D: Dataset> ExactSizeIterator for Batches<'_, D> {}
