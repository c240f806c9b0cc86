//! Crash safety of an exclusive folder's journal over many commits, on the
//! simulated file system. (The sweeps every backend passes, power cut and I/O
//! error at every step of a commit, are in the conformance suite:
//! `tests/conformance.rs`.)

use sop::{Database, DbOptions, StoreOptions, TxMode};
use sop_testkit::{Fault, SimVfs};
use std::path::Path;
use std::sync::Arc;

const DB: &str = "/data/db";

fn open(vfs: &SimVfs) -> sop::Result<Database> {
    let opts = DbOptions {
        vfs: Some(Arc::new(vfs.clone())),
        recovery_interval: None,
        ..Default::default()
    };
    Database::open(Path::new(DB), opts)
}

/// Many small commits in an exclusive folder whose journal rotates every few
/// commits: cuts land in appends to a fresh journal, in write-outs, and in
/// appends to a reused (spare) journal file. Every acknowledged commit survives,
/// and at most the one in flight is added.
#[test]
fn power_cut_during_many_small_exclusive_commits() {
    const N: u64 = 14;
    let open_small = |vfs: &SimVfs| {
        Database::open(
            Path::new(DB),
            DbOptions {
                vfs: Some(Arc::new(vfs.clone())),
                recovery_interval: None,
                exclusive: true,
                journal_bytes: 3 << 10,
                ..Default::default()
            },
        )
    };
    let setup = |vfs: &SimVfs| {
        let db = open_small(vfs).unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        tx.create_store::<u64, Vec<u8>>("s", StoreOptions::default())
            .unwrap();
        tx.commit().unwrap();
        db
    };
    let run = |db: &Database| -> u64 {
        for i in 0..N {
            let res = (|| {
                let tx = db.begin(TxMode::ForWriting)?;
                tx.open_store::<u64, Vec<u8>>("s")?
                    .add(&i, &vec![i as u8; 600])?;
                tx.commit()
            })();
            if res.is_err() {
                return i;
            }
        }
        N
    };
    let vfs = SimVfs::new();
    let db = setup(&vfs);
    vfs.reset_op_count();
    assert_eq!(run(&db), N);
    let ops = vfs.op_count();
    drop(db);
    let mut spare_seen = false;
    for k in 0..ops {
        let vfs = SimVfs::new();
        let db = setup(&vfs);
        vfs.reset_op_count();
        vfs.set_fault(Fault::PowerCutAt(k));
        let acked = run(&db);
        spare_seen |= vfs
            .file_names_under(Path::new(DB))
            .iter()
            .any(|p| p.ends_with("journal-spare.wal"));
        drop(db);
        for seed in 0..3u64 {
            let img = if seed == 0 {
                vfs.crash_image_strict()
            } else {
                vfs.crash_image(seed * 31 + k)
            };
            let db = open(&img)
                .unwrap_or_else(|e| panic!("reopen after cut at op {k}, seed {seed}: {e}"));
            let tx = db.begin(TxMode::NoCheck).unwrap();
            let keys: Vec<u64> = tx
                .open_store::<u64, Vec<u8>>("s")
                .unwrap()
                .iter()
                .unwrap()
                .map(|r| r.unwrap().0)
                .collect();
            let n = keys.len() as u64;
            assert_eq!(keys, (0..n).collect::<Vec<_>>(), "cut {k}, seed {seed}");
            assert!(
                n >= acked && n <= acked + 1,
                "cut {k}, seed {seed}: {acked} commits returned Ok, {n} survived"
            );
            drop(tx);
            let r = db.check().unwrap();
            assert!(r.is_ok(), "cut {k}, seed {seed}: {:?}", r.problems);
        }
    }
    assert!(spare_seen, "the journal file was never reused");
    eprintln!("{ops} ops cut");
}
