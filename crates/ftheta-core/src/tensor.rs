//! The `Tensor` type: shared storage, a layout over it, and the autograd bookkeeping.

use std::cell::{Cell, Ref, RefCell};
use std::rc::Rc;

use crate::dtype::Float;
use crate::grad_mode::is_grad_enabled;
use crate::layout::Layout;
use crate::op::Op;

/// Flat element storage, shared between a tensor and its views.
pub(crate) type Storage<T> = Rc<RefCell<Vec<T>>>;

/// An n-dimensional array of `T` (default `f32`) that can record the operations made on it and
/// compute gradients by reverse-mode automatic differentiation.
///
/// Cloning a `Tensor` is cheap (a reference count): the clone is the same node of the graph. A
/// tensor is `!Send`: the graph is single-threaded by design (no locks, no atomics on the hot
/// path); kernels still run multi-threaded on the plain slices underneath.
///
/// ```
/// use ftheta_core::Tensor;
/// let w = Tensor::from_vec(vec![1.0, 2.0], &[2]).requires_grad();
/// let loss = (&w * &w).sum();
/// loss.backward();
/// assert_eq!(w.grad().unwrap().to_vec(), vec![2.0, 4.0]);
/// ```
pub struct Tensor<T: Float = f32>(pub(crate) Rc<Inner<T>>);

pub(crate) struct Inner<T: Float> {
    pub(crate) id: usize,
    pub(crate) storage: Storage<T>,
    pub(crate) layout: Layout,
    pub(crate) requires_grad: Cell<bool>,
    /// Created by the user (or `detach`), not by an op: gradients accumulate here.
    pub(crate) is_leaf: bool,
    pub(crate) grad: RefCell<Option<Tensor<T>>>,
    /// How this tensor was computed; taken (freed) by `backward` unless the graph is retained.
    pub(crate) op: RefCell<Option<Op<T>>>,
    pub(crate) retain_grad: Cell<bool>,
    pub(crate) name: RefCell<Option<String>>,
    /// The backward pass that last visited this node, and its position in that pass's order.
    pub(crate) mark: Cell<u64>,
    pub(crate) slot: Cell<usize>,
}

impl<T: Float> Clone for Tensor<T> {
    fn clone(&self) -> Self {
        Tensor(Rc::clone(&self.0))
    }
}

thread_local! {
    static NEXT_ID: Cell<usize> = const { Cell::new(0) };
}

fn next_id() -> usize {
    NEXT_ID.with(|c| {
        let id = c.get();
        c.set(id + 1);
        id
    })
}

impl<T: Float> Tensor<T> {
    /// Builds a tensor node; `op` is kept only when it is `Some` (the caller decided that the
    /// result needs a gradient).
    pub(crate) fn make(storage: Storage<T>, layout: Layout, op: Option<Op<T>>) -> Self {
        let tracked = op.is_some();
        Tensor(Rc::new(Inner {
            id: next_id(),
            storage,
            layout,
            requires_grad: Cell::new(tracked),
            is_leaf: !tracked,
            grad: RefCell::new(None),
            op: RefCell::new(op),
            retain_grad: Cell::new(false),
            name: RefCell::new(None),
            mark: Cell::new(0),
            slot: Cell::new(0),
        }))
    }

    /// A new contiguous tensor owning `data`, recording `op` when gradients are needed.
    pub(crate) fn from_parts(data: Vec<T>, shape: &[usize], op: Option<Op<T>>) -> Self {
        debug_assert_eq!(data.len(), shape.iter().product::<usize>());
        Self::make(Rc::new(RefCell::new(data)), Layout::contiguous(shape), op)
    }

    /// A view sharing this tensor's storage under another layout.
    pub(crate) fn view_with(&self, layout: Layout, op: Option<Op<T>>) -> Self {
        Self::make(Rc::clone(&self.0.storage), layout, op)
    }

    /// Whether an op on `inputs` must record itself: grad mode is on and an input requires grad.
    #[inline]
    pub(crate) fn track(inputs: &[&Tensor<T>]) -> bool {
        inputs.iter().any(|t| t.0.requires_grad.get()) && is_grad_enabled()
    }

    /// A tensor that owns `data` with the given shape.
    ///
    /// # Panics
    /// When `data.len()` differs from the product of `shape`; use [`Tensor::try_from_data`] for
    /// data that comes from a user.
    #[track_caller]
    pub fn from_data(data: Vec<T>, shape: &[usize]) -> Self {
        match Self::try_from_data(data, shape) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        }
    }

    /// Like [`Tensor::from_data`], but returns an error when the length does not fit the shape.
    pub fn try_from_data(data: Vec<T>, shape: &[usize]) -> Result<Self, crate::TensorError> {
        let n: usize = shape.iter().product();
        if data.len() != n {
            return Err(crate::TensorError::DataLength { len: data.len(), shape: shape.to_vec(), numel: n });
        }
        Ok(Self::from_parts(data, shape, None))
    }

    /// A tensor of `shape` with every element set to `value`.
    pub fn filled(shape: &[usize], value: T) -> Self {
        Self::from_parts(vec![value; shape.iter().product()], shape, None)
    }

    /// A zero-dimensional tensor holding `value`.
    pub fn from_scalar(value: T) -> Self {
        Self::from_parts(vec![value], &[], None)
    }

    /// A tensor of zeros with this tensor's shape and type.
    pub fn zeros_like(&self) -> Self {
        Self::filled(self.shape(), T::zero())
    }

    /// A tensor of ones with this tensor's shape and type.
    pub fn ones_like(&self) -> Self {
        Self::filled(self.shape(), T::one())
    }

    /// A tensor of `shape` filled with `value`, of this tensor's element type.
    pub fn new_full(&self, shape: &[usize], value: f64) -> Self {
        Self::filled(shape, T::from_f64(value))
    }

    /// The dimension sizes.
    #[inline]
    pub fn shape(&self) -> &[usize] {
        &self.0.layout.shape
    }

    /// The dimension sizes (PyTorch's `size()`): the same as [`Tensor::shape`].
    #[deprecated(note = "use shape()")]
    #[inline]
    pub fn dims(&self) -> &[usize] {
        self.shape()
    }

    /// The number of dimensions.
    #[inline]
    pub fn ndim(&self) -> usize {
        self.0.layout.shape.len()
    }

    /// The number of elements.
    #[inline]
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }

    /// The layout (shape, strides, offset) of this tensor over its storage.
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }

    /// The strides, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.0.layout.strides
    }

    /// Whether the elements are stored row-major with no gaps.
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }

    /// A number that identifies this node of the graph (unique within a thread).
    pub fn id(&self) -> usize {
        self.0.id
    }

    /// The PyTorch name of the element type (`float32`, `float64`).
    pub fn dtype(&self) -> &'static str {
        T::DTYPE
    }

    /// The elements in row-major order.
    pub fn to_vec(&self) -> Vec<T> {
        self.with_contiguous(|s| s.to_vec())
    }

    /// The elements converted to `f64`, in row-major order.
    pub fn to_vec_f64(&self) -> Vec<f64> {
        self.with_contiguous(|s| s.iter().map(|v| v.as_f64()).collect())
    }

    /// The value of a one-element tensor.
    ///
    /// # Panics
    /// When the tensor has more or fewer than one element.
    #[track_caller]
    pub fn item(&self) -> T {
        if self.numel() != 1 {
            panic!("item: the tensor must hold exactly one element, but its shape is {:?}", self.shape());
        }
        self.0.storage.borrow()[self.0.layout.offset]
    }

    /// Calls `f` with the elements as one row-major slice, copying only when the layout is not
    /// contiguous.
    #[inline]
    pub fn with_contiguous<R>(&self, f: impl FnOnce(&[T]) -> R) -> R {
        let st = self.0.storage.borrow();
        let l = &self.0.layout;
        if l.is_contiguous() {
            f(&st[l.offset..l.offset + l.numel()])
        } else {
            let mut v = Vec::with_capacity(l.numel());
            l.for_each_offset(|o| v.push(st[o]));
            f(&v)
        }
    }

    /// Borrows the storage (for kernels that read strided data directly).
    pub(crate) fn storage(&self) -> Ref<'_, Vec<T>> {
        self.0.storage.borrow()
    }

    /// Whether two tensors share the same storage (one is a view of the other).
    pub fn shares_storage(&self, other: &Tensor<T>) -> bool {
        Rc::ptr_eq(&self.0.storage, &other.0.storage)
    }

    /// Marks this leaf tensor as a parameter: operations on it are recorded and `backward` fills
    /// its `grad`. Returns the tensor itself so it reads as a builder.
    ///
    /// # Panics
    /// On a tensor computed by an op (only leaves hold gradients); `detach()` it first.
    #[track_caller]
    pub fn requires_grad(self) -> Self {
        self.set_requires_grad(true);
        self
    }

    /// Turns gradient tracking of this leaf on or off (PyTorch's `requires_grad_`); freezing a
    /// parameter is `set_requires_grad(false)`.
    #[track_caller]
    pub fn set_requires_grad(&self, on: bool) {
        if !self.0.is_leaf {
            panic!(
                "requires_grad: only leaf tensors can change requires_grad; this one was computed by {} (call detach() first)",
                self.op_name()
            );
        }
        self.0.requires_grad.set(on);
    }

    /// Whether operations on this tensor are recorded for autograd.
    pub fn tracks_grad(&self) -> bool {
        self.0.requires_grad.get()
    }

    /// Whether this tensor was created directly rather than computed by a recorded op.
    pub fn is_leaf(&self) -> bool {
        self.0.is_leaf
    }

    /// The accumulated gradient, if `backward` has reached this tensor.
    pub fn grad(&self) -> Option<Tensor<T>> {
        self.0.grad.borrow().clone()
    }

    /// Sets the gradient to zero in place, keeping its buffer for the next backward pass.
    pub fn zero_grad(&self) {
        if let Some(g) = self.0.grad.borrow().as_ref() {
            g.0.storage.borrow_mut().iter_mut().for_each(|v| *v = T::zero());
        }
    }

    /// Drops the gradient (PyTorch's `grad = None`).
    pub fn clear_grad(&self) {
        *self.0.grad.borrow_mut() = None;
    }

    /// Keeps the gradient of this computed tensor after `backward` (for inspection and `to_dot`).
    pub fn retain_grad(&self) -> &Self {
        self.0.retain_grad.set(true);
        self
    }

    /// A new leaf that shares this tensor's data but is cut from the graph.
    pub fn detach(&self) -> Self {
        self.view_with(self.0.layout.clone(), None)
    }

    /// Gives the tensor a name, shown by `to_dot` (for example `w` or `b`).
    pub fn with_name(self, name: impl Into<String>) -> Self {
        *self.0.name.borrow_mut() = Some(name.into());
        self
    }

    /// The name given with [`Tensor::with_name`], if any.
    pub fn name(&self) -> Option<String> {
        self.0.name.borrow().clone()
    }

    /// The name of the op that computed this tensor (`"leaf"` for leaves).
    pub fn op_name(&self) -> &'static str {
        match self.0.op.borrow().as_ref() {
            Some(op) => op.name(),
            None if self.0.is_leaf => "leaf",
            None => "freed",
        }
    }

    /// This tensor with row-major contiguous storage: itself when already contiguous, a copy
    /// (recorded for autograd) otherwise.
    pub fn contiguous(&self) -> Self {
        if self.is_contiguous() {
            return self.clone();
        }
        let op = Self::track(&[self]).then(|| Op::Copy(self.clone()));
        Self::from_parts(self.to_vec(), self.shape(), op)
    }

    /// Converts the elements to another float type (for example `f64` for a gradient check).
    pub fn cast<U: Float>(&self) -> Tensor<U> {
        Tensor::from_parts(
            self.with_contiguous(|s| s.iter().map(|v| U::from_f64(v.as_f64())).collect()),
            self.shape(),
            None,
        )
    }

    /// Runs `f` on the elements in place. Only for leaves outside of recorded computation
    /// (parameter updates under `no_grad`, initialization); the change is seen by every view.
    ///
    /// # Panics
    /// When the tensor is a strided view (not contiguous), or a leaf that requires grad while
    /// grad mode is on (the in-place change would corrupt the graph, as PyTorch refuses too).
    #[track_caller]
    pub fn update_(&self, f: impl FnOnce(&mut [T])) {
        if self.tracks_grad() && is_grad_enabled() {
            panic!("update_: an in-place change to a tensor that requires grad must run inside no_grad");
        }
        if !self.is_contiguous() {
            panic!(
                "update_: the tensor must be contiguous, but its strides are {:?} for shape {:?}",
                self.strides(),
                self.shape()
            );
        }
        let (off, n) = (self.0.layout.offset, self.numel());
        let mut st = self.0.storage.borrow_mut();
        f(&mut st[off..off + n]);
    }

    /// `self += alpha * other` in place (the SGD update `w.add_scaled_(&g, -lr)`).
    #[track_caller]
    pub fn add_scaled_(&self, other: &Tensor<T>, alpha: f64) {
        crate::check::same_shape("add_scaled_", self.shape(), other.shape());
        let a = T::from_f64(alpha);
        other.with_contiguous(|o| {
            self.update_(|d| d.iter_mut().zip(o).for_each(|(x, &y)| *x += a * y));
        });
    }

    /// Copies `src`'s values into this tensor in place.
    #[track_caller]
    pub fn copy_(&self, src: &Tensor<T>) {
        crate::check::same_shape("copy_", self.shape(), src.shape());
        src.with_contiguous(|s| self.update_(|d| d.copy_from_slice(s)));
    }

    /// Sets every element to `value` in place.
    #[track_caller]
    pub fn fill_(&self, value: f64) {
        let v = T::from_f64(value);
        self.update_(|d| d.iter_mut().for_each(|x| *x = v));
    }
}

/// Convenient constructors for the default element type, `f32`. For another type use the generic
/// ones (`Tensor::<f64>::from_data`, `filled`) or `cast`.
impl Tensor<f32> {
    /// A tensor that owns `data`, laid out row-major with the given shape.
    ///
    /// # Panics
    /// When `data.len()` differs from the product of `shape`.
    #[track_caller]
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Self {
        Self::from_data(data, shape)
    }

    /// A zero-dimensional tensor.
    pub fn scalar(value: f32) -> Self {
        Self::from_scalar(value)
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::filled(shape, 0.0)
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::filled(shape, 1.0)
    }

    /// A tensor with every element equal to `value`.
    pub fn full(shape: &[usize], value: f32) -> Self {
        Self::filled(shape, value)
    }

    /// `start, start + step, …` up to but excluding `end`, as PyTorch's `arange`.
    #[track_caller]
    pub fn arange(start: f32, end: f32, step: f32) -> Self {
        if step == 0.0 || !step.is_finite() || (end - start) / step < 0.0 {
            panic!("arange: step {step} cannot go from {start} to {end}");
        }
        let n = ((end - start) / step).ceil() as usize;
        let data: Vec<f32> = (0..n).map(|i| start + i as f32 * step).collect();
        Self::from_vec(data, &[n])
    }

    /// `steps` evenly spaced values from `start` to `end` inclusive.
    pub fn linspace(start: f32, end: f32, steps: usize) -> Self {
        let data: Vec<f32> = match steps {
            0 => vec![],
            1 => vec![start],
            _ => {
                let step = (end as f64 - start as f64) / (steps - 1) as f64;
                (0..steps).map(|i| (start as f64 + i as f64 * step) as f32).collect()
            }
        };
        Self::from_vec(data, &[steps])
    }

    /// Uniform samples in `[0, 1)` from the thread's generator (see [`crate::manual_seed`]).
    pub fn rand(shape: &[usize]) -> Self {
        crate::random::rand_t(shape)
    }

    /// Standard normal samples from the thread's generator (see [`crate::manual_seed`]).
    pub fn randn(shape: &[usize]) -> Self {
        crate::random::randn_t(shape)
    }

    /// The identity matrix.
    pub fn eye(n: usize) -> Self {
        let mut d = vec![0.0; n * n];
        (0..n).for_each(|i| d[i * n + i] = 1.0);
        Self::from_vec(d, &[n, n])
    }
}
