//! The worker: threads that claim jobs, run them and commit their effects,
//! until told to stop. A stop (SIGTERM in `sop worker`) lets each thread end
//! the job it is running, up to a grace period; a job still running then is
//! abandoned, and its lease brings it back to the queue.

use crate::error::{Result, SwarmError};
use crate::jobs::finish::backoff;
use crate::swarm::{Execution, Swarm};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs run at once (threads).
    pub concurrency: usize,
    /// The queues it takes jobs from.
    pub queues: Vec<String>,
    /// The lease a claim takes: longer than any run (the time limit of a run
    /// is below it by default).
    pub lease: Duration,
    /// The first retry of a failed job waits this long; each further one twice
    /// as long, up to `backoff_max`.
    pub backoff_base: Duration,
    /// The longest wait before a retry.
    pub backoff_max: Duration,
    /// The longest sleep when there is nothing to claim (it starts at 5 ms and
    /// doubles while the queue stays empty).
    pub idle_max: Duration,
    /// After a stop, how long running jobs may take to finish.
    pub grace: Duration,
    /// Stop by itself once the queue holds no job that can still run.
    pub exit_when_empty: bool,
    /// This worker's name (the lease owner is the name and the thread).
    pub name: String,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            concurrency: 1,
            queues: vec!["default".into()],
            lease: Duration::from_secs(60),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            idle_max: Duration::from_millis(200),
            grace: Duration::from_secs(30),
            exit_when_empty: false,
            name: default_name(),
        }
    }
}

/// `host-pid-random`.
pub fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    format!("{host}-{}-{:04x}", std::process::id(), fastrand::u16(..))
}

/// What a worker did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerReport {
    /// Jobs done.
    pub done: u64,
    /// Attempts that failed (and will be retried).
    pub failed: u64,
    /// Jobs dead-lettered by this worker.
    pub dead: u64,
    /// Attempts whose lease was lost.
    pub lost: u64,
    /// Claim transactions that took a job, and how long each took (µs).
    pub claim_us: Vec<u64>,
    /// How long each attempt took from its claim to its commit (µs): the
    /// script's run, the job's completion and the commit.
    pub run_us: Vec<u64>,
    /// Time spent in claims that found nothing, and sleeping on an empty queue (µs).
    pub idle_us: u64,
    /// Threads still running a job when the grace period ended.
    pub abandoned: usize,
}

impl WorkerReport {
    fn add(&mut self, o: WorkerReport) {
        self.done += o.done;
        self.failed += o.failed;
        self.dead += o.dead;
        self.lost += o.lost;
        self.claim_us.extend(o.claim_us);
        self.run_us.extend(o.run_us);
        self.idle_us += o.idle_us;
    }

    /// The `q` quantile (0..=1) of the claim times, in µs.
    pub fn claim_quantile(&self, q: f64) -> Option<u64> {
        quantile(&self.claim_us, q)
    }
}

/// The `q` quantile (0..=1) of `v`.
pub fn quantile(v: &[u64], q: f64) -> Option<u64> {
    let mut v = v.to_vec();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    Some(v[i])
}

/// A worker on a swarm.
#[derive(Debug, Clone)]
pub struct Worker {
    swarm: Swarm,
    opts: WorkerOptions,
}

impl Worker {
    /// A worker for `swarm`.
    pub fn new(swarm: Swarm, opts: WorkerOptions) -> Worker {
        Worker { swarm, opts }
    }

    /// Run until `stop` is set (or, with `exit_when_empty`, the queue is
    /// empty); then let running jobs finish within the grace period.
    pub fn run(&self, stop: Arc<AtomicBool>) -> Result<WorkerReport> {
        let (tx, rx) = mpsc::channel();
        let n = self.opts.concurrency.max(1);
        for t in 0..n {
            let w = self.clone();
            let stop = stop.clone();
            let tx = tx.clone();
            std::thread::Builder::new()
                .name(format!("swarm-worker-{t}"))
                .spawn(move || {
                    let owner = format!("{}-{t}", w.opts.name);
                    let _ = tx.send(w.thread(&owner, &stop));
                })
                .expect("spawn a worker thread");
        }
        drop(tx);
        let mut report = WorkerReport::default();
        let mut left = n;
        let mut first_err = None;
        let mut stop_seen: Option<Instant> = None;
        while left > 0 {
            if stop_seen.is_none() && stop.load(Ordering::SeqCst) {
                stop_seen = Some(Instant::now());
            }
            let wait = match stop_seen {
                Some(at) => {
                    match self.opts.grace.checked_sub(at.elapsed()) {
                        Some(w) => w,
                        None => {
                            report.abandoned = left;
                            tracing::warn!(threads = left, "grace period over: abandoning running jobs (their leases will expire)");
                            break;
                        }
                    }
                }
                None => Duration::from_millis(50),
            };
            match rx.recv_timeout(wait.min(Duration::from_millis(50))) {
                Ok(Ok(r)) => {
                    report.add(r);
                    left -= 1;
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "a worker thread failed");
                    first_err.get_or_insert(e);
                    stop.store(true, Ordering::SeqCst);
                    left -= 1;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    fn thread(&self, owner: &str, stop: &AtomicBool) -> Result<WorkerReport> {
        let mut r = WorkerReport::default();
        let idle_min = Duration::from_millis(5);
        let mut idle = idle_min;
        let (base, max) = (self.opts.backoff_base, self.opts.backoff_max);
        while !stop.load(Ordering::SeqCst) {
            let t0 = Instant::now();
            let claimed = match self.swarm.claim(owner, &self.opts.queues, self.opts.lease) {
                Ok(c) => c,
                Err(e) => {
                    survive(e)?;
                    std::thread::sleep(idle);
                    continue;
                }
            };
            let Some(job) = claimed else {
                if self.opts.exit_when_empty && self.swarm.live_jobs()? == 0 {
                    break;
                }
                std::thread::sleep(idle);
                r.idle_us += t0.elapsed().as_micros() as u64;
                idle = (idle * 2).min(self.opts.idle_max);
                continue;
            };
            r.claim_us.push(t0.elapsed().as_micros() as u64);
            idle = idle_min;
            let t1 = Instant::now();
            let attempt = job.attempts;
            let outcome = match self.swarm.execute(&job, |a| backoff(base, max, a)) {
                Ok(o) => o,
                Err(e) => {
                    // Nothing of the attempt was kept (or its outcome is
                    // unknown): the lease brings the job back.
                    tracing::warn!(job = %job.id, script = %job.script, attempt, error = %e, "attempt abandoned");
                    survive(e)?;
                    continue;
                }
            };
            r.run_us.push(t1.elapsed().as_micros() as u64);
            match outcome {
                Execution::Done(_) => {
                    r.done += 1;
                    tracing::info!(job = %job.id, script = %job.script, attempt, ms = t1.elapsed().as_millis() as u64, "done");
                }
                Execution::Failed { error, dead } => {
                    if dead {
                        r.dead += 1;
                    } else {
                        r.failed += 1;
                    }
                    tracing::warn!(job = %job.id, script = %job.script, attempt, dead, ms = t1.elapsed().as_millis() as u64, %error, "failed");
                }
                Execution::Lost(why) => {
                    r.lost += 1;
                    tracing::warn!(job = %job.id, script = %job.script, attempt, ms = t1.elapsed().as_millis() as u64, %why, "lease lost: its effects were dropped");
                }
            }
        }
        Ok(r)
    }
}

/// Go on after `e` (a passing failure, logged), or stop the worker with it
/// (the handle is poisoned or fenced, or the data is damaged: reopen).
fn survive(e: SwarmError) -> Result<()> {
    use sop::ErrorKind as K;
    match &e {
        SwarmError::Db(d)
            if matches!(
                d.kind(),
                K::Poisoned | K::Fenced | K::Corrupt | K::OutcomeUnknown
            ) =>
        {
            Err(e)
        }
        _ => {
            tracing::warn!(error = %e, "retrying after an error");
            Ok(())
        }
    }
}
