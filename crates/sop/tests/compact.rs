//! Compaction: live nodes and values move out of mostly-dead records, which reclaim
//! then retires; no item changes, concurrent transactions still commit, and a power
//! cut at any step leaves the database whole.

mod support;

use sop::{CompactOptions, Database, DbOptions, Error, StoreOptions, TxMode, ValuePlacement};
use sop_testkit::{Fault, SimVfs};
use std::sync::Arc;
use support::{dump, folder_bytes, opts, Dump};

fn assert_healthy(db: &Database) {
    let c = db.check().unwrap();
    assert!(c.is_ok(), "{:?}", c.problems);
}

/// `keys` items in two stores (inline and separate values) loaded in one commit,
/// then `commits` commits each updating five keys spread over the whole key
/// space: every record keeps a few live nodes, so reclaim alone frees little.
fn scatter(db: &Database, keys: u64, commits: u64) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    for (name, values) in [
        ("a", ValuePlacement::Inline),
        ("b", ValuePlacement::Separate),
    ] {
        let s = tx
            .open_or_create_store::<u64, Vec<u8>>(
                name,
                StoreOptions {
                    slot_length: 8,
                    values,
                    ..Default::default()
                },
            )
            .unwrap();
        for i in 0..keys {
            s.upsert(&i, &vec![1; 100]).unwrap();
        }
    }
    tx.commit().unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    for c in 0..commits {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        for name in ["a", "b"] {
            let s = tx.open_store::<u64, Vec<u8>>(name).unwrap();
            for _ in 0..5 {
                s.upsert(&rng.u64(0..keys), &vec![c as u8; 100]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
}

#[test]
fn compaction_frees_what_reclaim_cannot_and_keeps_every_item() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    scatter(&db, 400, 120);
    let want = dump(&db);
    let reclaimed = db.reclaim().unwrap();
    let before = folder_bytes(dir.path());

    let r = db
        .compact_with(&CompactOptions {
            min_dead_fraction: 0.0,
            chunk_bytes: 16 << 10,
            ..Default::default()
        })
        .unwrap();
    assert!(r.records_emptied > 50, "{r:?}");
    assert!(r.nodes_moved > 0 && r.values_moved > 0, "{r:?}");
    assert!(r.commits > 1, "small chunks take several commits: {r:?}");
    assert!(r.reclaim.retired >= r.records_emptied, "{r:?}");
    let after = folder_bytes(dir.path());
    assert!(
        after * 3 < before,
        "reclaim alone retired {} records; compaction: {before} -> {after} bytes ({r:?})",
        reclaimed.retired
    );
    assert_eq!(dump(&db), want);
    assert_healthy(&db);

    // Nothing is left to move; the database keeps working and reopens.
    let again = db.compact().unwrap();
    assert_eq!(again.records_emptied, 0, "{again:?}");
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(dump(&db), want);
    assert_healthy(&db);
    scatter(&db, 400, 20);
    let want = dump(&db);
    assert!(db.compact().unwrap().records_emptied > 0);
    assert_eq!(dump(&db), want);
    assert_healthy(&db);
}

/// A scattered folder and two handles on it; the second compacts, as another
/// process would.
fn two_handles() -> (tempfile::TempDir, Database, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    scatter(&db, 200, 40);
    let other = Database::open(dir.path(), opts()).unwrap();
    (dir, db, other)
}

#[test]
fn transactions_open_across_a_compaction_still_commit() {
    let (_dir, db, other) = two_handles();

    let writer = db.begin(TxMode::ForWriting).unwrap();
    let reader = db.begin(TxMode::ForReading).unwrap();
    let (wa, wb) = (
        writer.open_store::<u64, Vec<u8>>("a").unwrap(),
        writer.open_store::<u64, Vec<u8>>("b").unwrap(),
    );
    let seen_b = wb.get(&17).unwrap().unwrap();
    wa.upsert(&5000, &seen_b).unwrap();
    wb.upsert(&5001, &vec![9; 100]).unwrap();
    let rb = reader.open_store::<u64, Vec<u8>>("b").unwrap();
    let read = rb.get(&33).unwrap().unwrap();
    let n = rb.count().unwrap();

    let r = other
        .compact_with(&CompactOptions {
            min_dead_fraction: 0.0,
            ..Default::default()
        })
        .unwrap();
    assert!(r.nodes_moved > 0 && r.values_moved > 0, "{r:?}");

    reader.commit().unwrap();
    writer.commit().unwrap();
    let tx = other.begin(TxMode::NoCheck).unwrap();
    let a = tx.open_store::<u64, Vec<u8>>("a").unwrap();
    let b = tx.open_store::<u64, Vec<u8>>("b").unwrap();
    assert_eq!(a.get(&5000).unwrap().unwrap(), seen_b);
    assert_eq!(b.get(&5001).unwrap().unwrap(), vec![9; 100]);
    assert_eq!(b.get(&33).unwrap().unwrap(), read);
    assert_eq!(b.count().unwrap(), n + 1);
    drop(tx);
    assert_healthy(&other);
}

#[test]
fn a_real_conflict_is_still_caught_across_a_compaction() {
    let (_dir, db, other) = two_handles();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let b = tx.open_store::<u64, Vec<u8>>("b").unwrap();
    let v = b.get(&21).unwrap().unwrap();
    b.upsert(&22, &v).unwrap();
    // Someone else changes key 21, then the folder is compacted.
    let t2 = other.begin(TxMode::ForWriting).unwrap();
    t2.open_store::<u64, Vec<u8>>("b")
        .unwrap()
        .upsert(&21, &vec![77; 100])
        .unwrap();
    t2.commit().unwrap();
    other
        .compact_with(&CompactOptions {
            min_dead_fraction: 0.0,
            ..Default::default()
        })
        .unwrap();
    assert!(matches!(tx.commit(), Err(Error::Conflict(_))));
}

#[test]
fn writers_and_compaction_run_together() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    scatter(&db, 300, 10);
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let compactor = {
        let db = db.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut rounds = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                db.compact_with(&CompactOptions {
                    min_dead_fraction: 0.0,
                    chunk_bytes: 8 << 10,
                    ..Default::default()
                })
                .unwrap();
                rounds += 1;
            }
            rounds
        })
    };
    // Two writers add 1 to counters, each to its own keys (even or odd), so neither
    // may fail: nodes they share merge, and so do nodes compaction moved.
    let writers: Vec<_> = (0..2u64)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..60u64 {
                    let tx = db.begin(TxMode::ForWriting).unwrap();
                    let s = tx.open_store::<u64, Vec<u8>>("b").unwrap();
                    let k = 1000 + (i * 2 + w) % 50;
                    let n = s.get(&k).unwrap().map_or(0, |v| v[0]);
                    s.upsert(&k, &vec![n + 1]).unwrap();
                    tx.commit().unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(compactor.join().unwrap() > 0);
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s = tx.open_store::<u64, Vec<u8>>("b").unwrap();
    let total: u64 = (1000..1050u64)
        .map(|k| s.get(&k).unwrap().map_or(0, |v| v[0] as u64))
        .sum();
    assert_eq!(total, 120, "no increment lost");
    drop(tx);
    assert_healthy(&db);
}

#[test]
fn bad_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    for o in [
        CompactOptions {
            min_dead_fraction: 1.5,
            ..Default::default()
        },
        CompactOptions {
            min_dead_fraction: f64::NAN,
            ..Default::default()
        },
        CompactOptions {
            chunk_bytes: 0,
            ..Default::default()
        },
    ] {
        assert!(matches!(db.compact_with(&o), Err(Error::InvalidOption(_))));
    }
}

/// A simulated folder after `scatter`, what it holds, and how many file-system
/// operations one compaction of it takes.
struct SimCase {
    base: SimVfs,
    want: Dump,
    ops: u64,
}

const SIM_DB: &str = "/c/db";
const SIM_COMPACT: CompactOptions = CompactOptions {
    min_dead_fraction: 0.0,
    chunk_bytes: 8 << 10,
    write_out_journal: true,
};

fn sim_open(vfs: &SimVfs) -> sop::Result<Database> {
    Database::open(
        SIM_DB,
        DbOptions {
            vfs: Some(Arc::new(vfs.clone())),
            recovery_interval: None,
            ..Default::default()
        },
    )
}

fn sim_case() -> SimCase {
    let base = SimVfs::new();
    let want = {
        let db = sim_open(&base).unwrap();
        scatter(&db, 60, 6);
        dump(&db)
    };
    let probe = base.crash_image_strict();
    let db = sim_open(&probe).unwrap();
    probe.reset_op_count();
    let r = db.compact_with(&SIM_COMPACT).unwrap();
    assert!(r.commits > 1 && r.reclaim.retired > 0, "{r:?}");
    SimCase {
        base,
        want,
        ops: probe.op_count(),
    }
}

#[test]
fn power_cut_at_every_step_of_compaction() {
    let SimCase { base, want, ops } = sim_case();
    let (open, o) = (sim_open, SIM_COMPACT);
    for k in 0..ops {
        let img = base.crash_image_strict();
        let db = open(&img).unwrap();
        img.reset_op_count();
        img.set_fault(Fault::PowerCutAt(k));
        let _ = db.compact_with(&o);
        drop(db);
        for seed in 0..2 {
            let img2 = img.crash_image(seed + k);
            let db = open(&img2)
                .unwrap_or_else(|e| panic!("reopen after a cut at compaction op {k}: {e}"));
            assert_eq!(dump(&db), want, "cut at compaction op {k}");
            let c = db.check().unwrap();
            assert!(c.is_ok(), "cut at compaction op {k}: {:?}", c.problems);
            db.compact_with(&o).unwrap();
            assert_eq!(dump(&db), want);
        }
    }
}

#[test]
fn an_io_error_at_every_step_of_compaction_loses_nothing() {
    let SimCase { base, want, ops } = sim_case();
    let (open, o) = (sim_open, SIM_COMPACT);
    for k in 0..ops {
        let img = base.crash_image_strict();
        let db = open(&img).unwrap();
        img.reset_op_count();
        img.set_fault(Fault::IoErrorAt(k));
        let res = db.compact_with(&o);
        img.set_fault(Fault::None);
        if res.is_ok()
            || !matches!(
                res,
                Err(Error::Poisoned(_) | Error::CommitOutcomeUnknown { .. })
            )
        {
            // The handle is still usable: what it reads is unchanged.
            assert_eq!(dump(&db), want, "I/O error at compaction op {k}: {res:?}");
        }
        drop(db);
        let db = open(&img).unwrap_or_else(|e| panic!("reopen after I/O error at op {k}: {e}"));
        assert_eq!(dump(&db), want, "I/O error at compaction op {k}");
        assert_healthy(&db);
    }
}

#[test]
fn auto_reclaim_compacts_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    scatter(&db, 400, 60);
    let want = dump(&db);
    let before = folder_bytes(dir.path());
    drop(db);
    let db = Database::open(
        dir.path(),
        DbOptions {
            recovery_interval: Some(std::time::Duration::from_millis(50)),
            auto_reclaim: true,
            ..Default::default()
        },
    )
    .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while folder_bytes(dir.path()) * 2 > before {
        assert!(
            std::time::Instant::now() < deadline,
            "the background thread did not compact: {before} -> {} bytes",
            folder_bytes(dir.path())
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(dump(&db), want);
    assert_healthy(&db);
}
