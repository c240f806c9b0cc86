//! The swarm benchmark: aggregate committed transactions per second with 1, 2, 4
//! and 8 writer processes over one folder. Each transaction upserts `writes` (10)
//! random keys out of `keys`; in the `hot` phases each write goes, with
//! probability `hot_fraction` (10%), to one of `hot_keys` (100) keys spread evenly
//! over the key space.
//!
//! The folder is Clustered (Redis coordination) when a Redis URL is given, and
//! Standalone otherwise (several processes on one host; the exclusive link of the
//! log serializes their commits, no lock server).
//!
//! The pieces are public so that two commands share them: `sop-swarm bench` (the
//! [`run`] below, with its diagnostics table) and `sop-bench swarm` (the harness's
//! table and JSON). Each starts the writers ([`writer`]) as child processes of its
//! own binary, described by a [`WriterCommand`].

use crate::common::{backoff, on_error, say, wait_for_line, DbArgs, Next};
use clap::{Args, Parser};
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
}

impl Config {
    /// The defaults of both commands for the workload's shape (10 writes per transaction,
    /// 10% of writes on 100 hot keys, SOP's default slot length).
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
        }
    }

    /// `sop` (Standalone) or `sop-redis` (Clustered): the engine name the reports use.
    pub fn engine(&self) -> &'static str {
        if self.redis.is_some() {
            "sop-redis"
        } else {
            "sop"
        }
    }
}

/// How to start one writer process: a program and the arguments that select its
/// writer mode (the writer's own arguments, [`WriterArgs`], are appended).
#[derive(Clone, Debug)]
pub struct WriterCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

/// The phase name of issue 5: `procs_{P}_{uniform|hot}`.
pub fn phase_name(procs: usize, hot: bool) -> String {
    format!("procs_{procs}_{}", if hot { "hot" } else { "uniform" })
}

#[derive(Args, Debug)]
pub struct WriterArgs {
    #[command(flatten)]
    db: DbArgs,
    #[arg(long)]
    txns: u64,
    #[arg(long)]
    keys: u64,
    #[arg(long)]
    writes: u64,
    #[arg(long)]
    hot_fraction: f64,
    #[arg(long)]
    hot_keys: u64,
}

#[derive(Parser)]
#[command(name = "swarm-writer", about = "One writer of the swarm benchmark")]
struct WriterCli {
    #[command(flatten)]
    a: WriterArgs,
}

/// For a binary that dispatches on a hidden subcommand of its own: parse `argv`
/// (program name first, then [`WriterArgs`]) and run one writer; the exit code.
pub fn writer_main(argv: impl IntoIterator<Item = OsString>) -> i32 {
    writer(WriterCli::parse_from(argv).a)
}

/// One benchmark writer: READY, wait for `go`, commit `txns` transactions (a line
/// `C` after each), then print
/// `RESULT <committed> <retries> <exec µs> <commit µs> <foreign> <latency µs>,<latency µs>,...`.
pub fn writer(a: WriterArgs) -> i32 {
    let db = a.db.open();
    say("READY");
    wait_for_line("go");
    let mut lat = Vec::with_capacity(a.txns as usize);
    let mut retries = 0u64;
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
                Err(e) => match on_error("bench", &e) {
                    Next::Retry => {
                        retries += 1;
                        attempt += 1;
                        backoff(attempt);
                    }
                    Next::Stop => return 2,
                },
            }
        }
        lat.push(t.elapsed().as_micros() as u64);
        say("C");
    }
    let list: Vec<String> = lat.iter().map(|l| l.to_string()).collect();
    // Long line: written whole by one call, after the measurements.
    say(&format!(
        "RESULT {} {retries} {exec_us} {commit_us} {foreign} {}",
        lat.len(),
        list.join(",")
    ));
    0
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

/// CPU time (user + system) of this process's waited-for children, in ms.
fn children_cpu_ms() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    ms(ru.ru_utime) + ms(ru.ru_stime)
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
    let cpu0 = children_cpu_ms();
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
    let cpu_ms = children_cpu_ms() - cpu0;
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
    })
}

#[derive(Args)]
pub struct BenchArgs {
    /// Redis URL: Clustered mode (engine `sop-redis`). Without it the folder is
    /// Standalone (engine `sop`): the writers are processes on this host.
    #[arg(long)]
    redis: Option<String>,
    /// Folder for the database (a fresh temporary folder by default; it must not hold a database).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Writer process counts to measure.
    #[arg(long, default_value = "1,2,4,8", value_delimiter = ',')]
    procs: Vec<usize>,
    /// Committed transactions per writer process in each phase.
    #[arg(long, default_value_t = 200)]
    txns: u64,
    /// Key space (the store is loaded with every key first).
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// Writes per transaction.
    #[arg(long, default_value_t = 10)]
    writes: u64,
    /// Share of writes that go to the hot keys in the `hot` phases.
    #[arg(long, default_value_t = 0.1)]
    hot_fraction: f64,
    #[arg(long, default_value_t = 100)]
    hot_keys: u64,
    /// Items per node of the benchmark store.
    #[arg(long, default_value_t = sop::DEFAULT_SLOT_LENGTH)]
    slot_length: usize,
    /// Write every figure to this file as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn machine() -> serde_json::Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let mem_kb: u64 = read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    serde_json::json!({
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu": cpu,
        "memory_gib": (mem_kb as f64 / 1048576.0 * 10.0).round() / 10.0,
        "os": read("/proc/sys/kernel/osrelease").trim(),
    })
}

/// `sop-swarm bench`: every phase, then a table with the diagnostics (and `--json`).
pub fn run(a: BenchArgs) -> i32 {
    let tmp;
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("sop-swarm-bench")
                .tempdir()
                .expect("temporary folder");
            tmp.path().to_path_buf()
        }
    };
    if sop::Database::exists(&dir).unwrap_or(false) {
        eprintln!(
            "{} already holds a database; give an empty or new folder",
            dir.display()
        );
        return 1;
    }
    let cfg = Config {
        db: dir.join("db"),
        redis: a.redis.clone(),
        txns: a.txns,
        keys: a.keys,
        writes: a.writes,
        hot_fraction: a.hot_fraction,
        hot_keys: a.hot_keys,
        slot_length: a.slot_length,
    };
    eprintln!(
        "== loading {} keys into {} ({})",
        a.keys,
        cfg.db.display(),
        match &a.redis {
            Some(url) => format!("Clustered, Redis {url}"),
            None => "Standalone".to_string(),
        }
    );
    let t = Instant::now();
    if let Err(e) = load(&cfg) {
        eprintln!("load failed: {e}");
        return 1;
    }
    eprintln!("   loaded in {:.1} s", t.elapsed().as_secs_f64());
    let cmd = WriterCommand {
        program: std::env::current_exe().expect("own executable"),
        args: vec!["worker".into(), "bench-writer".into()],
    };
    let mut phases: Vec<Phase> = Vec::new();
    for &p in &a.procs {
        for hot in [false, true] {
            eprint!(
                "== {}: {p} process(es) x {} transactions ... ",
                phase_name(p, hot),
                a.txns
            );
            let _ = std::io::stderr().flush();
            match run_phase(&cfg, &cmd, p, hot, &mut |_| {}) {
                Ok(ph) => {
                    eprintln!("{:.0} txn/s", ph.ops_per_sec());
                    phases.push(ph);
                }
                Err(e) => {
                    eprintln!("failed: {e}");
                    return 1;
                }
            }
        }
    }
    println!(
        "swarm benchmark ({}): {} keys (slot length {}), {} writes per transaction, {} transactions per process, hot = {}% of writes on {} keys",
        cfg.engine(),
        a.keys,
        a.slot_length,
        a.writes,
        a.txns,
        a.hot_fraction * 100.0,
        a.hot_keys
    );
    println!(
        "{:<18} {:>6} {:>7} {:>8} {:>8} {:>8} {:>10} {:>7} {:>8} {:>9} {:>8} {:>7}",
        "phase",
        "procs",
        "txns",
        "txn/s",
        "p50 ms",
        "p99 ms",
        "retry rate",
        "vs 1",
        "exec ms",
        "commit ms",
        "foreign",
        "cpu ms"
    );
    let mut results = Vec::new();
    for ph in &phases {
        let ops = ph.ops_per_sec();
        // Against one process of the same kind (uniform or hot).
        let vs = phases
            .iter()
            .find(|q| q.procs == 1 && q.hot == ph.hot)
            .map_or(0.0, |q| ops / q.ops_per_sec());
        let rr = ph.retry_rate();
        println!(
            "{:<18} {:>6} {:>7} {:>8.0} {:>8.2} {:>8.2} {:>10.3} {:>6.2}x {:>8.2} {:>9.2} {:>8.1} {:>7.2}",
            ph.name, ph.procs, ph.committed, ops, ph.p50_ms, ph.p99_ms, rr, vs, ph.exec_ms, ph.commit_ms, ph.foreign, ph.cpu_ms
        );
        results.push(serde_json::json!({
            "engine": cfg.engine(),
            "phase": ph.name,
            "ms": (ph.ms * 10.0).round() / 10.0,
            "ops_per_sec": (ops * 10.0).round() / 10.0,
            "p50_ms": (ph.p50_ms * 1000.0).round() / 1000.0,
            "p99_ms": (ph.p99_ms * 1000.0).round() / 1000.0,
            "retry_rate": (rr * 10000.0).round() / 10000.0,
            "procs": ph.procs,
            "txns": ph.committed,
            "exec_ms_mean": (ph.exec_ms * 1000.0).round() / 1000.0,
            "commit_ms_mean": (ph.commit_ms * 1000.0).round() / 1000.0,
            "foreign_records_per_txn": (ph.foreign * 10.0).round() / 10.0,
            "cpu_ms_per_txn": (ph.cpu_ms * 1000.0).round() / 1000.0,
        }));
    }
    if let Some(path) = &a.json {
        let doc = serde_json::json!({
            "workload": "swarm",
            "count": a.txns,
            "keys": a.keys,
            "writes_per_txn": a.writes,
            "hot_fraction": a.hot_fraction,
            "hot_keys": a.hot_keys,
            "slot_length": a.slot_length,
            "machine": machine(),
            "results": results,
        });
        if let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()) {
            eprintln!("cannot write {}: {e}", path.display());
            return 1;
        }
    }
    0
}
