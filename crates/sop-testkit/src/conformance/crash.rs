//! Crash safety on the simulated file system: cut the power, or fail one I/O call,
//! at every write and fsync of a commit (and of the recovery that follows); after
//! reopening, the database must equal exactly the state before or after the
//! transaction, the "after" state whenever the commit returned Ok, and pass `check`.

use super::Backend;
use crate::sim::{Fault, SimVfs};
use sop::{Database, DbOptions, Error, StoreOptions, TxMode, ValuePlacement};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

type State = BTreeMap<(String, Vec<u8>), Vec<Vec<u8>>>;

const DB: &str = "/data/db";

fn open(vfs: &SimVfs, b: &dyn Backend) -> sop::Result<Database> {
    // A checkpoint after every commit: cuts also land inside checkpoint writes.
    let opts = b.options(DbOptions {
        vfs: Some(Arc::new(vfs.clone())),
        recovery_interval: None,
        checkpoint_every: 1,
        ..Default::default()
    });
    Database::open(Path::new(DB), opts)
}

fn state(db: &Database) -> State {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let mut out = State::new();
    for name in tx.list_stores().unwrap() {
        let s = tx.open_raw_store(&name).unwrap();
        out.entry((name.clone(), b"#".to_vec())).or_default();
        for r in s.range(Bound::Unbounded, Bound::Unbounded, false).unwrap() {
            let (k, v) = r.unwrap();
            out.entry((name.clone(), k.to_vec()))
                .or_default()
                .push(v.to_vec());
        }
    }
    out
}

fn setup(vfs: &SimVfs, b: &dyn Backend) {
    let db = open(vfs, b).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let a = tx
        .create_store::<u64, String>(
            "a",
            StoreOptions {
                slot_length: 4,
                ..Default::default()
            },
        )
        .unwrap();
    for i in 0..40u64 {
        a.add(&(i * 10), &format!("a{i}")).unwrap();
    }
    let b = tx
        .create_store::<u64, Vec<u8>>(
            "big",
            StoreOptions {
                slot_length: 4,
                values: ValuePlacement::Big,
                ..Default::default()
            },
        )
        .unwrap();
    for i in 0..6u64 {
        b.add(&i, &vec![i as u8; 300]).unwrap();
    }
    let s = tx
        .create_store::<u64, Vec<u8>>(
            "sep",
            StoreOptions {
                slot_length: 5,
                values: ValuePlacement::Separate,
                ..Default::default()
            },
        )
        .unwrap();
    for i in 0..12u64 {
        s.add(&i, &vec![i as u8; 50]).unwrap();
    }
    // Wide leaves, so that small changes are written as leaf deltas.
    for (name, values) in [
        ("wide", ValuePlacement::Inline),
        ("wsep", ValuePlacement::Separate),
    ] {
        let w = tx
            .create_store::<u64, Vec<u8>>(
                name,
                StoreOptions {
                    slot_length: 64,
                    values,
                    ..Default::default()
                },
            )
            .unwrap();
        for i in 0..50u64 {
            w.add(&i, &vec![i as u8; 40]).unwrap();
        }
    }
    tx.commit().unwrap();
    // A first delta of each wide leaf: the one under test is taken against the same base.
    let tx = db.begin(TxMode::ForWriting).unwrap();
    for name in ["wide", "wsep"] {
        let w = tx.open_store::<u64, Vec<u8>>(name).unwrap();
        w.update(&10, &vec![0xaa; 40]).unwrap();
    }
    tx.commit().unwrap();
}

/// The transaction under test: splits, merges, big and separate values, leaf
/// deltas, a new store and a dropped one.
fn workload(db: &Database) -> sop::Result<()> {
    let tx = db.begin(TxMode::ForWriting)?;
    let a = tx.open_store::<u64, String>("a")?;
    for i in 0..15u64 {
        a.add(&(i * 10 + 5), &format!("new{i}"))?;
    }
    for i in 20..38u64 {
        a.remove(&(i * 10))?;
    }
    a.update(&0, &"zero".to_string())?;
    let b = tx.open_store::<u64, Vec<u8>>("big")?;
    b.update(&1, &vec![9; 500])?;
    b.remove(&2)?;
    b.add(&100, &vec![7; 700])?;
    let s = tx.open_store::<u64, Vec<u8>>("sep")?;
    s.update(&3, &vec![1; 80])?;
    s.add(&50, &vec![2; 60])?;
    for name in ["wide", "wsep"] {
        let w = tx.open_store::<u64, Vec<u8>>(name)?;
        w.update(&20, &vec![0xbb; 40])?;
        w.remove(&30)?;
        w.add(&1000, &vec![0xcc; 40])?;
    }
    let c = tx.create_store::<String, u64>("c", StoreOptions::default())?;
    c.add(&"x".to_string(), &1)?;
    tx.drop_store("sep")?;
    tx.commit()
}

fn expected(b: &dyn Backend) -> (State, State, u64) {
    let vfs = SimVfs::new();
    b.fresh_database();
    setup(&vfs, b);
    let db = open(&vfs, b).unwrap();
    let before = state(&db);
    vfs.reset_op_count();
    workload(&db).unwrap();
    let ops = vfs.op_count();
    for s in db.stats().unwrap().stores {
        if s.info.name.starts_with('w') {
            assert_eq!(s.delta_nodes, 1, "{} is a leaf delta", s.info.name);
        }
    }
    (before, state(&db), ops)
}

fn assert_sound(db: &Database, before: &State, after: &State, must_be_after: bool, what: &str) {
    let now = state(db);
    if must_be_after {
        assert!(
            now == *after,
            "{what}: commit returned Ok but the state is not the committed one"
        );
    } else {
        assert!(
            now == *before || now == *after,
            "{what}: state is neither before nor after the transaction"
        );
    }
    let r = db.check().unwrap();
    assert!(r.is_ok(), "{what}: check found {:?}", r.problems);
}

pub fn power_cut_at_every_step_of_a_commit(b: &dyn Backend) {
    let (before, after, ops) = expected(b);
    assert!(before != after);
    // A floor that shows the sweep has steps to cut: a folder's commit here
    // takes dozens of operations, a bucket's about ten (each request that
    // changes the bucket counts twice: sent, and its reply).
    assert!(ops >= 8, "the workload performs {ops} storage operations");
    let mut saw_before = 0;
    let mut saw_after = 0;
    for k in 0..=ops {
        let vfs = SimVfs::new();
        b.fresh_database();
        setup(&vfs, b);
        let db = open(&vfs, b).unwrap();
        vfs.reset_op_count();
        vfs.set_fault(Fault::PowerCutAt(k));
        let res = workload(&db);
        assert!(k < ops || res.is_ok(), "no cut: the commit succeeds");
        if let Err(e) = &res {
            assert!(!e.is_conflict(), "a power cut is not a conflict: {e}");
        }
        drop(db);
        for seed in 0..4u64 {
            let img = if seed == 0 {
                vfs.crash_image_strict()
            } else {
                vfs.crash_image(seed * 7919 + k)
            };
            let db = open(&img, b)
                .unwrap_or_else(|e| panic!("reopen after cut at op {k}, seed {seed}: {e}"));
            assert_sound(
                &db,
                &before,
                &after,
                res.is_ok(),
                &format!("cut at op {k}, seed {seed}"),
            );
            if state(&db) == before {
                saw_before += 1;
            } else {
                saw_after += 1;
            }
        }
    }
    eprintln!("power cuts: {ops} ops, {saw_before} images before, {saw_after} after");
    assert!(
        saw_before > 0 && saw_after > 0,
        "cuts land on both sides of the commit point"
    );
}

pub fn power_cut_during_recovery_is_harmless(b: &dyn Backend) {
    let (before, after, ops) = expected(b);
    for k in (0..ops).step_by(3) {
        let vfs = SimVfs::new();
        b.fresh_database();
        setup(&vfs, b);
        let db = open(&vfs, b).unwrap();
        vfs.reset_op_count();
        vfs.set_fault(Fault::PowerCutAt(k));
        let _ = workload(&db);
        drop(db);
        let img = vfs.crash_image(k);
        // Count what a clean recovery does, then cut it at each of its steps.
        let probe = img.crash_image_strict();
        probe.reset_op_count();
        drop(open(&probe, b).unwrap());
        let rec_ops = probe.op_count();
        for j in 0..rec_ops {
            let img2 = img.crash_image_strict();
            img2.reset_op_count();
            img2.set_fault(Fault::PowerCutAt(j));
            let _ = open(&img2, b);
            for seed in 0..2 {
                let img3 = img2.crash_image(seed + j);
                let db =
                    open(&img3, b).unwrap_or_else(|e| panic!("reopen after recovery cut {j}: {e}"));
                assert_sound(
                    &db,
                    &before,
                    &after,
                    false,
                    &format!("commit cut {k}, recovery cut {j}"),
                );
                // Recovery twice is harmless too.
                drop(db);
                let db = open(&img3, b).unwrap();
                assert_sound(
                    &db,
                    &before,
                    &after,
                    false,
                    &format!("second recovery after {k}/{j}"),
                );
            }
        }
    }
}

pub fn io_error_at_every_step_of_a_commit(b: &dyn Backend) {
    let (before, after, ops) = expected(b);
    for k in 0..ops {
        let vfs = SimVfs::new();
        b.fresh_database();
        setup(&vfs, b);
        let db = open(&vfs, b).unwrap();
        vfs.reset_op_count();
        vfs.set_fault(Fault::IoErrorAt(k));
        let res = workload(&db);
        vfs.set_fault(Fault::None);
        match &res {
            Ok(()) if matches!(db.begin(TxMode::NoCheck), Err(Error::Poisoned(_))) => {
                // The commit is durable in the journal, but writing journaled
                // records out to their files failed afterwards: only a reopen,
                // which replays the journal, may go on.
                assert!(
                    b.may_poison_after_ok(),
                    "io error at {k}: poisoned after Ok"
                );
            }
            Ok(()) => assert_sound(
                &db,
                &before,
                &after,
                true,
                &format!("io error at {k}, commit Ok"),
            ),
            Err(Error::CommitOutcomeUnknown { .. }) => {
                // The record is linked; whether it is durable is unknown. The database
                // refuses further work until reopened.
                assert!(matches!(
                    db.begin(TxMode::ForWriting),
                    Err(Error::Poisoned(_))
                ));
            }
            Err(e) if matches!(db.begin(TxMode::NoCheck), Err(Error::Poisoned(_))) => {
                // A failed sync of a folder other commits share (the log before the
                // link, a store's big values): nothing was committed, but the
                // handle refuses further work until reopened (checked below).
                let shared = match e {
                    Error::Io { path, .. } => {
                        path.starts_with(Path::new(DB).join("log"))
                            || path.parent() == Some(&Path::new(DB).join("blobs"))
                    }
                    _ => false,
                };
                assert!(shared, "io error at {k}: poisoned by {e}");
            }
            Err(e) => {
                assert!(!e.is_conflict(), "an I/O error is not a conflict: {e}");
                // Nothing was committed, and the same process keeps working.
                assert_sound(&db, &before, &after, false, &format!("io error at {k}"));
                assert!(
                    state(&db) == before,
                    "io error at {k}: a failed commit left a trace"
                );
                workload(&db).unwrap();
                assert!(state(&db) == after);
            }
        }
        drop(db);
        let db = open(&vfs.crash_image_strict(), b).unwrap();
        assert_sound(
            &db,
            &before,
            &after,
            res.is_ok(),
            &format!("reopen after io error at {k}"),
        );
    }
}
