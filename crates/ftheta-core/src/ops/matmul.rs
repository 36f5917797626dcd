//! Matrix multiply, 2-D and batched (batch dimensions broadcast), through `matrixmultiply`'s
//! strided GEMM: transposed views go straight to the kernel without a copy.

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
                if m * n * k <= SMALL {
                    small_gemm(m, k, n, &sa[pa..], rsa, csa, &sb[pb..], rsb, csb, c);
                    continue;
                }
                // SAFETY: the offsets and strides come from valid layouts of these storages, and
                // `c` is a fresh buffer of m×n elements.
                unsafe {
                    T::gemm(
                        m,
                        k,
                        n,
                        T::one(),
                        sa.as_ptr().add(pa),
                        rsa as isize,
                        csa as isize,
                        sb.as_ptr().add(pb),
                        rsb as isize,
                        csb as isize,
                        T::zero(),
                        c.as_mut_ptr(),
                        n as isize,
                        1,
                    );
                }
            }
        }
        let mut shape: Vec<usize> = batch.to_vec();
        shape.extend_from_slice(&[m, n]);
        let op = Self::track(&[self, rhs]).then(|| Op::MatMul(self.clone(), rhs.clone()));
        Self::from_parts(out, &shape, op)
    }
}

/// Below this many multiply-adds a plain loop beats a blocked GEMM, whose packing costs more
/// than the arithmetic (the course's tiny models multiply [100, 1] by [1, 1]).
const SMALL: usize = 4096;

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
    if n == 1 {
        // Matrix × column: one dot product per row.
        for (i, o) in c.iter_mut().enumerate().take(m) {
            let mut acc = T::zero();
            for p in 0..k {
                acc += a[i * rsa + p * csa] * b[p * rsb];
            }
            *o = acc;
        }
        return;
    }
    for i in 0..m {
        let row = &mut c[i * n..(i + 1) * n];
        for p in 0..k {
            let x = a[i * rsa + p * csa];
            if csb == 1 {
                let brow = &b[p * rsb..p * rsb + n];
                row.iter_mut().zip(brow).for_each(|(o, &y)| *o += x * y);
            } else {
                row.iter_mut().enumerate().for_each(|(j, o)| *o += x * b[p * rsb + j * csb]);
            }
        }
    }
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
}
