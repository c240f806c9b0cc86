//! The phases of the `swarm` workload: loading the store, starting the writer processes
//! ([`super::writer`]) and collecting their figures. Each transaction upserts `writes` (10)
//! random keys out of `keys`; in the `hot` phases each write goes, with probability
//! `hot_fraction` (10%), to one of `hot_keys` (100) keys spread evenly over the key space.
//!
//! The folder is Clustered (Redis coordination) when a Redis URL is given, and
//! Standalone otherwise (several processes on one host; the exclusive link of the
//! log serializes their commits, no lock server).

use sop::{Coordination, Database, DbOptions, StoreOptions, TxMode};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The store the benchmark loads and writes: u64 keys to u64 values.
pub const STORE: &str = "bench";

/// What the phases of one run share.
#[derive(Clone, Debug)]
pub struct Config {
    /// The database folder (created by [`load`]).
    pub db: PathBuf,
    /// Redis URL: Clustered mode. `None`: Standalone.
    pub redis: Option<String>,
    /// Committed transactions per writer process in each phase.
    pub txns: u64,
    /// Key space (loaded before the phases).
    pub keys: u64,
    /// Upserts per transaction.
    pub writes: u64,
    /// Share of writes that go to the hot keys in the `hot` phases.
    pub hot_fraction: f64,
    /// Number of hot keys, spread evenly over the key space.
    pub hot_keys: u64,
    /// Items per node of the benchmark store.
    pub slot_length: usize,
    /// Cassandra contact points: the registry there (saved in the folder's
    /// sop.json, so the writers, which open it by path, use it). `None`: the folder's.
    pub cassandra: Option<String>,
}

impl Config {
    /// The workload's shape (10 writes per transaction, 10% of writes on 100 hot keys,
    /// SOP's default slot length).
    pub fn new(db: PathBuf, redis: Option<String>, keys: u64, txns: u64) -> Self {
        Config {
            db,
            redis,
            txns,
            keys,
            writes: 10,
            hot_fraction: 0.1,
            hot_keys: 100,
            slot_length: sop::DEFAULT_SLOT_LENGTH,
            cassandra: None,
        }
    }
}

/// How to start one writer process: a program and the arguments that select its
/// writer mode (the writer's own arguments, see [`super::writer`], are appended).
#[derive(Clone, Debug)]
pub struct WriterCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

/// The phase name of issue 5: `procs_{P}_{uniform|hot}`.
pub fn phase_name(procs: usize, hot: bool) -> String {
    format!("procs_{procs}_{}", if hot { "hot" } else { "uniform" })
}

/// The figures of one phase.
#[derive(Clone, Debug)]
pub struct Phase {
    /// `procs_{P}_{uniform|hot}`.
    pub name: String,
    pub procs: usize,
    pub hot: bool,
    /// Committed transactions of all writers.
    pub committed: u64,
    /// Failed attempts (conflicts, timeouts, Redis away) of all writers.
    pub retries: u64,
    /// Wall time from releasing the writers to the last writer's result.
    pub ms: f64,
    /// Latency of a committed transaction, first `begin` to `commit` Ok, retries included.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Mean time of `begin` plus the writes, per attempt.
    pub exec_ms: f64,
    /// Mean time of `commit`, per attempt.
    pub commit_ms: f64,
    /// Log records of other processes each transaction caught up with.
    pub foreign: f64,
    /// User + system CPU of the writer processes per committed transaction.
    pub cpu_ms: f64,
    /// File `fdatasync`s and directory `fsync`s of the writers per committed transaction.
    pub data_syncs: f64,
    pub dir_syncs: f64,
}

impl Phase {
    /// Committed transactions per second of all writers together.
    pub fn ops_per_sec(&self) -> f64 {
        if self.ms > 0.0 {
            self.committed as f64 / (self.ms / 1000.0)
        } else {
            f64::INFINITY
        }
    }

    /// Failed attempts per committed transaction.
    pub fn retry_rate(&self) -> f64 {
        self.retries as f64 / self.committed.max(1) as f64
    }
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Creates the benchmark store in the new folder `cfg.db` (in the mode `cfg` gives)
/// and adds keys `0..cfg.keys` (value = key), 200,000 per transaction. The folder
/// is closed again when this returns.
pub fn load(cfg: &Config) -> sop::Result<()> {
    let db = Database::open(
        &cfg.db,
        DbOptions {
            coordination: Some(match &cfg.redis {
                Some(url) => Coordination::Redis { url: url.clone() },
                None => Coordination::Standalone,
            }),
            registry: cfg.cassandra.as_ref().map(|hosts| {
                sop::Registry::Cassandra(sop::CassandraRegistry::new(
                    hosts.split(',').map(str::to_string).collect(),
                    "sop_bench",
                ))
            }),
            recovery_interval: None,
            ..Default::default()
        },
    )?;
    let opts = StoreOptions {
        slot_length: cfg.slot_length,
        ..Default::default()
    };
    let tx = db.begin(TxMode::ForWriting)?;
    tx.create_store::<u64, u64>(STORE, opts)?;
    tx.commit()?;
    let batch = 200_000;
    let mut k = 0;
    while k < cfg.keys {
        let tx = db.begin(TxMode::ForWriting)?;
        let s = tx.open_store::<u64, u64>(STORE)?;
        for i in k..(k + batch).min(cfg.keys) {
            s.add(&i, &i)?;
        }
        tx.commit()?;
        k += batch;
    }
    Ok(())
}

/// The writer processes of one phase; killed (and reaped) if dropped before they end.
struct Writers(Vec<Child>);

impl Writers {
    /// Says how writer `i`, whose output ended `when`, ended.
    fn ended(&mut self, i: usize, when: &str) -> String {
        let status = match self.0[i].wait() {
            Ok(s) => s.to_string(),
            Err(e) => format!("status unknown: {e}"),
        };
        format!("writer {i} ended {when} ({status})")
    }
}

impl Drop for Writers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What a line of a writer's stdout says.
enum Event {
    Line(usize, String),
    Ended(usize),
}

/// Runs one phase on the loaded folder: starts `procs` writers with `cmd`, waits
/// until every one has opened the database, releases them together, and collects
/// their results. `progress` is called with the number of transactions committed
/// so far (of `procs * cfg.txns`) as they commit.
pub fn run_phase(
    cfg: &Config,
    cmd: &WriterCommand,
    procs: usize,
    hot: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<Phase, String> {
    let cpu0 = crate::rusage::children_cpu_ms();
    let mut writers = Writers(Vec::new());
    let (tx, rx) = mpsc::channel();
    for i in 0..procs {
        let mut c = Command::new(&cmd.program);
        c.args(&cmd.args).arg("--db").arg(&cfg.db);
        if let Some(url) = &cfg.redis {
            c.args(["--redis", url]);
        }
        let mut child = c
            .args([
                "--txns",
                &cfg.txns.to_string(),
                "--keys",
                &cfg.keys.to_string(),
                "--writes",
                &cfg.writes.to_string(),
                "--hot-fraction",
                &if hot { cfg.hot_fraction } else { 0.0 }.to_string(),
                "--hot-keys",
                &cfg.hot_keys.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start a writer ({}): {e}", cmd.program.display()))?;
        // One thread per writer reads its lines, so no writer ever blocks on a full pipe.
        let out = BufReader::new(child.stdout.take().expect("piped stdout"));
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in out.lines() {
                let Ok(line) = line else { break };
                if tx.send(Event::Line(i, line)).is_err() {
                    return;
                }
            }
            let _ = tx.send(Event::Ended(i));
        });
        writers.0.push(child);
    }
    drop(tx);
    let next = || {
        rx.recv()
            .map_err(|_| "the writers' output ended".to_string())
    };
    let failed = |i: usize, line: &str| {
        if line.starts_with("ERROR") || line.starts_with("FENCED") {
            Some(format!("writer {i}: {line}"))
        } else {
            None
        }
    };

    let mut ready = 0;
    while ready < procs {
        match next()? {
            Event::Line(_, l) if l == "READY" => ready += 1,
            Event::Line(i, l) => {
                if let Some(e) = failed(i, &l) {
                    return Err(e);
                }
            }
            Event::Ended(i) => return Err(writers.ended(i, "before READY")),
        }
    }
    let t0 = Instant::now();
    for c in writers.0.iter_mut() {
        let _ = writeln!(c.stdin.as_mut().expect("piped stdin"), "go");
    }
    let (mut committed_so_far, mut results) = (0u64, 0usize);
    let mut reported = vec![false; procs];
    let (mut committed, mut retries, mut lat) = (0u64, 0u64, Vec::new());
    let (mut exec_us, mut commit_us, mut foreign) = (0u64, 0u64, 0u64);
    let (mut data_syncs, mut dir_syncs) = (0u64, 0u64);
    while results < procs {
        match next()? {
            Event::Line(_, l) if l == "C" => {
                committed_so_far += 1;
                progress(committed_so_far);
            }
            Event::Line(i, l) if l.starts_with("RESULT ") => {
                let bad = || format!("writer {i}: malformed result {l:?}");
                let mut w = l.split(' ').skip(1);
                let mut num = || -> Result<u64, String> {
                    w.next().and_then(|s| s.parse::<u64>().ok()).ok_or_else(bad)
                };
                committed += num()?;
                retries += num()?;
                exec_us += num()?;
                commit_us += num()?;
                foreign += num()?;
                data_syncs += num()?;
                dir_syncs += num()?;
                if let Some(list) = w.next() {
                    for s in list.split(',').filter(|s| !s.is_empty()) {
                        lat.push(s.parse::<u64>().map_err(|_| bad())?);
                    }
                }
                reported[i] = true;
                results += 1;
            }
            Event::Line(i, l) => {
                if let Some(e) = failed(i, &l) {
                    return Err(e);
                }
            }
            // A writer's output ends after its result.
            Event::Ended(i) if reported[i] => {}
            Event::Ended(i) => return Err(writers.ended(i, "without a result")),
        }
    }
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    for mut c in std::mem::take(&mut writers.0) {
        drop(c.stdin.take());
        let _ = c.wait();
    }
    // Includes opening the database (catching up from the newest checkpoint).
    let cpu_ms = crate::rusage::children_cpu_ms() - cpu0;
    lat.sort_unstable();
    // Let the writers' leases and lock files go before the next phase.
    std::thread::sleep(Duration::from_millis(100));
    let attempts = (committed + retries).max(1) as f64;
    Ok(Phase {
        name: phase_name(procs, hot),
        procs,
        hot,
        committed,
        retries,
        ms,
        p50_ms: pct(&lat, 0.5),
        p99_ms: pct(&lat, 0.99),
        exec_ms: exec_us as f64 / attempts / 1000.0,
        commit_ms: commit_us as f64 / attempts / 1000.0,
        foreign: foreign as f64 / committed.max(1) as f64,
        cpu_ms: cpu_ms / committed.max(1) as f64,
        data_syncs: data_syncs as f64 / committed.max(1) as f64,
        dir_syncs: dir_syncs as f64 / committed.max(1) as f64,
    })
}
