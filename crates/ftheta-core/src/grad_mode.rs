//! Grad mode: whether new operations are recorded for autograd.
//!
//! Evaluation and parameter updates run inside `no_grad`, as PyTorch's `with torch.no_grad():`,
//! so they build no graph and keep no saved values.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether operations on this thread are recorded for autograd.
#[inline]
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Runs `f` with recording off and returns its result.
///
/// ```
/// use ftheta_core::{no_grad, Tensor};
/// let w = Tensor::ones(&[2]).requires_grad();
/// let y = no_grad(|| &w * 2.0);
/// assert!(!y.tracks_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

/// Turns recording off until dropped, then restores the previous mode (so guards nest).
#[must_use = "recording is only off while the guard is alive"]
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Turns recording off on this thread.
    pub fn new() -> Self {
        let previous = GRAD_ENABLED.with(|g| g.replace(false));
        NoGradGuard { previous }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}
