//! Data-parallel training written out by hand: a 10-32-16-3 MLP on a seeded synthetic
//! classification problem, with the global batches cut among the ranks.
//!
//! ```sh
//! cargo build --release -p ftheta-dist --features mpi --example data_parallel
//! target/release/examples/data_parallel --updates 50                 # one process
//! mpirun -n 2 target/release/examples/data_parallel --updates 50     # two ranks, same result
//! ```
//!
//! Flags: `--updates N`, `--batch B` (rows of a global batch), `--seed S`, `--optimizer sgd|adam`,
//! `--save FILE` (rank 0 writes the final weights as safetensors), `--pid-dir DIR` (each rank
//! writes `DIR/rank-R.pid` after its first update; the tests kill one), `--mismatch` (rank 1
//! builds a wider model, to see the error), `--batchnorm` (10-32-3 with batch normalization, whose
//! running statistics are kept equal on every rank).

use std::error::Error;
use std::path::PathBuf;

use ftheta_core::Tensor;
use ftheta_data::{DataLoader, Dataset, InMemoryDataset};
use ftheta_dist::DataParallel;
use ftheta_nn::{
    Activation, Adam, BatchNorm1d, Checkpoint, Init, Linear, Loss, ModelSpec, Module, Optimizer, Sequential, Sgd,
};

struct Args {
    updates: u64,
    batch: usize,
    seed: u64,
    adam: bool,
    save: Option<PathBuf>,
    pid_dir: Option<PathBuf>,
    mismatch: bool,
    batchnorm: bool,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        updates: 30,
        batch: 25,
        seed: 0,
        adam: true,
        save: None,
        pid_dir: None,
        mismatch: false,
        batchnorm: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--updates" => a.updates = value()?.parse().map_err(|e| format!("--updates: {e}"))?,
            "--batch" => a.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--seed" => a.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--optimizer" => a.adam = value()? == "adam",
            "--save" => a.save = Some(value()?.into()),
            "--pid-dir" => a.pid_dir = Some(value()?.into()),
            "--mismatch" => a.mismatch = true,
            "--batchnorm" => a.batchnorm = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

/// 600 rows of 10 features; the class is the largest of three fixed random projections.
fn data(seed: u64) -> InMemoryDataset {
    ftheta_core::manual_seed(seed ^ 0x5eed);
    let (n, d) = (600, 10);
    let x = Tensor::randn(&[n, d]).to_vec();
    let w = Tensor::randn(&[d, 3]).to_vec();
    let classes = (0..n)
        .map(|i| {
            let score = |c: usize| (0..d).map(|j| x[i * d + j] * w[j * 3 + c]).sum::<f32>();
            (0..3).max_by(|&a, &b| score(a).total_cmp(&score(b))).unwrap()
        })
        .collect();
    InMemoryDataset::with_classes(x, d, classes).expect("consistent sizes")
}

fn run(a: &Args) -> Result<(), Box<dyn Error>> {
    let comm = ftheta_dist::init()?;
    if comm.size() > 1 {
        println!("rank {} of {} on {}", comm.rank(), comm.size(), comm.host());
    }
    let train = data(a.seed);
    let wide = a.mismatch && comm.rank() == 1;
    // Each rank seeds differently on purpose: rank 0's initial weights reach all of them.
    ftheta_core::manual_seed(a.seed + 1000 * comm.rank() as u64);
    let hidden = if wide { vec![33, 16] } else { vec![32, 16] };
    let model: Box<dyn Module> = if a.batchnorm {
        Box::new(
            Sequential::new()
                .add(Linear::new(10, 32))
                .add(BatchNorm1d::new(32))
                .add(Activation::Relu)
                .add(Linear::new(32, 3)),
        )
    } else {
        Box::new(ModelSpec::Mlp { hidden, activation: Activation::Relu }.build(10, 3, Init::PyTorch)?)
    };
    let mut dp = DataParallel::new(&*comm, &*model)?;
    let mut opt: Box<dyn Optimizer> = if a.adam {
        Box::new(Adam::new(model.parameters(), 0.01)?)
    } else {
        Box::new(Sgd::new(model.parameters(), 0.1)?)
    };
    let loader = DataLoader::new(&train, a.batch)?.shuffled(a.seed);
    let (mut update, mut epoch) = (0, 0);
    'train: loop {
        let order = loader.order(epoch);
        for batch in order.chunks(a.batch) {
            if update == a.updates {
                break 'train;
            }
            let mine = dp.shard(batch);
            opt.zero_grad();
            let local = if mine.is_empty() {
                0.0
            } else {
                let (x, y) = train.get_batch(mine);
                let loss = Loss::CrossEntropy.compute(&model.forward(&x), &y);
                loss.backward();
                loss.item() as f64
            };
            let loss = dp.sync_gradients(mine.len(), batch.len(), local);
            if !loss.is_finite() {
                return Err(format!("update {}: the loss is {loss}", update + 1).into());
            }
            opt.step();
            update += 1;
            if update == 1 {
                if let Some(dir) = &a.pid_dir {
                    let path = dir.join(format!("rank-{}.pid", comm.rank()));
                    let tmp = path.with_extension("tmp");
                    std::fs::write(&tmp, std::process::id().to_string())?;
                    std::fs::rename(tmp, path)?;
                }
            }
            if comm.is_root() && (update % 10 == 0 || update == a.updates) {
                println!("update {update} loss {loss:.6}");
            }
        }
        epoch += 1;
    }
    dp.check_in_sync()?;
    if let (Some(path), true) = (&a.save, comm.is_root()) {
        Checkpoint::from_module(&*model).save(path)?;
    }
    if comm.is_root() {
        println!("{} ranks, {} bytes summed per update", comm.size(), dp.bytes_per_update());
    }
    Ok(())
}

fn main() -> std::process::ExitCode {
    let a = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("data_parallel: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match run(&a) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("data_parallel: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
