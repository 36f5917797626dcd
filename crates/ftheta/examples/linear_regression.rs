//! Linear regression from scratch with autograd: delivery time against distance.
//!
//! The lecture's three steps, written out by hand:
//! 1. a model: y = w·distance + b, starting from w = 1.0, b = 15.0;
//! 2. a loss: the mean squared error on the training data;
//! 3. optimization: gradient descent, the gradients coming from `backward()`.
//!
//! Run it with `cargo run --release -p ftheta --example linear_regression`.

use ftheta::prelude::*;

/// Trains for `updates` steps and returns (w, b, final loss).
pub fn run(updates: usize, lr: f64) -> Result<(f32, f32, f32), DataError> {
    let table = builtin::deliveries()?;
    let col = table.feature_names.iter().position(|n| n == "distance").expect("the table has a distance column");
    let d = table.feature_names.len();
    let distance: Vec<f32> = (0..table.n_rows).map(|i| table.features[i * d + col] as f32).collect();
    let minutes: Vec<f32> = table.targets.iter().map(|&t| t as f32).collect();
    let n = distance.len();
    let x = Tensor::from_vec(distance, &[n, 1]);
    let t = Tensor::from_vec(minutes, &[n, 1]);

    // 1. the model's parameters, where the lecture starts
    let w = Tensor::from_vec(vec![1.0], &[1, 1]).requires_grad();
    let b = Tensor::scalar(15.0).requires_grad();
    let mut loss = f32::NAN;
    for step in 0..updates {
        // 2. the loss of the current candidate
        let y = x.matmul(&w) + &b;
        let l = (&y - &t).pow(2.0).mean();
        // 3. one step downhill
        l.backward();
        no_grad(|| {
            w.add_scaled_(&w.grad().unwrap(), -lr);
            b.add_scaled_(&b.grad().unwrap(), -lr);
        });
        w.zero_grad();
        b.zero_grad();
        loss = l.item();
        if step % (updates / 5).max(1) == 0 {
            println!("update {step:>5}: loss {loss:9.3}  w {:7.3}  b {:7.3}", w.item(), b.item());
        }
    }
    Ok((w.item(), b.item(), loss))
}

fn main() {
    match run(5000, 0.02) {
        Ok((w, b, loss)) => println!("y = {w:.3}·distance + {b:.3} minutes, training MSE {loss:.3}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
