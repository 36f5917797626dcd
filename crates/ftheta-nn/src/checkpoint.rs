//! Checkpoints in the safetensors format: named tensors plus string metadata, written atomically.
//!
//! A model's checkpoint holds exactly its `state_dict` (names such as `layers.0.weight`), so it
//! loads in PyTorch with `safetensors.torch.load_file` + `load_state_dict`, and one written by
//! PyTorch loads here. Optimizer state goes in a file of its own for the same reason.
//!
//! ftheta writes the file itself (the format is an 8-byte header length, a JSON header, the data)
//! rather than through `safetensors::serialize`, which takes its metadata as a `HashMap` and so
//! writes two or more keys in a different order each run: the same weights must give the same
//! bytes. That makes room for a checksum: the metadata key [`CHECKSUM_KEY`] holds the CRC-32 of the
//! data, and loading refuses a file whose data no longer match it (a flipped bit in the weights
//! would otherwise load silently). Files without it, such as PyTorch's, load as before.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use ftheta_core::Tensor;
use safetensors::tensor::Dtype;
use safetensors::SafeTensors;

use crate::module::Module;
use crate::NnError;

/// The metadata key of the data's CRC-32 (8 hex digits), written by [`Checkpoint::to_bytes`] and
/// checked, then removed from [`Checkpoint::metadata`], by [`Checkpoint::from_bytes`].
pub const CHECKSUM_KEY: &str = "ftheta.crc32";

/// The one integer tensor a checkpoint may hold: batch normalization's count of batches, which
/// PyTorch saves as `int64` (ftheta keeps it as an exact `f32` whole number).
const COUNTER_NAME: &str = "num_batches_tracked";

/// Named tensors and metadata, as stored in one safetensors file.
#[derive(Default)]
pub struct Checkpoint {
    /// The tensors, in the order they were added.
    pub tensors: Vec<(String, Tensor)>,
    /// Free-form metadata (model spec, standardization, …).
    pub metadata: BTreeMap<String, String>,
}

fn err(path: &Path, problem: impl Into<String>) -> NnError {
    NnError::Checkpoint { path: path.display().to_string(), problem: problem.into() }
}

impl Checkpoint {
    /// An empty checkpoint.
    pub fn new() -> Self {
        Self::default()
    }

    /// The parameters and buffers of a module under their names (its [`Module::state_dict`]).
    pub fn from_module(m: &dyn Module) -> Self {
        Checkpoint { tensors: m.state_dict(), metadata: BTreeMap::new() }
    }

    /// Adds a tensor.
    pub fn insert(&mut self, name: impl Into<String>, t: Tensor) {
        self.tensors.push((name.into(), t));
    }

    /// Adds a metadata entry (builder style).
    pub fn with_meta(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// The tensors by name.
    pub fn to_map(&self) -> HashMap<String, Tensor> {
        self.tensors.iter().cloned().collect()
    }

    /// The file's bytes: safetensors with the tensors as F32 in insertion order, the header's keys
    /// sorted, and the data's CRC-32 under [`CHECKSUM_KEY`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, NnError> {
        let mut data = Vec::new();
        let mut header = serde_json::Map::new();
        for (name, t) in &self.tensors {
            if name == "__metadata__" || header.contains_key(name) {
                return Err(err(Path::new(name), "a tensor name used twice or reserved by the format"));
            }
            let start = data.len();
            data.extend(t.to_vec().iter().flat_map(|v| v.to_le_bytes()));
            header.insert(
                name.clone(),
                serde_json::json!({"dtype": "F32", "shape": t.shape(), "data_offsets": [start, data.len()]}),
            );
        }
        let mut meta = self.metadata.clone();
        meta.insert(CHECKSUM_KEY.into(), format!("{:08x}", crc32fast::hash(&data)));
        header.insert("__metadata__".into(), serde_json::json!(meta));
        let mut json = serde_json::to_vec(&header).expect("strings and numbers serialize");
        // The data start 8-byte aligned, as the reference writer pads them (with spaces).
        json.resize(json.len().next_multiple_of(8), b' ');
        let mut out = Vec::with_capacity(8 + json.len() + data.len());
        out.extend((json.len() as u64).to_le_bytes());
        out.extend(json);
        out.extend(data);
        Ok(out)
    }

    /// Parses a file's bytes; `path` only names the file in errors. `F32` and `F64` tensors are
    /// read as `f32`, and so is an `I64` counter named `…num_batches_tracked` (PyTorch's batch
    /// normalization stores it as `int64`); any other type is an error naming the tensor.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self, NnError> {
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| err(path, format!("not a valid safetensors file ({e})")))?;
        let (header_len, meta) = SafeTensors::read_metadata(bytes).map_err(|e| err(path, e.to_string()))?;
        let mut metadata: BTreeMap<String, String> = meta.metadata().clone().unwrap_or_default().into_iter().collect();
        // Checked before any tensor is decoded: corrupt weights are refused, not converted first.
        if let Some(stored) = metadata.remove(CHECKSUM_KEY) {
            let computed = format!("{:08x}", crc32fast::hash(&bytes[8 + header_len..]));
            if stored != computed {
                return Err(err(
                    path,
                    format!(
                        "is corrupt: its weights do not match their checksum (CRC-32 {computed}, recorded {stored})"
                    ),
                ));
            }
        }
        let mut tensors = Vec::new();
        let mut named = st.tensors();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, view) in named {
            let data: Vec<f32> = match view.dtype() {
                Dtype::F32 => {
                    view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
                }
                Dtype::F64 => view
                    .data()
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                    .collect(),
                Dtype::I64 if name.ends_with(COUNTER_NAME) => view
                    .data()
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                    .collect(),
                other => {
                    return Err(err(
                        path,
                        format!("tensor '{name}' has type {other:?}; only F32 and F64 are supported (and I64 for a {COUNTER_NAME} counter)"),
                    ))
                }
            };
            let t =
                Tensor::try_from_data(data, view.shape()).map_err(|e| err(path, format!("tensor '{name}': {e}")))?;
            tensors.push((name, t));
        }
        Ok(Checkpoint { tensors, metadata })
    }

    /// Writes the file atomically: to a temporary file beside it, flushed to disk, then renamed
    /// over the target, so a crash leaves either the old file or the new one, never half of one.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), NnError> {
        let path = path.as_ref();
        let bytes = self.to_bytes()?;
        write_atomic(path, &bytes).map_err(|e| err(path, e.to_string()))
    }

    /// Reads a file written by [`Checkpoint::save`] or by PyTorch's `safetensors.torch.save_file`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, NnError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| err(path, e.to_string()))?;
        Self::from_bytes(&bytes, path)
    }

    /// Copies the tensors into a module's parameters and buffers. Every one of them must be present
    /// with its exact shape and nothing else may be in the file; otherwise nothing is changed and
    /// the error lists what is missing, unexpected, or of another shape.
    pub fn load_into(&self, m: &dyn Module, path: &Path) -> Result<(), NnError> {
        let params = m.state_dict();
        let mut problems = Vec::new();
        for (name, p) in &params {
            match self.get(name) {
                None => problems.push(format!("missing '{name}'")),
                Some(t) if t.shape() != p.shape() => problems.push(format!(
                    "'{name}' has shape {:?} in the file but {:?} in the model",
                    t.shape(),
                    p.shape()
                )),
                Some(_) => {}
            }
        }
        for (name, _) in &self.tensors {
            if !params.iter().any(|(n, _)| n == name) {
                problems.push(format!("unexpected '{name}'"));
            }
        }
        if !problems.is_empty() {
            return Err(err(path, format!("does not fit the model: {}", problems.join("; "))));
        }
        ftheta_core::no_grad(|| {
            for (name, p) in &params {
                p.copy_(self.get(name).expect("checked above"));
            }
        });
        Ok(())
    }
}

/// The temporary file [`write_atomic`] writes `path` through in this process: `.NAME.PID.tmp` in
/// the same folder (so that the rename stays on one file system).
pub fn atomic_temp_path(path: &Path) -> std::path::PathBuf {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir.join(format!(".{name}.{}.tmp", std::process::id()))
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = atomic_temp_path(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Init, ModelSpec};

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ftheta-ckpt-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join("model.safetensors")
    }

    #[test]
    fn round_trip_restores_every_weight_and_the_metadata() {
        ftheta_core::manual_seed(1);
        let a = "mlp:4:tanh".parse::<ModelSpec>().unwrap().build(3, 2, Init::PyTorch).unwrap();
        let path = tmp("rt");
        Checkpoint::from_module(&a).with_meta("spec", "mlp:4:tanh").save(&path).unwrap();
        let b = "mlp:4:tanh".parse::<ModelSpec>().unwrap().build(3, 2, Init::XavierNormal).unwrap();
        let ck = Checkpoint::load(&path).unwrap();
        assert_eq!(ck.metadata.get("spec").map(String::as_str), Some("mlp:4:tanh"));
        ck.load_into(&b, &path).unwrap();
        for ((n, x), (_, y)) in a.named_parameters().iter().zip(b.named_parameters()) {
            assert_eq!(x.to_vec(), y.to_vec(), "{n}");
        }
    }

    #[test]
    fn a_checkpoint_of_another_model_is_refused_with_the_differences() {
        let a = "mlp:4".parse::<ModelSpec>().unwrap().build(3, 2, Init::PyTorch).unwrap();
        let path = tmp("fit");
        Checkpoint::from_module(&a).save(&path).unwrap();
        let b = "mlp:5,2".parse::<ModelSpec>().unwrap().build(3, 2, Init::PyTorch).unwrap();
        let before = b.parameters()[0].to_vec();
        let e = Checkpoint::load(&path).unwrap().load_into(&b, &path).unwrap_err().to_string();
        assert!(e.contains("'layers.0.weight' has shape [4, 3] in the file but [5, 3]"), "{e}");
        assert!(e.contains("missing 'layers.4.weight'") && e.contains("model.safetensors"), "{e}");
        assert_eq!(b.parameters()[0].to_vec(), before, "a refused load must change nothing");
    }

    #[test]
    fn truncated_files_are_errors_not_panics() {
        let a = "linear".parse::<ModelSpec>().unwrap().build(3, 1, Init::PyTorch).unwrap();
        let bytes = Checkpoint::from_module(&a).to_bytes().unwrap();
        for cut in [0, 4, 8, 20, bytes.len() - 1] {
            let e = Checkpoint::from_bytes(&bytes[..cut], Path::new("cut.safetensors")).err().unwrap().to_string();
            assert!(e.contains("cut.safetensors") && e.contains("not a valid safetensors file"), "{e}");
        }
    }

    #[test]
    fn buffers_round_trip_and_a_torch_int64_counter_loads() {
        use crate::{BatchNorm1d, Sequential};
        let a = Sequential::new().add(BatchNorm1d::new(2));
        a.forward(&Tensor::from_vec(vec![1.0, 2.0, 3.0, 6.0], &[2, 2]));
        let path = tmp("buffers");
        Checkpoint::from_module(&a).save(&path).unwrap();
        let b = Sequential::new().add(BatchNorm1d::new(2));
        Checkpoint::load(&path).unwrap().load_into(&b, &path).unwrap();
        for ((n, x), (_, y)) in a.state_dict().iter().zip(b.state_dict()) {
            assert_eq!(x.to_vec(), y.to_vec(), "{n}");
        }
        assert_eq!(b.named_buffers()[2].1.item(), 1.0);

        let count = 7i64.to_le_bytes();
        let views = vec![(
            "0.num_batches_tracked".to_string(),
            safetensors::tensor::TensorView::new(Dtype::I64, vec![], &count).unwrap(),
        )];
        let bytes = safetensors::serialize(views, None).unwrap();
        let ck = Checkpoint::from_bytes(&bytes, Path::new("torch.safetensors")).unwrap();
        assert_eq!(ck.get("0.num_batches_tracked").unwrap().item(), 7.0);
    }
}
