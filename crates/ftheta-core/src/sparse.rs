//! A sparse matrix in compressed sparse row (CSR) form and its product with a dense matrix, the
//! one op graph networks need: a graph convolution multiplies node features by the (normalized)
//! adjacency matrix, which for a graph of `n` nodes and `m` edges holds `O(n + m)` entries, not
//! `n²`.
//!
//! The sparse matrix is a constant of the graph: the product records its dense operand for
//! autograd and `∂L/∂X = Aᵀ·G`, but no gradient flows to the matrix's values (a graph
//! convolution's `Â` is fixed; learning edge weights would be another op).

use std::sync::{Arc, OnceLock};

use crate::op::Op;
use crate::{check, Float, Tensor, TensorError};

/// The three arrays of a CSR matrix: row `i`'s entries are `indices[indptr[i]..indptr[i + 1]]`
/// (their columns, strictly increasing) and the same range of `values`.
#[derive(Clone, Debug)]
struct Csr<T> {
    rows: usize,
    cols: usize,
    indptr: Vec<usize>,
    indices: Vec<usize>,
    values: Vec<T>,
}

/// A `rows × cols` sparse matrix in compressed sparse row form (SciPy's and PyTorch's
/// `crow_indices`, `col_indices`, `values`), with no duplicate entries and the columns of each
/// row sorted.
///
/// Cloning is cheap (shared arrays). The transpose that the backward pass of
/// [`CsrMatrix::matmul`] needs is built the first time it is needed and kept.
///
/// ```
/// use ftheta_core::{CsrMatrix, Tensor};
/// // [[0, 2], [1, 0]] times [[1, 2], [3, 4]]
/// let a = CsrMatrix::from_triplets(2, 2, &[(0, 1, 2.0), (1, 0, 1.0)]).unwrap();
/// let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]);
/// assert_eq!(a.matmul(&x).to_vec(), vec![6.0, 8.0, 1.0, 2.0]);
/// ```
#[derive(Clone, Debug)]
pub struct CsrMatrix<T: Float = f32> {
    csr: Arc<Csr<T>>,
    transposed: Arc<OnceLock<Csr<T>>>,
}

fn invalid<R>(problem: String) -> Result<R, TensorError> {
    Err(TensorError::Sparse(problem))
}

impl<T: Float> CsrMatrix<T> {
    /// A matrix from its CSR arrays, checked: `indptr` has `rows + 1` non-decreasing entries from
    /// 0 to `indices.len()`, `values` is as long as `indices`, and each row's columns are below
    /// `cols` and strictly increasing (sorted, no duplicates).
    pub fn try_new(
        rows: usize,
        cols: usize,
        indptr: Vec<usize>,
        indices: Vec<usize>,
        values: Vec<T>,
    ) -> Result<Self, TensorError> {
        if indptr.len() != rows + 1 {
            return invalid(format!("indptr has {} entries; {rows} rows need {}", indptr.len(), rows + 1));
        }
        if values.len() != indices.len() {
            return invalid(format!("{} values for {} column indices", values.len(), indices.len()));
        }
        if indptr[0] != 0 || indptr[rows] != indices.len() {
            return invalid(format!(
                "indptr must run from 0 to the {} entries, but runs from {} to {}",
                indices.len(),
                indptr[0],
                indptr[rows]
            ));
        }
        for i in 0..rows {
            let (lo, hi) = (indptr[i], indptr[i + 1]);
            if lo > hi {
                return invalid(format!("indptr decreases at row {i} ({lo} then {hi})"));
            }
            for k in lo..hi {
                let c = indices[k];
                if c >= cols {
                    return invalid(format!("row {i} has column {c}, beyond the {cols} columns"));
                }
                if k > lo && indices[k - 1] >= c {
                    return invalid(format!(
                        "row {i}'s columns are not strictly increasing ({} then {c})",
                        indices[k - 1]
                    ));
                }
            }
        }
        Ok(Self::from_csr(Csr { rows, cols, indptr, indices, values }))
    }

    /// A matrix from `(row, column, value)` entries in any order; entries at the same position are
    /// summed (as PyTorch's `coalesce`). Errors name an entry outside the `rows × cols` shape.
    pub fn from_triplets(rows: usize, cols: usize, entries: &[(usize, usize, T)]) -> Result<Self, TensorError> {
        if let Some((k, &(r, c, _))) = entries.iter().enumerate().find(|(_, &(r, c, _))| r >= rows || c >= cols) {
            return invalid(format!("entry {k} at ({r}, {c}) is outside the {rows} x {cols} matrix"));
        }
        let mut sorted: Vec<(usize, usize, T)> = entries.to_vec();
        // A stable sort: duplicates are summed in the order they were given.
        sorted.sort_by_key(|&(r, c, _)| (r, c));
        let mut indptr = vec![0; rows + 1];
        let (mut indices, mut values): (Vec<usize>, Vec<T>) = (Vec::new(), Vec::new());
        let mut last: Option<(usize, usize)> = None;
        for (r, c, v) in sorted {
            if last == Some((r, c)) {
                *values.last_mut().unwrap() += v;
                continue;
            }
            last = Some((r, c));
            indptr[r + 1] += 1;
            indices.push(c);
            values.push(v);
        }
        (0..rows).for_each(|i| indptr[i + 1] += indptr[i]);
        Ok(Self::from_csr(Csr { rows, cols, indptr, indices, values }))
    }

    fn from_csr(csr: Csr<T>) -> Self {
        CsrMatrix { csr: Arc::new(csr), transposed: Arc::new(OnceLock::new()) }
    }

    /// `[rows, cols]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.csr.rows, self.csr.cols]
    }

    /// The number of stored entries.
    pub fn nnz(&self) -> usize {
        self.csr.indices.len()
    }

    /// Where each row's entries start in [`CsrMatrix::indices`] and [`CsrMatrix::values`], and
    /// where the last one ends (`rows + 1` entries).
    pub fn indptr(&self) -> &[usize] {
        &self.csr.indptr
    }

    /// The column of each stored entry, row after row.
    pub fn indices(&self) -> &[usize] {
        &self.csr.indices
    }

    /// The value of each stored entry, row after row.
    pub fn values(&self) -> &[T] {
        &self.csr.values
    }

    /// The `(row, column, value)` of each stored entry, row after row.
    pub fn triplets(&self) -> Vec<(usize, usize, T)> {
        let c = &self.csr;
        (0..c.rows).flat_map(|i| (c.indptr[i]..c.indptr[i + 1]).map(move |k| (i, c.indices[k], c.values[k]))).collect()
    }

    /// The same matrix with every stored value replaced by `f(row, column, value)` (the pattern
    /// is kept, so a normalization need not rebuild it).
    pub fn map_values(&self, mut f: impl FnMut(usize, usize, T) -> T) -> Self {
        let c = &self.csr;
        let mut values = Vec::with_capacity(c.values.len());
        for i in 0..c.rows {
            (c.indptr[i]..c.indptr[i + 1]).for_each(|k| values.push(f(i, c.indices[k], c.values[k])));
        }
        Self::from_csr(Csr { rows: c.rows, cols: c.cols, indptr: c.indptr.clone(), indices: c.indices.clone(), values })
    }

    /// The dense `[rows, cols]` tensor holding the same matrix.
    pub fn to_dense(&self) -> Tensor<T> {
        let c = &self.csr;
        let mut d = vec![T::zero(); c.rows * c.cols];
        self.triplets().into_iter().for_each(|(i, j, v)| d[i * c.cols + j] = v);
        Tensor::from_data(d, &[c.rows, c.cols])
    }

    /// The transpose, as its own CSR matrix (whose own transpose is this one's arrays).
    pub fn t(&self) -> Self {
        let m = Self::from_csr(self.transposed_csr().clone());
        let _ = m.transposed.set((*self.csr).clone());
        m
    }

    fn transposed_csr(&self) -> &Csr<T> {
        self.transposed.get_or_init(|| transpose(&self.csr))
    }

    /// The product `A·X` of this `[n, m]` sparse matrix with a dense `[m, k]` tensor: `[n, k]`,
    /// each output row `Σ_j A[i, j]·X[j, :]` over row `i`'s stored entries in column order.
    /// Recorded for autograd when `x` requires grad; its backward is `∂L/∂X = Aᵀ·G`, computed
    /// with the kept transpose by the same kernel (no scatter, so the sums run in a fixed order).
    ///
    /// # Panics
    /// When `x` is not 2-D or its rows differ from this matrix's columns (a programmer's shape
    /// error: the message names the op and both shapes).
    #[track_caller]
    pub fn matmul(&self, x: &Tensor<T>) -> Tensor<T> {
        let shape = self.shape();
        if x.ndim() != 2 {
            check::fail("sparse_matmul", "the dense operand must be 2-D", &shape, x.shape());
        }
        if x.shape()[0] != shape[1] {
            check::fail("sparse_matmul", "inner dimensions differ", &shape, x.shape());
        }
        let k = x.shape()[1];
        let out = x.with_contiguous(|xs| csr_times_dense(&self.csr, xs, k));
        let op = Tensor::track(&[x]).then(|| Op::SparseMatMul(self.clone(), x.clone()));
        Tensor::from_parts(out, &[shape[0], k], op)
    }

    /// `Aᵀ·G` for the backward pass of [`CsrMatrix::matmul`].
    pub(crate) fn t_matmul_dense(&self, g: &Tensor<T>) -> Tensor<T> {
        let t = self.transposed_csr();
        let k = g.shape()[1];
        let out = g.with_contiguous(|gs| csr_times_dense(t, gs, k));
        Tensor::from_parts(out, &[t.rows, k], None)
    }
}

/// `A·X` for row-major `x` with `k` columns: row `i` of the result is the sum over row `i`'s
/// entries, in column order, of `value·X[column, :]` (a contiguous axpy the compiler vectorizes).
fn csr_times_dense<T: Float>(a: &Csr<T>, x: &[T], k: usize) -> Vec<T> {
    let mut out = vec![T::zero(); a.rows * k];
    if k == 0 {
        return out;
    }
    for (i, row) in out.chunks_exact_mut(k).enumerate() {
        for p in a.indptr[i]..a.indptr[i + 1] {
            let (j, v) = (a.indices[p], a.values[p]);
            row.iter_mut().zip(&x[j * k..(j + 1) * k]).for_each(|(o, &xv)| *o += v * xv);
        }
    }
    out
}

/// The CSR arrays of `Aᵀ` (a counting sort by column: the rows of each column stay increasing).
fn transpose<T: Float>(a: &Csr<T>) -> Csr<T> {
    let mut indptr = vec![0; a.cols + 1];
    a.indices.iter().for_each(|&c| indptr[c + 1] += 1);
    (0..a.cols).for_each(|c| indptr[c + 1] += indptr[c]);
    let mut next = indptr.clone();
    let mut indices = vec![0; a.indices.len()];
    let mut values = vec![T::zero(); a.values.len()];
    for i in 0..a.rows {
        for p in a.indptr[i]..a.indptr[i + 1] {
            let c = a.indices[p];
            indices[next[c]] = i;
            values[next[c]] = a.values[p];
            next[c] += 1;
        }
    }
    Csr { rows: a.cols, cols: a.rows, indptr, indices, values }
}
