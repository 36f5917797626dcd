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
    );
}

/// Products with fewer multiply-adds than this run on one thread. Measured with
/// `ftheta-bench mlp-step` (see ARCHITECTURE.md): with the limit at 2²⁴ the MNIST MLP's products
/// (128×784×256 ≈ 2²⁴·⁶) ran on two threads and a training step took 2.0-2.7 ms instead of 1.7 ms;
/// square products gain from 512³ on (172 against 110 GFLOP/s).
pub const GEMM_PARALLEL_MIN: usize = 1 << 26;

/// On two or more threads, products from this many multiply-adds up to [`GEMM_PARALLEL_MIN`] are
/// cut in two halves of rows or columns, each a single-threaded `gemm` call, run side by side
/// (`gemm_into` in `ops/matmul.rs`): unlike `gemm`'s own threading this needs no shared packing,
/// so it pays on the MNIST MLP's products (see ARCHITECTURE.md).
pub const GEMM_SPLIT_MIN: usize = 1 << 20;

/// `c = alpha·a·b + beta·c` through the `gemm` crate (chosen over `matrixmultiply` by the figures
/// in ARCHITECTURE.md), multi-threaded on rayon's pool above [`GEMM_PARALLEL_MIN`].
///
/// `gemm` splits the work by output blocks, never along `k`, so each element is summed in the
/// same order whatever the thread count: results are bit-identical at 1 and 2 threads.
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn gemm_any<T: Copy + PartialEq + num_traits::Zero + 'static>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: *const T,
    rsa: isize,
    csa: isize,
    b: *const T,
    rsb: isize,
    csb: isize,
    beta: T,
    c: *mut T,
    rsc: isize,
    csc: isize,
) {
    let threads = rayon::current_num_threads();
    let par = if threads > 1 && m * n * k >= GEMM_PARALLEL_MIN {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // gemm computes dst = alpha·dst + beta·lhs·rhs: the roles of the two scalars are swapped.
    let read_dst = beta != T::zero();
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        gemm::gemm(m, n, k, c, csc, rsc, read_dst, a, csa, rsa, b, csb, rsb, beta, alpha, false, false, false, par)
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
        crate::simd::exp_slice(xs)
    }
    fn tanh_slice(xs: &[f32]) -> Vec<f32> {
        crate::simd::tanh_slice(xs)
    }
    fn sigmoid_slice(xs: &[f32]) -> Vec<f32> {
        crate::simd::sigmoid_slice(xs)
    }
    #[inline]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f32,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        rsb: isize,
        csb: isize,
        beta: f32,
        c: *mut f32,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { gemm_any(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
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
    #[inline]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: f64,
        a: *const f64,
        rsa: isize,
        csa: isize,
        b: *const f64,
        rsb: isize,
        csb: isize,
        beta: f64,
        c: *mut f64,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: forwarded from the caller's contract.
        unsafe { gemm_any(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
}
