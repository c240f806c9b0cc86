//! Jobs: a task released into the swarm. A job names a script and its
//! arguments; any worker may claim it (with a lease), run it, and commit its
//! effects with its result in one transaction.
//!
//! States: `queued` (waiting to be claimed, maybe not before a time, maybe
//! after other jobs), `running` (claimed; its lease has an owner, an attempt
//! number and a deadline), `failed` (an attempt failed; claimable again after
//! its backoff), `done`, `dead` (dead-lettered after its last attempt, with
//! every attempt's error), `cancelled`.

pub mod cancel;
pub mod claim;
pub mod finish;
pub mod query;
pub mod queue;
pub mod submit;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

pub use query::JobFilter;
pub use submit::SubmitOptions;

/// Partitions of the queue. A job's partition is drawn at random when it is
/// submitted; claimers start at a random partition, so that many claiming at
/// once mostly take different jobs.
pub const PARTITIONS: u32 = 16;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting to be claimed.
    Queued,
    /// Claimed by a worker that holds its lease.
    Running,
    /// An attempt failed; claimable again when its backoff has passed.
    Failed,
    /// Ran to the end; its result and effects are committed.
    Done,
    /// Dead-lettered: every attempt failed (see `errors`).
    Dead,
    /// Cancelled before it finished.
    Cancelled,
}

impl JobState {
    /// Can the job still run (it has a queue entry)?
    pub fn is_live(self) -> bool {
        matches!(
            self,
            JobState::Queued | JobState::Running | JobState::Failed
        )
    }
    /// The state's name, as the CLI spells it.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Failed => "failed",
            JobState::Done => "done",
            JobState::Dead => "dead",
            JobState::Cancelled => "cancelled",
        }
    }
    /// The state named `s`.
    pub fn parse(s: &str) -> Option<JobState> {
        Some(match s {
            "queued" => JobState::Queued,
            "running" => JobState::Running,
            "failed" => JobState::Failed,
            "done" => JobState::Done,
            "dead" => JobState::Dead,
            "cancelled" => JobState::Cancelled,
            _ => return None,
        })
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A running job's lease: who holds it, for which attempt, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The worker that claimed it.
    pub owner: String,
    /// The attempt (1 for the first run).
    pub attempt: u32,
    /// When the lease ends (ms since the Unix epoch).
    pub deadline_ms: u64,
    /// The lease's length (ms): each checkpoint of the run renews it for as long.
    #[serde(default)]
    pub ms: u64,
}

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptError {
    /// The attempt.
    pub attempt: u32,
    /// The worker that ran it.
    pub owner: String,
    /// When it failed (ms since the Unix epoch).
    pub at_ms: u64,
    /// The error, with the script's stack.
    pub error: String,
}

/// A job's record (the value in `_swarm.jobs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// Its id: creation time and a random part, in hex (ids sort by creation).
    pub id: String,
    /// The script it runs.
    pub script: String,
    /// A fixed script version, or the newest at each attempt.
    pub version: Option<u64>,
    /// The script's argument.
    pub args: Value,
    /// The queue it waits in.
    pub queue: String,
    /// Its partition of the queue.
    pub partition: u32,
    /// Higher runs first.
    pub priority: i64,
    /// Not claimed before this time (ms since the Unix epoch).
    pub not_before_ms: u64,
    /// Attempts before it is dead-lettered.
    pub max_attempts: u32,
    /// Where it is in its life.
    pub state: JobState,
    /// Attempts started so far.
    pub attempts: u32,
    /// The lease while it runs.
    pub lease: Option<Lease>,
    /// Every failed attempt's error.
    pub errors: Vec<AttemptError>,
    /// What the script returned, once done.
    pub result: Option<Value>,
    /// Its idempotency key.
    pub key: Option<String>,
    /// Jobs that must be done before this one runs.
    pub after: Vec<String>,
    /// The job whose script submitted this one.
    pub parent: Option<String>,
    /// When it was submitted (ms since the Unix epoch).
    pub created_ms: u64,
    /// When it last changed state.
    pub updated_ms: u64,
    /// When its queue entry is due (ms): the key of the entry, while it has one.
    pub due_ms: u64,
    /// The state of the last checkpoint its script committed (`sop.checkpoint`):
    /// a later attempt starts with it as `sop.resumed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Value>,
    /// Checkpoints committed so far, over every attempt.
    #[serde(default)]
    pub steps: u64,
}

impl Job {
    /// The record as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a job serializes")
    }
    /// A job record read back.
    pub fn from_json(v: Value) -> crate::Result<Job> {
        serde_json::from_value(v)
            .map_err(|e| crate::SwarmError::Invalid(format!("a damaged job record: {e}")))
    }
}
