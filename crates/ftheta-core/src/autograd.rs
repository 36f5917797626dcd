//! The backward pass: sorts the graph that led to a loss, hands each node's gradient to its chain
//! rule (`backprop.rs`), and adds the results up until they reach the leaves' `.grad`.
//!
//! `backward` sorts the graph topologically from the output, then visits it from the output back
//! to the leaves: each node's gradient `g = ∂L/∂out` goes through its rule to give `∂L/∂input`
//! for each input, and gradients arriving at the same tensor add up. Leaves accumulate into
//! `.grad`. Visited ops are dropped (freeing their saved inputs) unless the graph is retained.

use std::rc::Rc;

use crate::backprop::Grads;
use crate::{Float, Tensor, TensorError};

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
            let mut into = Grads { slots: &mut grads };
            match op {
                Some(op) => op.backward(node, &g, &mut into),
                None => {
                    if let Some(op) = node.0.op.borrow().as_ref() {
                        op.backward(node, &g, &mut into);
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
