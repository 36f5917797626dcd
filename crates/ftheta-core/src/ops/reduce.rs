//! Reductions: sum, mean, max, min, argmax, argmin, var; over everything or over given dims.
//!
//! Every reduction runs sequentially in a fixed order, so its result does not depend on the number
//! of threads: the same seed gives bit-identical numbers at any `RAYON_NUM_THREADS`.

use crate::layout::{norm_dim, Dims, Layout};
use crate::op::Op;
use crate::{Float, Tensor};

/// Sums a slice with eight independent f64 accumulators (the compiler vectorizes them) and rounds
/// once at the end. In f32, eight running totals were 1.08% off on a sum of ten million 0.1s
/// (each add rounds at the size of the total); in f64 the result is f32's correctly rounded sum or
/// next to it at any length, and the sum still runs at memory speed.
#[inline]
pub(crate) fn sum_slice<T: Float>(s: &[T]) -> T {
    let mut acc = [0f64; 8];
    let chunks = s.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for i in 0..8 {
            acc[i] += c[i].as_f64();
        }
    }
    let mut total = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for &v in rest {
        total += v.as_f64();
    }
    T::from_f64(total)
}

/// Which dims a reduction covers, normalized and sorted; an empty list means all of them.
#[track_caller]
fn reduced_dims(op: &str, dims: &[isize], shape: &[usize]) -> Dims {
    let ndim = shape.len();
    if dims.is_empty() {
        return (0..ndim).collect();
    }
    let mut out: Dims = dims.iter().map(|&d| norm_dim(op, d, ndim, shape)).filter(|&d| d < ndim).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The output shape of a reduction, with reduced dims kept as size 1.
fn keep_shape(shape: &[usize], dims: &[usize]) -> Dims {
    shape.iter().enumerate().map(|(i, &d)| if dims.contains(&i) { 1 } else { d }).collect()
}

fn drop_dims(shape: &[usize], dims: &[usize]) -> Dims {
    shape.iter().enumerate().filter(|(i, _)| !dims.contains(i)).map(|(_, &d)| d).collect()
}

impl<T: Float> Tensor<T> {
    /// Reduces the given dims (sorted, normalized) with `row`, which folds one contiguous run of
    /// the reduced elements. Returns the data in the keep-dim shape's order.
    pub(crate) fn reduce_rows(&self, dims: &[usize], row: impl Fn(&[T]) -> T) -> Vec<T> {
        let shape = self.shape();
        let nd = shape.len();
        let kept: Dims = (0..nd).filter(|d| !dims.contains(d)).collect();
        let outer: usize = kept.iter().map(|&d| shape[d]).product();
        let inner: usize = dims.iter().map(|&d| shape[d]).product();
        if inner == 0 {
            return vec![row(&[]); outer];
        }
        // Permute so the reduced dims come last; when that is already row-major the data is read in
        // place, else it is gathered once.
        let mut perm: Dims = kept.clone();
        perm.extend_from_slice(dims);
        let l = self.layout();
        let pl = Layout {
            shape: perm.iter().map(|&d| l.shape[d]).collect(),
            strides: perm.iter().map(|&d| l.strides[d]).collect(),
            offset: l.offset,
        };
        let st = self.storage();
        if pl.is_contiguous() {
            let data = &st[pl.offset..pl.offset + outer * inner];
            return data.chunks(inner).map(&row).collect();
        }
        let mut buf = Vec::with_capacity(outer * inner);
        pl.for_each_offset(|o| buf.push(st[o]));
        buf.chunks(inner).map(&row).collect()
    }

    /// Sum over leading dims of a contiguous tensor (the bias gradient `[B, N] → [N]`), in a loop
    /// that adds whole rows and vectorizes.
    fn sum_leading(&self, lead: usize) -> Option<Vec<T>> {
        if !self.is_contiguous() {
            return None;
        }
        let n: usize = self.shape()[lead..].iter().product();
        let rows: usize = self.shape()[..lead].iter().product();
        let st = self.storage();
        let data = &st[self.layout().offset..self.layout().offset + rows * n];
        // f64 totals, as in `sum_slice`: a column of 60,000 rows summed in f32 drifts visibly.
        let mut out = vec![0f64; n];
        for r in data.chunks_exact(n.max(1)) {
            out.iter_mut().zip(r).for_each(|(o, &v)| *o += v.as_f64());
        }
        Some(out.into_iter().map(T::from_f64).collect())
    }

    /// The sum of all elements, as a zero-dimensional tensor.
    pub fn sum(&self) -> Self {
        self.sum_dims(&[], false)
    }

    /// The sum over `dims` (negative counts from the end; empty means all), keeping them as size 1
    /// when `keepdim`.
    #[track_caller]
    pub fn sum_dims(&self, dims: &[isize], keepdim: bool) -> Self {
        let d = reduced_dims("sum", dims, self.shape());
        let keep = keep_shape(self.shape(), &d);
        if d.len() == self.ndim() {
            // The whole tensor (a loss's mean, a bias's gradient): one pass, no copy even for a
            // strided or broadcast view.
            let total = if self.is_contiguous() {
                self.with_contiguous(sum_slice)
            } else {
                let st = self.storage();
                let mut acc = 0f64;
                self.layout().for_each_offset(|o| acc += st[o].as_f64());
                T::from_f64(acc)
            };
            let out_shape = if keepdim { keep.clone() } else { Dims::new() };
            let op = Self::track(&[self]).then(|| Op::Sum(self.clone(), keep));
            return Self::from_parts(vec![total], &out_shape, op);
        }
        let leading = !d.is_empty() && d.iter().enumerate().all(|(i, &x)| i == x) && d.len() < self.ndim();
        let data = match leading.then(|| self.sum_leading(d.len())).flatten() {
            Some(v) => v,
            None => self.reduce_rows(&d, sum_slice),
        };
        let out_shape = if keepdim { keep.clone() } else { drop_dims(self.shape(), &d) };
        let op = Self::track(&[self]).then(|| Op::Sum(self.clone(), keep));
        Self::from_parts(data, &out_shape, op)
    }

    /// The mean of all elements.
    pub fn mean(&self) -> Self {
        self.mean_dims(&[], false)
    }

    /// The mean over `dims` (empty means all).
    #[track_caller]
    pub fn mean_dims(&self, dims: &[isize], keepdim: bool) -> Self {
        let d = reduced_dims("mean", dims, self.shape());
        let count: usize = d.iter().map(|&i| self.shape()[i]).product();
        self.sum_dims(dims, keepdim).mul_scalar(1.0 / count as f64)
    }

    fn extremum(&self, name: &'static str, dims: &[isize], keepdim: bool, is_max: bool) -> Self {
        let d = reduced_dims(name, dims, self.shape());
        if d.iter().any(|&i| self.shape()[i] == 0) {
            panic!("{name}: cannot reduce an empty dimension of shape {:?}", self.shape());
        }
        let keep = keep_shape(self.shape(), &d);
        let data = self.reduce_rows(&d, |r| {
            // NaN propagates, as in PyTorch.
            r.iter().skip(1).fold(r[0], |m, &v| {
                if v.is_nan() || m.is_nan() {
                    T::nan()
                } else if (is_max && v > m) || (!is_max && v < m) {
                    v
                } else {
                    m
                }
            })
        });
        let out_shape = if keepdim { keep.clone() } else { drop_dims(self.shape(), &d) };
        let op = Self::track(&[self]).then(|| Op::Extremum(self.clone(), keep));
        Self::from_parts(data, &out_shape, op)
    }

    /// The largest element (a zero-dimensional tensor); ties share the gradient evenly.
    #[track_caller]
    pub fn max(&self) -> Self {
        self.extremum("max", &[], false, true)
    }

    /// The largest element over `dims`.
    #[track_caller]
    pub fn max_dims(&self, dims: &[isize], keepdim: bool) -> Self {
        self.extremum("max", dims, keepdim, true)
    }

    /// The smallest element (a zero-dimensional tensor).
    #[track_caller]
    pub fn min(&self) -> Self {
        self.extremum("min", &[], false, false)
    }

    /// The smallest element over `dims`.
    #[track_caller]
    pub fn min_dims(&self, dims: &[isize], keepdim: bool) -> Self {
        self.extremum("min", dims, keepdim, false)
    }

    fn arg_extremum(&self, name: &str, dim: isize, keepdim: bool, is_max: bool) -> Self {
        let d = norm_dim(name, dim, self.ndim(), self.shape());
        let d = if self.ndim() == 0 { Dims::new() } else { smallvec::smallvec![d] };
        if d.iter().any(|&i| self.shape()[i] == 0) {
            panic!("{name}: cannot reduce an empty dimension of shape {:?}", self.shape());
        }
        let data = self.reduce_rows(&d, |r| {
            let mut best = 0;
            for (i, &v) in r.iter().enumerate() {
                let b = r[best];
                // The first NaN wins (as in PyTorch); otherwise a strictly better value does.
                let better = (is_max && v > b) || (!is_max && v < b);
                if !b.is_nan() && (v.is_nan() || better) {
                    best = i;
                }
            }
            T::from_f64(best as f64)
        });
        let out_shape = if keepdim { keep_shape(self.shape(), &d) } else { drop_dims(self.shape(), &d) };
        Self::from_parts(data, &out_shape, None)
    }

    /// The index of the largest element along `dim` (the first on ties), as a tensor of whole
    /// numbers in this tensor's element type. Not differentiable.
    #[track_caller]
    pub fn argmax(&self, dim: isize, keepdim: bool) -> Self {
        self.arg_extremum("argmax", dim, keepdim, true)
    }

    /// The index of the smallest element along `dim` (the first on ties).
    #[track_caller]
    pub fn argmin(&self, dim: isize, keepdim: bool) -> Self {
        self.arg_extremum("argmin", dim, keepdim, false)
    }

    /// The variance of all elements; `unbiased` divides by `n − 1` (PyTorch's default) instead of
    /// `n`.
    pub fn var(&self, unbiased: bool) -> Self {
        self.var_dims(&[], unbiased, false)
    }

    /// The variance over `dims`.
    #[track_caller]
    pub fn var_dims(&self, dims: &[isize], unbiased: bool, keepdim: bool) -> Self {
        let d = reduced_dims("var", dims, self.shape());
        let n: usize = d.iter().map(|&i| self.shape()[i]).product();
        let centered = self.sub(&self.mean_dims(dims, true));
        let denom = if unbiased { n.saturating_sub(1) } else { n };
        centered.pow(2.0).sum_dims(dims, keepdim).mul_scalar(1.0 / denom as f64)
    }

    /// Sums a broadcast result back down to `shape` (the gradient of broadcasting).
    #[track_caller]
    pub fn sum_to(&self, shape: &[usize]) -> Self {
        if self.shape() == shape {
            return self.clone();
        }
        let nd = self.ndim();
        if shape.len() > nd {
            crate::check::fail("sum_to", "target has more dimensions", self.shape(), shape);
        }
        let lead = nd - shape.len();
        if shape.iter().all(|&s| s == 1) {
            return self.sum_dims(&[], false).reshape(shape);
        }
        let mut dims: Vec<isize> = (0..lead as isize).collect();
        for (i, &s) in shape.iter().enumerate() {
            let d = self.shape()[lead + i];
            if s == 1 && d != 1 {
                dims.push((lead + i) as isize);
            } else if s != d {
                crate::check::fail("sum_to", "shapes are not broadcast-compatible", self.shape(), shape);
            }
        }
        self.sum_dims(&dims, true).reshape(shape)
    }
}
