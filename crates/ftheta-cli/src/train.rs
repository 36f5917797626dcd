//! `ftheta train`, `ftheta eval` and `ftheta predict`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use ftheta_data::{Dataset, InMemoryDataset};
use ftheta_nn::{Init, Loss, Model, ModelSpec, Module};
use ftheta_train::memory::{available_memory, MemoryEstimate};
use ftheta_train::metrics::{evaluate, predicted_classes, Metrics};
use ftheta_train::progress::Progress;
use ftheta_train::run::{DataConfig, RunConfig, RunDir, RunState, RunStatus, RunWriter};
use ftheta_train::{Budget, EvalEvery, Observer, TrainConfig, TrainError, Trainer};
use serde_json::{json, Map, Value};

use crate::args::TrainArgs;
use crate::source::{prepare, rebuild, Prepared};

fn default_lr(spec: &ModelSpec, opt: ftheta_train::OptimizerKind) -> f64 {
    use ftheta_train::OptimizerKind::*;
    match (spec, opt) {
        (ModelSpec::Perceptron, _) => 1.0,
        (_, Sgd | Momentum) => 0.01,
        (_, Adam | Adamw) => 0.001,
    }
}

/// The run's config from the flags (data column choices, model, training settings).
fn config_from(a: &TrainArgs) -> RunConfig {
    let classification = matches!(a.loss, Some(Loss::CrossEntropy | Loss::Bce)) || a.model == ModelSpec::Perceptron;
    let data = DataConfig {
        source: a.data.clone().unwrap_or_default(),
        target: a.target.clone(),
        features: a.features.clone(),
        drop: a.drop.clone(),
        categorical: a.categorical.clone(),
        classification,
        split: a.split,
        standardize: a.standardize,
    };
    let train = TrainConfig {
        budget: budget_flag(a).unwrap_or(Budget::Epochs(10)),
        batch_size: a.batch_size.0,
        shuffle: !a.no_shuffle,
        seed: a.seed,
        lr: a.lr.unwrap_or_else(|| default_lr(&a.model, a.optimizer)),
        optimizer: a.optimizer,
        loss: a.loss.unwrap_or(Loss::Mse),
        eval_every: a.eval_every.map_or(EvalEvery::Epoch, EvalEvery::Updates),
        patience: a.patience,
        max_grad_norm: a.max_grad_norm,
    };
    RunConfig {
        spec: a.model.clone(),
        init: a.init,
        data,
        feature_names: Vec::new(),
        class_names: None,
        n_outputs: 1,
        standardizer: None,
        train,
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

fn build_model(cfg: &RunConfig) -> Result<Model> {
    let init = cfg.init.map_or(Init::PyTorch, |[w, b]| Init::Constant { w, b });
    ftheta_core::manual_seed(cfg.train.seed);
    cfg.spec.build(cfg.feature_names.len(), cfg.n_outputs, init).context("--model")
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

/// Fails at once when training would need more memory than the machine has available.
fn check_memory(cfg: &RunConfig, data: &Prepared, a: &TrainArgs) -> Result<()> {
    let (spec, Some(available)) = (&cfg.spec, available_memory()) else { return Ok(()) };
    if spec.num_parameters(cfg.feature_names.len(), cfg.n_outputs) > ftheta_nn::spec::MAX_PARAMETERS as u128 {
        return Ok(()); // refused with its size when built
    }
    let rows = data.train.len().max(1);
    let batch = cfg.train.batch_size.map_or(rows, |b| b.min(rows));
    let e = MemoryEstimate::new(spec, cfg.feature_names.len(), cfg.n_outputs, batch, cfg.train.optimizer);
    let flags = match (&a.resume, cfg.train.batch_size) {
        (Some(_), _) => format!("the run's model {} with batches of {batch} rows", cfg.spec),
        (None, Some(_)) => format!("--model {} with --batch-size {batch}", cfg.spec),
        (None, None) => format!("--model {} with --batch-size full ({batch} rows)", cfg.spec),
    };
    Ok(e.check(available, &flags)?)
}

/// `ftheta train`. Ctrl-C stops it after the update under way, saves a checkpoint, prints the
/// command that resumes and exits with code 130.
pub fn train(a: &TrainArgs) -> Result<()> {
    catch_ctrl_c();
    let (mut cfg, dir, fresh) = match &a.resume {
        Some(d) => {
            refuse_changes_on_resume(a)?;
            let dir = RunDir::open(d).context("--resume")?;
            let mut cfg = dir.read_config()?;
            if let Some(budget) = budget_flag(a) {
                // Checked before the run is marked running again, so a refused flag leaves it as it was.
                if let Some(state) = dir.read_state()? {
                    ftheta_train::check_budget(&state, budget)?;
                }
                cfg.train.budget = budget;
            }
            (cfg, Some(dir), false)
        }
        None => (config_from(a), None, true),
    };
    let data = prepare(&cfg.data, cfg.train.seed)?;
    if fresh {
        cfg.feature_names = data.feature_names.clone();
        cfg.class_names = data.class_names.clone();
        cfg.standardizer = data.standardizer.clone();
        let classes = data.class_names.is_some();
        if a.loss.is_none() && classes && cfg.spec != ModelSpec::Perceptron {
            cfg.train.loss = Loss::CrossEntropy;
        }
        cfg.n_outputs = if cfg.train.loss == Loss::CrossEntropy && cfg.spec != ModelSpec::Perceptron {
            data.train.n_classes().unwrap_or(1).max(data.class_names.as_ref().map_or(0, Vec::len)).max(2)
        } else {
            1
        };
        if cfg.train.loss == Loss::Bce && data.class_names.as_ref().is_some_and(|c| c.len() > 2) {
            anyhow::bail!(
                "--loss bce: the target has {} classes; use cross-entropy",
                data.class_names.as_ref().map_or(0, Vec::len)
            );
        }
    }
    check_memory(&cfg, &data, a)?;
    let model = build_model(&cfg)?;
    let dir = match (dir, &a.out) {
        (Some(d), _) => Some(d),
        (None, Some(out)) => {
            let d = RunDir::create(out).context("--out")?;
            d.write_config(&cfg)?;
            Some(d)
        }
        (None, None) => None,
    };
    if let Some(d) = &dir {
        d.write_status(&RunStatus::running())?;
        hint_dashboard(d, a.quiet);
    }
    let result = fit(&cfg, &model, &data, dir.as_ref(), a);
    if let Some(d) = &dir {
        record_outcome(d, &result, fresh)?;
    }
    if let Err(e) = &result {
        if let Some(TrainError::Interrupted { update }) = e.downcast_ref::<TrainError>() {
            let what = match &dir {
                Some(d) => format!(
                    "interrupted at update {update}; the checkpoint is saved. Continue with:\n  ftheta train --resume {}",
                    shell_quote(d.path())
                ),
                None => format!("interrupted at update {update} (nothing saved: train with --out DIR to be able to resume)"),
            };
            return Err(anyhow::Error::new(TrainError::Interrupted { update: *update }).context(what));
        }
    }
    let summary = result?;
    if a.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print_summary(&summary);
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

/// Writes how the run ended into `status.json`. A diverged run keeps its folder, so that its
/// curve up to the blow-up can be looked at; a fresh run that failed for any other reason (bad
/// settings found once training starts, a disk error) leaves no partial folder behind.
fn record_outcome(d: &RunDir, result: &Result<Value>, fresh: bool) -> Result<()> {
    let status = match result {
        Ok(summary) if summary["finished"] == json!(true) => RunStatus::ended(RunState::Finished, None),
        Ok(_) => RunStatus::ended(RunState::Interrupted, None),
        Err(e) => match e.downcast_ref::<TrainError>() {
            Some(TrainError::Interrupted { .. }) => RunStatus::ended(RunState::Interrupted, None),
            Some(diverged @ TrainError::Diverged { .. }) => {
                RunStatus::ended(RunState::Diverged, Some(diverged.to_string()))
            }
            _ if fresh => {
                let _ = std::fs::remove_dir_all(d.path());
                return Ok(());
            }
            _ => RunStatus::ended(RunState::Failed, Some(format!("{e:#}"))),
        },
    };
    Ok(d.write_status(&status)?)
}

fn fit(cfg: &RunConfig, model: &Model, data: &Prepared, dir: Option<&RunDir>, a: &TrainArgs) -> Result<Value> {
    let mut trainer = Trainer::new(model, cfg.train.clone()).context("training settings")?;
    if let (Some(d), Some(_)) = (dir, &a.resume) {
        d.load_checkpoint(&mut trainer).context("--resume")?;
        if budget_flag(a).is_some() {
            trainer.set_budget(cfg.train.budget)?;
            d.write_config(cfg)?;
        }
    }
    let per_epoch = match cfg.train.batch_size {
        Some(b) => data.train.len().div_ceil(b) as u64,
        None => 1,
    };
    let total = match cfg.train.budget {
        Budget::Epochs(e) => e * per_epoch,
        Budget::Updates(u) => u,
    };
    let progress = Progress::new(total, trainer.state().update, a.quiet);
    let result = match dir {
        Some(d) => {
            let mut writer = RunWriter::new(d);
            writer.interrupt_after = a.interrupt_after;
            let mut obs = ((progress, writer), CtrlC);
            let r = trainer.fit(&data.train, &data.val, &mut obs);
            obs.0 .0.finish();
            r
        }
        None => {
            let mut obs = (progress, CtrlC);
            let r = trainer.fit(&data.train, &data.val, &mut obs);
            obs.0.finish();
            r
        }
    };
    result.map_err(anyhow::Error::new)?;
    trainer.restore_best();
    let st = trainer.state();
    let mut out = Map::new();
    let loss = (model.spec != ModelSpec::Perceptron).then_some(cfg.train.loss);
    put_metrics(&mut out, "train", Some(&evaluate(model, &data.train, loss)));
    put_metrics(&mut out, "val", evaluate_opt(model, &data.val, loss).as_ref());
    if !data.test.is_empty() {
        put_metrics(&mut out, "test", Some(&evaluate(model, &data.test, loss)));
    }
    out.insert("epochs".into(), json!(st.epoch + u64::from(st.batch > 0)));
    out.insert("updates".into(), json!(st.update));
    out.insert("best_update".into(), json!(st.best_update));
    out.insert("seconds".into(), json!(st.seconds));
    out.insert("finished".into(), json!(st.finished));
    if let Some(d) = dir {
        out.insert("run".into(), json!(d.path().display().to_string()));
    }
    if matches!(model.spec, ModelSpec::Linear | ModelSpec::Perceptron) && cfg.n_outputs == 1 {
        let p = model.parameters();
        let w: Vec<f64> = p[0].to_vec_f64();
        let b = p[1].to_vec_f64()[0];
        let (w, b) = match &cfg.standardizer {
            Some(s) => s.unstandardize_linear(&w, b)?,
            None => (w, b),
        };
        out.insert("weights".into(), weights_json(&cfg.feature_names, &w));
        out.insert("bias".into(), json!(b));
    }
    Ok(Value::Object(out))
}

fn evaluate_opt(model: &Model, data: &InMemoryDataset, loss: Option<Loss>) -> Option<Metrics> {
    (!data.is_empty()).then(|| evaluate(model, data, loss))
}

/// Feature name → coefficient.
pub fn weights_json(names: &[String], w: &[f64]) -> Value {
    Value::Object(names.iter().zip(w).map(|(n, w)| (n.clone(), json!(w))).collect())
}

fn put_metrics(out: &mut Map<String, Value>, part: &str, m: Option<&Metrics>) {
    let Some(m) = m else {
        out.insert(format!("{part}_loss"), Value::Null);
        return;
    };
    out.insert(format!("{part}_loss"), json!(m.loss));
    for (k, v) in [("accuracy", m.accuracy), ("mse", m.mse), ("mae", m.mae), ("r2", m.r2)] {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            out.insert(format!("{part}_{k}"), json!(v));
        }
    }
}

fn print_summary(v: &Value) {
    let Value::Object(m) = v else { return };
    for (k, v) in m {
        match v {
            Value::Object(w) => {
                println!("{k}:");
                for (n, c) in w {
                    println!("  {n} {c}");
                }
            }
            other => println!("{k} {other}"),
        }
    }
}

fn open_run(run: &Path, data: &str) -> Result<(RunConfig, Model)> {
    let dir = RunDir::open(run).context("--run")?;
    let mut cfg = dir.read_config()?;
    cfg.data.source = data.to_string();
    let model = build_model(&cfg)?;
    dir.load_model(&model)?;
    Ok((cfg, model))
}

/// `ftheta eval`: the saved best model's scores on every row of SOURCE (an MNIST folder: its test
/// part).
pub fn eval(run: &Path, data: &str, as_json: bool) -> Result<()> {
    let (cfg, model) = open_run(run, data)?;
    let classes = cfg.class_names.is_some();
    let ds = rebuild(&cfg.data, &cfg.feature_names, cfg.standardizer.as_ref(), classes, true).context("--data")?;
    let loss = (model.spec != ModelSpec::Perceptron).then_some(cfg.train.loss);
    let mut out = Map::new();
    put_metrics(&mut out, "", Some(&evaluate(&model, &ds, loss)));
    let out: Map<String, Value> = out.into_iter().map(|(k, v)| (k.trim_start_matches('_').to_string(), v)).collect();
    let mut out = out;
    out.insert("rows".into(), json!(ds.len()));
    if as_json {
        println!("{}", Value::Object(out));
    } else {
        print_summary(&Value::Object(out));
    }
    Ok(())
}

/// `ftheta predict`: one prediction per row of SOURCE, as CSV on stdout or in FILE (written
/// atomically).
pub fn predict(run: &Path, data: &str, out: Option<&PathBuf>) -> Result<()> {
    let (cfg, model) = open_run(run, data)?;
    let classes = cfg.class_names.is_some();
    let ds = rebuild(&cfg.data, &cfg.feature_names, cfg.standardizer.as_ref(), classes, false).context("--data")?;
    let (x, _) = ds.tensors();
    let z = ftheta_core::no_grad(|| model.forward(&x));
    let width = z.shape().get(1).copied().unwrap_or(1);
    let z = z.to_vec();
    let mut text = String::new();
    match &cfg.class_names {
        Some(names) => {
            text += "class\n";
            for c in predicted_classes(&z, width) {
                text += names.get(c).map_or(&c.to_string(), |n| n);
                text.push('\n');
            }
        }
        None => {
            text += "prediction\n";
            for v in z {
                text += &format!("{v}\n");
            }
        }
    }
    match out {
        Some(path) => ftheta_nn::checkpoint::write_atomic(path, text.as_bytes())
            .with_context(|| format!("--out {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}
