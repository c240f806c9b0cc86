//! Deterministic forced interleavings, in one thread: several transactions are
//! open at once and stepped by hand (begin T1, begin T2, op, op, commit T2,
//! commit T1). Each test is one hazard of the commit protocol.

use super::Backend;
use sop::{Database, DbOptions, Error, StoreOptions, Transaction, TxMode};

fn opts(b: &dyn Backend) -> DbOptions {
    b.options(DbOptions {
        recovery_interval: None,
        ..Default::default()
    })
}

fn slots(n: usize) -> StoreOptions {
    StoreOptions {
        slot_length: n,
        ..Default::default()
    }
}

fn new_db(b: &dyn Backend) -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    b.fresh_database();
    let db = Database::open(dir.path(), opts(b)).unwrap();
    (dir, db)
}

/// Create store `name` (u64 -> u64) holding `items`, in a committed transaction.
fn setup(db: &Database, name: &str, o: StoreOptions, items: impl IntoIterator<Item = (u64, u64)>) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.create_store::<u64, u64>(name, o).unwrap();
    for (k, v) in items {
        assert!(s.add(&k, &v).unwrap());
    }
    tx.commit().unwrap();
}

fn w(db: &Database) -> Transaction {
    db.begin(TxMode::ForWriting).unwrap()
}

fn commit_one(db: &Database, f: impl FnOnce(&Transaction)) {
    let tx = w(db);
    f(&tx);
    tx.commit().unwrap();
}

fn all(db: &Database, name: &str) -> Vec<(u64, u64)> {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s = tx.open_store::<u64, u64>(name).unwrap();
    let items: Vec<(u64, u64)> = s.iter().unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(
        s.count().unwrap(),
        items.len() as u64,
        "count() disagrees with a full scan"
    );
    items
}

fn get(db: &Database, name: &str, k: u64) -> Option<u64> {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s = tx.open_store::<u64, u64>(name).unwrap();
    s.get(&k).unwrap()
}

#[track_caller]
fn assert_conflict(r: sop::Result<()>, what: &str) {
    match r {
        Err(Error::Conflict(_)) => {}
        other => panic!("{what}: expected Error::Conflict, got {other:?}"),
    }
}

/// Store layouts to run a test on: everything in one leaf, and a deep tree of
/// small nodes (so the keys involved sit in different leaves).
const LAYOUTS: [usize; 2] = [1000, 4];

// ---- two writers, same key ----------------------------------------------------

pub fn same_key_read_modify_write_never_loses_an_update(b: &dyn Backend) {
    for sl in LAYOUTS {
        let (_d, db) = new_db(b);
        setup(&db, "s", slots(sl), (0..200).map(|k| (k, 0)));
        let (t1, t2) = (w(&db), w(&db));
        let (s1, s2) = (
            t1.open_store::<u64, u64>("s").unwrap(),
            t2.open_store::<u64, u64>("s").unwrap(),
        );
        let v1 = s1.get(&77).unwrap().unwrap();
        let v2 = s2.get(&77).unwrap().unwrap();
        assert!(s1.update(&77, &(v1 + 1)).unwrap());
        assert!(s2.update(&77, &(v2 + 1)).unwrap());
        t2.commit().unwrap();
        assert_conflict(t1.commit(), "T1 read 77 before T2 incremented it");
        assert_eq!(get(&db, "s", 77), Some(1), "slot_length {sl}");
    }
}

pub fn same_key_blind_writes_apply_in_commit_order_and_keep_the_other_changes(b: &dyn Backend) {
    for sl in LAYOUTS {
        let (_d, db) = new_db(b);
        setup(&db, "s", slots(sl), (0..200).map(|k| (k, 0)));
        let (t1, t2) = (w(&db), w(&db));
        let (s1, s2) = (
            t1.open_store::<u64, u64>("s").unwrap(),
            t2.open_store::<u64, u64>("s").unwrap(),
        );
        assert!(s1.update(&77, &10).unwrap());
        assert!(s2.update(&77, &20).unwrap());
        // T2 also changes the neighbourhood, splitting T1's leaf.
        for k in 1000..1010 {
            assert!(s2.add(&k, &k).unwrap());
        }
        assert!(s2.update(&76, &76).unwrap());
        assert!(s2.update(&78, &78).unwrap());
        t2.commit().unwrap();
        match t1.commit() {
            // Re-applied on T2's state: T1 is serialized after T2.
            Ok(()) => assert_eq!(get(&db, "s", 77), Some(10), "slot_length {sl}"),
            Err(Error::Conflict(_)) => assert_eq!(get(&db, "s", 77), Some(20), "slot_length {sl}"),
            Err(e) => panic!("{e}"),
        }
        assert_eq!(
            get(&db, "s", 76),
            Some(76),
            "T1's commit clobbered T2's neighbour write"
        );
        assert_eq!(
            get(&db, "s", 78),
            Some(78),
            "T1's commit clobbered T2's neighbour write"
        );
        assert_eq!(all(&db, "s").len(), 210);
    }
}

pub fn same_key_added_twice_to_a_unique_store(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    setup(&db, "s", slots(4), (0..50).map(|k| (k * 2, 0)));
    let (t1, t2) = (w(&db), w(&db));
    let (s1, s2) = (
        t1.open_store::<u64, u64>("s").unwrap(),
        t2.open_store::<u64, u64>("s").unwrap(),
    );
    assert!(s1.add(&31, &1).unwrap());
    assert!(s2.add(&31, &2).unwrap());
    t2.commit().unwrap();
    assert_conflict(t1.commit(), "T1's add of 31 now finds an existing key");
    assert_eq!(get(&db, "s", 31), Some(2));
    assert_eq!(all(&db, "s").len(), 51);
}

pub fn update_of_a_key_removed_meanwhile_fails(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    setup(&db, "s", slots(4), (0..50).map(|k| (k, k)));
    let (t1, t2) = (w(&db), w(&db));
    let s1 = t1.open_store::<u64, u64>("s").unwrap();
    assert!(s1.update(&20, &999).unwrap());
    assert!(t2.open_store::<u64, u64>("s").unwrap().remove(&20).unwrap());
    t2.commit().unwrap();
    assert_conflict(t1.commit(), "T1 updated 20, which T2 removed");
    assert_eq!(get(&db, "s", 20), None, "a removed item came back");
    assert_eq!(all(&db, "s").len(), 49);
}

// ---- write skew and mutual writes ---------------------------------------------

pub fn write_skew_second_committer_fails(b: &dyn Backend) {
    for sl in LAYOUTS {
        let (_d, db) = new_db(b);
        setup(&db, "s", slots(sl), (0..100).map(|k| (k, 0)));
        let (x, y) = (5, 95);
        let (t1, t2) = (w(&db), w(&db));
        let (s1, s2) = (
            t1.open_store::<u64, u64>("s").unwrap(),
            t2.open_store::<u64, u64>("s").unwrap(),
        );
        let vx = s1.get(&x).unwrap().unwrap();
        let vy = s2.get(&y).unwrap().unwrap();
        assert!(s1.update(&y, &(vx + 1)).unwrap());
        assert!(s2.update(&x, &(vy + 1)).unwrap());
        t1.commit().unwrap();
        assert_conflict(t2.commit(), "write skew");
        assert_eq!(
            (get(&db, "s", x), get(&db, "s", y)),
            (Some(0), Some(1)),
            "slot_length {sl}"
        );
    }
}

pub fn mutual_read_modify_writes_exactly_one_commits(b: &dyn Backend) {
    for sl in LAYOUTS {
        for t2_first in [false, true] {
            let (_d, db) = new_db(b);
            setup(&db, "s", slots(sl), (0..100).map(|k| (k, 0)));
            let (a, b) = (3, 97);
            let (t1, t2) = (w(&db), w(&db));
            let (s1, s2) = (
                t1.open_store::<u64, u64>("s").unwrap(),
                t2.open_store::<u64, u64>("s").unwrap(),
            );
            for (s, keys, add) in [(&s1, [a, b], 1), (&s2, [b, a], 100)] {
                for k in keys {
                    let v = s.get(&k).unwrap().unwrap();
                    s.update(&k, &(v + add)).unwrap();
                }
            }
            let (r1, r2) = if t2_first {
                let r2 = t2.commit();
                (t1.commit(), r2)
            } else {
                let r1 = t1.commit();
                (r1, t2.commit())
            };
            let (first, second) = if t2_first { (r2, r1) } else { (r1, r2) };
            first.expect("the first committer commits: no livelock");
            assert_conflict(second, "mutual read-modify-write");
            let add = if t2_first { 100 } else { 1 };
            assert_eq!((get(&db, "s", a), get(&db, "s", b)), (Some(add), Some(add)));
        }
    }
}

pub fn mutual_blind_writes_are_atomic(b: &dyn Backend) {
    for sl in LAYOUTS {
        let (_d, db) = new_db(b);
        setup(&db, "s", slots(sl), (0..100).map(|k| (k, 0)));
        let (a, b) = (3, 97);
        let (t1, t2) = (w(&db), w(&db));
        let (s1, s2) = (
            t1.open_store::<u64, u64>("s").unwrap(),
            t2.open_store::<u64, u64>("s").unwrap(),
        );
        s1.update(&a, &1).unwrap();
        s2.update(&b, &2).unwrap();
        s1.update(&b, &1).unwrap();
        s2.update(&a, &2).unwrap();
        t2.commit().unwrap();
        let r1 = t1.commit();
        let got = (get(&db, "s", a).unwrap(), get(&db, "s", b).unwrap());
        match r1 {
            Ok(()) => assert_eq!(got, (1, 1), "T1 merged after T2 must win on both keys"),
            Err(Error::Conflict(_)) => assert_eq!(got, (2, 2)),
            Err(e) => panic!("{e}"),
        }
    }
}

// ---- merge replay over a changed range ----------------------------------------

/// Store of keys 0, 10, ..., 990; T1 scans `20..50` (seeing 20, 30, 40), then
/// `change` commits in T2, then T1 writes key 5000 (another leaf) and commits.
fn range_then(b: &dyn Backend, change: impl FnOnce(&Transaction), desc: bool) -> sop::Result<()> {
    let (_d, db) = new_db(b);
    setup(&db, "s", slots(4), (0..100).map(|k| (k * 10, k)));
    let t1 = w(&db);
    let s1 = t1.open_store::<u64, u64>("s").unwrap();
    let mut got: Vec<u64> = if desc {
        s1.range_desc(20..50)
            .unwrap()
            .map(|r| r.unwrap().0)
            .collect()
    } else {
        s1.range(20..50).unwrap().map(|r| r.unwrap().0).collect()
    };
    got.sort_unstable();
    assert_eq!(got, vec![20, 30, 40]);
    commit_one(&db, change);
    assert!(s1.add(&5000, &0).unwrap());
    let r = t1.commit();
    if r.is_ok() {
        assert_eq!(get(&db, "s", 5000), Some(0));
    } else {
        assert_eq!(get(&db, "s", 5000), None);
    }
    r
}

fn store(tx: &Transaction) -> sop::Store<'_, u64, u64> {
    tx.open_store::<u64, u64>("s").unwrap()
}

pub fn range_scan_then_insert_into_range_fails(b: &dyn Backend) {
    for desc in [false, true] {
        assert_conflict(
            range_then(b, |t| assert!(store(t).add(&35, &0).unwrap()), desc),
            "phantom insert in range",
        );
        assert_conflict(
            range_then(b, |t| assert!(store(t).add(&21, &0).unwrap()), desc),
            "insert at range start",
        );
        assert_conflict(
            range_then(b, |t| assert!(store(t).add(&49, &0).unwrap()), desc),
            "insert at range end",
        );
    }
}

pub fn range_scan_then_remove_or_update_in_range_fails(b: &dyn Backend) {
    for desc in [false, true] {
        assert_conflict(
            range_then(b, |t| assert!(store(t).remove(&30).unwrap()), desc),
            "remove in range",
        );
        assert_conflict(
            range_then(b, |t| assert!(store(t).update(&40, &7).unwrap()), desc),
            "update in range",
        );
    }
}

pub fn range_scan_then_change_far_outside_range_commits(b: &dyn Backend) {
    // The merge only fails when a result differs: changes far from the range
    // (even ones that restructure the tree) do not.
    for desc in [false, true] {
        range_then(
            b,
            |t| {
                let s = store(t);
                for k in 600..700 {
                    s.upsert(&k, &k).unwrap();
                }
            },
            desc,
        )
        .expect("changes outside the scanned range are not a conflict");
    }
}

pub fn absent_key_read_then_insert_fails(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    setup(&db, "s", slots(4), (0..100).map(|k| (k * 10, k)));
    let t1 = w(&db);
    let s1 = store(&t1);
    assert_eq!(s1.get(&35).unwrap(), None);
    commit_one(&db, |t| assert!(store(t).add(&35, &1).unwrap()));
    s1.add(&5000, &0).unwrap();
    assert_conflict(t1.commit(), "T1 saw 35 absent");
}

pub fn first_and_last_then_new_extreme_fails(b: &dyn Backend) {
    for low in [true, false] {
        let (_d, db) = new_db(b);
        setup(&db, "s", slots(4), (1..100).map(|k| (k * 10, k)));
        let t1 = w(&db);
        let s1 = store(&t1);
        let mut c = s1.cursor().unwrap();
        assert!(if low {
            c.first().unwrap()
        } else {
            c.last().unwrap()
        });
        let seen = c.key().unwrap().unwrap();
        s1.update(&500, &0).unwrap();
        commit_one(&db, |t| {
            assert!(store(t).add(&(if low { 1 } else { 5000 }), &1).unwrap())
        });
        assert_conflict(t1.commit(), &format!("T1 saw {seen} as the extreme"));
        assert_eq!(get(&db, "s", 500), Some(50));
    }
}

// ---- stores: creation race, drop racing a writer -------------------------------

pub fn store_create_race_one_fails(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    let (t1, t2) = (w(&db), w(&db));
    let s1 = t1.create_store::<u64, u64>("s", slots(8)).unwrap();
    let s2 = t2.create_store::<u64, u64>("s", slots(16)).unwrap();
    s1.add(&1, &1).unwrap();
    s2.add(&2, &2).unwrap();
    t2.commit().unwrap();
    assert_conflict(t1.commit(), "second creator of store s");
    let tx = db.begin(TxMode::ForReading).unwrap();
    assert_eq!(tx.list_stores().unwrap(), vec!["s"]);
    assert_eq!(tx.store_info("s").unwrap().info.options.slot_length, 16);
    assert_eq!(all(&db, "s"), vec![(2, 2)]);
}

pub fn store_open_or_create_race_loser_retries_into_the_winners_store(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    let (t1, t2) = (w(&db), w(&db));
    t1.open_or_create_store::<u64, u64>("s", slots(8))
        .unwrap()
        .add(&1, &1)
        .unwrap();
    t2.open_or_create_store::<u64, u64>("s", slots(8))
        .unwrap()
        .add(&2, &2)
        .unwrap();
    t1.commit().unwrap();
    assert_conflict(t2.commit(), "second creator");
    commit_one(&db, |t| {
        t.open_or_create_store::<u64, u64>("s", slots(8))
            .unwrap()
            .add(&2, &2)
            .unwrap();
    });
    assert_eq!(all(&db, "s"), vec![(1, 1), (2, 2)]);
}

pub fn creating_different_stores_concurrently_both_commit(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    let (t1, t2) = (w(&db), w(&db));
    t1.create_store::<u64, u64>("a", slots(8))
        .unwrap()
        .add(&1, &1)
        .unwrap();
    t2.create_store::<u64, u64>("b", slots(8))
        .unwrap()
        .add(&2, &2)
        .unwrap();
    t2.commit().unwrap();
    t1.commit().unwrap();
    assert_eq!(all(&db, "a"), vec![(1, 1)]);
    assert_eq!(all(&db, "b"), vec![(2, 2)]);
}

pub fn drop_racing_a_writer_writer_fails(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    setup(&db, "s", slots(4), (0..20).map(|k| (k, k)));
    let t1 = w(&db);
    store(&t1).add(&100, &100).unwrap();
    commit_one(&db, |t| t.drop_store("s").unwrap());
    assert_conflict(t1.commit(), "T1 wrote into a store T2 dropped");
    let tx = db.begin(TxMode::ForReading).unwrap();
    assert!(tx.list_stores().unwrap().is_empty());
    assert!(matches!(
        tx.open_store::<u64, u64>("s"),
        Err(Error::StoreNotFound(_))
    ));
}

pub fn drop_and_recreate_racing_a_writer(b: &dyn Backend) {
    for t1_reads in [false, true] {
        let (_d, db) = new_db(b);
        setup(&db, "s", slots(4), (0..20).map(|k| (k, k)));
        let t1 = w(&db);
        if t1_reads {
            assert_eq!(store(&t1).get(&3).unwrap(), Some(3));
        }
        store(&t1).add(&100, &100).unwrap();
        commit_one(&db, |t| {
            t.drop_store("s").unwrap();
            t.create_store::<u64, u64>("s", slots(4))
                .unwrap()
                .add(&7, &700)
                .unwrap();
        });
        let r = t1.commit();
        if t1_reads {
            assert!(
                matches!(r, Err(Error::Conflict(_))),
                "T1 read key 3 of the dropped store: {r:?}"
            );
        }
        match r {
            // A blind add replays identically on the new store "s": serialized after T2.
            Ok(()) => assert_eq!(all(&db, "s"), vec![(7, 700), (100, 100)]),
            Err(Error::Conflict(_)) => assert_eq!(all(&db, "s"), vec![(7, 700)]),
            Err(e) => panic!("{e}"),
        }
    }
}

pub fn reader_of_a_dropped_store_fails(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    setup(&db, "s", slots(4), (0..20).map(|k| (k, k)));
    let r = db.begin(TxMode::ForReading).unwrap();
    assert_eq!(store(&r).get(&3).unwrap(), Some(3));
    commit_one(&db, |t| t.drop_store("s").unwrap());
    assert_eq!(
        store(&r).get(&4).unwrap(),
        Some(4),
        "the reader keeps its snapshot"
    );
    assert_conflict(r.commit(), "the store the reader read was dropped");
}

pub fn writer_then_dropper_begun_earlier_leaves_no_resurrected_items(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    setup(&db, "s", slots(4), (0..20).map(|k| (k, k)));
    let t2 = w(&db);
    commit_one(&db, |t| {
        store(t).add(&100, &100).unwrap();
    });
    t2.drop_store("s").unwrap();
    // Dropping without reading is serializable after the writer; a conflict is fine too.
    match t2.commit() {
        Ok(()) => {
            let tx = db.begin(TxMode::ForReading).unwrap();
            assert!(matches!(
                tx.open_store::<u64, u64>("s"),
                Err(Error::StoreNotFound(_))
            ));
            drop(tx);
            commit_one(&db, |t| {
                t.create_store::<u64, u64>("s", slots(4)).unwrap();
            });
            assert_eq!(all(&db, "s"), vec![], "a re-created store is empty");
        }
        Err(Error::Conflict(_)) => assert_eq!(all(&db, "s").len(), 21),
        Err(e) => panic!("{e}"),
    }
}

// ---- counts -------------------------------------------------------------------

pub fn count_read_then_concurrent_insert_fails(b: &dyn Backend) {
    for remove in [false, true] {
        let (_d, db) = new_db(b);
        setup(&db, "s", slots(4), (0..100).map(|k| (k, k)));
        let t1 = w(&db);
        let s1 = store(&t1);
        assert_eq!(s1.count().unwrap(), 100);
        commit_one(&db, |t| {
            if remove {
                assert!(store(t).remove(&3).unwrap());
            } else {
                assert!(store(t).add(&1000, &0).unwrap());
            }
        });
        s1.add(&5000, &0).unwrap();
        assert_conflict(t1.commit(), "T1 read the count");
        assert_eq!(get(&db, "s", 5000), None);

        let r = db.begin(TxMode::ForReading).unwrap();
        let n = store(&r).count().unwrap();
        commit_one(&db, |t| {
            assert!(store(t).add(&2000, &0).unwrap());
        });
        assert_eq!(
            store(&r).count().unwrap(),
            n,
            "the reader's count is its snapshot's"
        );
        assert_conflict(r.commit(), "reader of the count");
    }
}

pub fn count_read_then_concurrent_value_update_commits(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    setup(&db, "s", slots(4), (0..100).map(|k| (k, k)));
    let t1 = w(&db);
    let s1 = store(&t1);
    assert_eq!(s1.count().unwrap(), 100);
    commit_one(&db, |t| assert!(store(t).update(&3, &33).unwrap()));
    s1.add(&5000, &0).unwrap();
    assert_eq!(s1.count().unwrap(), 101);
    t1.commit().expect("an update does not change the count");
    assert_eq!(all(&db, "s").len(), 101);
    assert_eq!(get(&db, "s", 3), Some(33));
}

// ---- reader snapshots ---------------------------------------------------------

pub fn readers_keep_their_snapshot_across_splits_and_merges(b: &dyn Backend) {
    for mode in [TxMode::NoCheck, TxMode::ForReading] {
        let (_d, db) = new_db(b);
        let old: Vec<(u64, u64)> = (0..12).map(|k| (k * 100, k)).collect();
        setup(&db, "s", slots(4), old.clone());
        let r = db.begin(mode).unwrap();
        // Opened only after the commit below: the snapshot is the one at begin.
        let late = db.begin(mode).unwrap();
        let s = store(&r);
        let mut c = s.cursor().unwrap();
        let mut seen = vec![];
        for _ in 0..3 {
            assert!(c.next().unwrap());
            seen.push(c.item().unwrap().unwrap());
        }
        // Splits (500 inserts into nodes of 4), removals and an update.
        commit_one(&db, |t| {
            let s = store(t);
            for k in 0..500 {
                if k % 100 != 0 {
                    assert!(s.add(&k, &0).unwrap());
                }
            }
            assert!(s.remove(&200).unwrap());
            assert!(s.remove(&900).unwrap());
            assert!(s.update(&500, &555).unwrap());
        });
        // Merges: remove most of the new items again.
        commit_one(&db, |t| {
            let s = store(t);
            for k in 0..450 {
                if k % 100 != 0 {
                    assert!(s.remove(&k).unwrap());
                }
            }
        });
        while c.next().unwrap() {
            seen.push(c.item().unwrap().unwrap());
        }
        assert_eq!(seen, old, "{mode:?}: a cursor opened before the commits");
        for rs in [store(&r), store(&late)] {
            let scan: Vec<(u64, u64)> = rs.iter().unwrap().map(|x| x.unwrap()).collect();
            assert_eq!(scan, old, "{mode:?}: scan");
            let mut desc: Vec<(u64, u64)> =
                rs.range_desc(..).unwrap().map(|x| x.unwrap()).collect();
            desc.reverse();
            assert_eq!(desc, old, "{mode:?}: descending scan");
            assert_eq!(
                rs.get(&200).unwrap(),
                Some(2),
                "{mode:?}: removed key still in the snapshot"
            );
            assert_eq!(
                rs.get(&500).unwrap(),
                Some(5),
                "{mode:?}: old value in the snapshot"
            );
            assert_eq!(
                rs.get(&460).unwrap(),
                None,
                "{mode:?}: new key not in the snapshot"
            );
            assert_eq!(rs.count().unwrap(), 12);
        }
        let (rr, rl) = (r.commit(), late.commit());
        if mode == TxMode::NoCheck {
            rr.unwrap();
            rl.unwrap();
        } else {
            assert_conflict(rr, "ForReading reader whose items changed");
            assert_conflict(rl, "ForReading reader whose items changed");
        }
        // The new state, for a new transaction.
        let now = all(&db, "s");
        assert_eq!(now.len(), 12 - 2 + 50); // 450..500 stay
        assert_eq!(get(&db, "s", 500), Some(555));
    }
}

pub fn no_check_reader_still_reads_a_store_dropped_after_it_began(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    setup(&db, "s", slots(4), (0..50).map(|k| (k, k)));
    let r = db.begin(TxMode::NoCheck).unwrap();
    commit_one(&db, |t| t.drop_store("s").unwrap());
    commit_one(&db, |t| {
        t.create_store::<u64, u64>("s", slots(4))
            .unwrap()
            .add(&1, &1000)
            .unwrap();
    });
    let s = store(&r);
    assert_eq!(
        s.iter().unwrap().map(|x| x.unwrap()).collect::<Vec<_>>(),
        (0..50).map(|k| (k, k)).collect::<Vec<_>>()
    );
    assert_eq!(s.get(&1).unwrap(), Some(1));
    r.commit().unwrap();
    assert_eq!(all(&db, "s"), vec![(1, 1000)]);
}

// ---- a stale writer -----------------------------------------------------------

pub fn stale_writer_of_an_untouched_key_commits_after_50_commits(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    // Even keys 0..200; the others add odd keys and update even keys around 100.
    setup(&db, "s", slots(4), (0..100).map(|k| (k * 2, 0)));
    let t1 = w(&db);
    let s1 = store(&t1);
    assert_eq!(s1.get(&100).unwrap(), Some(0));
    for i in 0..50u64 {
        commit_one(&db, |t| {
            let s = store(t);
            assert!(s.add(&(i * 2 + 51), &i).unwrap()); // odd keys 51..149, around 100
            let e = if i < 25 {
                98 - i * 2
            } else {
                102 + (i - 25) * 2
            }; // never 100
            assert!(s.update(&e, &(i + 1)).unwrap());
        });
    }
    // T1 still reads its snapshot, then writes the untouched key and a new one.
    assert_eq!(s1.get(&1).unwrap(), None, "never added");
    assert!(s1.update(&100, &4242).unwrap());
    assert!(s1.add(&100_000, &1).unwrap());
    t1.commit()
        .expect("the stale writer touched nothing the others changed");
    let now = all(&db, "s");
    assert_eq!(now.len(), 151);
    for (k, v) in now {
        let want = match k {
            100 => 4242,
            100_000 => 1,
            _ if k % 2 == 1 => (k - 51) / 2,
            50..=98 => (98 - k) / 2 + 1,
            102..=150 => (k - 102) / 2 + 26,
            _ => 0,
        };
        assert_eq!(v, want, "key {k}");
    }
}

pub fn stale_writer_that_read_a_changed_key_fails(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    setup(&db, "s", slots(4), (0..100).map(|k| (k * 2, 0)));
    let t1 = w(&db);
    let s1 = store(&t1);
    assert_eq!(s1.get(&100).unwrap(), Some(0));
    for i in 0..50u64 {
        commit_one(&db, |t| assert!(store(t).add(&(i * 2 + 1), &i).unwrap()));
    }
    commit_one(&db, |t| assert!(store(t).update(&100, &1).unwrap()));
    for i in 50..60u64 {
        commit_one(&db, |t| assert!(store(t).add(&(i * 2 + 1), &i).unwrap()));
    }
    assert!(s1.update(&150, &2).unwrap());
    assert_conflict(t1.commit(), "T1 read 100, changed 51 commits later");
    assert_eq!(get(&db, "s", 150), Some(0));
}

// ---- more store-level races ---------------------------------------------------

pub fn absent_store_then_created_fails(b: &dyn Backend) {
    for mode in [TxMode::ForWriting, TxMode::ForReading] {
        let (_d, db) = new_db(b);
        setup(&db, "other", slots(4), [(1, 1)]);
        let t1 = db.begin(mode).unwrap();
        assert!(matches!(
            t1.open_store::<u64, u64>("x"),
            Err(Error::StoreNotFound(_))
        ));
        if mode == TxMode::ForWriting {
            t1.open_store::<u64, u64>("other")
                .unwrap()
                .add(&2, &2)
                .unwrap();
        }
        commit_one(&db, |t| {
            t.create_store::<u64, u64>("x", slots(4)).unwrap();
        });
        assert_conflict(t1.commit(), "T1 saw store x absent");
        assert_eq!(get(&db, "other", 2), None);
    }
}

pub fn two_droppers_one_fails(b: &dyn Backend) {
    let (_d, db) = new_db(b);
    setup(&db, "s", slots(4), (0..20).map(|k| (k, k)));
    let (t1, t2) = (w(&db), w(&db));
    t1.drop_store("s").unwrap();
    t2.drop_store("s").unwrap();
    t2.commit().unwrap();
    assert_conflict(t1.commit(), "second dropper");
    assert!(db
        .begin(TxMode::NoCheck)
        .unwrap()
        .list_stores()
        .unwrap()
        .is_empty());
}

/// A merged commit (T1 after T2, both adding to the same leaves) keeps every value
/// right in each value placement; for big values, the files written by T1's
/// first attempt (replaced by the replay) and by T3's failed attempt are removed.
pub fn merged_commits_keep_values_in_every_placement(b: &dyn Backend) {
    use sop::ValuePlacement;
    let val = |k: u64, who: u8| vec![who; 50 + k as usize];
    for placement in [
        ValuePlacement::Auto,
        ValuePlacement::Inline,
        ValuePlacement::Separate,
        ValuePlacement::Big,
    ] {
        let (dir, db) = new_db(b);
        let o = StoreOptions {
            slot_length: 8,
            values: placement,
            ..Default::default()
        };
        commit_one(&db, |t| {
            let s = t.create_store::<u64, Vec<u8>>("s", o).unwrap();
            for k in 0..20 {
                s.add(&(k * 10), &val(k * 10, 0)).unwrap();
            }
        });
        let (t1, t2, t3) = (w(&db), w(&db), w(&db));
        fn open(t: &Transaction) -> sop::Store<'_, u64, Vec<u8>> {
            t.open_store("s").unwrap()
        }
        let (s1, s2, s3) = (open(&t1), open(&t2), open(&t3));
        for k in 0..20 {
            assert!(s1.add(&(k * 10 + 1), &val(k * 10 + 1, 1)).unwrap());
            assert!(s2.add(&(k * 10 + 2), &val(k * 10 + 2, 2)).unwrap());
        }
        assert!(s3.add(&3, &val(3, 3)).unwrap());
        assert!(s3.add(&92, &val(92, 3)).unwrap()); // T2 adds 92 too
        assert_eq!(
            s1.get(&11).unwrap(),
            Some(val(11, 1)),
            "T1 reads its own pending value"
        );
        assert_eq!(s1.get(&10).unwrap(), Some(val(10, 0)));
        t2.commit().unwrap();
        t1.commit().expect("disjoint adds merge");
        assert_conflict(t3.commit(), "T3 added 92, which T2 added first");
        let tx = db.begin(TxMode::NoCheck).unwrap();
        let s = open(&tx);
        let items: Vec<(u64, Vec<u8>)> = s.iter().unwrap().map(|r| r.unwrap()).collect();
        assert_eq!(items.len(), 60, "{placement:?}");
        for (k, v) in &items {
            assert_eq!(*v, val(*k, (*k % 10) as u8), "{placement:?}: key {k}");
        }
        if placement == ValuePlacement::Big {
            let sid = s.info().unwrap().id;
            let files = b.count_blobs(dir.path(), sid);
            assert_eq!(
                files, 60,
                "one blob file per item: no leftovers of replaced or failed attempts"
            );
        }
    }
}

/// A transaction too large to keep its op log cannot be merged: when something it
/// used changed it must fail, never commit a stale result; when nothing it used
/// changed it commits.
pub fn oversized_transaction_fails_instead_of_merging(b: &dyn Backend) {
    let dir = tempfile::tempdir().unwrap();
    b.fresh_database();
    // The op log is dropped beyond a quarter of the budget (16 KiB): 20 values of
    // 1,000 bytes pass it, while the staged bytes stay within the budget.
    let db = Database::open(
        dir.path(),
        DbOptions {
            txn_memory_budget: 64 << 10,
            ..opts(b)
        },
    )
    .unwrap();
    setup(&db, "s", slots(8), (0..100).map(|k| (k, 0)));
    setup(&db, "other", slots(8), [(1, 1)]);
    let tx = w(&db);
    tx.create_store::<u64, Vec<u8>>("big", slots(8)).unwrap();
    tx.commit().unwrap();
    let big_count = || {
        let tx = db.begin(TxMode::NoCheck).unwrap();
        let n = tx
            .open_store::<u64, Vec<u8>>("big")
            .unwrap()
            .count()
            .unwrap();
        n
    };
    let large = |t: &Transaction| {
        let big = t.open_store::<u64, Vec<u8>>("big").unwrap();
        for k in 0..20u64 {
            assert!(big.add(&k, &vec![k as u8; 1000]).unwrap());
        }
    };
    for touch_read_key in [true, false] {
        let t1 = w(&db);
        let s1 = store(&t1);
        let v = s1.get(&50).unwrap().unwrap();
        large(&t1);
        assert!(s1.update(&50, &(v + 1)).unwrap());
        commit_one(&db, |t| {
            let k = if touch_read_key { 50 } else { 51 };
            let s = store(t);
            let old = s.get(&k).unwrap().unwrap();
            assert!(s.update(&k, &(old + 100)).unwrap());
        });
        assert_conflict(
            t1.commit(),
            "an unmergeable transaction whose nodes changed",
        );
        assert_eq!(big_count(), 0);
    }
    assert_eq!(get(&db, "s", 50), Some(100));
    // Nothing it used changed (a commit to another store): it commits.
    let t1 = w(&db);
    let s1 = store(&t1);
    let v = s1.get(&50).unwrap().unwrap();
    large(&t1);
    assert!(s1.update(&50, &(v + 1)).unwrap());
    commit_one(&db, |t| {
        assert!(t
            .open_store::<u64, u64>("other")
            .unwrap()
            .update(&1, &2)
            .unwrap())
    });
    t1.commit()
        .expect("nothing the large transaction used changed");
    assert_eq!(get(&db, "s", 50), Some(101));
    assert_eq!(big_count(), 20);
}

/// T1 walks a range with a cursor, removing and rewriting items through it; the
/// replay of those cursor steps on a changed tree fails if the walk would differ,
/// and otherwise applies the same removals and rewrites on top of the other commit.
pub fn cursor_writes_replayed_over_a_changed_tree(b: &dyn Backend) {
    for (insert, conflict) in [
        (35, true),
        (45, true),
        (605, false),
        (15, false),
        (55, false),
    ] {
        let (_d, db) = new_db(b);
        setup(&db, "s", slots(4), (0..100).map(|k| (k * 10, k)));
        let t1 = w(&db);
        let s1 = store(&t1);
        let mut c = s1.cursor().unwrap();
        assert!(c.seek_ge(&20).unwrap());
        while c.key().unwrap().unwrap() < 50 {
            let k = c.key().unwrap().unwrap();
            if k == 30 {
                c.update_current_value(&333).unwrap();
            } else {
                c.remove_current().unwrap();
            }
            assert!(c.next().unwrap());
        }
        commit_one(&db, |t| assert!(store(t).add(&insert, &7).unwrap()));
        let r = t1.commit();
        let mut want: Vec<(u64, u64)> = (0..100).map(|k| (k * 10, k)).collect();
        want.push((insert, 7));
        if conflict {
            assert_conflict(r, "T2 inserted into the range T1's cursor walked");
        } else {
            r.unwrap_or_else(|e| panic!("insert of {insert} outside the walk: {e}"));
            want.retain(|(k, _)| *k != 20 && *k != 40);
            want.iter_mut()
                .filter(|(k, _)| *k == 30)
                .for_each(|kv| kv.1 = 333);
        }
        want.sort_unstable();
        assert_eq!(all(&db, "s"), want, "insert {insert}");
    }
}

// ---- an error after the commit point ------------------------------------------

/// An I/O error after the commit record is linked is reported as
/// `CommitOutcomeUnknown`; whether or not the commit then survives, a reader must
/// never find it half there (for big values: the item present, its file deleted).
/// Each op of the commit fails in turn.
pub fn error_after_the_commit_point_never_leaves_a_dangling_value(b: &dyn Backend) {
    use crate::sim::{Fault, SimVfs};
    use sop::ValuePlacement;
    use std::sync::Arc;
    let mut unknown = 0;
    for n in 0..40 {
        let vfs = SimVfs::new();
        b.fresh_database();
        let o = DbOptions {
            vfs: Some(Arc::new(vfs.clone())),
            ..opts(b)
        };
        let db = Database::open("/db", o.clone()).unwrap();
        let so = StoreOptions {
            slot_length: 8,
            values: ValuePlacement::Big,
            ..Default::default()
        };
        commit_one(&db, |t| {
            t.create_store::<u64, Vec<u8>>("s", so).unwrap();
        });
        let tx = w(&db);
        tx.open_store::<u64, Vec<u8>>("s")
            .unwrap()
            .add(&1, &vec![7u8; 3000])
            .unwrap();
        vfs.reset_op_count();
        vfs.set_fault(Fault::IoErrorAt(n));
        let r = tx.commit();
        vfs.set_fault(Fault::None);
        let what = match &r {
            Ok(()) => "commit returned Ok".to_string(),
            Err(e) => e.to_string(),
        };
        if matches!(r, Err(Error::CommitOutcomeUnknown { .. })) {
            unknown += 1;
        }
        drop(db);
        let db = Database::open("/db", o).unwrap();
        let tx = db.begin(TxMode::NoCheck).unwrap();
        match tx.open_store::<u64, Vec<u8>>("s").unwrap().get(&1) {
            Ok(None) => assert!(
                r.is_err(),
                "op {n}: the commit returned Ok but its item is gone"
            ),
            Ok(Some(v)) => assert_eq!(v, vec![7u8; 3000]),
            Err(err) => panic!("op {n} failed ({what}); reading the item then fails: {err}"),
        }
    }
    assert!(
        unknown > 0 || b.settles_lost_replies(),
        "no op after the commit point was exercised"
    );
}
