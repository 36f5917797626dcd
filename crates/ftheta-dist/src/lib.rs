//! # ftheta-dist: data-parallel training
//!
//! R processes ("ranks"), each with a copy of the model, train as one: every global batch is cut
//! into R shards ([`shard`]), each rank runs forward and backward on its shard, the gradients are
//! summed over the ranks ([`DataParallel::sync_gradients`], one all-reduce), and every rank takes
//! the same optimizer step. Rank 0's parameters (and, on resume, its optimizer state) are copied
//! to all at the start, so the copies stay equal bit for bit.
//!
//! The ranks talk through a [`Communicator`]: MPI (feature `mpi`, rsmpi over Open MPI or MPICH,
//! started by `mpirun -n R`) or [`Single`], one process, where every collective is a no-op.
//! [`init`] picks the right one from the environment, so the same program runs alone or under
//! `mpirun`.

mod comm;
mod error;
#[cfg(feature = "mpi")]
mod mpi;
mod sync;

pub use comm::{init, launcher, Communicator, Single};
pub use error::DistError;
#[cfg(feature = "mpi")]
pub use mpi::Mpi;
pub use sync::{broadcast_optimizer, broadcast_parameters, shard, shard_range, DataParallel};
