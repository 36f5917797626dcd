//! XOR, the problem that stalled neural networks, and backpropagation, which solved it.
//!
//! 1. Rosenblatt's perceptron (1958) learns AND, but on XOR it never gets all four points right:
//!    one straight line cannot separate (0,1) and (1,0) from (0,0) and (1,1) (Minsky and Papert,
//!    1969).
//! 2. A network with a tanh hidden layer (2-2-1, then 2-4-1), trained by backpropagation
//!    (Rumelhart, Hinton and Williams, 1986), can solve it. It is written with raw tensors: weights
//!    that `requires_grad`, a forward pass, a loss, `backward()`, an update under `no_grad`, and
//!    `zero_grad`.
//!
//! Run it with `cargo run --release -p ftheta --example xor_backprop`.

use ftheta::prelude::*;

/// The four inputs and the two truth tables.
const INPUTS: [[f32; 2]; 4] = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]];
const AND: [f32; 4] = [0.0, 0.0, 0.0, 1.0];
const XOR: [f32; 4] = [0.0, 1.0, 1.0, 0.0];

/// Rosenblatt's rule for up to `epochs` passes over the four points. Returns the epoch after
/// which all four were right (`None` if that never happened) and the most ever right at once.
pub fn perceptron(targets: &[f32; 4], epochs: usize) -> (Option<usize>, usize) {
    // The perceptron's output is a hard step: 1 if w·x + b > 0, else 0. No gradient exists
    // (the step is flat almost everywhere), so it has its own rule instead of gradient descent.
    let predict = |w: &[f32; 2], b: f32, x: &[f32; 2]| if w[0] * x[0] + w[1] * x[1] + b > 0.0 { 1.0 } else { 0.0 };
    let (mut w, mut b) = ([0.0f32; 2], 0.0f32);
    let mut best = 0;
    for epoch in 1..=epochs {
        for (x, &t) in INPUTS.iter().zip(targets) {
            // The error is +1, 0 or -1: the line moves only after a mistake, towards the point.
            let err = t - predict(&w, b, x);
            w[0] += err * x[0];
            w[1] += err * x[1];
            b += err;
        }
        let correct = INPUTS.iter().zip(targets).filter(|&(x, &t)| predict(&w, b, x) == t).count();
        best = best.max(correct);
        if correct == 4 {
            return (Some(epoch), 4);
        }
    }
    (None, best)
}

/// Trains a 2-`hidden`-1 network on XOR by full-batch gradient descent; returns the network's
/// outputs (probabilities of class 1) for the four inputs and the final loss.
pub fn backprop(hidden: usize, steps: usize, lr: f64, seed: u64) -> (Vec<f32>, f32) {
    manual_seed(seed); // the same random start every run
    let x = Tensor::from_vec(INPUTS.concat(), &[4, 2]);
    let t = Tensor::from_vec(XOR.to_vec(), &[4, 1]);

    // The parameters θ. Random starts matter: if every hidden unit started equal, they would get
    // equal gradients and stay equal forever: the layer would act as a single unit.
    let w1 = Tensor::uniform(&[2, hidden], -1.0, 1.0).requires_grad();
    let b1 = Tensor::zeros(&[hidden]).requires_grad();
    let w2 = Tensor::uniform(&[hidden, 1], -1.0, 1.0).requires_grad();
    let b2 = Tensor::zeros(&[1]).requires_grad();
    let params = [&w1, &b1, &w2, &b2];

    let mut loss = f32::NAN;
    for step in 0..steps {
        // Forward: the hidden layer bends the input space (tanh), so the output layer's single
        // straight line can separate what no line could separate before.
        let h = (x.matmul(&w1) + &b1).tanh();
        let logits = h.matmul(&w2) + &b2;
        // Binary cross-entropy on the logits: the sigmoid is folded into the loss, which keeps it
        // stable and keeps gradients from vanishing when an output is confidently wrong.
        let l = bce_with_logits(&logits, &t);
        // Backward: autograd applies the chain rule through every op above and stores
        // dl/dθ in each parameter's .grad().
        l.backward();
        // Update: a step against the gradient. Under no_grad the step itself is not recorded as
        // part of the next step's computation graph.
        no_grad(|| params.iter().for_each(|p| p.add_scaled_(&p.grad().unwrap(), -lr)));
        // Gradients add up across backward() calls, so clear them before the next step.
        params.iter().for_each(|p| p.zero_grad());
        loss = l.item();
        if step % (steps / 4).max(1) == 0 {
            println!("  update {step:>5}: loss {loss:.4}");
        }
    }
    // Predictions need no graph: no_grad saves the memory and time of recording one.
    let out = no_grad(|| ((x.matmul(&w1) + &b1).tanh().matmul(&w2) + &b2).sigmoid().to_vec());
    (out, loss)
}

/// How many of the four outputs fall on the right side of 0.5.
pub fn right(out: &[f32]) -> usize {
    out.iter().zip(XOR).filter(|&(y, t)| (*y > 0.5) == (t > 0.5)).count()
}

fn main() {
    for (name, targets) in [("AND", &AND), ("XOR", &XOR)] {
        match perceptron(targets, 100) {
            (Some(epoch), _) => println!("perceptron on {name}: 4/4 right after {epoch} epochs"),
            (None, best) => println!("perceptron on {name}: at best {best}/4 right in 100 epochs, never 4/4"),
        }
    }
    // Gradient descent only ever walks downhill, so where it ends depends on where it starts. From
    // this start one of the two hidden units saturates and the 2-2-1 network drifts onto a nearly
    // flat region: two points right, 0.5 for the other two (11 of the seeds 0 to 19 do solve XOR).
    // With four hidden units there are many more ways down, and this start solves it.
    println!("2-2-1 tanh network on XOR, seed 0:");
    let (out, loss) = backprop(2, 2000, 0.5, 0);
    let verdict = if right(&out) == 4 { "solved" } else { "stuck on a plateau" };
    println!("  {verdict}: {}/4 right, loss {loss:.4}", right(&out));
    println!("2-4-1 tanh network on XOR, seed 0:");
    let (out, loss) = backprop(4, 2000, 0.5, 0);
    for (x, (y, t)) in INPUTS.iter().zip(out.iter().zip(XOR)) {
        println!("  ({}, {}) -> {y:.3}  (target {t})", x[0], x[1]);
    }
    println!("backpropagation: {}/4 right, final loss {loss:.4}", right(&out));
}
