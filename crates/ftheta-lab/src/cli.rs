//! Command-line arguments for `ftheta lab [EXPERIMENT] …`: a clap [`Args`] struct that the
//! `ftheta` binary flattens into its `lab` subcommand, and [`run`] to execute it.

use std::path::PathBuf;

use anyhow::Result;

use crate::{run_lab, LabConfig, Summary, EXPERIMENTS};

/// Runs the lecture's experiments and writes an HTML report with figures and results.json.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Run only this experiment (features, landscape, learning_rate, batch_size, piecewise, deep,
    /// perceptron, graph, next_token); all of them when left out.
    pub experiment: Option<String>,
    /// The report folder (created if missing; the lab only replaces files it writes itself).
    #[arg(long, default_value = "lab")]
    pub out: PathBuf,
    /// Small data and few updates: a first look in seconds.
    #[arg(long)]
    pub quick: bool,
    /// Seed for splits, shuffles and initializations.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Learning rates for `learning_rate`, comma-separated (default 1e-4,0.04,0.085,0.1).
    #[arg(long, value_delimiter = ',')]
    pub rates: Option<Vec<f64>>,
    /// Mini-batch sizes for `batch_size` besides the full batch, comma-separated (default 32,5,1).
    #[arg(long, value_delimiter = ',')]
    pub batch_sizes: Option<Vec<usize>>,
    /// Numbers of units H for `piecewise`, comma-separated (default 1,3,10,50).
    #[arg(long, value_delimiter = ',')]
    pub units: Option<Vec<usize>>,
}

impl Args {
    /// The lab configuration these arguments describe.
    pub fn config(&self) -> LabConfig {
        LabConfig {
            out_dir: self.out.clone(),
            quick: self.quick,
            seed: self.seed,
            rates: self.rates.clone(),
            batch_sizes: self.batch_sizes.clone(),
            units: self.units.clone(),
        }
    }
}

/// Runs the lab as the arguments say and prints the summary to stdout.
pub fn run(args: &Args) -> Result<Summary> {
    if let Some(r) = &args.rates {
        if let Some(bad) = r.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            anyhow::bail!("--rates: {bad} is not a positive learning rate");
        }
    }
    if args.batch_sizes.as_ref().is_some_and(|b| b.contains(&0)) || args.units.as_ref().is_some_and(|u| u.contains(&0))
    {
        anyhow::bail!("--batch-sizes and --units must be at least 1");
    }
    let summary = run_lab(&args.config(), args.experiment.as_deref())?;
    println!("{summary}");
    Ok(summary)
}

/// The experiment names, for help texts.
pub fn experiment_names() -> Vec<&'static str> {
    EXPERIMENTS.iter().map(|(n, _)| *n).collect()
}
