//! sop-bench: runs one workload against several embedded key-value engines in turn and reports
//! them side by side. The binary (`main.rs`) is a thin wrapper over [`run`].

pub mod compare;
pub mod engines;
pub mod machine;
pub mod progress;
pub mod report;
pub mod rusage;
pub mod workloads;
pub mod zipf;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use engines::{Engine, EngineConfig, WriteTx};
use progress::{Progress, Ticker};
use report::{PhaseResult, Report};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// SOP's Go benchmark: insert, read and delete N string pairs, each phase one transaction.
    SopGo,
    /// redb's benchmark: 24-byte keys, 150-byte values, bulk/individual/batch writes, reads, sizes.
    Redb,
    /// 50% reads, 20% scans, 10% overwrites, 20% inserts, Zipfian keys, transactions of 10 ops.
    Mixed,
    /// Writer processes (1, 2, 4, 8) over one folder: sop (Standalone) and sop-redis (Clustered).
    Swarm,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::SopGo => "sop-go",
            Workload::Redb => "redb",
            Workload::Mixed => "mixed",
            Workload::Swarm => "swarm",
        }
    }

    fn default_count(self) -> u64 {
        match self {
            Workload::SopGo => 100_000,
            Workload::Redb | Workload::Mixed | Workload::Swarm => 1_000_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SopReadMode {
    NoCheck,
    ForReading,
}

/// Side-by-side benchmark of SOP and peer embedded key-value engines.
#[derive(Debug, Clone, Parser)]
#[command(name = "sop-bench", version, about)]
pub struct Args {
    /// The workload to run.
    #[arg(value_enum)]
    pub workload: Workload,
    /// Number of keys (default: 100000 for sop-go, 1000000 for redb, mixed and swarm; for swarm
    /// it is the key space the writers upsert into).
    #[arg(long)]
    pub count: Option<u64>,
    /// Operations in the `mixed` phase of the mixed workload.
    #[arg(long, default_value_t = 1_000_000)]
    pub ops: u64,
    /// Comma-separated engines to run, in order (default: every engine compiled in).
    #[arg(long, value_delimiter = ',')]
    pub engines: Option<Vec<String>>,
    /// Directory under which each engine gets a fresh subdirectory (default: a temporary
    /// directory under ./target/bench-data, removed afterwards).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// SOP B-tree node slot length (default: SOP's own default).
    #[arg(long)]
    pub slot_length: Option<usize>,
    /// SOP read transactions: `no-check` (a snapshot, like the peers' read transactions) or
    /// `for-reading` (validated at commit).
    #[arg(long, value_enum, default_value_t = SopReadMode::NoCheck)]
    pub sop_read_mode: SopReadMode,
    /// SOP reads through the owning `RawStore::get` and `RawStore::range` (a copy of every
    /// key and value) instead of the borrowing `get_with` and `scan`.
    #[arg(long)]
    pub sop_owned_reads: bool,
    /// Also measure where the time and memory go: the commit of each write phase that is
    /// one transaction, alone (`<phase>_commit`: sop-go's insert and delete, redb's
    /// bulk_load and removals), the minor page faults of every timed phase (`faults`), and
    /// the engine's peak resident memory (`peak_rss`, a size row).
    #[arg(long)]
    pub breakdown: bool,
    /// Cache size in MiB for the engines that take one.
    #[arg(long, default_value_t = 4096)]
    pub cache_mb: u64,
    /// redb workload: number of single-insert transactions in `individual_writes`.
    #[arg(long, default_value_t = 1000)]
    pub individual_writes: u64,
    /// redb workload: number of transactions in `batch_writes`.
    #[arg(long, default_value_t = 100)]
    pub batch_txns: u64,
    /// redb workload: inserts per transaction in `batch_writes`.
    #[arg(long, default_value_t = 1000)]
    pub batch_size: u64,
    /// mixed workload: value size in bytes.
    #[arg(long, default_value_t = 512)]
    pub value_size: usize,
    /// swarm workload: committed transactions per writer process in each phase.
    #[arg(long, default_value_t = 300)]
    pub txns: u64,
    /// swarm workload: writer process counts, one pair of phases (uniform, hot) each.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub procs: Vec<usize>,
    /// The Redis the `sop-redis` engine uses (e.g. redis://127.0.0.1:6379/; its keys are
    /// namespaced by the database's id). Default: a redis-server the harness starts on a free
    /// loopback port for each run.
    #[arg(long)]
    pub redis: Option<String>,
    /// The Cassandra node(s) the `sop-cassandra` engine keeps its registry on
    /// (HOST:PORT[,HOST:PORT...]; keyspace `sop_bench`, SimpleStrategy 1 if created).
    /// Required by that engine; the harness starts none.
    #[arg(long, value_name = "HOST:PORT[,...]")]
    pub cassandra: Option<String>,
    /// The S3-compatible server the `sop-s3` engine keeps its whole database on
    /// (e.g. http://127.0.0.1:9000; credentials from AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY). Required by that engine; the harness starts none.
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// The bucket of the `sop-s3` engine (it must exist); each run uses a fresh
    /// prefix in it.
    #[arg(long, value_name = "NAME", default_value = "sop-bench")]
    pub s3_bucket: String,
    /// The program started for child processes: each engine's run (unless `--in-process`) and
    /// the swarm's writer processes (hidden subcommand `swarm-writer`); default this executable.
    /// Tests that call `run` from their own binary set it.
    #[arg(long, hide = true)]
    pub writer_exe: Option<PathBuf>,
    /// Run every engine in this process, one after the other. By default each engine runs in a
    /// child process of its own, so no engine starts with a heap (or page tables) that another
    /// engine already grew: run in one process, the first engine paid about 10 ms more for
    /// `sop-go` insert at 100,000 keys than the same code run second.
    #[arg(long)]
    pub in_process: bool,
    /// Keep each engine's data directory instead of removing it after its run.
    #[arg(long)]
    pub keep: bool,
    /// Run the engines this many times, in rounds (every engine once per round, each
    /// time in a fresh child process and directory), and report each cell's median.
    /// On a machine whose disk or CPU speed drifts, one run per engine measures
    /// engines at different moments; rounds spread that over all of them. Each
    /// round starts one engine further down the list, so no engine always runs
    /// first. Not for `swarm` or `--in-process`.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
}

impl Args {
    pub fn count(&self) -> u64 {
        self.count.unwrap_or(self.workload.default_count())
    }
}

/// Collects the results of one engine's run and times its phases.
pub struct Recorder<'a> {
    engine: String,
    progress: &'a Progress,
    results: Vec<PhaseResult>,
    /// `--breakdown`: page faults per phase and write phases' commits alone.
    breakdown: bool,
}

impl<'a> Recorder<'a> {
    pub fn new(engine: &str, progress: &'a Progress) -> Self {
        Self {
            engine: engine.to_string(),
            progress,
            results: Vec::new(),
            breakdown: false,
        }
    }

    /// Also records the page faults of each timed phase and, for [`Recorder::timed_write`],
    /// the commit alone (`--breakdown`).
    pub fn with_breakdown(mut self, on: bool) -> Self {
        self.breakdown = on;
        self
    }

    /// Minor page faults so far, when `--breakdown` counts them.
    fn faults(&self) -> Option<u64> {
        if self.breakdown {
            rusage::minor_faults()
        } else {
            None
        }
    }

    /// Runs `body` in one write transaction of `e` as the timed phase `phase` of `ops`
    /// operations. With `--breakdown`, also records the commit alone as `<phase>_commit`:
    /// from `body`'s return to the end of the transaction (`ops_per_sec` there is `ops` over
    /// the commit's time).
    pub fn timed_write(
        &mut self,
        phase: &str,
        ops: u64,
        e: &dyn Engine,
        mut body: impl FnMut(&mut dyn WriteTx, &Ticker) -> Result<()>,
    ) -> Result<()> {
        let breakdown = self.breakdown;
        let mut commit = None;
        self.timed(phase, ops, |t| {
            let mut staged = None;
            e.write(&mut |w| {
                body(w, t)?;
                if breakdown {
                    staged = Some((Instant::now(), rusage::minor_faults()));
                }
                Ok(())
            })?;
            if let Some((at, f0)) = staged {
                let f1 = rusage::minor_faults();
                commit = Some((at.elapsed().as_secs_f64(), f1.zip(f0).map(|(a, b)| a - b)));
            }
            Ok(())
        })?;
        if let Some((secs, faults)) = commit {
            self.results.push(PhaseResult {
                engine: self.engine.clone(),
                phase: format!("{phase}_commit"),
                ms: Some(secs * 1e3),
                ops_per_sec: Some(per_sec(ops, secs)),
                faults,
                ..Default::default()
            });
        }
        Ok(())
    }

    /// Runs `body` as the phase `phase` of `ops` operations, and records its wall time and
    /// throughput.
    pub fn timed(
        &mut self,
        phase: &str,
        ops: u64,
        body: impl FnOnce(&Ticker) -> Result<()>,
    ) -> Result<()> {
        let ticker = self.progress.phase(&self.engine, phase, ops);
        let f0 = self.faults();
        let start = Instant::now();
        body(&ticker).with_context(|| format!("engine {}, phase {phase}", self.engine))?;
        let secs = start.elapsed().as_secs_f64();
        let faults = self.faults().zip(f0).map(|(a, b)| a - b);
        ticker.done();
        self.results.push(PhaseResult {
            engine: self.engine.clone(),
            phase: phase.to_string(),
            ms: Some(secs * 1e3),
            ops_per_sec: Some(per_sec(ops, secs)),
            faults,
            ..Default::default()
        });
        Ok(())
    }

    /// Records a size, with the time it took to produce when that took work.
    pub fn size(&mut self, phase: &str, bytes: u64, ms: Option<f64>) {
        self.results.push(PhaseResult {
            engine: self.engine.clone(),
            phase: phase.to_string(),
            ms,
            bytes: Some(bytes),
            ..Default::default()
        });
    }

    /// Records a result measured by the workload itself (its `engine` is this recorder's).
    pub fn record(&mut self, result: PhaseResult) {
        self.results.push(PhaseResult {
            engine: self.engine.clone(),
            ..result
        });
    }

    /// Shows `phase` under way, with no steps to count.
    pub fn progress(&self, phase: &str) {
        self.progress.phase(&self.engine, phase, 0);
    }

    /// Shows `phase` under way, of `len` steps the workload advances itself.
    pub fn bar(&self, phase: &str, len: u64) -> Ticker {
        self.progress.phase(&self.engine, phase, len)
    }

    pub fn into_results(self) -> Vec<PhaseResult> {
        self.results
    }
}

/// `ops` per second of `secs`.
fn per_sec(ops: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        ops as f64 / secs
    } else {
        f64::INFINITY
    }
}

/// Bytes on disk of all regular files under `dir`: allocated blocks, as `du` counts them, so
/// preallocated-but-sparse files (fjall's journal, for one) count for what they occupy, and
/// each file (inode) once (SOP's retired records are hard links to one shared tombstone).
pub fn dir_bytes(dir: &Path) -> Result<u64> {
    fn walk(dir: &Path, seen: &mut std::collections::HashSet<(u64, u64)>) -> Result<u64> {
        let mut total = 0;
        for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let entry = entry?;
            let ty = entry.file_type()?;
            if ty.is_dir() {
                total += walk(&entry.path(), seen)?;
            } else if ty.is_file() {
                let m = entry.metadata()?;
                if seen.insert(file_id(&m)) {
                    total += allocated(&m);
                }
            }
        }
        Ok(total)
    }
    walk(dir, &mut Default::default())
}

#[cfg(unix)]
fn file_id(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

/// Without inode numbers every file counts (hard links too).
#[cfg(not(unix))]
fn file_id(_: &std::fs::Metadata) -> (u64, u64) {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    (0, NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

#[cfg(unix)]
fn allocated(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    m.blocks() * 512
}

#[cfg(not(unix))]
fn allocated(m: &std::fs::Metadata) -> u64 {
    m.len()
}

/// Runs the workload on each engine and returns the report (also written as JSON with `--json`).
///
/// `swarm` runs on `sop` and `sop-redis` only (no peer engine has writers in several processes):
/// by default on those two (sop-redis when redis-server is installed); other engines named in
/// `--engines` are skipped, said so on stderr, in the table and in the JSON (`skipped`), and the
/// run fails when none of the two is left.
pub fn run(args: &Args) -> Result<Report> {
    let cfg = EngineConfig {
        cache_bytes: args.cache_mb << 20,
        slot_length: args.slot_length,
        sop_validated_reads: args.sop_read_mode == SopReadMode::ForReading,
        sop_owned_reads: args.sop_owned_reads,
        redis_url: args.redis.clone(),
        cassandra: args.cassandra.clone(),
        s3: args
            .s3_endpoint
            .clone()
            .map(|e| (e, args.s3_bucket.clone())),
    };
    let swarm = args.workload == Workload::Swarm;
    if swarm {
        workloads::swarm::check(args)?;
    }
    let mut names: Vec<String> = match &args.engines {
        Some(list) => list
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        None if swarm => engines::available()
            .into_iter()
            .filter(|e| workloads::swarm::applies_to(e))
            .map(String::from)
            .collect(),
        None => engines::available().into_iter().map(String::from).collect(),
    };
    if names.is_empty() {
        bail!("no engines selected");
    }
    // Unknown names are an error for every workload.
    for n in &names {
        engines::info(n, &cfg)?;
    }
    let mut skipped = Vec::new();
    if swarm {
        let (run, skip): (Vec<String>, Vec<String>) = names
            .into_iter()
            .partition(|e| workloads::swarm::applies_to(e));
        for engine in skip {
            let reason = workloads::swarm::NOT_APPLICABLE.to_string();
            eprintln!("swarm: skipping {engine}: {reason}");
            skipped.push(report::SkippedEngine { engine, reason });
        }
        if run.is_empty() {
            bail!(
                "workload `swarm` runs on engines sop and sop-redis only ({}); --engines gave none of them",
                workloads::swarm::NOT_APPLICABLE
            );
        }
        names = run;
    }
    let infos = names
        .iter()
        .map(|n| {
            if swarm {
                Ok(workloads::swarm::info(n, args))
            } else {
                engines::info(n, &cfg)
            }
        })
        .collect::<Result<Vec<_>>>()?;

    // Where the engines' directories go.
    let scratch;
    let base: &Path = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir
        }
        None => {
            let root = Path::new("target").join("bench-data");
            std::fs::create_dir_all(&root)
                .with_context(|| format!("creating {}", root.display()))?;
            scratch = tempfile::Builder::new()
                .prefix("run-")
                .tempdir_in(&root)
                .context("creating a temporary directory")?;
            scratch.path()
        }
    };

    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    if args.runs > 1 && (swarm || args.in_process) {
        bail!("--runs applies to engines run in child processes, not to swarm or --in-process");
    }
    let progress = Progress::new();
    let mut results = Vec::new();
    if !swarm && !args.in_process {
        let mut rounds = Vec::with_capacity(args.runs);
        for round in 0..args.runs {
            if args.runs > 1 {
                eprintln!("round {} of {}", round + 1, args.runs);
            }
            let mut this = Vec::new();
            for name in round_order(&names, round) {
                this.extend(run_in_child(args, name, base)?);
            }
            rounds.push(this);
        }
        results = report::medians(rounds);
    }
    let in_this_process: &[String] = if swarm || args.in_process {
        &names
    } else {
        &[]
    };
    for name in in_this_process {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-{name}-", args.workload.name()))
            .tempdir_in(base)
            .with_context(|| format!("creating a directory for {name} in {}", base.display()))?;
        let mut rec = Recorder::new(name, &progress).with_breakdown(args.breakdown);
        if args.breakdown {
            rusage::reset_peak_rss();
        }
        if swarm {
            workloads::swarm::run(name, dir.path(), &mut rec, args)?;
        } else {
            rec.progress("open");
            let mut engine: Box<dyn Engine> = engines::open(name, dir.path(), &cfg)
                .with_context(|| format!("opening {name} in {}", dir.path().display()))?;
            match args.workload {
                Workload::SopGo => workloads::sop_go::run(&mut *engine, &mut rec, args)?,
                Workload::Redb => workloads::redb::run(&mut *engine, dir.path(), &mut rec, args)?,
                Workload::Mixed => workloads::mixed::run(&mut *engine, &mut rec, args)?,
                Workload::Swarm => unreachable!(),
            }
            // The memory this engine's run took (the engine still open).
            if let Some(bytes) = rusage::peak_rss_bytes().filter(|_| args.breakdown) {
                rec.size("peak_rss", bytes, None);
            }
        }
        results.extend(rec.into_results());
        if args.keep {
            let kept = dir.keep();
            eprintln!("kept {name}'s data in {}", kept.display());
        }
    }
    progress.finish();

    let report = Report {
        workload: args.workload.name().to_string(),
        count: args.count(),
        runs: args.runs,
        ops: (args.workload == Workload::Mixed).then_some(args.ops),
        swarm: swarm.then(|| workloads::swarm::params(args)),
        machine: machine::Machine::detect(),
        engines: infos,
        skipped,
        results,
    };
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(report)
}

/// Runs `engine` on `args.workload` in a child process of its own (this program with
/// `--in-process --engines ENGINE`), its data under `base`; returns its results.
fn run_in_child(args: &Args, engine: &str, base: &Path) -> Result<Vec<PhaseResult>> {
    #[derive(serde::Deserialize)]
    struct ChildReport {
        results: Vec<PhaseResult>,
    }
    let program = match &args.writer_exe {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("locating this executable")?,
    };
    let out = tempfile::NamedTempFile::new_in(base).context("creating a result file")?;
    let mut cmd = std::process::Command::new(&program);
    cmd.arg(args.workload.name())
        .args(["--count", &args.count().to_string()])
        .args(["--ops", &args.ops.to_string()])
        .args(["--engines", engine])
        .arg("--dir")
        .arg(base)
        .arg("--json")
        .arg(out.path())
        .arg("--in-process")
        .args(["--cache-mb", &args.cache_mb.to_string()])
        .args(["--individual-writes", &args.individual_writes.to_string()])
        .args(["--batch-txns", &args.batch_txns.to_string()])
        .args(["--batch-size", &args.batch_size.to_string()])
        .args(["--value-size", &args.value_size.to_string()])
        .args([
            "--sop-read-mode",
            match args.sop_read_mode {
                SopReadMode::NoCheck => "no-check",
                SopReadMode::ForReading => "for-reading",
            },
        ]);
    if let Some(n) = args.slot_length {
        cmd.args(["--slot-length", &n.to_string()]);
    }
    if let Some(url) = &args.redis {
        cmd.args(["--redis", url]);
    }
    if let Some(hosts) = &args.cassandra {
        cmd.args(["--cassandra", hosts]);
    }
    if let Some(e) = &args.s3_endpoint {
        cmd.args(["--s3-endpoint", e, "--s3-bucket", &args.s3_bucket]);
    }
    if args.sop_owned_reads {
        cmd.arg("--sop-owned-reads");
    }
    if args.breakdown {
        cmd.arg("--breakdown");
    }
    if args.keep {
        cmd.arg("--keep");
    }
    // The child's table is the parent's business; its progress bar and errors go to stderr.
    let status = cmd
        .stdout(std::process::Stdio::null())
        .status()
        .with_context(|| format!("starting {} for engine {engine}", program.display()))?;
    if !status.success() {
        bail!("engine {engine}: its run failed ({status}; its error is above)");
    }
    let text = std::fs::read_to_string(out.path())
        .with_context(|| format!("reading {}", out.path().display()))?;
    let child: ChildReport = serde_json::from_str(&text)
        .with_context(|| format!("engine {engine}: reading its results"))?;
    Ok(child.results)
}

/// The engines in the order round `round` runs them: the given order turned left
/// by `round`, so that with several rounds no engine always runs first (on a
/// virtual disk the first run after a pause can be the slow one, or the fast one).
fn round_order(names: &[String], round: usize) -> impl Iterator<Item = &String> {
    let k = if names.is_empty() {
        0
    } else {
        round % names.len()
    };
    names[k..].iter().chain(&names[..k])
}

#[cfg(test)]
mod tests {
    use super::round_order;

    #[test]
    fn each_round_starts_with_the_next_engine() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let order = |r| round_order(&names, r).cloned().collect::<Vec<_>>().join("");
        assert_eq!(order(0), "abc");
        assert_eq!(order(1), "bca");
        assert_eq!(order(2), "cab");
        assert_eq!(order(3), "abc");
        assert_eq!(round_order(&[], 5).count(), 0);
    }
}
