//! Masking: `masked_fill` replaces the elements a mask selects by one value (PyTorch's
//! `Tensor.masked_fill`), as attention does with −∞ to hide the future from each position.

use crate::check;
use crate::op::Op;
use crate::ops::elementwise::zip_broadcast;
use crate::{Float, Tensor};

impl<T: Float> Tensor<T> {
    /// `value` where `mask` is nonzero, `self` elsewhere. `mask` broadcasts to `self`'s shape (a
    /// `[T, T]` mask over `[B, H, T, T]` scores) and takes no gradient; the gradient reaches `self`
    /// only where it was kept. `value` may be infinite (−∞ before a softmax).
    ///
    /// # Panics
    /// When `mask` does not broadcast to `self`'s shape.
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor<T>, value: f64) -> Self {
        let v = T::from_f64(value);
        let zero = T::zero();
        let (data, shape) = zip_broadcast("masked_fill", self, mask, |x, m| if m != zero { v } else { x });
        if shape.as_slice() != self.shape() {
            check::fail("masked_fill", "the mask must broadcast to the input's shape", self.shape(), mask.shape());
        }
        let op = Self::track(&[self]).then(|| Op::MaskedFill(self.clone(), mask.clone()));
        Self::from_parts(data, self.shape(), op)
    }
}
