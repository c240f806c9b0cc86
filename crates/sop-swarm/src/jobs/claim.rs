//! Claiming a job: one transaction that finds a due entry in the queue, takes
//! the job with a lease (owner, attempt, deadline) and moves its entry to the
//! lease deadline, so that the job comes back by itself if its worker dies.
//!
//! The claimer looks at one partition at a time, starting at a random one, and
//! reads at most [`SCAN`] entries of each: concurrent claimers mostly read
//! different entries, and the engine merges their commits.

use super::{queue, AttemptError, Job, JobState, Lease, PARTITIONS};
use crate::error::Result;
use crate::{names, time};
use serde_json::Value;
use sop::{JsonStore, Transaction};

/// Entries read per partition in one claim.
pub const SCAN: usize = 32;

/// How long a job that waits for others (`after`) waits before it is looked
/// at again.
pub const WAIT_AFTER_MS: u64 = 200;

/// Claim a due job of one of `queues` for `owner`, in `tx`, starting at
/// partition `start`. Returns the job as claimed (state running, its lease
/// set), or `None` if no job is due. Jobs found with an expired lease on their
/// last attempt, or waiting for a job that is dead, are dead-lettered on the
/// way (commit `tx` even when it returns `None`).
pub fn claim_in(
    tx: &Transaction,
    owner: &str,
    queues: &[String],
    lease_ms: u64,
    start: u32,
) -> Result<Option<Job>> {
    let q = queue::open(tx)?;
    let jobs = tx.open_json_store(names::JOBS)?;
    let now = time::now_ms();
    for qname in queues {
        for i in 0..PARTITIONS {
            let p = (start + i) % PARTITIONS;
            for id in due_entries(&q, qname, p, now)? {
                if let Some(job) = consider(&q, &jobs, &id, owner, lease_ms, now)? {
                    return Ok(Some(job));
                }
            }
        }
    }
    Ok(None)
}

/// How many priority levels one claim looks at in a partition.
pub const LEVELS: usize = 8;

/// The due entries (job ids) among the first of partition `p` of queue
/// `qname`: at most [`SCAN`] entries in all. Within one priority the entries
/// are in due order, so the first entry not yet due ends that priority: the
/// scan jumps to the next one (at most [`LEVELS`] of them), and jobs of a
/// lower priority are not hidden behind many of a higher one due later.
fn due_entries(q: &JsonStore<'_>, qname: &str, p: u32, now: u64) -> Result<Vec<String>> {
    let (mut from, to) = queue::partition_bounds(qname, p);
    let mut due = Vec::new();
    let mut read = 0;
    for _ in 0..LEVELS {
        let mut next = None;
        for item in q.range(Some(&from), Some(&to), false)? {
            let (key, _) = item?;
            read += 1;
            if let Some((at, id)) = queue::parse_entry(&key) {
                if at <= now {
                    due.push(id);
                } else {
                    next = key.get("npri").and_then(|n| n.as_i64());
                    break;
                }
            }
            if read >= SCAN {
                return Ok(due);
            }
        }
        match next {
            // The next priority level: a key with only q, p and npri sorts
            // before every entry of that level.
            Some(npri) if due.is_empty() && npri < i64::MAX => {
                from = serde_json::json!({"q": qname, "p": p, "npri": npri + 1});
            }
            _ => break,
        }
    }
    Ok(due)
}

fn save(jobs: &JsonStore<'_>, job: &Job) -> Result<()> {
    jobs.upsert(&Value::String(job.id.clone()), &job.to_json())?;
    Ok(())
}

/// Take job `id` (its entry is due) if it can run now.
fn consider(
    q: &JsonStore<'_>,
    jobs: &JsonStore<'_>,
    id: &str,
    owner: &str,
    lease_ms: u64,
    now: u64,
) -> Result<Option<Job>> {
    let Some(v) = jobs.get(&Value::String(id.to_string()))? else {
        return Ok(None);
    };
    let mut job = Job::from_json(v)?;
    if !job.state.is_live() {
        // An entry left behind (never written so): take it out.
        queue::remove(q, &job)?;
        return Ok(None);
    }
    if job.state == JobState::Running {
        // Its lease expired: the attempt is lost.
        if let Some(l) = job.lease.take() {
            job.errors.push(AttemptError {
                attempt: l.attempt,
                owner: l.owner.clone(),
                at_ms: now,
                error: format!(
                    "lease expired: worker {} did not finish attempt {} in time",
                    l.owner, l.attempt
                ),
            });
        }
        if job.attempts >= job.max_attempts {
            return dead(q, jobs, job, now).map(|_| None);
        }
        job.state = JobState::Failed;
    }
    if !job.after.is_empty() {
        let mut all_done = true;
        for dep in job.after.clone() {
            let state = match jobs.get(&Value::String(dep.clone()))? {
                Some(v) => Job::from_json(v)?.state,
                None => JobState::Cancelled,
            };
            match state {
                JobState::Done => {}
                JobState::Dead | JobState::Cancelled => {
                    job.errors.push(AttemptError {
                        attempt: job.attempts,
                        owner: owner.to_string(),
                        at_ms: now,
                        error: format!("job {dep}, which this job waits for, is {state}"),
                    });
                    return dead(q, jobs, job, now).map(|_| None);
                }
                _ => all_done = false,
            }
        }
        if !all_done {
            queue::reschedule(q, &mut job, now + WAIT_AFTER_MS)?;
            save(jobs, &job)?;
            return Ok(None);
        }
    }
    job.attempts += 1;
    let lease = Lease {
        owner: owner.to_string(),
        attempt: job.attempts,
        deadline_ms: now + lease_ms,
        ms: lease_ms,
    };
    queue::reschedule(q, &mut job, lease.deadline_ms)?;
    job.lease = Some(lease);
    job.state = JobState::Running;
    job.updated_ms = now;
    save(jobs, &job)?;
    Ok(Some(job))
}

fn dead(q: &JsonStore<'_>, jobs: &JsonStore<'_>, mut job: Job, now: u64) -> Result<()> {
    queue::remove(q, &job)?;
    job.state = JobState::Dead;
    job.lease = None;
    job.updated_ms = now;
    tracing::warn!(job = %job.id, script = %job.script, attempts = job.attempts, "dead-lettered");
    save(jobs, &job)
}
