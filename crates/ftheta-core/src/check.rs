//! Uniform shape checks: every message names the op and both shapes, as
//! `matmul: inner dimensions differ: lhs shape [2, 3], rhs shape [4, 5]`.

/// Panics with the uniform message for a shape problem.
#[track_caller]
pub(crate) fn fail(op: &str, problem: &str, lhs: &[usize], rhs: &[usize]) -> ! {
    panic!("{op}: {problem}: lhs shape {lhs:?}, rhs shape {rhs:?}")
}

/// Both shapes must be equal.
#[track_caller]
pub(crate) fn same_shape(op: &str, lhs: &[usize], rhs: &[usize]) {
    if lhs != rhs {
        fail(op, "shapes must be equal", lhs, rhs);
    }
}
