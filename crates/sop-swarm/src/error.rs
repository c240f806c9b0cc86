//! The swarm's errors, and what the caller should do about each.

use thiserror::Error;

/// A result of the swarm's API.
pub type Result<T, E = SwarmError> = std::result::Result<T, E>;

/// What can go wrong in the swarm.
#[derive(Debug, Error)]
pub enum SwarmError {
    /// The database failed (see [`sop::Error::kind`]).
    #[error(transparent)]
    Db(#[from] sop::Error),
    /// No script of this name.
    #[error("no script named {0:?}")]
    ScriptNotFound(String),
    /// The script exists, but not in this version.
    #[error("script {name:?} has no version {version}")]
    VersionNotFound {
        /// The script.
        name: String,
        /// The version asked for.
        version: u64,
    },
    /// No job with this id.
    #[error("no job {0}")]
    JobNotFound(String),
    /// The script failed: a Lua error, with its message and stack.
    #[error("script error: {0}")]
    Script(String),
    /// The run hit its instruction, memory or time limit; nothing it did was kept.
    #[error("{0}")]
    Limit(String),
    /// Bad input: an argument, an option, a name.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The job is in a state that does not allow this.
    #[error("job {id} is {state}: {what}")]
    BadState {
        /// The job.
        id: String,
        /// Its state.
        state: String,
        /// What was refused.
        what: String,
    },
    /// This worker no longer holds the job's lease (it expired, or another
    /// worker claimed the job, or it was cancelled): its work is dropped.
    #[error("lease lost on job {id}: {why}")]
    LeaseLost {
        /// The job.
        id: String,
        /// Why.
        why: String,
    },
    /// The script asked for files its runner does not allow, or reached
    /// outside the folders it was granted.
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// A transaction kept conflicting with other writers.
    #[error("gave up after {0} conflicts in a row")]
    TooManyConflicts(u32),
}

impl SwarmError {
    /// A conflict or another error that running the transaction again may cure.
    pub fn is_retry(&self) -> bool {
        matches!(self, SwarmError::Db(e) if e.kind() == sop::ErrorKind::Retry)
    }

    /// A short name for the kind of error (the CLI's `{"error": kind}`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            SwarmError::Db(_) => "db",
            SwarmError::ScriptNotFound(_)
            | SwarmError::VersionNotFound { .. }
            | SwarmError::JobNotFound(_) => "not_found",
            SwarmError::Script(_) => "script",
            SwarmError::Limit(_) => "limit",
            SwarmError::Invalid(_) => "invalid_input",
            SwarmError::BadState { .. } => "bad_state",
            SwarmError::LeaseLost { .. } => "lease_lost",
            SwarmError::TooManyConflicts(_) => "retry",
            SwarmError::NotAllowed(_) => "not_allowed",
        }
    }
}
