//! `swarm`: writer **processes** over one database folder. For each P in `--procs` (1, 2, 4, 8)
//! two phases, `procs_{P}_uniform` and `procs_{P}_hot`: P writer processes open the folder,
//! are released together, and each commits `--txns` (300) ForWriting transactions of 10 blind
//! upserts of random keys out of `--count` (the key space, 1,000,000 by default, loaded
//! first); in the `hot` phases each write goes with probability 10% to one of 100 keys spread
//! over the key space. Figures: committed transactions per second of all writers
//! (`ops_per_sec`), the p50 and p99 latency of a committed transaction (first begin to commit
//! Ok, retries included) and the retry rate (failed attempts per committed transaction); and
//! where the time goes: the mean time of begin plus the writes and of the commit per attempt,
//! the log records of other processes each transaction caught up with, and the writers' CPU
//! time per committed transaction.
//!
//! Engines: `sop` is a Standalone folder (the processes share one host; the exclusive link of
//! the log serializes their commits, no lock server); `sop-redis` a Clustered folder
//! coordinated by a Redis the harness starts on a free loopback port (or the one `--redis`
//! names). No peer engine has
//! writers in several processes, so the others do not apply.
//!
//! The writers are child processes of this binary: `sop-bench swarm-writer ARGS` (a hidden
//! subcommand, dispatched by `main.rs` to [`writer_main`]; the process is in [`writer`], the
//! phases that start it in [`phase`]).

use crate::engines::EngineInfo;
use crate::report::SwarmParams;
use crate::{Args, Recorder};
use anyhow::{bail, ensure, Result};
use std::path::Path;

#[cfg(feature = "sop-engine")]
pub mod phase;
#[cfg(feature = "sop-engine")]
pub mod writer;

/// Why a peer engine is not run.
pub const NOT_APPLICABLE: &str =
    "no multi-process writers, so the swarm workload does not apply (it runs on sop and sop-redis only)";

/// The hidden subcommand that runs one writer process.
pub const WRITER_SUBCOMMAND: &str = "swarm-writer";

pub fn applies_to(engine: &str) -> bool {
    matches!(engine, "sop" | "sop-redis" | "sop-cassandra")
}

/// Refuses what cannot run: no SOP in this build, or an empty shape.
pub fn check(args: &Args) -> Result<()> {
    if !cfg!(feature = "sop-engine") {
        bail!("workload `swarm` needs sop-bench's `sop-engine` feature (on by default)");
    }
    ensure!(
        args.count() > 0,
        "swarm: --count (the key space) must be positive"
    );
    ensure!(args.txns > 0, "swarm: --txns must be positive");
    ensure!(
        !args.procs.is_empty() && args.procs.iter().all(|&p| p > 0),
        "swarm: --procs must list positive process counts"
    );
    Ok(())
}

#[cfg(feature = "sop-engine")]
pub use imp::*;

#[cfg(feature = "sop-engine")]
mod imp {
    use super::phase::{self as bench, Config, WriterCommand};
    use super::*;
    use crate::engines::sop::BenchRedis;
    use crate::report::PhaseResult;
    use anyhow::Context;
    use std::ffi::OsString;
    use std::path::PathBuf;

    /// The run's shape (the database folder and Redis are filled in per engine).
    fn config(args: &Args, db: PathBuf, redis: Option<String>) -> Config {
        let mut cfg = Config::new(db, redis, args.count(), args.txns);
        if let Some(hosts) = &args.cassandra {
            cfg.cassandra = Some(hosts.clone());
        }
        if let Some(s) = args.slot_length {
            cfg.slot_length = s;
        }
        cfg
    }

    pub fn params(args: &Args) -> SwarmParams {
        let cfg = config(args, PathBuf::new(), None);
        SwarmParams {
            txns_per_process: cfg.txns,
            writes_per_txn: cfg.writes,
            hot_fraction: cfg.hot_fraction,
            hot_keys: cfg.hot_keys,
            procs: args.procs.clone(),
            slot_length: cfg.slot_length,
        }
    }

    pub fn info(engine: &str, args: &Args) -> EngineInfo {
        let cfg = config(args, PathBuf::new(), None);
        let mode = if engine == "sop-redis" {
            let redis = match &args.redis {
                Some(url) => format!("the Redis at {url}"),
                None => "a Redis the harness starts on a free loopback port".to_string(),
            };
            format!(
                "Clustered: the writer processes coordinate through {redis} (node locks, shared \
                 node cache, head hints, process leases)"
            )
        } else if engine == "sop-cassandra" {
            format!(
                "Standalone, the registry and the commit point on Cassandra at {} (keyspace \
                 sop_bench): a lightweight transaction claims each commit's sequence",
                args.cassandra
                    .as_deref()
                    .unwrap_or("(none given: --cassandra)")
            )
        } else {
            "Standalone: the writer processes share one host; the exclusive link() of the log \
             serializes their commits, no lock server"
                .to_string()
        };
        EngineInfo {
            engine: engine.to_string(),
            version: crate::engines::sop::version(),
            settings: format!(
                "{mode}; durability: TxMode::ForWriting, commit() durable on return (record \
                 fdatasynced, log directory fsynced); each writer opens the folder with \
                 DbOptions defaults (cache 256 MiB per process); typed store u64 -> u64 with \
                 slot_length {}",
                cfg.slot_length
            ),
        }
    }

    /// Loads the key space into a fresh folder under `dir`, then runs every phase.
    pub fn run(engine: &str, dir: &Path, rec: &mut Recorder<'_>, args: &Args) -> Result<()> {
        // sop-redis: the Redis `--redis` names, or one started for this run.
        let (redis, url) = match (engine, &args.redis) {
            ("sop", _) | ("sop-cassandra", _) => (None, None),
            ("sop-redis", Some(url)) => (None, Some(url.clone())),
            ("sop-redis", None) => {
                let r = BenchRedis::start()?;
                let url = r.url();
                (Some(r), Some(url))
            }
            (other, _) => bail!("{other}: {NOT_APPLICABLE}"),
        };
        let mut cfg = config(args, dir.join("db"), url);
        if engine != "sop-cassandra" {
            cfg.cassandra = None;
        } else if cfg.cassandra.is_none() {
            bail!("engine sop-cassandra needs --cassandra HOST:PORT (a running node)");
        }
        rec.progress("load");
        bench::load(&cfg).with_context(|| format!("{engine}: loading {} keys", cfg.keys))?;
        let program = match &args.writer_exe {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .context("locating this executable (the writer processes run it)")?,
        };
        let cmd = WriterCommand {
            program,
            args: vec![OsString::from(WRITER_SUBCOMMAND)],
        };
        for &procs in &args.procs {
            for hot in [false, true] {
                let phase = bench::phase_name(procs, hot);
                let ticker = rec.bar(&phase, procs as u64 * cfg.txns);
                let ph = bench::run_phase(&cfg, &cmd, procs, hot, &mut |n| ticker.set(n))
                    .map_err(anyhow::Error::msg)
                    .with_context(|| format!("engine {engine}, phase {phase}"))?;
                ticker.done();
                rec.record(PhaseResult {
                    phase,
                    ms: Some(ph.ms),
                    ops_per_sec: Some(ph.ops_per_sec()),
                    p50_ms: Some(ph.p50_ms),
                    p99_ms: Some(ph.p99_ms),
                    retry_rate: Some(ph.retry_rate()),
                    procs: Some(procs as u64),
                    txns: Some(ph.committed),
                    exec_ms_mean: Some(ph.exec_ms),
                    commit_ms_mean: Some(ph.commit_ms),
                    foreign_records_per_txn: Some(ph.foreign),
                    cpu_ms_per_txn: Some(ph.cpu_ms),
                    data_syncs_per_txn: Some(ph.data_syncs),
                    dir_syncs_per_txn: Some(ph.dir_syncs),
                    ..Default::default()
                });
            }
        }
        // The Redis (if any) stops only after the last phase.
        drop(redis);
        Ok(())
    }

    /// `sop-bench swarm-writer ...`: one writer process; `argv` starts with the subcommand's
    /// name. Returns the exit code.
    pub fn writer_main(argv: Vec<OsString>) -> i32 {
        super::writer::writer_main(argv)
    }
}

// Without SOP there is no swarm: `check` refuses the workload before any of these is called.
#[cfg(not(feature = "sop-engine"))]
mod imp_none {
    use super::*;

    pub fn params(_: &Args) -> SwarmParams {
        unreachable!("check() refuses swarm without sop-engine")
    }

    pub fn info(_: &str, _: &Args) -> EngineInfo {
        unreachable!("check() refuses swarm without sop-engine")
    }

    pub fn run(_: &str, _: &Path, _: &mut Recorder<'_>, _: &Args) -> Result<()> {
        unreachable!("check() refuses swarm without sop-engine")
    }
}

#[cfg(not(feature = "sop-engine"))]
pub use imp_none::*;
