//! `Checkpoint::from_bytes` on arbitrary bytes, and loading what it accepts into a small model:
//! errors are fine, panics are not; a refused load must leave the model unchanged.
#![no_main]

use std::path::Path;

use ftheta_nn::{Checkpoint, Init, Module, ModelSpec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.safetensors");
    let Ok(ck) = Checkpoint::from_bytes(data, path) else { return };
    for (_, t) in &ck.tensors {
        assert_eq!(t.numel(), t.shape().iter().product::<usize>());
    }
    let model = "mlp:2".parse::<ModelSpec>().unwrap().build(3, 2, Init::Constant { w: 0.5, b: 0.0 }).unwrap();
    let before: Vec<Vec<f32>> = model.parameters().iter().map(|p| p.to_vec()).collect();
    if ck.load_into(&model, path).is_err() {
        let after: Vec<Vec<f32>> = model.parameters().iter().map(|p| p.to_vec()).collect();
        assert_eq!(before, after);
    }
    // What was read writes back out.
    let _ = ck.to_bytes();
});
