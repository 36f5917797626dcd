//! Errors of distributed training.

/// What can go wrong when processes train together.
#[derive(Debug, thiserror::Error)]
pub enum DistError {
    /// The process was started by an MPI launcher, but this build has no MPI: each rank would
    /// train the whole model alone and all would write the same run folder.
    #[error(
        "started by an MPI launcher ({var} is set), but this ftheta was built without MPI; build it with \
         `--features mpi` (Debian: apt-get install openmpi-bin libopenmpi-dev libclang-dev)"
    )]
    NotBuilt {
        /// The launcher's environment variable that was found.
        var: &'static str,
    },
    /// MPI was initialized already in this process (it can be only once).
    #[error("MPI is already initialized in this process (call ftheta_dist::init once)")]
    AlreadyInitialized,
    /// The ranks do not hold the same model (or optimizer), so their gradients cannot be summed.
    #[error("the ranks disagree on {what}: {detail}")]
    Mismatch {
        /// What differs (`the model's parameters`, …).
        what: &'static str,
        /// Which rank has what.
        detail: String,
    },
    /// State sent by rank 0 (an optimizer's moments) that this rank cannot take.
    #[error("state from rank 0: {0}")]
    State(String),
}
