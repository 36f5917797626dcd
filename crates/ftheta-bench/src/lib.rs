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

/// MNIST-shaped data held in memory: `n` images of 784 pixels in `[0, 1]` and their classes.
pub struct MnistData {
    /// `n × 784` pixels, image after image.
    pub images: Vec<f32>,
    /// The class of each image, as `f32` (what `cross_entropy` takes).
    pub labels: Vec<f32>,
}

impl MnistData {
    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Random pixels and classes of MNIST's shape (timing does not depend on the values).
    pub fn random(n: usize) -> Self {
        let mut s = 0x9e37_79b9_7f4a_7c15u64;
        let images = (0..n * 784).map(|_| (xorshift(&mut s) >> 40) as f32 / (1u64 << 24) as f32).collect();
        let labels = (0..n).map(|_| (xorshift(&mut s) % 10) as f32).collect();
        MnistData { images, labels }
    }

    /// One part of the real MNIST from `dir` (`train` or `t10k`).
    pub fn real(dir: &str, part: &str) -> Result<Self, String> {
        let p = ftheta_data::read_mnist_part(dir, part).map_err(|e| e.to_string())?;
        Ok(MnistData { images: p.images, labels: p.labels.iter().map(|&l| l as f32).collect() })
    }

    /// The batch of the images at `idx`, copied into fresh tensors (as a data loader does).
    pub fn batch(&self, idx: &[usize]) -> (Tensor, Tensor) {
        let mut x = Vec::with_capacity(idx.len() * 784);
        for &i in idx {
            x.extend_from_slice(&self.images[i * 784..(i + 1) * 784]);
        }
        let y = idx.iter().map(|&i| self.labels[i]).collect();
        (Tensor::from_vec(x, &[idx.len(), 784]), Tensor::from_vec(y, &[idx.len()]))
    }
}

fn xorshift(s: &mut u64) -> u64 {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    *s
}

/// A seeded shuffle of `0..n` (Fisher-Yates), different for each `epoch`.
pub fn shuffled(n: usize, epoch: u64) -> Vec<usize> {
    let mut s = 0x2545_f491_4f6c_dd1du64 ^ (epoch.wrapping_add(1)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (xorshift(&mut s) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}

/// The optimizer of an MNIST run: `sgd` (η = 0.1) or `adam` (η = 10⁻³).
pub fn mnist_optimizer(name: &str, params: Vec<Tensor>) -> Box<dyn ftheta_nn::Optimizer> {
    match name {
        "sgd" => Box::new(ftheta_nn::Sgd::new(params, 0.1).unwrap()),
        "adam" => Box::new(ftheta_nn::Adam::new(params, 1e-3).unwrap()),
        other => panic!("unknown optimizer '{other}' (sgd or adam)"),
    }
}

/// One epoch of minibatch training of 784-256-128-10 with cross-entropy, written as a user writes
/// it: shuffle, copy each batch out, forward, loss, zero_grad, backward, step. Returns the last
/// loss.
pub fn mnist_epoch(
    model: &impl Module,
    opt: &mut dyn ftheta_nn::Optimizer,
    data: &MnistData,
    batch: usize,
    epoch: u64,
) -> f32 {
    let order = shuffled(data.len(), epoch);
    let mut last = 0.0;
    for idx in order.chunks(batch) {
        let (x, y) = data.batch(idx);
        let l = loss::cross_entropy(&model.forward(&x), &y);
        opt.zero_grad();
        l.backward();
        opt.step();
        last = l.item();
    }
    last
}

/// The share of `data` that `model` classifies right.
pub fn mnist_accuracy(model: &impl Module, data: &MnistData) -> f64 {
    no_grad(|| {
        let idx: Vec<usize> = (0..data.len()).collect();
        let mut right = 0usize;
        for chunk in idx.chunks(1000) {
            let (x, y) = data.batch(chunk);
            let pred = model.forward(&x).argmax(-1, false).to_vec();
            right += pred.iter().zip(y.to_vec()).filter(|(p, y)| **p == *y).count();
        }
        right as f64 / data.len() as f64
    })
}

/// The peak resident memory of this process in MiB (`VmHWM`), or 0 where /proc is missing.
pub fn max_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}
