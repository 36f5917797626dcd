//! Errors for operations whose input may come from a user rather than from program logic.

/// What can go wrong in the tensor core when the input is not under the programmer's control.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum TensorError {
    /// The data does not fill the requested shape.
    #[error("from_data: {len} values cannot fill shape {shape:?}, which holds {numel}")]
    DataLength {
        /// Number of values given.
        len: usize,
        /// The requested shape.
        shape: Vec<usize>,
        /// The number of elements the shape holds.
        numel: usize,
    },
    /// Two shapes that an op needs to agree do not.
    #[error("{op}: {problem}: lhs shape {lhs:?}, rhs shape {rhs:?}")]
    Shape {
        /// The op that was called.
        op: &'static str,
        /// What is wrong.
        problem: String,
        /// The left (or only) operand's shape.
        lhs: Vec<usize>,
        /// The right operand's shape.
        rhs: Vec<usize>,
    },
    /// A misuse of autograd (backward through a freed graph, from a non-scalar, …).
    #[error("backward: {0}")]
    Autograd(String),
    /// Arrays or entries that do not make a valid sparse matrix (an index out of range, unsorted
    /// or repeated columns in a row, lengths that disagree).
    #[error("sparse matrix: {0}")]
    Sparse(String),
}
