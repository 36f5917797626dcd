//! Every input the checkpoint fuzzer (`fuzz/fuzz_targets/checkpoint.rs`, see README.md §
//! Contributing) ever crashed on, replayed with its checks: `Checkpoint::from_bytes` returns an
//! error or tensors whose sizes agree, and a refused load into a model changes nothing.

use std::path::{Path, PathBuf};

use ftheta_nn::{Checkpoint, Init, ModelSpec, Module};

#[test]
fn checkpoint_inputs_that_crashed_the_fuzzer() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions/checkpoint");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(!files.is_empty());
    for file in files {
        let data = std::fs::read(&file).unwrap();
        let path = Path::new("fuzz.safetensors");
        let Ok(ck) = Checkpoint::from_bytes(&data, path) else { continue };
        for (name, t) in &ck.tensors {
            assert_eq!(t.numel(), t.shape().iter().product::<usize>(), "{}: {name}", file.display());
        }
        let model = "mlp:2".parse::<ModelSpec>().unwrap().build(3, 2, Init::Constant { w: 0.5, b: 0.0 }).unwrap();
        let before: Vec<Vec<f32>> = model.parameters().iter().map(|p| p.to_vec()).collect();
        if ck.load_into(&model, path).is_err() {
            let after: Vec<Vec<f32>> = model.parameters().iter().map(|p| p.to_vec()).collect();
            assert_eq!(before, after, "{}", file.display());
        }
        let _ = ck.to_bytes();
    }
}
