//! `Dropout`: while training, each element is zeroed with probability p and the others are scaled
//! by 1/(1 − p), so the expected output equals the input and evaluation needs no rescaling
//! (Srivastava et al. 2014, "inverted" dropout as in PyTorch).

use std::cell::Cell;

use ftheta_core::Tensor;
use rand::RngCore;

use crate::module::Module;
use crate::NnError;

/// Randomly zeroes elements while training; the identity in evaluation.
///
/// The masks come from the thread's seeded generator (`ftheta_core::manual_seed`), so the same
/// seed gives the same masks, run after run and at any thread count.
///
/// ```
/// use ftheta_nn::{Dropout, Module};
/// use ftheta_core::Tensor;
/// let d = Dropout::new(0.5);
/// let x = Tensor::ones(&[4, 8]);
/// assert!(d.forward(&x).to_vec().iter().all(|&v| v == 0.0 || v == 2.0));
/// d.eval();
/// assert_eq!(d.forward(&x).to_vec(), x.to_vec());
/// ```
#[derive(Debug)]
pub struct Dropout {
    p: f64,
    training: Cell<bool>,
}

impl Dropout {
    /// Dropout with probability `p` of zeroing an element, in training mode.
    ///
    /// # Panics
    /// When `p` is not in `[0, 1]`; [`Dropout::try_new`] returns an error instead.
    #[track_caller]
    pub fn new(p: f64) -> Self {
        match Self::try_new(p) {
            Ok(d) => d,
            Err(e) => panic!("Dropout: {e}"),
        }
    }

    /// Like [`Dropout::new`], for a `p` that comes from a user.
    pub fn try_new(p: f64) -> Result<Self, NnError> {
        if !(0.0..=1.0).contains(&p) {
            return Err(NnError::Hyper { name: "dropout probability", value: p, problem: "must be in [0, 1]" });
        }
        Ok(Dropout { p, training: Cell::new(true) })
    }

    /// The probability of zeroing an element.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Whether the module is in training mode (dropping) rather than evaluation (the identity).
    pub fn is_training(&self) -> bool {
        self.training.get()
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Tensor {
        if !self.training.get() || self.p == 0.0 {
            return x.clone();
        }
        if self.p == 1.0 {
            return x.mul_scalar(0.0);
        }
        // An element is kept when a uniform 32-bit draw reaches p·2³²: one integer compare per
        // element, and exact to 2⁻³².
        let threshold = (self.p * 4_294_967_296.0).round() as u64;
        let scale = (1.0 / (1.0 - self.p)) as f32;
        let mask: Vec<f32> = ftheta_core::with_rng(|r| {
            (0..x.numel()).map(|_| if u64::from(r.next_u32()) >= threshold { scale } else { 0.0 }).collect()
        });
        x.mul(&Tensor::from_vec(mask, x.shape()))
    }

    fn visit_parameters(&self, _prefix: &str, _f: &mut dyn FnMut(&str, &Tensor)) {}

    fn set_training(&self, training: bool) {
        self.training.set(training);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_about_p_and_keeps_the_mean() {
        ftheta_core::manual_seed(3);
        let d = Dropout::new(0.3);
        let y = d.forward(&Tensor::ones(&[100, 100])).to_vec();
        let zeros = y.iter().filter(|&&v| v == 0.0).count() as f64 / y.len() as f64;
        assert!((zeros - 0.3).abs() < 0.02, "dropped {zeros}");
        let kept = 1.0 / 0.7f32;
        assert!(y.iter().all(|&v| v == 0.0 || v == kept));
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / y.len() as f64;
        assert!((mean - 1.0).abs() < 0.03, "mean {mean}");
    }

    #[test]
    fn the_same_seed_gives_the_same_mask_and_eval_is_the_identity() {
        let x = Tensor::randn(&[7, 9]);
        let d = Dropout::new(0.5);
        ftheta_core::manual_seed(11);
        let a = d.forward(&x).to_vec();
        ftheta_core::manual_seed(11);
        let b = d.forward(&x).to_vec();
        assert_eq!(a, b);
        assert_ne!(a, d.forward(&x).to_vec(), "the next batch gets another mask");
        d.eval();
        assert!(!d.is_training());
        assert_eq!(d.forward(&x).to_vec(), x.to_vec());
        assert_eq!(Dropout::new(1.0).forward(&x).to_vec(), vec![0.0; 63]);
        assert_eq!(Dropout::new(0.0).forward(&x).to_vec(), x.to_vec());
    }

    #[test]
    fn the_gradient_goes_through_the_kept_elements_only() {
        ftheta_core::manual_seed(5);
        let x = Tensor::ones(&[3, 5]).requires_grad();
        let y = Dropout::new(0.4).forward(&x);
        y.sum().backward();
        assert_eq!(x.grad().unwrap().to_vec(), y.to_vec(), "dy/dx is the mask itself");
    }

    #[test]
    fn a_probability_outside_0_1_is_an_error() {
        let e = Dropout::try_new(1.5).unwrap_err().to_string();
        assert!(e.contains("dropout probability") && e.contains("1.5"), "{e}");
        assert!(Dropout::try_new(-0.1).is_err() && Dropout::try_new(f64::NAN).is_err());
    }
}
