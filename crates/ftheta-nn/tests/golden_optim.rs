//! Golden tests against PyTorch for the optimizers, learning-rate schedules, gradient clipping and
//! losses (`tests/golden/optim.json`, written by `scripts/golden_nn.py`; CI has no Python, so the
//! file is committed).
//!
//! Optimizers: a 3-4-2 tanh MLP starts from PyTorch's recorded weights and takes the same steps on
//! the same batch as in PyTorch (float32 on both sides); after every step each parameter must be
//! within `1e-5 · max(1, |expected|)` of PyTorch's, and so must the loss, the learning rate and the
//! gradient norm before clipping. Losses: value and gradient with respect to the prediction against
//! PyTorch's float64 values for the same float32 inputs.

use std::path::Path;

use ftheta_core::Tensor;
use ftheta_nn::loss;
use ftheta_nn::{
    clip_grad_norm, Adam, AdamConfig, Checkpoint, Init, Model, ModelSpec, Module, Optimizer, Schedule, Sgd, SgdConfig,
};
use serde_json::Value;

static GOLDEN: &str = include_str!("golden/optim.json");

const RTOL: f64 = 1e-5;

fn golden() -> Value {
    serde_json::from_str(GOLDEN).expect("tests/golden/optim.json is not valid JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("an array of numbers").iter().map(|x| x.as_f64().expect("a number")).collect()
}

fn real(v: &Value, key: &str) -> f64 {
    v[key].as_f64().unwrap_or_else(|| panic!("`{key}` is missing"))
}

fn count(v: &Value, key: &str) -> usize {
    v[key].as_u64().unwrap_or_else(|| panic!("`{key}` is missing")) as usize
}

/// A `{"shape": [...], "data": [...]}` object as an f32 tensor.
fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"].as_array().unwrap().iter().map(|s| s.as_u64().unwrap() as usize).collect();
    Tensor::from_vec(floats(&v["data"]).into_iter().map(|x| x as f32).collect(), &shape)
}

fn close(got: f64, want: f64) -> bool {
    (got - want).abs() <= RTOL * want.abs().max(1.0)
}

/// Compares element by element; records the first few mismatches in `bad`.
fn compare(bad: &mut Vec<String>, what: &str, got: &[f64], want: &[f64]) {
    if got.len() != want.len() {
        bad.push(format!("{what}: {} values, PyTorch has {}", got.len(), want.len()));
        return;
    }
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if !close(g, w) {
            bad.push(format!("{what}[{i}]: ftheta {g:e}, PyTorch {w:e} (difference {:e})", g - w));
        }
    }
}

fn schedule(v: &Value) -> Schedule {
    match v["kind"].as_str().expect("a schedule kind") {
        "constant" => Schedule::Constant,
        "step" => Schedule::Step { every: count(v, "every"), gamma: real(v, "gamma") },
        "cosine" => Schedule::Cosine { total: count(v, "total"), min_lr: real(v, "min_lr") },
        "warmup" => Schedule::Warmup { warmup: count(v, "warmup"), then: Box::new(schedule(&v["then"])) },
        other => panic!("unknown schedule kind {other}"),
    }
}

/// The MLP of the golden problem with PyTorch's initial weights copied in.
fn problem_model(problem: &Value) -> Model {
    let spec: ModelSpec = problem["spec"].as_str().unwrap().parse().unwrap();
    let model = spec.build(count(problem, "inputs"), count(problem, "outputs"), Init::XavierNormal).unwrap();
    let mut ck = Checkpoint::new();
    for (name, t) in problem["init"].as_object().unwrap() {
        ck.insert(name.clone(), tensor(t));
    }
    ck.load_into(&model, Path::new("optim.json#problem.init")).unwrap();
    model
}

fn optimizer(case: &Value, params: Vec<Tensor>) -> Box<dyn Optimizer> {
    let h = &case["hyper"];
    let get = |k: &str, default: f64| h[k].as_f64().unwrap_or(default);
    match case["kind"].as_str().unwrap() {
        "sgd" => Box::new(
            Sgd::with_config(
                params,
                SgdConfig {
                    lr: real(h, "lr"),
                    momentum: real(h, "momentum"),
                    dampening: real(h, "dampening"),
                    weight_decay: real(h, "weight_decay"),
                    nesterov: h["nesterov"].as_bool().unwrap(),
                },
            )
            .unwrap(),
        ),
        // PyTorch's AdamW default λ is checked through ftheta's own default constructor.
        "adamw" if h.get("weight_decay").is_none() => Box::new(Adam::adamw(params, real(h, "lr")).unwrap()),
        kind @ ("adam" | "adamw") => Box::new(
            Adam::with_config(
                params,
                AdamConfig {
                    lr: real(h, "lr"),
                    beta1: get("beta1", 0.9),
                    beta2: get("beta2", 0.999),
                    eps: get("eps", 1e-8),
                    weight_decay: get("weight_decay", 0.0),
                    decoupled: kind == "adamw",
                },
            )
            .unwrap(),
        ),
        other => panic!("unknown optimizer kind {other}"),
    }
}

fn run_optimizer_case(root: &Value, case: &Value) -> Vec<String> {
    let problem = &root["problem"];
    let name = case["name"].as_str().unwrap();
    let model = problem_model(problem);
    let x = tensor(&problem["x"]);
    let target = match case["loss"].as_str().unwrap() {
        "mse" => tensor(&problem["y"]),
        "cross_entropy" => {
            let c: Vec<f32> = floats(&problem["classes"]).into_iter().map(|v| v as f32).collect();
            let n = c.len();
            Tensor::from_vec(c, &[n])
        }
        other => panic!("unknown loss {other}"),
    };
    let params = model.parameters();
    let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
    let mut opt = optimizer(case, params.clone());
    let base = opt.lr();
    let sched = case.get("schedule").filter(|s| !s.is_null()).map(schedule);
    let clip = case.get("clip").and_then(Value::as_f64);
    let mut bad = Vec::new();
    for (t, rec) in case["steps"].as_array().unwrap().iter().enumerate() {
        if let Some(s) = &sched {
            opt.set_lr(s.lr(base, t));
        }
        compare(&mut bad, &format!("{name} step {t} lr"), &[opt.lr()], &[real(rec, "lr")]);
        opt.zero_grad();
        let out = model.forward(&x);
        let l = match case["loss"].as_str().unwrap() {
            "mse" => loss::mse(&out, &target),
            _ => loss::cross_entropy(&out, &target),
        };
        compare(&mut bad, &format!("{name} step {t} loss"), &[l.item() as f64], &[real(rec, "loss")]);
        l.backward();
        if let Some(max_norm) = clip {
            let norm = clip_grad_norm(&params, max_norm);
            compare(&mut bad, &format!("{name} step {t} grad norm"), &[norm], &[real(rec, "grad_norm")]);
        }
        opt.step();
        for (n, p) in names.iter().zip(&params) {
            let got: Vec<f64> = p.to_vec().into_iter().map(f64::from).collect();
            compare(&mut bad, &format!("{name} step {t} {n}"), &got, &floats(&rec["params"][n]));
        }
    }
    bad
}

#[test]
fn every_optimizer_follows_pytorch_step_for_step() {
    let root = golden();
    let cases = root["optimizers"].as_array().unwrap();
    assert!(cases.len() >= 15, "the golden file has only {} optimizer runs", cases.len());
    let mut bad = Vec::new();
    for case in cases {
        bad.extend(run_optimizer_case(&root, case));
    }
    assert!(bad.is_empty(), "{} mismatches with PyTorch:\n{}", bad.len(), bad[..bad.len().min(40)].join("\n"));
}

#[test]
fn the_golden_runs_cover_every_optimizer_setting() {
    let root = golden();
    let names: Vec<&str> = root["optimizers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    for want in [
        "sgd",
        "sgd_momentum",
        "sgd_momentum_dampening",
        "sgd_nesterov",
        "sgd_weight_decay",
        "adam",
        "adam_weight_decay",
        "adamw_default",
        "adamw_weight_decay_0.2",
        "sgd_steplr",
        "sgd_momentum_cosine",
        "adam_warmup",
        "sgd_momentum_clip",
    ] {
        assert!(names.contains(&want), "no golden run '{want}' in {names:?}");
    }
    // Each run must move the weights, or it would prove nothing.
    for case in root["optimizers"].as_array().unwrap() {
        let first = &case["steps"][0]["params"]["layers.0.weight"];
        let init = &root["problem"]["init"]["layers.0.weight"]["data"];
        assert_ne!(first, init, "{}: PyTorch's first step changed nothing", case["name"]);
    }
}

#[test]
fn schedules_give_pytorchs_learning_rates() {
    let root = golden();
    let mut bad = Vec::new();
    for case in root["schedules"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let s = schedule(&case["schedule"]);
        let base = real(case, "base");
        let want = floats(&case["lrs"]);
        for (t, &w) in want.iter().enumerate() {
            let got = s.lr(base, t);
            // Both sides compute in f64: only PyTorch's recursive form may differ, in the last bits.
            if (got - w).abs() > 1e-12 * w.abs().max(1.0) {
                bad.push(format!("{name} update {t}: ftheta {got:e}, PyTorch {w:e}"));
            }
        }
    }
    assert!(bad.is_empty(), "learning rates differ from PyTorch:\n{}", bad.join("\n"));
}

#[test]
fn losses_and_their_gradients_match_pytorch() {
    let root = golden();
    let mut bad = Vec::new();
    for case in root["losses"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let pred = tensor(&case["pred"]).requires_grad();
        let target = tensor(&case["target"]);
        let l = match name {
            "mse" => loss::mse(&pred, &target),
            "mae" => loss::mae(&pred, &target),
            "huber" => loss::huber(&pred, &target, real(&case["params"], "delta")),
            "bce_with_logits" => loss::bce_with_logits(&pred, &target),
            "cross_entropy" => loss::cross_entropy(&pred, &target),
            other => panic!("unknown loss {other}"),
        };
        let label = format!("{name} {}", case["params"]);
        compare(&mut bad, &format!("{label} value"), &[l.item() as f64], &[real(case, "loss")]);
        l.backward();
        let grad: Vec<f64> = pred.grad().expect("a gradient").to_vec().into_iter().map(f64::from).collect();
        compare(&mut bad, &format!("{label} gradient"), &grad, &floats(&case["grad"]));
    }
    assert!(bad.is_empty(), "losses differ from PyTorch:\n{}", bad.join("\n"));
}
