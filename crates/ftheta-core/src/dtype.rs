//! Element types a tensor can hold.
//!
//! ftheta is generic over its element type rather than tagging storage with a runtime dtype: the
//! compiler then rejects an `f32 + f64` mix at build time, every kernel is monomorphized (no match
//! on a dtype per element or per op), and the very same op code runs in `f64` for gradient checks.
//! `Tensor` without a parameter means `Tensor<f32>`, the type used for training.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// A floating-point element type: implemented for `f32` (training) and `f64` (gradient checks,
/// closed-form least squares).
pub trait Float:
    num_traits::Float
    + Default
    + Debug
    + Display
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Send
    + Sync
    + 'static
{
    /// The name PyTorch gives this type, used by `Display` and error messages.
    const DTYPE: &'static str;

    /// Converts from `f64`, rounding to the nearest representable value.
    fn from_f64(v: f64) -> Self;

    /// Converts to `f64` exactly.
    fn as_f64(self) -> f64;

    /// The Gauss error function, needed by the exact GELU.
    fn erf(self) -> Self;

    /// `eˣ` of every element (vectorized for `f32`).
    fn exp_slice(xs: &[Self]) -> Vec<Self> {
        xs.iter().map(|x| x.exp()).collect()
    }

    /// `tanh x` of every element (vectorized for `f32`).
    fn tanh_slice(xs: &[Self]) -> Vec<Self> {
        xs.iter().map(|x| x.tanh()).collect()
    }

    /// The logistic function of every element (vectorized for `f32`).
    fn sigmoid_slice(xs: &[Self]) -> Vec<Self> {
        xs.iter().map(|&x| crate::ops::elementwise::sigmoid(x)).collect()
    }

    /// `c = alpha * a @ b + beta * c` on strided matrices (row stride, column stride per matrix).
    ///
    /// # Safety
    /// The pointers and strides must describe valid `m×k`, `k×n` and `m×n` matrices, and `c` must
    /// not alias `a` or `b`.
    #[deprecated(note = "use `Tensor::matmul`; this forwards to the one generic call to `gemm::gemm`")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { crate::kernels::gemm::gemm_strided(m, k, n, alpha, (a, rsa, csa), (b, rsb, csb), beta, (c, rsc, csc)) }
    }
}

impl Float for f32 {
    const DTYPE: &'static str = "float32";
    #[inline]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn erf(self) -> Self {
        libm::erff(self)
    }
    fn exp_slice(xs: &[f32]) -> Vec<f32> {
        crate::kernels::simd::exp_slice(xs)
    }
    fn tanh_slice(xs: &[f32]) -> Vec<f32> {
        crate::kernels::simd::tanh_slice(xs)
    }
    fn sigmoid_slice(xs: &[f32]) -> Vec<f32> {
        crate::kernels::simd::sigmoid_slice(xs)
    }
}

impl Float for f64 {
    const DTYPE: &'static str = "float64";
    #[inline]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline]
    fn erf(self) -> Self {
        libm::erf(self)
    }
}
