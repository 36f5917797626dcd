//! What each op records for autograd: the [`Op`] a computed tensor keeps, naming its inputs and
//! any constant its chain rule needs. The rules themselves are in `backprop.rs`, the walk that
//! runs them in `autograd.rs`.

use std::rc::Rc;

use crate::kernels::conv::Geom;
use crate::layout::Dims;
use crate::ops::conv::ConvSaved;
use crate::{CsrMatrix, Float, Tensor};

/// How a tensor was computed: the op and the inputs its chain rule needs.
pub(crate) enum Op<T: Float> {
    Add(Tensor<T>, Tensor<T>),
    Sub(Tensor<T>, Tensor<T>),
    Mul(Tensor<T>, Tensor<T>),
    Div(Tensor<T>, Tensor<T>),
    Maximum(Tensor<T>, Tensor<T>),
    Minimum(Tensor<T>, Tensor<T>),
    AddScalar(Tensor<T>),
    MulScalar(Tensor<T>, T),
    Neg(Tensor<T>),
    Exp(Tensor<T>),
    Log(Tensor<T>),
    Sqrt(Tensor<T>),
    Abs(Tensor<T>),
    Pow(Tensor<T>, T),
    Relu(Tensor<T>),
    Sigmoid(Tensor<T>),
    Tanh(Tensor<T>),
    Sin(Tensor<T>),
    Cos(Tensor<T>),
    HardSigmoid(Tensor<T>),
    Softplus(Tensor<T>),
    Gelu(Tensor<T>),
    Clamp(Tensor<T>, T, T),
    /// `masked_fill`: the input and the mask (nonzero where the value was written).
    MaskedFill(Tensor<T>, Tensor<T>),
    /// Sum over some dims; the shape with those dims kept as 1.
    Sum(Tensor<T>, Dims),
    /// Max or min over some dims; the shape with those dims kept as 1.
    Extremum(Tensor<T>, Dims),
    MatMul(Tensor<T>, Tensor<T>),
    /// `x·Wᵀ + b` (input, weight, optional bias).
    Linear(Tensor<T>, Tensor<T>, Option<Tensor<T>>),
    /// `A·X` for a constant sparse `A` (no gradient to its values) and dense `X`.
    SparseMatMul(CsrMatrix<T>, Tensor<T>),
    /// Mean cross-entropy of logits against class indices: the softmax of each row and the
    /// target classes, saved by the forward pass.
    CrossEntropy(Tensor<T>, Rc<[T]>, Rc<[usize]>),
    Reshape(Tensor<T>),
    Permute(Tensor<T>, Dims),
    Broadcast(Tensor<T>),
    Narrow(Tensor<T>, usize, usize),
    Cat(Vec<Tensor<T>>, usize),
    IndexSelect(Tensor<T>, usize, Rc<[usize]>),
    /// Gather: the row-major positions read from the (contiguous) input.
    Gather(Tensor<T>, Rc<[usize]>),
    Softmax(Tensor<T>),
    LogSoftmax(Tensor<T>),
    Copy(Tensor<T>),
    /// 2-D convolution (input, weight, optional bias) and its geometry.
    Conv2d(Tensor<T>, Tensor<T>, Option<Tensor<T>>, ConvSaved),
    /// 2-D max pooling: for each output, where in its input plane the maximum was.
    MaxPool2d(Tensor<T>, Rc<[u32]>, Geom),
    /// 2-D average pooling and its window geometry.
    AvgPool2d(Tensor<T>, Geom),
}

impl<T: Float> Op<T> {
    /// PyTorch-style name of the backward node (`MulBackward`), shown by `Display` and `to_dot`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Add(..) => "AddBackward",
            Op::Sub(..) => "SubBackward",
            Op::Mul(..) => "MulBackward",
            Op::Div(..) => "DivBackward",
            Op::Maximum(..) => "MaximumBackward",
            Op::Minimum(..) => "MinimumBackward",
            Op::AddScalar(..) => "AddScalarBackward",
            Op::MulScalar(..) => "MulScalarBackward",
            Op::Neg(..) => "NegBackward",
            Op::Exp(..) => "ExpBackward",
            Op::Log(..) => "LogBackward",
            Op::Sqrt(..) => "SqrtBackward",
            Op::Abs(..) => "AbsBackward",
            Op::Pow(..) => "PowBackward",
            Op::Relu(..) => "ReluBackward",
            Op::Sigmoid(..) => "SigmoidBackward",
            Op::Tanh(..) => "TanhBackward",
            Op::Sin(..) => "SinBackward",
            Op::Cos(..) => "CosBackward",
            Op::HardSigmoid(..) => "HardsigmoidBackward",
            Op::Softplus(..) => "SoftplusBackward",
            Op::Gelu(..) => "GeluBackward",
            Op::Clamp(..) => "ClampBackward",
            Op::MaskedFill(..) => "MaskedFillBackward",
            Op::Sum(..) => "SumBackward",
            Op::Extremum(..) => "MaxMinBackward",
            Op::MatMul(..) => "MmBackward",
            Op::Linear(..) => "AddmmBackward",
            Op::SparseMatMul(..) => "SparseMmBackward",
            Op::CrossEntropy(..) => "NllLossBackward",
            Op::Reshape(..) => "ReshapeBackward",
            Op::Permute(..) => "PermuteBackward",
            Op::Broadcast(..) => "ExpandBackward",
            Op::Narrow(..) => "NarrowBackward",
            Op::Cat(..) => "CatBackward",
            Op::IndexSelect(..) => "IndexSelectBackward",
            Op::Gather(..) => "GatherBackward",
            Op::Softmax(..) => "SoftmaxBackward",
            Op::LogSoftmax(..) => "LogSoftmaxBackward",
            Op::Copy(..) => "CopyBackward",
            Op::Conv2d(..) => "ConvolutionBackward",
            Op::MaxPool2d(..) => "MaxPool2DWithIndicesBackward",
            Op::AvgPool2d(..) => "AvgPool2DBackward",
        }
    }

    /// Calls `f` with each tensor this op read (one list of inputs, used by the graph walk and
    /// `to_dot`, with nothing collected).
    pub(crate) fn for_each_input(&self, mut f: impl FnMut(&Tensor<T>)) {
        match self {
            Op::Cat(ts, _) => ts.iter().for_each(f),
            Op::Linear(x, w, b) | Op::Conv2d(x, w, b, _) => {
                f(x);
                f(w);
                if let Some(b) = b {
                    f(b);
                }
            }
            Op::Add(a, b)
            | Op::Sub(a, b)
            | Op::Mul(a, b)
            | Op::Div(a, b)
            | Op::Maximum(a, b)
            | Op::Minimum(a, b)
            | Op::MatMul(a, b) => {
                f(a);
                f(b);
            }
            Op::AddScalar(a)
            | Op::MulScalar(a, _)
            | Op::Neg(a)
            | Op::Exp(a)
            | Op::Log(a)
            | Op::Sqrt(a)
            | Op::Abs(a)
            | Op::Pow(a, _)
            | Op::Relu(a)
            | Op::Sigmoid(a)
            | Op::Tanh(a)
            | Op::Sin(a)
            | Op::Cos(a)
            | Op::HardSigmoid(a)
            | Op::Softplus(a)
            | Op::Gelu(a)
            | Op::Clamp(a, ..)
            | Op::MaskedFill(a, _)
            | Op::Sum(a, _)
            | Op::Extremum(a, _)
            | Op::Reshape(a)
            | Op::Permute(a, _)
            | Op::Broadcast(a)
            | Op::Narrow(a, ..)
            | Op::IndexSelect(a, ..)
            | Op::Gather(a, _)
            | Op::CrossEntropy(a, ..)
            | Op::Softmax(a)
            | Op::LogSoftmax(a)
            | Op::SparseMatMul(_, a)
            | Op::Copy(a)
            | Op::MaxPool2d(a, ..)
            | Op::AvgPool2d(a, _) => f(a),
        }
    }
}
