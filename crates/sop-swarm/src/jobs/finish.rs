//! The end of an attempt, in the transaction that holds its effects: done
//! (with the result), or failed (retried after a backoff, or dead-lettered
//! after the last attempt). Both first check the lease (fencing).

use super::{queue, AttemptError, Job, JobState, Lease};
use crate::error::{Result, SwarmError};
use crate::{names, time};
use serde_json::Value;
use sop::{JsonStore, Transaction};
use std::time::Duration;

/// Read job `id` in `tx`.
pub fn read(jobs: &JsonStore<'_>, id: &str) -> Result<Job> {
    match jobs.get(&Value::String(id.to_string()))? {
        Some(v) => Job::from_json(v),
        None => Err(SwarmError::JobNotFound(id.to_string())),
    }
}

/// Fencing: is `job` (as read in the transaction about to commit) still
/// running under `lease`, before its deadline? A worker that lost its lease
/// gets `LeaseLost` and must drop its work. The read of the record is in the
/// transaction's read set, so a claim by another worker that commits after
/// this check makes the commit fail as a conflict.
pub fn fence(job: &Job, lease: &Lease, now_ms: u64) -> Result<()> {
    let lost = |why: String| {
        Err(SwarmError::LeaseLost {
            id: job.id.clone(),
            why,
        })
    };
    if job.state != JobState::Running {
        return lost(format!("the job is {}", job.state));
    }
    match &job.lease {
        Some(l) if l == lease => {}
        Some(l) => {
            return lost(format!(
                "worker {} holds it now (attempt {})",
                l.owner, l.attempt
            ))
        }
        None => return lost("it has no lease".into()),
    }
    if now_ms >= lease.deadline_ms {
        return lost(format!(
            "the lease ended {} ms ago",
            now_ms - lease.deadline_ms
        ));
    }
    Ok(())
}

/// Mark job `id` done with `result` in `tx` (which holds its effects), if
/// `lease` still holds.
pub fn complete_in(tx: &Transaction, id: &str, lease: &Lease, result: Value) -> Result<Job> {
    let jobs = tx.open_json_store(names::JOBS)?;
    let mut job = read(&jobs, id)?;
    let now = time::now_ms();
    fence(&job, lease, now)?;
    queue::remove(&queue::open(tx)?, &job)?;
    job.state = JobState::Done;
    job.result = Some(result);
    job.lease = None;
    job.updated_ms = now;
    jobs.upsert(&Value::String(job.id.clone()), &job.to_json())?;
    Ok(job)
}

/// Commit point of one step of job `id` in `tx` (which holds the step's
/// effects), if `lease` still holds: keep `state` as the job's checkpoint and
/// renew the lease for its length from now (the job's queue entry moves with
/// it). Returns the renewed lease, which the rest of the run holds.
pub fn checkpoint_in(tx: &Transaction, id: &str, lease: &Lease, state: Value) -> Result<Lease> {
    let jobs = tx.open_json_store(names::JOBS)?;
    let mut job = read(&jobs, id)?;
    let now = time::now_ms();
    fence(&job, lease, now)?;
    let length = if lease.ms > 0 {
        lease.ms
    } else {
        lease.deadline_ms.saturating_sub(job.updated_ms)
    };
    let renewed = Lease {
        deadline_ms: (now + length).max(lease.deadline_ms),
        ..lease.clone()
    };
    queue::reschedule(&queue::open(tx)?, &mut job, renewed.deadline_ms)?;
    job.lease = Some(renewed.clone());
    job.checkpoint = Some(state);
    job.steps += 1;
    job.updated_ms = now;
    jobs.upsert(&Value::String(job.id.clone()), &job.to_json())?;
    Ok(renewed)
}

/// The wait before attempt `attempts + 1`: `base` doubled for each failed
/// attempt after the first, at most `max`.
pub fn backoff(base: Duration, max: Duration, attempts: u32) -> Duration {
    let shift = attempts.saturating_sub(1).min(20);
    base.saturating_mul(1 << shift).min(max)
}

/// Record a failed attempt of job `id` in `tx`, if `lease` still holds: the
/// job waits `wait` and runs again, or is dead-lettered after its last attempt.
/// Returns the job as it is now.
pub fn fail_in(
    tx: &Transaction,
    id: &str,
    lease: &Lease,
    error: &str,
    backoff: impl Fn(u32) -> Duration,
) -> Result<Job> {
    let jobs = tx.open_json_store(names::JOBS)?;
    let q = queue::open(tx)?;
    let mut job = read(&jobs, id)?;
    let now = time::now_ms();
    fence(&job, lease, now)?;
    job.errors.push(AttemptError {
        attempt: lease.attempt,
        owner: lease.owner.clone(),
        at_ms: now,
        error: error.to_string(),
    });
    job.lease = None;
    job.updated_ms = now;
    if job.attempts >= job.max_attempts {
        queue::remove(&q, &job)?;
        job.state = JobState::Dead;
    } else {
        let wait = backoff(job.attempts).as_millis() as u64;
        queue::reschedule(&q, &mut job, now + wait)?;
        job.state = JobState::Failed;
    }
    jobs.upsert(&Value::String(job.id.clone()), &job.to_json())?;
    Ok(job)
}
