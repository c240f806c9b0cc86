//! Submitting a job: its record, its queue entry and its idempotency key, in
//! the caller's transaction (so a script's child jobs commit with its effects).

use super::{queue, Job, JobState};
use crate::error::{Result, SwarmError};
use crate::{names, scripts, time};
use serde_json::Value;
use sop::Transaction;

/// How to submit a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitOptions {
    /// Idempotency key: a second submit with the same key returns the first job.
    pub key: Option<String>,
    /// Higher runs first (default 0).
    pub priority: i64,
    /// Not claimed before this time (ms since the Unix epoch).
    pub not_before_ms: Option<u64>,
    /// Attempts before the job is dead-lettered (default 3).
    pub max_attempts: u32,
    /// The queue (default "default").
    pub queue: String,
    /// Jobs that must be done first (a job after one that is dead or cancelled
    /// is dead-lettered).
    pub after: Vec<String>,
    /// Run this version of the script (default: the newest at each attempt).
    pub version: Option<u64>,
    /// The job submitting this one, if any.
    pub parent: Option<String>,
}

impl Default for SubmitOptions {
    fn default() -> Self {
        SubmitOptions {
            key: None,
            priority: 0,
            not_before_ms: None,
            max_attempts: 3,
            queue: "default".into(),
            after: Vec::new(),
            version: None,
            parent: None,
        }
    }
}

/// A new job id: the time in ms (12 hex digits) and 32 random bits, so ids
/// sort by creation.
pub fn new_id(now_ms: u64) -> String {
    format!("{:012x}{:08x}", now_ms, fastrand::u32(..))
}

/// Submit a job in `tx`. Returns its id and whether it is new (false: the
/// idempotency key named a job already there).
pub fn submit(
    tx: &Transaction,
    script: &str,
    args: Value,
    opts: &SubmitOptions,
) -> Result<(String, bool)> {
    scripts::check_name(script)?;
    if opts.max_attempts == 0 {
        return Err(SwarmError::Invalid(
            "max_attempts must be at least 1".into(),
        ));
    }
    if opts.queue.is_empty() || opts.queue.len() > 200 {
        return Err(SwarmError::Invalid("a queue name is 1 to 200 bytes".into()));
    }
    let keys = tx.open_json_store(names::KEYS)?;
    if let Some(k) = &opts.key {
        if let Some(id) = keys.get(&Value::String(k.clone()))? {
            let id = id.as_str().unwrap_or_default().to_string();
            return Ok((id, false));
        }
    }
    // The script must be there now (a version, if one is named).
    scripts::get(tx, script, opts.version)?;
    let jobs = tx.open_json_store(names::JOBS)?;
    for dep in &opts.after {
        if !jobs.contains(&Value::String(dep.clone()))? {
            return Err(SwarmError::JobNotFound(dep.clone()));
        }
    }
    let now = time::now_ms();
    let id = new_id(now);
    let not_before = opts.not_before_ms.unwrap_or(now);
    let mut job = Job {
        id: id.clone(),
        script: script.to_string(),
        version: opts.version,
        args,
        queue: opts.queue.clone(),
        partition: queue::random_partition(),
        priority: opts.priority,
        not_before_ms: not_before,
        max_attempts: opts.max_attempts,
        state: JobState::Queued,
        attempts: 0,
        lease: None,
        errors: Vec::new(),
        result: None,
        key: opts.key.clone(),
        after: opts.after.clone(),
        parent: opts.parent.clone(),
        created_ms: now,
        updated_ms: now,
        due_ms: not_before,
        checkpoint: None,
        steps: 0,
    };
    queue::insert(&queue::open(tx)?, &mut job, not_before)?;
    jobs.upsert(&Value::String(id.clone()), &job.to_json())?;
    if let Some(k) = &opts.key {
        keys.upsert(&Value::String(k.clone()), &Value::String(id.clone()))?;
    }
    Ok((id, true))
}
