//! The swarm benchmark: aggregate committed transactions per second with 1, 2, 4
//! and 8 writer processes over one folder in Clustered mode. Each transaction
//! upserts `writes` (10) random keys out of `keys`; in the `hot` phases each
//! write goes, with probability `hot_fraction` (10%), to one of `hot_keys` (100)
//! keys spread evenly over the key space.

use crate::common::{backoff, on_error, say, wait_for_line, DbArgs, Next};
use clap::Args;
use sop::{Coordination, Database, DbOptions, StoreOptions, TxMode};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STORE: &str = "bench";

#[derive(Args)]
pub struct BenchArgs {
    /// Redis URL for Clustered mode.
    #[arg(long)]
    redis: String,
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
    #[arg(long, default_value_t = sop::options::DEFAULT_SLOT_LENGTH)]
    slot_length: usize,
    /// Write every figure to this file as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Args)]
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

/// One benchmark writer: READY, wait for `go`, commit `txns` transactions, then
/// print `RESULT <committed> <retries> <latency µs>,<latency µs>,...`.
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

struct Phase {
    name: String,
    procs: usize,
    committed: u64,
    retries: u64,
    ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    exec_ms: f64,
    commit_ms: f64,
    foreign: f64,
    cpu_ms: f64,
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
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
    if dir.join(sop::db::CONFIG_FILE).exists() {
        eprintln!(
            "{} already holds a database; give an empty or new folder",
            dir.display()
        );
        return 1;
    }
    let dbargs = DbArgs {
        db: dir.join("db"),
        redis: a.redis.clone(),
        lease_ms: 10_000,
        max_commit_ms: 60_000,
        recovery_ms: 0,
        wait_go: false,
    };
    eprintln!(
        "== loading {} keys into {} (Clustered, Redis {})",
        a.keys,
        dbargs.db.display(),
        a.redis
    );
    let t = Instant::now();
    if let Err(e) = load(&dbargs, a.keys, a.slot_length) {
        eprintln!("load failed: {e}");
        return 1;
    }
    eprintln!("   loaded in {:.1} s", t.elapsed().as_secs_f64());
    let exe = std::env::current_exe().expect("own executable");
    let mut phases = Vec::new();
    for &p in &a.procs {
        for hot in [false, true] {
            let name = format!("procs_{p}_{}", if hot { "hot" } else { "uniform" });
            eprint!("== {name}: {p} process(es) x {} transactions ... ", a.txns);
            let _ = std::io::stderr().flush();
            match phase(&exe, &dbargs, &a, p, hot, name) {
                Ok(ph) => {
                    eprintln!("{:.0} txn/s", ph.committed as f64 / (ph.ms / 1000.0));
                    phases.push(ph);
                }
                Err(e) => {
                    eprintln!("failed: {e}");
                    return 1;
                }
            }
        }
    }
    let base: Option<f64> = phases
        .iter()
        .find(|p| p.procs == 1)
        .map(|p| p.committed as f64 / (p.ms / 1000.0));
    println!(
        "swarm benchmark: {} keys (slot length {}), {} writes per transaction, {} transactions per process, hot = {}% of writes on {} keys",
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
        let ops = ph.committed as f64 / (ph.ms / 1000.0);
        let uni1 = phases
            .iter()
            .find(|q| q.procs == 1 && q.name.ends_with(ph.name.rsplit('_').next().unwrap()));
        let vs = uni1
            .map(|q| ops / (q.committed as f64 / (q.ms / 1000.0)))
            .or(base.map(|b| ops / b))
            .unwrap_or(0.0);
        let rr = ph.retries as f64 / ph.committed.max(1) as f64;
        println!(
            "{:<18} {:>6} {:>7} {:>8.0} {:>8.2} {:>8.2} {:>10.3} {:>6.2}x {:>8.2} {:>9.2} {:>8.1} {:>7.2}",
            ph.name, ph.procs, ph.committed, ops, ph.p50_ms, ph.p99_ms, rr, vs, ph.exec_ms, ph.commit_ms, ph.foreign, ph.cpu_ms
        );
        results.push(serde_json::json!({
            "engine": "sop-redis",
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

fn load(d: &DbArgs, keys: u64, slot_length: usize) -> sop::Result<()> {
    let db = Database::open(
        &d.db,
        DbOptions {
            coordination: Some(Coordination::Redis {
                url: d.redis.clone(),
            }),
            recovery_interval: None,
            ..Default::default()
        },
    )?;
    let opts = StoreOptions {
        slot_length,
        ..Default::default()
    };
    let tx = db.begin(TxMode::ForWriting)?;
    tx.create_store::<u64, u64>(STORE, opts)?;
    tx.commit()?;
    let batch = 200_000;
    let mut k = 0;
    while k < keys {
        let tx = db.begin(TxMode::ForWriting)?;
        let s = tx.open_store::<u64, u64>(STORE)?;
        for i in k..(k + batch).min(keys) {
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

fn phase(
    exe: &PathBuf,
    d: &DbArgs,
    a: &BenchArgs,
    procs: usize,
    hot: bool,
    name: String,
) -> Result<Phase, String> {
    let cpu0 = children_cpu_ms();
    let mut children: Vec<Child> = Vec::new();
    let mut outs = Vec::new();
    for _ in 0..procs {
        let mut c = Command::new(exe)
            .args(["worker", "bench-writer", "--db"])
            .arg(&d.db)
            .args(["--redis", &d.redis])
            .args([
                "--txns",
                &a.txns.to_string(),
                "--keys",
                &a.keys.to_string(),
                "--writes",
                &a.writes.to_string(),
            ])
            .args([
                "--hot-fraction",
                &if hot { a.hot_fraction } else { 0.0 }.to_string(),
            ])
            .args(["--hot-keys", &a.hot_keys.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start a writer: {e}"))?;
        outs.push(BufReader::new(c.stdout.take().unwrap()));
        children.push(c);
    }
    let expect =
        |out: &mut BufReader<std::process::ChildStdout>, what: &str| -> Result<String, String> {
            let mut line = String::new();
            loop {
                line.clear();
                if out.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
                    return Err(format!("a writer ended before {what}"));
                }
                if line.starts_with(what) {
                    return Ok(line.trim_end().to_string());
                }
                if line.starts_with("ERROR") || line.starts_with("FENCED") {
                    return Err(line.trim_end().to_string());
                }
            }
        };
    for o in outs.iter_mut() {
        expect(o, "READY")?;
    }
    let t0 = Instant::now();
    for c in children.iter_mut() {
        let _ = writeln!(c.stdin.as_mut().unwrap(), "go");
    }
    let (mut committed, mut retries, mut lat) = (0u64, 0u64, Vec::new());
    let (mut exec_us, mut commit_us, mut foreign) = (0u64, 0u64, 0u64);
    for o in outs.iter_mut() {
        let line = expect(o, "RESULT")?;
        let mut w = line.split(' ').skip(1);
        committed += w.next().unwrap().parse::<u64>().unwrap();
        retries += w.next().unwrap().parse::<u64>().unwrap();
        exec_us += w.next().unwrap().parse::<u64>().unwrap();
        commit_us += w.next().unwrap().parse::<u64>().unwrap();
        foreign += w.next().unwrap().parse::<u64>().unwrap();
        if let Some(l) = w.next() {
            lat.extend(
                l.split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse::<u64>().unwrap()),
            );
        }
    }
    let ms = t0.elapsed().as_secs_f64() * 1000.0;
    for mut c in children {
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
        name,
        procs,
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
