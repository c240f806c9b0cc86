//! Cancelling a job: it leaves the queue and will not run again. A running
//! job's worker finds at its commit that the job is no longer its to finish
//! (fencing), so none of that run's effects are kept.

use super::{finish, queue, JobState};
use crate::error::{Result, SwarmError};
use crate::{names, time};
use serde_json::Value;
use sop::Transaction;

/// Cancel job `id` in `tx`. A job that is done, dead or cancelled already is
/// `BadState`.
pub fn cancel_in(tx: &Transaction, id: &str) -> Result<()> {
    let jobs = tx.open_json_store(names::JOBS)?;
    let mut job = finish::read(&jobs, id)?;
    if !job.state.is_live() {
        return Err(SwarmError::BadState {
            id: id.to_string(),
            state: job.state.to_string(),
            what: "only a queued, running or failed job can be cancelled".into(),
        });
    }
    queue::remove(&queue::open(tx)?, &job)?;
    job.state = JobState::Cancelled;
    job.lease = None;
    job.updated_ms = time::now_ms();
    jobs.upsert(&Value::String(id.to_string()), &job.to_json())?;
    Ok(())
}
