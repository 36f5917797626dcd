//! The loss landscape of the line `y = w·distance + b`: L(w, b) on a grid as log-spaced contour
//! lines, the grid's best point, the closed-form optimum, and gradient descent's path from the
//! lecture's start. The valley is long and thin because distance is not centred (its mean is
//! about 3 miles), so the Hessian's eigenvalues differ by two orders of magnitude.

use anyhow::Result;
use serde_json::json;

use super::{frame, grid_best, s, LineProblem, GOOD_RATE, START};
use crate::fit::{gd_line, thin};
use crate::palette;
use crate::plot::{self, Chart, Layer, LegendAt, Shape};
use crate::report::Section;
use crate::LabConfig;

/// Draws the landscape and the descent over it.
pub fn run_landscape(cfg: &LabConfig) -> Result<Section> {
    let p = LineProblem::load(cfg)?;
    let steps = cfg.pick(3000, 600);
    let path = gd_line(&p.x, &p.y, START, GOOD_RATE, steps);
    let opt = p.optimum();
    let (wr, br) = frame(START, opt, 1.3);
    let n = cfg.pick(120, 60);
    let (ws, bs, z) = p.grid(wr, br, n);
    let best = grid_best(&ws, &bs, &z);
    let end = *path.params.last().expect("the path has its start");
    let l_star = p.loss(opt.0, opt.1);

    let mut chart =
        Chart::new("Loss landscape L(w, b) of  time = w·distance + b", "w (minutes per mile)", "b (minutes)")
            .x_range(wr.0, wr.1)
            .y_range(br.0, br.1)
            .legend(LegendAt::UpperRight);
    chart.layers.extend(plot::contour_layers(&ws, &bs, &z, 16));
    let idx = thin(path.params.len(), 400);
    chart.layers.push(Layer::line(
        idx.iter().map(|&i| path.params[i]).collect(),
        palette::GOOD,
        // The run stops once θ no longer moves in f32, often before `steps`: say what was done.
        format!("gradient descent, η = {GOOD_RATE}, {} updates", path.params.len() - 1),
    ));
    chart.layers.push(Layer::Points {
        points: path.params.iter().take(30).copied().collect(),
        color: palette::GOOD,
        size: 3,
        opacity: 1.0,
        label: None,
    });
    chart.layers.push(Layer::marker(START, palette::GOOD, Shape::Triangle, "start (w = 1, b = 15)"));
    chart.layers.push(Layer::marker((best.0, best.1), palette::GRID_BEST, Shape::Ring, format!("grid best ({n}×{n})")));
    chart.layers.push(Layer::marker(opt, palette::OPTIMUM, Shape::Cross, "closed-form optimum"));
    let fig = plot::save(
        &cfg.out_dir,
        "landscape",
        "Contour lines of the training MSE at log-spaced levels (dark = low). The path is gradient descent from the \
         lecture's start: it drops quickly across the valley, then crawls along it.",
        &[chart],
        1,
        (900, 640),
    )?;

    let (l1, l2) = p.eigenvalues();
    let results = json!({
        "problem": p.describe(),
        "start": {"w": START.0, "b": START.1, "loss": p.loss(START.0, START.1)},
        "grid": {"w_range": [wr.0, wr.1], "b_range": [br.0, br.1], "points_per_axis": n,
                  "best": {"w": best.0, "b": best.1, "loss": best.2}},
        "optimum": {"w": opt.0, "b": opt.1, "loss": l_star},
        "gradient_descent": {"learning_rate": GOOD_RATE, "updates": path.params.len() - 1,
                              "end": {"w": end.0, "b": end.1, "loss": path.loss.last()},
                              "distance_to_optimum": ((end.0 - opt.0).powi(2) + (end.1 - opt.1).powi(2)).sqrt()},
    });
    let paragraphs = vec![
        format!(
            "L(w, b) is the mean squared error of <code>time = w·distance + b</code> on {} training deliveries. \
             The closed-form optimum is w* = {} min/mile, b* = {} min with L* = {} min²; the best of the \
             {n}×{n} grid is w = {}, b = {} with L = {}.",
            p.x.len(),
            s(opt.0),
            s(opt.1),
            s(l_star),
            s(best.0),
            s(best.1),
            s(best.2)
        ),
        format!(
            "Gradient descent from (w, b) = (1, 15), where L = {}, with η = {GOOD_RATE} ends after {} updates at \
             w = {}, b = {} (L = {}). The valley is long because the Hessian's eigenvalues are λ_max = {} and \
             λ_min = {} (condition number {}): across the valley the loss is steep, along it almost flat.",
            s(p.loss(START.0, START.1)),
            path.params.len() - 1,
            s(end.0),
            s(end.1),
            s(*path.loss.last().unwrap_or(&f64::NAN)),
            s(l1),
            s(l2),
            s(l1 / l2)
        ),
    ];
    Ok(Section {
        name: "landscape",
        title: "2. The loss landscape".into(),
        headline: format!(
            "optimum w*={} b*={} L*={}; GD ends at L={}",
            s(opt.0),
            s(opt.1),
            s(l_star),
            s(*path.loss.last().unwrap_or(&f64::NAN))
        ),
        paragraphs,
        tables: vec![],
        figures: vec![fig],
        files: vec![],
        results,
    })
}
