//! Convolution and pooling on plain slices: `im2col` (the patches of a batch of images as the
//! columns of one matrix, so that a convolution is one GEMM), its adjoint `col2im`, and the
//! max/average pooling loops. `ops/conv.rs` builds the tensor ops on these.
//!
//! The patch matrix is `[C·kH·kW, N·Ho·Wo]`, row `(c, ki, kj)`, column `(n, oh, ow)` (Caffe's
//! layout): with stride 1 each row is a shifted copy of input rows, so building it is mostly
//! `copy_from_slice`, and `W·cols` gives `[O, N·Ho·Wo]`, whose rows go to the output planes in
//! blocks of `Ho·Wo`.

use std::sync::Mutex;

use crate::Float;

/// The geometry of one 2-D convolution or pooling window: input and output sizes, kernel,
/// stride, padding and dilation (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geom {
    pub(crate) n: usize,
    /// Channels of the input this geometry reads (one group's for a grouped convolution).
    pub(crate) c: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
    pub(crate) sh: usize,
    pub(crate) sw: usize,
    pub(crate) ph: usize,
    pub(crate) pw: usize,
    pub(crate) dh: usize,
    pub(crate) dw: usize,
    pub(crate) ho: usize,
    pub(crate) wo: usize,
}

impl Geom {
    /// Rows of the patch matrix: one per (channel, kernel row, kernel column).
    pub(crate) fn rows(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Columns of the patch matrix: one per output position of every image.
    pub(crate) fn cols(&self) -> usize {
        self.n * self.ho * self.wo
    }

    /// For kernel column `kj`: the output columns `ow` whose input column `ow·sw − pw + kj·dw`
    /// lies inside the image, as a range.
    fn valid_ow(&self, kj: usize) -> (usize, usize) {
        valid_range(self.wo, self.w, self.sw, self.pw, kj * self.dw)
    }

    fn valid_oh(&self, ki: usize) -> (usize, usize) {
        valid_range(self.ho, self.h, self.sh, self.ph, ki * self.dh)
    }
}

/// The outputs `o` in `0..out` with `0 ≤ o·s − p + shift < size`, as `[lo, hi)`.
fn valid_range(out: usize, size: usize, s: usize, p: usize, shift: usize) -> (usize, usize) {
    // o·s + shift ≥ p  ⇔  o ≥ ceil((p − shift) / s)
    let lo = if shift >= p { 0 } else { (p - shift).div_ceil(s) };
    // o·s + shift − p ≤ size − 1  ⇔  o ≤ (size − 1 + p − shift) / s
    let hi = if size + p > shift { ((size - 1 + p - shift) / s + 1).min(out) } else { 0 };
    (lo.min(out), hi.max(lo.min(out)))
}

/// Runs `f(first_row, rows)` over `data` cut into rows of `width`, in two halves on two threads
/// when there are two threads and enough work. Each row is written by exactly one call, so the
/// result is the same whichever thread ran it.
fn split_rows<T: Float>(data: &mut [T], width: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let rows = data.len().checked_div(width).unwrap_or(0);
    if rows < 2 || rayon::current_num_threads() < 2 || data.len() < 1 << 15 {
        f(0, data);
        return;
    }
    let h = rows / 2;
    let (a, b) = data.split_at_mut(h * width);
    let b = Mutex::new(b);
    super::pool::join2(
        || f(0, a),
        || {
            let mut b = b.lock().unwrap_or_else(|e| e.into_inner());
            f(h, &mut b)
        },
    );
}

/// The patch matrix `[g.rows(), g.cols()]` of channels `c0..c0 + g.c` of `x`, a contiguous
/// `[n, ctot, h, w]` batch. Positions in the padding read as zero.
pub(crate) fn im2col<T: Float>(x: &[T], ctot: usize, c0: usize, g: &Geom) -> Vec<T> {
    let (howo, cols) = (g.ho * g.wo, g.cols());
    let mut out = vec![T::zero(); g.rows() * cols];
    if cols == 0 {
        return out;
    }
    split_rows(&mut out, cols, |first, block| {
        for (i, row) in block.chunks_exact_mut(cols).enumerate() {
            let r = first + i;
            let (c, kk) = (r / (g.kh * g.kw), r % (g.kh * g.kw));
            let (ki, kj) = (kk / g.kw, kk % g.kw);
            let (oh0, oh1) = g.valid_oh(ki);
            let (ow0, ow1) = g.valid_ow(kj);
            for n in 0..g.n {
                let plane = &x[((n * ctot) + c0 + c) * g.h * g.w..][..g.h * g.w];
                let dst = &mut row[n * howo..(n + 1) * howo];
                for oh in oh0..oh1 {
                    let ih = oh * g.sh + ki * g.dh - g.ph;
                    let src = &plane[ih * g.w..(ih + 1) * g.w];
                    let d = &mut dst[oh * g.wo..(oh + 1) * g.wo];
                    if ow1 > ow0 {
                        let iw0 = ow0 * g.sw + kj * g.dw - g.pw;
                        if g.sw == 1 {
                            d[ow0..ow1].copy_from_slice(&src[iw0..iw0 + (ow1 - ow0)]);
                        } else {
                            d[ow0..ow1].iter_mut().enumerate().for_each(|(j, v)| *v = src[iw0 + j * g.sw]);
                        }
                    }
                }
            }
        }
    });
    out
}

/// The adjoint of [`im2col`]: adds each entry of the patch matrix `cols` back onto the input
/// position it was read from, in `dx` (a contiguous `[n, ctot, h, w]` buffer, channels
/// `c0..c0 + g.c`). Channels are shared out between the threads whole, and every element sums
/// its contributions in the same order (kernel row, kernel column), at any thread count.
pub(crate) fn col2im<T: Float>(cols: &[T], ctot: usize, c0: usize, g: &Geom, dx: &mut [T]) {
    let (howo, ncols, plane) = (g.ho * g.wo, g.cols(), g.h * g.w);
    if ncols == 0 || plane == 0 {
        return;
    }
    // The channels this geometry covers, image by image, as planes: [n][c] → dx slices.
    let per_channel = |c: usize, planes: &mut [&mut [T]]| {
        for ki in 0..g.kh {
            let (oh0, oh1) = g.valid_oh(ki);
            for kj in 0..g.kw {
                let (ow0, ow1) = g.valid_ow(kj);
                if ow1 <= ow0 {
                    continue;
                }
                let row = &cols[((c * g.kh + ki) * g.kw + kj) * ncols..][..ncols];
                let iw0 = ow0 * g.sw + kj * g.dw - g.pw;
                for (n, p) in planes.iter_mut().enumerate() {
                    let src = &row[n * howo..(n + 1) * howo];
                    for oh in oh0..oh1 {
                        let ih = oh * g.sh + ki * g.dh - g.ph;
                        let d = &mut p[ih * g.w..(ih + 1) * g.w];
                        let s = &src[oh * g.wo + ow0..oh * g.wo + ow1];
                        if g.sw == 1 {
                            d[iw0..iw0 + s.len()].iter_mut().zip(s).for_each(|(d, &v)| *d += v);
                        } else {
                            s.iter().enumerate().for_each(|(j, &v)| d[iw0 + j * g.sw] += v);
                        }
                    }
                }
            }
        }
    };
    // Planes of channel c0 + c of every image, collected as disjoint mutable slices.
    let mut by_channel: Vec<Vec<&mut [T]>> = (0..g.c).map(|_| Vec::with_capacity(g.n)).collect();
    for (i, p) in dx.chunks_exact_mut(plane).enumerate() {
        let (c, _n) = (i % ctot, i / ctot);
        if (c0..c0 + g.c).contains(&c) {
            by_channel[c - c0].push(p);
        }
    }
    let run = |first: usize, chans: &mut [Vec<&mut [T]>]| {
        chans.iter_mut().enumerate().for_each(|(i, planes)| per_channel(first + i, planes));
    };
    if g.c < 2 || rayon::current_num_threads() < 2 || g.rows() * ncols < 1 << 15 {
        run(0, &mut by_channel);
        return;
    }
    let h = g.c / 2;
    let (a, b) = by_channel.split_at_mut(h);
    let b = Mutex::new(b);
    super::pool::join2(
        || run(0, a),
        || {
            let mut b = b.lock().unwrap_or_else(|e| e.into_inner());
            run(h, &mut b)
        },
    );
}

/// Max pooling of a contiguous `[planes, h, w]` input (`g.c` is unused: every plane is pooled
/// alike). Returns the maxima `[planes, ho, wo]` and, for each, the position `ih·w + iw` in its
/// plane where it was found (the first maximum, a NaN winning, as PyTorch).
pub(crate) fn max_pool<T: Float>(x: &[T], planes: usize, g: &Geom) -> (Vec<T>, Vec<u32>) {
    let (hw, howo) = (g.h * g.w, g.ho * g.wo);
    let mut out = vec![T::zero(); planes * howo];
    let mut arg = vec![0u32; planes * howo];
    for p in 0..planes {
        let src = &x[p * hw..(p + 1) * hw];
        for oh in 0..g.ho {
            for ow in 0..g.wo {
                let (mut best, mut at) = (T::neg_infinity(), usize::MAX);
                for ki in 0..g.kh {
                    let ih = (oh * g.sh + ki * g.dh) as isize - g.ph as isize;
                    if ih < 0 || ih >= g.h as isize {
                        continue;
                    }
                    for kj in 0..g.kw {
                        let iw = (ow * g.sw + kj * g.dw) as isize - g.pw as isize;
                        if iw < 0 || iw >= g.w as isize {
                            continue;
                        }
                        let i = ih as usize * g.w + iw as usize;
                        let v = src[i];
                        if at == usize::MAX || v > best || (v.is_nan() && !best.is_nan()) {
                            (best, at) = (v, i);
                        }
                    }
                }
                let o = p * howo + oh * g.wo + ow;
                out[o] = best;
                arg[o] = at as u32;
            }
        }
    }
    (out, arg)
}

/// Average pooling of a contiguous `[planes, h, w]` input, PyTorch's `count_include_pad=True`:
/// each window's sum is divided by its size clipped to the padded image (the whole kernel unless
/// the window hangs past the padding).
pub(crate) fn avg_pool<T: Float>(x: &[T], planes: usize, g: &Geom) -> Vec<T> {
    let (hw, howo) = (g.h * g.w, g.ho * g.wo);
    let mut out = vec![T::zero(); planes * howo];
    for p in 0..planes {
        let src = &x[p * hw..(p + 1) * hw];
        for oh in 0..g.ho {
            let (h0, h1, ph) = avg_window(oh, g.sh, g.ph, g.kh, g.h);
            for ow in 0..g.wo {
                let (w0, w1, pw) = avg_window(ow, g.sw, g.pw, g.kw, g.w);
                let mut s = T::zero();
                for ih in h0..h1 {
                    src[ih * g.w + w0..ih * g.w + w1].iter().for_each(|&v| s += v);
                }
                out[p * howo + oh * g.wo + ow] = s / T::from_f64((ph * pw) as f64);
            }
        }
    }
    out
}

/// The adjoint of [`avg_pool`]: each output gradient, divided by its window's size, is added to
/// every input position of the window.
pub(crate) fn avg_pool_backward<T: Float>(gout: &[T], planes: usize, g: &Geom) -> Vec<T> {
    let (hw, howo) = (g.h * g.w, g.ho * g.wo);
    let mut dx = vec![T::zero(); planes * hw];
    for p in 0..planes {
        let d = &mut dx[p * hw..(p + 1) * hw];
        for oh in 0..g.ho {
            let (h0, h1, ph) = avg_window(oh, g.sh, g.ph, g.kh, g.h);
            for ow in 0..g.wo {
                let (w0, w1, pw) = avg_window(ow, g.sw, g.pw, g.kw, g.w);
                let v = gout[p * howo + oh * g.wo + ow] / T::from_f64((ph * pw) as f64);
                for ih in h0..h1 {
                    d[ih * g.w + w0..ih * g.w + w1].iter_mut().for_each(|x| *x += v);
                }
            }
        }
    }
    dx
}

/// One dimension of an average-pooling window: the input range `[lo, hi)` it covers inside the
/// image, and its length within the padded image (PyTorch's divisor with `count_include_pad`).
fn avg_window(o: usize, s: usize, p: usize, k: usize, size: usize) -> (usize, usize, usize) {
    let start = (o * s) as isize - p as isize;
    let end = (start + k as isize).min((size + p) as isize);
    let len = (end - start) as usize;
    (start.max(0) as usize, end.min(size as isize).max(0) as usize, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geom(h: usize, w: usize, k: usize, s: usize, p: usize, d: usize) -> Geom {
        let ho = (h + 2 * p - d * (k - 1) - 1) / s + 1;
        let wo = (w + 2 * p - d * (k - 1) - 1) / s + 1;
        Geom { n: 2, c: 3, h, w, kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, dh: d, dw: d, ho, wo }
    }

    /// `col2im` is the adjoint of `im2col`: ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩ for any x and y,
    /// which pins down both loops' index arithmetic (padding, stride and dilation included).
    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        for (h, w, k, s, p, d) in [(5, 6, 3, 1, 1, 1), (7, 5, 3, 2, 2, 1), (8, 8, 2, 3, 0, 2), (4, 4, 5, 1, 2, 1)] {
            let g = geom(h, w, k, s, p, d);
            let ctot = 4;
            let x: Vec<f64> = (0..g.n * ctot * h * w).map(|i| ((i * 37 % 11) as f64) - 5.0).collect();
            let cols = im2col(&x, ctot, 1, &g);
            let y: Vec<f64> = (0..cols.len()).map(|i| ((i * 13 % 7) as f64) - 3.0).collect();
            let mut dx = vec![0.0; x.len()];
            col2im(&y, ctot, 1, &g, &mut dx);
            let lhs: f64 = cols.iter().zip(&y).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&dx).map(|(a, b)| a * b).sum();
            assert_eq!(lhs, rhs, "geometry {h}x{w} k{k} s{s} p{p} d{d}");
            // Channel 0 of the input is outside the group (c0 = 1): it gets nothing.
            assert!(dx[..h * w].iter().all(|&v| v == 0.0));
        }
    }

    #[test]
    fn valid_range_matches_a_scan() {
        for out in 0..6 {
            for size in 1..6 {
                for s in 1..4 {
                    for p in 0..3 {
                        for shift in 0..5 {
                            let scan: Vec<usize> = (0..out)
                                .filter(|&o| {
                                    let i = (o * s + shift) as isize - p as isize;
                                    i >= 0 && i < size as isize
                                })
                                .collect();
                            let (lo, hi) = valid_range(out, size, s, p, shift);
                            assert_eq!((lo..hi).collect::<Vec<_>>(), scan, "{out} {size} {s} {p} {shift}");
                        }
                    }
                }
            }
        }
    }
}
