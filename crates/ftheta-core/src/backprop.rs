//! Every chain rule in one table (`Op::backward`), each with its maths written above it.
//!
//! A rule gets `g = ∂L/∂out` for the tensor its op produced and hands `∂L/∂x` for each input `x`
//! to [`Grads`], as a closure that only runs when `x` needs a gradient. The walk that calls the
//! rules is in `autograd.rs`; what each op saves for its rule is in `op.rs`.

use crate::kernels::conv as conv_kernels;
use crate::kernels::gemm::{gemm_into, Mat};
use crate::op::Op;
use crate::ops::conv;
use crate::ops::elementwise::{sigmoid, zip_broadcast};
use crate::ops::matmul::{input_mat, weight_mat};
use crate::{Float, Tensor};

/// Where the chain rules put `∂L/∂x`: one slot per node of the backward pass (its position in the
/// topological order), summed when several paths reach the same tensor.
pub(crate) struct Grads<'a, T: Float> {
    pub(crate) slots: &'a mut [Option<Tensor<T>>],
}

impl<T: Float> Grads<'_, T> {
    /// Adds `∂L/∂x = gx()` for input `x`. The one way a rule skips an input that needs no
    /// gradient: `gx` is not even computed then.
    #[inline]
    fn add(&mut self, x: &Tensor<T>, gx: impl FnOnce() -> Tensor<T>) {
        if !x.tracks_grad() {
            return;
        }
        let gx = gx();
        let slot = &mut self.slots[x.0.slot.get()];
        *slot = Some(match slot.take() {
            Some(old) => old.add(&gx),
            None => gx,
        });
    }

    /// Adds `∂L/∂x` for a rule that writes it into a buffer (a GEMM, column sums): `write(dst,
    /// holds)` adds the gradient into `dst` when `holds` is true, and may overwrite `dst` (which
    /// then holds zeros) when it is false. A leaf's existing gradient buffer is written in place
    /// (no new buffer: a steady-state training step allocates none for its weights) when nothing
    /// else is reading it now; otherwise a fresh zeroed buffer goes through [`Grads::add`].
    fn write(&mut self, x: &Tensor<T>, write: impl FnOnce(&mut [T], bool)) {
        if !x.tracks_grad() {
            return;
        }
        if x.is_leaf() {
            let slot = x.0.grad.borrow();
            if let Some(gt) = slot.as_ref().filter(|gt| gt.is_contiguous() && gt.shape() == x.shape()) {
                if let Ok(mut st) = gt.0.storage.try_borrow_mut() {
                    let off = gt.layout().offset;
                    write(&mut st[off..off + gt.numel()], true);
                    return;
                }
            }
        }
        let mut buf = vec![T::zero(); x.numel()];
        write(&mut buf, false);
        self.add(x, || Tensor::from_parts(buf, x.shape(), None));
    }
}

impl<T: Float> Op<T> {
    /// The chain rules. `out` is the tensor this op produced and `g = ∂L/∂out`; each rule hands
    /// `∂L/∂x` for its inputs to `grads`. Runs under `no_grad`.
    pub(crate) fn backward(&self, out: &Tensor<T>, g: &Tensor<T>, grads: &mut Grads<'_, T>) {
        let (zero, half) = (T::zero(), T::from_f64(0.5));
        match self {
            // z = a + b:  ∂z/∂a = 1, ∂z/∂b = 1 (summed over broadcast dims)
            Op::Add(a, b) => {
                grads.add(a, || g.sum_to(a.shape()));
                grads.add(b, || g.sum_to(b.shape()));
            }
            // z = a − b:  ∂z/∂a = 1, ∂z/∂b = −1
            Op::Sub(a, b) => {
                grads.add(a, || g.sum_to(a.shape()));
                grads.add(b, || g.neg().sum_to(b.shape()));
            }
            // z = a·b:  ∂z/∂a = b, ∂z/∂b = a
            Op::Mul(a, b) => {
                grads.add(a, || g.mul(b).sum_to(a.shape()));
                grads.add(b, || g.mul(a).sum_to(b.shape()));
            }
            // z = a/b:  ∂z/∂a = 1/b, ∂z/∂b = −a/b² = −z/b
            Op::Div(a, b) => {
                let gb = g.div(b);
                grads.add(b, || gb.mul(out).neg().sum_to(b.shape()));
                grads.add(a, || gb.sum_to(a.shape()));
            }
            // z = max(a, b):  the gradient goes to the larger; a tie splits it in halves
            Op::Maximum(a, b) | Op::Minimum(a, b) => {
                let wins = if matches!(self, Op::Maximum(..)) { a.gt(b) } else { a.lt(b) };
                let share_a = wins.add(&a.eq(b).mul_scalar(0.5));
                grads.add(a, || g.mul(&share_a).sum_to(a.shape()));
                grads.add(b, || g.mul(&share_a.neg().add_scalar(1.0)).sum_to(b.shape()));
            }
            // z = a + c:  ∂z/∂a = 1
            Op::AddScalar(a) => grads.add(a, || g.clone()),
            // z = c·a:  ∂z/∂a = c
            Op::MulScalar(a, c) => grads.add(a, || g.mul_scalar(c.as_f64())),
            // z = −a
            Op::Neg(a) => grads.add(a, || g.neg()),
            // z = eᵃ:  ∂z/∂a = eᵃ = z
            Op::Exp(a) => grads.add(a, || g.mul(out)),
            // z = ln a:  ∂z/∂a = 1/a
            Op::Log(a) => grads.add(a, || g.div(a)),
            // z = √a:  ∂z/∂a = 1/(2√a) = 1/(2z)
            Op::Sqrt(a) => grads.add(a, || zip(g, out, |g, z| g * half / z)),
            // z = |a|:  ∂z/∂a = sign(a), 0 at 0
            Op::Abs(a) => grads.add(a, || {
                zip(g, a, |g, x| {
                    if x > zero {
                        g
                    } else if x < zero {
                        -g
                    } else {
                        zero
                    }
                })
            }),
            // z = aᵉ:  ∂z/∂a = e·aᵉ⁻¹
            Op::Pow(a, e) => {
                let (e, e1) = (*e, *e - T::one());
                if e == T::from_f64(2.0) {
                    grads.add(a, || zip(g, a, |g, x| g * (x + x)))
                } else {
                    grads.add(a, || zip(g, a, |g, x| g * e * x.powf(e1)))
                }
            }
            // z = max(0, a):  ∂z/∂a = 1 where a > 0
            Op::Relu(a) => grads.add(a, || zip(g, a, |g, x| if x > zero { g } else { zero })),
            // z = σ(a):  ∂z/∂a = z(1 − z)
            Op::Sigmoid(a) => grads.add(a, || zip(g, out, |g, z| g * z * (T::one() - z))),
            // z = tanh a:  ∂z/∂a = 1 − z²
            Op::Tanh(a) => grads.add(a, || zip(g, out, |g, z| g * (T::one() - z * z))),
            // z = sin a:  ∂z/∂a = cos a
            Op::Sin(a) => grads.add(a, || zip(g, a, |g, x| g * x.cos())),
            // z = cos a:  ∂z/∂a = −sin a
            Op::Cos(a) => grads.add(a, || zip(g, a, |g, x| -(g * x.sin()))),
            // z = clamp(a/6 + 1/2, 0, 1):  ∂z/∂a = 1/6 on −3 < a < 3
            Op::HardSigmoid(a) => {
                grads.add(a, || g.mul(&a.gt_scalar(-3.0).mul(&a.lt_scalar(3.0))).mul_scalar(1.0 / 6.0))
            }
            // z = ln(1 + eᵃ):  ∂z/∂a = σ(a)
            Op::Softplus(a) => grads.add(a, || zip(g, a, |g, x| g * sigmoid(x))),
            // z = a·Φ(a):  ∂z/∂a = Φ(a) + a·φ(a)
            Op::Gelu(a) => grads.add(a, || {
                let cdf = a.mul_scalar(std::f64::consts::FRAC_1_SQRT_2).map(|x| x.erf());
                let cdf = cdf.add_scalar(1.0).mul_scalar(0.5);
                let pdf = a.pow(2.0).mul_scalar(-0.5).exp().mul_scalar(1.0 / (2.0 * std::f64::consts::PI).sqrt());
                g.mul(&cdf.add(&a.mul(&pdf)))
            }),
            // z = clamp(a, lo, hi):  ∂z/∂a = 1 on lo < a < hi; 0 at the bounds (the minimum-norm
            // subgradient, as PyTorch, relu and hardsigmoid)
            Op::Clamp(a, lo, hi) => grads.add(a, || g.mul(&a.gt_scalar(lo.as_f64()).mul(&a.lt_scalar(hi.as_f64())))),
            // z = m ? c : a (the mask m broadcast to a's shape):  ∂z/∂a = 1 where m = 0, else 0 (the
            // filled elements no longer depend on a); the mask gets no gradient
            Op::MaskedFill(a, m) => grads.add(a, || zip(g, m, |g, m| if m != zero { zero } else { g })),
            // z = Σ a over dims:  every summed element gets g
            Op::Sum(a, keep) => grads.add(a, || g.reshape(keep.as_slice()).broadcast_to(a.shape())),
            // z = max a over dims:  g goes to the elements equal to the max, split among ties
            Op::Extremum(a, keep) => grads.add(a, || {
                let hit = a.eq(&out.reshape(keep.as_slice()));
                let dims: Vec<isize> =
                    (0..a.ndim()).filter(|&i| keep[i] == 1 && a.shape()[i] != 1).map(|i| i as isize).collect();
                let count = if dims.is_empty() { hit.clone() } else { hit.sum_dims(&dims, true) };
                hit.mul(&g.reshape(keep.as_slice()).div(&count))
            }),
            // Z = A·B:  ∂L/∂A = G·Bᵀ, ∂L/∂B = Aᵀ·G (summed over broadcast batch dims)
            Op::MatMul(a, b) => {
                grads.add(a, || g.matmul(&b.t()).sum_to(a.shape()));
                grads.add(b, || a.t().matmul(g).sum_to(b.shape()));
            }
            // Y = X·Wᵀ + b for X [rows, in], W [out, in]:  ∂L/∂X = G·W, ∂L/∂W = Gᵀ·X,
            // ∂L/∂b = Σ_rows G. Each is written straight into its buffer: Gᵀ is the row-major G read
            // through swapped strides (no transposed copy), and a weight that already holds a
            // gradient gets ∂L/∂W added in place by the GEMM itself (beta = 1).
            Op::Linear(x, w, b) => {
                let (outf, inf) = (w.shape()[0], w.shape()[1]);
                let rows: usize = x.shape()[..x.ndim() - 1].iter().product();
                let (sx, sw) = (x.storage(), w.storage());
                g.with_contiguous(|gs| {
                    let gm = Mat::new(gs, outf, 1);
                    grads.write(x, |dst, add| gemm_into(rows, outf, inf, gm, weight_mat(w, &sw), dst, add));
                    grads.write(w, |dst, add| gemm_into(outf, rows, inf, gm.t(), input_mat(x, &sx), dst, add));
                    if let Some(b) = b {
                        grads.write(b, |dst, _| {
                            if outf > 0 {
                                gs.chunks_exact(outf).for_each(|r| dst.iter_mut().zip(r).for_each(|(d, &v)| *d += v));
                            }
                        });
                    }
                })
            }
            // Z = A·X for a constant sparse A [n, m] and X [m, k]:  Z[i, :] = Σ_j A[i, j]·X[j, :], so
            // ∂L/∂X[j, :] = Σ_i A[i, j]·G[i, :], that is ∂L/∂X = Aᵀ·G (the kept transpose of A,
            // through the forward kernel); A gets no gradient (it is the graph, not a parameter)
            Op::SparseMatMul(a, x) => grads.add(x, || a.t_matmul_dense(g)),
            // L = −mean_i log softmax(zᵢ)[yᵢ]:  ∂L/∂zᵢ = (softmax(zᵢ) − onehot(yᵢ))·g/N
            Op::CrossEntropy(z, p, y) => grads.add(z, || {
                let n = y.len();
                let c = p.len().checked_div(n).unwrap_or(0);
                let s = g.item() / T::from_f64(n.max(1) as f64);
                let mut out: Vec<T> = p.iter().map(|&v| v * s).collect();
                y.iter().enumerate().for_each(|(i, &t)| out[i * c + t] -= s);
                Tensor::from_parts(out, z.shape(), None)
            }),
            Op::Reshape(a) => grads.add(a, || g.reshape(a.shape())),
            // the inverse permutation puts each dimension back
            Op::Permute(a, perm) => grads.add(a, || {
                let mut inv = vec![0; perm.len()];
                perm.iter().enumerate().for_each(|(i, &p)| inv[p] = i);
                g.permute(&inv)
            }),
            Op::Broadcast(a) => grads.add(a, || g.sum_to(a.shape())),
            // the slice's gradient, padded with zeros to the input's shape
            Op::Narrow(a, d, start) => grads.add(a, || pad_narrow(g, a.shape(), *d, *start)),
            // each part gets its own slice of g
            Op::Cat(ts, d) => {
                let mut start = 0;
                for t in ts {
                    let len = t.shape()[*d];
                    grads.add(t, || g.narrow(*d as isize, start, len));
                    start += len;
                }
            }
            // each selected slice's gradient is added back where it came from
            Op::IndexSelect(a, d, idx) => grads.add(a, || index_add(g, a.shape(), *d, idx)),
            // each gathered element's gradient is added back at the position it was read from
            Op::Gather(a, offsets) => grads.add(a, || {
                let mut out = vec![T::zero(); a.numel()];
                g.with_contiguous(|gs| offsets.iter().zip(gs).for_each(|(&o, &v)| out[o] += v));
                Tensor::from_parts(out, a.shape(), None)
            }),
            // y = softmax(a):  ∂L/∂a = y ⊙ (g − Σ g⊙y)
            Op::Softmax(a) => grads.add(a, || out.mul(&g.sub(&g.mul(out).sum_dims(&[-1], true)))),
            // y = log_softmax(a):  ∂L/∂a = g − eʸ·Σ g
            Op::LogSoftmax(a) => grads.add(a, || g.sub(&out.exp().mul(&g.sum_dims(&[-1], true)))),
            Op::Copy(a) => grads.add(a, || g.clone()),
            // Y = W ⋆ X + b, per group: Y_g = W_g · cols(X_g) with cols the patch matrix
            // [C/g·kH·kW, N·Ho·Wo] and G_g = ∂L/∂Y_g as [O/g, N·Ho·Wo]:
            //   ∂L/∂W_g = G_g · cols(X_g)ᵀ;
            //   ∂L/∂X = col2im(W_gᵀ · G_g), each patch entry's gradient added back at the input
            //   position it was read from (col2im is the adjoint of im2col);
            //   ∂L/∂b_o = Σ_{n, i, j} G[n, o, i, j].
            Op::Conv2d(x, w, b, s) => {
                let gr = g.with_contiguous(|gs| conv::grad_rows(gs, s));
                grads.write(w, |dst, add| x.with_contiguous(|xs| conv::weight_grad(xs, &gr, s, dst, add)));
                grads.write(x, |dst, _| w.with_contiguous(|ws| conv::input_grad(ws, &gr, s, dst)));
                if let Some(b) = b {
                    grads.write(b, |dst, _| conv::bias_grad(&gr, s, dst));
                }
            }
            // y = max of a window:  ∂L/∂x is g at the window's (first) maximum, summed over the
            // windows that picked the same element; 0 elsewhere
            Op::MaxPool2d(a, arg, geom) => grads.add(a, || {
                let (hw, howo) = (geom.h * geom.w, geom.ho * geom.wo);
                let mut dx = vec![T::zero(); a.numel()];
                g.with_contiguous(|gs| {
                    for (o, (&v, &at)) in gs.iter().zip(arg.iter()).enumerate() {
                        if let Some(d) = dx.get_mut((o / howo.max(1)) * hw + at as usize) {
                            *d += v;
                        }
                    }
                });
                Tensor::from_parts(dx, a.shape(), None)
            }),
            // y = (1/|window|) Σ_window x:  ∂L/∂x = Σ over the windows holding x of g/|window|
            Op::AvgPool2d(a, geom) => grads.add(a, || {
                let dx = g.with_contiguous(|gs| conv_kernels::avg_pool_backward(gs, geom.c, geom));
                Tensor::from_parts(dx, a.shape(), None)
            }),
        }
    }
}

/// `f` applied to `g` and a saved tensor in one pass: a fused chain rule allocates one buffer
/// instead of one per intermediate.
fn zip<T: Float>(g: &Tensor<T>, x: &Tensor<T>, f: impl Fn(T, T) -> T) -> Tensor<T> {
    let (data, shape) = zip_broadcast("backward", g, x, f);
    Tensor::from_parts(data, &shape, None)
}

/// A zero tensor of `shape` holding `g` at positions `start..` of dimension `d`.
fn pad_narrow<T: Float>(g: &Tensor<T>, shape: &[usize], d: usize, start: usize) -> Tensor<T> {
    let outer: usize = shape[..d].iter().product();
    let inner: usize = shape[d + 1..].iter().product();
    let (size, len) = (shape[d], g.shape()[d]);
    let mut out = vec![T::zero(); shape.iter().product()];
    g.with_contiguous(|gs| {
        for o in 0..outer {
            let dst = (o * size + start) * inner;
            out[dst..dst + len * inner].copy_from_slice(&gs[o * len * inner..(o + 1) * len * inner]);
        }
    });
    Tensor::from_parts(out, shape, None)
}

/// A zero tensor of `shape` with slice `idx[j]` of dimension `d` increased by slice `j` of `g`.
fn index_add<T: Float>(g: &Tensor<T>, shape: &[usize], d: usize, idx: &[usize]) -> Tensor<T> {
    let outer: usize = shape[..d].iter().product();
    let inner: usize = shape[d + 1..].iter().product();
    let size = shape[d];
    let mut out = vec![T::zero(); shape.iter().product()];
    g.with_contiguous(|gs| {
        for o in 0..outer {
            for (j, &i) in idx.iter().enumerate() {
                let src = (o * idx.len() + j) * inner;
                let dst = (o * size + i) * inner;
                out[dst..dst + inner].iter_mut().zip(&gs[src..src + inner]).for_each(|(x, &v)| *x += v);
            }
        }
    });
    Tensor::from_parts(out, shape, None)
}
