//! The Cassandra registry on a three-node cluster with the production settings
//! (replication factor 3, claims at SERIAL, reads and writes at QUORUM), while
//! nodes crash (SIGKILL) and come back. Not part of the default run: it needs
//! the cluster of scripts/cassandra-cluster.sh (about 2 GiB and a minute to
//! start) and takes minutes; `bash scripts/cassandra-cluster-test.sh` starts
//! the cluster and runs it (feature `cluster-tests`). Without the cluster it
//! fails, never skips.
//!
//! What it shows: with one node of three down, commits go on and none that
//! returned Ok is lost, whichever node went down (the seed and first contact
//! point included); with two of three down no commit can return Ok (a quorum
//! is two), and every one that did before is still there when they are back.

mod support;
use support::{Outcomes, Step, Unknown};

use sop::{CassandraRegistry, Database, DbOptions, Registry, StoreOptions, TxMode};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The writers' client timeout: above Cassandra's own read and write timeouts
/// (5 and 2 s), so a coordinator waiting on a replica that died answers first.
const WRITER_TIMEOUT_MS: u64 = 10_000;

/// How long writers run after a node is killed: the other nodes go on sending
/// it requests (which time out) until their failure detector convicts it,
/// typically 10 to 20 s; commits must go on after that.
const OUTAGE: Duration = Duration::from_secs(30);

fn hosts() -> Vec<String> {
    let h = std::env::var("SOP_TEST_CASSANDRA_CLUSTER").expect(
        "SOP_TEST_CASSANDRA_CLUSTER is not set: run bash scripts/cassandra-cluster-test.sh (it starts the cluster)",
    );
    h.split(',').map(str::to_string).collect()
}

fn opts(keyspace: &str, timeout_ms: u64) -> DbOptions {
    let mut c = CassandraRegistry::new(hosts(), keyspace);
    c.replication = Some("{'class': 'SimpleStrategy', 'replication_factor': 3}".into());
    c.timeout_ms = timeout_ms;
    DbOptions {
        recovery_interval: None,
        registry: Some(Registry::Cassandra(c)),
        ..Default::default()
    }
}

/// Run a function of the cluster script.
fn cluster(call: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/cassandra-cluster.sh");
    let st = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(". '{}' && {call}", script.display()))
        .status()
        .unwrap();
    assert!(st.success(), "{call}: {st}");
}

/// `kill_cluster_node N` or `start_cluster_node N`.
fn node(action: &str, n: u32) {
    cluster(&format!("{action}_cluster_node {n}"));
}

/// What one writer saw in one phase of a run.
#[derive(Debug, Default)]
struct Phase {
    out: Outcomes,
    unknown: Vec<Unknown>,
    /// The last error seen, for the message of a failed assertion.
    last_error: Option<String>,
}

/// Increment counter `n` until `stop`, reopening after an unknown outcome (the
/// handle is poisoned) or a failed open; every failure is tallied.
fn write_until(path: &Path, keyspace: &str, stop: &AtomicBool) -> Phase {
    let mut p = Phase::default();
    let mut db: Option<Database> = None;
    while !stop.load(Ordering::Acquire) {
        let Some(h) = &db else {
            match Database::open(path, opts(keyspace, WRITER_TIMEOUT_MS)) {
                Ok(h) => db = Some(h),
                Err(e) => {
                    p.last_error = Some(format!("open: {e}"));
                    p.out.failed += 1;
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            continue;
        };
        match p.out.try_increment(h) {
            Step::Committed => {}
            Step::BeginFailed(e) => {
                p.last_error = Some(format!("begin: {e}"));
                p.out.failed += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            Step::Unknown(u) => {
                p.unknown.push(u);
                db = None;
            }
            Step::Failed(e) if e.kind() == sop::ErrorKind::Poisoned => db = None,
            Step::Failed(e) => {
                p.last_error = Some(format!("commit: {e}"));
                p.out.failed += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    p
}

/// Two writers (two handles on one folder) run while `during` does its work;
/// returns what they saw.
fn with_writers(path: &Path, keyspace: &str, during: impl FnOnce()) -> Vec<Phase> {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let ws: Vec<_> = (0..2)
            .map(|_| s.spawn(|| write_until(path, keyspace, &stop)))
            .collect();
        // The writers stop even when `during` panics (the scope would wait
        // for them forever).
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(during));
        stop.store(true, Ordering::Release);
        let phases = ws.into_iter().map(|w| w.join().unwrap()).collect();
        if let Err(p) = r {
            std::panic::resume_unwind(p);
        }
        phases
    })
}

fn ok(phases: &[Phase]) -> u64 {
    phases.iter().map(|p| p.out.ok).sum()
}

fn seeded(keyspace: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts(keyspace, 10_000)).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx
        .create_store::<String, u64>("counters", StoreOptions::default())
        .unwrap();
    s.upsert(&"n".to_string(), &1).unwrap();
    tx.commit().unwrap();
    dir
}

/// Once every node is back: every Ok commit is there once, and so is every
/// unknown one that `commit_outcome` calls committed; `check` is clean.
fn verify(path: &Path, keyspace: &str, phases: Vec<Phase>) {
    let t = Instant::now();
    let db = loop {
        match Database::open(path, opts(keyspace, 10_000)) {
            Ok(db) => break db,
            Err(e) if t.elapsed() < Duration::from_secs(60) => {
                eprintln!("reopen: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
            Err(e) => panic!("the database does not open with every node back: {e}"),
        }
    };
    let mut all = Outcomes::default();
    for p in phases {
        all.ok += p.out.ok;
        all.failed += p.out.failed;
        for u in p.unknown {
            all.settle(&db, u);
        }
    }
    eprintln!("{all}");
    all.assert_counted(&db, 1, "");
}

#[test]
fn with_one_node_of_three_down_commits_go_on_and_none_is_lost() {
    let _g = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    cluster("start_cluster_nodes_down");
    let ks = "sop_cluster_one_down";
    let dir = seeded(ks);
    let mut phases = Vec::new();
    // All up, then node 3 down (a replica that is not the first contact point).
    let before = with_writers(dir.path(), ks, || {
        std::thread::sleep(Duration::from_secs(2))
    });
    assert!(
        ok(&before) > 0,
        "nothing committed with every node up: {before:?}"
    );
    node("kill", 3);
    let down3 = with_writers(dir.path(), ks, || std::thread::sleep(OUTAGE));
    assert!(
        ok(&down3) > 0,
        "nothing committed with two nodes of three up (a quorum): {down3:?}"
    );
    // Node 3 back while writing, then node 1 (the seed, the first contact
    // point, and a replica that missed nothing) down: node 3 has missed the
    // commits of its outage, so a quorum of nodes 2 and 3 must still see them.
    let back3 = with_writers(dir.path(), ks, || node("start", 3));
    node("kill", 1);
    let down1 = with_writers(dir.path(), ks, || std::thread::sleep(OUTAGE));
    assert!(
        ok(&down1) > 0,
        "nothing committed with nodes 2 and 3 up: {down1:?}"
    );
    node("start", 1);
    eprintln!(
        "ok before {}, node 3 down {}, node 3 starting {}, node 1 down {}",
        ok(&before),
        ok(&down3),
        ok(&back3),
        ok(&down1)
    );
    phases.extend(before);
    phases.extend(down3);
    phases.extend(back3);
    phases.extend(down1);
    verify(dir.path(), ks, phases);
}

#[test]
fn with_two_nodes_of_three_down_no_commit_returns_ok_and_none_is_lost() {
    let _g = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    cluster("start_cluster_nodes_down");
    let ks = "sop_cluster_two_down";
    let dir = seeded(ks);
    let before = with_writers(dir.path(), ks, || {
        std::thread::sleep(Duration::from_secs(2))
    });
    assert!(
        ok(&before) > 0,
        "nothing committed with every node up: {before:?}"
    );
    node("kill", 2);
    node("kill", 3);
    // One node of three: no quorum, so no claim can be decided and no commit
    // may return Ok. (With consistency ONE they would.)
    let lost_quorum = with_writers(dir.path(), ks, || std::thread::sleep(OUTAGE));
    let tried: u64 = lost_quorum
        .iter()
        .map(|p| p.out.failed + p.unknown.len() as u64)
        .sum();
    assert!(
        tried > 0,
        "no commit was even tried without a quorum: {lost_quorum:?}"
    );
    assert_eq!(
        ok(&lost_quorum),
        0,
        "a commit returned Ok with one node of three up: {lost_quorum:?}"
    );
    let back = with_writers(dir.path(), ks, || {
        node("start", 2);
        node("start", 3);
        std::thread::sleep(Duration::from_secs(3));
    });
    assert!(
        ok(&back) > 0,
        "nothing committed once the nodes were back: {back:?}"
    );
    let mut phases = before;
    phases.extend(lost_quorum);
    phases.extend(back);
    verify(dir.path(), ks, phases);
}
