//! Uniform shape checks: every message names the op and both shapes, as
//! `matmul: inner dimensions differ: lhs shape [2, 3], rhs shape [4, 5]`.

use crate::TensorError;

/// Panics with the uniform message for a shape problem: the Display of [`TensorError::Shape`], the
/// one place the message is spelled.
#[track_caller]
pub(crate) fn fail(op: &'static str, problem: &str, lhs: &[usize], rhs: &[usize]) -> ! {
    let e = TensorError::Shape { op, problem: problem.to_string(), lhs: lhs.to_vec(), rhs: rhs.to_vec() };
    panic!("{e}")
}

/// Both shapes must be equal.
#[track_caller]
pub(crate) fn same_shape(op: &'static str, lhs: &[usize], rhs: &[usize]) {
    if lhs != rhs {
        fail(op, "shapes must be equal", lhs, rhs);
    }
}
