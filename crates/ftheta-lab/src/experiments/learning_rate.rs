//! The learning rate: from the lecture's start, gradient descent with a rate that is too small,
//! a good one, one that oscillates and one that diverges. The loss is quadratic, so theory says
//! exactly which is which: along an eigenvector of the Hessian H with eigenvalue λ, one update
//! multiplies the distance to the optimum by (1 − η·λ). It shrinks monotonically for η < 1/λ_max,
//! flips sign while shrinking for 1/λ_max < η < 2/λ_max, and grows for η > 2/λ_max. Standardizing
//! the feature makes H = 2·I, so one rate suits every direction.

use anyhow::Result;
use serde_json::json;

use super::{frame, s, LineProblem, GOOD_RATE, START};
use crate::fit::{gd_line, thin, LinePath};
use crate::palette;
use crate::plot::{self, Chart, Layer, LegendAt, Shape};
use crate::report::{Section, Table};
use crate::LabConfig;

/// The lecture's rates: too small, good, oscillating, diverging (for the raw distance feature,
/// whose stability limit 2/λ_max is about 0.092).
pub const DEFAULT_RATES: [f64; 4] = [1e-4, GOOD_RATE, 0.085, 0.1];

/// The updates after which the loss is reported.
pub const CHECKPOINTS: [usize; 3] = [100, 1_000, 10_000];

/// What theory predicts for rate `lr` from the start: along each eigenvector of H (eigenvalue λ)
/// the distance to the optimum is multiplied by (1 − η·λ) per update, exactly, because the loss
/// is quadratic. "Too small" means more than 10 % of the starting distance is left after
/// `updates` updates.
pub fn predict(prob: &LineProblem, lr: f64, updates: usize) -> &'static str {
    let (l_max, l_min) = prob.eigenvalues();
    if lr * l_max > 2.0 {
        return "diverges";
    }
    if lr * l_max > 1.0 {
        return "oscillates";
    }
    let (opt, v) = (prob.optimum(), prob.steep_direction());
    let d = (START.0 - opt.0, START.1 - opt.1);
    // Components along the steep direction v and the flat one v⊥ = (−v₁, v₀).
    let (c_max, c_min) = (d.0 * v.0 + d.1 * v.1, -d.0 * v.1 + d.1 * v.0);
    let left = |l: f64, c: f64| (1.0 - lr * l).powi(updates as i32) * c;
    let remaining = left(l_max, c_max).hypot(left(l_min, c_min));
    if remaining > 0.1 * c_max.hypot(c_min) {
        "too small"
    } else {
        "good"
    }
}

/// What a run did, read off its path alone.
fn observe(p: &LinePath, prob: &LineProblem, updates: usize) -> (&'static str, usize, usize) {
    let (opt, dir) = (prob.optimum(), prob.steep_direction());
    // The signed distance to the optimum along the steep direction, before each update.
    let along: Vec<f64> = p.params.iter().map(|&(w, b)| (w - opt.0) * dir.0 + (b - opt.1) * dir.1).collect();
    // Count sign flips only while the steep component is still well above f32 round-off.
    let window = along.iter().take(51).take_while(|a| a.abs() > 1e-4 * along[0].abs()).count();
    let flips = along[..window].windows(2).filter(|w| w[0] * w[1] < 0.0).count();
    let rises = p.loss.windows(2).filter(|w| w[1] > w[0] * (1.0 + 1e-6)).count();
    let last = if p.diverged { None } else { p.params.last() };
    let dist = |q: &(f64, f64)| (q.0 - opt.0).hypot(q.1 - opt.1);
    let distance_left = last.map_or(f64::INFINITY, |q| dist(q) / dist(&p.params[0]));
    let class = if p.diverged || p.loss_at(updates) > p.loss[0] {
        "diverges"
    } else if window > 2 && flips * 2 >= window - 1 {
        "oscillates"
    } else if distance_left > 0.1 {
        "too small"
    } else {
        "good"
    };
    (class, flips, rises)
}

fn colour(class: &str) -> plotters::style::RGBColor {
    match class {
        "too small" => palette::TOO_SMALL,
        "good" => palette::GOOD,
        "oscillates" => palette::OSCILLATING,
        _ => palette::DIVERGING,
    }
}

/// Updates until the excess loss L − L* falls to 0.1 % of its start (`None` if it never does).
fn updates_to_converge(p: &LinePath, l_star: f64) -> Option<usize> {
    let target = 1e-3 * (p.loss[0] - l_star);
    p.loss.iter().position(|&l| l - l_star <= target)
}

/// Runs each rate and compares it with the prediction; then the standardized feature.
pub fn run_learning_rate(cfg: &LabConfig) -> Result<Section> {
    let prob = LineProblem::load(cfg)?;
    let rates = cfg.rates.clone().unwrap_or_else(|| DEFAULT_RATES.to_vec());
    let updates = *CHECKPOINTS.last().expect("checkpoints");
    let (l_max, l_min) = prob.eigenvalues();
    let limit = 2.0 / l_max;
    let opt = prob.optimum();
    let l_star = prob.loss(opt.0, opt.1);
    let l0 = prob.loss(START.0, START.1);

    let mut runs = Vec::new();
    let mut rows = Vec::new();
    let mut json_runs = Vec::new();
    for &lr in &rates {
        let path = gd_line(&prob.x, &prob.y, START, lr, updates);
        let predicted = predict(&prob, lr, updates);
        let (observed, flips, rises) = observe(&path, &prob, updates);
        let at: Vec<f64> = CHECKPOINTS.iter().map(|&t| path.loss_at(t)).collect();
        rows.push(vec![
            s(lr),
            s(lr / limit),
            predicted.to_string(),
            observed.to_string(),
            s(at[0]),
            s(at[1]),
            s(at[2]),
        ]);
        json_runs.push(json!({
            "learning_rate": lr, "fraction_of_limit": lr / limit, "predicted": predicted, "observed": observed,
            "agrees": predicted == observed, "diverged": path.diverged,
            "loss_after": CHECKPOINTS.iter().zip(&at).map(|(t, l)| json!({"updates": t, "loss": if l.is_finite() { json!(l) } else { json!(null) }})).collect::<Vec<_>>(),
            "steep_direction_sign_flips_in_first_50": flips, "loss_increases": rises,
            "updates_run": path.params.len() - 1,
            "updates_to_converge": updates_to_converge(&path, l_star),
        }));
        runs.push((lr, predicted, path));
    }

    // Loss against updates, log–log.
    let mut curves = Chart::new("Loss above the optimum against updates", "updates", "L(w, b) − L* (min²)")
        .log_x()
        .log_y()
        .x_range(1.0, (updates + 1) as f64)
        .y_range(1e-5, (l0 - l_star) * 30.0)
        .legend(LegendAt::LowerLeft);
    for (lr, class, path) in &runs {
        let idx = thin(path.loss.len(), 500);
        let pts = idx.iter().filter(|&&i| i > 0).map(|&i| (i as f64, path.loss[i] - l_star)).collect();
        curves.layers.push(Layer::line(pts, colour(class), format!("η = {} ({class})", s(*lr))));
    }
    let fig_curves = plot::save(
        &cfg.out_dir,
        "learning_rate_loss",
        "Training MSE minus its minimum L* against updates (both axes logarithmic; a curve ends where f32 can no \
         longer tell L from L*, or where the loss blew up). Colours give the regime theory predicts.",
        &[curves],
        1,
        (900, 600),
    )?;

    // The paths over the landscape.
    let (wr, br) = frame(START, opt, 1.3);
    let mut map = landscape_chart(&prob, wr, br, "Gradient-descent paths for each learning rate");
    // Drawn from the wildest to the tamest, so the diverging path does not hide the others.
    let order = ["diverges", "oscillates", "too small", "good"];
    for class in order {
        for (lr, _, path) in runs.iter().filter(|r| r.1 == class) {
            let n = path.params.len().min(if class == "oscillates" { 60 } else { updates + 1 });
            // A diverging path is drawn until it leaves the frame: beyond, its jumps only cross it.
            let inside = |q: &&(f64, f64)| q.0 >= wr.0 && q.0 <= wr.1 && q.1 >= br.0 && q.1 <= br.1;
            let n = n.min(path.params.iter().take_while(|q| inside(q)).count() + 1);
            let idx = thin(n, 300);
            let pts = idx.iter().map(|&i| path.params[i]).collect();
            let label = format!("η = {} ({class})", s(*lr));
            // The slow path runs under the good one: drawn wide beneath it, it shows as a halo.
            let width = if class == "too small" { 7 } else { 2 };
            map.layers.push(Layer::Line { points: pts, color: colour(class), width, label: Some(label) });
        }
    }
    for (lr, _, path) in runs.iter().filter(|r| r.1 == "too small") {
        let end = *path.params.last().expect("a path has its start");
        map.layers.push(Layer::marker(
            end,
            palette::TOO_SMALL,
            Shape::Dot,
            format!("η = {} after {updates} updates", s(*lr)),
        ));
    }
    map.layers.push(Layer::marker(START, palette::OPTIMUM, Shape::Triangle, "start"));
    map.layers.push(Layer::marker(opt, palette::OPTIMUM, Shape::Cross, "optimum"));
    let fig_map = plot::save(
        &cfg.out_dir,
        "learning_rate_paths",
        "Each rate's path from the lecture's start over the loss contours (the oscillating rate's first 60 updates, \
         the diverging one's until it leaves the frame). The oscillating rate zigzags across the valley; the diverging one \
         leaves it; the rate that is too small has not reached the optimum after 10,000 updates.",
        &[map],
        1,
        (900, 640),
    )?;

    // Standardizing: the same model, the same start, a round landscape.
    let (zprob, mean, std) = prob.standardized();
    let zstart = (START.0 * std, START.1 + START.0 * mean);
    let (zl_max, zl_min) = zprob.eigenvalues();
    let fraction = GOOD_RATE / limit;
    let zlr = fraction * 2.0 / zl_max;
    let zpath = gd_line(&zprob.x, &zprob.y, zstart, zlr, 2_000);
    let zopt = zprob.optimum();
    let z_star = zprob.loss(zopt.0, zopt.1);
    let good = runs
        .iter()
        .find(|r| r.0 == GOOD_RATE)
        .map(|r| r.2.clone())
        .unwrap_or_else(|| gd_line(&prob.x, &prob.y, START, GOOD_RATE, updates));
    let raw_needed = updates_to_converge(&good, l_star);
    let std_needed = updates_to_converge(&zpath, z_star);
    let (zwr, zbr) = frame(zstart, zopt, 1.3);
    let mut left = landscape_chart(&prob, wr, br, "Raw distance (miles)");
    left.layers.push(Layer::line(
        thin(good.params.len(), 300).iter().map(|&i| good.params[i]).collect(),
        palette::GOOD,
        format!("η = {GOOD_RATE}: {} updates", opt_n(raw_needed)),
    ));
    left.layers.push(Layer::marker(opt, palette::OPTIMUM, Shape::Cross, ""));
    let mut right = landscape_chart(&zprob, zwr, zbr, "Standardized distance");
    right.x_label = "w (minutes per standard deviation of distance)".into();
    right.layers.push(Layer::line(
        zpath.params.clone(),
        palette::GOOD,
        format!("η = {}: {} updates", s(zlr), opt_n(std_needed)),
    ));
    right.layers.push(Layer::Points {
        points: zpath.params.iter().take(10).copied().collect(),
        color: palette::GOOD,
        size: 4,
        opacity: 1.0,
        label: None,
    });
    right.layers.push(Layer::marker(zopt, palette::OPTIMUM, Shape::Cross, ""));
    let fig_std = plot::save(
        &cfg.out_dir,
        "learning_rate_standardized",
        "The same model and start before and after standardizing distance, each at the same fraction of its stability \
         limit; the legend gives the updates needed to bring L − L* to 0.1 % of its start.",
        &[left, right],
        2,
        (640, 560),
    )?;

    let agree = json_runs.iter().filter(|r| r["agrees"] == true).count();
    let results = json!({
        "problem": prob.describe(),
        "hessian": {"h_ww": prob.hessian().0, "h_wb": prob.hessian().1, "h_bb": prob.hessian().2},
        "lambda_max": l_max, "lambda_min": l_min, "stability_limit": limit, "monotone_limit": 1.0 / l_max,
        "loss_start": l0, "loss_star": l_star,
        "runs": json_runs,
        "predictions_agree": agree, "rates": rates.len(),
        "standardized": {"mean": mean, "std": std, "lambda_max": zl_max, "lambda_min": zl_min, "stability_limit": 2.0 / zl_max,
                          "learning_rate": zlr, "updates_to_converge": std_needed,
                          "raw_updates_to_converge": raw_needed, "raw_learning_rate": GOOD_RATE},
    });
    let table = Table {
        header: ["η", "η / (2/λ_max)", "theory", "observed", "L after 100", "L after 1,000", "L after 10,000"]
            .map(String::from)
            .to_vec(),
        rows,
    };
    let paragraphs = vec![
        format!(
            "The loss is quadratic in (w, b) with constant Hessian H = (2/N)[x 1]ᵀ[x 1] = [[{}, {}], [{}, {}]], whose \
             eigenvalues are λ_max = {} and λ_min = {}. Gradient descent is stable for η < 2/λ_max = <b>{}</b> and moves \
             monotonically for η < 1/λ_max = {}. L* = {} min²; the start has L = {}.",
            s(prob.hessian().0), s(prob.hessian().1), s(prob.hessian().1), s(prob.hessian().2),
            s(l_max), s(l_min), s(limit), s(1.0 / l_max), s(l_star), s(l0)
        ),
        format!(
            "{agree} of {} rates behave as theory predicts. A rate that is too small is still far from the optimum \
             after 100, 1,000 and even 10,000 updates: it is slow along the valley (λ_min) long after the steep \
             direction has settled.",
            rates.len()
        ),
        format!(
            "Standardizing distance (mean {} miles, standard deviation {}) makes H = [[{}, 0], [0, {}]]: \
             λ_max = {}, λ_min = {}, limit 2/λ_max = {}. At the same fraction ({}) of its limit, gradient descent \
             needs {} updates instead of {}.",
            s(mean), s(std), s(zprob.hessian().0), s(zprob.hessian().2), s(zl_max), s(zl_min), s(2.0 / zl_max),
            s(fraction), opt_n(std_needed), opt_n(raw_needed)
        ),
    ];
    Ok(Section {
        name: "learning_rate",
        title: "3. The learning rate".into(),
        headline: format!(
            "limit 2/λ_max = {}; {agree}/{} rates as predicted; standardized: {} vs {} updates",
            s(limit),
            rates.len(),
            opt_n(std_needed),
            opt_n(raw_needed)
        ),
        paragraphs,
        tables: vec![table],
        figures: vec![fig_curves, fig_map, fig_std],
        files: vec![],
        results,
    })
}

fn opt_n(n: Option<usize>) -> String {
    n.map_or_else(|| "more than all".into(), |n| n.to_string())
}

/// Contours of `prob`'s loss over the box.
fn landscape_chart(prob: &LineProblem, wr: (f64, f64), br: (f64, f64), title: &str) -> Chart {
    let (ws, bs, z) = prob.grid(wr, br, 90);
    let mut c = Chart::new(title, "w (minutes per mile)", "b (minutes)").x_range(wr.0, wr.1).y_range(br.0, br.1);
    c.layers.extend(plot::contour_layers(&ws, &bs, &z, 14));
    c
}
