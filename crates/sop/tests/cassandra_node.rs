//! The Cassandra registry while its node misbehaves: paused (SIGSTOP, longer
//! than the client's timeout) and killed and started again (SIGKILL: what a
//! crash or a power cut of its host does), under a stream of commits. Uses the
//! test node of scripts/test.sh (`SOP_TEST_CASSANDRA`, `SOP_TEST_CASSANDRA_DIR`;
//! fails without them). Its own test binary: nothing else runs while the node
//! is down, and the two tests take turns.

mod support;

use sop::{CassandraRegistry, Database, DbOptions, Error, Registry, StoreOptions, TxMode};
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

/// What the writer saw.
#[derive(Default, Debug)]
struct Outcomes {
    ok: u64,
    /// Claims that failed (timed out) and were settled by the claimer.
    settled: u64,
    /// (transaction id, snapshot) of commits whose outcome was unknown.
    unknown: Vec<(u128, u64)>,
    failed: u64,
}

/// Increment a counter until `stop`, reopening after an unknown outcome (the
/// handle is poisoned) or a failed open.
fn writer(path: &Path, stop: &AtomicBool) -> Outcomes {
    let settled = Arc::new(AtomicU64::new(0));
    let count = support::Count {
        text: "a claim failed; settling it",
        n: settled.clone(),
    };
    let mut out = tracing::subscriber::with_default(count, || write_until(path, stop));
    out.settled = settled.load(Ordering::Relaxed);
    out
}

fn write_until(path: &Path, stop: &AtomicBool) -> Outcomes {
    let mut out = Outcomes::default();
    let mut db: Option<Database> = None;
    while !stop.load(Ordering::Acquire) {
        let h = match &db {
            Some(h) => h,
            None => {
                match Database::open(path, opts(1_000)) {
                    Ok(h) => db = Some(h),
                    Err(_) => {
                        out.failed += 1;
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
                continue;
            }
        };
        let tx = match h.begin(TxMode::ForWriting) {
            Ok(tx) => tx,
            Err(_) => {
                out.failed += 1;
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let (id, snap) = (tx.id(), tx.snapshot_seq());
        let r = (|| {
            let s = tx.open_store::<String, u64>("counters")?;
            let n = s.get(&"n".to_string())?.unwrap_or(0);
            s.upsert(&"n".to_string(), &(n + 1))?;
            tx.commit()
        })();
        match r {
            Ok(()) => out.ok += 1,
            Err(Error::CommitOutcomeUnknown { .. }) => {
                out.unknown.push((id, snap));
                db = None;
            }
            Err(e) if e.kind() == sop::ErrorKind::Poisoned => db = None,
            Err(_) => out.failed += 1,
        }
    }
    out
}

/// After the node is back: every Ok commit is there once, and so is every
/// unknown one `commit_outcome` (which settles for good) calls committed.
fn verify(path: &Path, out: &Outcomes) {
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
    let mut unknown_committed = 0;
    for (id, snap) in &out.unknown {
        if db.commit_outcome(*id, *snap).unwrap() {
            unknown_committed += 1;
        }
    }
    let tx = db.begin(TxMode::ForReading).unwrap();
    let n = tx
        .open_store::<String, u64>("counters")
        .unwrap()
        .get(&"n".to_string())
        .unwrap()
        .unwrap_or(0);
    eprintln!("{out:?}; unknown and committed: {unknown_committed}; the counter: {n}");
    assert_eq!(
        n,
        1 + out.ok + unknown_committed,
        "every Ok commit once, and the unknown ones that committed"
    );
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
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
    let out = std::thread::scope(|s| {
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
        out.failed + out.settled + out.unknown.len() as u64 > 0,
        "nothing failed or timed out while the node was paused: the test did not test what it is for ({out:?})"
    );
    assert!(out.ok > 0, "nothing committed: {out:?}");
    verify(dir.path(), &out);
}

#[test]
fn a_node_killed_and_started_again_loses_no_acknowledged_commit() {
    let _g = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = seeded();
    let stop = AtomicBool::new(false);
    let out = std::thread::scope(|s| {
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
    assert!(out.failed + out.unknown.len() as u64 > 0, "{out:?}");
    verify(dir.path(), &out);
}
