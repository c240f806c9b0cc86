//! The queue index (`_swarm.queue`): one entry per job that can still run,
//! keyed `{"q": queue, "p": partition, "npri": -priority, "at": due ms, "id"}`,
//! so a partition's entries are in one run, the highest priority first, then
//! the earliest due. A queued job is due at its not-before time, a failed one
//! after its backoff, a running one at its lease deadline (when it may be taken
//! over). The value is `null`.

use super::{Job, PARTITIONS};
use crate::error::Result;
use crate::names;
use serde_json::{json, Value};
use sop::{JsonStore, Transaction};

/// The spec of the queue store's keys.
pub const SPEC: &str =
    r#"[{"field":"q"},{"field":"p"},{"field":"npri"},{"field":"at"},{"field":"id"}]"#;

/// The queue entry key of `job` as it stands (its `due_ms`).
pub fn entry_key(job: &Job) -> Value {
    json!({"q": job.queue, "p": job.partition, "npri": -job.priority, "at": job.due_ms, "id": job.id})
}

/// An entry read back: its due time and job id.
pub fn parse_entry(key: &Value) -> Option<(u64, String)> {
    Some((
        key.get("at")?.as_u64()?,
        key.get("id")?.as_str()?.to_string(),
    ))
}

/// The bounds of partition `p` of queue `q`: from its first possible entry to
/// the first possible key of the next partition (a key with fields missing
/// sorts before every entry that has them, so the upper bound matches none).
pub fn partition_bounds(q: &str, p: u32) -> (Value, Value) {
    (json!({"q": q, "p": p}), json!({"q": q, "p": p + 1}))
}

/// Open the queue store.
pub fn open(tx: &Transaction) -> Result<JsonStore<'_>> {
    Ok(tx.open_json_store(names::QUEUE)?)
}

/// A random partition.
pub fn random_partition() -> u32 {
    fastrand::u32(..PARTITIONS)
}

/// Put `job`'s entry in, due at `due_ms` (its record's `due_ms` is set too).
pub fn insert(q: &JsonStore<'_>, job: &mut Job, due_ms: u64) -> Result<()> {
    job.due_ms = due_ms;
    q.upsert(&entry_key(job), &Value::Null)?;
    Ok(())
}

/// Take `job`'s entry out.
pub fn remove(q: &JsonStore<'_>, job: &Job) -> Result<()> {
    q.remove(&entry_key(job))?;
    Ok(())
}

/// Move `job`'s entry to `due_ms`.
pub fn reschedule(q: &JsonStore<'_>, job: &mut Job, due_ms: u64) -> Result<()> {
    remove(q, job)?;
    insert(q, job, due_ms)
}
