//! Wide and shallow against narrow and deep: two networks with about the same number of
//! parameters on every column of the deliveries table, trained the same way. The curves show how
//! fast each learns and how far training and validation loss drift apart (the generalization gap).

use anyhow::Result;
use ftheta_core::manual_seed;
use ftheta_nn::{Activation, Adam, Init, ModelSpec, Module};
use serde_json::json;

use super::s;
use crate::data::{self, Deliveries};
use crate::fit::{column, matrix, train_epochs, History};
use crate::palette;
use crate::plot::{self, Chart, Layer};
use crate::report::{Section, Table};
use crate::LabConfig;

/// Every feature column at `rows`, standardized with the training statistics.
fn inputs(d: &Deliveries, rows: &[usize], stats: &[(f64, f64)]) -> Vec<f64> {
    let p = d.table.n_features();
    rows.iter().flat_map(|&i| (0..p).map(move |j| (d.table.features[i * p + j] - stats[j].0) / stats[j].1)).collect()
}

/// Trains the two shapes and compares their curves.
pub fn run_deep(cfg: &LabConfig) -> Result<Section> {
    let d = Deliveries::load(cfg.seed)?;
    let tr = data::subsample(&d.split.train, cfg.pick(usize::MAX, 1000), cfg.seed);
    let va = data::subsample(&d.split.validation, cfg.pick(usize::MAX, 500), cfg.seed);
    let p = d.table.n_features();
    let stats: Vec<(f64, f64)> =
        (0..p).map(|j| data::mean_std(&tr.iter().map(|&i| d.table.features[i * p + j]).collect::<Vec<_>>())).collect();
    let (ym, ys) = data::mean_std(&d.target(&tr));
    let zy = |rows: &[usize]| column(&d.target(rows).iter().map(|v| (v - ym) / ys).collect::<Vec<_>>());
    let (xt, yt, xv, yv) = (matrix(&inputs(&d, &tr, &stats), p), zy(&tr), matrix(&inputs(&d, &va, &stats), p), zy(&va));

    let width = cfg.pick(32, 12);
    let deep = ModelSpec::Mlp { hidden: vec![width; 4], activation: Activation::Relu };
    let target = deep.num_parameters(p, 1);
    // The one-layer width whose parameter count (p + 2)·H + 1 comes closest.
    let h = ((target as f64 - 1.0) / (p as f64 + 2.0)).round().max(1.0) as usize;
    let wide = ModelSpec::Mlp { hidden: vec![h], activation: Activation::Relu };
    let (epochs, batch, lr) = (cfg.pick(40, 4), 64, 1e-3);

    let mut runs: Vec<(ModelSpec, usize, History)> = Vec::new();
    for spec in [wide, deep] {
        manual_seed(cfg.seed);
        let model = spec.build(p, 1, Init::PyTorch)?;
        let mut opt = Adam::new(model.parameters(), lr)?;
        let mut hist = train_epochs(&model, &mut opt, (&xt, &yt), (&xv, &yv), epochs, batch, cfg.seed)?;
        // Back to minutes².
        hist.train.iter_mut().chain(hist.validation.iter_mut()).for_each(|v| *v *= ys * ys);
        runs.push((spec, model.num_parameters(), hist));
    }

    let hi =
        runs.iter().flat_map(|r| r.2.train.iter().chain(&r.2.validation).skip(1)).copied().fold(0.0, f64::max) * 1.1;
    let lo =
        runs.iter().flat_map(|r| r.2.train.iter().chain(&r.2.validation)).copied().fold(f64::INFINITY, f64::min) * 0.9;
    let charts: Vec<Chart> = runs
        .iter()
        .map(|(spec, n, hist)| {
            let pts = |v: &[f64]| v.iter().enumerate().skip(1).map(|(e, &l)| (e as f64, l)).collect::<Vec<_>>();
            Chart::new(format!("{spec} ({n} parameters)"), "epoch", "MSE (min²)")
                .log_y()
                .y_range(lo, hi)
                .with(Layer::line(pts(&hist.train), palette::TRAIN, "training"))
                .with(Layer::line(pts(&hist.validation), palette::VALIDATION, "validation"))
        })
        .collect();
    let fig = plot::save(
        &cfg.out_dir,
        "deep_curves",
        "Training and validation MSE after each epoch for the wide-and-shallow (left) and narrow-and-deep (right) network.",
        &charts,
        2,
        (600, 460),
    )?;

    let last = |v: &[f64]| *v.last().unwrap_or(&f64::NAN);
    let rows = runs
        .iter()
        .map(|(spec, n, h)| {
            vec![
                spec.to_string(),
                n.to_string(),
                s(last(&h.train)),
                s(last(&h.validation)),
                s(last(&h.validation) - last(&h.train)),
            ]
        })
        .collect();
    let results = json!({
        "rows": {"train": tr.len(), "validation": va.len()}, "features": p, "epochs": epochs, "batch_size": batch,
        "optimizer": "Adam", "learning_rate": lr,
        "models": runs.iter().map(|(spec, n, h)| json!({"spec": spec.to_string(), "parameters": n, "updates": h.updates,
            "train_mse": h.train, "validation_mse": h.validation,
            "final_train_mse": last(&h.train), "final_validation_mse": last(&h.validation), "gap": last(&h.validation) - last(&h.train)})).collect::<Vec<_>>(),
    });
    let (a, b) = (&runs[0], &runs[1]);
    let paragraphs = vec![format!(
        "Both networks see all {p} columns (distance, hour, weekday one-hot, 27 item counts), standardized, and train for \
         {epochs} epochs of mini-batches of {batch} with Adam (η = {lr}). <code>{}</code> has {} parameters, \
         <code>{}</code> {}. After training: validation MSE {} vs {} min², gap (validation − training) {} vs {}.",
        a.0, a.1, b.0, b.1,
        s(last(&a.2.validation)), s(last(&b.2.validation)),
        s(last(&a.2.validation) - last(&a.2.train)), s(last(&b.2.validation) - last(&b.2.train))
    )];
    Ok(Section {
        name: "deep",
        title: "6. Wide and shallow or narrow and deep".into(),
        headline: format!(
            "validation {} ({}) vs {} ({})",
            s(last(&a.2.validation)),
            a.0,
            s(last(&b.2.validation)),
            b.0
        ),
        paragraphs,
        tables: vec![Table {
            header: ["model", "parameters", "training MSE", "validation MSE", "gap"].map(String::from).to_vec(),
            rows,
        }],
        figures: vec![fig],
        files: vec![],
        results,
    })
}
