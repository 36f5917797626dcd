//! Keeping R copies of a model in step: parameters broadcast from rank 0, each global batch cut
//! into R shards, gradients summed over the ranks after each backward, so that every rank takes
//! the same optimizer step.

use std::collections::HashMap;

use ftheta_core::Tensor;
use ftheta_nn::{Module, Optimizer};

use crate::{Communicator, DistError};

/// The rows of a global batch that `rank` of `size` computes: a contiguous piece, in order; the
/// first `batch.len() % size` ranks get one row more than the others. The cut depends only on the
/// batch's length, the rank and the number of ranks, so every run cuts the same way.
///
/// # Panics
/// When `rank >= size`.
#[track_caller]
pub fn shard<T>(batch: &[T], rank: usize, size: usize) -> &[T] {
    let (start, len) = shard_range(batch.len(), rank, size);
    &batch[start..start + len]
}

/// Where [`shard`]'s piece starts in a batch of `n` rows, and how long it is.
#[track_caller]
pub fn shard_range(n: usize, rank: usize, size: usize) -> (usize, usize) {
    assert!(rank < size, "shard: rank {rank} of a group of {size}");
    let (base, extra) = (n / size, n % size);
    (rank * base + rank.min(extra), base + usize::from(rank < extra))
}

/// Data-parallel training of one model (PyTorch's `DistributedDataParallel`): made once all ranks
/// have built the same model, it copies rank 0's parameters to every rank; after each backward,
/// [`DataParallel::sync_gradients`] replaces every rank's gradients by those of the whole global
/// batch, so the optimizers, started alike, take the same steps and the copies stay equal.
///
/// ```
/// use ftheta_core::Tensor;
/// use ftheta_dist::{DataParallel, Single};
/// use ftheta_nn::{Init, ModelSpec, Module, Optimizer, Sgd};
///
/// let comm = ftheta_dist::init()?; // MPI's ranks under mpirun, else one process
/// let model = ModelSpec::Mlp { hidden: vec![8], activation: ftheta_nn::Activation::Tanh }.build(3, 1, Init::PyTorch)?;
/// let mut dp = DataParallel::new(&*comm, &model)?;
/// let mut opt = Sgd::new(model.parameters(), 0.1)?;
/// let rows: Vec<usize> = (0..32).collect(); // one global batch
/// let mine = dp.shard(&rows); // this rank's rows
/// opt.zero_grad();
/// let x = Tensor::randn(&[mine.len(), 3]);
/// let loss = model.forward(&x).pow(2.0).mean();
/// loss.backward();
/// let global_loss = dp.sync_gradients(mine.len(), rows.len(), loss.item() as f64);
/// opt.step();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DataParallel<'c> {
    comm: &'c dyn Communicator,
    params: Vec<Tensor>,
    buffers: Vec<(String, Tensor)>,
    buf: Vec<f32>,
}

impl<'c> DataParallel<'c> {
    /// Checks that every rank holds a model of the same parameter and buffer names and shapes,
    /// copies rank 0's parameters and buffers to all, and makes sure each trainable parameter has
    /// a gradient buffer (a rank whose shard is empty still takes part in the sum, with zeros).
    pub fn new(comm: &'c dyn Communicator, model: &dyn Module) -> Result<Self, DistError> {
        broadcast_parameters(comm, &model.state_dict())?;
        let params: Vec<Tensor> = model.parameters().into_iter().filter(Tensor::tracks_grad).collect();
        params.iter().for_each(ensure_grad);
        Ok(DataParallel { comm, params, buffers: model.named_buffers(), buf: Vec::new() })
    }

    /// The communicator.
    pub fn comm(&self) -> &'c dyn Communicator {
        self.comm
    }

    /// This rank's rows of a global batch (see [`shard`]).
    pub fn shard<'a, T>(&self, batch: &'a [T]) -> &'a [T] {
        shard(batch, self.comm.rank(), self.comm.size())
    }

    /// The bytes each rank sends into the sum at every update: every trainable parameter's
    /// gradient in `f32`, and the loss.
    pub fn bytes_per_update(&self) -> usize {
        (self.params.iter().map(Tensor::numel).sum::<usize>() + 1) * std::mem::size_of::<f32>()
    }

    /// After `backward` on this rank's `rows` of a global batch of `batch_rows`, with `loss` the
    /// mean loss over its rows: replaces the gradients on every rank by the gradient of the mean
    /// loss over the whole global batch, and returns that loss. For a loss that is a mean over rows
    /// this equals one process's gradient on the global batch (up to the order of the sums).
    ///
    /// Each rank's gradient is weighted by its share of the rows, `rows / batch_rows`, then all are
    /// summed in one all-reduce, the loss riding along as one more element (in `f32`). A rank
    /// with no rows passes `rows = 0` (its gradient, zeroed, counts nothing); a non-finite loss on
    /// any rank makes the returned loss non-finite on every rank, so all stop together. With one
    /// process it returns `loss` and leaves the gradients as they are.
    ///
    /// Buffers (batch normalization's running statistics) are then set to rank 0's, as PyTorch's
    /// DDP does. Layers that use the batch's statistics (batch normalization while training) see
    /// only their rank's shard, so such a model does not train exactly as one process would
    /// (PyTorch needs `SyncBatchNorm` for that); dropout draws its masks from each rank's own
    /// generator.
    ///
    /// # Panics
    /// When `rows > batch_rows` or `batch_rows` is 0.
    #[track_caller]
    pub fn sync_gradients(&mut self, rows: usize, batch_rows: usize, loss: f64) -> f64 {
        assert!(rows <= batch_rows && batch_rows > 0, "sync_gradients: {rows} rows of a batch of {batch_rows}");
        if self.comm.size() == 1 {
            return loss;
        }
        let w = rows as f32 / batch_rows as f32;
        let n: usize = self.params.iter().map(Tensor::numel).sum();
        self.buf.clear();
        self.buf.reserve(n + 1);
        for p in &self.params {
            match p.grad() {
                Some(g) if rows > 0 => g.with_contiguous(|s| self.buf.extend(s.iter().map(|&v| v * w))),
                _ => self.buf.resize(self.buf.len() + p.numel(), 0.0),
            }
        }
        self.buf.push(if rows > 0 { loss as f32 * w } else { 0.0 });
        self.comm.all_reduce_sum(&mut self.buf);
        if !self.buffers.is_empty() {
            // Rank 0's running statistics win, as in PyTorch's DDP (`broadcast_buffers`).
            broadcast_values(self.comm, &self.buffers);
        }
        // A gradient dropped since (`clear_grad`) gets its buffer back, to hold the sum.
        self.params.iter().for_each(ensure_grad);
        let mut at = 0;
        ftheta_core::no_grad(|| {
            for p in &self.params {
                let g = p.grad().expect("sync_gradients: a parameter without gradient, with grad mode off");
                let len = p.numel();
                g.update_(|d| d.copy_from_slice(&self.buf[at..at + len]));
                at += len;
            }
        });
        self.buf[n] as f64
    }

    /// Copies rank 0's optimizer state (moments, step count) to every rank, as after `--resume`,
    /// where only rank 0 read the checkpoint.
    pub fn broadcast_optimizer(&self, opt: &mut dyn Optimizer) -> Result<(), DistError> {
        broadcast_optimizer(self.comm, opt)
    }

    /// Checks that every rank holds the same parameter and buffer bits (a fingerprint of them is
    /// gathered); the error names the ranks that differ from rank 0.
    pub fn check_in_sync(&self) -> Result<(), DistError> {
        let fp = fingerprint(self.params.iter().chain(self.buffers.iter().map(|(_, b)| b)).map(|p| p.to_vec()));
        let all = self.comm.all_gather_u64(fp);
        let differ: Vec<String> = (1..all.len()).filter(|&r| all[r] != all[0]).map(|r| r.to_string()).collect();
        if differ.is_empty() {
            Ok(())
        } else {
            Err(DistError::Mismatch {
                what: "the parameters' and buffers' values",
                detail: format!("rank(s) {} differ from rank 0", differ.join(", ")),
            })
        }
    }
}

/// Gives a trainable parameter a (zero) gradient buffer if it has none yet: the gradient of
/// `sum(p)` is all ones, made in place by `backward`, then zeroed. Needs grad mode on.
fn ensure_grad(p: &Tensor) {
    if p.grad().is_none() && p.tracks_grad() && ftheta_core::is_grad_enabled() {
        p.sum().backward();
        p.zero_grad();
    }
}

/// A 64-bit FNV-1a hash of a sequence of `f32` slices' bits (or of any bytes).
fn fingerprint<I: IntoIterator<Item = Vec<f32>>>(parts: I) -> u64 {
    let mut h = Fnv::default();
    for p in parts {
        h.write(&(p.len() as u64).to_le_bytes());
        p.iter().for_each(|v| h.write(&v.to_bits().to_le_bytes()));
    }
    h.0
}

struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Copies rank 0's values of `named` (a model's `state_dict`: parameters and buffers) to every
/// rank, after checking that all ranks hold the same names and shapes (else the error says which
/// ranks differ and how many values each holds).
pub fn broadcast_parameters(comm: &dyn Communicator, named: &[(String, Tensor)]) -> Result<(), DistError> {
    if comm.size() == 1 {
        return Ok(());
    }
    let mut h = Fnv::default();
    for (name, p) in named {
        h.write(name.as_bytes());
        h.write(&[0]);
        p.shape().iter().for_each(|d| h.write(&(*d as u64).to_le_bytes()));
        h.write(&[0xff]);
    }
    let shapes = comm.all_gather_u64(h.0);
    let total: usize = named.iter().map(|(_, p)| p.numel()).sum();
    let counts = comm.all_gather_u64(total as u64);
    if shapes.iter().any(|&s| s != shapes[0]) {
        let detail = (0..shapes.len())
            .map(|r| {
                format!("rank {r}: {} values{}", counts[r], if shapes[r] == shapes[0] { "" } else { " (differs)" })
            })
            .collect::<Vec<_>>()
            .join(", ");
        return Err(DistError::Mismatch { what: "the model's parameter names and shapes", detail });
    }
    broadcast_values(comm, named);
    Ok(())
}

/// Copies rank 0's values of `named` (same shapes on every rank) to the others, in one broadcast.
fn broadcast_values(comm: &dyn Communicator, named: &[(String, Tensor)]) {
    let mut flat = Vec::with_capacity(named.iter().map(|(_, p)| p.numel()).sum());
    named.iter().for_each(|(_, p)| p.with_contiguous(|s| flat.extend_from_slice(s)));
    comm.broadcast(&mut flat, 0);
    if !comm.is_root() {
        let mut at = 0;
        ftheta_core::no_grad(|| {
            for (_, p) in named {
                let len = p.numel();
                p.copy_(&Tensor::from_vec(flat[at..at + len].to_vec(), p.shape()));
                at += len;
            }
        });
    }
}

/// Copies rank 0's optimizer state to every rank (see [`DataParallel::broadcast_optimizer`]).
pub fn broadcast_optimizer(comm: &dyn Communicator, opt: &mut dyn Optimizer) -> Result<(), DistError> {
    if comm.size() == 1 {
        return Ok(());
    }
    let mut bytes = if comm.is_root() { encode_state(&opt.state()) } else { Vec::new() };
    comm.broadcast_bytes(&mut bytes, 0);
    if !comm.is_root() {
        let state = decode_state(&bytes)?;
        opt.load_state(&state).map_err(|e| DistError::State(e.to_string()))?;
    }
    Ok(())
}

/// Named tensors as bytes: for each, the name's length and bytes, the rank and dimensions, then
/// the values, all little-endian.
fn encode_state(state: &[(String, Tensor)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend((state.len() as u64).to_le_bytes());
    for (name, t) in state {
        out.extend((name.len() as u64).to_le_bytes());
        out.extend(name.as_bytes());
        out.extend((t.ndim() as u64).to_le_bytes());
        t.shape().iter().for_each(|d| out.extend((*d as u64).to_le_bytes()));
        t.with_contiguous(|s| s.iter().for_each(|v| out.extend(v.to_le_bytes())));
    }
    out
}

/// Reads what [`encode_state`] wrote.
fn decode_state(bytes: &[u8]) -> Result<HashMap<String, Tensor>, DistError> {
    let mut r = Reader { bytes, at: 0 };
    let n = r.u64()?;
    let mut out = HashMap::new();
    for _ in 0..n {
        let len = r.u64()? as usize;
        let name =
            String::from_utf8(r.take(len)?.to_vec()).map_err(|_| DistError::State("a name is not UTF-8".into()))?;
        let ndim = r.u64()? as usize;
        let shape = (0..ndim).map(|_| r.u64().map(|d| d as usize)).collect::<Result<Vec<_>, _>>()?;
        let numel: usize = shape.iter().product();
        let data = r.take(numel * 4)?.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        out.insert(name, Tensor::from_vec(data, &shape));
    }
    Ok(out)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DistError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| DistError::State(format!("truncated at byte {}", self.at)))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn u64(&mut self) -> Result<u64, DistError> {
        let s = self.take(8)?;
        Ok(u64::from_le_bytes(s.try_into().expect("8 bytes")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_batch_in_order_and_differ_by_at_most_one_row() {
        for n in 0..40 {
            for size in 1..6 {
                let batch: Vec<usize> = (0..n).collect();
                let parts: Vec<&[usize]> = (0..size).map(|r| shard(&batch, r, size)).collect();
                assert_eq!(parts.concat(), batch, "n {n}, size {size}");
                let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
                assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1, "{lens:?}");
                assert!(lens.windows(2).all(|w| w[0] >= w[1]), "the longer shards come first: {lens:?}");
            }
        }
        assert_eq!(shard_range(25, 0, 2), (0, 13));
        assert_eq!(shard_range(25, 1, 2), (13, 12));
    }

    #[test]
    fn optimizer_state_survives_its_encoding() {
        let state = vec![
            ("m.0".to_string(), Tensor::from_vec(vec![1.5, -2.0, 3.25, f32::MIN_POSITIVE], &[2, 2])),
            ("step".to_string(), Tensor::scalar(7.0)),
        ];
        let bytes = encode_state(&state);
        let back = decode_state(&bytes).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back["m.0"].shape(), &[2, 2]);
        assert_eq!(back["m.0"].to_vec(), state[0].1.to_vec());
        assert_eq!(back["step"].shape(), &[] as &[usize]);
        assert_eq!(back["step"].to_vec(), vec![7.0]);
        for cut in [0, 7, 8, 20, bytes.len() - 1] {
            assert!(decode_state(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn fingerprints_see_one_flipped_bit() {
        let a = vec![vec![1.0f32, 2.0], vec![3.0]];
        let mut b = a.clone();
        b[1][0] = f32::from_bits(3.0f32.to_bits() ^ 1);
        assert_ne!(fingerprint(a.clone()), fingerprint(b));
        // Moving a value between parameters changes it too.
        assert_ne!(fingerprint(a), fingerprint(vec![vec![1.0f32], vec![2.0, 3.0]]));
    }
}
