//! The MPI communicator (feature `mpi`): rsmpi over the system's MPI library.

use std::cell::RefCell;

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, CommunicatorCollectives as _, Root as _};

use crate::{Communicator, DistError};

/// Elements per MPI call: counts are C `int`s, and the receive buffer (rsmpi has no in-place
/// reduction) stays at most 16 MiB whatever the model's size.
const CHUNK: usize = 1 << 22;

/// `MPI_COMM_WORLD`: every rank the launcher started. MPI is finalized when it is dropped.
pub struct Mpi {
    world: SimpleCommunicator,
    scratch: RefCell<Vec<f32>>,
    scratch64: RefCell<Vec<f64>>,
    // Dropped last: finalizes MPI.
    _universe: Universe,
}

impl Mpi {
    /// Initializes MPI (once per process). Errors are fatal in MPI's default mode, so a rank that
    /// dies makes the launcher stop the others (Open MPI's `mpirun` names the rank and its signal)
    /// rather than leave them waiting.
    pub fn init() -> Result<Self, DistError> {
        let universe = mpi::initialize().ok_or(DistError::AlreadyInitialized)?;
        let world = universe.world();
        Ok(Mpi { world, scratch: RefCell::default(), scratch64: RefCell::default(), _universe: universe })
    }

    fn root(&self, root: usize) -> mpi::topology::Process<'_> {
        assert!(root < self.size(), "broadcast: root {root} of a group of {}", self.size());
        self.world.process_at_rank(root as i32)
    }
}

/// Sums `data` over the ranks in chunks, through `scratch`.
fn all_reduce<T: Copy + Default + mpi::datatype::Equivalence>(
    world: &SimpleCommunicator,
    scratch: &RefCell<Vec<T>>,
    data: &mut [T],
) {
    let mut scratch = scratch.borrow_mut();
    for chunk in data.chunks_mut(CHUNK) {
        scratch.resize(chunk.len(), T::default());
        world.all_reduce_into(&chunk[..], &mut scratch[..], SystemOperation::sum());
        chunk.copy_from_slice(&scratch);
    }
}

impl Communicator for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce_sum(&self, data: &mut [f32]) {
        all_reduce(&self.world, &self.scratch, data);
    }

    fn all_reduce_sum_f64(&self, data: &mut [f64]) {
        all_reduce(&self.world, &self.scratch64, data);
    }

    fn broadcast(&self, data: &mut [f32], root: usize) {
        let p = self.root(root);
        for chunk in data.chunks_mut(CHUNK) {
            p.broadcast_into(chunk);
        }
    }

    fn broadcast_bytes(&self, data: &mut Vec<u8>, root: usize) {
        let p = self.root(root);
        let mut len = data.len() as u64;
        p.broadcast_into(&mut len);
        data.resize(len as usize, 0);
        for chunk in data.chunks_mut(CHUNK) {
            p.broadcast_into(chunk);
        }
    }

    fn all_gather_u64(&self, value: u64) -> Vec<u64> {
        let mut out = vec![0u64; self.size()];
        self.world.all_gather_into(&value, &mut out[..]);
        out
    }

    fn barrier(&self) {
        self.world.barrier();
    }

    fn host(&self) -> String {
        mpi::environment::processor_name().unwrap_or_default()
    }
}
