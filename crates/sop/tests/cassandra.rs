//! The Cassandra registry against a real node (`SOP_TEST_CASSANDRA`, started by
//! scripts/test.sh; these tests fail without it). The conformance suite runs on
//! it too (tests/conformance.rs); these are what only this backend has: the
//! row a claim writes, `check` comparing rows with files, claims whose reply
//! is lost, and several handles committing through one node.

use sop::{CassandraRegistry, Database, DbOptions, Error, Registry};
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use support::{add_one, count, reopen, Count, Outcomes};

fn registry(timeout_ms: u64) -> Registry {
    let hosts = std::env::var("SOP_TEST_CASSANDRA").expect(
        "SOP_TEST_CASSANDRA is not set: run through scripts/test.sh (it starts a Cassandra node)",
    );
    let mut c = CassandraRegistry::new(hosts.split(',').map(str::to_string).collect(), "sop_tests");
    c.timeout_ms = timeout_ms;
    Registry::Cassandra(c)
}

fn opts(timeout_ms: u64) -> DbOptions {
    DbOptions {
        recovery_interval: None,
        registry: Some(registry(timeout_ms)),
        ..Default::default()
    }
}

#[test]
fn the_folder_saves_the_registry_and_every_opener_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path(), opts(10_000)).unwrap();
        for _ in 0..5 {
            add_one(&db).unwrap();
        }
    }
    let cfg = std::fs::read_to_string(dir.path().join("sop.json")).unwrap();
    assert!(cfg.contains("\"cassandra\""), "{cfg}");
    assert!(cfg.contains("sop_tests"), "{cfg}");
    let db = reopen(dir.path());
    assert_eq!(count(&db), 5);
    assert_eq!(
        db.head().unwrap(),
        5,
        "five increments (the first creates the store)"
    );
    // Asking for the folder's own registry is refused: the folder says Cassandra.
    let err = Database::open(
        dir.path(),
        DbOptions {
            registry: Some(Registry::Folder),
            ..Default::default()
        },
    )
    .expect_err("a different registry is refused");
    assert!(matches!(err, Error::InvalidOption(_)), "{err}");
    // Exclusive (a journal) needs the folder's registry.
    let err = Database::open(
        dir.path(),
        DbOptions {
            exclusive: true,
            ..Default::default()
        },
    )
    .expect_err("exclusive is refused");
    assert!(err.to_string().contains("exclusive"), "{err}");
}

#[test]
fn handles_in_threads_commit_through_one_node_without_losing_an_update() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts(10_000)).unwrap();
    add_one(&db).unwrap();
    let other = Database::open(dir.path(), opts(10_000)).unwrap();
    std::thread::scope(|s| {
        for db in [&db, &other, &db, &other] {
            s.spawn(move || {
                for _ in 0..25 {
                    loop {
                        match add_one(db) {
                            Ok(()) => break,
                            Err(e) if e.kind() == sop::ErrorKind::Retry => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
    });
    assert_eq!(count(&db), 101);
    assert_eq!(count(&reopen(dir.path())), 101);
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn check_compares_the_registry_rows_with_the_record_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts(10_000)).unwrap();
    for _ in 0..3 {
        add_one(&db).unwrap();
    }
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    drop(db);
    // Record 2's file replaced by record 3's: the same format, the wrong record.
    let layout = sop::Layout::new(dir.path());
    std::fs::copy(layout.record(3), layout.record(2)).unwrap();
    let db = Database::open(
        dir.path(),
        DbOptions {
            recovery_interval: None,
            recover_on_open: false,
            ..Default::default()
        },
    );
    // Opening may already refuse it (replay reads record 2): either way the
    // damage is reported, never taken as record 2.
    match db {
        Err(e) => assert!(e.to_string().contains("record"), "{e}"),
        Ok(db) => {
            let report = db.check().unwrap();
            assert!(
                report
                    .problems
                    .iter()
                    .any(|p| p.contains("record 2") && p.contains("registry")),
                "{:?}",
                report.problems
            );
        }
    }
}

#[test]
fn a_missing_record_file_is_reported_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(
        dir.path(),
        DbOptions {
            checkpoint_every: 2,
            ..opts(10_000)
        },
    )
    .unwrap();
    for _ in 0..4 {
        add_one(&db).unwrap();
    }
    drop(db);
    let layout = sop::Layout::new(dir.path());
    std::fs::remove_file(layout.record(1)).unwrap();
    let db = Database::open(
        dir.path(),
        DbOptions {
            recovery_interval: None,
            recover_on_open: false,
            ..Default::default()
        },
    )
    .unwrap();
    let report = db.check().unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("record 1") && p.contains("missing")),
        "{:?}",
        report.problems
    );
}

/// Claims that time out (a client timeout shorter than a Paxos round; the
/// request may still apply later, queued in the node): each commit either
/// returns Ok, fails before its commit point, or reports its outcome unknown;
/// the counter then equals the Ok commits plus the unknown ones
/// `commit_outcome` finds committed: never one applied twice, never an Ok
/// lost, never a "not committed" that later turns out committed.
#[test]
fn claims_whose_reply_is_lost_are_settled_never_applied_twice() {
    let settled = Arc::new(AtomicU64::new(0));
    let counter = Count {
        text: "a claim failed; settling it",
        n: settled.clone(),
    };
    tracing::subscriber::with_default(counter, || lost_replies(&settled));
}

fn lost_replies(settled: &AtomicU64) {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path(), opts(10_000)).unwrap();
        add_one(&db).unwrap();
    }
    let impatient = || {
        Database::open(
            dir.path(),
            DbOptions {
                recovery_interval: None,
                registry: Some(registry(2)),
                ..Default::default()
            },
        )
    };
    let mut out = Outcomes::default();
    let mut db = impatient();
    for _ in 0..60 {
        let h = match &db {
            Ok(h) => h,
            Err(e) => {
                eprintln!("open: {e}");
                out.failed += 1;
                db = impatient();
                continue;
            }
        };
        if let Some(unknown) = out.increment(h) {
            // The handle is poisoned: ask a fresh one, with a patient client.
            out.settle(&reopen(dir.path()), unknown);
            db = impatient();
        }
    }
    drop(db);
    let settled = settled.load(Ordering::Relaxed);
    let seen = format!("claims that timed out and were settled: {settled}");
    out.assert_counted(&reopen(dir.path()), 1, &seen);
    eprintln!("{out}; {seen}");
    assert!(
        settled + out.unknown_committed + out.unknown_not > 0,
        "no claim timed out: the test did not test what it is for"
    );
}

/// Reclaim on a Cassandra registry removes dead record files outright (no
/// tombstone hard links: the shared volume needs none) and marks them in
/// `sop_retired`; their `sop_commits` rows stay. A handle that lags behind
/// catches up through them from a checkpoint, its stale writer never lands on
/// a reclaimed sequence, an old snapshot gets `SnapshotTooOld`, and `check`
/// accepts the missing files of retired records (and only those).
#[test]
fn reclaim_removes_dead_record_files_without_hard_links() {
    use sop::{StoreOptions, TxMode, ValuePlacement};
    let dir = tempfile::tempdir().unwrap();
    let a = Database::open(dir.path(), opts(10_000)).unwrap();
    let put = |db: &Database, i: u64| {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx
            .open_or_create_store::<u64, Vec<u8>>(
                "kv",
                StoreOptions {
                    values: ValuePlacement::Separate,
                    ..Default::default()
                },
            )
            .unwrap();
        s.upsert(&(i % 10), &vec![i as u8; 100]).unwrap();
        tx.commit().unwrap();
    };
    for i in 0..10 {
        put(&a, i);
    }
    let b = Database::open(dir.path(), opts(10_000)).unwrap();
    let stale = b.begin(TxMode::ForWriting).unwrap();
    stale
        .open_store::<u64, Vec<u8>>("kv")
        .unwrap()
        .add(&10_000, &vec![9; 10])
        .unwrap();
    let reader = b.begin(TxMode::NoCheck).unwrap();
    for i in 10..120 {
        put(&a, i);
    }
    let records = |d: &std::path::Path| -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for sub in std::fs::read_dir(d.join("log")).unwrap().flatten() {
            if sub.path().is_dir() {
                out.extend(
                    std::fs::read_dir(sub.path())
                        .unwrap()
                        .flatten()
                        .map(|e| e.path()),
                );
            }
        }
        out
    };
    let before = records(dir.path()).len();
    let r = a.reclaim().unwrap();
    assert!(r.retired > 50, "{r:?}");
    let after = records(dir.path());
    assert_eq!(after.len(), before - r.retired, "retired files are removed");
    for p in &after {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(p).unwrap().nlink(),
            1,
            "a hard link: {}",
            p.display()
        );
    }
    assert_eq!(a.reclaim().unwrap().retired, 0, "idempotent");
    let s = reader.open_store::<u64, Vec<u8>>("kv").unwrap();
    for i in 0..10u64 {
        match s.get(&i) {
            Ok(_) | Err(Error::SnapshotTooOld(_)) => {}
            Err(e) => panic!("old snapshot read: {e}"),
        }
    }
    drop(reader);
    match stale.commit() {
        Ok(()) => {}
        Err(e) => assert!(e.is_conflict(), "{e}"),
    }
    let c = Database::open(dir.path(), opts(10_000)).unwrap();
    for h in [&a, &b, &c] {
        let report = h.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
        assert_eq!(support::dump(h), support::dump(&a));
    }
    // A missing file of a record that was not retired is still damage.
    let victim = records(dir.path())
        .into_iter()
        .find(|p| p.extension().is_some_and(|x| x == "rec"))
        .unwrap();
    std::fs::remove_file(&victim).unwrap();
    let report = c.check().unwrap();
    assert!(!report.is_ok(), "a lost record file passed the check");
}
