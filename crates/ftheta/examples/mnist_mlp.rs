//! A 784-256-128-10 MLP on MNIST with Adam.
//!
//! `cargo run --release -p ftheta --example mnist_mlp -- [MNIST_DIR] [EPOCHS] [LIMIT]`
//! reads the IDX files (plain or .gz) from MNIST_DIR (default `../shared/data/mnist`); LIMIT keeps
//! only the first LIMIT training images (for a quick look).

use ftheta::prelude::*;

/// Trains on at most `limit` training images for `epochs` epochs; returns the test accuracy.
pub fn run(dir: &str, epochs: usize, limit: Option<usize>) -> Result<f64, Box<dyn std::error::Error>> {
    manual_seed(0);
    let mnist = read_mnist_dir(dir)?;
    let mut train = mnist.train.into_dataset()?;
    if let Some(n) = limit {
        let keep: Vec<usize> = (0..n.min(train.len())).collect();
        train = train.subset(&keep)?;
    }
    let (xt, yt) = (mnist.test.images_tensor(), mnist.test.labels_tensor());
    let mut loader = DataLoader::new(train, 128)?.shuffled(0);
    let model = "mlp:256,128".parse::<ModelSpec>()?.build(784, 10, Init::PyTorch)?;
    let mut opt = Adam::new(model.parameters(), 1e-3)?;
    let mut accuracy = 0.0;
    for epoch in 0..epochs {
        for (x, y) in &mut loader {
            let loss = cross_entropy(&model.forward(&x), &y);
            opt.zero_grad();
            loss.backward();
            opt.step();
        }
        let predicted = no_grad(|| model.forward(&xt).argmax(-1, false));
        accuracy = predicted.eq(&yt).mean().item() as f64;
        println!("epoch {epoch}: test accuracy {:.2}%", 100.0 * accuracy);
    }
    Ok(accuracy)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().map(String::as_str).unwrap_or("../shared/data/mnist");
    let epochs = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let limit = args.get(2).and_then(|s| s.parse().ok());
    if let Err(e) = run(dir, epochs, limit) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}
