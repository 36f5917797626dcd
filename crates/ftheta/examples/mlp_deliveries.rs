//! An MLP on the deliveries table: every feature (distance, hour, weekday, items), standardized on
//! the training part, mini-batches with Adam, validation MSE after each epoch.
//!
//! Run it with `cargo run --release -p ftheta --example mlp_deliveries`.

use ftheta::prelude::*;

/// Trains for `epochs` epochs; returns the validation MSE after each one.
pub fn run(epochs: usize, seed: u64) -> Result<Vec<f32>, Box<dyn std::error::Error>> {
    manual_seed(seed);
    let table = builtin::deliveries()?;
    let d = table.feature_names.len();
    let split = split_indices(table.n_rows, 0.8, 0.2, 0.0, seed)?;
    // Standardize with statistics of the training rows only, so validation stays unseen.
    let scaler = Standardizer::fit(&table.features, d, Some(&split.train))?;
    let mut x = table.features.clone();
    scaler.transform(&mut x)?;
    let rows = |idx: &[usize]| -> (Tensor, Tensor) {
        let xs: Vec<f32> = idx.iter().flat_map(|&i| x[i * d..(i + 1) * d].iter().map(|&v| v as f32)).collect();
        let ts: Vec<f32> = idx.iter().map(|&i| table.targets[i] as f32).collect();
        (Tensor::from_vec(xs, &[idx.len(), d]), Tensor::from_vec(ts, &[idx.len(), 1]))
    };
    let (xt, yt) = rows(&split.train);
    let (xv, yv) = rows(&split.validation);
    let train = InMemoryDataset::from_tensors(&xt, &yt)?;
    let mut loader = DataLoader::new(train, 64)?.shuffled(seed);

    let model: Model = "mlp:32,16".parse::<ModelSpec>()?.build(d, 1, Init::PyTorch)?;
    let mut opt = Adam::new(model.parameters(), 3e-3)?;
    let mut history = Vec::new();
    for epoch in 0..epochs {
        for (xb, yb) in &mut loader {
            let loss = mse(&model.forward(&xb), &yb);
            opt.zero_grad();
            loss.backward();
            opt.step();
        }
        let val = no_grad(|| mse(&model.forward(&xv), &yv).item());
        println!("epoch {epoch}: validation MSE {val:.3} (minutes²)");
        history.push(val);
    }
    Ok(history)
}

fn main() {
    if let Err(e) = run(20, 0) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}
