//! The forward maths of every op, grouped by kind. Their chain rules are in `backprop.rs`.

pub(crate) mod arith;
pub(crate) mod conv;
pub(crate) mod elementwise;
pub(crate) mod mask;
pub(crate) mod matmul;
pub(crate) mod reduce;
pub(crate) mod shape;
pub(crate) mod softmax;
