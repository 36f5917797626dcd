//! Saving a trained model and loading it back, step by step.
//!
//! Trains a small MLP on the deliveries table, saves it with `Checkpoint::from_module` plus
//! metadata (the model spec and the input standardization, without which the weights are useless),
//! builds a fresh model from that metadata, loads the weights into it, and checks the predictions
//! are identical. Then it shows the error you get when the file does not fit the model.
//!
//! Run it with `cargo run --release -p ftheta --example save_load`.

use std::error::Error;
use std::path::{Path, PathBuf};

use ftheta::nn::Checkpoint;
use ftheta::prelude::*;

/// What the example found, for the tests.
pub struct Outcome {
    /// Predictions of the trained model on the first three orders.
    pub trained: Vec<f32>,
    /// Predictions of a freshly built model of the same spec, before loading.
    pub fresh: Vec<f32>,
    /// Predictions of that model after loading the file.
    pub loaded: Vec<f32>,
    /// The error (as `Display` prints it) when loading into a model of another shape.
    pub mismatch: String,
}

/// The folder the checkpoint is written to; it is removed at the end.
pub fn temp_folder() -> PathBuf {
    std::env::temp_dir().join(format!("ftheta-save-load-{}", std::process::id()))
}

/// Runs the whole example with `epochs` epochs of training, cleaning up its folder even on error.
pub fn run(epochs: usize) -> Result<Outcome, Box<dyn Error>> {
    let dir = temp_folder();
    std::fs::create_dir_all(&dir)?;
    let result = save_and_load(&dir.join("model.safetensors"), epochs);
    std::fs::remove_dir_all(&dir)?;
    result
}

/// A comma-separated list, the form the metadata (string to string) can hold.
fn join(v: &[f64]) -> String {
    v.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",")
}

fn save_and_load(path: &Path, epochs: usize) -> Result<Outcome, Box<dyn Error>> {
    manual_seed(0);
    let table = builtin::deliveries()?;
    let d = table.feature_names.len();
    let rows = table.n_rows;
    let raw = Tensor::from_vec(table.features.iter().map(|&v| v as f32).collect(), &[rows, d]);
    let y = Tensor::from_vec(table.targets.iter().map(|&v| v as f32).collect(), &[rows, 1]);
    // The model only ever sees standardized inputs, so the mean and std are part of the model:
    // a file without them would give wrong predictions on raw data, silently.
    let scaler = Standardizer::fit(&table.features, d, None)?;
    let x = scaler.transform_tensor(&raw)?;

    // 1. Build and train briefly (a few epochs of mini-batches with Adam).
    let spec: ModelSpec = "mlp:16:tanh".parse()?;
    let model = spec.build(d, 1, Init::PyTorch)?;
    let mut opt = Adam::new(model.parameters(), 1e-2)?;
    let mut loader = DataLoader::new(InMemoryDataset::from_tensors(&x, &y)?, 256)?.shuffled(0);
    for _ in 0..epochs {
        for (xb, yb) in &mut loader {
            let loss = mse(&model.forward(&xb), &yb);
            opt.zero_grad();
            loss.backward();
            opt.step();
        }
    }
    let new_orders = raw.narrow(0, 0, 3); // three orders, raw as they would arrive
    let new_x = scaler.transform_tensor(&new_orders)?;
    let trained = no_grad(|| model.forward(&new_x).to_vec());
    println!("trained {spec} on {rows} orders for {epochs} epochs");
    println!("predictions for the first 3 orders: {trained:.2?} minutes (actual {:.2?})", &table.targets[..3]);

    // 2. Save. The file (safetensors) holds the parameters under PyTorch's state_dict names,
    //    layers.N.weight and layers.N.bias with N the position in the chain (layer 1 is the tanh,
    //    which has none), plus string metadata: here what is needed to rebuild model and inputs.
    //    In PyTorch the same file loads with
    //        model.load_state_dict(safetensors.torch.load_file("model.safetensors"))
    //    into a module whose `self.layers` is the same `nn.Sequential`, and
    //    `safetensors.safe_open(path, "pt").metadata()` reads the metadata.
    Checkpoint::from_module(&model)
        .with_meta("spec", spec.to_string())
        .with_meta("inputs", d.to_string())
        .with_meta("mean", join(&scaler.mean))
        .with_meta("std", join(&scaler.std))
        .save(path)?;
    let names: Vec<String> =
        model.named_parameters().into_iter().map(|(n, t)| format!("{n} {:?}", t.shape())).collect();
    println!("saved {} ({} bytes): {}", path.display(), std::fs::metadata(path)?.len(), names.join(", "));

    // 3. Load, as a separate program would: everything comes from the file.
    let ckpt = Checkpoint::load(path)?;
    let meta = |key: &str| ckpt.metadata.get(key).ok_or(format!("the checkpoint has no '{key}' metadata"));
    let floats = |key: &str| -> Result<Vec<f64>, Box<dyn Error>> {
        Ok(meta(key)?.split(',').map(|v| v.parse()).collect::<Result<_, _>>()?)
    };
    let scaler2 = Standardizer { mean: floats("mean")?, std: floats("std")? };
    // A fresh model starts from new random weights (the generator has moved on since the first).
    let fresh_model = meta("spec")?.parse::<ModelSpec>()?.build(meta("inputs")?.parse()?, 1, Init::PyTorch)?;
    let new_x = scaler2.transform_tensor(&new_orders)?; // standardized as in training
    let predict = |m: &Model| no_grad(|| m.forward(&new_x).to_vec());
    let fresh = predict(&fresh_model);
    println!("fresh model, before loading:  {fresh:.2?}");
    // load_into checks every name and shape first and changes nothing unless all fit. The path is
    // only used to name the file in an error message.
    ckpt.load_into(&fresh_model, path)?;
    let loaded = predict(&fresh_model);
    println!("fresh model, after loading:   {loaded:.2?}");
    println!("identical to the trained model: {}", loaded == trained);

    // 4. The file does not fit a model of another shape: a clear error, and the model untouched.
    let other = "mlp:8:tanh".parse::<ModelSpec>()?.build(d, 1, Init::PyTorch)?;
    let mismatch = match ckpt.load_into(&other, path) {
        Ok(()) => String::from("(no error)"),
        Err(e) => e.to_string(),
    };
    println!("loading into mlp:8:tanh fails: {mismatch}");
    Ok(Outcome { trained, fresh, loaded, mismatch })
}

fn main() {
    if let Err(e) = run(10) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
    println!("removed {}", temp_folder().display());
}
