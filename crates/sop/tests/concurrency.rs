//! Real threads against real files: optimistic transactions under contention.
//!
//! Every test here asserts an outcome that a broken commit protocol (lost
//! update, write skew, torn tree, lost creation race) would violate.

use sop::{Database, DbOptions, Error, StoreOptions, Transaction, TxMode};
use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

fn opts() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        ..Default::default()
    }
}

fn slots(n: usize) -> StoreOptions {
    StoreOptions {
        slot_length: n,
        ..Default::default()
    }
}

/// Run `body` in a ForWriting transaction and commit it, retrying the whole
/// transaction on a conflict. Returns the body's result and the number of conflicts.
fn run_tx<T>(db: &Database, mut body: impl FnMut(&Transaction) -> sop::Result<T>) -> (T, usize) {
    let mut conflicts = 0;
    loop {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let out = body(&tx).unwrap_or_else(|e| panic!("transaction body failed: {e}"));
        match tx.commit() {
            Ok(()) => return (out, conflicts),
            Err(e) if e.is_conflict() => {
                conflicts += 1;
                assert!(
                    conflicts < 100_000,
                    "no progress after {conflicts} conflicts"
                );
            }
            Err(e) => panic!("commit failed with a non-conflict error: {e}"),
        }
    }
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

fn read_all(db: &Database, name: &str) -> Vec<(u64, u64)> {
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

#[test]
fn lost_update_single_counter() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    setup(&db, "c", slots(64), [(0, 0)]);
    let successes = AtomicU64::new(0);
    let conflicts = AtomicUsize::new(0);
    let start = Barrier::new(4);
    thread::scope(|sc| {
        for _ in 0..4 {
            sc.spawn(|| {
                start.wait();
                for _ in 0..50 {
                    let (_, c) = run_tx(&db, |tx| {
                        let s = tx.open_store::<u64, u64>("c")?;
                        let v = s.get(&0)?.expect("counter exists");
                        thread::yield_now(); // widen the read-to-commit window
                        assert!(s.update(&0, &(v + 1))?);
                        Ok(())
                    });
                    conflicts.fetch_add(c, Ordering::Relaxed);
                    successes.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let n = successes.load(Ordering::Relaxed);
    assert_eq!(n, 200);
    assert_eq!(
        get(&db, "c", 0),
        Some(n),
        "lost update ({} conflicts retried)",
        conflicts.load(Ordering::Relaxed)
    );
    // And the same after reopening from the files.
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(get(&db, "c", 0), Some(n));
    eprintln!(
        "lost_update_single_counter: {} conflicts retried",
        conflicts.load(Ordering::Relaxed)
    );
}

#[test]
fn hot_counters() {
    const KEYS: u64 = 10;
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    // Small nodes: the 10 counters span several leaves and internal nodes.
    setup(&db, "c", slots(4), (0..KEYS).map(|k| (k, 0)));
    let per_key: Vec<AtomicU64> = (0..KEYS).map(|_| AtomicU64::new(0)).collect();
    let conflicts = AtomicUsize::new(0);
    let start = Barrier::new(4);
    thread::scope(|sc| {
        for t in 0..4u64 {
            let (per_key, conflicts, start, db) = (&per_key, &conflicts, &start, &db);
            sc.spawn(move || {
                let mut rng = fastrand::Rng::with_seed(t * 7919 + 1);
                start.wait();
                for _ in 0..50 {
                    let k = rng.u64(0..KEYS);
                    let (_, c) = run_tx(db, |tx| {
                        let s = tx.open_store::<u64, u64>("c")?;
                        let v = s.get(&k)?.expect("counter exists");
                        thread::yield_now();
                        assert!(s.update(&k, &(v + 1))?);
                        Ok(())
                    });
                    conflicts.fetch_add(c, Ordering::Relaxed);
                    per_key[k as usize].fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    let items = read_all(&db, "c");
    assert_eq!(items.len() as u64, KEYS);
    let mut sum = 0;
    for (k, v) in &items {
        assert_eq!(
            *v,
            per_key[*k as usize].load(Ordering::Relaxed),
            "counter {k} lost or gained an update"
        );
        sum += v;
    }
    assert_eq!(sum, 200);
    eprintln!(
        "hot_counters: {} conflicts retried",
        conflicts.load(Ordering::Relaxed)
    );
}

/// T1 sets Y = X + 1 after reading X; T2 sets X = Y + 1 after reading Y. Both read
/// before either commits. Serial executions give (X, Y) = (2, 1) or (1, 2) from (0, 0)
/// with both committing, or one write alone; write skew would give (1, 1).
#[test]
fn write_skew_at_most_one_commits() {
    const ROUNDS: u64 = 20;
    for slot_length in [1000, 4] {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path(), opts()).unwrap();
        // Round r uses X = 1000 * r and Y = 1000 * r + 999 with filler in between,
        // so with slot_length 4 X and Y live in different leaves.
        let items = (0..ROUNDS).flat_map(|r| (0..40).map(move |i| (1000 * r + i * 999 / 39, 0)));
        setup(&db, "s", slots(slot_length), items);
        for r in 0..ROUNDS {
            let (x, y) = (1000 * r, 1000 * r + 999);
            let barrier = Barrier::new(2);
            let side = |read: u64, write: u64| {
                let tx = db.begin(TxMode::ForWriting).unwrap();
                let s = tx.open_store::<u64, u64>("s").unwrap();
                let v = s.get(&read).unwrap().unwrap();
                barrier.wait(); // both have read
                assert!(s.update(&write, &(v + 1)).unwrap());
                barrier.wait(); // both have written
                match tx.commit() {
                    Ok(()) => true,
                    Err(Error::Conflict(_)) => false,
                    Err(e) => panic!("unexpected error: {e}"),
                }
            };
            let (a, b) = thread::scope(|sc| {
                let a = sc.spawn(|| side(x, y));
                let b = sc.spawn(|| side(y, x));
                (a.join().unwrap(), b.join().unwrap())
            });
            let got = (get(&db, "s", x).unwrap(), get(&db, "s", y).unwrap());
            assert!(
                !(a && b),
                "write skew: both committed, (X, Y) = {got:?} (slot_length {slot_length})"
            );
            assert!(
                a || b,
                "neither committed: livelock/false conflict (slot_length {slot_length})"
            );
            let want = if a { (0, 1) } else { (1, 0) };
            assert_eq!(got, want, "round {r}, slot_length {slot_length}");
        }
        // Without overlap both commit, in order.
        let (x, y) = (1000 * ROUNDS, 1000 * ROUNDS + 999);
        run_tx(&db, |tx| {
            tx.open_store::<u64, u64>("s")?.add(&x, &0).map(|_| ())
        });
        run_tx(&db, |tx| {
            tx.open_store::<u64, u64>("s")?.add(&y, &0).map(|_| ())
        });
        for (read, write) in [(x, y), (y, x)] {
            let tx = db.begin(TxMode::ForWriting).unwrap();
            let s = tx.open_store::<u64, u64>("s").unwrap();
            let v = s.get(&read).unwrap().unwrap();
            s.update(&write, &(v + 1)).unwrap();
            tx.commit().expect("a transaction without overlap commits");
        }
        assert_eq!((get(&db, "s", x), get(&db, "s", y)), (Some(2), Some(1)));
    }
}

/// Two threads each read-modify-write keys A and B, in opposite orders, and commit
/// at the same time: exactly one commits (no write skew, no livelock).
#[test]
fn mutual_read_modify_write_exactly_one_commits() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    setup(&db, "s", slots(4), (0..100).map(|k| (k, 0)));
    let (a_key, b_key) = (3, 97);
    for round in 0..20u64 {
        let barrier = Barrier::new(2);
        let side = |first: u64, second: u64, tag: u64| {
            let tx = db.begin(TxMode::ForWriting).unwrap();
            let s = tx.open_store::<u64, u64>("s").unwrap();
            for k in [first, second] {
                let v = s.get(&k).unwrap().unwrap();
                s.update(&k, &(v + tag)).unwrap();
            }
            barrier.wait();
            match tx.commit() {
                Ok(()) => true,
                Err(Error::Conflict(_)) => false,
                Err(e) => panic!("unexpected error: {e}"),
            }
        };
        let before = (get(&db, "s", a_key).unwrap(), get(&db, "s", b_key).unwrap());
        let (t1, t2) = thread::scope(|sc| {
            let t1 = sc.spawn(|| side(a_key, b_key, 1));
            let t2 = sc.spawn(|| side(b_key, a_key, 1000));
            (t1.join().unwrap(), t2.join().unwrap())
        });
        assert!(
            t1 ^ t2,
            "round {round}: exactly one must commit (t1 {t1}, t2 {t2})"
        );
        let add = if t1 { 1 } else { 1000 };
        let after = (get(&db, "s", a_key).unwrap(), get(&db, "s", b_key).unwrap());
        assert_eq!(after, (before.0 + add, before.1 + add), "round {round}");
    }
}

/// Disjoint keys in one leaf: the node-level conflict is resolved by the merge,
/// so both writers commit on their first attempt and both writes survive.
#[test]
fn different_keys_same_node_both_commit() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    setup(&db, "s", slots(1000), (0..100).map(|k| (k * 10, 0)));
    for round in 0..20u64 {
        let barrier = Barrier::new(2);
        let side = |t: u64| {
            let tx = db.begin(TxMode::ForWriting).unwrap();
            let s = tx.open_store::<u64, u64>("s").unwrap();
            // Read-modify-write an existing key of this thread and add a new one.
            let k = (round * 2 + t) * 10;
            let v = s.get(&k).unwrap().unwrap();
            assert!(s.update(&k, &(v + 1)).unwrap());
            assert!(s.add(&(10_000 + round * 2 + t), &t).unwrap());
            barrier.wait(); // both have written before either commits
            tx.commit()
        };
        let (a, b) = thread::scope(|sc| {
            let a = sc.spawn(|| side(0));
            let b = sc.spawn(|| side(1));
            (a.join().unwrap(), b.join().unwrap())
        });
        a.unwrap_or_else(|e| panic!("round {round}: writer 0 failed: {e}"));
        b.unwrap_or_else(|e| panic!("round {round}: writer 1 failed: {e}"));
    }
    let items = read_all(&db, "s");
    assert_eq!(items.len(), 140);
    for (k, v) in items {
        match k {
            0..=390 => assert_eq!(v, 1, "key {k}"),
            400..=990 => assert_eq!(v, 0, "key {k}"),
            _ => assert_eq!(v, (k - 10_000) % 2, "key {k}"),
        }
    }
}

#[test]
fn for_reading_conflicts_only_on_what_it_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    // A = 5 and B = 6 share the (only) leaf.
    setup(&db, "s", slots(1000), (0..20).map(|k| (k, k)));
    let write_in_thread = |k: u64, v: u64| {
        thread::scope(|sc| {
            sc.spawn(|| {
                run_tx(&db, |tx| {
                    tx.open_store::<u64, u64>("s")?.update(&k, &v).map(|_| ())
                })
            });
        })
    };

    // Another transaction changes A after the read: the reader's commit fails.
    let tx = db.begin(TxMode::ForReading).unwrap();
    let s = tx.open_store::<u64, u64>("s").unwrap();
    assert_eq!(s.get(&5).unwrap(), Some(5));
    write_in_thread(5, 500);
    assert_eq!(s.get(&5).unwrap(), Some(5), "the reader keeps its snapshot");
    match tx.commit() {
        Err(Error::Conflict(_)) => {}
        other => panic!("a reader whose key changed must fail with Conflict, got {other:?}"),
    }

    // Another transaction changes only neighbour B in the same node: the reader commits.
    let tx = db.begin(TxMode::ForReading).unwrap();
    let s = tx.open_store::<u64, u64>("s").unwrap();
    assert_eq!(s.get(&5).unwrap(), Some(500));
    write_in_thread(6, 600);
    tx.commit()
        .expect("a change to a neighbour key is not a conflict for a reader");

    // A neighbour change first does not mask a later change of A.
    let tx = db.begin(TxMode::ForReading).unwrap();
    let s = tx.open_store::<u64, u64>("s").unwrap();
    assert_eq!(s.get(&7).unwrap(), Some(7));
    write_in_thread(8, 800);
    write_in_thread(7, 700);
    assert!(matches!(tx.commit(), Err(Error::Conflict(_))));
}

fn eight_writers(create_race: bool) {
    const WRITERS: u64 = 8;
    const PER: u64 = 100;
    const BATCH: u64 = 10;
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    if !create_race {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        tx.create_store::<u64, u64>("s", slots(8)).unwrap();
        tx.commit().unwrap();
    }
    let start = Barrier::new(WRITERS as usize);
    let conflicts = AtomicUsize::new(0);
    thread::scope(|sc| {
        for w in 0..WRITERS {
            let (db, start, conflicts) = (&db, &start, &conflicts);
            sc.spawn(move || {
                start.wait();
                for b in 0..PER / BATCH {
                    let (_, c) = run_tx(db, |tx| {
                        let s = if create_race {
                            tx.open_or_create_store::<u64, u64>("s", slots(8))?
                        } else {
                            tx.open_store::<u64, u64>("s")?
                        };
                        for j in b * BATCH..(b + 1) * BATCH {
                            // Writers' keys interleave, so they share leaves.
                            let k = j * WRITERS + w;
                            assert!(s.add(&k, &w)?, "key {k} already present");
                        }
                        Ok(())
                    });
                    conflicts.fetch_add(c, Ordering::Relaxed);
                }
            });
        }
    });
    let tx = db.begin(TxMode::ForReading).unwrap();
    assert_eq!(tx.list_stores().unwrap(), vec!["s".to_string()]);
    drop(tx);
    let items = read_all(&db, "s");
    let keys: Vec<u64> = items.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, (0..WRITERS * PER).collect::<Vec<_>>());
    for (k, v) in items {
        assert_eq!(v, k % WRITERS);
    }
    let tx = db.begin(TxMode::ForReading).unwrap();
    assert_eq!(
        tx.open_store::<u64, u64>("s").unwrap().count().unwrap(),
        WRITERS * PER
    );
    eprintln!(
        "eight_writers(create_race {create_race}): {} conflicts retried",
        conflicts.load(Ordering::Relaxed)
    );
}

#[test]
fn eight_writers_into_new_store() {
    eight_writers(false);
}

#[test]
fn eight_writers_racing_store_creation() {
    eight_writers(true);
}

/// The store creation race alone: every racer creates the store and one item in
/// it; the losers retry and open the winner's store.
#[test]
fn store_creation_race_losers_retry() {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path(), opts()).unwrap();
        let start = Barrier::new(8);
        let created = AtomicUsize::new(0);
        thread::scope(|sc| {
            for w in 0..8u64 {
                let (db, start, created) = (&db, &start, &created);
                sc.spawn(move || {
                    start.wait();
                    let (made, _) = run_tx(db, |tx| {
                        let made = match tx.open_store::<u64, u64>("s") {
                            Ok(_) => false,
                            Err(Error::StoreNotFound(_)) => {
                                tx.create_store::<u64, u64>("s", slots(8))?;
                                true
                            }
                            Err(e) => return Err(e),
                        };
                        tx.open_store::<u64, u64>("s")?.add(&w, &w)?;
                        Ok(made)
                    });
                    if made {
                        created.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(
            created.load(Ordering::Relaxed),
            1,
            "exactly one creator commits"
        );
        let items = read_all(&db, "s");
        assert_eq!(items, (0..8).map(|w| (w, w)).collect::<Vec<_>>());
    }
}

/// Readers in NoCheck and ForReading mode never see an impossible tree while a
/// writer splits and merges nodes: fixed keys are always found, by get and by
/// scans in both directions; scans are strictly ordered; count matches the scan.
#[test]
fn readers_never_see_an_impossible_tree() {
    const SPACE: u64 = 600;
    let fixed: Vec<u64> = (0..SPACE).step_by(10).collect();
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    setup(&db, "s", slots(4), fixed.iter().map(|k| (*k, k * 10)));
    let done = AtomicBool::new(false);
    let writer_commits = AtomicUsize::new(0);
    let reads = Mutex::new(Vec::<(TxMode, usize, usize)>::new());

    let check = |mode: TxMode| -> (usize, usize) {
        let (mut rounds, mut conflicts) = (0, 0);
        let fixed_set: HashSet<u64> = fixed.iter().copied().collect();
        while !done.load(Ordering::Relaxed) || rounds < 3 {
            let tx = db.begin(mode).unwrap();
            let s = tx.open_store::<u64, u64>("s").unwrap();
            for k in fixed.iter().rev() {
                assert_eq!(
                    s.get(k).unwrap(),
                    Some(k * 10),
                    "{mode:?}: fixed key {k} not found by get"
                );
            }
            let mut seen = 0;
            let mut prev: Option<u64> = None;
            for item in s.iter().unwrap() {
                let (k, v) = item.unwrap();
                assert!(
                    prev.is_none_or(|p| p < k),
                    "{mode:?}: ascending scan went {prev:?} -> {k}"
                );
                assert_eq!(v, k * 10, "{mode:?}: key {k} has a foreign value");
                seen += fixed_set.contains(&k) as usize;
                prev = Some(k);
            }
            assert_eq!(
                seen,
                fixed.len(),
                "{mode:?}: ascending scan missed fixed keys"
            );
            let mut n = 0u64;
            let mut prev: Option<u64> = None;
            let mut seen = 0;
            for item in s.range_desc(..).unwrap() {
                let (k, _) = item.unwrap();
                assert!(
                    prev.is_none_or(|p| p > k),
                    "{mode:?}: descending scan went {prev:?} -> {k}"
                );
                seen += fixed_set.contains(&k) as usize;
                prev = Some(k);
                n += 1;
            }
            assert_eq!(
                seen,
                fixed.len(),
                "{mode:?}: descending scan missed fixed keys"
            );
            assert_eq!(
                s.count().unwrap(),
                n,
                "{mode:?}: count disagrees with the snapshot's scan"
            );
            // A bounded range inside the churn.
            let mid: Vec<u64> = s.range(200..=400).unwrap().map(|r| r.unwrap().0).collect();
            assert!(
                mid.windows(2).all(|w| w[0] < w[1]) && mid.iter().all(|k| (200..=400).contains(k))
            );
            assert_eq!(
                mid.iter().filter(|k| *k % 10 == 0).count(),
                21,
                "{mode:?}: range missed fixed keys"
            );
            match tx.commit() {
                Ok(()) => {}
                Err(Error::Conflict(_)) if mode == TxMode::ForReading => conflicts += 1,
                Err(e) => panic!("{mode:?}: reader commit failed: {e}"),
            }
            rounds += 1;
        }
        (rounds, conflicts)
    };

    thread::scope(|sc| {
        sc.spawn(|| {
            // Stop the readers even if this thread panics.
            struct Done<'a>(&'a AtomicBool);
            impl Drop for Done<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Relaxed);
                }
            }
            let _done = Done(&done);
            let mut rng = fastrand::Rng::with_seed(42);
            let mut present = BTreeSet::new();
            let t0 = Instant::now();
            let mut i = 0u64;
            while t0.elapsed() < Duration::from_millis(2500) || i < 50 {
                i += 1;
                run_tx(&db, |tx| {
                    let s = tx.open_store::<u64, u64>("s")?;
                    if i.is_multiple_of(20) {
                        // A burst (splits up the tree) ...
                        for k in (0..SPACE).filter(|k| k % 10 != 0 && k % 3 == 0) {
                            if !present.contains(&k) {
                                assert!(s.add(&k, &(k * 10))?);
                            }
                        }
                    } else if i % 20 == 10 {
                        // ... and a purge (merges down).
                        for k in &present {
                            assert!(s.remove(k)?);
                        }
                    } else {
                        let mut now = present.clone();
                        for _ in 0..6 {
                            let k = rng.u64(0..SPACE);
                            if k.is_multiple_of(10) {
                                continue;
                            }
                            if now.remove(&k) {
                                assert!(s.remove(&k)?);
                            } else {
                                assert!(s.add(&k, &(k * 10))?);
                                now.insert(k);
                            }
                        }
                    }
                    Ok(())
                });
                // Bring our view of the churn keys up to date from what committed.
                let tx = db.begin(TxMode::NoCheck).unwrap();
                let s = tx.open_store::<u64, u64>("s").unwrap();
                present = s
                    .iter()
                    .unwrap()
                    .map(|r| r.unwrap().0)
                    .filter(|k| k % 10 != 0)
                    .collect();
                writer_commits.fetch_add(1, Ordering::Relaxed);
            }
        });
        for mode in [
            TxMode::NoCheck,
            TxMode::ForReading,
            TxMode::NoCheck,
            TxMode::ForReading,
        ] {
            let (check, reads) = (&check, &reads);
            sc.spawn(move || {
                let (rounds, conflicts) = check(mode);
                reads.lock().unwrap().push((mode, rounds, conflicts));
            });
        }
    });
    let items = read_all(&db, "s");
    assert!(fixed
        .iter()
        .all(|k| items.binary_search(&(*k, k * 10)).is_ok()));
    eprintln!(
        "readers_never_see_an_impossible_tree: {} writer commits; readers (mode, rounds, conflicts): {:?}",
        writer_commits.load(Ordering::Relaxed),
        reads.lock().unwrap()
    );
}

/// Several handles (as several processes would) open one folder at the same time.
/// Opening runs recovery, which judges a process dead when it can take the file
/// lock of its `procs/<id>.lock`; a process that has just created its lock file
/// but not yet locked it must not be judged dead (its open failed with "fresh
/// process lock is held", or it ran without a lock file).
#[test]
fn concurrent_opens_of_one_folder_never_fail() {
    let dir = tempfile::tempdir().unwrap();
    Database::open(dir.path(), opts()).unwrap();
    let start = Barrier::new(4);
    thread::scope(|sc| {
        for _ in 0..4 {
            sc.spawn(|| {
                start.wait();
                for i in 0..150 {
                    let db = Database::open(dir.path(), opts())
                        .unwrap_or_else(|e| panic!("open #{i} failed: {e}"));
                    db.recover().unwrap();
                }
            });
        }
    });
    // Every handle is closed: one more open finds them all dead and leaves only its own lock.
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("procs")).unwrap().count(),
        1
    );
    drop(db);
}

/// Two handles on one folder (as two processes would have): they share nothing in
/// memory, so only the exclusive log link orders their commits. Read-modify-write
/// increments from both never lose an update, and each handle sees the other's commits.
#[test]
fn lost_update_across_two_handles_of_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    let a = Database::open(dir.path(), opts()).unwrap();
    let b = Database::open(dir.path(), opts()).unwrap();
    setup(&a, "c", slots(4), (0..4).map(|k| (k, 0)));
    let start = Barrier::new(4);
    let per_key: Vec<AtomicU64> = (0..4).map(|_| AtomicU64::new(0)).collect();
    thread::scope(|sc| {
        for t in 0..4u64 {
            let db = if t % 2 == 0 { &a } else { &b };
            let (start, per_key) = (&start, &per_key);
            sc.spawn(move || {
                let mut rng = fastrand::Rng::with_seed(t + 100);
                start.wait();
                for _ in 0..40 {
                    // Mostly counter 0 (hot), sometimes another.
                    let k = if rng.bool() { 0 } else { rng.u64(1..4) };
                    run_tx(db, |tx| {
                        let s = tx.open_store::<u64, u64>("c")?;
                        let v = s.get(&k)?.expect("counter exists");
                        thread::yield_now();
                        assert!(s.update(&k, &(v + 1))?);
                        Ok(())
                    });
                    per_key[k as usize].fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    for db in [&a, &b] {
        let items = read_all(db, "c");
        let want: Vec<(u64, u64)> = (0..4)
            .map(|k| (k, per_key[k as usize].load(Ordering::Relaxed)))
            .collect();
        assert_eq!(items, want);
        assert_eq!(want.iter().map(|(_, v)| v).sum::<u64>(), 160);
    }
    assert_eq!(a.head().unwrap(), b.head().unwrap());
}
