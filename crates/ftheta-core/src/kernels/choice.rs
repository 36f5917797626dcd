//! Which GEMM kernels the matrix products run on: the ones `gemm` picks at run time for the
//! processor at hand (the default), or its AVX2 or scalar kernels forced, so that the path an
//! AVX2-only machine takes can be tested on an AVX-512 one.
//!
//! `gemm` (with its `x86-v4` feature) detects AVX-512 once per process and keeps no switch to turn
//! it off. Forcing therefore calls the same generic driver, `gemm_basic_generic`, with the same
//! microkernel tables that `gemm` itself instantiates for an AVX2 (`fma`) or a scalar machine
//! (`gemm_common::gemm_def!`), after the same normalization of strides that `gemm::gemm` does.
//! The forced path is thus the code an AVX2-only processor runs, not a look-alike.

use std::any::TypeId;
use std::sync::atomic::{AtomicU8, Ordering};

use gemm_common::gemm::gemm_basic_generic;
use gemm_common::simd::MixedSimd;
use gemm_common::Parallelism;

/// The GEMM kernels that matrix products run on (see [`set_gemm_kernel`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemmKernel {
    /// The widest kernels the processor supports, chosen by `gemm` at run time: AVX-512 where
    /// present, else AVX2 with FMA, else scalar (on x86; NEON on aarch64).
    Auto,
    /// `gemm`'s AVX2+FMA kernels even where AVX-512 is present (the scalar ones where the
    /// processor lacks AVX2 or FMA, or is not x86).
    Avx2,
    /// `gemm`'s portable scalar kernels.
    Scalar,
}

impl GemmKernel {
    /// The name used by `FTHETA_GEMM_KERNEL` and by the benchmarks' output.
    pub fn name(self) -> &'static str {
        match self {
            GemmKernel::Auto => "auto",
            GemmKernel::Avx2 => "avx2",
            GemmKernel::Scalar => "scalar",
        }
    }

    fn code(self) -> u8 {
        match self {
            GemmKernel::Auto => 1,
            GemmKernel::Avx2 => 2,
            GemmKernel::Scalar => 3,
        }
    }
}

/// 0 = not read from the environment yet; otherwise a [`GemmKernel::code`].
static KERNEL: AtomicU8 = AtomicU8::new(0);

/// Forces the GEMM kernels of every later matrix product in this process (all threads).
///
/// The default, [`GemmKernel::Auto`], is the fast choice; the others exist to test and measure
/// the paths other processors take. The environment variable `FTHETA_GEMM_KERNEL` (`auto`,
/// `avx2` or `scalar`) sets the initial choice; any other value leaves it at `auto`. Results are
/// deterministic for each choice (the same bits at any thread count), but may differ between
/// choices in the last bits (the scalar kernels round each product before adding it, the vector
/// ones fuse the two).
pub fn set_gemm_kernel(kernel: GemmKernel) {
    KERNEL.store(kernel.code(), Ordering::Relaxed);
}

/// The GEMM kernels matrix products run on now (see [`set_gemm_kernel`]).
pub fn gemm_kernel() -> GemmKernel {
    match KERNEL.load(Ordering::Relaxed) {
        0 => {
            let k = match std::env::var("FTHETA_GEMM_KERNEL").as_deref() {
                Ok("avx2") => GemmKernel::Avx2,
                Ok("scalar") => GemmKernel::Scalar,
                _ => GemmKernel::Auto,
            };
            // A concurrent set_gemm_kernel wins over the environment.
            let _ = KERNEL.compare_exchange(0, k.code(), Ordering::Relaxed, Ordering::Relaxed);
            gemm_kernel()
        }
        2 => GemmKernel::Avx2,
        3 => GemmKernel::Scalar,
        _ => GemmKernel::Auto,
    }
}

/// The instruction set of the kernels single-precision products actually run on with the current
/// [`gemm_kernel`] on this processor: `"avx512"`, `"avx2"`, `"neon"` or `"scalar"`.
pub fn gemm_isa() -> &'static str {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        match gemm_kernel() {
            // gemm's own test for its AVX-512 kernels (gemm_common::gemm_def!).
            GemmKernel::Auto if is_x86_feature_detected!("avx512f") => "avx512",
            GemmKernel::Auto | GemmKernel::Avx2 if has_avx2() => "avx2",
            _ => "scalar",
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        match gemm_kernel() {
            GemmKernel::Scalar => "scalar",
            _ if std::arch::is_aarch64_feature_detected!("neon") => "neon",
            _ => "scalar",
        }
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "scalar"
    }
}

/// `gemm::gemm`'s arguments (its order: dst, lhs, rhs with column strides first), run on the
/// kernels of `kernel` (not `Auto`, which the caller hands to `gemm::gemm` itself).
///
/// # Safety
/// As for `gemm::gemm`: valid matrices, `dst` not aliasing `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn forced_gemm<T: 'static + Copy>(
    kernel: GemmKernel,
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_cs: isize,
    dst_rs: isize,
    read_dst: bool,
    lhs: *const T,
    lhs_cs: isize,
    lhs_rs: isize,
    rhs: *const T,
    rhs_cs: isize,
    rhs_rs: isize,
    alpha: T,
    beta: T,
    par: Parallelism,
) {
    // gemm::gemm's normalization, line for line: its kernels prefer a column-major destination,
    // and strides are made non-negative.
    let (m, n, mut dst_cs, mut dst_rs, mut lhs, mut lhs_cs, mut lhs_rs, mut rhs, mut rhs_cs, mut rhs_rs) =
        if dst_cs.abs() < dst_rs.abs() {
            (n, m, dst_rs, dst_cs, rhs, rhs_rs, rhs_cs, lhs, lhs_rs, lhs_cs)
        } else {
            (m, n, dst_cs, dst_rs, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs)
        };
    let mut dst = dst;
    if dst_rs < 0 && m > 0 {
        dst = dst.wrapping_offset((m - 1) as isize * dst_rs);
        dst_rs = -dst_rs;
        lhs = lhs.wrapping_offset((m - 1) as isize * lhs_rs);
        lhs_rs = -lhs_rs;
    }
    if dst_cs < 0 && n > 0 {
        dst = dst.wrapping_offset((n - 1) as isize * dst_cs);
        dst_cs = -dst_cs;
        rhs = rhs.wrapping_offset((n - 1) as isize * rhs_cs);
        rhs_cs = -rhs_cs;
    }
    if lhs_cs < 0 && k > 0 {
        lhs = lhs.wrapping_offset((k - 1) as isize * lhs_cs);
        lhs_cs = -lhs_cs;
        rhs = rhs.wrapping_offset((k - 1) as isize * rhs_rs);
        rhs_rs = -rhs_rs;
    }
    let args = Args { m, n, k, dst_cs, dst_rs, read_dst, lhs_cs, lhs_rs, rhs_cs, rhs_rs, par };
    let avx2 = kernel == GemmKernel::Avx2 && has_avx2();
    // SAFETY (all four): T is the type named by the TypeId test, so the casts are identities; the
    // matrices are valid per the caller's contract; the AVX2 tables run only where has_avx2().
    unsafe {
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            let (dst, lhs, rhs) = (dst as *mut f32, lhs as *const f32, rhs as *const f32);
            let (alpha, beta) = (*(&alpha as *const T as *const f32), *(&beta as *const T as *const f32));
            if avx2 {
                run_f32_avx2(&args, dst, lhs, rhs, alpha, beta)
            } else {
                run_f32_scalar(&args, dst, lhs, rhs, alpha, beta)
            }
        } else if TypeId::of::<T>() == TypeId::of::<f64>() {
            let (dst, lhs, rhs) = (dst as *mut f64, lhs as *const f64, rhs as *const f64);
            let (alpha, beta) = (*(&alpha as *const T as *const f64), *(&beta as *const T as *const f64));
            if avx2 {
                run_f64_avx2(&args, dst, lhs, rhs, alpha, beta)
            } else {
                run_f64_scalar(&args, dst, lhs, rhs, alpha, beta)
            }
        } else {
            unreachable!("ftheta's Float is f32 or f64")
        }
    }
}

/// The sizes and strides of one normalized product.
struct Args {
    m: usize,
    n: usize,
    k: usize,
    dst_cs: isize,
    dst_rs: isize,
    read_dst: bool,
    lhs_cs: isize,
    lhs_rs: isize,
    rhs_cs: isize,
    rhs_rs: isize,
    par: Parallelism,
}

fn has_avx2() -> bool {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        // The features of gemm_common::simd::V3, which its try_new checks again.
        is_x86_feature_detected!("fma") && is_x86_feature_detected!("avx2")
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    {
        false
    }
}

/// One instantiation of gemm's driver for a (type, SIMD, microkernel table) triple, with the
/// const parameters `gemm_common::__inject_mod!` gives it: N lanes per register, MR = MR_DIV_N·N.
macro_rules! driver {
    ($name:ident, $ty:ident, $simd:ty, $ukr:path, $lanes:expr, $mr:expr) => {
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(a: &Args, dst: *mut $ty, lhs: *const $ty, rhs: *const $ty, alpha: $ty, beta: $ty) {
            use $ukr as ukr;
            let simd = <$simd as MixedSimd<$ty, $ty, $ty, $ty>>::try_new().expect("checked by the caller");
            // SAFETY: forwarded from forced_gemm's contract.
            unsafe {
                gemm_basic_generic::<
                    _,
                    $ty,
                    { $lanes },
                    { $mr },
                    { ukr::NR },
                    { ukr::MR_DIV_N },
                    { ukr::H_M },
                    { ukr::H_N },
                >(
                    simd,
                    a.m,
                    a.n,
                    a.k,
                    dst,
                    a.dst_cs,
                    a.dst_rs,
                    a.read_dst,
                    lhs,
                    a.lhs_cs,
                    a.lhs_rs,
                    rhs,
                    a.rhs_cs,
                    a.rhs_rs,
                    alpha,
                    beta,
                    false,
                    false,
                    false,
                    |x, y, z| x * y + z,
                    &ukr::UKR,
                    &ukr::H_UKR,
                    false,
                    a.par,
                )
            }
        }
    };
}

// gemm_def!(f32, 2) and gemm_def!(f64, 1): the fma module has 4·multiplier lanes, scalar 1.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
driver!(
    run_f32_avx2,
    f32,
    gemm_common::simd::V3,
    gemm_f32::microkernel::fma::f32,
    8,
    gemm_f32::microkernel::fma::f32::MR_DIV_N * 8
);
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
driver!(
    run_f64_avx2,
    f64,
    gemm_common::simd::V3,
    gemm_f64::microkernel::fma::f64,
    4,
    gemm_f64::microkernel::fma::f64::MR_DIV_N * 4
);
driver!(
    run_f32_scalar,
    f32,
    gemm_common::simd::Scalar,
    gemm_f32::microkernel::scalar::f32,
    1,
    gemm_f32::microkernel::scalar::f32::MR_DIV_N
);
driver!(
    run_f64_scalar,
    f64,
    gemm_common::simd::Scalar,
    gemm_f64::microkernel::scalar::f64,
    1,
    gemm_f64::microkernel::scalar::f64::MR_DIV_N
);

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
unsafe fn run_f32_avx2(a: &Args, dst: *mut f32, lhs: *const f32, rhs: *const f32, alpha: f32, beta: f32) {
    // SAFETY: forwarded; has_avx2() is false here, so this is never reached.
    unsafe { run_f32_scalar(a, dst, lhs, rhs, alpha, beta) }
}
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
unsafe fn run_f64_avx2(a: &Args, dst: *mut f64, lhs: *const f64, rhs: *const f64, alpha: f64, beta: f64) {
    // SAFETY: forwarded; has_avx2() is false here, so this is never reached.
    unsafe { run_f64_scalar(a, dst, lhs, rhs, alpha, beta) }
}
