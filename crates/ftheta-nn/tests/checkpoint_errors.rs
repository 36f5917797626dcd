//! Bad checkpoints: truncated, tampered, not safetensors at all, of another model, or of a tensor
//! type ftheta does not read. Each must be an `Err` whose message names the file and the problem,
//! never a panic, and a refused load must leave the model as it was.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use ftheta_nn::{Checkpoint, Init, Model, ModelSpec, Module};
use safetensors::tensor::{Dtype, TensorView};
use serde_json::Value;

/// A folder of its own for each test, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("ftheta-nn-ckpt-errors-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn model(spec: &str) -> Model {
    ftheta_core::manual_seed(11);
    spec.parse::<ModelSpec>().unwrap().build(3, 2, Init::PyTorch).unwrap()
}

/// A valid checkpoint's bytes.
fn good_bytes() -> Vec<u8> {
    Checkpoint::from_module(&model("mlp:4:tanh")).with_meta("spec", "mlp:4:tanh").to_bytes().unwrap()
}

/// `Checkpoint::load`'s error for a file, failing the test if it panics or succeeds.
fn load_error(path: &Path) -> String {
    match catch_unwind(AssertUnwindSafe(|| Checkpoint::load(path))) {
        Ok(Ok(_)) => panic!("{} loaded, but it is broken", path.display()),
        Ok(Err(e)) => e.to_string(),
        Err(_) => panic!("loading {} panicked instead of returning an error", path.display()),
    }
}

/// Checks that the message names the file and each of `problems`.
#[track_caller]
fn assert_names(e: &str, path: &Path, problems: &[&str]) {
    assert!(e.contains(&path.display().to_string()), "the message does not name the file: {e}");
    for p in problems {
        assert!(e.contains(p), "the message does not say '{p}': {e}");
    }
}

/// The JSON header of a safetensors file, and the data after it.
fn split(bytes: &[u8]) -> (Value, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (serde_json::from_slice(&bytes[8..8 + n]).unwrap(), bytes[8 + n..].to_vec())
}

/// A file from a (possibly tampered) header and data, with a correct header length.
fn join(header: &Value, data: &[u8]) -> Vec<u8> {
    let h = serde_json::to_vec(header).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

#[test]
fn truncated_files_are_errors_naming_the_file() {
    let dir = TempDir::new("truncated");
    let bytes = good_bytes();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    // Inside the length prefix, inside the header, at its end, inside the data.
    for cut in [0, 3, 7, 8, 9, 8 + header_len / 2, 8 + header_len, 8 + header_len + 1, bytes.len() - 4, bytes.len() - 1]
    {
        let path = dir.write(&format!("cut-{cut}.safetensors"), &bytes[..cut]);
        let e = load_error(&path);
        assert_names(&e, &path, &["not a valid safetensors file"]);
    }
}

#[test]
fn a_tampered_header_is_an_error_naming_the_file() {
    let dir = TempDir::new("tampered");
    let bytes = good_bytes();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();

    // The length prefix points past the end of the file, or is absurd.
    let mut past_end = bytes.clone();
    past_end[..8].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
    cases.push(("length-past-end", past_end));
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    cases.push(("length-huge", huge));
    let mut short = bytes.clone();
    short[..8].copy_from_slice(&((header_len / 2) as u64).to_le_bytes());
    cases.push(("length-short", short));

    // Bytes flipped inside the JSON header: its opening brace, one in the middle, invalid UTF-8.
    let mut brace = bytes.clone();
    brace[8] ^= 0x55;
    cases.push(("flipped-brace", brace));
    let mut middle = bytes.clone();
    middle[8 + header_len / 2] ^= 0xff;
    cases.push(("flipped-middle", middle));
    let mut zeros = bytes.clone();
    zeros[8..8 + header_len].iter_mut().step_by(7).for_each(|b| *b = 0);
    cases.push(("zeroed-bytes", zeros));

    // A well-formed header that lies: an unknown type, offsets past the data, a shape that does not
    // fit its bytes, overlapping tensors, metadata that is not strings.
    let (header, data) = split(&bytes);
    let first = header.as_object().unwrap().keys().find(|k| *k != "__metadata__").unwrap().clone();
    let tamper = |f: &dyn Fn(&mut Value)| {
        let mut h = header.clone();
        f(&mut h);
        join(&h, &data)
    };
    cases.push(("unknown-dtype", tamper(&|h| h[&first]["dtype"] = "F33".into())));
    cases.push(("offsets-past-end", tamper(&|h| h[&first]["data_offsets"][1] = (data.len() as u64 + 64).into())));
    cases.push(("shape-not-bytes", tamper(&|h| h[&first]["shape"] = serde_json::json!([1000, 1000]))));
    cases.push(("negative-shape", tamper(&|h| h[&first]["shape"] = serde_json::json!([-1, 3]))));
    cases.push((
        "overlapping",
        tamper(&|h| {
            for (k, v) in h.as_object_mut().unwrap() {
                if k != "__metadata__" {
                    v["data_offsets"] = serde_json::json!([0, 16]);
                    v["shape"] = serde_json::json!([4]);
                }
            }
        }),
    ));
    cases.push(("metadata-not-strings", tamper(&|h| h["__metadata__"]["spec"] = serde_json::json!(3))));
    let mut extra = bytes.clone();
    extra.extend([0u8; 12]);
    cases.push(("trailing-bytes", extra));

    for (name, bytes) in cases {
        let path = dir.write(&format!("{name}.safetensors"), &bytes);
        let e = load_error(&path);
        assert_names(&e, &path, &["not a valid safetensors file"]);
    }
}

#[test]
fn files_that_are_not_safetensors_are_errors_naming_the_file() {
    let dir = TempDir::new("not-safetensors");
    let cases: [(&str, &[u8]); 6] = [
        ("empty", b""),
        ("text", b"this is a text file, not a checkpoint at all\n"),
        ("json", br#"{"layers.0.weight": [[1.0, 2.0, 3.0]]}"#),
        ("gzip", &[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        ("zero-header", &[0u8; 8]),
        ("pickle", &[0x80, 0x02, b'c', b'c', b'o', b'l', b'l', b'e', b'c', b't', b'i', b'o', b'n', b's', 0x0a]),
    ];
    for (name, bytes) in cases {
        let path = dir.write(&format!("{name}.pt"), bytes);
        let e = load_error(&path);
        assert_names(&e, &path, &["not a valid safetensors file"]);
    }
    // A file that does not exist, and a folder.
    let missing = dir.0.join("missing.safetensors");
    let e = load_error(&missing);
    assert_names(&e, &missing, &[]);
    assert!(e.to_lowercase().contains("no such file"), "{e}");
    let e = load_error(&dir.0);
    assert_names(&e, &dir.0, &[]);
}

#[test]
fn a_checkpoint_of_another_model_lists_every_difference_and_changes_nothing() {
    let dir = TempDir::new("misfit");
    let path = dir.write("small.safetensors", &good_bytes());
    let ck = Checkpoint::load(&path).unwrap();
    let check = |spec: &str, problems: &[&str]| {
        let m = model(spec);
        let before: Vec<Vec<f32>> = m.parameters().iter().map(|p| p.to_vec()).collect();
        let e = catch_unwind(AssertUnwindSafe(|| ck.load_into(&m, &path)))
            .unwrap_or_else(|_| panic!("loading into {spec} panicked"))
            .expect_err("a checkpoint of another model loaded")
            .to_string();
        assert_names(&e, &path, &["does not fit the model"]);
        assert_names(&e, &path, problems);
        let after: Vec<Vec<f32>> = m.parameters().iter().map(|p| p.to_vec()).collect();
        assert_eq!(before, after, "a refused load into {spec} changed the model");
    };
    // Wider hidden layer: both layers' shapes differ.
    check(
        "mlp:5:tanh",
        &[
            "'layers.0.weight' has shape [4, 3] in the file but [5, 3] in the model",
            "'layers.0.bias' has shape [4] in the file but [5] in the model",
            "'layers.2.weight' has shape [2, 4] in the file but [2, 5] in the model",
        ],
    );
    // One more layer: the last layer's tensors are missing and its shapes differ.
    check("mlp:4,4:tanh", &["missing 'layers.4.weight'", "missing 'layers.4.bias'", "'layers.2.weight' has shape"]);
    // Fewer layers: the file's extra tensors are unexpected.
    check("linear", &["unexpected 'layers.2.weight'", "unexpected 'layers.2.bias'", "'layers.0.weight' has shape"]);

    // A file with one tensor renamed and one extra: both named.
    let mut renamed = Checkpoint::new();
    for (n, t) in &ck.tensors {
        renamed.insert(if n == "layers.0.bias" { "layers.0.b".to_string() } else { n.clone() }, t.clone());
    }
    renamed.insert("step", ftheta_core::Tensor::scalar(3.0));
    let m = model("mlp:4:tanh");
    let e = renamed.load_into(&m, &path).unwrap_err().to_string();
    assert_names(&e, &path, &["missing 'layers.0.bias'", "unexpected 'layers.0.b'", "unexpected 'step'"]);
}

/// A safetensors file with one tensor of type `dtype` (`elem` bytes each) beside valid F32 ones.
fn with_dtype(dtype: Dtype, elem: usize) -> Vec<u8> {
    let f32_bytes: Vec<u8> = [1.0f32, 2.0, 3.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let other = vec![0u8; 6 * elem];
    let views = vec![
        ("a.weight".to_string(), TensorView::new(Dtype::F32, vec![3], &f32_bytes).unwrap()),
        ("layers.0.weight".to_string(), TensorView::new(dtype, vec![2, 3], &other).unwrap()),
    ];
    safetensors::serialize(views, None).unwrap()
}

#[test]
fn unsupported_tensor_types_are_named() {
    let dir = TempDir::new("dtype");
    for (dtype, elem, name) in [
        (Dtype::F16, 2, "F16"),
        (Dtype::BF16, 2, "BF16"),
        (Dtype::I64, 8, "I64"),
        (Dtype::U8, 1, "U8"),
        (Dtype::BOOL, 1, "BOOL"),
    ] {
        let path = dir.write(&format!("{name}.safetensors"), &with_dtype(dtype, elem));
        let e = load_error(&path);
        assert_names(&e, &path, &["'layers.0.weight'", &format!("type {name}"), "only F32 and F64 are supported"]);
    }
    // F64 is read (as f32).
    let f64_bytes: Vec<u8> = [0.5f64, -1.25].iter().flat_map(|v| v.to_le_bytes()).collect();
    let views = vec![("x".to_string(), TensorView::new(Dtype::F64, vec![2], &f64_bytes).unwrap())];
    let path = dir.write("f64.safetensors", &safetensors::serialize(views, None).unwrap());
    assert_eq!(Checkpoint::load(&path).unwrap().get("x").unwrap().to_vec(), vec![0.5, -1.25]);
}

#[test]
fn a_valid_file_still_loads() {
    // The control for the tests above: the untampered bytes load and fit.
    let dir = TempDir::new("control");
    let path = dir.write("good.safetensors", &good_bytes());
    let ck = Checkpoint::load(&path).unwrap();
    assert_eq!(ck.metadata.get("spec").map(String::as_str), Some("mlp:4:tanh"));
    ck.load_into(&model("mlp:4:tanh"), &path).unwrap();
}

#[test]
fn a_flipped_bit_in_the_weights_is_caught_by_the_checksum() {
    let dir = TempDir::new("checksum");
    let bytes = good_bytes();
    let (header, data) = split(&bytes);
    assert_eq!(header["__metadata__"][ftheta_nn::checkpoint::CHECKSUM_KEY].as_str().map(str::len), Some(8));
    for (i, bit) in [(0, 0), (data.len() / 2, 3), (data.len() - 1, 7)] {
        let mut flipped = bytes.clone();
        let at = bytes.len() - data.len() + i;
        flipped[at] ^= 1 << bit;
        let path = dir.write(&format!("flipped-{i}.safetensors"), &flipped);
        assert_names(&load_error(&path), &path, &["is corrupt", "checksum"]);
    }
    // The checksum is checked, then kept out of the metadata a caller sees.
    let ck = Checkpoint::from_bytes(&bytes, Path::new("good")).unwrap();
    assert_eq!(ck.metadata.keys().collect::<Vec<_>>(), ["spec"]);
    // A file without one (PyTorch's) still loads.
    let mut h = header.clone();
    h["__metadata__"].as_object_mut().unwrap().remove(ftheta_nn::checkpoint::CHECKSUM_KEY);
    assert!(Checkpoint::from_bytes(&join(&h, &data), Path::new("torch")).is_ok());
}

#[test]
fn the_same_checkpoint_is_the_same_bytes_whatever_its_metadata() {
    let ck = || {
        Checkpoint::from_module(&model("mlp:4:tanh"))
            .with_meta("spec", "mlp:4:tanh")
            .with_meta("update", "12")
            .with_meta("ftheta.input", "1,2,3")
    };
    let first = ck().to_bytes().unwrap();
    for _ in 0..20 {
        assert_eq!(ck().to_bytes().unwrap(), first);
    }
    // The reference reader accepts it, with every tensor and its shape.
    let st = safetensors::SafeTensors::deserialize(&first).unwrap();
    let m = model("mlp:4:tanh");
    for (name, p) in m.named_parameters() {
        assert_eq!(st.tensor(&name).unwrap().shape(), p.shape(), "{name}");
        assert_eq!(st.tensor(&name).unwrap().dtype(), Dtype::F32);
    }
}

#[test]
fn save_weights_and_load_weights_round_trip_and_refuse_another_shape() {
    let dir = TempDir::new("save-weights");
    let path = dir.0.join("w.safetensors");
    let trained = model("mlp:4:tanh");
    trained.save_weights(&path).unwrap();
    let fresh = {
        ftheta_core::manual_seed(99);
        "mlp:4:tanh".parse::<ModelSpec>().unwrap().build(3, 2, Init::PyTorch).unwrap()
    };
    let x = ftheta_core::Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.1, 0.2, 0.3], &[2, 3]);
    assert_ne!(fresh.forward(&x).to_vec(), trained.forward(&x).to_vec());
    fresh.load_weights(&path).unwrap();
    assert_eq!(fresh.forward(&x).to_vec(), trained.forward(&x).to_vec());
    let other = model("mlp:5:tanh");
    let before = other.forward(&x).to_vec();
    let e = other.load_weights(&path).unwrap_err().to_string();
    assert_names(&e, &path, &["does not fit the model", "[4, 3] in the file but [5, 3] in the model"]);
    assert_eq!(other.forward(&x).to_vec(), before, "a refused load changes nothing");
}
