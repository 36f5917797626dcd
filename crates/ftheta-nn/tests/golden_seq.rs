//! Sequence layers against PyTorch: forward values and every gradient of `Embedding`, `RNN`,
//! `GRU` and `LSTM` (one and two layers), causal scaled dot-product attention, nanoGPT's
//! `CausalSelfAttention`, `Block` and transformer body (twins written out in the script), compared with numbers PyTorch computed in float64 from
//! the same f32 inputs (`tests/golden/seq.json`, written by `scripts/golden_seq.py`; committed, so
//! CI needs no Python). A value passes within `1e-5 · max(1, |expected|)`.
//!
//! With `FTHETA_INTEROP_OUT=path`, `an_ftheta_gru_checkpoint_for_torch` also writes a 2-layer GRU
//! checkpoint with its input and output for `python scripts/golden_seq.py --check-ftheta path`,
//! which loads it into `torch.nn.GRU` with `load_state_dict(strict=True)` and compares outputs.

use ftheta_core::{no_grad, Tensor};
use ftheta_nn::attention::{scaled_dot_product_attention, CausalSelfAttention};
use ftheta_nn::transformer::{Block, Transformer, TransformerConfig};
use ftheta_nn::{CellKind, Checkpoint, Embedding, Module, Recurrent, RecurrentState};
use serde_json::Value;

static GOLDEN: &str = include_str!("golden/seq.json");

fn case(name: &str) -> Value {
    let root: Value = serde_json::from_str(GOLDEN).expect("tests/golden/seq.json is not valid JSON");
    root["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
        .clone()
}

fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"].as_array().unwrap().iter().map(|s| s.as_u64().unwrap() as usize).collect();
    let data = v["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    Tensor::from_vec(data, &shape)
}

#[track_caller]
fn assert_close(got: &Tensor, want: &Value, what: &str) {
    let w = tensor(want);
    assert_eq!(got.shape(), w.shape(), "{what}: shape");
    for (i, (g, e)) in got.to_vec().iter().zip(w.to_vec()).enumerate() {
        let tol = 1e-5 * (e.abs() as f64).max(1.0);
        assert!((*g as f64 - e as f64).abs() <= tol, "{what}[{i}]: ftheta {g}, PyTorch {e}");
    }
}

#[test]
fn embedding_matches_torch_and_adds_the_gradients_of_repeated_ids() {
    let c = case("embedding");
    let e = Embedding::from_tensor(tensor(&c["weight"]));
    let out = e.forward(&tensor(&c["ids"]));
    assert_close(&out, &c["out"], "embedding output");
    out.mul(&tensor(&c["r"])).sum().backward();
    assert_close(&e.weight.grad().unwrap(), &c["grad_weight"], "embedding ∂W");
}

fn recurrent_from(c: &Value) -> Recurrent {
    let kind = match c["kind"].as_str().unwrap() {
        "rnn" => CellKind::Rnn,
        "gru" => CellKind::Gru,
        _ => CellKind::Lstm,
    };
    let n = |k: &str| c[k].as_u64().unwrap() as usize;
    let m = Recurrent::new(kind, n("input"), n("hidden"), n("layers"));
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    let keys: Vec<String> = c["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect();
    assert_eq!(names, keys, "parameter names must be torch's state_dict keys, in order");
    no_grad(|| {
        for (name, p) in m.named_parameters() {
            p.copy_(&tensor(&c["state_dict"][&name]));
        }
    });
    m
}

fn check_recurrent(name: &str) {
    let c = case(name);
    let m = recurrent_from(&c);
    let x = tensor(&c["x"]).requires_grad();
    let h0 = tensor(&c["h0"]).requires_grad();
    let c0 = c.get("c0").map(|v| tensor(v).requires_grad());
    let (out, s) = m.forward_with_state(&x, Some(&RecurrentState { h: h0.clone(), c: c0.clone() }));
    assert_close(&out, &c["out"], &format!("{name} output"));
    assert_close(&s.h, &c["h_n"], &format!("{name} h_n"));
    let mut loss = out.mul(&tensor(&c["r"])).sum().add(&s.h.mul(&tensor(&c["r_h"])).sum());
    if let Some(cn) = &s.c {
        assert_close(cn, &c["c_n"], &format!("{name} c_n"));
        loss = loss.add(&cn.mul(&tensor(&c["r_c"])).sum());
    }
    let want = c["loss"].as_f64().unwrap();
    assert!((loss.item() as f64 - want).abs() <= 1e-5 * want.abs().max(1.0), "{name} loss {} vs {want}", loss.item());
    loss.backward();
    assert_close(&x.grad().unwrap(), &c["grad_x"], &format!("{name} ∂x"));
    assert_close(&h0.grad().unwrap(), &c["grad_h0"], &format!("{name} ∂h0"));
    if let Some(c0) = c0 {
        assert_close(&c0.grad().unwrap(), &c["grad_c0"], &format!("{name} ∂c0"));
    }
    for (n, p) in m.named_parameters() {
        assert_close(&p.grad().unwrap(), &c["grads"][&n], &format!("{name} ∂{n}"));
    }
}

#[test]
fn rnn_matches_torch() {
    check_recurrent("rnn_l1");
    check_recurrent("rnn_l2");
}

#[test]
fn gru_matches_torch() {
    check_recurrent("gru_l1");
    check_recurrent("gru_l2");
}

#[test]
fn lstm_matches_torch() {
    check_recurrent("lstm_l1");
    check_recurrent("lstm_l2");
}

#[test]
fn an_ftheta_gru_checkpoint_for_torch() {
    ftheta_core::manual_seed(11);
    let m = Recurrent::new(CellKind::Gru, 3, 4, 2);
    let x = Tensor::randn(&[2, 6, 3]);
    let y = no_grad(|| m.forward(&x));
    let json = |t: &Tensor| {
        let v: Vec<f64> = t.to_vec_f64();
        let s = t.shape();
        let rows: Vec<Value> = v
            .chunks(s[1] * s[2])
            .map(|b| Value::Array(b.chunks(s[2]).map(|r| serde_json::json!(r)).collect()))
            .collect();
        Value::Array(rows).to_string()
    };
    let dir = std::env::temp_dir().join(format!("ftheta-seq-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = match std::env::var_os("FTHETA_INTEROP_OUT") {
        Some(p) => std::path::PathBuf::from(p),
        None => dir.join("gru.safetensors"),
    };
    Checkpoint::from_module(&m)
        .with_meta("ftheta.module", r#"{"kind": "gru", "input": 3, "hidden": 4, "layers": 2}"#)
        .with_meta("ftheta.input", json(&x))
        .with_meta("ftheta.output", json(&y))
        .save(&path)
        .unwrap();
    // Whatever Python will find: the file loads back into the same shapes and gives the same output.
    let back = Recurrent::new(CellKind::Gru, 3, 4, 2);
    back.load_weights(&path).unwrap();
    assert_eq!(no_grad(|| back.forward(&x)).to_vec(), y.to_vec());
    std::fs::remove_dir_all(dir).ok();
}

fn load_params(m: &dyn Module, c: &Value) {
    let names: Vec<String> = m.named_parameters().into_iter().map(|(n, _)| n).collect();
    let keys: Vec<String> = c["keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect();
    assert_eq!(names, keys, "parameter names must be the torch twin's state_dict keys, in order");
    no_grad(|| m.named_parameters().iter().for_each(|(n, p)| p.copy_(&tensor(&c["state_dict"][n]))));
}

fn check_param_grads(m: &dyn Module, c: &Value, what: &str) {
    for (n, p) in m.named_parameters() {
        assert_close(&p.grad().unwrap(), &c["grads"][&n], &format!("{what} ∂{n}"));
    }
}

#[test]
fn scaled_dot_product_attention_matches_torch() {
    let c = case("sdpa_causal");
    let [q, k, v] = ["q", "k", "v"].map(|n| tensor(&c[n]).requires_grad());
    let (out, w) = scaled_dot_product_attention(&q, &k, &v, true);
    assert_close(&out, &c["out"], "attention output");
    assert_close(&w, &c["weights"], "attention weights");
    out.mul(&tensor(&c["r"])).sum().add(&w.mul(&tensor(&c["r_w"])).sum()).backward();
    for (n, t) in ["q", "k", "v"].iter().zip([&q, &k, &v]) {
        assert_close(&t.grad().unwrap(), &c[format!("grad_{n}").as_str()], &format!("∂{n}"));
    }
}

#[test]
fn causal_self_attention_matches_torch() {
    let c = case("attention");
    let m = CausalSelfAttention::new(8, 2);
    load_params(&m, &c);
    let x = tensor(&c["x"]).requires_grad();
    let (out, w) = m.forward_with_weights(&x);
    assert_close(&out, &c["out"], "attention output");
    assert_close(&w, &c["weights"][0], "attention weights");
    out.mul(&tensor(&c["r"])).sum().backward();
    assert_close(&x.grad().unwrap(), &c["grad_x"], "attention ∂x");
    check_param_grads(&m, &c, "attention");
}

#[test]
fn a_transformer_block_matches_torch() {
    let c = case("block");
    let m = Block::new(8, 2, 0.0);
    load_params(&m, &c);
    let x = tensor(&c["x"]).requires_grad();
    let (out, w) = m.forward_with_weights(&x);
    assert_close(&out, &c["out"], "block output");
    assert_close(&w, &c["weights"][0], "block attention weights");
    out.mul(&tensor(&c["r"])).sum().backward();
    assert_close(&x.grad().unwrap(), &c["grad_x"], "block ∂x");
    check_param_grads(&m, &c, "block");
}

#[test]
fn the_transformer_matches_torch() {
    let c = case("transformer");
    let n = |k: &str| c[k].as_u64().unwrap() as usize;
    let config = TransformerConfig {
        vocab: n("vocab"),
        context: n("context"),
        layers: n("layers"),
        heads: n("heads"),
        dim: n("dim"),
        dropout: 0.0,
    };
    let m = Transformer::new(config);
    load_params(&m, &c);
    let (out, ws) = m.forward_with_weights(&tensor(&c["x"]));
    assert_close(&out, &c["out"], "transformer output");
    for (i, w) in ws.iter().enumerate() {
        assert_close(w, &c["weights"][i], &format!("block {i} attention weights"));
    }
    out.mul(&tensor(&c["r"])).sum().backward();
    check_param_grads(&m, &c, "transformer");
}
