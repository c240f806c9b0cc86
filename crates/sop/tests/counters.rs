//! `Database::counters` (commits, conflicts, merges, cache hits and misses)
//! and the progress of `check`, `compact` and `reclaim` (`sop::Progress`).

use sop::{CompactOptions, Database, DbOptions, Error, Progress, StoreOptions, TxMode};

fn opts() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        ..Default::default()
    }
}

#[test]
fn counters_count_commits_merges_conflicts_and_cache_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(db.counters(), sop::EngineCounters::default());
    assert_eq!(db.counters().node_cache_hit_rate(), None);
    let small = StoreOptions {
        slot_length: 8,
        ..Default::default()
    };
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.create_store::<u64, u64>("n", small).unwrap();
    for i in 0..100u64 {
        s.add(&i, &i).unwrap();
    }
    tx.commit().unwrap();
    assert_eq!(db.counters().commits, 1);
    // A read-only transaction is not a commit.
    let tx = db.begin(TxMode::ForReading).unwrap();
    assert_eq!(
        tx.open_store::<u64, u64>("n").unwrap().get(&5).unwrap(),
        Some(5)
    );
    tx.commit().unwrap();
    let c = db.counters();
    assert_eq!(c.commits, 1);
    assert!(c.node_cache_hits > 0, "{c:?}");
    // Two writers of different keys in one leaf: the second merges.
    let (t1, t2) = (
        db.begin(TxMode::ForWriting).unwrap(),
        db.begin(TxMode::ForWriting).unwrap(),
    );
    t1.open_store::<u64, u64>("n")
        .unwrap()
        .upsert(&1, &10)
        .unwrap();
    t2.open_store::<u64, u64>("n")
        .unwrap()
        .upsert(&2, &20)
        .unwrap();
    t1.commit().unwrap();
    t2.commit().unwrap();
    let c = db.counters();
    assert_eq!(
        (c.commits, c.merges, c.merged, c.conflicts),
        (3, 1, 1, 0),
        "{c:?}"
    );
    // Two writers that read the same key and write it: the second conflicts.
    let (t1, t2) = (
        db.begin(TxMode::ForWriting).unwrap(),
        db.begin(TxMode::ForWriting).unwrap(),
    );
    for (t, v) in [(&t1, 100), (&t2, 200)] {
        let s = t.open_store::<u64, u64>("n").unwrap();
        let old = s.get(&3).unwrap().unwrap();
        s.upsert(&3, &(old + v)).unwrap();
    }
    t1.commit().unwrap();
    assert!(matches!(t2.commit(), Err(Error::Conflict(_))));
    let c = db.counters();
    assert_eq!(
        (c.commits, c.merges, c.merged, c.conflicts),
        (4, 2, 1, 1),
        "{c:?}"
    );
    // A second handle of the folder counts its own reads from storage.
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    let tx = db.begin(TxMode::NoCheck).unwrap();
    tx.open_store::<u64, u64>("n").unwrap().get(&50).unwrap();
    let c = db.counters();
    assert!(c.node_cache_misses > 0 && c.commits == 0, "{c:?}");
    let r = c.node_cache_hit_rate().unwrap();
    assert!((0.0..1.0).contains(&r), "{r}");
}

#[test]
fn check_compact_and_reclaim_report_progress() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    for name in ["a", "b"] {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx
            .create_store::<u64, u64>(
                name,
                StoreOptions {
                    slot_length: 8,
                    ..Default::default()
                },
            )
            .unwrap();
        for i in 0..250u64 {
            s.add(&i, &i).unwrap();
        }
        tx.commit().unwrap();
    }
    let p = Progress::new();
    assert!(db.check_with_progress(&p).unwrap().is_ok());
    assert_eq!((p.done(), p.total()), (500, 500));
    // Rewrite most of "a", so that old records are mostly dead: compaction
    // plans moves and counts them done.
    for round in 0..3u64 {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx.open_store::<u64, u64>("a").unwrap();
        for i in 0..240u64 {
            s.upsert(&i, &(i + round)).unwrap();
        }
        tx.commit().unwrap();
    }
    let p = Progress::new();
    let r = db
        .compact_with_progress(
            &CompactOptions {
                min_dead_fraction: 0.3,
                ..Default::default()
            },
            &p,
        )
        .unwrap();
    assert_eq!(p.done(), p.total(), "{r:?}");
    assert!(p.total() > 0, "compaction moved something: {r:?}");
    // Reclaim: a step per store (the catalog's own counts too) and one for
    // retiring; more rewrites leave records to retire.
    for round in 3..5u64 {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx.open_store::<u64, u64>("b").unwrap();
        for i in 0..250u64 {
            s.upsert(&i, &(i + round)).unwrap();
        }
        tx.commit().unwrap();
    }
    let p = Progress::new();
    let r = db.reclaim_with_progress(&p).unwrap();
    assert!(r.retired > 0, "{r:?}");
    assert_eq!(p.done(), p.total(), "{r:?}");
    assert!(
        p.total() >= 3,
        "two stores and the retiring step: {}",
        p.total()
    );
}
