//! Matrix multiply, 2-D and batched (batch dimensions broadcast), and the fused `linear`
//! (`x·Wᵀ + b`), through `gemm`'s strided GEMM: transposed views go straight to the kernel without
//! a copy.

use crate::backprop::Op;
use crate::layout::{broadcast_shape, Dims};
use crate::{check, Float, Tensor};

impl<T: Float> Tensor<T> {
    /// The matrix product `self @ rhs`. Both need at least one dimension; a 1-D operand is a row
    /// (left) or column (right) vector whose unit dimension is dropped from the result, as in
    /// PyTorch. Leading (batch) dimensions broadcast.
    #[track_caller]
    pub fn matmul(&self, rhs: &Tensor<T>) -> Self {
        if self.ndim() == 0 || rhs.ndim() == 0 {
            check::fail("matmul", "both operands need at least one dimension", self.shape(), rhs.shape());
        }
        // Checked before the vector cases below add unit dimensions, so that the message shows the
        // shapes the caller passed.
        let k_rhs = if rhs.ndim() == 1 { rhs.shape()[0] } else { rhs.shape()[rhs.ndim() - 2] };
        if self.shape()[self.ndim() - 1] != k_rhs {
            check::fail("matmul", "inner dimensions differ", self.shape(), rhs.shape());
        }
        // The right operand first: for vector · vector the left one then meets a matrix, and
        // both unit dimensions come off (the other order would squeeze a 1-D result at -2).
        if rhs.ndim() == 1 {
            return self.matmul(&rhs.unsqueeze(1)).squeeze(-1);
        }
        if self.ndim() == 1 {
            return self.unsqueeze(0).matmul(rhs).squeeze(-2);
        }
        let (a, b) = (self.layout(), rhs.layout());
        let (na, nb) = (a.shape.len(), b.shape.len());
        let (m, k, k2, n) = (a.shape[na - 2], a.shape[na - 1], b.shape[nb - 2], b.shape[nb - 1]);
        if k != k2 {
            check::fail("matmul", "inner dimensions differ", self.shape(), rhs.shape());
        }
        let batch = match broadcast_shape(&a.shape[..na - 2], &b.shape[..nb - 2]) {
            Some(s) => s,
            None => check::fail("matmul", "batch dimensions cannot be broadcast", self.shape(), rhs.shape()),
        };
        let nbatch: usize = batch.iter().product();
        let mut out = vec![T::zero(); nbatch * m * n];
        if k > 0 && m > 0 && n > 0 {
            let (sa, sb) = (self.storage(), rhs.storage());
            let (offs_a, offs_b) = if batch.is_empty() {
                (Dims::from_slice(&[0]), Dims::from_slice(&[0]))
            } else {
                (
                    batch_offsets(&a.shape[..na - 2], &a.strides[..na - 2], &batch),
                    batch_offsets(&b.shape[..nb - 2], &b.strides[..nb - 2], &batch),
                )
            };
            let (rsa, csa) = (a.strides[na - 2], a.strides[na - 1]);
            let (rsb, csb) = (b.strides[nb - 2], b.strides[nb - 1]);
            for (i, c) in out.chunks_mut(m * n).enumerate() {
                let (pa, pb) = (a.offset + offs_a[i], b.offset + offs_b[i]);
                let (ma, mb) = (Mat::new(&sa[pa..], rsa, csa), Mat::new(&sb[pb..], rsb, csb));
                gemm_into(m, k, n, ma, mb, c, false);
            }
        }
        let mut shape: Vec<usize> = batch.to_vec();
        shape.extend_from_slice(&[m, n]);
        let op = Self::track(&[self, rhs]).then(|| Op::MatMul(self.clone(), rhs.clone()));
        Self::from_parts(out, &shape, op)
    }
}

impl<T: Float> Tensor<T> {
    /// `self·weightᵀ + bias` (PyTorch's `nn.functional.linear`): `self` is `[…, in]`, `weight`
    /// `[out, in]`, `bias` `[out]`; the result is `[…, out]`. One op with its own backward: the
    /// bias is written first and the product added onto it in the same GEMM, and the backward pass
    /// computes `∂L/∂W = Gᵀ·X` straight from the row-major `G` (adding it into the weight's
    /// gradient buffer in place when there is one) and `∂L/∂b` as column sums of `G`.
    /// Shapes that do not fit take `matmul` + `add`, with their error messages.
    #[track_caller]
    pub fn linear(&self, weight: &Tensor<T>, bias: Option<&Tensor<T>>) -> Self {
        let nd = self.ndim();
        let fits = nd >= 1
            && weight.ndim() == 2
            && self.shape()[nd - 1] == weight.shape()[1]
            && bias.map_or(true, |b| b.ndim() == 1 && b.shape()[0] == weight.shape()[0])
            && (nd == 2 || self.is_contiguous());
        if !fits {
            let y = self.matmul(&weight.t());
            return match bias {
                Some(b) => y.add(b),
                None => y,
            };
        }
        let (outf, inf) = (weight.shape()[0], weight.shape()[1]);
        let rows: usize = self.shape()[..nd - 1].iter().product();
        // The bias rows, or zeros: the product is added onto them (no buffer zeroed and overwritten).
        let mut out = match bias {
            Some(b) if outf > 0 => b.with_contiguous(|bs| {
                let mut v = Vec::with_capacity(rows * outf);
                (0..rows).for_each(|_| v.extend_from_slice(bs));
                v
            }),
            _ => vec![T::zero(); rows * outf],
        };
        {
            let (sx, sw) = (self.storage(), weight.storage());
            let xm = input_mat(self, &sx);
            let wm = weight_mat(weight, &sw);
            gemm_into(rows, inf, outf, xm, wm.t(), &mut out, bias.is_some());
        }
        let mut shape: Vec<usize> = self.shape()[..nd - 1].to_vec();
        shape.push(outf);
        let track = match bias {
            Some(b) => Self::track(&[self, weight, b]),
            None => Self::track(&[self, weight]),
        };
        let op = track.then(|| Op::Linear(self.clone(), weight.clone(), bias.cloned()));
        Self::from_parts(out, &shape, op)
    }
}

/// The input of `linear` as a `[rows, in]` matrix (2-D with any strides, or contiguous).
fn input_mat<'a, T: Float>(x: &Tensor<T>, st: &'a [T]) -> Mat<'a, T> {
    let l = x.layout();
    let inf = *l.shape.last().unwrap();
    if l.shape.len() == 2 {
        Mat::new(&st[l.offset..], l.strides[0], l.strides[1])
    } else {
        Mat::new(&st[l.offset..], inf, 1)
    }
}

/// The `[out, in]` weight of `linear` as a matrix.
fn weight_mat<'a, T: Float>(w: &Tensor<T>, st: &'a [T]) -> Mat<'a, T> {
    let l = w.layout();
    Mat::new(&st[l.offset..], l.strides[0], l.strides[1])
}

/// The chain rule of `y = x·Wᵀ + b` for `g = ∂L/∂y`: `∂L/∂x = G·W`, `∂L/∂W = Gᵀ·X`,
/// `∂L/∂b = Σ_rows G`. Gradients of leaves that already hold a gradient buffer are added into it
/// in place (no new buffer); the others go through `acc`.
pub(crate) fn linear_backward<T: Float>(
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: Option<&Tensor<T>>,
    g: &Tensor<T>,
    acc: &mut dyn FnMut(&Tensor<T>, Tensor<T>),
) {
    let (outf, inf) = (w.shape()[0], w.shape()[1]);
    let rows: usize = x.shape()[..x.ndim() - 1].iter().product();
    g.with_contiguous(|gs| {
        let gm = Mat::new(gs, outf, 1);
        if x.tracks_grad() {
            let mut gx = vec![T::zero(); rows * inf];
            let sw = w.storage();
            gemm_into(rows, outf, inf, gm, weight_mat(w, &sw), &mut gx, false);
            drop(sw);
            acc(x, Tensor::from_parts(gx, x.shape(), None));
        }
        if w.tracks_grad() {
            let sx = x.storage();
            let xm = input_mat(x, &sx);
            let done = add_into_leaf_grad(w, |dst| gemm_into(outf, rows, inf, gm.t(), xm, dst, true));
            if !done {
                let mut gw = vec![T::zero(); outf * inf];
                gemm_into(outf, rows, inf, gm.t(), xm, &mut gw, false);
                drop(sx);
                acc(w, Tensor::from_parts(gw, w.shape(), None));
            }
        }
        if let Some(b) = b.filter(|b| b.tracks_grad()) {
            let col_sums = |dst: &mut [T]| {
                if outf > 0 {
                    gs.chunks_exact(outf).for_each(|r| dst.iter_mut().zip(r).for_each(|(d, &v)| *d += v));
                }
            };
            if !add_into_leaf_grad(b, col_sums) {
                let mut gb = vec![T::zero(); outf];
                col_sums(&mut gb);
                acc(b, Tensor::from_parts(gb, b.shape(), None));
            }
        }
    });
}

/// Runs `f` on the gradient buffer of leaf `p` to add a contribution in place, when `p` is a leaf
/// whose contiguous gradient buffer exists and nothing else is reading it now. Returns whether it
/// did; otherwise the caller hands its gradient to the usual accumulation.
fn add_into_leaf_grad<T: Float>(p: &Tensor<T>, f: impl FnOnce(&mut [T])) -> bool {
    if !p.is_leaf() {
        return false;
    }
    let slot = p.0.grad.borrow();
    let Some(gt) = slot.as_ref() else { return false };
    if !gt.is_contiguous() || gt.shape() != p.shape() {
        return false;
    }
    let Ok(mut st) = gt.0.storage.try_borrow_mut() else { return false };
    let off = gt.layout().offset;
    f(&mut st[off..off + gt.numel()]);
    true
}

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
/// [`crate::dtype::GEMM_SPLIT_MIN`] multiply-adds are cut in two halves of rows (or columns), each
/// one single-threaded `gemm` call, run side by side by this thread and the helper thread of
/// `pool::join2`; from
/// [`crate::dtype::GEMM_PARALLEL_MIN`] on, `gemm`'s own threading takes over. Neither ever cuts
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
    if threads > 1 && (crate::dtype::GEMM_SPLIT_MIN..crate::dtype::GEMM_PARALLEL_MIN).contains(&work) {
        // Halves must keep gemm's large-matrix path (more than 64 rows or columns; there its k
        // blocking depends on k alone) like the whole product, so that every element is summed in
        // exactly the same order.
        let cp = SendPtr(c.as_mut_ptr());
        // Columns first: each half then packs only its half of b (gemm packs b, the larger
        // operand of the MLP's products).
        if n / 2 > 64 {
            let h = n / 2;
            let b2 = Mat::new(&b.data[h * b.cs..], b.rs, b.cs);
            crate::pool::join2(
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
            crate::pool::join2(
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
    // SAFETY: a and b are slices holding their matrices (checked by the layouts that made them);
    // c per the caller's contract.
    unsafe {
        T::gemm(
            m,
            k,
            n,
            T::one(),
            a.data.as_ptr(),
            a.rs as isize,
            a.cs as isize,
            b.data.as_ptr(),
            b.rs as isize,
            b.cs as isize,
            beta,
            c,
            rsc as isize,
            1,
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

/// The storage offset of each matrix of a batch, for an operand whose batch shape broadcasts to
/// `batch` (a broadcast dimension contributes stride 0).
fn batch_offsets(shape: &[usize], strides: &[usize], batch: &[usize]) -> Dims {
    let lead = batch.len() - shape.len();
    let st: Dims =
        (0..batch.len()).map(|i| if i < lead || shape[i - lead] == 1 { 0 } else { strides[i - lead] }).collect();
    let total: usize = batch.iter().product();
    let mut out = Dims::with_capacity(total);
    let mut idx: Dims = smallvec::smallvec![0; batch.len()];
    for _ in 0..total {
        out.push(idx.iter().zip(&st).map(|(i, s)| i * s).sum());
        for d in (0..batch.len()).rev() {
            idx[d] += 1;
            if idx[d] < batch[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
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
        const { assert!(420 * 400 * 410 >= crate::dtype::GEMM_PARALLEL_MIN, "the test must exercise the threaded path") };
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
        const {
            assert!(
                128 * 784 * 256 >= crate::dtype::GEMM_SPLIT_MIN && 128 * 784 * 256 < crate::dtype::GEMM_PARALLEL_MIN
            )
        };
        const { assert!(128 * 256 * 128 >= crate::dtype::GEMM_SPLIT_MIN) };
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
