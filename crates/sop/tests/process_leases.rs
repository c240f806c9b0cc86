//! Process leases where OS locks cannot tell who is alive: a database in a
//! bucket of the real test S3 server (`SOP_TEST_S3_ENDPOINT`), where every host
//! has a folder of its own, and a Cassandra registry with `leases` on the real
//! test node (`SOP_TEST_CASSANDRA`), whose folder stands for a network volume
//! (its OS locks are not trusted). These tests fail without those servers.
//!
//! Each test runs a child process (this test binary again) on "another host"
//! (its own folder for the bucket; the shared folder for Cassandra) with a
//! lease of 1 s. Then:
//! - killed with SIGKILL with a big value written and not committed: this
//!   process judges it dead once its lease has not changed for the lease time
//!   on this process's clock, fences it off and collects its blob;
//! - stopped with SIGSTOP past its lease in the middle of a transaction: once
//!   judged dead and resumed, its commit is refused (`Fenced`) and leaves
//!   nothing.

use sop::{
    CassandraRegistry, Database, DbOptions, Registry, S3Bucket, StoreOptions, TxMode,
    ValuePlacement,
};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

const LEASE: Duration = Duration::from_millis(1000);
const ROLE: &str = "SOP_LEASES_CHILD";
const DIR: &str = "SOP_LEASES_DIR";
const BACKEND: &str = "SOP_LEASES_BACKEND";

fn var(k: &str) -> String {
    std::env::var(k).unwrap_or_else(|_| {
        panic!("{k} is not set: run through scripts/test.sh (it starts the test servers)")
    })
}

/// A registry from its description (`s3 URL` or `cassandra KEYSPACE`).
fn registry(desc: &str) -> Registry {
    let (kind, at) = desc.split_once(' ').unwrap();
    match kind {
        "s3" => {
            let mut b = S3Bucket::new(at);
            b.endpoint = Some(var("SOP_TEST_S3_ENDPOINT"));
            b.timeout_ms = 10_000;
            Registry::S3(b)
        }
        _ => {
            let hosts = var("SOP_TEST_CASSANDRA");
            let mut c = CassandraRegistry::new(hosts.split(',').map(str::to_string).collect(), at);
            c.leases = true;
            Registry::Cassandra(c)
        }
    }
}

fn opts(desc: &str) -> DbOptions {
    DbOptions {
        recovery_interval: None,
        registry: Some(registry(desc)),
        lease_ttl: LEASE,
        blob_grace: Duration::ZERO,
        ..Default::default()
    }
}

/// The child's side (does nothing unless run as a child).
#[test]
fn child_entry() {
    let Ok(role) = std::env::var(ROLE) else {
        return;
    };
    let db = Database::open(var(DIR), opts(&var(BACKEND))).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    match role.as_str() {
        "kill" => {
            tx.open_store::<u64, Vec<u8>>("big")
                .unwrap()
                .add(&1, &vec![7u8; 100_000])
                .unwrap();
            println!("WROTE");
            std::io::stdout().flush().unwrap();
            std::thread::sleep(Duration::from_secs(600));
        }
        _ => {
            tx.open_store::<u64, Vec<u8>>("big")
                .unwrap()
                .add(&2, &vec![8u8; 100_000])
                .unwrap();
            println!("READY");
            std::io::stdout().flush().unwrap();
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).unwrap();
            match tx.commit() {
                Ok(()) => println!("COMMIT ok"),
                Err(e) => println!("COMMIT {:?} {e}", e.kind()),
            }
            std::io::stdout().flush().unwrap();
        }
    }
}

struct Kid {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Kid {
    fn spawn(role: &str, dir: &Path, desc: &str) -> Kid {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
            .env(ROLE, role)
            .env(DIR, dir)
            .env(BACKEND, desc)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let stdin = child.stdin.take();
        Kid {
            child,
            stdin,
            lines,
        }
    }

    /// Wait for a line starting with `what`; return it.
    fn expect(&self, what: &str) -> String {
        loop {
            let l = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("the child never said {what}"));
            // libtest may print "test child_entry ... " before it.
            if let Some(at) = l.find(what) {
                return l[at..].to_string();
            }
        }
    }

    fn signal(&self, sig: i32) {
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The places of the two "hosts": (the child's folder, this process's).
fn hosts(desc: &str, tmp: &Path) -> (PathBuf, PathBuf) {
    if desc.starts_with("s3 ") {
        (tmp.join("host-a"), tmp.join("host-b"))
    } else {
        (tmp.join("shared"), tmp.join("shared"))
    }
}

fn create(at: &Path, desc: &str) -> Database {
    let db = Database::open(at, opts(desc)).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    tx.create_store::<u64, Vec<u8>>(
        "big",
        StoreOptions {
            values: ValuePlacement::Big,
            ..Default::default()
        },
    )
    .unwrap();
    tx.commit().unwrap();
    db
}

/// Recover until a pass finds the child dead, within a few lease times.
fn recover_until_dead(db: &Database) -> sop::RecoveryReport {
    let first = db.recover().unwrap();
    assert_eq!(
        (first.dead_processes, first.removed_blobs),
        (0, 0),
        "judged dead at first sight: {first:?}"
    );
    for _ in 0..20 {
        std::thread::sleep(LEASE / 4);
        let r = db.recover().unwrap();
        if r.dead_processes > 0 {
            return r;
        }
    }
    panic!("the child's lease never went stale");
}

fn killed_mid_transaction_is_recovered_from_another_host(desc: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (theirs, ours) = hosts(desc, tmp.path());
    let db = create(&ours, desc);
    let kid = Kid::spawn("kill", &theirs, desc);
    kid.expect("WROTE");
    // In flight: neither garbage nor collected while its writer lives.
    let r = db.recover().unwrap();
    assert_eq!(r.removed_blobs, 0, "{r:?}");
    let report = db.check().unwrap();
    assert!(report.is_ok() && report.garbage.is_empty(), "{report:?}");
    kid.signal(libc::SIGKILL);
    let r = recover_until_dead(&db);
    assert_eq!(r.removed_blobs, 1, "the dead writer's blob: {r:?}");
    let report = db.check().unwrap();
    assert!(report.is_ok() && report.garbage.is_empty(), "{report:?}");
    // Its lease is forgotten once nothing of it is left: a later pass finds
    // no one dead and nothing to do.
    db.recover().unwrap();
    let r = db.recover().unwrap();
    assert_eq!(r, sop::RecoveryReport::default());
    let tx = db.begin(TxMode::ForReading).unwrap();
    assert_eq!(
        tx.open_store::<u64, Vec<u8>>("big")
            .unwrap()
            .count()
            .unwrap(),
        0
    );
}

fn stopped_past_its_lease_is_fenced(desc: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (theirs, ours) = hosts(desc, tmp.path());
    let db = create(&ours, desc);
    let mut kid = Kid::spawn("stop", &theirs, desc);
    kid.expect("READY");
    kid.signal(libc::SIGSTOP);
    let r = recover_until_dead(&db);
    assert_eq!(r.removed_blobs, 1, "the fenced writer's blob: {r:?}");
    kid.signal(libc::SIGCONT);
    writeln!(kid.stdin.as_mut().unwrap(), "go").unwrap();
    let said = kid.expect("COMMIT");
    // Refused by the commit itself, or by the handle its heartbeat poisoned
    // when it found the lease taken.
    assert!(
        said.starts_with("COMMIT Fenced")
            || (said.starts_with("COMMIT Poisoned") && said.contains("fenced it off")),
        "{said}"
    );
    let tx = db.begin(TxMode::ForReading).unwrap();
    assert_eq!(
        tx.open_store::<u64, Vec<u8>>("big")
            .unwrap()
            .count()
            .unwrap(),
        0
    );
    drop(tx);
    let report = db.check().unwrap();
    assert!(report.is_ok() && report.garbage.is_empty(), "{report:?}");
}

fn bucket() -> String {
    format!(
        "s3 s3://{}/leases/{:016x}",
        var("SOP_TEST_S3_BUCKET"),
        fastrand::u64(..)
    )
}

/// One keyspace for these tests: each database has its own rows in it.
fn keyspace() -> String {
    "cassandra sop_lease_tests".into()
}

#[test]
fn in_a_bucket_a_killed_process_of_another_host_is_recovered() {
    killed_mid_transaction_is_recovered_from_another_host(&bucket());
}

#[test]
fn in_a_bucket_a_stopped_process_past_its_lease_is_fenced() {
    stopped_past_its_lease_is_fenced(&bucket());
}

#[test]
fn on_cassandra_a_killed_process_of_another_host_is_recovered() {
    killed_mid_transaction_is_recovered_from_another_host(&keyspace());
}

#[test]
fn on_cassandra_a_stopped_process_past_its_lease_is_fenced() {
    stopped_past_its_lease_is_fenced(&keyspace());
}

/// The case the lease alone cannot catch: a process that believes its lease is
/// fresh (its clock, the I/O seam's, held still here: as if it was paused
/// right after its last lease check) reaches its commit point after another
/// host marked its lease dead and collected its blob. The abort record that
/// recovery publishes before collecting refuses that commit (`Fenced`), so no
/// commit points at the collected blob. Fails if recovery skips the abort
/// record.
#[test]
fn in_a_bucket_a_commit_past_a_lost_lease_is_refused_by_the_abort_record() {
    let desc = bucket();
    let tmp = tempfile::tempdir().unwrap();
    let ours = create(&tmp.path().join("host-b"), &desc);
    let sim = sop_testkit::SimVfs::new();
    sim.pause_clock();
    let theirs = Database::open(
        "/host-a",
        DbOptions {
            vfs: Some(std::sync::Arc::new(sim.clone())),
            ..opts(&desc)
        },
    )
    .unwrap();
    let tx = theirs.begin(TxMode::ForWriting).unwrap();
    tx.open_store::<u64, Vec<u8>>("big")
        .unwrap()
        .add(&3, &vec![3u8; 100_000])
        .unwrap();
    // Its heartbeat is due by its own (still) clock: it never renews.
    let r = recover_until_dead(&ours);
    assert_eq!(r.removed_blobs, 1, "{r:?}");
    let err = tx.commit().unwrap_err();
    assert_eq!(err.kind(), sop::ErrorKind::Fenced, "{err}");
    let tx = ours.begin(TxMode::ForReading).unwrap();
    assert_eq!(
        tx.open_store::<u64, Vec<u8>>("big")
            .unwrap()
            .count()
            .unwrap(),
        0
    );
    drop(tx);
    let report = ours.check().unwrap();
    assert!(report.is_ok() && report.garbage.is_empty(), "{report:?}");
}
