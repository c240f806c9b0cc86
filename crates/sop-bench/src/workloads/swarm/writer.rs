//! One writer process of the `swarm` workload: `sop-bench swarm-writer ARGS`, a hidden
//! subcommand of this binary that [`super::phase::run_phase`] starts P times per phase.
//!
//! The conversation with the parent, one line each on stdout: `READY` once the folder is
//! open; then, after the parent's `go` on stdin, `C` after each committed transaction, and
//! last `RESULT <committed> <retries> <exec µs> <commit µs> <foreign> <latency µs>,...`.
//! A failure ends it with a line `ERROR ...` (exit 2), or `FENCED ...` (exit 3).

use super::phase::STORE;
use clap::Parser;
use sop::{Coordination, Database, DbOptions, Error, TxMode};
use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(name = "swarm-writer", about = "One writer of the swarm workload")]
struct WriterArgs {
    /// The database folder (loaded by the parent).
    #[arg(long)]
    db: PathBuf,
    /// Redis URL (Clustered mode); without it the folder's saved mode (Standalone).
    #[arg(long)]
    redis: Option<String>,
    /// Committed transactions to run.
    #[arg(long)]
    txns: u64,
    /// Key space.
    #[arg(long)]
    keys: u64,
    /// Upserts per transaction.
    #[arg(long)]
    writes: u64,
    /// Share of writes that go to the hot keys.
    #[arg(long)]
    hot_fraction: f64,
    #[arg(long)]
    hot_keys: u64,
}

/// Parses `argv` (the subcommand's name first, then [`WriterArgs`]) and runs one writer;
/// returns the exit code.
pub fn writer_main(argv: impl IntoIterator<Item = OsString>) -> i32 {
    let a = WriterArgs::parse_from(argv);
    match writer(&a) {
        Ok(()) => 0,
        Err((code, line)) => {
            say(&line);
            code
        }
    }
}

/// One line to the parent, flushed at once (the parent reads line by line).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // The parent gone: nobody to report to, and nothing else to do.
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(4);
    }
}

/// Opens the folder; while Redis is unreachable (still starting), keeps trying for 60 s.
fn open(a: &WriterArgs) -> Result<Database, Error> {
    let opts = || DbOptions {
        coordination: a
            .redis
            .as_ref()
            .map(|url| Coordination::Redis { url: url.clone() }),
        recovery_interval: None,
        ..Default::default()
    };
    let t = Instant::now();
    loop {
        match Database::open(&a.db, opts()) {
            Err(Error::Coordinator(_)) if t.elapsed() < Duration::from_secs(60) => {
                std::thread::sleep(Duration::from_millis(100));
            }
            r => return r,
        }
    }
}

/// Sleeps a little before a retry (spreads contending writers): up to 64 ms.
fn backoff(attempt: u32) {
    let cap = 1u64 << attempt.min(6);
    std::thread::sleep(Duration::from_micros(fastrand::u64(100..=cap * 1000)));
}

/// Runs the writer; an error is the exit code and the line that says why.
fn writer(a: &WriterArgs) -> Result<(), (i32, String)> {
    let db = open(a).map_err(|e| (2, format!("ERROR open: {e}")))?;
    say("READY");
    // Block until the parent says `go` (or closes stdin).
    for line in std::io::stdin().lock().lines() {
        match line {
            Ok(l) if l.trim() == "go" => break,
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    let mut lat = Vec::with_capacity(a.txns as usize);
    let mut retries = 0u64;
    let syncs0 = sop::OsVfs::sync_counts();
    // Where the time goes: begin + the writes (catch-up, reading nodes) vs commit;
    // and how many records of other processes each begin had to read.
    let (mut exec_us, mut commit_us, mut foreign) = (0u64, 0u64, 0u64);
    let mut last_seq: Option<u64> = None;
    let hot_step = (a.keys / a.hot_keys.max(1)).max(1);
    for _ in 0..a.txns {
        let keys: Vec<u64> = (0..a.writes)
            .map(|_| {
                if a.hot_fraction > 0.0 && fastrand::f64() < a.hot_fraction {
                    fastrand::u64(0..a.hot_keys) * hot_step
                } else {
                    fastrand::u64(0..a.keys)
                }
            })
            .collect();
        let t = Instant::now();
        let mut attempt = 0;
        loop {
            let res = (|| {
                let t1 = Instant::now();
                let tx = db.begin(TxMode::ForWriting)?;
                // Records since the previous transaction's snapshot, less our own commit.
                if let Some(l) = last_seq.replace(tx.snapshot_seq()) {
                    foreign += tx.snapshot_seq().saturating_sub(l + 1);
                }
                let s = tx.open_store::<u64, u64>(STORE)?;
                for k in &keys {
                    s.upsert(k, &fastrand::u64(..))?;
                }
                let t2 = Instant::now();
                exec_us += (t2 - t1).as_micros() as u64;
                let r = tx.commit();
                commit_us += t2.elapsed().as_micros() as u64;
                r
            })();
            match res {
                Ok(()) => break,
                // A conflict, a timeout, or Redis away for a moment: run it again.
                Err(e) if e.is_conflict() || matches!(e, Error::Coordinator(_)) => {
                    retries += 1;
                    attempt += 1;
                    backoff(attempt);
                }
                Err(e @ Error::Fenced) => return Err((3, format!("FENCED bench: {e}"))),
                Err(e) => return Err((2, format!("ERROR bench: {e}"))),
            }
        }
        lat.push(t.elapsed().as_micros() as u64);
        say("C");
    }
    let list: Vec<String> = lat.iter().map(|l| l.to_string()).collect();
    let syncs = sop::OsVfs::sync_counts();
    say(&format!(
        "RESULT {} {retries} {exec_us} {commit_us} {foreign} {} {} {}",
        lat.len(),
        syncs.data - syncs0.data,
        syncs.dirs - syncs0.dirs,
        list.join(",")
    ));
    Ok(())
}
