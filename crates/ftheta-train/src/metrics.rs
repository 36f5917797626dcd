//! Scores of a model on a data set: the loss, and MSE, MAE and R² for regression or accuracy for
//! classification (argmax of the logits for several classes, `logit > 0` for one).

use ftheta_core::{no_grad, Tensor};
use ftheta_data::{Dataset, InMemoryDataset, Targets};
use ftheta_nn::{Loss, Module};
use serde::{Deserialize, Serialize};

use crate::trainer::TargetScale;

/// Rows per forward pass when scoring, so that memory stays bounded on large data sets.
const EVAL_BATCH: usize = 4096;

/// A model's scores on one data set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// The mean loss (for the perceptron: the fraction misclassified).
    pub loss: f64,
    /// Mean squared error (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mse: Option<f64>,
    /// Mean absolute error (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    /// Coefficient of determination 1 − SS_res/SS_tot (regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r2: Option<f64>,
    /// Fraction classified correctly (classification).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
}

/// `v` rounded to `digits` significant digits for people to read: `3.772`, `0.9302`, `1.235e6`
/// (scientific outside 1e-4..1e6); `nan`, `inf` as such. `--json` keeps full precision.
pub fn significant(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == 0.0 {
        return "0".into();
    }
    let digits = digits.max(1);
    let exponent = v.abs().log10().floor() as i32;
    if !(-4..6).contains(&exponent) {
        return format!("{v:.*e}", digits - 1);
    }
    let decimals = (digits as i32 - 1 - exponent).max(0) as usize;
    let text = format!("{v:.decimals$}");
    // Rounding can carry into a new digit (9.9996 -> 10.000): one decimal fewer then.
    let carried = text.parse::<f64>().is_ok_and(|r| r.abs() >= 10f64.powi(exponent + 1));
    if carried && decimals > 0 {
        format!("{v:.*}", decimals - 1)
    } else {
        text
    }
}

impl Metrics {
    /// The scores beside the loss, by the names every report uses, in their order: accuracy,
    /// mse, mae, r2 (`None` where the task has no such score).
    pub fn scores(&self) -> [(&'static str, Option<f64>); 4] {
        [("accuracy", self.accuracy), ("mse", self.mse), ("mae", self.mae), ("r2", self.r2)]
    }
}

impl std::fmt::Display for Metrics {
    /// `loss 0.1234  accuracy 0.95` or `loss 3.772  mse 3.772  mae 1.432  r2 0.9302`, each to 4
    /// significant digits.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "loss {}", significant(self.loss, 4))?;
        for (k, v) in self.scores() {
            if let Some(v) = v.filter(|v| v.is_finite()) {
                write!(f, "  {k} {}", significant(v, 4))?;
            }
        }
        Ok(())
    }
}

/// Puts targets into the shape `loss` compares with predictions: class indices `[B]` become
/// `[B, 1]` for binary cross-entropy; everything else is unchanged.
pub fn loss_target(loss: Loss, y: &Tensor) -> Tensor {
    if loss == Loss::Bce && y.ndim() == 1 {
        y.reshape(&[-1, 1])
    } else {
        y.clone()
    }
}

/// The predicted class of each row of `[N, C]` logits: argmax for C > 1, `logit > 0` for C = 1.
pub fn predicted_classes(logits: &[f32], width: usize) -> Vec<usize> {
    if width == 1 {
        return logits.iter().map(|&z| usize::from(z > 0.0)).collect();
    }
    logits
        .chunks_exact(width)
        .map(|row| {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// Scores `model` on every row of `data`. `loss: None` scores a perceptron: the loss is then the
/// fraction of rows on the wrong side of the boundary.
pub fn evaluate(model: &dyn Module, data: &InMemoryDataset, loss: Option<Loss>) -> Metrics {
    evaluate_scaled(model, data, loss, None)
}

/// [`evaluate`] for a model that predicts standardized targets (`scale`): its outputs are mapped
/// back to the targets' units before the loss and the scores, so that every number is in `y`'s
/// units.
pub fn evaluate_scaled(
    model: &dyn Module,
    data: &InMemoryDataset,
    loss: Option<Loss>,
    scale: Option<&TargetScale>,
) -> Metrics {
    let n = data.len();
    if n == 0 {
        return Metrics::default();
    }
    let mut loss_sum = 0.0;
    let mut preds: Vec<f32> = Vec::with_capacity(n);
    let mut width = 1;
    no_grad(|| {
        let all: Vec<usize> = (0..n).collect();
        for chunk in all.chunks(EVAL_BATCH) {
            let (x, y) = data.get_batch(chunk);
            let mut z = model.forward(&x);
            if let (Some(s), Targets::Values { .. }) = (scale, data.targets()) {
                z = s.to_target(&z);
            }
            width = z.shape().get(1).copied().unwrap_or(1);
            if let Some(l) = loss {
                loss_sum += l.compute(&z, &loss_target(l, &y)).item() as f64 * chunk.len() as f64;
            }
            preds.extend(z.to_vec());
        }
    });
    match data.targets() {
        Targets::Classes(classes) => {
            let predicted = predicted_classes(&preds, width);
            let correct = predicted.iter().zip(classes).filter(|(p, c)| p == c).count();
            let accuracy = correct as f64 / n as f64;
            let loss = if loss.is_some() { loss_sum / n as f64 } else { 1.0 - accuracy };
            Metrics { loss, accuracy: Some(accuracy), ..Default::default() }
        }
        Targets::Values { data: y, .. } => {
            let mean = y.iter().map(|&v| v as f64).sum::<f64>() / y.len() as f64;
            let (mut se, mut ae, mut tot) = (0.0, 0.0, 0.0);
            for (&p, &t) in preds.iter().zip(y) {
                let d = p as f64 - t as f64;
                se += d * d;
                ae += d.abs();
                tot += (t as f64 - mean).powi(2);
            }
            let m = y.len() as f64;
            let r2 = if tot > 0.0 { 1.0 - se / tot } else { f64::NAN };
            let loss = if loss.is_some() { loss_sum / n as f64 } else { f64::NAN };
            Metrics { loss, mse: Some(se / m), mae: Some(ae / m), r2: Some(r2), accuracy: None }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_and_classification_scores() {
        let lin = ftheta_nn::Linear::from_tensors(
            Tensor::from_vec(vec![2.0], &[1, 1]),
            Some(Tensor::scalar(0.0).reshape(&[1])),
        );
        let data = InMemoryDataset::new(vec![1.0, 2.0, 3.0], 1, vec![2.0, 4.0, 7.0], 1).unwrap();
        let m = evaluate(&lin, &data, Some(Loss::Mse));
        assert!((m.loss - 1.0 / 3.0).abs() < 1e-6 && (m.mse.unwrap() - 1.0 / 3.0).abs() < 1e-6);
        assert!((m.mae.unwrap() - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(predicted_classes(&[0.1, 0.9, 0.5, -1.0], 2), [1, 0]);
        assert_eq!(predicted_classes(&[0.1, -0.2], 1), [1, 0]);
        assert_eq!(m.to_string(), "loss 0.3333  mse 0.3333  mae 0.3333  r2 0.9211");
    }

    #[test]
    fn four_significant_digits() {
        let cases = [
            (3.771683016, "3.772"),
            (0.93021, "0.9302"),
            (716.31314, "716.3"),
            (10012.0, "10012"),
            (9.99996, "10.00"),
            (-0.000123456, "-0.0001235"),
            (1234567.0, "1.235e6"),
            (0.0, "0"),
            (0.94, "0.9400"),
            (0.099996, "0.1000"),
        ];
        for (v, want) in cases {
            assert_eq!(significant(v, 4), want, "{v}");
        }
    }
}
