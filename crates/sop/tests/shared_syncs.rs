//! Processes of one shared folder share its directory syncs through the sync
//! mark (`synced.seq`, ARCHITECTURE §4 step 6): two handles (what two
//! processes would be) taking turns sync the log folder about once per commit,
//! not twice, and a power cut after any commit keeps every acknowledged one.

use sop::{Database, DbOptions, TxMode};
use sop_testkit::{HookOp, SimVfs};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const DB: &str = "/data/db";

fn open(vfs: &SimVfs) -> Database {
    let opts = DbOptions {
        vfs: Some(Arc::new(vfs.clone())),
        recovery_interval: None,
        ..Default::default()
    };
    Database::open(Path::new(DB), opts).unwrap()
}

fn put(db: &Database, k: u64) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.open_store::<u64, u64>("s").unwrap();
    s.upsert(&k, &(k * 10)).unwrap();
    tx.commit().unwrap();
}

fn items(db: &Database) -> Vec<(u64, u64)> {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s = tx.open_store::<u64, u64>("s").unwrap();
    s.iter().unwrap().map(|i| i.unwrap()).collect()
}

#[test]
fn two_processes_taking_turns_sync_the_log_folder_once_per_commit() {
    let vfs = SimVfs::new();
    let (a, b) = (open(&vfs), open(&vfs));
    {
        let tx = a.begin(TxMode::ForWriting).unwrap();
        tx.create_store::<u64, u64>("s", Default::default())
            .unwrap();
        tx.commit().unwrap();
    }
    let log_syncs = Arc::new(AtomicU64::new(0));
    let n = log_syncs.clone();
    vfs.set_hook(Some(Arc::new(move |op| {
        if let HookOp::SyncDir(p) = op {
            if p.starts_with(Path::new(DB).join("log")) {
                n.fetch_add(1, Ordering::SeqCst);
            }
        }
    })));
    const COMMITS: u64 = 40;
    let mut want = Vec::new();
    for k in 0..COMMITS {
        put(if k % 2 == 0 { &a } else { &b }, k);
        want.push((k, k * 10));
        // A power cut now keeps every commit so far.
        let after = open(&vfs.crash_image(k));
        assert_eq!(items(&after), want, "after commit {k}");
        assert!(after.check().unwrap().is_ok());
    }
    vfs.set_hook(None);
    let syncs = log_syncs.load(Ordering::SeqCst);
    // Without the mark each commit synced twice: the other handle's record
    // behind it (unknown to be durable), then its own.
    assert!(
        syncs <= COMMITS + 2,
        "{syncs} syncs of the log folder for {COMMITS} commits taking turns"
    );
    assert_eq!(items(&a), want);
    assert_eq!(items(&b), want);
}
