//! PyTorch interop: a model saved by PyTorch (`tests/golden/torch_mlp.safetensors`, the state_dict
//! of `Net` in `scripts/golden_nn.py`: `self.layers = Sequential(Linear(5, 7), Tanh(), Linear(7, 3))`)
//! loads into ftheta's `mlp:7:tanh` and computes PyTorch's output; ftheta writes the same names.
//!
//! The other direction needs Python: with `FTHETA_INTEROP_OUT=path`, `an_ftheta_checkpoint_for_torch`
//! writes a checkpoint (with its input and ftheta's output in the metadata) for
//! `python scripts/golden_nn.py --check-ftheta path`, which loads it with `strict=True`.

use std::path::{Path, PathBuf};

use ftheta_core::Tensor;
use ftheta_nn::{Checkpoint, Init, Model, ModelSpec, Module};
use safetensors::SafeTensors;
use serde_json::Value;

static GOLDEN: &str = include_str!("golden/optim.json");

fn torch_case() -> Value {
    let root: Value = serde_json::from_str(GOLDEN).expect("tests/golden/optim.json is not valid JSON");
    root["torch_mlp"].clone()
}

fn golden_file(case: &Value) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(case["file"].as_str().unwrap())
}

fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"].as_array().unwrap().iter().map(|s| s.as_u64().unwrap() as usize).collect();
    let data = v["data"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect();
    Tensor::from_vec(data, &shape)
}

fn torch_keys(case: &Value) -> Vec<String> {
    case["state_dict_keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_string()).collect()
}

/// A fresh `mlp:7:tanh` with 5 inputs and 3 outputs, initialized by ftheta.
fn ftheta_model(case: &Value, seed: u64) -> Model {
    ftheta_core::manual_seed(seed);
    let spec: ModelSpec = case["spec"].as_str().unwrap().parse().unwrap();
    spec.build(case["inputs"].as_u64().unwrap() as usize, case["outputs"].as_u64().unwrap() as usize, Init::PyTorch)
        .unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ftheta-nn-interop-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let tol = 1e-5 * (w.abs() as f64).max(1.0);
        assert!((g as f64 - w as f64).abs() <= tol, "{what}[{i}]: ftheta {g}, PyTorch {w}");
    }
}

#[test]
fn a_pytorch_state_dict_loads_and_computes_pytorchs_output() {
    let case = torch_case();
    let path = golden_file(&case);
    let model = ftheta_model(&case, 1);
    let ck = Checkpoint::load(&path).unwrap();
    ck.load_into(&model, &path).unwrap();
    for (name, p) in model.named_parameters() {
        assert_eq!(p.to_vec(), ck.get(&name).unwrap().to_vec(), "{name} was not copied in");
    }
    let y = model.forward(&tensor(&case["x"]));
    let want = tensor(&case["y"]);
    assert_eq!(y.shape(), want.shape());
    assert_close(&y.to_vec(), &want.to_vec(), "forward output");
}

#[test]
fn ftheta_names_its_parameters_like_the_pytorch_state_dict() {
    let case = torch_case();
    let keys = torch_keys(&case);
    let model = ftheta_model(&case, 2);
    let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, keys, "named_parameters must equal torch's state_dict keys, in order");

    // And what it writes: the same names, as F32 tensors of the shapes PyTorch wrote.
    let dir = temp_dir("names");
    let path = dir.join("model.safetensors");
    Checkpoint::from_module(&model).save(&path).unwrap();
    let ours = std::fs::read(&path).unwrap();
    let theirs = std::fs::read(golden_file(&case)).unwrap();
    let (ours, theirs) = (SafeTensors::deserialize(&ours).unwrap(), SafeTensors::deserialize(&theirs).unwrap());
    let mut written: Vec<String> = ours.names().iter().map(|s| s.to_string()).collect();
    written.sort();
    let mut sorted_keys = keys.clone();
    sorted_keys.sort();
    assert_eq!(written, sorted_keys, "the tensors ftheta writes");
    for k in &keys {
        let (a, b) = (ours.tensor(k).unwrap(), theirs.tensor(k).unwrap());
        assert_eq!((a.dtype(), a.shape()), (b.dtype(), b.shape()), "{k}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_loaded_torch_model_round_trips_through_an_ftheta_checkpoint() {
    let case = torch_case();
    let src = golden_file(&case);
    let a = ftheta_model(&case, 3);
    Checkpoint::load(&src).unwrap().load_into(&a, &src).unwrap();

    let dir = temp_dir("round-trip");
    let path = dir.join("ftheta.safetensors");
    Checkpoint::from_module(&a).with_meta("spec", case["spec"].as_str().unwrap()).save(&path).unwrap();
    let ck = Checkpoint::load(&path).unwrap();
    assert_eq!(ck.metadata.get("spec").map(String::as_str), case["spec"].as_str());

    let b = ftheta_model(&case, 4);
    ck.load_into(&b, &path).unwrap();
    for ((n, x), (_, y)) in a.named_parameters().iter().zip(b.named_parameters()) {
        assert_eq!(x.to_vec(), y.to_vec(), "{n} changed in the round trip");
    }
    let x = tensor(&case["x"]);
    assert_eq!(a.forward(&x).to_vec(), b.forward(&x).to_vec());
    assert_close(&b.forward(&x).to_vec(), &tensor(&case["y"]).to_vec(), "forward after the round trip");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Writes an ftheta-initialized checkpoint for `scripts/golden_nn.py --check-ftheta` when
/// `FTHETA_INTEROP_OUT` names a file; otherwise checks only that it can be written and read back.
#[test]
fn an_ftheta_checkpoint_for_torch() {
    let case = torch_case();
    let model = ftheta_model(&case, 5);
    let x = tensor(&case["x"]);
    let y = model.forward(&x);
    let rows = |t: &Tensor| -> String {
        let cols = t.shape()[1];
        let v: Vec<Vec<f32>> = t.to_vec().chunks(cols).map(<[f32]>::to_vec).collect();
        serde_json::to_string(&v).unwrap()
    };
    let ck = Checkpoint::from_module(&model)
        .with_meta("spec", case["spec"].as_str().unwrap())
        .with_meta("ftheta.input", rows(&x))
        .with_meta("ftheta.output", rows(&y));
    let (path, temp) = match std::env::var_os("FTHETA_INTEROP_OUT") {
        Some(p) => (PathBuf::from(p), None),
        None => {
            let d = temp_dir("for-torch");
            (d.join("ftheta.safetensors"), Some(d))
        }
    };
    ck.save(&path).unwrap();
    let back = Checkpoint::load(&path).unwrap();
    assert_eq!(back.metadata.get("ftheta.output"), Some(&rows(&y)));
    if let Some(d) = temp {
        std::fs::remove_dir_all(d).unwrap();
    } else {
        eprintln!("wrote {} for scripts/golden_nn.py --check-ftheta", path.display());
    }
}
