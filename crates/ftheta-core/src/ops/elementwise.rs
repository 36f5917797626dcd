//! Elementwise ops: unary maths, activations, broadcasting binary ops and comparisons.
//!
//! Each op here is its forward maths; its chain rule sits in the one table in `backprop.rs`.

use crate::layout::{broadcast_layout, broadcast_shape, Dims};
use crate::op::Op;
use crate::{check, Float, Tensor};

/// Drops unit dimensions and merges neighbours that are contiguous in both operands, so that
/// e.g. `[100, 1] * [100, 1]` (a broadcast view) runs as one loop of 100 rather than 100 of 1.
/// Never returns an empty shape.
fn coalesce(shape: &[usize], sa: &[usize], sb: &[usize]) -> (Dims, Dims, Dims) {
    let (mut s, mut a, mut b) = (Dims::new(), Dims::new(), Dims::new());
    for i in 0..shape.len() {
        if shape[i] == 1 {
            continue;
        }
        if let Some(j) = s.len().checked_sub(1) {
            if a[j] == sa[i] * shape[i] && b[j] == sb[i] * shape[i] {
                s[j] *= shape[i];
                a[j] = sa[i];
                b[j] = sb[i];
                continue;
            }
        }
        s.push(shape[i]);
        a.push(sa[i]);
        b.push(sb[i]);
    }
    if s.is_empty() {
        s.push(1);
        a.push(0);
        b.push(0);
    }
    (s, a, b)
}

/// Applies `f` to each pair of elements of `a` and `b` broadcast together.
#[track_caller]
pub(crate) fn zip_broadcast<T: Float>(
    name: &'static str,
    a: &Tensor<T>,
    b: &Tensor<T>,
    f: impl Fn(T, T) -> T,
) -> (Vec<T>, Dims) {
    let shape = match broadcast_shape(a.shape(), b.shape()) {
        Some(s) => s,
        None => check::fail(name, "shapes cannot be broadcast together", a.shape(), b.shape()),
    };
    let n: usize = shape.iter().product();
    if n == 0 {
        return (Vec::new(), shape);
    }
    let (sa, sb) = (a.storage(), b.storage());
    let (la, lb) = (a.layout(), b.layout());
    // Fast paths: same contiguous shape, or one side a single value.
    if la.shape == lb.shape && la.is_contiguous() && lb.is_contiguous() {
        let xa = &sa[la.offset..la.offset + n];
        let xb = &sb[lb.offset..lb.offset + n];
        return (xa.iter().zip(xb).map(|(&x, &y)| f(x, y)).collect(), shape);
    }
    if lb.numel() == 1 && la.is_contiguous() && la.shape == shape {
        let y = sb[lb.offset];
        return (sa[la.offset..la.offset + n].iter().map(|&x| f(x, y)).collect(), shape);
    }
    if la.numel() == 1 && lb.is_contiguous() && lb.shape == shape {
        let x = sa[la.offset];
        return (sb[lb.offset..lb.offset + n].iter().map(|&y| f(x, y)).collect(), shape);
    }
    let (ba, bb) = (broadcast_layout(la, &shape), broadcast_layout(lb, &shape));
    let (dims, stra, strb) = coalesce(&shape, &ba.strides, &bb.strides);
    let mut out = vec![T::zero(); n];
    let nd = dims.len();
    let inner = dims[nd - 1];
    let (ia, ib) = (stra[nd - 1], strb[nd - 1]);
    let mut idx: Dims = smallvec::smallvec![0; nd];
    let (mut oa, mut ob) = (ba.offset, bb.offset);
    for row in out.chunks_mut(inner) {
        // The stride patterns of a bias add ([B, N] + [N]) and its mirror get loops the compiler
        // vectorizes; anything else takes the general strided loop.
        match (ia, ib) {
            (1, 1) => {
                row.iter_mut().zip(&sa[oa..oa + inner]).zip(&sb[ob..ob + inner]).for_each(|((o, &x), &y)| *o = f(x, y))
            }
            (1, 0) => {
                let y = sb[ob];
                row.iter_mut().zip(&sa[oa..oa + inner]).for_each(|(o, &x)| *o = f(x, y));
            }
            (0, 1) => {
                let x = sa[oa];
                row.iter_mut().zip(&sb[ob..ob + inner]).for_each(|(o, &y)| *o = f(x, y));
            }
            _ => row.iter_mut().enumerate().for_each(|(j, o)| *o = f(sa[oa + j * ia], sb[ob + j * ib])),
        }
        // Step the outer dimensions like an odometer, moving both read offsets together.
        for d in (0..nd - 1).rev() {
            idx[d] += 1;
            oa += stra[d];
            ob += strb[d];
            if idx[d] < dims[d] {
                break;
            }
            oa -= stra[d] * dims[d];
            ob -= strb[d] * dims[d];
            idx[d] = 0;
        }
    }
    (out, shape)
}

impl<T: Float> Tensor<T> {
    /// Applies `f` to every element, recording `op` when gradients are needed.
    #[inline]
    pub(crate) fn unary(&self, f: impl Fn(T) -> T, op: impl FnOnce() -> Op<T>) -> Self {
        let data = self.with_contiguous(|s| s.iter().map(|&x| f(x)).collect());
        let op = Self::track(&[self]).then(op);
        Self::from_parts(data, self.shape(), op)
    }

    /// Like `unary`, with a kernel that takes the whole slice (so it can be vectorized).
    #[inline]
    pub(crate) fn unary_slice(&self, f: impl Fn(&[T]) -> Vec<T>, op: impl FnOnce() -> Op<T>) -> Self {
        let data = self.with_contiguous(f);
        let op = Self::track(&[self]).then(op);
        Self::from_parts(data, self.shape(), op)
    }

    /// A broadcasting binary op that records `op` when gradients are needed.
    #[track_caller]
    pub(crate) fn binary(
        &self,
        rhs: &Tensor<T>,
        name: &'static str,
        f: impl Fn(T, T) -> T,
        op: impl FnOnce() -> Op<T>,
    ) -> Self {
        let (data, shape) = zip_broadcast(name, self, rhs, f);
        let op = Self::track(&[self, rhs]).then(op);
        Self::from_parts(data, &shape, op)
    }

    /// Elementwise sum with broadcasting (also the `+` operator).
    #[track_caller]
    pub fn add(&self, rhs: &Tensor<T>) -> Self {
        self.binary(rhs, "add", |a, b| a + b, || Op::Add(self.clone(), rhs.clone()))
    }

    /// Elementwise difference with broadcasting (also the `-` operator).
    #[track_caller]
    pub fn sub(&self, rhs: &Tensor<T>) -> Self {
        self.binary(rhs, "sub", |a, b| a - b, || Op::Sub(self.clone(), rhs.clone()))
    }

    /// Elementwise product with broadcasting (also the `*` operator).
    #[track_caller]
    pub fn mul(&self, rhs: &Tensor<T>) -> Self {
        self.binary(rhs, "mul", |a, b| a * b, || Op::Mul(self.clone(), rhs.clone()))
    }

    /// Elementwise quotient with broadcasting (also the `/` operator).
    #[track_caller]
    pub fn div(&self, rhs: &Tensor<T>) -> Self {
        self.binary(rhs, "div", |a, b| a / b, || Op::Div(self.clone(), rhs.clone()))
    }

    /// Elementwise larger of two tensors; where they tie, the gradient is split evenly.
    #[track_caller]
    pub fn maximum(&self, rhs: &Tensor<T>) -> Self {
        self.binary(rhs, "maximum", |a, b| if a >= b { a } else { b }, || Op::Maximum(self.clone(), rhs.clone()))
    }

    /// Elementwise smaller of two tensors; where they tie, the gradient is split evenly.
    #[track_caller]
    pub fn minimum(&self, rhs: &Tensor<T>) -> Self {
        self.binary(rhs, "minimum", |a, b| if a <= b { a } else { b }, || Op::Minimum(self.clone(), rhs.clone()))
    }

    /// `self + value` for every element.
    pub fn add_scalar(&self, value: f64) -> Self {
        let v = T::from_f64(value);
        self.unary(|x| x + v, || Op::AddScalar(self.clone()))
    }

    /// `self * value` for every element.
    pub fn mul_scalar(&self, value: f64) -> Self {
        let v = T::from_f64(value);
        self.unary(|x| x * v, || Op::MulScalar(self.clone(), v))
    }

    /// `-self`.
    pub fn neg(&self) -> Self {
        self.unary(|x| -x, || Op::Neg(self.clone()))
    }

    /// `eˣ`.
    pub fn exp(&self) -> Self {
        self.unary_slice(T::exp_slice, || Op::Exp(self.clone()))
    }

    /// The natural logarithm.
    pub fn log(&self) -> Self {
        self.unary(|x| x.ln(), || Op::Log(self.clone()))
    }

    /// The square root.
    pub fn sqrt(&self) -> Self {
        self.unary(|x| x.sqrt(), || Op::Sqrt(self.clone()))
    }

    /// The absolute value (its gradient at 0 is 0, as PyTorch's).
    pub fn abs(&self) -> Self {
        self.unary(|x| x.abs(), || Op::Abs(self.clone()))
    }

    /// `xᵉ` for a constant exponent.
    pub fn pow(&self, exponent: f64) -> Self {
        let e = T::from_f64(exponent);
        if exponent == 2.0 {
            return self.unary(|x| x * x, || Op::Pow(self.clone(), e));
        }
        self.unary(|x| x.powf(e), || Op::Pow(self.clone(), e))
    }

    /// `max(0, x)`.
    pub fn relu(&self) -> Self {
        self.unary(|x| if x > T::zero() { x } else { T::zero() }, || Op::Relu(self.clone()))
    }

    /// The logistic function `1 / (1 + e⁻ˣ)`, computed without overflow for large `|x|`.
    pub fn sigmoid(&self) -> Self {
        self.unary_slice(T::sigmoid_slice, || Op::Sigmoid(self.clone()))
    }

    /// The hyperbolic tangent.
    pub fn tanh(&self) -> Self {
        self.unary_slice(T::tanh_slice, || Op::Tanh(self.clone()))
    }

    /// The sine (of radians).
    pub fn sin(&self) -> Self {
        self.unary(|x| x.sin(), || Op::Sin(self.clone()))
    }

    /// The cosine (of radians).
    pub fn cos(&self) -> Self {
        self.unary(|x| x.cos(), || Op::Cos(self.clone()))
    }

    /// PyTorch's `Hardsigmoid`: `clamp(x/6 + 1/2, 0, 1)`, a piecewise-linear sigmoid.
    pub fn hard_sigmoid(&self) -> Self {
        let (sixth, half) = (T::from_f64(1.0 / 6.0), T::from_f64(0.5));
        self.unary(|x| (x * sixth + half).max(T::zero()).min(T::one()), || Op::HardSigmoid(self.clone()))
    }

    /// `ln(1 + eˣ)`, a smooth ReLU, stable for inputs of any size.
    pub fn softplus(&self) -> Self {
        self.unary(|x| x.max(T::zero()) + (-x.abs()).exp().ln_1p(), || Op::Softplus(self.clone()))
    }

    /// The exact GELU `x·Φ(x)` (PyTorch's default, with the error function).
    pub fn gelu(&self) -> Self {
        let r = T::from_f64(std::f64::consts::FRAC_1_SQRT_2);
        let half = T::from_f64(0.5);
        self.unary(|x| half * x * (T::one() + (x * r).erf()), || Op::Gelu(self.clone()))
    }

    /// Limits every element to `[min, max]`; the gradient passes where the input lies strictly
    /// inside (0 at the bounds, as in PyTorch).
    #[track_caller]
    pub fn clamp(&self, min: f64, max: f64) -> Self {
        if min > max {
            panic!("clamp: min {min} is greater than max {max}");
        }
        let (lo, hi) = (T::from_f64(min), T::from_f64(max));
        self.unary(|x| x.max(lo).min(hi), || Op::Clamp(self.clone(), lo, hi))
    }

    fn compare(&self, rhs: &Tensor<T>, name: &'static str, f: impl Fn(T, T) -> bool) -> Self {
        let (data, shape) = zip_broadcast(name, self, rhs, |a, b| if f(a, b) { T::one() } else { T::zero() });
        Self::from_parts(data, &shape, None)
    }

    fn compare_scalar(&self, v: f64, f: impl Fn(T, T) -> bool) -> Self {
        let v = T::from_f64(v);
        let data = self.with_contiguous(|s| s.iter().map(|&x| if f(x, v) { T::one() } else { T::zero() }).collect());
        Self::from_parts(data, self.shape(), None)
    }
}

macro_rules! comparisons {
    ($($name:ident $scalar:ident $sym:tt $doc:literal;)*) => {
        impl<T: Float> Tensor<T> {
            $(
                #[doc = concat!("A mask (1 where true, 0 elsewhere) of `self ", $doc, " rhs`, broadcasting.")]
                #[track_caller]
                pub fn $name(&self, rhs: &Tensor<T>) -> Self {
                    self.compare(rhs, stringify!($name), |a, b| a $sym b)
                }
                #[doc = concat!("A mask (1 where true, 0 elsewhere) of `self ", $doc, " value`.")]
                pub fn $scalar(&self, value: f64) -> Self {
                    self.compare_scalar(value, |a, b| a $sym b)
                }
            )*
        }
    };
}

comparisons! {
    eq eq_scalar == "==";
    ne ne_scalar != "!=";
    gt gt_scalar > ">";
    ge ge_scalar >= ">=";
    lt lt_scalar < "<";
    le le_scalar <= "<=";
}

/// The logistic function, evaluated so that neither branch overflows.
#[inline]
pub(crate) fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

impl<T: Float> Tensor<T> {
    /// Applies `f` to every element; the result is not recorded for autograd.
    pub fn map(&self, f: impl Fn(T) -> T) -> Self {
        let data = self.with_contiguous(|s| s.iter().map(|&x| f(x)).collect());
        Self::from_parts(data, self.shape(), None)
    }
}
