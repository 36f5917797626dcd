//! 2-D convolution and pooling over `[N, C, H, W]` batches (or one `[C, H, W]` image), as
//! PyTorch's `conv2d`, `max_pool2d` and `avg_pool2d`.
//!
//! A convolution is one GEMM per group: the patches of the whole batch as the columns of a matrix
//! (`kernels::conv::im2col`), multiplied by the `[O, C/groups·kH·kW]` weight. The backward pass
//! builds the patches again instead of keeping them (they are `kH·kW` times the input), and the
//! chain rules in `backprop.rs` call the helpers at the end of this file.

use std::rc::Rc;

use crate::kernels::conv::{avg_pool, im2col, max_pool, Geom};
use crate::kernels::gemm::{gemm_into, Mat};
use crate::op::Op;
use crate::ops::reduce::sum_slice;
use crate::{check, Float, Tensor};

/// Stride, padding, dilation (height, width) and groups of a 2-D convolution: PyTorch's
/// `conv2d` arguments. The default is stride 1, no padding, no dilation, one group.
///
/// ```
/// use ftheta_core::{Conv2dParams, Tensor};
/// let x = Tensor::ones(&[1, 1, 5, 5]);
/// let w = Tensor::ones(&[2, 1, 3, 3]);
/// let y = x.conv2d(&w, None, Conv2dParams::default().padding(1).stride(2));
/// assert_eq!(y.shape(), &[1, 2, 3, 3]);
/// assert_eq!(y.to_vec()[4], 9.0); // the centre window sees nine ones
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    /// Step between windows (height, width).
    pub stride: (usize, usize),
    /// Zeros added on each side (height, width).
    pub padding: (usize, usize),
    /// Spacing between kernel elements (height, width).
    pub dilation: (usize, usize),
    /// Input and output channels are cut in this many groups, each convolved on its own.
    pub groups: usize,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams { stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1 }
    }
}

impl Conv2dParams {
    /// The same stride in both directions.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = (s, s);
        self
    }

    /// The same padding on all sides.
    pub fn padding(mut self, p: usize) -> Self {
        self.padding = (p, p);
        self
    }

    /// The same dilation in both directions.
    pub fn dilation(mut self, d: usize) -> Self {
        self.dilation = (d, d);
        self
    }

    /// The number of groups.
    pub fn groups(mut self, g: usize) -> Self {
        self.groups = g;
        self
    }
}

/// Kernel size, stride and padding (height, width) of a 2-D pooling window. [`Pool2d::new`]
/// gives PyTorch's default: stride equal to the kernel, no padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    /// Window size (height, width).
    pub kernel: (usize, usize),
    /// Step between windows (height, width).
    pub stride: (usize, usize),
    /// Implicit padding on each side (height, width): `-inf` for max pooling, zeros (counted in
    /// the divisor) for average pooling. At most half the kernel, as PyTorch requires.
    pub padding: (usize, usize),
}

impl Pool2d {
    /// A `k×k` window moving by `k`, no padding.
    pub fn new(k: usize) -> Self {
        Pool2d { kernel: (k, k), stride: (k, k), padding: (0, 0) }
    }

    /// The same stride in both directions.
    pub fn stride(mut self, s: usize) -> Self {
        self.stride = (s, s);
        self
    }

    /// The same padding on all sides.
    pub fn padding(mut self, p: usize) -> Self {
        self.padding = (p, p);
        self
    }
}

/// What a convolution's chain rule needs besides its inputs: the geometry of one group and the
/// number of groups.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConvSaved {
    pub(crate) geom: Geom,
    pub(crate) groups: usize,
    /// Output channels.
    pub(crate) o: usize,
}

/// One output size: `(size + 2p − d·(k − 1) − 1) / s + 1`, or `None` when the (dilated) kernel
/// does not fit in the padded input.
fn out_size(size: usize, k: usize, s: usize, p: usize, d: usize) -> Option<usize> {
    let span = d * (k - 1) + 1;
    (size + 2 * p >= span).then(|| (size + 2 * p - span) / s + 1)
}

impl<T: Float> Tensor<T> {
    /// 2-D convolution (cross-correlation, as PyTorch's `conv2d`) of `self`, `[N, C, H, W]` or
    /// `[C, H, W]`, with `weight` `[O, C/groups, kH, kW]` and an optional `bias` `[O]`; the result
    /// is `[N, O, Ho, Wo]` with `Ho = (H + 2·padding − dilation·(kH − 1) − 1) / stride + 1`.
    ///
    /// # Panics
    /// When the shapes do not fit each other or the parameters (a zero stride, dilation or group
    /// count, channels not divisible by the groups, a kernel larger than the padded input).
    #[track_caller]
    pub fn conv2d(&self, weight: &Tensor<T>, bias: Option<&Tensor<T>>, params: Conv2dParams) -> Self {
        const OP: &str = "conv2d";
        if self.ndim() == 3 {
            return self.unsqueeze(0).conv2d(weight, bias, params).squeeze(0);
        }
        let (xs, ws) = (self.shape(), weight.shape());
        if xs.len() != 4 || ws.len() != 4 {
            check::fail(OP, "input must be [N, C, H, W] and weight [O, C/groups, kH, kW]", xs, ws);
        }
        let Conv2dParams { stride: (sh, sw), padding: (ph, pw), dilation: (dh, dw), groups } = params;
        if sh == 0 || sw == 0 || dh == 0 || dw == 0 || groups == 0 {
            check::fail(OP, &format!("stride, dilation and groups must be positive, got {params:?}"), xs, ws);
        }
        let (n, c, h, w) = (xs[0], xs[1], xs[2], xs[3]);
        let (o, cg, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
        if c % groups != 0 || o % groups != 0 || cg * groups != c {
            check::fail(
                OP,
                &format!("{groups} groups need C and O divisible by it and weight.shape[1] = C/groups"),
                xs,
                ws,
            );
        }
        if kh == 0 || kw == 0 {
            check::fail(OP, "the kernel is empty", xs, ws);
        }
        if let Some(b) = bias {
            if b.shape() != [o] {
                check::fail(OP, "bias must be [O], one per output channel", b.shape(), ws);
            }
        }
        let (Some(ho), Some(wo)) = (out_size(h, kh, sh, ph, dh), out_size(w, kw, sw, pw, dw)) else {
            check::fail(OP, &format!("the kernel is larger than the padded input ({params:?})"), xs, ws)
        };
        let geom = Geom { n, c: cg, h, w, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo };
        let (og, howo, ncols, rows) = (o / groups, ho * wo, geom.cols(), geom.rows());
        let mut out = vec![T::zero(); n * o * howo];
        let bias_v = bias.map(|b| b.to_vec());
        self.with_contiguous(|xv| {
            weight.with_contiguous(|wv| {
                let mut y = vec![T::zero(); og * ncols];
                for gi in 0..groups {
                    let cols = im2col(xv, c, gi * cg, &geom);
                    if gi > 0 {
                        y.iter_mut().for_each(|v| *v = T::zero());
                    }
                    let wg = Mat::new(&wv[gi * og * rows..], rows, 1);
                    gemm_into(og, rows, ncols, wg, Mat::new(&cols, ncols, 1), &mut y, false);
                    // Row oc of y holds channel gi·og + oc of every image, image after image.
                    for (oc, yrow) in y.chunks_exact(ncols.max(1)).enumerate().take(og) {
                        let ch = gi * og + oc;
                        let add = bias_v.as_ref().map_or(T::zero(), |b| b[ch]);
                        for img in 0..n {
                            let dst = &mut out[(img * o + ch) * howo..][..howo];
                            let src = &yrow[img * howo..(img + 1) * howo];
                            dst.iter_mut().zip(src).for_each(|(d, &s)| *d = s + add);
                        }
                    }
                }
            })
        });
        let track = match bias {
            Some(b) => Self::track(&[self, weight, b]),
            None => Self::track(&[self, weight]),
        };
        let op = track.then(|| Op::Conv2d(self.clone(), weight.clone(), bias.cloned(), ConvSaved { geom, groups, o }));
        Self::from_parts(out, &[n, o, ho, wo], op)
    }

    /// 2-D max pooling (PyTorch's `max_pool2d`) of `[N, C, H, W]` or `[C, H, W]`: the largest
    /// value of each window, padding counting as `-inf`. The gradient goes to the first maximum of
    /// each window.
    ///
    /// # Panics
    /// When the input has fewer than 3 dimensions, the window is empty or larger than the padded
    /// input, a stride is 0, or the padding is more than half the kernel.
    #[track_caller]
    pub fn max_pool2d(&self, pool: Pool2d) -> Self {
        let (planes, geom) = pool_geom("max_pool2d", self.shape(), pool);
        let (out, arg) = self.with_contiguous(|xv| max_pool(xv, planes, &geom));
        let op = Self::track(&[self]).then(|| Op::MaxPool2d(self.clone(), Rc::from(arg), geom));
        Self::from_parts(out, &pooled_shape(self.shape(), &geom), op)
    }

    /// 2-D average pooling (PyTorch's `avg_pool2d` with `count_include_pad=True`) of
    /// `[N, C, H, W]` or `[C, H, W]`: the mean of each window, padding counting as zeros.
    ///
    /// # Panics
    /// As [`Tensor::max_pool2d`].
    #[track_caller]
    pub fn avg_pool2d(&self, pool: Pool2d) -> Self {
        let (planes, geom) = pool_geom("avg_pool2d", self.shape(), pool);
        let out = self.with_contiguous(|xv| avg_pool(xv, planes, &geom));
        let op = Self::track(&[self]).then(|| Op::AvgPool2d(self.clone(), geom));
        Self::from_parts(out, &pooled_shape(self.shape(), &geom), op)
    }
}

/// Checks a pooling call and returns the number of planes and the window geometry.
#[track_caller]
fn pool_geom(op: &'static str, xs: &[usize], p: Pool2d) -> (usize, Geom) {
    let Pool2d { kernel: (kh, kw), stride: (sh, sw), padding: (ph, pw) } = p;
    let kshape = [kh, kw];
    if xs.len() != 3 && xs.len() != 4 {
        check::fail(op, "the input must be [N, C, H, W] or [C, H, W]", xs, &kshape);
    }
    if kh == 0 || kw == 0 || sh == 0 || sw == 0 {
        check::fail(op, &format!("kernel and stride must be positive, got {p:?}"), xs, &kshape);
    }
    if 2 * ph > kh || 2 * pw > kw {
        check::fail(op, &format!("padding must be at most half the kernel, got {p:?}"), xs, &kshape);
    }
    let nd = xs.len();
    let (h, w) = (xs[nd - 2], xs[nd - 1]);
    let (Some(ho), Some(wo)) = (out_size(h, kh, sh, ph, 1), out_size(w, kw, sw, pw, 1)) else {
        check::fail(op, &format!("the window is larger than the padded input ({p:?})"), xs, &kshape)
    };
    let planes = xs[..nd - 2].iter().product();
    (planes, Geom { n: 1, c: planes, h, w, kh, kw, sh, sw, ph, pw, dh: 1, dw: 1, ho, wo })
}

fn pooled_shape(xs: &[usize], g: &Geom) -> Vec<usize> {
    let mut s = xs[..xs.len() - 2].to_vec();
    s.extend_from_slice(&[g.ho, g.wo]);
    s
}

/// The output gradient `[N, O, Ho, Wo]` as the `[O, N·Ho·Wo]` matrix a convolution's GEMM
/// produced (row = output channel, images side by side), for the chain rules.
pub(crate) fn grad_rows<T: Float>(g: &[T], s: &ConvSaved) -> Vec<T> {
    let (n, howo) = (s.geom.n, s.geom.ho * s.geom.wo);
    let ncols = n * howo;
    let mut out = vec![T::zero(); s.o * ncols];
    if howo == 0 {
        return out;
    }
    for (i, plane) in g.chunks_exact(howo).enumerate() {
        let (img, ch) = (i / s.o, i % s.o);
        out[ch * ncols + img * howo..][..howo].copy_from_slice(plane);
    }
    out
}

/// `∂L/∂W` of a convolution, group by group: `G_g · cols_gᵀ` (`[O/g, N·Ho·Wo]` times the
/// transposed patch matrix), added into `dst` when `add`, else written over its zeros.
pub(crate) fn weight_grad<T: Float>(x: &[T], gr: &[T], s: &ConvSaved, dst: &mut [T], add: bool) {
    let (geom, og, rows, ncols) = (&s.geom, s.o / s.groups, s.geom.rows(), s.geom.cols());
    for gi in 0..s.groups {
        let cols = im2col(x, geom.c * s.groups, gi * geom.c, geom);
        let ga = Mat::new(&gr[gi * og * ncols..], ncols, 1);
        let ct = Mat::new(&cols[..], ncols, 1).t();
        gemm_into(og, ncols, rows, ga, ct, &mut dst[gi * og * rows..(gi + 1) * og * rows], add);
    }
}

/// `∂L/∂x` of a convolution, added into `dst`: per group the patch gradients `W_gᵀ · G_g`, each
/// added back where its patch was read (`col2im`).
pub(crate) fn input_grad<T: Float>(w: &[T], gr: &[T], s: &ConvSaved, dst: &mut [T]) {
    let (geom, og, rows, ncols) = (&s.geom, s.o / s.groups, s.geom.rows(), s.geom.cols());
    let mut dcols = vec![T::zero(); rows * ncols];
    for gi in 0..s.groups {
        if gi > 0 {
            dcols.iter_mut().for_each(|v| *v = T::zero());
        }
        let wt = Mat::new(&w[gi * og * rows..], rows, 1).t();
        let ga = Mat::new(&gr[gi * og * ncols..], ncols, 1);
        gemm_into(rows, og, ncols, wt, ga, &mut dcols, false);
        crate::kernels::conv::col2im(&dcols, geom.c * s.groups, gi * geom.c, geom, dst);
    }
}

/// `∂L/∂b` of a convolution added into `dst`: each output channel's gradient summed over images
/// and positions (one row of the gradient matrix).
pub(crate) fn bias_grad<T: Float>(gr: &[T], s: &ConvSaved, dst: &mut [T]) {
    let ncols = s.geom.cols();
    if ncols == 0 {
        return;
    }
    dst.iter_mut().zip(gr.chunks_exact(ncols)).for_each(|(d, row)| *d += sum_slice(row));
}
