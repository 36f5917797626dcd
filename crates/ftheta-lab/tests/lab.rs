//! The lab's claims, checked on the numbers a quick run writes to results.json.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

/// One quick run shared by every test: its folder and results.json.
fn lab() -> &'static (PathBuf, Value) {
    static RUN: OnceLock<(PathBuf, Value)> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ftheta-lab-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A file of the user's that the lab must leave alone.
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        let summary = ftheta_lab::run_lab(&ftheta_lab::LabConfig::quick(&dir), None).unwrap();
        let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
        let results: Value = serde_json::from_str(&text).unwrap();
        let from_summary = serde_json::to_string_pretty(&summary.results).unwrap();
        assert_eq!(text, from_summary, "the summary and results.json hold the same numbers");
        (dir, results)
    })
}

fn exp(name: &str) -> &'static Value {
    &lab().1["experiments"][name]
}

#[test]
fn the_report_folder_has_the_page_the_numbers_and_every_figure_twice() {
    let (dir, _) = lab();
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(!html.contains("http://") && !html.contains("https://"), "the page must open offline");
    let stems: Vec<&str> = html.split("<img src=\"").skip(1).filter_map(|s| s.split(".png\"").next()).collect();
    assert!(stems.len() >= 8, "{stems:?}");
    for stem in stems {
        for ext in ["png", "svg"] {
            let f = dir.join(format!("{stem}.{ext}"));
            assert!(std::fs::metadata(&f).map(|m| m.len() > 1000).unwrap_or(false), "{} missing or empty", f.display());
        }
    }
    for name in ["features", "landscape", "learning_rate", "batch_size", "piecewise", "deep", "perceptron", "graph"] {
        assert!(html.contains(&format!("id=\"{name}\"")), "no section {name}");
        assert!(exp(name).is_object(), "no results for {name}");
    }
    assert!(dir.join("graph.dot").exists());
    assert_eq!(std::fs::read_to_string(dir.join("notes.txt")).unwrap(), "mine");
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

fn run_for<'a>(runs: &'a [Value], class: &str) -> &'a Value {
    runs.iter().find(|r| r["predicted"] == class).unwrap_or_else(|| panic!("no rate predicted to be {class}"))
}

#[test]
fn learning_rates_fall_where_the_stability_limit_says() {
    let lr = exp("learning_rate");
    let runs = lr["runs"].as_array().unwrap();
    let limit = lr["stability_limit"].as_f64().unwrap();
    for r in runs {
        assert_eq!(r["predicted"], r["observed"], "{r}");
    }
    let (small, good, osc, div) =
        (run_for(runs, "too small"), run_for(runs, "good"), run_for(runs, "oscillates"), run_for(runs, "diverges"));
    let loss_after = |r: &Value, t: u64| {
        r["loss_after"].as_array().unwrap().iter().find(|x| x["updates"] == t).unwrap()["loss"].as_f64()
    };
    // Too small: still above the good rate after 10,000 updates.
    assert!(loss_after(small, 10_000).unwrap() > loss_after(good, 10_000).unwrap() + 1e-3);
    // Diverging: the loss blew up; oscillating: the steep coordinate flips sign at each step.
    assert_eq!(div["diverged"], true);
    assert!(loss_after(div, 10_000).is_none());
    assert!(osc["steep_direction_sign_flips_in_first_50"].as_u64().unwrap() >= 10);
    assert_eq!(good["steep_direction_sign_flips_in_first_50"], 0);
    // The predicted limit 2/λ_max separates them.
    let rate = |r: &Value| r["learning_rate"].as_f64().unwrap();
    assert!(rate(osc) < limit && limit < rate(div));
    assert!(rate(good) < 1.0 / lr["lambda_max"].as_f64().unwrap());
    // Standardizing makes the Hessian 2·I and convergence fast.
    let st = &lr["standardized"];
    assert!((st["lambda_max"].as_f64().unwrap() - 2.0).abs() < 1e-6);
    assert!(st["updates_to_converge"].as_u64().unwrap() < st["raw_updates_to_converge"].as_u64().unwrap());
}

#[test]
fn richer_families_validate_better_and_the_test_set_is_reported_once() {
    let f = exp("features");
    let fams = f["families"].as_array().unwrap();
    let val = |i: usize| fams[i]["validation_mse"].as_f64().unwrap();
    for (i, fam) in fams.iter().enumerate().skip(1) {
        assert!(val(i) < val(0), "{} does not beat distance alone", fam["name"]);
    }
    assert!(val(3) < val(1), "crosses should beat distance + hour");
    let chosen = f["chosen"].as_str().unwrap();
    let best = fams
        .iter()
        .min_by(|a, b| a["validation_mse"].as_f64().unwrap().total_cmp(&b["validation_mse"].as_f64().unwrap()))
        .unwrap();
    assert_eq!(best["name"], chosen);
    assert!(f["test_mse"].as_f64().unwrap().is_finite());
}

#[test]
fn the_landscape_grid_best_is_near_the_closed_form_optimum() {
    let l = exp("landscape");
    let (g, o) = (&l["grid"]["best"], &l["optimum"]);
    let lo = o["loss"].as_f64().unwrap();
    assert!(g["loss"].as_f64().unwrap() >= lo - 1e-9);
    assert!(g["loss"].as_f64().unwrap() < lo * 1.01);
    assert!(l["gradient_descent"]["end"]["loss"].as_f64().unwrap() < l["start"]["loss"].as_f64().unwrap());
}

#[test]
fn more_units_fit_the_training_data_better() {
    let fits = exp("piecewise")["fits"].as_array().unwrap();
    for kind in ["relu-sum", "sigmoid-sum"] {
        let mse =
            |h: u64| fits.iter().find(|f| f["spec"] == format!("{kind}:{h}")).unwrap()["train_mse"].as_f64().unwrap();
        assert!(mse(50) < mse(1), "{kind}: H = 50 ({}) vs H = 1 ({})", mse(50), mse(1));
    }
}

#[test]
fn small_batches_make_more_progress_per_epoch() {
    let runs = exp("batch_size")["runs"].as_array().unwrap();
    let full = runs.iter().find(|r| r["full_batch"] == true).unwrap();
    let b32 = runs.iter().find(|r| r["batch_size"] == 32 && r["shuffled"] == true).unwrap();
    assert!(b32["updates"].as_u64().unwrap() > full["updates"].as_u64().unwrap());
    assert!(b32["final_excess_loss"].as_f64().unwrap() < full["final_excess_loss"].as_f64().unwrap());
}

#[test]
fn the_perceptron_cannot_learn_xor_and_the_network_can() {
    let p = exp("perceptron");
    for gate in ["AND", "OR"] {
        assert_eq!(p["gates"][gate]["perceptron"]["final_accuracy"], 1.0, "{gate}");
        assert!(p["gates"][gate]["mp_neurons_that_compute_it"].as_u64().unwrap() > 0);
    }
    assert!(p["gates"]["XOR"]["perceptron"]["best_accuracy"].as_f64().unwrap() < 1.0);
    assert_eq!(p["gates"]["XOR"]["mp_neurons_that_compute_it"], 0);
    assert_eq!(p["network"]["accuracy"], 1.0);
}

#[test]
fn the_graph_gradients_match_the_hand_derivation() {
    let g = exp("graph");
    for (a, b) in [("grad_w", "grad_w_by_hand"), ("grad_b", "grad_b_by_hand")] {
        let (x, y) = (g[a].as_f64().unwrap(), g[b].as_f64().unwrap());
        assert!((x - y).abs() < 1e-3 * y.abs().max(1.0), "{a} = {x}, by hand {y}");
    }
}

#[test]
fn an_unknown_experiment_is_refused_with_the_names() {
    let dir = std::env::temp_dir().join(format!("ftheta-lab-test-unknown-{}", std::process::id()));
    let e = ftheta_lab::run_lab(&ftheta_lab::LabConfig::quick(&dir), Some("nope")).unwrap_err().to_string();
    assert!(e.contains("nope") && e.contains("learning_rate"), "{e}");
    assert!(!dir.exists(), "nothing is created for a refused run");
}
