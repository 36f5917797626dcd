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
    for name in [
        "features",
        "landscape",
        "learning_rate",
        "batch_size",
        "piecewise",
        "deep",
        "perceptron",
        "graph",
        "next_token",
    ] {
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

/// The names file as the repository holds it, read here independently of the lab's parser.
fn names_file() -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/names.txt");
    std::fs::read_to_string(path).unwrap().lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn the_names_are_all_read_and_split_by_name() {
    let d = &exp("next_token")["data"];
    let names = names_file();
    assert_eq!(names.len(), 5163);
    assert_eq!(d["names"], 5163);
    let count = |k: &str| d[k].as_u64().unwrap() as usize;
    assert_eq!(count("train_names") + count("validation_names") + count("test_names"), 5163);
    assert_eq!(count("train_names"), 4130, "80 % of the names");
    // Each letter is predicted, and each end: one prediction per letter plus one per name.
    let predictions: usize = names.iter().map(|n| n.len() + 1).sum();
    assert_eq!(count("train_examples") + count("validation_examples") + count("test_examples"), predictions);
    assert_eq!(d["tokens"], ".abcdefghijklmnopqrstuvwxyz");
}

#[test]
fn every_model_gives_distributions_and_beats_the_uniform_model() {
    let n = exp("next_token");
    let dists = n["distributions"].as_array().unwrap();
    assert_eq!(dists.len(), 3);
    for d in dists {
        for model in ["bigram", "mlp"] {
            let p: Vec<f64> = d[model].as_array().unwrap().iter().map(f).collect();
            assert_eq!(p.len(), 27, "{model} after {}", d["mlp_context"]);
            assert!(p.iter().all(|&x| (0.0..=1.0).contains(&x)), "{model}: {p:?}");
            let sum: f64 = p.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5, "{model} after {}: sums to {sum}", d["mlp_context"]);
        }
    }
    // The start of a name: no name is empty, so the end token is (nearly) never predicted there.
    assert_eq!(dists[0]["bigram_context"], ".");
    assert!(f(&dists[0]["bigram"][0]) < 0.01 && f(&dists[0]["mlp"][0]) < 0.05);

    let ln27 = 27f64.ln();
    assert!((f(&n["uniform_nll"]) - ln27).abs() < 1e-12);
    let (cb, nb, mlp) = (&n["counting_bigram"], &n["neural_bigram"], &n["mlp"]);
    for (what, v) in [
        ("counting bigram, unsmoothed, train", &cb["train_nll_unsmoothed"]),
        ("counting bigram, train", &cb["train_nll"]),
        ("counting bigram, validation", &cb["validation_nll"]),
        ("neural bigram, train", &nb["train_nll"]),
        ("neural bigram, validation", &nb["validation_nll"]),
        ("MLP, train", &mlp["train_nll"]),
        ("MLP, validation", &mlp["validation_nll"]),
        ("test", &n["test_nll"]),
    ] {
        assert!(f(v) > 0.0 && f(v) < ln27 - 0.5, "{what}: {v} is not well below ln 27");
    }
}

#[test]
fn gradient_descent_finds_the_counting_bigram_and_more_context_predicts_better() {
    let n = exp("next_token");
    let (cb, nb, mlp) = (&n["counting_bigram"], &n["neural_bigram"], &n["mlp"]);
    let counted = f(&cb["train_nll_unsmoothed"]);
    let curve: Vec<f64> = nb["curve"].as_array().unwrap().iter().map(|p| f(&p["train_nll"])).collect();
    // W = 0 starts at the uniform model; the counts are the minimum, which descent approaches.
    assert!((curve[0] - 27f64.ln()).abs() < 1e-9, "{}", curve[0]);
    assert!((f(&nb["train_nll"]) - counted).abs() < 0.02, "neural {} vs counting {counted}", nb["train_nll"]);
    assert!(f(&nb["train_nll"]) >= counted - 1e-6, "nothing beats the maximum-likelihood counts on training");
    assert!(f(&nb["max_probability_difference_to_counting"]) < 0.02);
    // Smoothing costs a little on training and makes unseen pairs finite.
    assert!(f(&cb["train_nll"]) >= counted);
    // Three characters of context beat one on names never seen in training.
    assert!(
        f(&mlp["validation_nll"]) < f(&cb["validation_nll"]),
        "MLP {} vs bigram {}",
        mlp["validation_nll"],
        cb["validation_nll"]
    );
    assert!(f(&mlp["validation_nll"]) < f(&nb["validation_nll"]));
    assert_eq!(n["chosen"], "MLP", "validation picks the MLP; the test set is scored for it alone");
    let pts = mlp["curve"].as_array().unwrap();
    assert!(f(&pts.last().unwrap()["validation_nll"]) < f(&pts[0]["validation_nll"]));
}

#[test]
fn sampled_names_are_lowercase_words_and_counted_honestly() {
    let s = &exp("next_token")["samples"];
    let all = names_file();
    for model in ["bigram", "mlp"] {
        let names: Vec<&str> = s[model]["names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(names.len(), 10, "{model}");
        for name in &names {
            assert!(!name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase()), "{model}: {name:?}");
            assert!(name.len() <= s["max_length"].as_u64().unwrap() as usize);
        }
        let (known, new) = (s[model]["in_training_list"].as_u64().unwrap(), s[model]["new"].as_u64().unwrap());
        assert_eq!(known + new, 10);
        // A sample in no list at all cannot be a training name.
        let in_no_list = names.iter().filter(|n| !all.contains(&n.to_string())).count() as u64;
        assert!(new >= in_no_list, "{model}: {new} new, but {in_no_list} are in no list");
    }
}

#[test]
fn an_unknown_experiment_is_refused_with_the_names() {
    let dir = std::env::temp_dir().join(format!("ftheta-lab-test-unknown-{}", std::process::id()));
    let e = ftheta_lab::run_lab(&ftheta_lab::LabConfig::quick(&dir), Some("nope")).unwrap_err().to_string();
    assert!(e.contains("nope") && e.contains("learning_rate"), "{e}");
    assert!(!dir.exists(), "nothing is created for a refused run");
}
