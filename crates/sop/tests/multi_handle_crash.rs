//! Crash sweeps with several handles on one simulated file system (each handle
//! is what another process would be): handle B is frozen between the link of
//! its record and its durability (its directory sync fails), and then handle A
//! runs reclaim, compaction, a commit that writes a checkpoint, and a fresh
//! open, in every order, with the power cut at every operation of that sequence.
//! After every cut the database must open, hold every commit that returned Ok,
//! pass `check`, and read back whole; B's commit may be there or not (its
//! outcome was unknown), but never in part.

use sop::{CompactOptions, Database, DbOptions, Error, StoreOptions, TxMode};
use sop_testkit::{Fault, SimVfs};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const DB: &str = "/data/db";

fn open(vfs: &SimVfs) -> sop::Result<Database> {
    let opts = DbOptions {
        vfs: Some(Arc::new(vfs.clone())),
        recovery_interval: None,
        checkpoint_every: 1,
        ..Default::default()
    };
    Database::open(Path::new(DB), opts)
}

/// Store name -> its items (key -> value), as acknowledged.
type Model = BTreeMap<String, BTreeMap<u64, String>>;

fn write(
    db: &Database,
    model: &mut Model,
    store: &str,
    keys: std::ops::Range<u64>,
) -> sop::Result<()> {
    let tx = db.begin(TxMode::ForWriting)?;
    let s = match tx.open_store::<u64, String>(store) {
        Ok(s) => s,
        Err(Error::NotFound(_)) | Err(Error::StoreNotFound(_)) => {
            tx.create_store::<u64, String>(store, StoreOptions::default())?
        }
        Err(e) => return Err(e),
    };
    let mut staged = BTreeMap::new();
    for k in keys {
        let v = format!("{store}-{k}-{}", model.len());
        s.upsert(&k, &v)?;
        staged.insert(k, v);
    }
    tx.commit()?;
    model.entry(store.to_string()).or_default().extend(staged);
    Ok(())
}

fn read_all(db: &Database) -> Model {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let mut out = Model::new();
    for name in tx.list_stores().unwrap() {
        let s = tx.open_store::<u64, String>(&name).unwrap();
        let items = out.entry(name).or_default();
        for r in s.range(..).unwrap() {
            let (k, v) = r.unwrap();
            items.insert(k, v);
        }
    }
    out
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Reclaim,
    Compact,
    Commit,
    Reopen,
}

/// A builds a little history (with overwrites, so records go dead), B freezes
/// between link and durability. Returns the file system, A, and A's model.
fn setup(freeze_at: u64) -> Option<(SimVfs, Database, Model, bool)> {
    let vfs = SimVfs::new();
    let a = open(&vfs).unwrap();
    let mut model = Model::new();
    write(&a, &mut model, "s", 0..40).unwrap();
    write(&a, &mut model, "s", 10..30).unwrap();
    write(&a, &mut model, "t", 0..10).unwrap();
    let b = open(&vfs).unwrap();
    let tx = b.begin(TxMode::ForWriting).unwrap();
    let s = tx.open_store::<u64, String>("s").unwrap();
    s.upsert(&1000, &"b".to_string()).unwrap();
    vfs.set_fault(Fault::IoErrorAt(vfs.op_count() + freeze_at));
    let res = tx.commit();
    vfs.set_fault(Fault::None);
    let frozen = matches!(res, Err(Error::CommitOutcomeUnknown { .. }));
    Some((vfs, a, model, frozen))
}

fn run(a: &mut Database, vfs: &SimVfs, model: &mut Model, steps: &[Step]) -> sop::Result<()> {
    for step in steps {
        match step {
            Step::Reclaim => {
                a.reclaim()?;
            }
            Step::Compact => {
                a.compact_with(&CompactOptions {
                    min_dead_fraction: 0.0,
                    ..Default::default()
                })?;
            }
            Step::Commit => write(a, model, "t", 5..15)?,
            Step::Reopen => *a = open(vfs)?,
        }
    }
    Ok(())
}

fn permutations(items: &[Step]) -> Vec<Vec<Step>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let first = rest.remove(i);
        for mut p in permutations(&rest) {
            p.insert(0, first);
            out.push(p);
        }
    }
    out
}

#[test]
fn a_frozen_commit_then_maintenance_in_every_order_with_a_cut_at_every_step() {
    // Find the operation of B's commit whose failure leaves it linked but not
    // durable (its directory sync).
    let freeze_at = (0..200)
        .find(|k| setup(*k).is_some_and(|(_, _, _, frozen)| frozen))
        .expect("no operation of B's commit left its outcome unknown");
    let all = [Step::Reclaim, Step::Compact, Step::Commit, Step::Reopen];
    let mut cuts = 0;
    for steps in permutations(&all) {
        // Count the operations of the whole sequence, then cut at each.
        let (vfs, mut a, mut model, _) = setup(freeze_at).unwrap();
        let start = vfs.op_count();
        run(&mut a, &vfs, &mut model, &steps).unwrap();
        let total = vfs.op_count() - start;
        for k in 0..=total {
            let (vfs, mut a, mut model, _) = setup(freeze_at).unwrap();
            // Commits that return Ok before the cut are in `model`; the one
            // interrupted may or may not survive.
            let before = model.clone();
            vfs.set_fault(Fault::PowerCutAt(vfs.op_count() + k));
            let res = run(&mut a, &vfs, &mut model, &steps);
            let interrupted = res.is_err();
            for seed in [0u64, 1, 2] {
                let image = if seed == 0 {
                    vfs.crash_image_strict()
                } else {
                    vfs.crash_image(seed * 7919 + k)
                };
                let db = open(&image).unwrap_or_else(|e| {
                    panic!("{steps:?} cut at {k} (seed {seed}): open failed: {e}")
                });
                // Another commit after the cut, acknowledged, then a fresh open: it
                // takes the sequence of whatever the cut removed, and must not be
                // mistaken for it.
                let mut after = Model::new();
                write(&db, &mut after, "u", 0..3).unwrap();
                drop(db);
                let db = open(&image).unwrap();
                let mut got = read_all(&db);
                assert_eq!(
                    got.remove("u"),
                    after.remove("u"),
                    "{steps:?} cut at {k} (seed {seed}): the commit after the cut"
                );
                // B's item, if its commit survived, is whole: drop it to compare.
                if let Some(s) = got.get_mut("s") {
                    if let Some(v) = s.remove(&1000) {
                        assert_eq!(v, "b");
                    }
                }
                let ok = got == model || (interrupted && got == before);
                assert!(
                    ok || {
                        // The interrupted commit may have landed although it did
                        // not return Ok: then `got` is `before` plus that commit.
                        let mut with = before.clone();
                        write_model_commit(&mut with);
                        interrupted && got == with
                    },
                    "{steps:?} cut at {k} (seed {seed}): acknowledged data differs\n got {got:?}\nwant {model:?}"
                );
                let report = db.check().unwrap();
                assert!(
                    report.is_ok(),
                    "{steps:?} cut at {k} (seed {seed}): {:?}",
                    report.problems
                );
                cuts += 1;
            }
        }
    }
    eprintln!("{cuts} cuts");
    assert!(cuts > 100, "only {cuts} cuts");
}

/// The model after the `Commit` step's write, for an interrupted commit that
/// landed anyway.
fn write_model_commit(model: &mut Model) {
    let n = model.len();
    let t = model.entry("t".to_string()).or_default();
    for k in 5..15 {
        t.insert(k, format!("t-{k}-{n}"));
    }
}
