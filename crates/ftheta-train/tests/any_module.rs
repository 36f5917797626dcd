//! The trainer trains any `Module`, not only a model built from a spec: a hand-written two-layer
//! network learns XOR by gradient descent and checkpoints like a run, and the perceptron rule moves
//! a bare `Linear` exactly as the rule applied by hand does.

use ftheta_core::Tensor;
use ftheta_data::InMemoryDataset;
use ftheta_nn::module::join_name;
use ftheta_nn::{Init, Linear, Loss, Module};
use ftheta_train::perceptron::{perceptron_pass, signed_labels};
use ftheta_train::run::RunDir;
use ftheta_train::{
    Budget, EvalEvery, Observer, OptimizerKind, PerceptronRule, Record, TrainConfig, TrainError, Trainer,
};

/// Not a `Model`: two linear layers with tanh between them, named `hidden.*` and `out.*`.
struct TwoLayer {
    hidden: Linear,
    out: Linear,
}

impl Module for TwoLayer {
    fn forward(&self, x: &Tensor) -> Tensor {
        self.out.forward(&self.hidden.forward(x).tanh())
    }

    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        self.hidden.visit_parameters(&join_name(prefix, "hidden"), f);
        self.out.visit_parameters(&join_name(prefix, "out"), f);
    }
}

/// Counts evaluations and sees the model's own type.
#[derive(Default)]
struct Evals(Vec<f64>);

impl Observer<TwoLayer> for Evals {
    fn on_eval(&mut self, record: &Record, _improved: bool, model: &TwoLayer) -> Result<(), TrainError> {
        assert_eq!(model.hidden.out_features(), 8);
        self.0.push(record.train_loss);
        Ok(())
    }
}

fn config(loss: Loss, optimizer: OptimizerKind, lr: f64, epochs: u64) -> TrainConfig {
    TrainConfig {
        budget: Budget::Epochs(epochs),
        batch_size: None,
        shuffle: false,
        seed: 0,
        lr,
        optimizer,
        loss,
        eval_every: EvalEvery::Epoch,
        patience: None,
        max_grad_norm: None,
        target_scale: None,
    }
}

fn xor() -> InMemoryDataset {
    InMemoryDataset::with_classes(vec![0., 0., 0., 1., 1., 0., 1., 1.], 2, vec![0, 1, 1, 0]).unwrap()
}

#[test]
fn a_hand_written_module_learns_xor_and_checkpoints() {
    ftheta_core::manual_seed(1);
    let net = TwoLayer { hidden: Linear::new(2, 8), out: Linear::new(8, 2) };
    let data = xor();
    let mut trainer = Trainer::new(&net, config(Loss::CrossEntropy, OptimizerKind::Adam, 0.05, 200)).unwrap();
    let mut evals = Evals::default();
    trainer.fit(&data, &InMemoryDataset::with_classes(vec![], 2, vec![]).unwrap(), &mut evals).unwrap();
    assert_eq!(evals.0.len(), 200);
    let (first, last) = (evals.0[0], *evals.0.last().unwrap());
    assert!(first > 0.5 && last < 0.05, "cross-entropy {first} -> {last}");
    assert_eq!(trainer.history().last().unwrap().train_accuracy, Some(1.0));

    // The run folder's checkpoint takes any module: a fresh trainer on other weights gets them back.
    let dir = std::env::temp_dir().join(format!("ftheta-any-module-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.json"), "{}").unwrap();
    let run = RunDir::open(&dir).unwrap();
    run.save_checkpoint(&trainer).unwrap();
    let other = TwoLayer { hidden: Linear::new(2, 8), out: Linear::new(8, 2) };
    let mut resumed = Trainer::new(&other, config(Loss::CrossEntropy, OptimizerKind::Adam, 0.05, 200)).unwrap();
    run.load_checkpoint(&mut resumed).unwrap();
    let values = |m: &TwoLayer| -> Vec<Vec<f32>> { m.parameters().iter().map(Tensor::to_vec).collect() };
    assert_eq!(values(&other), values(&net));
    assert_eq!(resumed.state(), trainer.state());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_perceptron_rule_trains_a_bare_linear_layer() {
    let data = InMemoryDataset::with_classes(vec![0., 0., 0., 1., 1., 0., 1., 1.], 2, vec![0, 0, 0, 1]).unwrap();
    let layer = Linear::with_init(2, 1, Init::Constant { w: 0.0, b: 0.0 });
    let cfg = config(Loss::Mse, OptimizerKind::Sgd, 0.5, 12);
    let mut trainer = Trainer::with_rule(&layer, cfg, PerceptronRule::default()).unwrap();
    trainer.fit(&data, &InMemoryDataset::with_classes(vec![], 2, vec![]).unwrap(), &mut ()).unwrap();
    // Scored by the fraction misclassified: AND is separable, so the last pass makes no mistake.
    let last = trainer.history().last().unwrap();
    assert_eq!((last.train_loss, last.train_accuracy), (0.0, Some(1.0)));

    // The same twelve passes by hand end at the same bits (the layer holds its last weights).
    let (w, b) = (Tensor::zeros(&[1, 2]), Tensor::zeros(&[1]));
    let labels = signed_labels(&data).unwrap();
    for _ in 0..12 {
        perceptron_pass(&w, &b, &data, &labels, &[0, 1, 2, 3], 0.5);
    }
    assert_eq!(layer.weight.to_vec(), w.to_vec());
    assert_eq!(layer.bias.as_ref().unwrap().to_vec(), b.to_vec());
}

#[test]
fn the_perceptron_rule_refuses_a_module_without_one_weight_and_bias() {
    let net = TwoLayer { hidden: Linear::new(2, 8), out: Linear::new(8, 1) };
    let data = InMemoryDataset::with_classes(vec![0., 1.], 2, vec![1]).unwrap();
    let mut trainer =
        Trainer::with_rule(&net, config(Loss::Mse, OptimizerKind::Sgd, 1.0, 1), PerceptronRule::default()).unwrap();
    let e = trainer.fit(&data, &InMemoryDataset::with_classes(vec![], 2, vec![]).unwrap(), &mut ()).unwrap_err();
    assert!(e.to_string().contains("has 4 parameters"), "{e}");
}
