//! Shape ops. Views (reshape of contiguous data, transpose, permute, broadcast_to, narrow,
//! squeeze, unsqueeze) share storage and copy nothing; cat, stack, index_select and gather build
//! new tensors.

use std::borrow::Borrow;
use std::rc::Rc;

use crate::layout::{broadcast_layout, broadcast_shape, contiguous_strides, norm_dim, Dims, Layout};
use crate::op::Op;
use crate::{check, Float, Tensor};

/// A shape argument for `reshape`: sizes as `usize`, or as signed integers where one `-1` is
/// inferred from the number of elements (`x.reshape(&[-1, 784])`).
pub trait ShapeArg {
    /// The sizes, with a `-1` marked as `None`.
    fn sizes(&self) -> Vec<Option<usize>>;
}

macro_rules! shape_arg {
    ($($t:ty),*) => {$(
        impl ShapeArg for [$t] {
            fn sizes(&self) -> Vec<Option<usize>> {
                #[allow(unused_comparisons)]
                self.iter().map(|&d| if d < 0 as $t { None } else { Some(d as usize) }).collect()
            }
        }
        impl<const N: usize> ShapeArg for [$t; N] {
            fn sizes(&self) -> Vec<Option<usize>> {
                self[..].sizes()
            }
        }
        impl ShapeArg for Vec<$t> {
            fn sizes(&self) -> Vec<Option<usize>> {
                self[..].sizes()
            }
        }
    )*};
}
shape_arg!(usize, isize, i32, i64);

impl<T: Float> Tensor<T> {
    /// The same elements in another shape. A view when the data is contiguous, a copy otherwise;
    /// one size may be `-1` to be inferred.
    #[track_caller]
    pub fn reshape<S: ShapeArg + ?Sized>(&self, shape: &S) -> Self {
        let sizes = shape.sizes();
        let numel = self.numel();
        let known: usize = sizes.iter().flatten().product();
        let holes = sizes.iter().filter(|s| s.is_none()).count();
        let bad = |why: &str| -> ! {
            let shown: Vec<String> = sizes.iter().map(|s| s.map_or("-1".to_string(), |d| d.to_string())).collect();
            panic!(
                "reshape: {why}: input shape {:?} ({numel} elements), requested [{}]",
                self.shape(),
                shown.join(", ")
            )
        };
        let new: Dims = match holes {
            0 => sizes.iter().map(|s| s.unwrap()).collect(),
            1 if known > 0 && numel % known == 0 => sizes.iter().map(|s| s.unwrap_or(numel / known)).collect(),
            1 => bad("the -1 size cannot be inferred"),
            _ => bad("only one size may be -1"),
        };
        if new.iter().product::<usize>() != numel {
            bad("the number of elements differs");
        }
        if new.as_slice() == self.shape() {
            return self.clone();
        }
        let op = || Op::Reshape(self.clone());
        if self.is_contiguous() {
            let layout = Layout { strides: contiguous_strides(&new), shape: new, offset: self.layout().offset };
            self.view_with(layout, Self::track(&[self]).then(op))
        } else {
            Self::from_parts(self.to_vec(), &new, Self::track(&[self]).then(op))
        }
    }

    /// All elements in one dimension.
    pub fn flatten(&self) -> Self {
        self.reshape(&[self.numel()])
    }

    /// Reorders the dimensions: dimension `i` of the result is dimension `perm[i]` of the input.
    #[track_caller]
    pub fn permute(&self, perm: &[usize]) -> Self {
        let nd = self.ndim();
        let mut seen = vec![false; nd];
        if perm.len() != nd || perm.iter().any(|&p| p >= nd || std::mem::replace(&mut seen[p], true)) {
            panic!("permute: {perm:?} is not a permutation of the {nd} dimensions of shape {:?}", self.shape());
        }
        let l = self.layout();
        let layout = Layout {
            shape: perm.iter().map(|&p| l.shape[p]).collect(),
            strides: perm.iter().map(|&p| l.strides[p]).collect(),
            offset: l.offset,
        };
        let op = Self::track(&[self]).then(|| Op::Permute(self.clone(), Dims::from_slice(perm)));
        self.view_with(layout, op)
    }

    /// Swaps two dimensions (a view).
    #[track_caller]
    pub fn transpose(&self, dim0: isize, dim1: isize) -> Self {
        let nd = self.ndim();
        let (a, b) = (norm_dim("transpose", dim0, nd, self.shape()), norm_dim("transpose", dim1, nd, self.shape()));
        if nd < 2 {
            return self.clone();
        }
        let mut perm: Vec<usize> = (0..nd).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// The transpose of a matrix (`.t()` in PyTorch): swaps the last two dimensions; a vector
    /// or scalar comes back unchanged.
    #[track_caller]
    pub fn t(&self) -> Self {
        // As in PyTorch, a vector or a scalar is its own transpose.
        if self.ndim() < 2 {
            return self.clone();
        }
        self.transpose(-2, -1)
    }

    /// Stretches dimensions of size 1 (and adds leading ones) to `shape`, without copying.
    #[track_caller]
    pub fn broadcast_to(&self, shape: &[usize]) -> Self {
        if self.shape() == shape {
            return self.clone();
        }
        match broadcast_shape(self.shape(), shape) {
            Some(s) if s.as_slice() == shape => {}
            _ => check::fail("broadcast_to", "cannot broadcast to the target shape", self.shape(), shape),
        }
        let layout = broadcast_layout(self.layout(), shape);
        self.view_with(layout, Self::track(&[self]).then(|| Op::Broadcast(self.clone())))
    }

    /// `len` elements of dimension `dim` starting at `start` (a view).
    #[track_caller]
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Self {
        let d = norm_dim("narrow", dim, self.ndim(), self.shape());
        let size = self.shape()[d];
        if start + len > size {
            panic!(
                "narrow: range {start}..{} is out of bounds for dimension {d} of size {size} (shape {:?})",
                start + len,
                self.shape()
            );
        }
        let mut layout = self.layout().clone();
        layout.offset += start * layout.strides[d];
        layout.shape[d] = len;
        self.view_with(layout, Self::track(&[self]).then(|| Op::Narrow(self.clone(), d, start)))
    }

    /// Inserts a dimension of size 1 at `dim`.
    #[track_caller]
    pub fn unsqueeze(&self, dim: isize) -> Self {
        let nd = self.ndim() + 1;
        let d = norm_dim("unsqueeze", dim, nd, self.shape());
        let mut s: Vec<usize> = self.shape().to_vec();
        s.insert(d, 1);
        self.reshape(&s)
    }

    /// Removes dimension `dim` if its size is 1.
    #[track_caller]
    pub fn squeeze(&self, dim: isize) -> Self {
        let d = norm_dim("squeeze", dim, self.ndim(), self.shape());
        if self.ndim() == 0 || self.shape()[d] != 1 {
            return self.clone();
        }
        let mut s: Vec<usize> = self.shape().to_vec();
        s.remove(d);
        self.reshape(&s)
    }

    /// Joins tensors along an existing dimension; all other sizes must agree.
    #[track_caller]
    pub fn cat<B: Borrow<Tensor<T>>>(tensors: &[B], dim: isize) -> Self {
        let first = match tensors.first() {
            Some(t) => t.borrow(),
            None => panic!("cat: needs at least one tensor"),
        };
        let nd = first.ndim();
        if nd == 0 {
            panic!("cat: zero-dimensional tensors cannot be joined; use stack");
        }
        let d = norm_dim("cat", dim, nd, first.shape());
        let mut total = 0;
        for t in tensors {
            let t = t.borrow();
            let same = t.ndim() == nd && (0..nd).all(|i| i == d || t.shape()[i] == first.shape()[i]);
            if !same {
                check::fail("cat", &format!("sizes must agree except in dimension {d}"), first.shape(), t.shape());
            }
            total += t.shape()[d];
        }
        let mut shape: Vec<usize> = first.shape().to_vec();
        shape[d] = total;
        let outer: usize = shape[..d].iter().product();
        let mut out = Vec::with_capacity(shape.iter().product());
        let parts: Vec<Vec<T>> = tensors.iter().map(|t| t.borrow().to_vec()).collect();
        let rows: Vec<usize> = tensors.iter().map(|t| t.borrow().shape()[d..].iter().product()).collect();
        for o in 0..outer {
            for (p, &r) in parts.iter().zip(&rows) {
                out.extend_from_slice(&p[o * r..(o + 1) * r]);
            }
        }
        let refs: Vec<&Tensor<T>> = tensors.iter().map(|t| t.borrow()).collect();
        let op = Self::track(&refs).then(|| Op::Cat(refs.iter().map(|&t| t.clone()).collect(), d));
        Self::from_parts(out, &shape, op)
    }

    /// Joins tensors of one shape along a new dimension `dim`.
    #[track_caller]
    pub fn stack<B: Borrow<Tensor<T>>>(tensors: &[B], dim: isize) -> Self {
        let first = match tensors.first() {
            Some(t) => t.borrow(),
            None => panic!("stack: needs at least one tensor"),
        };
        for t in tensors {
            check::same_shape("stack", first.shape(), t.borrow().shape());
        }
        let d = norm_dim("stack", dim, first.ndim() + 1, first.shape()) as isize;
        let parts: Vec<Tensor<T>> = tensors.iter().map(|t| t.borrow().unsqueeze(d)).collect();
        Self::cat(&parts, d)
    }

    /// The slices `indices` of dimension `dim`, in that order (repeats allowed).
    #[track_caller]
    pub fn index_select(&self, dim: isize, indices: &[usize]) -> Self {
        let d = norm_dim("index_select", dim, self.ndim(), self.shape());
        let size = self.shape()[d];
        if let Some(&bad) = indices.iter().find(|&&i| i >= size) {
            panic!(
                "index_select: index {bad} is out of bounds for dimension {d} of size {size} (shape {:?})",
                self.shape()
            );
        }
        let src = self.to_vec();
        let outer: usize = self.shape()[..d].iter().product();
        let inner: usize = self.shape()[d + 1..].iter().product();
        let mut out = Vec::with_capacity(outer * indices.len() * inner);
        for o in 0..outer {
            for &i in indices {
                let s = (o * size + i) * inner;
                out.extend_from_slice(&src[s..s + inner]);
            }
        }
        let mut shape: Vec<usize> = self.shape().to_vec();
        shape[d] = indices.len();
        let op = Self::track(&[self]).then(|| Op::IndexSelect(self.clone(), d, Rc::from(indices)));
        Self::from_parts(out, &shape, op)
    }

    /// PyTorch's `gather`: `out[i][j] = self[i][index[i][j]]` for `dim = 1`, and so on. `index`
    /// holds whole numbers (as produced by `argmax`) and has the output's shape; its other
    /// dimensions must not exceed this tensor's.
    #[track_caller]
    pub fn gather(&self, dim: isize, index: &Tensor<T>) -> Self {
        let nd = self.ndim();
        let d = norm_dim("gather", dim, nd, self.shape());
        if index.ndim() != nd || (0..nd).any(|i| i != d && index.shape()[i] > self.shape()[i]) {
            check::fail(
                "gather",
                "index must have the input's rank and no larger sizes outside dim",
                self.shape(),
                index.shape(),
            );
        }
        let offsets = gather_offsets("gather", self.shape(), d, index);
        let src = self.to_vec();
        let out: Vec<T> = offsets.iter().map(|&o| src[o]).collect();
        let op = Self::track(&[self]).then(|| Op::Gather(self.clone(), Rc::from(offsets)));
        Self::from_parts(out, index.shape(), op)
    }
}

/// For each element of `index`, the row-major position in a contiguous tensor of `shape` that
/// gather reads (and its backward scatters to).
#[track_caller]
fn gather_offsets<T: Float>(op: &str, shape: &[usize], d: usize, index: &Tensor<T>) -> Vec<usize> {
    let strides = contiguous_strides(shape);
    let ishape = index.shape();
    let idx = index.to_vec();
    let mut pos: Dims = smallvec::smallvec![0; ishape.len()];
    let mut out = Vec::with_capacity(idx.len());
    for &v in &idx {
        let i = v.as_f64();
        if i < 0.0 || i.fract() != 0.0 || i as usize >= shape[d] {
            panic!("{op}: index value {i} is not a valid position in dimension {d} of size {}", shape[d]);
        }
        let mut o = 0;
        for k in 0..ishape.len() {
            o += if k == d { i as usize } else { pos[k] } * strides[k];
        }
        out.push(o);
        for k in (0..ishape.len()).rev() {
            pos[k] += 1;
            if pos[k] < ishape[k] {
                break;
            }
            pos[k] = 0;
        }
    }
    out
}
