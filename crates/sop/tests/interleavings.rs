//! Interleavings that need two handles on one folder (a shared folder only; the
//! interleavings every backend passes are in the conformance suite:
//! `tests/conformance.rs`).

use sop::{Database, DbOptions, Error, StoreOptions, Transaction, TxMode};

fn opts() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        ..Default::default()
    }
}

fn commit_one(db: &Database, f: impl FnOnce(&Transaction)) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    f(&tx);
    tx.commit().unwrap();
}

/// A reader's snapshot keeps working when recovery collects a dead process's
/// big-value files: a file that a committed version referenced may still be needed
/// by a snapshot, even after a later commit replaced the value.
#[test]
fn snapshot_survives_recovery_of_a_dead_writers_big_values() {
    use sop::ValuePlacement;
    let dir = tempfile::tempdir().unwrap();
    let o = StoreOptions {
        slot_length: 8,
        values: ValuePlacement::Big,
        ..Default::default()
    };
    let a = Database::open(dir.path(), opts()).unwrap();
    commit_one(&a, |t| {
        let s = t.create_store::<u64, Vec<u8>>("s", o).unwrap();
        s.add(&1, &vec![1u8; 1000]).unwrap();
    });
    let b = Database::open(dir.path(), opts()).unwrap();
    let reader = b.begin(TxMode::NoCheck).unwrap();
    // A replaces the value, then dies (its process lock is released).
    commit_one(&a, |t| {
        assert!(t
            .open_store::<u64, Vec<u8>>("s")
            .unwrap()
            .update(&1, &vec![2u8; 1000])
            .unwrap());
    });
    drop(a);
    // A closed cleanly (its lock file is gone), so recovery finds nobody dead; A's
    // own garbage collection already removed the replaced file.
    let report = b.recover().unwrap();
    assert_eq!(report.dead_processes, 0);
    let s = reader.open_store::<u64, Vec<u8>>("s").unwrap();
    match s.get(&1) {
        Ok(v) => assert_eq!(
            v,
            Some(vec![1u8; 1000]),
            "the reader's snapshot has the old value"
        ),
        Err(Error::SnapshotTooOld(_)) => {}
        Err(e) => {
            panic!("a snapshot read failed after recovery collected a dead writer's files: {e}")
        }
    }
    // The newest value is intact.
    let tx = b.begin(TxMode::NoCheck).unwrap();
    assert_eq!(
        tx.open_store::<u64, Vec<u8>>("s").unwrap().get(&1).unwrap(),
        Some(vec![2u8; 1000])
    );
}
