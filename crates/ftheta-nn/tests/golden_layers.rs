//! The layers that compose tensor ops (BatchNorm1d/2d, LayerNorm, Flatten) against PyTorch:
//! forward values, gradients of the input and of every parameter, and the running statistics
//! after each training step, from `tests/golden/layers.json` (written by `scripts/golden_nn.py`).

use ftheta_core::Tensor;
use ftheta_nn::{BatchNorm1d, BatchNorm2d, BatchNormConfig, Flatten, LayerNorm, Module};
use serde_json::Value;

static GOLDEN: &str = include_str!("golden/layers.json");

fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"].as_array().unwrap().iter().map(|s| s.as_u64().unwrap() as usize).collect();
    Tensor::from_vec(floats(&v["data"]), &shape)
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// f32 arithmetic against PyTorch's f64 on the same f32 inputs.
fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = 2e-5 * (w.abs() as f64).max(1.0);
        assert!((g as f64 - w as f64).abs() <= tol, "{what}[{i}]: ftheta {g}, PyTorch {w}");
    }
}

fn build(case: &Value) -> Box<dyn Module> {
    let p = &case["params"];
    let bn = || BatchNormConfig {
        eps: p["eps"].as_f64().unwrap_or(1e-5),
        momentum: if p.get("momentum").is_some_and(Value::is_null) {
            None
        } else {
            Some(p["momentum"].as_f64().unwrap_or(0.1))
        },
        affine: p["affine"].as_bool().unwrap_or(true),
        track_running_stats: p["track_running_stats"].as_bool().unwrap_or(true),
    };
    let features = p["features"].as_u64().unwrap_or(0) as usize;
    match case["layer"].as_str().unwrap() {
        "batchnorm1d" => Box::new(BatchNorm1d::with_config(features, bn())),
        "batchnorm2d" => Box::new(BatchNorm2d::with_config(features, bn())),
        "layernorm" => {
            let shape: Vec<usize> =
                p["shape"].as_array().unwrap().iter().map(|s| s.as_u64().unwrap() as usize).collect();
            let affine = p["affine"].as_bool().unwrap_or(true);
            Box::new(LayerNorm::with_options(
                &shape,
                p["eps"].as_f64().unwrap_or(1e-5),
                affine,
                p["bias"].as_bool().unwrap_or(true),
            ))
        }
        "flatten" => Box::new(Flatten::dims(
            p["start_dim"].as_i64().unwrap_or(1) as isize,
            p["end_dim"].as_i64().unwrap_or(-1) as isize,
        )),
        other => panic!("unknown layer {other}"),
    }
}

#[test]
fn layers_match_pytorch_in_training_and_evaluation() {
    let root: Value = serde_json::from_str(GOLDEN).unwrap();
    let cases = root["cases"].as_array().unwrap();
    assert!(cases.len() >= 11);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let layer = build(case);
        let keys: Vec<String> = layer.state_dict().into_iter().map(|(n, _)| n).collect();
        let want_keys: Vec<String> =
            case["state_dict_keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect();
        assert_eq!(keys, want_keys, "{name}: state_dict names");
        let state = layer.state_dict();
        ftheta_core::no_grad(|| {
            for (n, t) in &state {
                t.copy_(&tensor(&case["init"][n]));
            }
        });
        for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let what = format!("{name} step {i} ({})", step["mode"].as_str().unwrap());
            layer.set_training(step["mode"] == "train");
            layer.zero_grad();
            let x = tensor(&step["x"]).requires_grad();
            let out = layer.forward(&x);
            let want = tensor(&step["out"]);
            assert_eq!(out.shape(), want.shape(), "{what}: shape");
            assert_close(&out.to_vec(), &want.to_vec(), &format!("{what}: out"));
            let r = Tensor::from_vec(floats(&step["r"]), out.shape());
            out.mul(&r).sum().backward();
            assert_close(&x.grad().unwrap().to_vec(), &floats(&step["grads"]["x"]), &format!("{what}: grad x"));
            for (n, p) in layer.named_parameters() {
                let g = p.grad().unwrap().to_vec();
                assert_close(&g, &floats(&step["grads"][&n]), &format!("{what}: grad {n}"));
            }
            for (n, b) in layer.named_buffers() {
                assert_close(&b.to_vec(), &floats(&step["buffers"][&n]), &format!("{what}: buffer {n}"));
            }
        }
    }
}
