//! # ftheta-lab
//!
//! The lecture run end to end on built-in real data: each experiment trains or solves something
//! with ftheta, draws its figures (PNG and SVG) and returns its numbers. [`run_lab`] writes them
//! into a report folder: `index.html` (one section per experiment, opens offline),
//! `results.json` (every number the page, the terminal summary and the tests show) and the figures.
//!
//! ```no_run
//! let cfg = ftheta_lab::LabConfig::new("lab");
//! let summary = ftheta_lab::run_lab(&cfg, None)?;
//! println!("{summary}");
//! # Ok::<(), anyhow::Error>(())
//! ```

#![warn(missing_docs)]

pub mod cli;
pub mod data;
pub mod experiments;
pub mod fit;
pub mod linalg;
pub mod lm;
pub mod names;
pub mod palette;
pub mod plot;
pub mod report;

use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use serde_json::json;

pub use report::{Figure, Section, Table};

/// What to run and where to write it.
#[derive(Clone, Debug)]
pub struct LabConfig {
    /// The report folder (created when missing; only files the lab writes are replaced).
    pub out_dir: PathBuf,
    /// Small data, few updates: for tests and a first look (seconds instead of a minute).
    pub quick: bool,
    /// Seeds every split, shuffle and initialization.
    pub seed: u64,
    /// Learning rates for `learning_rate` (`None`: the lecture's five).
    pub rates: Option<Vec<f64>>,
    /// Batch sizes for `batch_size` (`None`: 32, 5 and 1 besides the full batch).
    pub batch_sizes: Option<Vec<usize>>,
    /// Numbers of units H for `piecewise` (`None`: 1, 3, 10, 50).
    pub units: Option<Vec<usize>>,
}

impl LabConfig {
    /// The full run into `out_dir` with seed 42 and the lecture's settings.
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        LabConfig { out_dir: out_dir.into(), quick: false, seed: 42, rates: None, batch_sizes: None, units: None }
    }

    /// The small run (what the tests use).
    pub fn quick(out_dir: impl Into<PathBuf>) -> Self {
        LabConfig { quick: true, ..Self::new(out_dir) }
    }

    /// `full` in a full run, `quick` in a quick one.
    pub fn pick<T>(&self, full: T, quick: T) -> T {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// An experiment: its name (the CLI's `EXPERIMENT`) and the function that runs it.
pub type Experiment = (&'static str, fn(&LabConfig) -> Result<Section>);

/// Every experiment, in the lecture's order.
pub const EXPERIMENTS: &[Experiment] = &[
    ("features", experiments::features::run_features),
    ("landscape", experiments::landscape::run_landscape),
    ("learning_rate", experiments::learning_rate::run_learning_rate),
    ("batch_size", experiments::batch_size::run_batch_size),
    ("piecewise", experiments::piecewise::run_piecewise),
    ("deep", experiments::deep::run_deep),
    ("perceptron", experiments::perceptron::run_perceptron),
    ("graph", experiments::graph::run_graph),
    ("next_token", experiments::next_token::run_next_token),
];

/// What a run did: one headline per experiment, where the report is, how long it took.
#[derive(Clone, Debug)]
pub struct Summary {
    /// The report folder.
    pub out_dir: PathBuf,
    /// `(experiment, headline, seconds)` in the order run.
    pub experiments: Vec<(String, String, f64)>,
    /// Wall-clock seconds for the whole run.
    pub seconds: f64,
    /// The numbers written to `results.json`.
    pub results: serde_json::Value,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, headline, secs) in &self.experiments {
            writeln!(f, "{name:>13}  {headline}  ({secs:.1} s)")?;
        }
        write!(
            f,
            "report: {} (open index.html; numbers in results.json), {:.1} s in all",
            self.out_dir.display(),
            self.seconds
        )
    }
}

/// Runs every experiment (or only the one named `only`), writes the report folder and returns the
/// summary. A progress line per experiment goes to stderr.
pub fn run_lab(cfg: &LabConfig, only: Option<&str>) -> Result<Summary> {
    let chosen: Vec<&Experiment> = match only {
        None | Some("all") => EXPERIMENTS.iter().collect(),
        // `learning-rate` and `learning_rate` both name an experiment, as command names go.
        Some(name) => match EXPERIMENTS.iter().find(|(n, _)| *n == name.replace('-', "_")) {
            Some(e) => vec![e],
            None => {
                let names: Vec<&str> = EXPERIMENTS.iter().map(|(n, _)| *n).collect();
                bail!("no experiment '{name}'; choose one of {} (or none for all)", names.join(", "))
            }
        },
    };
    report::prepare_dir(&cfg.out_dir)?;
    let start = Instant::now();
    let mut sections = Vec::new();
    let mut timings = Vec::new();
    for (i, (name, run)) in chosen.iter().enumerate() {
        eprintln!("[{}/{}] {name} …", i + 1, chosen.len());
        let t = Instant::now();
        let section = run(cfg).map_err(|e| e.context(format!("experiment '{name}'")))?;
        let secs = t.elapsed().as_secs_f64();
        eprintln!("[{}/{}] {name}: {} ({secs:.1} s)", i + 1, chosen.len(), section.headline);
        timings.push(((*name).to_string(), section.headline.clone(), secs));
        sections.push(section);
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut experiments = serde_json::Map::new();
    for s in &sections {
        experiments.insert(s.name.to_string(), s.results.clone());
    }
    let results = json!({
        "config": { "quick": cfg.quick, "seed": cfg.seed },
        "seconds": seconds,
        "experiments": experiments,
    });
    report::write_report(&cfg.out_dir, &sections, &results)?;
    Ok(Summary { out_dir: cfg.out_dir.clone(), experiments: timings, seconds, results })
}
