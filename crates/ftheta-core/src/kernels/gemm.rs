//! Matrix products: the one entry `gemm_into` that `matmul`, `linear` and their chain rules call,
//! and how it picks a plain loop, one `gemm` call, or two halves on two threads.
//!
//! `gemm` (chosen over `matrixmultiply` by the figures in ARCHITECTURE.md) takes arbitrary strides,
//! so transposed views reach the kernel without a copy.

use super::choice::GemmKernel;
use crate::Float;

/// Products with fewer multiply-adds than this run on one thread. Measured with
/// `ftheta-bench mlp-step` (see ARCHITECTURE.md): with the limit at 2²⁴ the MNIST MLP's products
/// (128×784×256 ≈ 2²⁴·⁶) ran on two threads and a training step took 2.0-2.7 ms instead of 1.7 ms;
/// square products gain from 512³ on (172 against 110 GFLOP/s).
pub(crate) const GEMM_PARALLEL_MIN: usize = 1 << 26;

/// On two or more threads, products from this many multiply-adds up to [`GEMM_PARALLEL_MIN`] are
/// cut in two halves of rows or columns, each a single-threaded `gemm` call, run side by side
/// (`gemm_into`): unlike `gemm`'s own threading this needs no shared packing, so it pays on the
/// MNIST MLP's products (see ARCHITECTURE.md).
pub(crate) const GEMM_SPLIT_MIN: usize = 1 << 20;

/// Below this many multiply-adds a plain loop beats a blocked GEMM, whose packing costs more
/// than the arithmetic (the course's tiny models multiply [100, 1] by [1, 1]).
const SMALL: usize = 4096;

/// A strided matrix operand: its elements from the start of `data`, and its row and column strides.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a, T> {
    data: &'a [T],
    rs: usize,
    cs: usize,
}

impl<'a, T> Mat<'a, T> {
    pub(crate) fn new(data: &'a [T], rs: usize, cs: usize) -> Self {
        Mat { data, rs, cs }
    }

    /// The same matrix transposed (a view: strides swapped).
    pub(crate) fn t(self) -> Self {
        Mat { data: self.data, rs: self.cs, cs: self.rs }
    }
}

/// `c += a·b` for `c` an m×n row-major buffer: the one entry to matrix multiplication for
/// `matmul`, `linear` and their backward passes. `accumulate = false` promises that `c` holds
/// zeros (a fresh buffer), so that GEMM may overwrite it without reading it.
///
/// Tiny products take a plain loop. On two or more threads, products from
/// [`GEMM_SPLIT_MIN`] multiply-adds are cut in two halves of rows (or columns), each
/// one single-threaded `gemm` call, run side by side by this thread and the helper thread of
/// `pool::join2`; from
/// [`GEMM_PARALLEL_MIN`] on, `gemm`'s own threading takes over. Neither ever cuts
/// the summed dimension `k`, and `gemm` picks its `k` blocking from `k` alone for these sizes
/// (halves keep more than 64 rows or columns, so they take the same kernel path as the whole), so
/// every element is summed in the same order at any thread count.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_into<T: Float>(m: usize, k: usize, n: usize, a: Mat<T>, b: Mat<T>, c: &mut [T], accumulate: bool) {
    debug_assert!(c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        return;
    }
    let work = m * n * k;
    if work <= SMALL {
        small_gemm(m, k, n, a.data, a.rs, a.cs, b.data, b.rs, b.cs, c);
        return;
    }
    let threads = rayon::current_num_threads();
    if threads > 1 && (GEMM_SPLIT_MIN..GEMM_PARALLEL_MIN).contains(&work) {
        // Halves must keep gemm's large-matrix path (more than 64 rows or columns; there its k
        // blocking depends on k alone) like the whole product, so that every element is summed in
        // exactly the same order.
        let cp = SendPtr(c.as_mut_ptr());
        // Columns first: each half then packs only its half of b (gemm packs b, the larger
        // operand of the MLP's products).
        if n / 2 > 64 {
            let h = n / 2;
            let b2 = Mat::new(&b.data[h * b.cs..], b.rs, b.cs);
            super::pool::join2(
                // SAFETY: columns 0..h of every row, disjoint from the other half's columns.
                || unsafe { gemm_raw(m, k, h, a, b, cp.get(), n, accumulate) },
                // SAFETY: columns h..n of every row, disjoint from the other half's columns.
                || unsafe { gemm_raw(m, k, n - h, a, b2, cp.get().add(h), n, accumulate) },
            );
            return;
        }
        if m / 2 > 64 {
            let h = m / 2;
            let a2 = Mat::new(&a.data[h * a.rs..], a.rs, a.cs);
            super::pool::join2(
                // SAFETY: rows 0..h of c, disjoint from the other half's rows.
                || unsafe { gemm_raw(h, k, n, a, b, cp.get(), n, accumulate) },
                // SAFETY: rows h..m of c, disjoint from the other half's rows.
                || unsafe { gemm_raw(m - h, k, n, a2, b, cp.get().add(h * n), n, accumulate) },
            );
            return;
        }
    }
    gemm_one(m, k, n, a, b, c, n, accumulate);
}

#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: used only to hand disjoint parts of one buffer to the two sides of a join.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// The pointer (a method, so that a closure captures the whole `Send` wrapper).
    fn get(self) -> *mut T {
        self.0
    }
}

/// One `gemm` call writing an m×n block of `c` with row stride `rsc`.
#[allow(clippy::too_many_arguments)]
fn gemm_one<T: Float>(m: usize, k: usize, n: usize, a: Mat<T>, b: Mat<T>, c: &mut [T], rsc: usize, accumulate: bool) {
    debug_assert!(c.len() >= (m - 1) * rsc + n);
    // SAFETY: `c` holds the m×n block with row stride rsc.
    unsafe { gemm_raw(m, k, n, a, b, c.as_mut_ptr(), rsc, accumulate) }
}

/// # Safety
/// `c` must point to an m×n block with row stride `rsc` that nothing else reads or writes meanwhile.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: *mut T,
    rsc: usize,
    accumulate: bool,
) {
    let beta = if accumulate { T::one() } else { T::zero() };
    let (a, b) = ((a.data.as_ptr(), a.rs as isize, a.cs as isize), (b.data.as_ptr(), b.rs as isize, b.cs as isize));
    // SAFETY: a and b are slices holding their matrices (checked by the layouts that made them);
    // c per the caller's contract.
    unsafe { gemm_strided(m, k, n, T::one(), a, b, beta, (c, rsc as isize, 1)) }
}

/// `c = alpha·a·b + beta·c` on matrices given as (pointer, row stride, column stride): the one
/// call into the `gemm` crate (or, when forced by [`super::choice::set_gemm_kernel`], into its AVX2
/// or scalar kernels), threaded on rayon's pool from [`GEMM_PARALLEL_MIN`] multiply-adds.
/// `gemm` splits the work by output blocks, never along `k`, so each element is summed in the
/// same order whatever the thread count.
///
/// # Safety
/// The pointers and strides must describe valid `m×k`, `k×n` and `m×n` matrices, and `c` must
/// not alias `a` or `b`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_strided<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    (a, rsa, csa): (*const T, isize, isize),
    (b, rsb, csb): (*const T, isize, isize),
    beta: T,
    (c, rsc, csc): (*mut T, isize, isize),
) {
    let threads = rayon::current_num_threads();
    let par = if threads > 1 && m * n * k >= GEMM_PARALLEL_MIN {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // gemm computes dst = alpha·dst + beta·lhs·rhs (the roles of the two scalars are swapped) and
    // takes column strides first.
    let kernel = super::choice::gemm_kernel();
    if kernel != GemmKernel::Auto {
        // SAFETY: forwarded from the caller's contract, in gemm::gemm's argument order.
        unsafe {
            super::choice::forced_gemm(
                kernel,
                m,
                n,
                k,
                c,
                csc,
                rsc,
                beta != T::zero(),
                a,
                csa,
                rsa,
                b,
                csb,
                rsb,
                beta,
                alpha,
                par,
            )
        };
        return;
    }
    // SAFETY: forwarded from the caller's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            csc,
            rsc,
            beta != T::zero(),
            a,
            csa,
            rsa,
            b,
            csb,
            rsb,
            beta,
            alpha,
            false,
            false,
            false,
            par,
        )
    }
}

/// `c = a @ b` by the textbook loop, for matrices too small to be worth packing.
#[allow(clippy::too_many_arguments)]
#[inline]
fn small_gemm<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    rsa: usize,
    csa: usize,
    b: &[T],
    rsb: usize,
    csb: usize,
    c: &mut [T],
) {
    let c = &mut c[..m * n];
    if n == 1 && csa == 1 && rsb == 1 {
        // Matrix × contiguous column, rows contiguous: one dot product per row.
        for (i, o) in c.iter_mut().enumerate() {
            *o += dot(&a[i * rsa..i * rsa + k], &b[..k]);
        }
    } else if n == 1 && rsa == 1 {
        // Column-major matrix × column: add column p of a, scaled by b[p], for each p.
        for p in 0..k {
            let y = b[p * rsb];
            c.iter_mut().zip(&a[p * csa..p * csa + m]).for_each(|(o, &x)| *o += x * y);
        }
    } else if csb == 1 {
        // Rows of b contiguous: c[i, :] += a[i, p]·b[p, :].
        for (i, row) in c.chunks_exact_mut(n).enumerate() {
            for p in 0..k {
                let x = a[i * rsa + p * csa];
                row.iter_mut().zip(&b[p * rsb..p * rsb + n]).for_each(|(o, &y)| *o += x * y);
            }
        }
    } else if rsb == 1 && csa == 1 {
        // Columns of b and rows of a contiguous: one dot product per element.
        for (i, row) in c.chunks_exact_mut(n).enumerate() {
            let ar = &a[i * rsa..i * rsa + k];
            row.iter_mut().enumerate().for_each(|(j, o)| *o += dot(ar, &b[j * csb..j * csb + k]));
        }
    } else {
        for (i, row) in c.chunks_exact_mut(n).enumerate() {
            for p in 0..k {
                let x = a[i * rsa + p * csa];
                row.iter_mut().enumerate().for_each(|(j, o)| *o += x * b[p * rsb + j * csb]);
            }
        }
    }
}

/// A dot product with eight partial sums (so that the loop vectorizes), combined in a fixed order.
#[inline]
fn dot<T: Float>(x: &[T], y: &[T]) -> T {
    let mut acc = [T::zero(); 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for l in 0..8 {
            acc[l] += a[l] * b[l];
        }
    }
    let mut total = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (&a, &b) in xr.iter().zip(yr) {
        total += a * b;
    }
    total
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    /// The same product on a one-thread and a two-thread pool must agree to the last bit, so that
    /// a seed reproduces a run whatever `RAYON_NUM_THREADS` is.
    #[test]
    fn large_products_are_bit_identical_across_thread_counts() {
        crate::manual_seed(3);
        let a = Tensor::randn(&[420, 400]);
        let b = Tensor::randn(&[400, 410]);
        const { assert!(420 * 400 * 410 >= super::GEMM_PARALLEL_MIN, "the test must exercise the threaded path") };
        let (av, bv) = (a.to_vec(), b.to_vec());
        // Tensors are !Send, so each pool builds its own from the plain data.
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let (x, y) = (av.clone(), bv.clone());
            pool.install(move || Tensor::from_vec(x, &[420, 400]).matmul(&Tensor::from_vec(y, &[400, 410])).to_vec())
        };
        let (one, two) = (run(1), run(2));
        assert!(one.iter().zip(&two).all(|(x, y)| x.to_bits() == y.to_bits()));
        // And the product is right: spot-check one element against a plain dot product.
        let dot: f64 = (0..400).map(|p| av[7 * 400 + p] as f64 * bv[p * 410 + 9] as f64).sum();
        assert!((one[7 * 410 + 9] as f64 - dot).abs() < 1e-3, "{} vs {dot}", one[7 * 410 + 9]);
    }

    /// The products of the MNIST MLP (forward and backward) are cut in halves on two threads
    /// (`gemm_into`); the values and gradients must not change by a bit.
    #[test]
    fn split_products_are_bit_identical_across_thread_counts() {
        const { assert!(128 * 784 * 256 >= super::GEMM_SPLIT_MIN && 128 * 784 * 256 < super::GEMM_PARALLEL_MIN) };
        const { assert!(128 * 256 * 128 >= super::GEMM_SPLIT_MIN) };
        crate::manual_seed(5);
        let data: Vec<Vec<f32>> = [vec![128, 784], vec![256, 784], vec![256], vec![128, 256], vec![128, 256]]
            .iter()
            .map(|s| Tensor::randn(s).to_vec())
            .collect();
        let run = |threads, rows: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let d = data.clone();
            pool.install(move || {
                let x = Tensor::from_vec(d[0][..rows * 784].to_vec(), &[rows, 784]).requires_grad();
                let w = Tensor::from_vec(d[1].clone(), &[256, 784]).requires_grad();
                let b = Tensor::from_vec(d[2].clone(), &[256]).requires_grad();
                let w2 = Tensor::from_vec(d[3].clone(), &[128, 256]).requires_grad();
                let r = Tensor::from_vec(d[4][..rows * 256].to_vec(), &[rows, 256]);
                let h = x.linear(&w, Some(&b)).relu();
                let y = h.linear(&w2, None);
                // Twice, so the second backward adds into the existing gradient buffers.
                for _ in 0..2 {
                    let y = x.linear(&w, Some(&b)).relu().linear(&w2, None);
                    (&y * &r.narrow(1, 0, 128)).sum().backward();
                }
                let grads = [&x, &w, &b, &w2].map(|t| t.grad().unwrap().to_vec());
                (h.to_vec(), y.to_vec(), grads)
            })
        };
        let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
        for rows in [128, 32] {
            let (one, two) = (run(1, rows), run(2, rows));
            assert!(same(&one.0, &two.0) && same(&one.1, &two.1), "batch {rows}");
            for (g1, g2) in one.2.iter().zip(&two.2) {
                assert!(same(g1, g2), "batch {rows}");
            }
        }
    }
}
