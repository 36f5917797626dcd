//! Reverse-mode automatic differentiation: what each op records, every chain rule in one table,
//! and the walk that runs them.
//!
//! Each recorded tensor keeps an [`Op`] naming its inputs (and any constant it needs). `backward`
//! sorts the graph topologically from the output, then visits it from the output back to the
//! leaves: each node's gradient `g = ∂L/∂out` goes through its rule to give `∂L/∂input` for each
//! input, and gradients arriving at the same tensor add up. Leaves accumulate into `.grad`.
//! Visited ops are dropped (freeing their saved inputs) unless the graph is retained.

use std::rc::Rc;

use crate::layout::Dims;
use crate::ops::elementwise::{sigmoid, zip_broadcast};
use crate::{Float, Tensor, TensorError};

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
    /// Sum over some dims; the shape with those dims kept as 1.
    Sum(Tensor<T>, Dims),
    /// Max or min over some dims; the shape with those dims kept as 1.
    Extremum(Tensor<T>, Dims),
    MatMul(Tensor<T>, Tensor<T>),
    /// `x·Wᵀ + b` (input, weight, optional bias).
    Linear(Tensor<T>, Tensor<T>, Option<Tensor<T>>),
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
            Op::Sum(..) => "SumBackward",
            Op::Extremum(..) => "MaxMinBackward",
            Op::MatMul(..) => "MmBackward",
            Op::Linear(..) => "AddmmBackward",
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
        }
    }

    /// Calls `f` with each tensor this op read (one list of inputs, used by the graph walk and
    /// `to_dot`, with nothing collected).
    pub(crate) fn for_each_input(&self, mut f: impl FnMut(&Tensor<T>)) {
        match self {
            Op::Cat(ts, _) => ts.iter().for_each(f),
            Op::Linear(x, w, b) => {
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
            | Op::Copy(a) => f(a),
        }
    }

    /// The chain rules. `out` is the tensor this op produced and `g = ∂L/∂out`; `acc(x, gx)` adds
    /// `gx = ∂L/∂x` to input `x`. Runs under `no_grad`.
    fn backward(&self, out: &Tensor<T>, g: &Tensor<T>, acc: &mut dyn FnMut(&Tensor<T>, Tensor<T>)) {
        let (zero, half) = (T::zero(), T::from_f64(0.5));
        match self {
            // z = a + b:  ∂z/∂a = 1, ∂z/∂b = 1 (summed over broadcast dims)
            Op::Add(a, b) => {
                if a.tracks_grad() {
                    acc(a, g.sum_to(a.shape()));
                }
                if b.tracks_grad() {
                    acc(b, g.sum_to(b.shape()));
                }
            }
            // z = a − b:  ∂z/∂a = 1, ∂z/∂b = −1
            Op::Sub(a, b) => {
                if a.tracks_grad() {
                    acc(a, g.sum_to(a.shape()));
                }
                if b.tracks_grad() {
                    acc(b, g.neg().sum_to(b.shape()));
                }
            }
            // z = a·b:  ∂z/∂a = b, ∂z/∂b = a
            Op::Mul(a, b) => {
                if a.tracks_grad() {
                    acc(a, g.mul(b).sum_to(a.shape()));
                }
                if b.tracks_grad() {
                    acc(b, g.mul(a).sum_to(b.shape()));
                }
            }
            // z = a/b:  ∂z/∂a = 1/b, ∂z/∂b = −a/b² = −z/b
            Op::Div(a, b) => {
                let gb = g.div(b);
                if b.tracks_grad() {
                    acc(b, gb.mul(out).neg().sum_to(b.shape()));
                }
                acc(a, gb.sum_to(a.shape()));
            }
            // z = max(a, b):  the gradient goes to the larger; a tie splits it in halves
            Op::Maximum(a, b) | Op::Minimum(a, b) => {
                let wins = if matches!(self, Op::Maximum(..)) { a.gt(b) } else { a.lt(b) };
                let share_a = wins.add(&a.eq(b).mul_scalar(0.5));
                acc(a, g.mul(&share_a).sum_to(a.shape()));
                acc(b, g.mul(&share_a.neg().add_scalar(1.0)).sum_to(b.shape()));
            }
            // z = a + c:  ∂z/∂a = 1
            Op::AddScalar(a) => acc(a, g.clone()),
            // z = c·a:  ∂z/∂a = c
            Op::MulScalar(a, c) => acc(a, g.mul_scalar(c.as_f64())),
            // z = −a
            Op::Neg(a) => acc(a, g.neg()),
            // z = eᵃ:  ∂z/∂a = eᵃ = z
            Op::Exp(a) => acc(a, g.mul(out)),
            // z = ln a:  ∂z/∂a = 1/a
            Op::Log(a) => acc(a, g.div(a)),
            // z = √a:  ∂z/∂a = 1/(2√a) = 1/(2z)
            Op::Sqrt(a) => acc(a, zip(g, out, |g, z| g * half / z)),
            // z = |a|:  ∂z/∂a = sign(a), 0 at 0
            Op::Abs(a) => acc(
                a,
                zip(g, a, |g, x| {
                    if x > zero {
                        g
                    } else if x < zero {
                        -g
                    } else {
                        zero
                    }
                }),
            ),
            // z = aᵉ:  ∂z/∂a = e·aᵉ⁻¹
            Op::Pow(a, e) => {
                let e = *e;
                if e == T::from_f64(2.0) {
                    acc(a, zip(g, a, |g, x| g * (x + x)))
                } else {
                    let e1 = e - T::one();
                    acc(a, zip(g, a, |g, x| g * e * x.powf(e1)))
                }
            }
            // z = max(0, a):  ∂z/∂a = 1 where a > 0
            Op::Relu(a) => acc(a, zip(g, a, |g, x| if x > zero { g } else { zero })),
            // z = σ(a):  ∂z/∂a = z(1 − z)
            Op::Sigmoid(a) => acc(a, zip(g, out, |g, z| g * z * (T::one() - z))),
            // z = tanh a:  ∂z/∂a = 1 − z²
            Op::Tanh(a) => acc(a, zip(g, out, |g, z| g * (T::one() - z * z))),
            // z = sin a:  ∂z/∂a = cos a
            Op::Sin(a) => acc(a, zip(g, a, |g, x| g * x.cos())),
            // z = cos a:  ∂z/∂a = −sin a
            Op::Cos(a) => acc(a, zip(g, a, |g, x| -(g * x.sin()))),
            // z = clamp(a/6 + 1/2, 0, 1):  ∂z/∂a = 1/6 on −3 < a < 3
            Op::HardSigmoid(a) => acc(a, g.mul(&a.gt_scalar(-3.0).mul(&a.lt_scalar(3.0))).mul_scalar(1.0 / 6.0)),
            // z = ln(1 + eᵃ):  ∂z/∂a = σ(a)
            Op::Softplus(a) => acc(a, zip(g, a, |g, x| g * sigmoid(x))),
            // z = a·Φ(a):  ∂z/∂a = Φ(a) + a·φ(a)
            Op::Gelu(a) => {
                let cdf = a.mul_scalar(std::f64::consts::FRAC_1_SQRT_2).map(|x| x.erf());
                let cdf = cdf.add_scalar(1.0).mul_scalar(0.5);
                let pdf = a.pow(2.0).mul_scalar(-0.5).exp().mul_scalar(1.0 / (2.0 * std::f64::consts::PI).sqrt());
                acc(a, g.mul(&cdf.add(&a.mul(&pdf))))
            }
            // z = clamp(a, lo, hi):  ∂z/∂a = 1 on lo < a < hi; 0 at the bounds (the minimum-norm
            // subgradient, as PyTorch, relu and hardsigmoid)
            Op::Clamp(a, lo, hi) => acc(a, g.mul(&a.gt_scalar(lo.as_f64()).mul(&a.lt_scalar(hi.as_f64())))),
            // z = Σ a over dims:  every summed element gets g
            Op::Sum(a, keep) => acc(a, g.reshape(keep.as_slice()).broadcast_to(a.shape())),
            // z = max a over dims:  g goes to the elements equal to the max, split among ties
            Op::Extremum(a, keep) => {
                let z = out.reshape(keep.as_slice());
                let hit = a.eq(&z);
                let dims: Vec<isize> =
                    (0..a.ndim()).filter(|&i| keep[i] == 1 && a.shape()[i] != 1).map(|i| i as isize).collect();
                let count = if dims.is_empty() { hit.clone() } else { hit.sum_dims(&dims, true) };
                acc(a, hit.mul(&g.reshape(keep.as_slice()).div(&count)))
            }
            // Z = A·B:  ∂L/∂A = G·Bᵀ, ∂L/∂B = Aᵀ·G (summed over broadcast batch dims)
            Op::MatMul(a, b) => {
                if a.tracks_grad() {
                    acc(a, g.matmul(&b.t()).sum_to(a.shape()));
                }
                if b.tracks_grad() {
                    acc(b, a.t().matmul(g).sum_to(b.shape()));
                }
            }
            // Y = X·Wᵀ + b:  ∂L/∂X = G·W, ∂L/∂W = Gᵀ·X, ∂L/∂b = Σ_rows G
            Op::Linear(x, w, b) => crate::ops::matmul::linear_backward(x, w, b.as_ref(), g, acc),
            // L = −mean_i log softmax(zᵢ)[yᵢ]:  ∂L/∂zᵢ = (softmax(zᵢ) − onehot(yᵢ))·g/N
            Op::CrossEntropy(z, p, y) => {
                let n = y.len();
                let c = p.len().checked_div(n).unwrap_or(0);
                let s = g.item() / T::from_f64(n.max(1) as f64);
                let mut out: Vec<T> = p.iter().map(|&v| v * s).collect();
                y.iter().enumerate().for_each(|(i, &t)| out[i * c + t] -= s);
                acc(z, Tensor::from_parts(out, z.shape(), None))
            }
            Op::Reshape(a) => acc(a, g.reshape(a.shape())),
            // the inverse permutation puts each dimension back
            Op::Permute(a, perm) => {
                let mut inv = vec![0; perm.len()];
                perm.iter().enumerate().for_each(|(i, &p)| inv[p] = i);
                acc(a, g.permute(&inv))
            }
            Op::Broadcast(a) => acc(a, g.sum_to(a.shape())),
            // the slice's gradient, padded with zeros to the input's shape
            Op::Narrow(a, d, start) => acc(a, pad_narrow(g, a.shape(), *d, *start)),
            Op::Cat(ts, d) => {
                let mut start = 0;
                for t in ts {
                    let len = t.shape()[*d];
                    acc(t, g.narrow(*d as isize, start, len));
                    start += len;
                }
            }
            // each selected slice's gradient is added back where it came from
            Op::IndexSelect(a, d, idx) => acc(a, index_add(g, a.shape(), *d, idx)),
            Op::Gather(a, offsets) => {
                let mut out = vec![T::zero(); a.numel()];
                g.with_contiguous(|gs| offsets.iter().zip(gs).for_each(|(&o, &v)| out[o] += v));
                acc(a, Tensor::from_parts(out, a.shape(), None))
            }
            // y = softmax(a):  ∂L/∂a = y ⊙ (g − Σ g⊙y)
            Op::Softmax(a) => {
                let s = g.mul(out).sum_dims(&[-1], true);
                acc(a, out.mul(&g.sub(&s)))
            }
            // y = log_softmax(a):  ∂L/∂a = g − eʸ·Σ g
            Op::LogSoftmax(a) => {
                let s = g.sum_dims(&[-1], true);
                acc(a, g.sub(&out.exp().mul(&s)))
            }
            Op::Copy(a) => acc(a, g.clone()),
        }
    }
}

/// `f` applied to `g` and a saved tensor in one pass: a fused chain rule allocates one buffer
/// instead of one per intermediate.
fn zip<T: Float>(g: &Tensor<T>, x: &Tensor<T>, f: impl Fn(T, T) -> T) -> Tensor<T> {
    let (data, shape) = zip_broadcast("backward", g, x, f);
    Tensor::from_parts(data, &shape, None)
}

/// A zero tensor of `shape` holding `g` at positions `start..` of dimension `d`.
fn pad_narrow<T: Float>(g: &Tensor<T>, shape: &[usize], d: usize, start: usize) -> Tensor<T> {
    let outer: usize = shape[..d].iter().product();
    let inner: usize = shape[d + 1..].iter().product();
    let (size, len) = (shape[d], g.shape()[d]);
    let mut out = vec![T::zero(); shape.iter().product()];
    g.with_contiguous(|gs| {
        for o in 0..outer {
            let dst = (o * size + start) * inner;
            out[dst..dst + len * inner].copy_from_slice(&gs[o * len * inner..(o + 1) * len * inner]);
        }
    });
    Tensor::from_parts(out, shape, None)
}

/// A zero tensor of `shape` with slice `idx[j]` of dimension `d` increased by slice `j` of `g`.
fn index_add<T: Float>(g: &Tensor<T>, shape: &[usize], d: usize, idx: &[usize]) -> Tensor<T> {
    let outer: usize = shape[..d].iter().product();
    let inner: usize = shape[d + 1..].iter().product();
    let size = shape[d];
    let mut out = vec![T::zero(); shape.iter().product()];
    g.with_contiguous(|gs| {
        for o in 0..outer {
            for (j, &i) in idx.iter().enumerate() {
                let src = (o * idx.len() + j) * inner;
                let dst = (o * size + i) * inner;
                out[dst..dst + inner].iter_mut().zip(&gs[src..src + inner]).for_each(|(x, &v)| *x += v);
            }
        }
    });
    Tensor::from_parts(out, shape, None)
}

/// Options for [`Tensor::backward_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct BackwardOptions {
    /// Keep every op (and its saved inputs) so that backward can run again through the graph.
    pub retain_graph: bool,
    /// Store the gradient of every computed tensor too, not only of leaves (for `to_dot`).
    pub retain_grads: bool,
}

impl<T: Float> Tensor<T> {
    /// Computes `∂self/∂x` for every leaf `x` that requires grad and adds it to `x.grad()`.
    /// `self` must hold one element (a loss).
    ///
    /// # Panics
    /// When `self` is not a single element, does not require grad, or its graph was freed by an
    /// earlier backward. [`Tensor::try_backward`] returns these as errors.
    #[track_caller]
    pub fn backward(&self) {
        if let Err(e) = self.try_backward() {
            panic!("{e}");
        }
    }

    /// [`Tensor::backward`] that reports misuse as an error instead of panicking.
    pub fn try_backward(&self) -> Result<(), TensorError> {
        self.backward_with(None, BackwardOptions::default())
    }

    /// Backward from a non-scalar output, with `grad = ∂L/∂self` given.
    #[track_caller]
    pub fn backward_with_grad(&self, grad: &Tensor<T>) {
        if let Err(e) = self.backward_with(Some(grad), BackwardOptions::default()) {
            panic!("{e}");
        }
    }

    /// The general backward pass: an optional starting gradient (ones for a scalar when `None`)
    /// and options to retain the graph or intermediate gradients.
    pub fn backward_with(&self, grad: Option<&Tensor<T>>, opts: BackwardOptions) -> Result<(), TensorError> {
        let err = |m: String| Err(TensorError::Autograd(m));
        if !self.tracks_grad() {
            return err(format!(
                "the tensor (shape {:?}) does not require grad and has no graph; mark a parameter with requires_grad()",
                self.shape()
            ));
        }
        let seed = match grad {
            Some(g) if g.shape() != self.shape() => {
                return err(format!("the gradient's shape {:?} differs from the output's {:?}", g.shape(), self.shape()))
            }
            Some(g) => g.detach(),
            None if self.numel() != 1 => {
                return err(format!("backward() needs a single-element output (a loss), but the shape is {:?}; reduce it with sum() or mean(), or use backward_with_grad", self.shape()))
            }
            None => Tensor::filled(self.shape(), T::one()),
        };
        let order = self.topological_order();
        if let Some(t) = order.iter().find(|t| !t.0.is_leaf && t.0.op.borrow().is_none()) {
            return err(format!(
                "the graph through a tensor of shape {:?} was already freed by an earlier backward; \
                 recompute the forward pass, or pass retain_graph to the first backward",
                t.shape()
            ));
        }
        let _guard = crate::NoGradGuard::new();
        // Each node's slot in `grads` is its position in `order` (set by topological_order), so
        // gradients are found without hashing.
        let mut grads: Vec<Option<Tensor<T>>> = vec![None; order.len()];
        grads[self.0.slot.get()] = Some(seed);
        for node in order.iter().rev() {
            let Some(g) = grads[node.0.slot.get()].take() else { continue };
            if node.0.is_leaf {
                accumulate_leaf(node, g);
                continue;
            }
            if opts.retain_grads || node.0.retain_grad.get() {
                let mut slot = node.0.grad.borrow_mut();
                *slot = Some(match slot.take() {
                    Some(old) => old.add(&g),
                    None => g.contiguous(),
                });
            }
            let op = if opts.retain_graph { None } else { node.0.op.borrow_mut().take() };
            let mut acc = |x: &Tensor<T>, gx: Tensor<T>| {
                if !x.tracks_grad() {
                    return;
                }
                let slot = &mut grads[x.0.slot.get()];
                *slot = Some(match slot.take() {
                    Some(old) => old.add(&gx),
                    None => gx,
                });
            };
            match op {
                Some(op) => {
                    op.backward(node, &g, &mut acc);
                    node.0.freed.set(true);
                }
                None => {
                    let borrowed = node.0.op.borrow();
                    if let Some(op) = borrowed.as_ref() {
                        op.backward(node, &g, &mut acc);
                    }
                }
            }
        }
        Ok(())
    }

    /// The tensors that require grad and lead to `self`, inputs before the ops that read them.
    pub(crate) fn topological_order(&self) -> Vec<Tensor<T>> {
        // A fresh pass number marks nodes visited in this walk, with no set to allocate.
        let pass = PASS.with(|p| {
            p.set(p.get() + 1);
            p.get()
        });
        let mut order = Vec::with_capacity(16);
        let mut stack = Vec::with_capacity(16);
        stack.push((self.clone(), false));
        while let Some((t, expanded)) = stack.pop() {
            if expanded {
                t.0.slot.set(order.len());
                order.push(t);
                continue;
            }
            if t.0.mark.get() == pass {
                continue;
            }
            t.0.mark.set(pass);
            stack.push((t.clone(), true));
            if let Some(op) = t.0.op.borrow().as_ref() {
                op.for_each_input(|x| {
                    if x.tracks_grad() && x.0.mark.get() != pass {
                        stack.push((x.clone(), false));
                    }
                });
            }
        }
        order
    }
}

thread_local! {
    static PASS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Adds `g` into a leaf's `.grad`, in place when a gradient buffer already exists.
fn accumulate_leaf<T: Float>(leaf: &Tensor<T>, g: Tensor<T>) {
    let mut slot = leaf.0.grad.borrow_mut();
    match slot.as_ref() {
        Some(existing) => {
            let mut dst = existing.0.storage.borrow_mut();
            let off = existing.0.layout.offset;
            g.with_contiguous(|src| dst[off..off + src.len()].iter_mut().zip(src).for_each(|(d, &s)| *d += s));
        }
        None => {
            // Take the buffer over only when no other tensor can see it (neither another node
            // sharing the storage nor a retained `.grad` holding this very node); otherwise a later
            // in-place accumulation would change that tensor too.
            let owned = Rc::strong_count(&g.0) == 1
                && Rc::strong_count(&g.0.storage) == 1
                && g.is_contiguous()
                && g.layout().offset == 0;
            let g = if owned && g.shape() == leaf.shape() {
                g.detach()
            } else {
                Tensor::from_parts(g.to_vec(), leaf.shape(), None)
            };
            *slot = Some(g);
        }
    }
}
