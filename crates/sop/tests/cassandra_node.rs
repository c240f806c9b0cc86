//! The Cassandra registry while its node misbehaves: paused (SIGSTOP, longer
//! than the client's timeout) and killed and started again (SIGKILL: what a
//! crash or a power cut of its host does), under a stream of commits. Uses the
//! test node of scripts/test.sh (`SOP_TEST_CASSANDRA`, `SOP_TEST_CASSANDRA_DIR`;
//! fails without them). Its own test binary: nothing else runs while the node
//! is down, and the two tests take turns.

mod support;
use support::{Outcomes, Step, Unknown};

use sop::{CassandraRegistry, Database, DbOptions, Registry, StoreOptions, TxMode};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn node_dir() -> PathBuf {
    PathBuf::from(std::env::var("SOP_TEST_CASSANDRA_DIR").expect(
        "SOP_TEST_CASSANDRA_DIR is not set: run through scripts/test.sh (it starts a Cassandra node)",
    ))
}

fn node_pid() -> i32 {
    let p = node_dir().join("cassandra.pid");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .parse()
        .unwrap()
}

fn signal(sig: i32) {
    assert_eq!(unsafe { libc_kill(node_pid(), sig) }, 0, "kill({sig})");
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}
const SIGSTOP: i32 = 19;
const SIGCONT: i32 = 18;

fn opts(timeout_ms: u64) -> DbOptions {
    let hosts = std::env::var("SOP_TEST_CASSANDRA").expect("SOP_TEST_CASSANDRA is not set");
    let mut c = CassandraRegistry::new(hosts.split(',').map(str::to_string).collect(), "sop_node");
    c.timeout_ms = timeout_ms;
    DbOptions {
        recovery_interval: None,
        registry: Some(Registry::Cassandra(c)),
        ..Default::default()
    }
}

/// What the writer saw while the node misbehaved.
#[derive(Debug, Default)]
struct Run {
    out: Outcomes,
    /// Claims that failed (timed out) and were settled by the claimer.
    settled: u64,
    /// Commits whose outcome was unknown, settled once the node is back.
    unknown: Vec<Unknown>,
}

/// Increment a counter until `stop`, reopening after an unknown outcome (the
/// handle is poisoned) or a failed open.
fn writer(path: &Path, stop: &AtomicBool) -> Run {
    let settled = Arc::new(AtomicU64::new(0));
    let count = support::Count {
        text: "a claim failed; settling it",
        n: settled.clone(),
    };
    let mut run = tracing::subscriber::with_default(count, || write_until(path, stop));
    run.settled = settled.load(Ordering::Relaxed);
    run
}

fn write_until(path: &Path, stop: &AtomicBool) -> Run {
    let mut run = Run::default();
    let mut db: Option<Database> = None;
    while !stop.load(Ordering::Acquire) {
        let h = match &db {
            Some(h) => h,
            None => {
                match Database::open(path, opts(1_000)) {
                    Ok(h) => db = Some(h),
                    Err(_) => {
                        run.out.failed += 1;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
                continue;
            }
        };
        match run.out.try_increment(h) {
            Step::Committed => {}
            Step::BeginFailed(_) => {
                run.out.failed += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Step::Unknown(u) => {
                run.unknown.push(u);
                db = None;
            }
            Step::Failed(e) if e.kind() == sop::ErrorKind::Poisoned => db = None,
            Step::Failed(_) => run.out.failed += 1,
        }
    }
    run
}

/// After the node is back: every Ok commit is there once, and so is every
/// unknown one `commit_outcome` (which settles for good) calls committed.
fn verify(path: &Path, mut run: Run) {
    let t = Instant::now();
    let db = loop {
        match Database::open(path, opts(10_000)) {
            Ok(db) => break db,
            Err(e) if t.elapsed() < Duration::from_secs(60) => {
                eprintln!("reopen: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("the database does not open after the node came back: {e}"),
        }
    };
    for u in std::mem::take(&mut run.unknown) {
        run.out.settle(&db, u);
    }
    eprintln!("{run:?}");
    run.out.assert_counted(&db, 1, &format!("{run:?}"));
}

fn seeded() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts(10_000)).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx
        .create_store::<String, u64>("counters", StoreOptions::default())
        .unwrap();
    s.upsert(&"n".to_string(), &1).unwrap();
    tx.commit().unwrap();
    dir
}

#[test]
fn a_node_paused_past_the_client_timeout_leaves_every_commit_settled() {
    let _g = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = seeded();
    let stop = AtomicBool::new(false);
    let run = std::thread::scope(|s| {
        let w = s.spawn(|| writer(dir.path(), &stop));
        std::thread::sleep(Duration::from_millis(800));
        signal(SIGSTOP);
        std::thread::sleep(Duration::from_secs(3));
        signal(SIGCONT);
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::Release);
        w.join().unwrap()
    });
    assert!(
        run.out.failed + run.settled + run.unknown.len() as u64 > 0,
        "nothing failed or timed out while the node was paused: the test did not test what it is for ({run:?})"
    );
    assert!(run.out.ok > 0, "nothing committed: {run:?}");
    verify(dir.path(), run);
}

#[test]
fn a_node_killed_and_started_again_loses_no_acknowledged_commit() {
    let _g = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = seeded();
    let stop = AtomicBool::new(false);
    let run = std::thread::scope(|s| {
        let w = s.spawn(|| writer(dir.path(), &stop));
        std::thread::sleep(Duration::from_millis(800));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/cassandra-env.sh");
        let st = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!(
                ". '{}' && restart_test_cassandra",
                script.display()
            ))
            .status()
            .unwrap();
        assert!(st.success(), "restarting the node: {st}");
        std::thread::sleep(Duration::from_secs(3));
        stop.store(true, Ordering::Release);
        w.join().unwrap()
    });
    assert!(run.out.failed + run.unknown.len() as u64 > 0, "{run:?}");
    verify(dir.path(), run);
}
