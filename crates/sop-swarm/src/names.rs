//! The names of the swarm's system stores, and the rule that scripts may not
//! touch them directly.

/// Every version of every script: key `{"name", "version"}`.
pub const SCRIPTS: &str = "_swarm.scripts";
/// One record per job: key the job id (a string).
pub const JOBS: &str = "_swarm.jobs";
/// The jobs that can be claimed: key `{"q", "p", "npri", "at", "id"}`.
pub const QUEUE: &str = "_swarm.queue";
/// Idempotency keys: key the submitter's key, value the job id.
pub const KEYS: &str = "_swarm.keys";

/// The prefix of every system store.
pub const PREFIX: &str = "_swarm.";

/// Is `name` one of the swarm's own stores (closed to scripts)?
pub fn is_system(name: &str) -> bool {
    name.starts_with(PREFIX)
}
