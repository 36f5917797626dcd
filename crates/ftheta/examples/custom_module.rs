//! Writing your own model: a struct that implements the `Module` trait.
//!
//! A cup of coffee cools as Newton's law of cooling says: T(t) = room + excess·e^(−rate·t). That
//! is no MLP, but three named parameters in a formula, and ftheta trains it the same way: implement
//! `forward` and `visit_parameters`, and the optimizers, `named_parameters`, `zero_grad` and
//! checkpoints all work. The example fits it to noisy readings and prints the learned parameters
//! next to the true ones.
//!
//! Run it with `cargo run --release -p ftheta --example custom_module`.

use ftheta::nn::module::join_name;
use ftheta::prelude::*;

/// Newton's law of cooling: `T(t) = room + excess·e^(−rate·t)`, t in hours, T in °C.
pub struct Cooling {
    /// The room's temperature, where the coffee ends up.
    pub room: Tensor,
    /// How much hotter than the room the coffee starts.
    pub excess: Tensor,
    /// How fast the difference shrinks, per hour.
    pub rate: Tensor,
}

impl Cooling {
    /// A model starting from these values. Each parameter is a tensor with `requires_grad`, so
    /// autograd records how the output depends on it.
    pub fn new(room: f32, excess: f32, rate: f32) -> Self {
        let p = |v: f32| Tensor::scalar(v).requires_grad();
        Cooling { room: p(room), excess: p(excess), rate: p(rate) }
    }
}

impl Module for Cooling {
    /// `t` is a `[N, 1]` batch of times; the scalar parameters broadcast over it.
    fn forward(&self, t: &Tensor) -> Tensor {
        // Any tensor ops may appear here: backward() differentiates whatever forward did.
        (t * &self.rate).neg().exp() * &self.excess + &self.room
    }

    /// The one method that tells ftheta what θ is. `parameters()`, `named_parameters()`,
    /// `num_parameters()`, `zero_grad()` and `set_frozen()` are all built on it. A model holding
    /// other modules would call `child.visit_parameters(&join_name(prefix, "child"), f)` for each,
    /// which is how `Sequential` produces names such as `layers.0.weight`.
    fn visit_parameters(&self, prefix: &str, f: &mut dyn FnMut(&str, &Tensor)) {
        f(&join_name(prefix, "room"), &self.room);
        f(&join_name(prefix, "excess"), &self.excess);
        f(&join_name(prefix, "rate"), &self.rate);
    }

    // `set_training` keeps its default (do nothing): this model behaves the same in training and
    // evaluation. A model with dropout would override it.
}

/// The coffee this example measures.
pub const TRUE_ROOM: f32 = 21.0;
/// 90 °C at t = 0.
pub const TRUE_EXCESS: f32 = 69.0;
/// Per hour: the difference halves every ln 2 / 3 h ≈ 14 minutes.
pub const TRUE_RATE: f32 = 3.0;

/// Fits the model to readings every 3 minutes for an hour; returns the learned
/// (room, excess, rate) and the final mean squared error in °C².
pub fn run(steps: usize, seed: u64) -> ([f32; 3], f32) {
    manual_seed(seed);
    // Synthetic data from the true law plus thermometer noise (standard deviation 0.5 °C).
    let t = Tensor::linspace(0.0, 1.0, 21).reshape(&[21, 1]);
    let clean = Cooling::new(TRUE_ROOM, TRUE_EXCESS, TRUE_RATE).forward(&t).detach();
    let readings = &clean + &Tensor::normal(&[21, 1], 0.0, 0.5);

    // A nonlinear model needs a sensible start, and the data give one: the coffee ends near the
    // last reading and starts near the first. The rate is a plain guess.
    let r = readings.to_vec();
    let model = Cooling::new(r[20], r[0] - r[20], 1.0);
    for (name, p) in model.named_parameters() {
        println!("parameter {name:<6} starts at {:7.3}", p.item());
    }
    // Adam rather than plain SGD: it scales each parameter's step by its own gradient history,
    // which matters here because the parameters live on very different scales (°C and 1/hour).
    let mut opt = Adam::new(model.parameters(), 0.05).expect("a valid learning rate");
    let mut loss = f32::NAN;
    for step in 0..steps {
        let l = mse(&model.forward(&t), &readings);
        opt.zero_grad();
        l.backward();
        opt.step();
        loss = l.item();
        if step % (steps / 4).max(1) == 0 {
            println!("update {step:>5}: MSE {loss:8.3} °C²");
        }
    }
    ([model.room.item(), model.excess.item(), model.rate.item()], loss)
}

fn main() {
    let (learned, loss) = run(2000, 0);
    println!("final MSE {loss:.3} °C² (the thermometer's noise alone gives about 0.25)");
    let truth = [TRUE_ROOM, TRUE_EXCESS, TRUE_RATE];
    for ((name, l), t) in ["room", "excess", "rate"].iter().zip(learned).zip(truth) {
        println!("{name:<6} learned {l:7.3}   true {t:7.3}");
    }
    // 21 noisy readings cannot pin the law down exactly: the small gaps are the noise's doing.
}
