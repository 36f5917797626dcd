//! The communicator: which process this is, how many train together, and the three collective
//! operations data-parallel training needs (sum, broadcast, gather).

use crate::DistError;

/// A group of processes ("ranks") that run the same program on different shards of each batch.
///
/// Every collective call must be made by every rank of the group, in the same order, with buffers
/// of the same length (as in MPI); a rank that skips one leaves the others waiting for it. The
/// one-process [`Single`] makes every call a no-op, so code written against this trait runs
/// unchanged without MPI.
pub trait Communicator {
    /// This process's number, 0 to `size() - 1`. Rank 0 writes files and prints progress.
    fn rank(&self) -> usize;

    /// How many processes train together.
    fn size(&self) -> usize;

    /// Replaces `data` on every rank by its element-wise sum over all ranks. Every rank gets the
    /// same bits.
    fn all_reduce_sum(&self, data: &mut [f32]);

    /// Like [`Communicator::all_reduce_sum`], in `f64` (loss and metric totals).
    fn all_reduce_sum_f64(&self, data: &mut [f64]);

    /// Copies `root`'s `data` into `data` on every other rank.
    fn broadcast(&self, data: &mut [f32], root: usize);

    /// Copies `root`'s bytes into `data` on every other rank, resizing it (the others need not know
    /// the length).
    fn broadcast_bytes(&self, data: &mut Vec<u8>, root: usize);

    /// Every rank's `value`, in rank order.
    fn all_gather_u64(&self, value: u64) -> Vec<u64>;

    /// Returns once every rank has called it.
    fn barrier(&self);

    /// The name of the machine this rank runs on (for messages).
    fn host(&self) -> String {
        String::new()
    }

    /// Whether this rank is rank 0, the one that writes and prints.
    fn is_root(&self) -> bool {
        self.rank() == 0
    }
}

/// One process training alone: rank 0 of 1, every collective a no-op.
#[derive(Clone, Copy, Debug, Default)]
pub struct Single;

impl Communicator for Single {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_reduce_sum(&self, _data: &mut [f32]) {}
    fn all_reduce_sum_f64(&self, _data: &mut [f64]) {}
    fn broadcast(&self, _data: &mut [f32], root: usize) {
        assert_eq!(root, 0, "broadcast: root {root} of a group of one");
    }
    fn broadcast_bytes(&self, _data: &mut Vec<u8>, root: usize) {
        assert_eq!(root, 0, "broadcast_bytes: root {root} of a group of one");
    }
    fn all_gather_u64(&self, value: u64) -> Vec<u64> {
        vec![value]
    }
    fn barrier(&self) {}
}

/// The environment variables by which MPI launchers tell a process it is one rank of a job:
/// Open MPI's `mpirun`, MPICH's and Intel MPI's Hydra, and PMIx (Open MPI 5, `srun --mpi=pmix`).
const LAUNCHER_VARS: [&str; 4] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"];

/// The launcher variable set in this process's environment, if it was started by an MPI launcher.
pub fn launcher() -> Option<&'static str> {
    LAUNCHER_VARS.into_iter().find(|v| std::env::var_os(v).is_some())
}

/// The communicator for this process: MPI's world when an MPI launcher started it (and this build
/// has the `mpi` feature), else [`Single`]. Started by `mpirun` without the feature it is an error,
/// since each rank would train alone and all would write the same files.
///
/// A plain run never touches MPI, so a binary built with the feature behaves as one without it.
pub fn init() -> Result<Box<dyn Communicator>, DistError> {
    match launcher() {
        None => Ok(Box::new(Single)),
        Some(var) => init_mpi(var),
    }
}

#[cfg(feature = "mpi")]
fn init_mpi(_var: &'static str) -> Result<Box<dyn Communicator>, DistError> {
    Ok(Box::new(crate::mpi::Mpi::init()?))
}

#[cfg(not(feature = "mpi"))]
fn init_mpi(var: &'static str) -> Result<Box<dyn Communicator>, DistError> {
    Err(DistError::NotBuilt { var })
}
