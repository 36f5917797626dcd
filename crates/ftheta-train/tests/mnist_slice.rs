//! A small MNIST slice trains with the Trainer (the full run is checked by hand in release).

use std::path::Path;

use ftheta_data::read_mnist_part;
use ftheta_nn::{Init, Loss, ModelSpec};
use ftheta_train::{evaluate, Budget, EvalEvery, OptimizerKind, TrainConfig, Trainer};

#[test]
fn a_small_mnist_slice_trains() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist");
    let test = read_mnist_part(&dir, "t10k").unwrap().into_dataset().unwrap();
    let train = test.subset(&(0..3000).collect::<Vec<_>>()).unwrap();
    let val = test.subset(&(3000..4000).collect::<Vec<_>>()).unwrap();
    ftheta_core::manual_seed(0);
    let model = "mlp:64".parse::<ModelSpec>().unwrap().build(784, 10, Init::PyTorch).unwrap();
    let cfg = TrainConfig {
        budget: Budget::Epochs(3),
        batch_size: Some(64),
        shuffle: true,
        seed: 0,
        lr: 0.002,
        optimizer: OptimizerKind::Adam,
        loss: Loss::CrossEntropy,
        eval_every: EvalEvery::Epoch,
        patience: None,
        max_grad_norm: Some(5.0),
        target_scale: None,
    };
    let mut t = Trainer::new(&model, cfg).unwrap();
    t.fit(&train, &val, &mut ()).unwrap();
    assert_eq!(t.history().len(), 3);
    t.restore_best();
    let acc = evaluate(&model, &val, Some(Loss::CrossEntropy)).accuracy.unwrap();
    assert!(acc > 0.85, "{acc}");
}
