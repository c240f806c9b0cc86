//! Reclaiming space: dead record files become tombstones; nothing live is lost.

mod support;

use sop::{Database, DbOptions, Error, StoreOptions, TxMode, ValuePlacement};
use sop_testkit::{Fault, SimVfs};
use std::sync::Arc;
use support::{dump, folder_bytes, opts};

/// 200 keys in two stores (inline and separate values), then `updates` single-key
/// commits on ten hot keys (so most records written die).
fn churn(db: &Database, updates: u64) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let a = tx
        .open_or_create_store::<u64, Vec<u8>>(
            "a",
            StoreOptions {
                slot_length: 8,
                ..Default::default()
            },
        )
        .unwrap();
    let b = tx
        .open_or_create_store::<u64, Vec<u8>>(
            "b",
            StoreOptions {
                slot_length: 8,
                values: ValuePlacement::Separate,
                ..Default::default()
            },
        )
        .unwrap();
    for i in 0..200u64 {
        a.upsert(&i, &vec![1; 100]).unwrap();
        b.upsert(&i, &vec![2; 100]).unwrap();
    }
    tx.commit().unwrap();
    for i in 0..updates {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let name = if i % 2 == 0 { "a" } else { "b" };
        tx.open_store::<u64, Vec<u8>>(name)
            .unwrap()
            .update(&(i * 7 % 10), &vec![i as u8; 100])
            .unwrap();
        tx.commit().unwrap();
    }
}

#[test]
fn reclaim_shrinks_the_folder_and_keeps_every_item() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    churn(&db, 300);
    let want = dump(&db);
    let before = folder_bytes(dir.path());
    let r = db.reclaim().unwrap();
    assert!(r.retired > 150, "{r:?}");
    let after = folder_bytes(dir.path());
    assert!(after * 2 < before, "{before} -> {after} bytes");
    assert_eq!(dump(&db), want);
    assert!(
        db.check().unwrap().is_ok(),
        "{:?}",
        db.check().unwrap().problems
    );
    // Idempotent.
    assert_eq!(db.reclaim().unwrap().retired, 0);
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(dump(&db), want);
    assert!(db.check().unwrap().is_ok());
    // It keeps working: more commits, and a second round.
    churn(&db, 50);
    let want = dump(&db);
    assert!(db.reclaim().unwrap().retired > 0);
    assert_eq!(dump(&db), want);
}

#[test]
fn a_lagging_handle_catches_up_through_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let a = Database::open(dir.path(), opts()).unwrap();
    churn(&a, 10);
    let b = Database::open(dir.path(), opts()).unwrap();
    // b's write transaction began before everything below.
    let stale = b.begin(TxMode::ForWriting).unwrap();
    stale
        .open_store::<u64, Vec<u8>>("a")
        .unwrap()
        .add(&10_000, &vec![9; 10])
        .unwrap();
    // b's snapshot reader, also older.
    let reader = b.begin(TxMode::NoCheck).unwrap();
    churn(&a, 100);
    assert!(a.reclaim().unwrap().retired > 50);
    // The old snapshot reads what it can; a reclaimed record is SnapshotTooOld, never Corrupt.
    let s = reader.open_store::<u64, Vec<u8>>("b").unwrap();
    for i in 0..200u64 {
        match s.get(&i) {
            Ok(_) => {}
            Err(Error::SnapshotTooOld(_)) => {}
            Err(e) => panic!("old snapshot read: {e}"),
        }
    }
    drop(reader);
    // The stale writer merges (its key is untouched) or conflicts; it never lands on a reclaimed sequence.
    match stale.commit() {
        Ok(()) => {}
        Err(e) => assert!(e.is_conflict(), "{e}"),
    }
    assert_eq!(dump(&a), dump(&b));
    assert!(
        a.check().unwrap().is_ok(),
        "{:?}",
        a.check().unwrap().problems
    );
}

#[test]
fn an_older_snapshot_of_this_process_postpones_reclaim() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    churn(&db, 10);
    let reader = db.begin(TxMode::NoCheck).unwrap();
    churn(&db, 40);
    let r = db.reclaim().unwrap();
    assert_eq!(r.retired, 0);
    assert!(r.skipped.is_some());
    let s = reader.open_store::<u64, Vec<u8>>("a").unwrap();
    for i in 0..200u64 {
        assert!(s.get(&i).unwrap().is_some());
    }
    drop(reader);
    assert!(db.reclaim().unwrap().retired > 0);
}

#[test]
fn power_cut_at_every_step_of_reclaim() {
    const DB: &str = "/r/db";
    let open = |vfs: &SimVfs| {
        Database::open(
            DB,
            DbOptions {
                vfs: Some(Arc::new(vfs.clone())),
                recovery_interval: None,
                ..Default::default()
            },
        )
    };
    let base = SimVfs::new();
    let want = {
        let db = open(&base).unwrap();
        churn(&db, 30);
        dump(&db)
    };
    let probe = base.crash_image_strict();
    let db = open(&probe).unwrap();
    probe.reset_op_count();
    assert!(db.reclaim().unwrap().retired > 10);
    let ops = probe.op_count();
    drop(db);
    for k in 0..ops {
        let img = base.crash_image_strict();
        let db = open(&img).unwrap();
        img.reset_op_count();
        img.set_fault(Fault::PowerCutAt(k));
        let _ = db.reclaim();
        drop(db);
        for seed in 0..2 {
            let img2 = img.crash_image(seed + k);
            let db =
                open(&img2).unwrap_or_else(|e| panic!("reopen after a cut at reclaim op {k}: {e}"));
            assert_eq!(dump(&db), want, "cut at reclaim op {k}");
            let c = db.check().unwrap();
            assert!(c.is_ok(), "cut at reclaim op {k}: {:?}", c.problems);
            db.reclaim().unwrap();
            assert_eq!(dump(&db), want);
        }
    }
}

#[test]
fn a_damaged_shared_tombstone_is_reported_by_check() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    churn(&db, 100);
    assert!(db.reclaim().unwrap().retired > 50);
    assert!(db.check().unwrap().is_ok());
    // Every retired record is a hard link to one tombstone: damage one byte of it.
    let mut tomb = None;
    for sub in std::fs::read_dir(dir.path().join("log")).unwrap().flatten() {
        for f in std::fs::read_dir(sub.path()).unwrap().flatten() {
            if std::fs::read(f.path()).unwrap().starts_with(b"SOPRTRD\x02") {
                tomb = Some(f.path());
            }
        }
    }
    let tomb = tomb.expect("a version-2 tombstone");
    let mut bytes = std::fs::read(&tomb).unwrap();
    bytes[30] ^= 0x40;
    std::fs::write(&tomb, &bytes).unwrap();
    let c = db.check().unwrap();
    assert!(
        c.problems.iter().any(|p| p.contains("damaged tombstone")),
        "{:?}",
        c.problems
    );
}
