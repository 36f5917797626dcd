//! `ftheta train`, `ftheta eval` and `ftheta predict`: flags in, printing out. Runs are built,
//! trained and read back by `ftheta_train` ([`Run`], [`SavedRun`]).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use ftheta_train::run::RunDir;
use ftheta_train::{Budget, EvalEvery, FitOptions, Observer, Part, Run, RunRequest, SavedRun, TrainError};

use crate::args::TrainArgs;

/// The request the flags make (defaults as [`RunRequest::new`]'s, which the flags' defaults equal).
pub fn request_from(a: &TrainArgs) -> RunRequest {
    let defaults = RunRequest::new(a.data.clone().unwrap_or_default());
    RunRequest {
        target: a.target.clone(),
        features: a.features.clone(),
        drop: a.drop.clone(),
        categorical: a.categorical.clone(),
        split: a.split,
        standardize: a.standardize,
        model: a.model.clone(),
        init: a.init,
        loss: a.loss,
        optimizer: a.optimizer,
        lr: a.lr,
        batch_size: a.batch_size.0,
        budget: budget_flag(a).unwrap_or(defaults.budget),
        shuffle: !a.no_shuffle,
        seed: a.seed,
        eval_every: a.eval_every.map_or(EvalEvery::Epoch, EvalEvery::Updates),
        patience: a.patience,
        max_grad_norm: a.max_grad_norm,
        ..defaults
    }
}

/// `--epochs` or `--updates`, when given.
fn budget_flag(a: &TrainArgs) -> Option<Budget> {
    match (a.epochs, a.updates) {
        (_, Some(u)) => Some(Budget::Updates(u)),
        (Some(e), None) => Some(Budget::Epochs(e)),
        (None, None) => None,
    }
}

/// A resumed run keeps the settings in its config.json (changing them halfway would make a run
/// that no single command describes); only its length may change. Any other flag is refused
/// rather than silently ignored.
fn refuse_changes_on_resume(a: &TrainArgs) -> Result<()> {
    const ALLOWED: [&str; 6] = ["resume", "epochs", "updates", "quiet", "json", "interrupt_after"];
    let changed: Vec<String> = a
        .given
        .iter()
        .filter(|id| !ALLOWED.contains(&id.as_str()))
        .map(|id| format!("--{}", id.replace('_', "-")))
        .collect();
    if !changed.is_empty() {
        anyhow::bail!(
            "{}: a resumed run keeps the settings in its config.json; only --epochs or --updates may be given, to \
             train it longer",
            changed.join(", ")
        );
    }
    Ok(())
}

/// Set by Ctrl-C (SIGINT): training stops after the update under way and saves a checkpoint.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The exit code of a run stopped by Ctrl-C, as a shell reports a process killed by SIGINT.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Tells the trainer to stop once Ctrl-C was pressed.
struct CtrlC;

impl Observer for CtrlC {
    fn interrupted(&self) -> bool {
        INTERRUPTED.load(Ordering::Relaxed)
    }
}

/// Ctrl-C sets [`INTERRUPTED`]; a second one exits at once.
fn catch_ctrl_c() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::Relaxed) {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    });
}

/// A path as a shell argument: quoted when it holds anything but plain characters.
fn shell_quote(p: &Path) -> String {
    let s = p.display().to_string();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:@,".contains(c)) {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `ftheta train`. Ctrl-C stops it after the update under way, saves a checkpoint, prints the
/// command that resumes and exits with code 130.
pub fn train(a: &TrainArgs) -> Result<()> {
    catch_ctrl_c();
    let run = match &a.resume {
        Some(d) => {
            refuse_changes_on_resume(a)?;
            Run::resume(d, budget_flag(a))?
        }
        None => Run::create(&request_from(a), a.out.as_deref())?,
    };
    if let Some(d) = run.dir() {
        hint_dashboard(d, a.quiet);
    }
    let options = FitOptions { progress: !a.quiet, interrupt_after: a.interrupt_after };
    let summary = match run.fit(&mut CtrlC, &options) {
        Ok(s) => s,
        Err(e) => {
            if let TrainError::Interrupted { update } = e.root() {
                let what = match run.dir() {
                    Some(d) => format!(
                        "interrupted at update {update}; the checkpoint is saved. Continue with:\n  ftheta train --resume {}",
                        shell_quote(d.path())
                    ),
                    None => format!(
                        "interrupted at update {update} (nothing saved: train with --out DIR to be able to resume)"
                    ),
                };
                return Err(anyhow::Error::new(TrainError::Interrupted { update: *update }).context(what));
            }
            return Err(e.into());
        }
    };
    if a.json {
        println!("{}", serde_json::to_string(&summary.to_json())?);
    } else {
        print!("{}", summary.to_table());
    }
    Ok(())
}

/// On a terminal, says how to watch the run's curves grow in the browser.
fn hint_dashboard(d: &RunDir, quiet: bool) {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return;
    }
    let runs = d.path().parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let flag = if runs == Path::new("runs") { String::new() } else { format!(" --runs {}", shell_quote(runs)) };
    eprintln!("watch it live: ftheta serve{flag}");
}

/// `ftheta eval`: the saved best model's scores on a part of its own data (default: the test
/// part) or on every row of another SOURCE (an MNIST folder: its test part); says which rows.
pub fn eval(run: &Path, data: Option<&str>, part: Option<Part>, as_json: bool) -> Result<()> {
    let source = match data {
        Some(d) => d.to_string(),
        None => RunDir::open(run).map_err(|e| e.context("--run"))?.read_config()?.data.source,
    };
    let saved = SavedRun::open(run, &source)?;
    let evaluation = match part {
        Some(p) => saved.evaluate_part(p)?,
        None => saved.evaluate()?,
    };
    if as_json {
        println!("{}", evaluation.to_json());
    } else {
        print!("{}", evaluation.to_table(&source));
    }
    Ok(())
}

/// `ftheta predict`: one prediction per row of SOURCE (with `proba`, every class's probability
/// too), as CSV on stdout or in FILE (written atomically). A reader that stops early (`| head -1`)
/// ends it quietly, as command-line tools do.
pub fn predict(run: &Path, data: &str, out: Option<&PathBuf>, proba: bool) -> Result<()> {
    let saved = SavedRun::open(run, data)?;
    let text = if proba { saved.predict_proba()? } else { saved.predict()? }.to_csv();
    match out {
        Some(path) => ftheta_nn::checkpoint::write_atomic(path, text.as_bytes())
            .with_context(|| format!("--out {}", path.display()))?,
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other.context("writing the predictions to stdout")?,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        train: TrainArgs,
    }

    #[test]
    fn the_flags_defaults_are_the_librarys() {
        let cli = Cli::try_parse_from(["ftheta", "--data", "deliveries"]).unwrap();
        assert_eq!(request_from(&cli.train), RunRequest::new("deliveries"));
        let cli = Cli::try_parse_from(["ftheta", "--data", "xor", "--batch-size", "full", "--updates", "7"]).unwrap();
        let r = request_from(&cli.train);
        assert_eq!((r.batch_size, r.budget), (None, Budget::Updates(7)));
    }
}
