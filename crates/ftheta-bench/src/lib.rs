//! Workloads shared by the criterion benches and the `ftheta-bench` binary, so that the numbers
//! compared with PyTorch come from exactly the code that is benchmarked.

use ftheta_core::{manual_seed, no_grad, Tensor};
use ftheta_nn::{loss, Init, Linear, ModelSpec, Module};

/// Data of the tiny regression: 100 points of `t = 2x + 1` plus a little wiggle.
pub fn tiny_data() -> (Tensor, Tensor) {
    let x: Vec<f32> = (0..100).map(|i| i as f32 / 100.0).collect();
    let t: Vec<f32> = x.iter().map(|&x| 2.0 * x + 1.0 + 0.1 * (7.0 * x).sin()).collect();
    (Tensor::from_vec(x, &[100, 1]), Tensor::from_vec(t, &[100, 1]))
}

/// `updates` full-batch gradient-descent updates of `y = w·x + b` written with raw tensors and
/// autograd, as a student writes it. Returns the final loss.
pub fn tiny_linear(updates: usize) -> f32 {
    let (x, t) = tiny_data();
    let w = Tensor::from_vec(vec![0.0], &[1, 1]).requires_grad();
    let b = Tensor::from_vec(vec![0.0], &[1]).requires_grad();
    let mut last = 0.0;
    for _ in 0..updates {
        let y = x.matmul(&w) + &b;
        let l = (&y - &t).pow(2.0).mean();
        l.backward();
        no_grad(|| {
            w.add_scaled_(&w.grad().unwrap(), -0.1);
            b.add_scaled_(&b.grad().unwrap(), -0.1);
        });
        w.zero_grad();
        b.zero_grad();
        last = l.item();
    }
    last
}

/// `updates` full-batch SGD updates of a 1-16-1 tanh MLP on the tiny data. Returns the final loss.
pub fn tiny_mlp(updates: usize) -> f32 {
    manual_seed(0);
    let (x, t) = tiny_data();
    let model = "mlp:16:tanh".parse::<ModelSpec>().unwrap().build(1, 1, Init::PyTorch).unwrap();
    let mut opt = ftheta_nn::Sgd::new(model.parameters(), 0.1).unwrap();
    let mut last = 0.0;
    for _ in 0..updates {
        let l = loss::mse(&model.forward(&x), &t);
        ftheta_nn::Optimizer::zero_grad(&opt);
        l.backward();
        ftheta_nn::Optimizer::step(&mut opt);
        last = l.item();
    }
    last
}

/// The MNIST-sized MLP 784-256-128-10 and a random batch.
pub fn mnist_mlp(batch: usize) -> (impl Module, Tensor, Tensor) {
    manual_seed(0);
    let model = "mlp:256,128".parse::<ModelSpec>().unwrap().build(784, 10, Init::PyTorch).unwrap();
    let x = Tensor::rand(&[batch, 784]);
    let y = Tensor::from_vec((0..batch).map(|i| (i % 10) as f32).collect(), &[batch]);
    (model, x, y)
}

/// One forward and backward pass of the MLP with cross-entropy; returns the loss.
pub fn mlp_step(model: &impl Module, x: &Tensor, y: &Tensor) -> f32 {
    model.zero_grad();
    let l = loss::cross_entropy(&model.forward(x), y);
    l.backward();
    l.item()
}

/// A linear layer, used to keep the import honest in docs.
pub fn linear(i: usize, o: usize) -> Linear {
    Linear::new(i, o)
}
