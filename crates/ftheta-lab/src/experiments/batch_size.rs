//! Batch size: the same line `time = w·(standardized distance) + b` from the same start, trained
//! by gradient descent on the full batch and on mini-batches of 32, 5 and 1 sample (SGD), with
//! and without reshuffling each epoch. Small batches make many cheap, noisy updates per epoch;
//! the full batch makes one exact, expensive one. The loss is measured on the whole training set
//! (exactly, from the problem's moments, so measuring costs no time).

use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use super::{s, LineProblem, START};
use crate::fit::{LineBatches, LineDescent};
use crate::palette;
use crate::plot::{self, Chart, Layer, LegendAt};
use crate::report::{Section, Table};
use crate::LabConfig;

/// The lecture's mini-batch sizes (the full batch is always added).
pub const DEFAULT_BATCHES: [usize; 3] = [32, 5, 1];

/// A view of a curve: title, x label, and which sample field is x.
type View = (&'static str, &'static str, fn(&Sample) -> f64);

/// `(updates, epochs, seconds, L − L*)`.
type Sample = (f64, f64, f64, f64);

/// One training run: `(updates, epochs, seconds, L − L*)` samples.
struct Run {
    batch: usize,
    shuffled: bool,
    curve: Vec<Sample>,
    updates: usize,
    seconds: f64,
    /// `(w, b)` after the last update.
    theta: (f64, f64),
}

fn train(
    prob: &LineProblem,
    start: (f64, f64),
    batch: usize,
    shuffled: bool,
    epochs: usize,
    lr: f64,
    seed: u64,
) -> Result<Run> {
    let n = prob.x.len();
    let size = batch.min(n);
    // A shuffled full batch too (as `ftheta train` would): the rows' order changes only f32 rounding.
    let batches = if shuffled { LineBatches::Shuffled { size, seed } } else { LineBatches::InOrder(size) };
    let mut descent = LineDescent::new(&prob.x, &prob.y, start, lr, batches)?;
    let l_star = {
        let o = prob.optimum();
        prob.loss(o.0, o.1)
    };
    let per_epoch = descent.batches_per_epoch();
    let every = (per_epoch * epochs / 300).max(1);
    let excess = |(w, b): (f64, f64)| (prob.loss(w, b) - l_star).max(1e-12);
    let mut curve = vec![(0.0, 0.0, 0.0, excess(descent.theta()))];
    // Each recorded point is the mean of L − L* over the updates since the last one: the raw
    // values of small batches jitter by orders of magnitude and would hide the trend.
    let mut window = 0.0;
    let t0 = Instant::now();
    // The clock stops while the loss is measured.
    let mut paused = 0.0;
    for _ in 0..per_epoch * epochs {
        descent.step();
        let t = Instant::now();
        window += excess(descent.theta());
        let updates = descent.updates();
        if updates % every == 0 {
            let now = t0.elapsed().as_secs_f64() - paused;
            curve.push((updates as f64, updates as f64 / per_epoch as f64, now, window / every as f64));
            window = 0.0;
        }
        paused += t.elapsed().as_secs_f64();
    }
    let (updates, seconds) = (descent.updates(), t0.elapsed().as_secs_f64() - paused);
    if curve.last().is_some_and(|c| c.0 as usize != updates) {
        curve.push((updates as f64, epochs as f64, seconds, excess(descent.theta())));
    }
    Ok(Run { batch, shuffled, curve, updates, seconds, theta: descent.theta() })
}

/// Trains each batch size, shuffled and in file order, and draws the three views.
pub fn run_batch_size(cfg: &LabConfig) -> Result<Section> {
    let (prob, mean, std) = LineProblem::load(cfg)?.standardized();
    let start = (START.0 * std, START.1 + START.0 * mean);
    let n = prob.x.len();
    let mut batches = vec![n];
    batches.extend(cfg.batch_sizes.clone().unwrap_or_else(|| DEFAULT_BATCHES.to_vec()));
    let (epochs, lr) = (cfg.pick(10, 2), 0.05);
    let mut runs = Vec::new();
    for (i, &bs) in batches.iter().enumerate() {
        for shuffled in [true, false] {
            // Shuffling changes nothing for the full batch.
            if bs >= n && !shuffled {
                continue;
            }
            runs.push((i, train(&prob, start, bs, shuffled, epochs, lr, cfg.seed)?));
        }
    }
    let name = |r: &Run| {
        let b = if r.batch >= n { format!("full batch (B = {n})") } else { format!("B = {}", r.batch) };
        if r.batch >= n || r.shuffled {
            b
        } else {
            format!("{b}, no shuffling")
        }
    };
    let colour =
        |i: usize, r: &Run| if r.shuffled { palette::series(i) } else { palette::lighten(palette::series(i), 0.55) };
    let views: [View; 3] = [
        ("against updates", "updates", |c| c.0),
        ("against epochs", "epochs (passes over the training set)", |c| c.1),
        ("against time", "seconds of training", |c| c.2),
    ];
    let charts: Vec<Chart> = views
        .iter()
        .enumerate()
        .map(|(v, (title, xl, f))| {
            // Updates and seconds span four orders of magnitude between B = 1 and the full batch:
            // on a linear axis every run but the slowest would crowd into the left edge.
            let log_x = v != 1;
            let mut c = Chart::new(format!("Loss {title}"), *xl, "L − L* (min²)").log_y().legend(LegendAt::LowerLeft);
            if log_x {
                c = c.log_x();
            }
            for (i, r) in &runs {
                let pts = r.curve.iter().map(|p| (f(p), p.3)).filter(|p| !log_x || p.0 > 0.0).collect();
                c.layers.push(Layer::Line {
                    points: pts,
                    color: colour(*i, r),
                    width: 2,
                    label: (v == 0).then(|| name(r)),
                });
            }
            c
        })
        .collect();
    let fig = plot::save(
        &cfg.out_dir,
        "batch_size",
        "The training loss above its minimum for each batch size (each point averages the updates since the previous \
         one), against updates, epochs and seconds of computing (lighter: the same batch size without reshuffling).",
        &charts,
        3,
        (560, 460),
    )?;

    let final_excess = |r: &Run| r.curve.last().map_or(f64::NAN, |c| c.3);
    let rows = runs
        .iter()
        .map(|(_, r)| vec![name(r), r.updates.to_string(), s(r.seconds * 1e3), s(final_excess(r))])
        .collect();
    let results = json!({
        "rows": n, "epochs": epochs, "learning_rate": lr, "feature": "standardized distance",
        "runs": runs.iter().map(|(_, r)| json!({"batch_size": r.batch, "full_batch": r.batch >= n, "shuffled": r.shuffled,
            "updates": r.updates, "seconds": r.seconds, "final_excess_loss": final_excess(r),
            "final_w": r.theta.0, "final_b": r.theta.1,
            "curve": r.curve.iter().map(|c| [c.0, c.1, c.2, c.3]).collect::<Vec<_>>()})).collect::<Vec<_>>(),
    });
    let find = |b: usize| runs.iter().find(|(_, r)| r.batch == b && r.shuffled).map(|(_, r)| r);
    let (full, sgd) = (find(n), runs.iter().map(|(_, r)| r).filter(|r| r.shuffled).min_by_key(|r| r.batch));
    let paragraphs = vec![
        format!(
            "All runs start at the lecture's (w, b) = (1, 15) (in standardized units) with η = {lr} and make {epochs} passes \
             over {n} training deliveries. The full batch makes {epochs} updates and ends {} min² above the minimum; \
             B = {} makes {} updates and ends {} min² above it, in {} ms of computing instead of {} ms.",
            full.map_or("–".into(), |r| s(final_excess(r))),
            sgd.map_or(0, |r| r.batch),
            sgd.map_or(0, |r| r.updates),
            sgd.map_or("–".into(), |r| s(final_excess(r))),
            sgd.map_or("–".into(), |r| s(r.seconds * 1e3)),
            full.map_or("–".into(), |r| s(r.seconds * 1e3)),
        ),
        "Per update the full batch is best (each step follows the exact gradient); per epoch and per second small batches \
         win, until their noise keeps them jittering above the minimum: the smaller the batch, the higher the floor. \
         Without reshuffling every epoch repeats the same sequence of batches, so where a run ends depends on which \
         rows happen to come last in the file (compare the lighter curves); on data sorted by time or by class each \
         epoch would end pulled toward its last rows. Reshuffling makes every epoch a fresh random order."
            .to_string(),
    ];
    Ok(Section {
        name: "batch_size",
        title: "4. Batch size".into(),
        headline: format!(
            "after {epochs} epochs L − L*: full batch {}, B = {} {}",
            full.map_or("–".into(), |r| s(final_excess(r))),
            sgd.map_or(0, |r| r.batch),
            sgd.map_or("–".into(), |r| s(final_excess(r)))
        ),
        paragraphs,
        tables: vec![Table {
            header: ["run", "updates", "milliseconds", "L − L* at the end"].map(String::from).to_vec(),
            rows,
        }],
        figures: vec![fig],
        files: vec![],
        results,
    })
}
