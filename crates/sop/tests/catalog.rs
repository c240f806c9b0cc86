//! Catalog reads (which stores exist, their info and counts) are reads like any
//! other: a transaction that decided something from them must fail to commit if
//! they changed, and a merge must not lose them. Threads on two `Database`
//! handles of one folder (as two processes).

use sop::{Database, DbOptions, StoreOptions, TxMode};
use std::sync::Barrier;
use std::thread;

fn opts() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        ..Default::default()
    }
}

/// T1 lists the stores, sees no "b", and writes key 7 in "a"; T2 reads key 7 in
/// "a" (absent) and creates "b". Serially one of them sees the other's write, so
/// at most one may commit. T2 commits first (the barrier orders the commits).
#[test]
fn list_stores_write_skew_at_most_one_commits() {
    let dir = tempfile::tempdir().unwrap();
    let setup = Database::open(dir.path(), opts()).unwrap();
    let tx = setup.begin(TxMode::ForWriting).unwrap();
    tx.create_store::<u64, u64>("a", StoreOptions::default())
        .unwrap();
    tx.commit().unwrap();
    drop(setup);
    let mut both = 0;
    for round in 0..20u64 {
        let h1 = Database::open(dir.path(), opts()).unwrap();
        let h2 = Database::open(dir.path(), opts()).unwrap();
        let b = format!("b{round}");
        let read = Barrier::new(2);
        let t2_done = Barrier::new(2);
        let (r1, r2) = thread::scope(|s| {
            let t1 = s.spawn(|| {
                let tx = h1.begin(TxMode::ForWriting).unwrap();
                let has_b = tx.list_stores().unwrap().contains(&b);
                read.wait();
                if !has_b {
                    let a = tx.open_store::<u64, u64>("a").unwrap();
                    a.upsert(&(7 + 100 * round), &1).unwrap();
                }
                t2_done.wait();
                tx.commit()
            });
            let t2 = s.spawn(|| {
                let tx = h2.begin(TxMode::ForWriting).unwrap();
                let a = tx.open_store::<u64, u64>("a").unwrap();
                let has_7 = a.get(&(7 + 100 * round)).unwrap().is_some();
                read.wait();
                if !has_7 {
                    tx.create_store::<u64, u64>(&b, StoreOptions::default())
                        .unwrap();
                }
                let r = tx.commit();
                t2_done.wait();
                r
            });
            (t1.join().unwrap(), t2.join().unwrap())
        });
        assert!(r2.is_ok(), "T2 commits first: {r2:?}");
        match r1 {
            Ok(()) => both += 1,
            Err(e) => assert!(e.is_conflict(), "T1 failed with {e}"),
        }
    }
    assert_eq!(
        both, 0,
        "both committed in {both} of 20 rounds (write skew)"
    );
}

/// Listing the stores is no conflict with a writer of items: T1 lists the stores
/// and writes key 1 of "a", T2 writes key 2 of "a" (the same leaf) and commits
/// first; T1 is merged and commits. A writer that creates or drops a store does
/// conflict with it (tests/read_coverage.rs drives those).
#[test]
fn listing_stores_merges_with_item_writers() {
    let dir = tempfile::tempdir().unwrap();
    let h1 = Database::open(dir.path(), opts()).unwrap();
    let h2 = Database::open(dir.path(), opts()).unwrap();
    let tx = h1.begin(TxMode::ForWriting).unwrap();
    tx.create_store::<u64, u64>("a", StoreOptions::default())
        .unwrap();
    tx.commit().unwrap();
    let t1 = h1.begin(TxMode::ForWriting).unwrap();
    assert_eq!(t1.list_stores().unwrap(), ["a"]);
    t1.open_store::<u64, u64>("a").unwrap().add(&1, &1).unwrap();
    let t2 = h2.begin(TxMode::ForWriting).unwrap();
    t2.open_store::<u64, u64>("a").unwrap().add(&2, &2).unwrap();
    t2.commit().unwrap();
    t1.commit().unwrap();
    let t = h2.begin(TxMode::NoCheck).unwrap();
    assert_eq!(t.open_store::<u64, u64>("a").unwrap().count().unwrap(), 2);
}
