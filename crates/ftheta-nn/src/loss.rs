//! Losses: how a candidate f_θ is scored on data. Each returns the mean over the batch.

use std::fmt;
use std::str::FromStr;

use ftheta_core::Tensor;

#[track_caller]
fn same_shape(op: &str, pred: &Tensor, target: &Tensor) {
    // Unlike elementwise maths, a loss never broadcasts: `[N, 1]` against `[N]` would silently
    // compare every prediction with every target.
    if pred.shape() != target.shape() {
        panic!(
            "{op}: prediction and target shapes must be equal: lhs shape {:?}, rhs shape {:?}",
            pred.shape(),
            target.shape()
        );
    }
}

/// Mean squared error `mean((ŷ − y)²)`.
#[track_caller]
pub fn mse(pred: &Tensor, target: &Tensor) -> Tensor {
    same_shape("mse", pred, target);
    (pred - target).pow(2.0).mean()
}

/// Mean absolute error `mean(|ŷ − y|)`.
#[track_caller]
pub fn mae(pred: &Tensor, target: &Tensor) -> Tensor {
    same_shape("mae", pred, target);
    (pred - target).abs().mean()
}

/// Huber loss (PyTorch's `HuberLoss`): `½d²` where `|d| < δ`, `δ(|d| − ½δ)` elsewhere.
#[track_caller]
pub fn huber(pred: &Tensor, target: &Tensor, delta: f64) -> Tensor {
    same_shape("huber", pred, target);
    let d = pred - target;
    let a = d.abs();
    let inside = a.lt_scalar(delta);
    let quadratic = d.pow(2.0).mul_scalar(0.5);
    let linear = a.add_scalar(-0.5 * delta).mul_scalar(delta);
    (&inside * &quadratic + (1.0 - &inside) * &linear).mean()
}

/// Binary cross-entropy on logits `z` with targets in `[0, 1]`:
/// `mean(ln(1 + eᶻ) − z·y)`, which never evaluates `log(0)`.
#[track_caller]
pub fn bce_with_logits(logits: &Tensor, target: &Tensor) -> Tensor {
    same_shape("bce_with_logits", logits, target);
    (logits.softplus() - logits * target).mean()
}

/// Cross-entropy over class indices: `logits` is `[N, C]`, `target` holds N class indices
/// (shape `[N]` or `[N, 1]`). Computed as `−mean(log_softmax(z)[y])` by one fused op
/// ([`Tensor::cross_entropy`]), stable for any logits.
#[track_caller]
pub fn cross_entropy(logits: &Tensor, target: &Tensor) -> Tensor {
    if logits.ndim() != 2 || target.numel() != logits.shape()[0] {
        panic!(
            "cross_entropy: logits must be [N, C] and targets hold N class indices: lhs shape {:?}, rhs shape {:?}",
            logits.shape(),
            target.shape()
        );
    }
    // One fused op whose backward is (softmax − onehot)/N, equal to log_softmax + gather + mean.
    logits.cross_entropy(target)
}

/// A loss chosen by name (`mse`, `mae`, `huber`, `cross-entropy`, `bce`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Mean squared error.
    Mse,
    /// Mean absolute error.
    Mae,
    /// Huber with δ = 1.
    Huber,
    /// Cross-entropy over class indices.
    CrossEntropy,
    /// Binary cross-entropy on logits.
    Bce,
}

impl Loss {
    /// Scores predictions against targets.
    #[track_caller]
    pub fn compute(self, pred: &Tensor, target: &Tensor) -> Tensor {
        match self {
            Loss::Mse => mse(pred, target),
            Loss::Mae => mae(pred, target),
            Loss::Huber => huber(pred, target, 1.0),
            Loss::CrossEntropy => cross_entropy(pred, target),
            Loss::Bce => bce_with_logits(pred, target),
        }
    }

    /// Whether the targets are classes (accuracy is then a metric).
    pub fn is_classification(self) -> bool {
        matches!(self, Loss::CrossEntropy | Loss::Bce)
    }
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Loss::Mse => "mse",
            Loss::Mae => "mae",
            Loss::Huber => "huber",
            Loss::CrossEntropy => "cross-entropy",
            Loss::Bce => "bce",
        })
    }
}

impl FromStr for Loss {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "mse" => Loss::Mse,
            "mae" => Loss::Mae,
            "huber" => Loss::Huber,
            "cross-entropy" | "ce" => Loss::CrossEntropy,
            "bce" => Loss::Bce,
            other => return Err(format!("unknown loss '{other}' (expected mse, mae, huber, cross-entropy or bce)")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f64) -> bool {
        (a as f64 - b).abs() < 1e-5 * b.abs().max(1.0)
    }

    #[test]
    fn values_match_their_definitions() {
        let p = Tensor::from_vec(vec![0.5, 2.0, -1.0], &[3]);
        let t = Tensor::from_vec(vec![1.0, 0.0, 1.5], &[3]);
        assert!(close(mse(&p, &t).item(), (0.25 + 4.0 + 6.25) / 3.0));
        assert!(close(mae(&p, &t).item(), (0.5 + 2.0 + 2.5) / 3.0));
        assert!(close(huber(&p, &t, 1.0).item(), (0.125 + 1.5 + 2.0) / 3.0));
        let z = Tensor::from_vec(vec![2.0, -1.0], &[2]);
        let y = Tensor::from_vec(vec![1.0, 0.0], &[2]);
        let expected = ((1.0 + (-2.0f64).exp()).ln() + (1.0 + (-1.0f64).exp()).ln()) / 2.0;
        assert!(close(bce_with_logits(&z, &y).item(), expected));
        let logits = Tensor::from_vec(vec![1.0, 2.0, 3.0, 0.0, 0.0, 0.0], &[2, 3]);
        let cls = Tensor::from_vec(vec![2.0, 1.0], &[2]);
        let lse = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
        assert!(close(cross_entropy(&logits, &cls).item(), ((lse - 3.0) + 3f64.ln()) / 2.0));
    }

    #[test]
    fn cross_entropy_is_stable_for_huge_logits() {
        let logits = Tensor::from_vec(vec![1e4, -1e4, 0.0, 0.0], &[2, 2]).requires_grad();
        let cls = Tensor::from_vec(vec![1.0, 0.0], &[2]);
        let l = cross_entropy(&logits, &cls);
        assert!(close(l.item(), (2e4 + 2f64.ln()) / 2.0), "{}", l.item());
        l.backward();
        assert!(logits.grad().unwrap().to_vec().iter().all(|g| g.is_finite()));
    }
}
