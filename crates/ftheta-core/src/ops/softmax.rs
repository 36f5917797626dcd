//! Softmax and log-softmax over one dimension, computed stably by subtracting the row maximum.

use std::rc::Rc;

use crate::layout::norm_dim;
use crate::op::Op;
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
        let d = norm_dim("logsumexp", dim, self.ndim(), self.shape()) as isize;
        let m = crate::no_grad(|| self.max_dims(&[d], true));
        let out = self.sub(&m).exp().sum_dims(&[d], true).log().add(&m);
        if keepdim {
            out
        } else {
            out.squeeze(d)
        }
    }

    /// The mean cross-entropy of logits `self` (`[N, C]`) against class indices `target` (N whole
    /// numbers in `0..C`, any shape): `−mean_i log softmax(zᵢ)[yᵢ]`, one op that is stable for any
    /// logits. It saves each row's softmax so that its backward is `(softmax − onehot)·g/N` in one
    /// pass (PyTorch's `cross_entropy`; the composite `log_softmax` + `gather` + `mean` gives the
    /// same values).
    ///
    /// # Panics
    /// When `self` is not 2-D, `target` does not hold N values, or a target is not a class index.
    #[track_caller]
    pub fn cross_entropy(&self, target: &Tensor<T>) -> Self {
        if self.ndim() != 2 || target.numel() != self.shape()[0] {
            crate::check::fail(
                "cross_entropy",
                "logits must be [N, C] and targets hold N class indices",
                self.shape(),
                target.shape(),
            );
        }
        let (n, c) = (self.shape()[0], self.shape()[1]);
        let classes: Vec<usize> = target.with_contiguous(|t| {
            t.iter()
                .map(|&v| {
                    let i = v.as_f64();
                    if i < 0.0 || i.fract() != 0.0 || i as usize >= c {
                        panic!("cross_entropy: target {i} is not a class index for {c} classes");
                    }
                    i as usize
                })
                .collect()
        });
        let track = Self::track(&[self]);
        let c1 = c.max(1);
        // Every exponential in one vectorized call on the rows shifted by their maxima, and the
        // total in f64: summed in f32 over tens of thousands of rows it drifts by ~1e-4 relative.
        let (shifted, maxima) = self.with_contiguous(|z| {
            let mut shifted = Vec::with_capacity(n * c);
            let mut maxima = Vec::with_capacity(n);
            for row in z.chunks_exact(c1).take(n) {
                let m = row.iter().fold(T::neg_infinity(), |a, &b| a.max(b));
                let m = if m.is_finite() { m } else { T::zero() };
                shifted.extend(row.iter().map(|&x| x - m));
                maxima.push(m);
            }
            (shifted, maxima)
        });
        debug_assert_eq!(maxima.len(), n);
        let mut probs = T::exp_slice(&shifted);
        let mut total = 0.0f64;
        for (i, p) in probs.chunks_exact_mut(c1).enumerate().take(n) {
            let sum = p.iter().fold(T::zero(), |a, &b| a + b);
            // −log softmax(z)[y] = ln Σ e^(z−m) − (z_y − m)
            total += (sum.ln() - shifted[i * c + classes[i]]).as_f64();
            if track {
                let inv = T::one() / sum;
                p.iter_mut().for_each(|p| *p *= inv);
            }
        }
        if !track {
            probs = Vec::new();
        }
        let loss = if n == 0 { T::nan() } else { T::from_f64(total / n as f64) };
        let op = track.then(|| Op::CrossEntropy(self.clone(), Rc::from(probs), Rc::from(classes)));
        Self::from_parts(vec![loss], &[], op)
    }

    /// Runs a last-dimension kernel on dimension `dim` by swapping it to the end and back (views).
    fn along_last(&self, dim: isize, op: &str, f: impl Fn(&Tensor<T>) -> Tensor<T>) -> Self {
        let nd = self.ndim();
        let d = norm_dim(op, dim, nd, self.shape());
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
        let mut out = self.to_vec();
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
