//! Leaf deltas: a commit that changes a few items of a leaf writes those items
//! (against the leaf's last full image), not the whole leaf. Readers, reopening,
//! checkpoints, merging writers, reclaim, compaction and `check` must all see the
//! same items as if every leaf had been written whole.

mod support;

use sop::{Database, DbOptions, StoreOptions, TxMode, ValuePlacement};
use std::collections::BTreeMap;
use std::path::Path;
use support::{dump, opts};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(i: u64) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    format!("value of {i} in round {round}: {}", "x".repeat(30)).into_bytes()
}

fn create(db: &Database, name: &str, values: ValuePlacement, n: u64, m: &mut Model) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx
        .create_raw_store(
            name,
            "bytes",
            StoreOptions {
                slot_length: 64,
                values,
                ..Default::default()
            },
        )
        .unwrap();
    for i in 0..n {
        s.add(&key(i), value(i, 0)).unwrap();
        m.insert(key(i), value(i, 0));
    }
    tx.commit().unwrap();
}

fn contents(db: &Database, name: &str) -> Model {
    let tx = db.begin(TxMode::ForReading).unwrap();
    let s = tx.open_raw_store(name).unwrap();
    let out = s
        .range(
            std::ops::Bound::Unbounded,
            std::ops::Bound::Unbounded,
            false,
        )
        .unwrap()
        .map(|r| {
            let (k, v) = r.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect();
    tx.commit().unwrap();
    out
}

/// One commit: update, insert or remove one item, chosen by `rng`.
fn small_commit(
    db: &Database,
    name: &str,
    n: u64,
    round: u64,
    rng: &mut fastrand::Rng,
    m: &mut Model,
) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.open_raw_store(name).unwrap();
    let i = rng.u64(0..n + n / 4);
    match rng.u8(0..4) {
        0 => {
            s.remove(&key(i)).unwrap();
            m.remove(&key(i));
        }
        _ => {
            s.upsert(&key(i), value(i, round)).unwrap();
            m.insert(key(i), value(i, round));
        }
    }
    tx.commit().unwrap();
}

fn record_len(dir: &Path, seq: u64) -> u64 {
    let p = dir
        .join("log")
        .join(format!("{:08x}", seq >> 16))
        .join(format!("{seq:016x}.rec"));
    std::fs::metadata(&p).unwrap().len()
}

fn stats(db: &Database, name: &str) -> sop::StoreSummary {
    db.stats()
        .unwrap()
        .stores
        .into_iter()
        .find(|s| s.info.name == name)
        .unwrap()
}

#[test]
fn a_small_change_to_a_big_leaf_is_written_as_a_delta() {
    for values in [ValuePlacement::Inline, ValuePlacement::Separate] {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path(), opts()).unwrap();
        let mut m = Model::new();
        create(&db, "s", values, 2000, &mut m);
        let full_leaf = stats(&db, "s").node_bytes / stats(&db, "s").nodes;
        let mut rng = fastrand::Rng::with_seed(1);
        let mut sizes = vec![];
        for round in 1..=60 {
            small_commit(&db, "s", 2000, round, &mut rng, &mut m);
            sizes.push(record_len(dir.path(), db.head().unwrap()));
        }
        let st = stats(&db, "s");
        assert!(st.delta_nodes > 20, "{values:?}: {st:?}");
        // A record holding one whole leaf would be bigger than a leaf; most are far smaller.
        sizes.sort_unstable();
        let median = sizes[sizes.len() / 2];
        assert!(
            median * 3 < full_leaf,
            "{values:?}: median record {median} bytes, a leaf {full_leaf}"
        );
        assert_eq!(contents(&db, "s"), m, "{values:?}");
        let r = db.check().unwrap();
        assert!(r.is_ok(), "{values:?}: {:?}", r.problems);
        drop(db);
        // Reopened, by replaying the log.
        let db = Database::open(dir.path(), opts()).unwrap();
        assert_eq!(contents(&db, "s"), m, "{values:?} reopened");
    }
}

#[test]
fn deltas_survive_checkpoints_reopening_and_a_cold_cache() {
    let dir = tempfile::tempdir().unwrap();
    let o = || DbOptions {
        checkpoint_every: 7,
        node_cache_bytes: 1 << 20,
        ..opts()
    };
    let mut db = Database::open(dir.path(), o()).unwrap();
    let mut m = Model::new();
    create(&db, "s", ValuePlacement::Auto, 3000, &mut m);
    let mut rng = fastrand::Rng::with_seed(2);
    for round in 1..=200 {
        small_commit(&db, "s", 3000, round, &mut rng, &mut m);
        if round % 50 == 0 {
            drop(db);
            db = Database::open(dir.path(), o()).unwrap();
            assert_eq!(contents(&db, "s"), m, "reopened at round {round}");
        }
    }
    assert!(stats(&db, "s").delta_nodes > 0);
    let r = db.check().unwrap();
    assert!(r.is_ok(), "{:?}", r.problems);
}

/// A store of one leaf: every image of it after the first is a delta, and its
/// base lives in a record that holds nothing else the registry points at.
#[test]
fn reclaim_keeps_the_records_deltas_read_from() {
    for values in [ValuePlacement::Inline, ValuePlacement::Separate] {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path(), opts()).unwrap();
        let mut m = Model::new();
        create(&db, "one", values, 40, &mut m);
        for round in 1..=6u64 {
            let tx = db.begin(TxMode::ForWriting).unwrap();
            let s = tx.open_raw_store("one").unwrap();
            // Each round changes another key: with separate values, a later delta
            // carries the earlier rounds' values, which stay in their records.
            s.update(&key(round), value(round, round)).unwrap();
            m.insert(key(round), value(round, round));
            tx.commit().unwrap();
        }
        assert_eq!(stats(&db, "one").delta_nodes, 1, "{values:?}");
        let r = db.reclaim().unwrap();
        // Inline: the superseded deltas are dead. Separate: each record still holds
        // a value the newest delta points at, so none is.
        if values == ValuePlacement::Inline {
            assert_eq!(r.retired, 5, "{values:?}: {r:?}");
        } else {
            assert_eq!(r.retired, 0, "{values:?}: {r:?}");
        }
        assert_eq!(contents(&db, "one"), m, "{values:?}");
        drop(db);
        let db = Database::open(
            dir.path(),
            DbOptions {
                node_cache_bytes: 1 << 20,
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(
            contents(&db, "one"),
            m,
            "{values:?} after reclaim, reopened"
        );
        let r = db.check().unwrap();
        assert!(r.is_ok(), "{values:?}: {:?}", r.problems);
    }
}

#[test]
fn compaction_writes_deltas_out_as_full_images() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    let mut m = Model::new();
    create(&db, "s", ValuePlacement::Inline, 2000, &mut m);
    let mut rng = fastrand::Rng::with_seed(3);
    for round in 1..=80 {
        small_commit(&db, "s", 2000, round, &mut rng, &mut m);
    }
    // Records whose every image is live are left alone; rewriting a run of keys
    // whole leaves dead bytes in the bulk load's record, whose nodes (and the bases
    // of deltas in it) then move.
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.open_raw_store("s").unwrap();
    for i in 500..600 {
        s.upsert(&key(i), b"rewritten").unwrap();
        m.insert(key(i), b"rewritten".to_vec());
    }
    tx.commit().unwrap();
    let before = stats(&db, "s").delta_nodes;
    assert!(before > 10);
    let r = db
        .compact_with(&sop::CompactOptions {
            min_dead_fraction: 0.0,
            ..Default::default()
        })
        .unwrap();
    assert!(r.nodes_moved > 0, "{r:?}");
    let after = stats(&db, "s").delta_nodes;
    assert!(after < before, "delta leaves {before} -> {after}");
    assert_eq!(contents(&db, "s"), m);
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(contents(&db, "s"), m);
    let r = db.check().unwrap();
    assert!(r.is_ok(), "{:?}", r.problems);
}

/// Two writers change different keys of one leaf; the second merges in flight
/// and its delta (against the same base) carries the first one's change too.
#[test]
fn merging_writers_of_one_leaf_both_land_in_its_delta() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    let mut m = Model::new();
    create(&db, "one", ValuePlacement::Auto, 40, &mut m);
    let t1 = db.begin(TxMode::ForWriting).unwrap();
    let t2 = db.begin(TxMode::ForWriting).unwrap();
    t1.open_raw_store("one")
        .unwrap()
        .update(&key(3), b"first")
        .unwrap();
    t2.open_raw_store("one")
        .unwrap()
        .update(&key(30), b"second")
        .unwrap();
    t1.commit().unwrap();
    t2.commit().unwrap();
    m.insert(key(3), b"first".to_vec());
    m.insert(key(30), b"second".to_vec());
    assert_eq!(stats(&db, "one").delta_nodes, 1);
    assert_eq!(contents(&db, "one"), m);
    drop(db);
    let db = Database::open(
        dir.path(),
        DbOptions {
            node_cache_bytes: 1 << 20,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(contents(&db, "one"), m);
}

/// A damaged delta or a damaged base is an error naming the record (never a
/// panic, never wrong items), and `check` reports it.
#[test]
fn a_damaged_delta_or_base_is_reported() {
    for damage_base in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path(), opts()).unwrap();
        let mut m = Model::new();
        create(&db, "one", ValuePlacement::Inline, 40, &mut m);
        let base_seq = db.head().unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        tx.open_raw_store("one")
            .unwrap()
            .update(&key(5), b"changed")
            .unwrap();
        tx.commit().unwrap();
        let delta_seq = db.head().unwrap();
        drop(db);
        let seq = if damage_base { base_seq } else { delta_seq };
        let p = dir
            .path()
            .join("log")
            .join(format!("{:08x}", seq >> 16))
            .join(format!("{seq:016x}.rec"));
        let mut bytes = std::fs::read(&p).unwrap();
        // The node images follow the 16-byte prefix.
        bytes[16 + 3] ^= 0x55;
        std::fs::write(&p, &bytes).unwrap();
        let db = Database::open(dir.path(), opts()).unwrap();
        let tx = db.begin(TxMode::NoCheck).unwrap();
        let err = tx.open_raw_store("one").unwrap().get(&key(1)).unwrap_err();
        assert!(
            err.to_string().contains(&format!("{seq:016x}.rec")),
            "damage_base {damage_base}: {err}"
        );
        drop(tx);
        let r = db.check().unwrap();
        assert!(!r.is_ok(), "damage_base {damage_base}: check found nothing");
    }
}

/// Every way of reading agrees with a plain dump after deltas pile up on every
/// leaf of a store (the dump reads through a NoCheck transaction's memo).
#[test]
fn every_read_path_sees_the_delta_leaves_items() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    let mut m = Model::new();
    create(&db, "s", ValuePlacement::Auto, 1000, &mut m);
    let mut rng = fastrand::Rng::with_seed(4);
    for round in 1..=150 {
        small_commit(&db, "s", 1000, round, &mut rng, &mut m);
    }
    let want: Vec<(String, Vec<u8>, Vec<u8>)> = m
        .iter()
        .map(|(k, v)| ("s".to_string(), k.clone(), v.clone()))
        .collect();
    assert_eq!(dump(&db), want);
    let tx = db.begin(TxMode::ForReading).unwrap();
    let s = tx.open_raw_store("s").unwrap();
    for i in 0..1250 {
        assert_eq!(
            s.get(&key(i)).unwrap().map(|b| b.to_vec()),
            m.get(&key(i)).cloned()
        );
    }
    assert_eq!(s.count().unwrap(), m.len() as u64);
    tx.commit().unwrap();
}
