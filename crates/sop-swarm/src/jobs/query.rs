//! Reading jobs: one by id, or a list by state and queue.

use super::{finish, Job, JobState};
use crate::error::Result;
use crate::names;
use sop::Transaction;

/// Which jobs `list` returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only jobs of this queue.
    pub queue: Option<String>,
    /// Only jobs of this script.
    pub script: Option<String>,
    /// At most this many (the oldest first).
    pub limit: Option<usize>,
}

/// Job `id`.
pub fn get_in(tx: &Transaction, id: &str) -> Result<Job> {
    finish::read(&tx.open_json_store(names::JOBS)?, id)
}

/// The jobs that pass `filter`, oldest first.
pub fn list_in(tx: &Transaction, filter: &JobFilter) -> Result<Vec<Job>> {
    let jobs = tx.open_json_store(names::JOBS)?;
    let mut out = Vec::new();
    for item in jobs.iter()? {
        let (_, v) = item?;
        let job = Job::from_json(v)?;
        if filter.state.is_some_and(|s| s != job.state)
            || filter.queue.as_ref().is_some_and(|q| *q != job.queue)
            || filter.script.as_ref().is_some_and(|s| *s != job.script)
        {
            continue;
        }
        out.push(job);
        if filter.limit.is_some_and(|l| out.len() >= l) {
            break;
        }
    }
    Ok(out)
}
