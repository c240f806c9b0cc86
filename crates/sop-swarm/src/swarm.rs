//! [`Swarm`]: the swarm's API on an open database, for the CLI, workers and
//! programs (`sop_swarm::Swarm`): scripts, running a script here, jobs.

use crate::api::{self, Step};
use crate::error::{Result, SwarmError};
use crate::grants::Grants;
use crate::jobs::{self, finish, Job, JobFilter, JobState, SubmitOptions};
use crate::names;
use crate::sandbox::Limits;
use crate::scripts::{self, ScriptSummary, ScriptVersion};
use serde_json::Value;
use sop::{Database, ErrorKind, StoreOptions, Transaction, TxMode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How the swarm runs scripts.
#[derive(Debug, Clone)]
pub struct SwarmOptions {
    /// The limits of every run.
    pub limits: Limits,
    /// Conflicts in a row before a transaction (and a script run) gives up.
    pub max_conflicts: u32,
    /// The folders scripts may read or write, if their manifest asks
    /// ([`crate::grants`]); none by default.
    pub allow: Grants,
}

impl Default for SwarmOptions {
    fn default() -> Self {
        SwarmOptions {
            limits: Limits::default(),
            max_conflicts: 50,
            allow: Grants::default(),
        }
    }
}

/// How one attempt of a job ended, for the worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Execution {
    /// Done: its effects and result are committed.
    Done(Value),
    /// The attempt failed (its error recorded); `dead`: that was the last one.
    Failed {
        /// The error.
        error: String,
        /// Dead-lettered.
        dead: bool,
    },
    /// The lease was lost (expired, taken over, cancelled): nothing was kept.
    Lost(String),
}

/// The swarm on one database.
#[derive(Debug, Clone)]
pub struct Swarm {
    db: Database,
    opts: SwarmOptions,
    /// Conflicts met so far (transactions run again), by this handle and its clones.
    conflicts: Arc<AtomicU64>,
}

fn specs() -> [(&'static str, Option<&'static str>); 4] {
    [
        (
            names::SCRIPTS,
            Some(r#"[{"field":"name"},{"field":"version"}]"#),
        ),
        (names::JOBS, None),
        (names::QUEUE, Some(jobs::queue::SPEC)),
        (names::KEYS, None),
    ]
}

impl Swarm {
    /// The swarm on `db`; makes its system stores if they are missing.
    pub fn open(db: Database, opts: SwarmOptions) -> Result<Swarm> {
        let s = Swarm {
            db,
            opts,
            conflicts: Arc::new(AtomicU64::new(0)),
        };
        s.ensure_stores()?;
        Ok(s)
    }

    /// The database.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// How many transactions this handle (and its clones) ran again after a
    /// conflict: claims, job runs, submits, ...
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// The options.
    pub fn options(&self) -> &SwarmOptions {
        &self.opts
    }

    fn ensure_stores(&self) -> Result<()> {
        let missing = {
            let tx = self.db.begin(TxMode::NoCheck)?;
            let have = tx.list_stores()?;
            specs().iter().any(|(n, _)| !have.iter().any(|h| h == n))
        };
        if !missing {
            return Ok(());
        }
        self.write(|tx| {
            let have = tx.list_stores()?;
            for (name, spec) in specs() {
                if !have.iter().any(|h| h == name) {
                    let spec = spec
                        .map(sop::IndexSpec::parse)
                        .transpose()
                        .map_err(sop::Error::Codec)?;
                    let opts = StoreOptions {
                        unique: true,
                        ..StoreOptions::default()
                    };
                    tx.create_json_store(name, opts, spec)?;
                }
            }
            Ok(())
        })
    }

    /// Run `f` in a `ForWriting` transaction and commit; on a conflict, run it
    /// again (up to `max_conflicts` times).
    pub fn write<T>(&self, f: impl Fn(&Transaction) -> Result<T>) -> Result<T> {
        self.retrying(|| {
            let tx = self.db.begin(TxMode::ForWriting)?;
            let v = f(&tx)?;
            tx.commit()?;
            Ok(v)
        })
    }

    /// Run `attempt` again after a conflict (up to `max_conflicts` times, with
    /// a short random pause), counting each in `conflicts`.
    fn retrying<T>(&self, mut attempt: impl FnMut() -> Result<T>) -> Result<T> {
        let mut n = 0;
        loop {
            match attempt() {
                Err(e) if e.is_retry() && n < self.opts.max_conflicts => {
                    n += 1;
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                    pause(n);
                }
                Err(e) if e.is_retry() => return Err(SwarmError::TooManyConflicts(n)),
                r => return r,
            }
        }
    }

    /// Run `f` in a snapshot read (`NoCheck`).
    pub fn read<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        let tx = self.db.begin(TxMode::NoCheck)?;
        f(&tx)
    }

    /// Save `source` as the next version of script `name`; returns the version.
    pub fn put_script(&self, name: &str, source: &str) -> Result<u64> {
        self.write(|tx| scripts::put(tx, name, source))
    }

    /// Version `version` of script `name`, or its newest.
    pub fn script(&self, name: &str, version: Option<u64>) -> Result<ScriptVersion> {
        self.read(|tx| scripts::get(tx, name, version))
    }

    /// Every script.
    pub fn scripts(&self) -> Result<Vec<ScriptSummary>> {
        self.read(scripts::list)
    }

    /// Delete a version of a script, or all of them; returns how many went.
    pub fn delete_script(&self, name: &str, version: Option<u64>) -> Result<u64> {
        self.write(|tx| scripts::delete(tx, name, version))
    }

    /// Run script `name` here, now, with `args`, and return its result. The
    /// run is one transaction, run again from the start on a conflict; a
    /// script that calls `sop.checkpoint(state)` commits there, and a conflict
    /// after that runs it again from the start with `sop.resumed = state`.
    /// (That state lives in this call only: a job keeps it in the database.)
    pub fn run_script(&self, name: &str, version: Option<u64>, args: &Value) -> Result<Value> {
        let mut resumed: Option<Value> = None;
        self.retrying(|| {
            let mut tx = self.db.begin(TxMode::ForWriting)?;
            let script = scripts::get(&tx, name, version)?;
            let mut run = api::Run::start(
                &script,
                &self.opts.limits,
                &self.opts.allow,
                None,
                resumed.as_ref(),
            )?;
            let mut input = Some(args);
            loop {
                match run.step(&tx, input.take())? {
                    Step::Done(v) => {
                        tx.commit()?;
                        return Ok(v);
                    }
                    Step::Checkpoint(state) => {
                        tx.commit()?;
                        resumed = Some(state);
                        tx = self.db.begin(TxMode::ForWriting)?;
                    }
                }
            }
        })
    }

    /// Submit a job; returns its id and whether it is new (false: its
    /// idempotency key named a job already there).
    pub fn submit(
        &self,
        script: &str,
        args: Value,
        opts: &SubmitOptions,
    ) -> Result<(String, bool)> {
        self.write(|tx| jobs::submit::submit(tx, script, args.clone(), opts))
    }

    /// Job `id`.
    pub fn job(&self, id: &str) -> Result<Job> {
        self.read(|tx| jobs::query::get_in(tx, id))
    }

    /// The jobs that pass `filter`, oldest first.
    pub fn jobs(&self, filter: &JobFilter) -> Result<Vec<Job>> {
        self.read(|tx| jobs::query::list_in(tx, filter))
    }

    /// Jobs that can still run (queued, running or failed and waiting).
    pub fn live_jobs(&self) -> Result<u64> {
        self.read(|tx| Ok(jobs::queue::open(tx)?.count()?))
    }

    /// Cancel job `id`.
    pub fn cancel(&self, id: &str) -> Result<()> {
        self.write(|tx| jobs::cancel::cancel_in(tx, id))
    }

    /// Claim a due job of `queues` for `owner` with a lease of `lease`.
    pub fn claim(&self, owner: &str, queues: &[String], lease: Duration) -> Result<Option<Job>> {
        let start = jobs::queue::random_partition();
        let ms = lease.as_millis() as u64;
        self.write(|tx| jobs::claim::claim_in(tx, owner, queues, ms, start))
    }

    /// Run one attempt of `job` (as claimed: its lease set) and commit its
    /// effects with its result, or record its failure.
    pub fn execute(&self, job: &Job, backoff: impl Fn(u32) -> Duration) -> Result<Execution> {
        let mut lease = job.lease.clone().ok_or_else(|| SwarmError::BadState {
            id: job.id.clone(),
            state: job.state.to_string(),
            what: "only a claimed job can be executed".into(),
        })?;
        let mut conflicts = 0;
        let error = loop {
            match self.attempt(job, &mut lease) {
                Ok(v) => return Ok(Execution::Done(v)),
                Err(SwarmError::LeaseLost { why, .. }) => return Ok(Execution::Lost(why)),
                Err(e) if e.is_retry() => {
                    conflicts += 1;
                    self.conflicts.fetch_add(1, Ordering::Relaxed);
                    if conflicts > self.opts.max_conflicts {
                        break format!("gave up after {conflicts} conflicts in a row");
                    }
                    pause(conflicts);
                }
                Err(e @ SwarmError::Db(_)) => return Err(e),
                Err(e) => break e.to_string(),
            }
        };
        match self.write(|tx| finish::fail_in(tx, &job.id, &lease, &error, &backoff)) {
            Ok(j) => Ok(Execution::Failed {
                error,
                dead: j.state == JobState::Dead,
            }),
            Err(SwarmError::LeaseLost { why, .. }) => Ok(Execution::Lost(why)),
            Err(e) => Err(e),
        }
    }

    /// One run of `job`'s script from its last checkpoint, step by step: each
    /// step's transaction re-reads the job and checks `lease` (fencing); a
    /// checkpoint commits the step with its state and renews `lease`; the last
    /// step commits the effects with the result and the state `done`.
    fn attempt(&self, job: &Job, lease: &mut jobs::Lease) -> Result<Value> {
        let begin = || -> Result<(Transaction, Job)> {
            let tx = self.db.begin(TxMode::ForWriting)?;
            let cur = finish::read(&tx.open_json_store(names::JOBS)?, &job.id)?;
            Ok((tx, cur))
        };
        let (mut tx, cur) = begin()?;
        finish::fence(&cur, lease, crate::time::now_ms())?;
        let script = scripts::get(&tx, &cur.script, cur.version)?;
        let mut run = api::Run::start(
            &script,
            &self.opts.limits,
            &self.opts.allow,
            Some(&job.id),
            cur.checkpoint.as_ref(),
        )?;
        let mut input = Some(&cur.args);
        loop {
            match run.step(&tx, input.take())? {
                Step::Done(v) => {
                    finish::complete_in(&tx, &job.id, lease, v.clone())?;
                    tx.commit()?;
                    return Ok(v);
                }
                Step::Checkpoint(state) => {
                    let renewed = finish::checkpoint_in(&tx, &job.id, lease, state)?;
                    tx.commit()?;
                    *lease = renewed;
                    let (next, cur) = begin()?;
                    finish::fence(&cur, lease, crate::time::now_ms())?;
                    tx = next;
                }
            }
        }
    }
}

/// A short random pause after the `n`th conflict in a row (up to ~n ms).
fn pause(n: u32) {
    let ms = fastrand::u64(0..=u64::from(n.min(20)));
    if ms > 0 {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// Is `e` a conflict (worth running the transaction again)?
pub fn is_conflict(e: &sop::Error) -> bool {
    e.kind() == ErrorKind::Retry
}
