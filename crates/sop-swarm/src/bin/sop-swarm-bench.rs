//! `sop-swarm-bench`: how fast the swarm runs jobs.
//!
//! ```text
//! sop-swarm-bench empty [--jobs N] [--workers 1,2,4,8] [--redis URL] [--dir PATH]
//! sop-swarm-bench etl   [--items N] [--parts P] [--workers 1,2,4,8] [--redis URL] [--dir PATH]
//! ```
//!
//! `empty`: N jobs that do nothing, run by W worker processes (one job at a
//! time each) over a fresh database: jobs per second, claim latency p50/p99,
//! and where each worker's time went (claiming, running and committing, idle).
//! `etl`: the README's ETL fan-out (examples/scripts/etl_*.lua) over N items in
//! P parts: the time from submitting the fan-out to the last worker's exit.
//! Without --redis the database is Standalone; with it, Clustered. Each
//! worker is this program again (`__worker`), a process of its own.

use serde_json::{json, Value};
use sop::{Coordination, Database, DbOptions, StoreOptions, TxMode};
use sop_swarm::worker::quantile;
use sop_swarm::{jobs, SubmitOptions, Swarm, SwarmOptions, Worker, WorkerOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FANOUT: &str = include_str!("../../../../examples/scripts/etl_fanout.lua");
const CHUNK: &str = include_str!("../../../../examples/scripts/etl_chunk.lua");
const COMBINE: &str = include_str!("../../../../examples/scripts/etl_combine.lua");

struct Opts {
    what: String,
    jobs: u64,
    items: u64,
    parts: u64,
    workers: Vec<usize>,
    redis: Option<String>,
    dir: Option<PathBuf>,
}

fn usage() -> ! {
    eprintln!("usage: sop-swarm-bench empty|etl [--jobs N] [--items N] [--parts P] [--workers 1,2,4] [--redis URL] [--dir PATH]");
    std::process::exit(2)
}

fn parse() -> Opts {
    let mut a = std::env::args().skip(1);
    let what = a.next().unwrap_or_else(|| usage());
    let mut o = Opts {
        what,
        jobs: 2000,
        items: 200_000,
        parts: 16,
        workers: vec![1, 2, 4, 8],
        redis: None,
        dir: None,
    };
    while let Some(flag) = a.next() {
        let v = a.next().unwrap_or_else(|| usage());
        let num = |v: &str| v.parse::<u64>().unwrap_or_else(|_| usage());
        match flag.as_str() {
            "--jobs" => o.jobs = num(&v),
            "--items" => o.items = num(&v),
            "--parts" => o.parts = num(&v),
            "--workers" => o.workers = v.split(',').map(|w| num(w) as usize).collect(),
            "--redis" => o.redis = Some(v),
            "--dir" => o.dir = Some(PathBuf::from(v)),
            _ => usage(),
        }
    }
    o
}

fn open(db: &Path) -> Swarm {
    let d = Database::open(
        db,
        DbOptions {
            recovery_interval: None,
            ..DbOptions::default()
        },
    )
    .expect("open the database");
    Swarm::open(d, SwarmOptions::default()).expect("open the swarm")
}

/// One worker process: run jobs until the queue is empty; print its report.
fn worker_main(db: &Path) {
    let s = open(db);
    let w = Worker::new(
        s.clone(),
        WorkerOptions {
            concurrency: 1,
            exit_when_empty: true,
            idle_max: Duration::from_millis(20),
            ..WorkerOptions::default()
        },
    );
    let r = w.run(Arc::new(AtomicBool::new(false))).expect("the worker");
    println!(
        "{}",
        json!({"done": r.done, "claim_us": r.claim_us, "run_us": r.run_us, "idle_us": r.idle_us,
               "conflicts": s.conflicts()})
    );
}

fn fresh_db(base: &Path, name: &str, redis: &Option<String>) -> PathBuf {
    let db = base.join(name);
    if let Some(url) = redis {
        Database::create_config(&db, Coordination::Redis { url: url.clone() })
            .expect("make the Clustered database");
    }
    db
}

/// Start `n` workers on `db`, wait for them; their reports and the wall time.
fn run_workers(db: &Path, n: usize) -> (Vec<Value>, Duration) {
    let exe = std::env::current_exe().unwrap();
    let start = Instant::now();
    let kids: Vec<_> = (0..n)
        .map(|_| {
            Command::new(&exe)
                .arg("__worker")
                .arg(db)
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn a worker")
        })
        .collect();
    let mut reports = Vec::new();
    for k in kids {
        let out = k.wait_with_output().unwrap();
        assert!(out.status.success(), "a worker failed");
        reports.push(serde_json::from_slice(&out.stdout).expect("a worker's report"));
    }
    (reports, start.elapsed())
}

fn all(reports: &[Value], field: &str) -> Vec<u64> {
    reports
        .iter()
        .flat_map(|r| {
            r[field]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
        })
        .collect()
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn empty(o: &Opts, base: &Path) {
    println!("| workers | jobs | seconds | jobs/s | claim p50 ms | claim p99 ms | run+commit p50 ms | conflicts per job | claiming | running | idle |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &w in &o.workers {
        let db = fresh_db(base, &format!("empty-{w}"), &o.redis);
        let s = open(&db);
        s.put_script("empty", "return nil").unwrap();
        let opts = SubmitOptions::default();
        let mut i = 0;
        while i < o.jobs {
            let n = (o.jobs - i).min(500);
            s.write(|tx| {
                for _ in 0..n {
                    jobs::submit::submit(tx, "empty", Value::Null, &opts)?;
                }
                Ok(())
            })
            .unwrap();
            i += n;
        }
        let (reports, took) = run_workers(&db, w);
        let done: u64 = reports.iter().map(|r| r["done"].as_u64().unwrap()).sum();
        assert_eq!(done, o.jobs, "every job done once");
        let claim = all(&reports, "claim_us");
        let run = all(&reports, "run_us");
        let idle: u64 = reports.iter().map(|r| r["idle_us"].as_u64().unwrap()).sum();
        let conflicts: u64 = reports
            .iter()
            .map(|r| r["conflicts"].as_u64().unwrap())
            .sum();
        let (c, r) = (claim.iter().sum::<u64>(), run.iter().sum::<u64>());
        let total = (c + r + idle).max(1) as f64;
        println!(
            "| {w} | {} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} | {:.3} | {:.0}% | {:.0}% | {:.0}% |",
            o.jobs,
            took.as_secs_f64(),
            o.jobs as f64 / took.as_secs_f64(),
            ms(quantile(&claim, 0.5).unwrap_or(0)),
            ms(quantile(&claim, 0.99).unwrap_or(0)),
            ms(quantile(&run, 0.5).unwrap_or(0)),
            conflicts as f64 / o.jobs as f64,
            100.0 * c as f64 / total,
            100.0 * r as f64 / total,
            100.0 * idle as f64 / total,
        );
    }
}

fn etl(o: &Opts, base: &Path) {
    let src = base.join("etl-source");
    let _ = fresh_db(base, "etl-source", &o.redis);
    let s = open(&src);
    let (mut sum, mut max) = (0u64, 0u64);
    let mut i = 0;
    let t = Instant::now();
    while i < o.items {
        let n = (o.items - i).min(20_000);
        let tx = s.db().begin(TxMode::ForWriting).unwrap();
        let st = match tx.open_json_store("sales") {
            Ok(st) => st,
            Err(_) => tx
                .create_json_store(
                    "sales",
                    StoreOptions {
                        unique: true,
                        ..StoreOptions::default()
                    },
                    None,
                )
                .unwrap(),
        };
        for k in i..i + n {
            let amount = (k * 7919) % 1000;
            sum += amount;
            max = max.max(amount);
            st.upsert(&json!(k), &json!({"amount": amount})).unwrap();
        }
        drop(st);
        tx.commit().unwrap();
        i += n;
    }
    eprintln!("loaded {} items in {:?}", o.items, t.elapsed());
    for (name, code) in [
        ("etl_fanout", FANOUT),
        ("etl_chunk", CHUNK),
        ("etl_combine", COMBINE),
    ] {
        s.put_script(name, code).unwrap();
    }
    println!("| workers | items | parts | seconds | items/s |");
    println!("|---:|---:|---:|---:|---:|");
    for &w in &o.workers {
        let args = json!({"source": "sales", "results": format!("parts{w}"),
                          "output": format!("total{w}"), "parts": o.parts});
        let (root, _) = s
            .submit("etl_fanout", args, &SubmitOptions::default())
            .unwrap();
        let (_, took) = run_workers(&src, w);
        let fan = s.job(&root).unwrap().result.unwrap();
        let fin = s.job(fan["final"].as_str().unwrap()).unwrap();
        assert_eq!(
            fin.result,
            Some(json!({"count": o.items, "sum": sum, "max": max})),
            "the ETL result equals the direct computation"
        );
        println!(
            "| {w} | {} | {} | {:.2} | {:.0} |",
            o.items,
            o.parts,
            took.as_secs_f64(),
            o.items as f64 / took.as_secs_f64()
        );
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("__worker") {
        worker_main(Path::new(&argv[2]));
        return;
    }
    let o = parse();
    let tmp;
    let base = match &o.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().unwrap();
            tmp.path().to_path_buf()
        }
    };
    match o.what.as_str() {
        "empty" => empty(&o, &base),
        "etl" => etl(&o, &base),
        _ => usage(),
    }
}
