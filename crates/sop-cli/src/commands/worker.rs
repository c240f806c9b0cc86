//! `sop worker`: claim and run jobs until stopped.

use super::swarm_common::lift;
use crate::args::{Cli, LimitArgs};
use crate::output::emit;
use anyhow::Result;
use serde_json::json;
use sop::{Database, DbOptions};
use sop_swarm::{Swarm, Worker, WorkerOptions};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The options of `sop worker`.
pub struct Args<'a> {
    pub concurrency: u64,
    pub queues: &'a [String],
    pub lease: f64,
    pub grace: f64,
    pub backoff: f64,
    pub exit_when_empty: bool,
    pub limits: LimitArgs,
}

pub fn run(cli: &Cli, a: Args<'_>) -> Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .with_max_level(tracing::Level::INFO)
        .try_init();
    crate::sigterm::catch();
    // A long-running process: recovery runs in the background too (the
    // default interval), so what crashed processes left is rolled back.
    let opts = DbOptions {
        create: false,
        exclusive: cli.exclusive,
        ..Default::default()
    };
    let db = Database::open(&cli.db, opts).map_err(|e| {
        anyhow::Error::new(e).context(format!("cannot open the database at {}", cli.db.display()))
    })?;
    let swarm = lift(a.limits.options().and_then(|o| Swarm::open(db, o)))?;
    let wopts = WorkerOptions {
        concurrency: a.concurrency as usize,
        queues: a.queues.to_vec(),
        lease: Duration::from_secs_f64(a.lease),
        grace: Duration::from_secs_f64(a.grace),
        backoff_base: Duration::from_secs_f64(a.backoff),
        exit_when_empty: a.exit_when_empty,
        ..WorkerOptions::default()
    };
    tracing::info!(
        name = %wopts.name,
        concurrency = wopts.concurrency,
        queues = %wopts.queues.join(","),
        "worker started"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let watch = stop.clone();
    std::thread::spawn(move || loop {
        if crate::sigterm::caught() {
            watch.store(true, Ordering::SeqCst);
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    });
    let report = lift(Worker::new(swarm, wopts).run(stop))?;
    tracing::info!(
        done = report.done,
        failed = report.failed,
        dead = report.dead,
        lost = report.lost,
        abandoned = report.abandoned,
        "worker stopped"
    );
    emit(
        cli.json,
        format!(
            "worker stopped: {} done, {} failed, {} dead-lettered, {} leases lost, {} abandoned",
            report.done, report.failed, report.dead, report.lost, report.abandoned
        ),
        json!({"done": report.done, "failed": report.failed, "dead": report.dead,
               "lost": report.lost, "abandoned": report.abandoned,
               "claim_p50_us": report.claim_quantile(0.5), "claim_p99_us": report.claim_quantile(0.99)}),
    );
    Ok(())
}
