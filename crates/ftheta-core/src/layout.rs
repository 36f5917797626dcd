//! Shape, strides and offset: how an n-dimensional tensor sits in its flat storage.
//!
//! Element `[i0, i1, …]` lives at `offset + Σ iₖ·strideₖ`. Views (reshape of contiguous data,
//! transpose, permute, broadcast, narrow) only compute a new `Layout` over the same storage, so they
//! copy nothing. A broadcast dimension has stride 0: every index reads the same element.

use smallvec::SmallVec;

/// Dimension sizes (or strides); four stay inline, which covers every tensor of the models in scope
/// without a heap allocation.
pub type Dims = SmallVec<[usize; 4]>;

/// Shape, strides (in elements) and starting offset of a tensor within its storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub(crate) shape: Dims,
    pub(crate) strides: Dims,
    pub(crate) offset: usize,
}

impl Layout {
    /// A row-major (C-order) layout starting at offset 0.
    pub fn contiguous(shape: &[usize]) -> Self {
        Layout { shape: Dims::from_slice(shape), strides: contiguous_strides(shape), offset: 0 }
    }

    /// The dimension sizes.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The stride of each dimension, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// The index of the first element in the storage.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the elements are stored row-major with no gaps, so that a slice of the storage is
    /// the whole tensor in order.
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
        }
        true
    }

    /// Calls `f` with the storage index of every element, in row-major order.
    #[inline]
    pub fn for_each_offset(&self, mut f: impl FnMut(usize)) {
        let nd = self.shape.len();
        let n = self.numel();
        if n == 0 {
            return;
        }
        if nd == 0 {
            f(self.offset);
            return;
        }
        let inner = self.shape[nd - 1];
        let si = self.strides[nd - 1];
        let mut idx: Dims = smallvec::smallvec![0; nd];
        let mut base = self.offset;
        for _ in 0..n / inner {
            for j in 0..inner {
                f(base + j * si);
            }
            advance(&mut idx, &self.shape, &self.strides, nd - 1, &mut base);
        }
    }
}

/// Moves a row-major odometer over dimensions `0..upto` one step, keeping `base` the storage
/// offset of the current position.
#[inline]
pub(crate) fn advance(idx: &mut [usize], shape: &[usize], strides: &[usize], upto: usize, base: &mut usize) {
    for d in (0..upto).rev() {
        idx[d] += 1;
        *base += strides[d];
        if idx[d] < shape[d] {
            return;
        }
        *base -= strides[d] * shape[d];
        idx[d] = 0;
    }
}

/// Row-major strides for `shape`.
pub fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = smallvec::smallvec![0; shape.len()];
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc *= shape[i].max(1);
    }
    strides
}

/// The shape two operands broadcast to, NumPy-style: dimensions are aligned from the right and a
/// size of 1 stretches to match. `None` when they cannot.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Dims> {
    let nd = a.len().max(b.len());
    let mut out: Dims = smallvec::smallvec![0; nd];
    for i in 0..nd {
        let da = if i < nd - a.len() { 1 } else { a[i - (nd - a.len())] };
        let db = if i < nd - b.len() { 1 } else { b[i - (nd - b.len())] };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}

/// A layout that reads `layout` as if it had shape `target` (stride 0 on stretched dimensions).
/// The caller has checked that the shapes broadcast.
pub(crate) fn broadcast_layout(layout: &Layout, target: &[usize]) -> Layout {
    let nd = target.len();
    let lead = nd - layout.shape.len();
    let mut strides: Dims = smallvec::smallvec![0; nd];
    for i in lead..nd {
        let d = layout.shape[i - lead];
        strides[i] = if d == target[i] { layout.strides[i - lead] } else { 0 };
    }
    Layout { shape: Dims::from_slice(target), strides, offset: layout.offset }
}

/// Normalizes a possibly negative dimension index (`-1` is the last dimension) among `n` positions
/// (a tensor's dimensions, or one more where a dimension is inserted), panicking with the op's
/// name and the tensor's shape when it is out of range.
#[track_caller]
pub(crate) fn norm_dim(op: &str, dim: isize, n: usize, shape: &[usize]) -> usize {
    let n = n.max(1) as isize;
    let d = if dim < 0 { dim + n } else { dim };
    if d < 0 || d >= n {
        let noun = if n == 1 { "dimension" } else { "dimensions" };
        panic!("{op}: dimension {dim} is out of range for {n} {noun} (tensor of shape {shape:?})");
    }
    d as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules_follow_numpy() {
        assert_eq!(broadcast_shape(&[3, 1], &[1]).unwrap().as_slice(), &[3, 1]);
        assert_eq!(broadcast_shape(&[2, 1, 4], &[3, 1]).unwrap().as_slice(), &[2, 3, 4]);
        assert_eq!(broadcast_shape(&[], &[5]).unwrap().as_slice(), &[5]);
        assert!(broadcast_shape(&[3, 2], &[3]).is_none());
    }

    #[test]
    fn contiguity_ignores_unit_dimensions() {
        let l = Layout { shape: Dims::from_slice(&[3, 1]), strides: Dims::from_slice(&[1, 7]), offset: 0 };
        assert!(l.is_contiguous());
        let t = Layout { shape: Dims::from_slice(&[2, 3]), strides: Dims::from_slice(&[1, 2]), offset: 0 };
        assert!(!t.is_contiguous());
        let mut seen = vec![];
        t.for_each_offset(|o| seen.push(o));
        assert_eq!(seen, vec![0, 2, 4, 1, 3, 5]);
    }
}
