//! How much memory training a model will take, checked before anything big is allocated, so that a
//! model or batch too large for the machine fails at once with its size instead of being killed by
//! the kernel half-way.

use ftheta_nn::ModelSpec;

use crate::trainer::OptimizerKind;
use crate::TrainError;

/// Rows per forward pass when scoring (as in [`crate::metrics::evaluate`]).
const EVAL_ROWS: u64 = 4096;

/// The bytes training is expected to need, by part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryEstimate {
    /// Parameters of the model.
    pub parameters: u64,
    /// Bytes of the weights, their gradients, the best weights kept, the optimizer's state (none
    /// for SGD, one copy for momentum, two for Adam) and the buffers of a checkpoint being written.
    pub weights: u64,
    /// Bytes of the activations of one batch and their gradients (or of one scoring pass, when
    /// larger).
    pub activations: u64,
}

impl MemoryEstimate {
    /// The estimate for `spec` with `inputs` features and `outputs` outputs, trained with
    /// `optimizer` on batches of `batch` rows.
    pub fn new(spec: &ModelSpec, inputs: usize, outputs: usize, batch: usize, optimizer: OptimizerKind) -> Self {
        let plan = spec.plan(inputs, outputs).unwrap_or_default();
        let parameters = u64::try_from(plan.iter().map(|l| l.parameters).sum::<u128>()).unwrap_or(u64::MAX);
        let state = match optimizer {
            OptimizerKind::Sgd => 0,
            OptimizerKind::Momentum => 1,
            OptimizerKind::Adam | OptimizerKind::Adamw => 2,
        };
        // weights + gradients + best + optimizer state + 2 buffers of a checkpoint being written
        let weights = parameters.saturating_mul(4).saturating_mul(5 + state);
        // Per row: the input and each layer's output (a hidden dense layer's before and after its
        // activation, which is a layer of its own).
        let per_row = plan.iter().fold(inputs as u64, |s, l| s.saturating_add(l.outputs as u64));
        // Training keeps the forward values and their gradients; scoring keeps one layer at a time
        // but of up to 4096 rows.
        let rows = (batch as u64).saturating_mul(2).max(EVAL_ROWS.min(batch as u64));
        let activations = per_row.saturating_mul(rows).saturating_mul(4);
        MemoryEstimate { parameters, weights, activations }
    }

    /// The total in bytes.
    pub fn total(&self) -> u64 {
        self.weights.saturating_add(self.activations)
    }

    /// An error when the total exceeds `available` bytes; `what` names the settings (flags).
    pub fn check(&self, available: u64, what: &str) -> Result<(), TrainError> {
        if self.total() <= available {
            return Ok(());
        }
        Err(TrainError::Config(format!(
            "{what} would need about {} of memory to train ({} for {} parameters with their gradients \
             and optimizer state, {} for the batch's activations), but only {} is available",
            gib(self.total()),
            gib(self.weights),
            self.parameters,
            gib(self.activations),
            gib(available)
        )))
    }
}

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// The memory available to a new allocation: `MemAvailable` in `/proc/meminfo` (Linux); `None`
/// where that cannot be read.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&text)
}

fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available() {
        let text = "MemTotal:       24684096 kB\nMemFree:        18037112 kB\nMemAvailable:   23937460 kB\n";
        assert_eq!(parse_meminfo(text), Some(23937460 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 1 kB\n"), None);
    }

    #[test]
    fn estimate_counts_weights_state_and_activations() {
        let spec: ModelSpec = "mlp:100".parse().unwrap();
        let e = MemoryEstimate::new(&spec, 10, 2, 32, OptimizerKind::Adam);
        assert_eq!(e.parameters, 10 * 100 + 100 + 100 * 2 + 2);
        assert_eq!(e.weights, e.parameters * 4 * 7);
        // scoring 32 rows at once is less than training's 2 × 32
        assert_eq!(e.activations, (10 + 2 * 100 + 2) * 64 * 4);
        assert!(e.check(1 << 30, "x").is_ok());
        let msg = e.check(1000, "--model mlp:100").unwrap_err().to_string();
        assert!(msg.starts_with("--model mlp:100 would need about") && msg.contains("available"), "{msg}");
    }

    #[test]
    fn a_huge_full_batch_is_refused_with_its_size() {
        let spec: ModelSpec = "mlp:1000000".parse().unwrap();
        let e = MemoryEstimate::new(&spec, 784, 10, 48000, OptimizerKind::Sgd);
        assert!(e.total() > 700 << 30, "{e:?}");
        let msg = e.check(16 << 30, "--model mlp:1000000 --batch-size full").unwrap_err().to_string();
        assert!(msg.contains("GiB") && msg.contains("16.0 GiB is available"), "{msg}");
    }
}
