//! Softmax and log-softmax over one dimension, computed stably by subtracting the row maximum.

use crate::backprop::Op;
use crate::layout::norm_dim;
use crate::{Float, Tensor};

impl<T: Float> Tensor<T> {
    /// `exp(x) / Σ exp(x)` along `dim`: each slice becomes a probability distribution.
    #[track_caller]
    pub fn softmax(&self, dim: isize) -> Self {
        self.along_last(dim, "softmax", |t| t.softmax_last(false))
    }

    /// `x − log Σ exp(x)` along `dim`, without overflow or `log(0)`.
    #[track_caller]
    pub fn log_softmax(&self, dim: isize) -> Self {
        self.along_last(dim, "log_softmax", |t| t.softmax_last(true))
    }

    /// `log Σ exp(x)` along `dim`, stable for inputs of any size.
    #[track_caller]
    pub fn logsumexp(&self, dim: isize, keepdim: bool) -> Self {
        let d = norm_dim("logsumexp", dim, self.ndim()) as isize;
        let m = crate::no_grad(|| self.max_dims(&[d], true));
        let out = self.sub(&m).exp().sum_dims(&[d], true).log().add(&m);
        if keepdim {
            out
        } else {
            out.squeeze(d)
        }
    }

    /// Runs a last-dimension kernel on dimension `dim` by swapping it to the end and back (views).
    fn along_last(&self, dim: isize, op: &str, f: impl Fn(&Tensor<T>) -> Tensor<T>) -> Self {
        let nd = self.ndim();
        let d = norm_dim(op, dim, nd);
        if nd == 0 {
            return f(&self.reshape(&[1])).reshape(&[0usize; 0]);
        }
        if d == nd - 1 {
            return f(self);
        }
        f(&self.transpose(d as isize, -1)).transpose(d as isize, -1)
    }

    fn softmax_last(&self, log: bool) -> Self {
        let n = *self.shape().last().unwrap();
        let mut out = self.contiguous_data();
        if n > 0 {
            for row in out.chunks_mut(n) {
                let m = row.iter().fold(T::neg_infinity(), |a, &b| a.max(b));
                // A row of -inf (fully masked) has no finite maximum; shift by 0 instead.
                let m = if m.is_finite() { m } else { T::zero() };
                let mut sum = T::zero();
                for v in row.iter_mut() {
                    *v -= m;
                    sum += v.exp();
                }
                if log {
                    let ls = sum.ln();
                    row.iter_mut().for_each(|v| *v -= ls);
                } else {
                    let inv = T::one() / sum;
                    row.iter_mut().for_each(|v| *v = v.exp() * inv);
                }
            }
        }
        let op =
            Self::track(&[self]).then(|| if log { Op::LogSoftmax(self.clone()) } else { Op::Softmax(self.clone()) });
        Self::from_parts(out, self.shape(), op)
    }
}
