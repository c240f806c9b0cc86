//! Faults at the commit point, on the simulated file system: a link whose reply
//! was lost (NFS retransmits it and gets "already exists"), and failed syncs and
//! links around it.

use sop::{Database, DbOptions, Error, StoreOptions, TxMode};
use sop_testkit::{Fault, SimVfs};
use std::path::Path;
use std::sync::Arc;

const DB: &str = "/db";

fn open(vfs: &SimVfs) -> Database {
    Database::open(
        DB,
        DbOptions {
            vfs: Some(Arc::new(vfs.clone())),
            recovery_interval: None,
            ..Default::default()
        },
    )
    .unwrap()
}

/// A folder with store "s" holding counter 1 = 10.
fn setup() -> SimVfs {
    let vfs = SimVfs::new();
    let db = open(&vfs);
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx
        .create_store::<u64, u64>("s", StoreOptions::default())
        .unwrap();
    s.add(&1, &10).unwrap();
    tx.commit().unwrap();
    vfs
}

/// Increment the counter: a read-modify-write, so a replay after its own commit
/// would see a different value.
fn increment(db: &Database) -> sop::Result<()> {
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.open_store::<u64, u64>("s")?;
    let v = s.get(&1)?.unwrap();
    s.upsert(&1, &(v + 1))?;
    tx.commit()
}

fn counter(db: &Database) -> u64 {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s = tx.open_store::<u64, u64>("s").unwrap();
    s.get(&1).unwrap().unwrap()
}

/// Ops one increment takes on a fresh copy of `setup()`.
fn ops_of_increment() -> u64 {
    let vfs = setup();
    let db = open(&vfs);
    vfs.reset_op_count();
    increment(&db).unwrap();
    vfs.op_count()
}

/// The path of the I/O error behind `r`, if any.
fn io_path(r: &sop::Result<()>) -> Option<&Path> {
    match r {
        Err(Error::Io { path, .. }) => Some(path),
        Err(Error::CommitOutcomeUnknown { source, .. }) => match &**source {
            Error::Io { path, .. } => Some(path),
            _ => None,
        },
        _ => None,
    }
}

/// The op of an increment that links its record (the one whose failure names a
/// record file in the log).
fn link_op() -> u64 {
    (0..ops_of_increment())
        .find(|&k| {
            let vfs = setup();
            let db = open(&vfs);
            vfs.reset_op_count();
            vfs.set_fault(Fault::IoErrorAt(k));
            let r = increment(&db);
            io_path(&r).is_some_and(|p| {
                p.starts_with("/db/log") && p.extension().is_some_and(|e| e == "rec")
            })
        })
        .expect("an increment links a record")
}

/// The link took effect but reported "already exists": the record under the
/// name is this commit's own. The commit returns Ok, once: one record, the
/// counter one higher (not a false Conflict, not a second commit).
#[test]
fn a_link_reported_as_existing_after_linking_is_this_commits_own() {
    let k = link_op();
    let vfs = setup();
    let db = open(&vfs);
    let head = db.head().unwrap();
    vfs.reset_op_count();
    vfs.set_fault(Fault::LinkThenExistsAt(k));
    let r = increment(&db);
    vfs.set_fault(Fault::None);
    assert!(r.is_ok(), "link at op {k}: {r:?}");
    assert_eq!(db.head().unwrap(), head + 1, "one commit, one record");
    assert_eq!(counter(&db), 11);
    // The handle goes on committing, and a new handle sees the same.
    increment(&db).unwrap();
    drop(db);
    let db = open(&vfs);
    assert_eq!((db.head().unwrap(), counter(&db)), (head + 2, 12));
}

/// A blind write (no read that a replay would see differ) whose link reported
/// "already exists" after linking must not be committed a second time.
#[test]
fn a_blind_write_whose_link_reported_existing_commits_once() {
    let k = link_op();
    let vfs = setup();
    let db = open(&vfs);
    let head = db.head().unwrap();
    vfs.reset_op_count();
    vfs.set_fault(Fault::LinkThenExistsAt(k));
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx.open_store::<u64, u64>("s").unwrap();
    s.upsert(&1, &11).unwrap();
    let r = tx.commit();
    vfs.set_fault(Fault::None);
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(db.head().unwrap(), head + 1, "one commit, one record");
}

/// Another handle's commit is not known durable to this one, so this handle
/// syncs the log folder before linking behind it. Any failed I/O in the log
/// folder around the link (that sync, the link itself, the sync after it)
/// poisons the handle, as a failed fsync anywhere else does: the page cache may
/// claim what the disk lacks, and a later sync may report success.
#[test]
fn a_failed_sync_or_link_in_the_log_poisons_the_handle() {
    let probe = || {
        let vfs = setup();
        let (a, b) = (open(&vfs), open(&vfs));
        increment(&b).unwrap();
        (vfs, a, b)
    };
    let ops = {
        let (vfs, a, _b) = probe();
        vfs.reset_op_count();
        increment(&a).unwrap();
        vfs.op_count()
    };
    let mut log_errors = 0;
    for k in 0..ops {
        let (vfs, a, _b) = probe();
        vfs.reset_op_count();
        vfs.set_fault(Fault::IoErrorAt(k));
        let r = increment(&a);
        vfs.set_fault(Fault::None);
        let in_log = matches!(r, Err(Error::CommitOutcomeUnknown { .. }))
            || io_path(&r).is_some_and(|p| p.starts_with("/db/log"));
        if !in_log {
            continue;
        }
        log_errors += 1;
        let next = increment(&a);
        assert!(
            matches!(next, Err(Error::Poisoned(_))),
            "op {k} failed with {r:?}, and the handle committed again: {next:?}"
        );
        // Nothing was lost or doubled: a new handle sees 11 or 12.
        let c = open(&vfs);
        assert!(matches!(counter(&c), 11 | 12), "op {k}: {}", counter(&c));
    }
    assert!(log_errors >= 2, "{log_errors}");
}

/// The folder of a store's big values is shared by every committer of the
/// process: a failed sync of it may have dropped another commit's blob entry,
/// which a later sync would not report. It poisons the handle like the log's.
#[test]
fn a_failed_sync_of_the_big_value_folder_poisons_the_handle() {
    let put = |db: &Database, v: u8| {
        let tx = db.begin(TxMode::ForWriting)?;
        tx.open_store::<u64, Vec<u8>>("big")?
            .upsert(&1, &vec![v; 100])?;
        tx.commit()
    };
    let fresh = || {
        let vfs = SimVfs::new();
        let db = open(&vfs);
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let o = StoreOptions {
            values: sop::ValuePlacement::Big,
            ..Default::default()
        };
        tx.create_store::<u64, Vec<u8>>("big", o).unwrap();
        tx.commit().unwrap();
        put(&db, 1).unwrap();
        (vfs, db)
    };
    let ops = {
        let (vfs, db) = fresh();
        vfs.reset_op_count();
        put(&db, 2).unwrap();
        vfs.op_count()
    };
    let mut hit = false;
    for k in 0..ops {
        let (vfs, db) = fresh();
        vfs.reset_op_count();
        vfs.set_fault(Fault::IoErrorAt(k));
        let r = put(&db, 2);
        vfs.set_fault(Fault::None);
        let Some(p) = io_path(&r) else { continue };
        if p.parent() != Some(Path::new("/db/blobs")) {
            continue; // a blob file of this transaction's own, or elsewhere
        }
        hit = true;
        let next = put(&db, 3);
        assert!(
            matches!(next, Err(Error::Poisoned(_))),
            "op {k} failed with {r:?}, and the handle committed again: {next:?}"
        );
    }
    assert!(hit, "no op of the commit synced the big-value folder");
}
