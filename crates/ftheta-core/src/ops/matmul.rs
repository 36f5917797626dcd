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
        if self.ndim() == 1 {
            return self.unsqueeze(0).matmul(rhs).squeeze(-2);
        }
        if rhs.ndim() == 1 {
            return self.matmul(&rhs.unsqueeze(1)).squeeze(-1);
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
            let offs_a = batch_offsets(&a.shape[..na - 2], &a.strides[..na - 2], &batch);
            let offs_b = batch_offsets(&b.shape[..nb - 2], &b.strides[..nb - 2], &batch);
            for (i, c) in out.chunks_mut(m * n).enumerate() {
                // SAFETY: the offsets and strides come from valid layouts of these storages, and
                // `c` is a fresh buffer of m×n elements.
                unsafe {
                    T::gemm(
                        m,
                        k,
                        n,
                        T::one(),
                        sa.as_ptr().add(a.offset + offs_a[i]),
                        a.strides[na - 2] as isize,
                        a.strides[na - 1] as isize,
                        sb.as_ptr().add(b.offset + offs_b[i]),
                        b.strides[nb - 2] as isize,
                        b.strides[nb - 1] as isize,
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

/// The storage offset of each matrix of a batch, for an operand whose batch shape broadcasts to
/// `batch` (a broadcast dimension contributes stride 0).
fn batch_offsets(shape: &[usize], strides: &[usize], batch: &[usize]) -> Vec<usize> {
    let lead = batch.len() - shape.len();
    let st: Dims =
        (0..batch.len()).map(|i| if i < lead || shape[i - lead] == 1 { 0 } else { strides[i - lead] }).collect();
    let total: usize = batch.iter().product();
    let mut out = Vec::with_capacity(total);
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
