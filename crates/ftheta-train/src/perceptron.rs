//! Rosenblatt's perceptron rule: for each sample on the wrong side of the boundary `w·x + b = 0`,
//! move the boundary towards it: `w ← w + η·y·x`, `b ← b + η·y` with `y ∈ {−1, +1}`. No gradients.

use ftheta_core::{no_grad, Tensor};
use ftheta_data::{InMemoryDataset, Targets};

use crate::rule::{Batch, Rule};
use crate::trainer::TrainConfig;
use crate::TrainError;

/// The perceptron rule as the trainer's [`Rule`]: one [`perceptron_pass`] over each batch on the
/// model's two parameters, the weight `[1, D]` and the bias `[1]` (a `perceptron` model's single
/// linear layer). The loss it reports and scores with is the fraction of rows misclassified; the
/// configured loss and optimizer are not used.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PerceptronRule {
    labels: Vec<f32>,
}

impl Rule for PerceptronRule {
    fn start(&mut self, train: &InMemoryDataset, _config: &TrainConfig) -> Result<(), TrainError> {
        self.labels = signed_labels(train)?;
        Ok(())
    }

    fn step(&mut self, batch: Batch<'_>, _optimizer: &mut dyn ftheta_nn::Optimizer) -> Result<f64, TrainError> {
        let params = batch.model.parameters();
        let [weight, bias] = params.as_slice() else {
            return Err(TrainError::Config(format!(
                "the perceptron rule moves a weight and a bias, the model has {} parameters",
                params.len()
            )));
        };
        let mistakes = perceptron_pass(weight, bias, batch.train, &self.labels, batch.rows, batch.config.lr);
        Ok(mistakes as f64 / batch.rows.len() as f64)
    }

    fn scoring_loss(&self, _config: &TrainConfig) -> Option<ftheta_nn::Loss> {
        None
    }
}

/// The ±1 label of each sample: class 0 / value ≤ 0 is −1, class 1 / value > 0 is +1. Classes
/// beyond 1 are an error.
pub fn signed_labels(data: &InMemoryDataset) -> Result<Vec<f32>, TrainError> {
    match data.targets() {
        Targets::Classes(c) => c
            .iter()
            .map(|&c| match c {
                0 => Ok(-1.0),
                1 => Ok(1.0),
                other => Err(TrainError::Config(format!("the perceptron separates two classes, found class {other}"))),
            })
            .collect(),
        Targets::Values { data, width: 1 } => data
            .iter()
            .map(|&v| match v {
                v if v == -1.0 || v == 0.0 => Ok(-1.0),
                1.0 => Ok(1.0),
                other => Err(TrainError::Config(format!("perceptron targets must be ±1 or 0/1, found {other}"))),
            })
            .collect(),
        Targets::Values { width, .. } => {
            Err(TrainError::Config(format!("the perceptron has one output, the targets have {width}")))
        }
    }
}

/// One pass of the perceptron rule over the samples in `order`, updating `weight` (`[1, D]`) and
/// `bias` (`[1]`) in place. Returns the number of mistakes (updates) made.
pub fn perceptron_pass(
    weight: &Tensor,
    bias: &Tensor,
    data: &InMemoryDataset,
    labels: &[f32],
    order: &[usize],
    lr: f64,
) -> usize {
    let d = data.n_features();
    let x = data.features();
    let lr = lr as f32;
    let mut mistakes = 0;
    no_grad(|| {
        let mut b = bias.to_vec()[0];
        weight.update_(|w| {
            for &i in order {
                let row = &x[i * d..(i + 1) * d];
                let z: f32 = row.iter().zip(w.iter()).map(|(a, b)| a * b).sum::<f32>() + b;
                let y = labels[i];
                if y * z <= 0.0 {
                    mistakes += 1;
                    w.iter_mut().zip(row).for_each(|(w, x)| *w += lr * y * x);
                    b += lr * y;
                }
            }
        });
        bias.update_(|v| v[0] = b);
    });
    mistakes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separates_and() {
        let data = InMemoryDataset::with_classes(vec![0., 0., 0., 1., 1., 0., 1., 1.], 2, vec![0, 0, 0, 1]).unwrap();
        let labels = signed_labels(&data).unwrap();
        let (w, b) = (Tensor::zeros(&[1, 2]), Tensor::zeros(&[1]));
        let order = [0, 1, 2, 3];
        let mut last = usize::MAX;
        for _ in 0..20 {
            last = perceptron_pass(&w, &b, &data, &labels, &order, 1.0);
        }
        assert_eq!(last, 0);
    }
}
