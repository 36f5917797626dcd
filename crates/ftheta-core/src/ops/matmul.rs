//! Matrix multiply, 2-D and batched (batch dimensions broadcast), and the fused `linear`
//! (`x·Wᵀ + b`), through `gemm`'s strided GEMM: transposed views go straight to the kernel without
//! a copy.

use crate::kernels::gemm::{gemm_into, Mat};
use crate::layout::{broadcast_shape, Dims};
use crate::op::Op;
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
pub(crate) fn input_mat<'a, T: Float>(x: &Tensor<T>, st: &'a [T]) -> Mat<'a, T> {
    let l = x.layout();
    let inf = *l.shape.last().unwrap();
    if l.shape.len() == 2 {
        Mat::new(&st[l.offset..], l.strides[0], l.strides[1])
    } else {
        Mat::new(&st[l.offset..], inf, 1)
    }
}

/// The `[out, in]` weight of `linear` as a matrix.
pub(crate) fn weight_mat<'a, T: Float>(w: &Tensor<T>, st: &'a [T]) -> Mat<'a, T> {
    let l = w.layout();
    Mat::new(&st[l.offset..], l.strides[0], l.strides[1])
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
