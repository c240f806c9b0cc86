//! A full volume (the simulated file system's `Fault::DiskFull`: every write of
//! file bytes fails with ENOSPC) must never cost data, must say "disk full", and
//! must leave the database readable, even when a crashed exclusive owner left a
//! journal that cannot be replayed without space.

use sop::{Database, DbOptions, Error, StoreOptions, TxMode};
use sop_testkit::{Fault, SimVfs};
use std::path::Path;
use std::sync::Arc;

const DB: &str = "/data/db";

fn opts(vfs: &SimVfs, exclusive: bool) -> DbOptions {
    DbOptions {
        vfs: Some(Arc::new(vfs.clone())),
        recovery_interval: None,
        exclusive,
        journal_bytes: 16 << 10,
        ..Default::default()
    }
}

fn put(db: &Database, i: u64) -> sop::Result<()> {
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.open_store::<u64, String>("s")?;
    s.add(&i, &format!("{i:06}").repeat(20))?;
    tx.commit()
}

fn assert_items(db: &Database, n: u64) {
    let tx = db.begin(TxMode::ForReading).unwrap();
    let s = tx.open_store::<u64, String>("s").unwrap();
    for i in 0..n {
        assert_eq!(
            s.get(&i).unwrap(),
            Some(format!("{i:06}").repeat(20)),
            "item {i}"
        );
    }
    assert_eq!(s.count().unwrap(), n);
    tx.commit().unwrap();
}

#[test]
fn a_full_disk_leaves_an_exclusive_folder_readable_and_loses_nothing() {
    let vfs = SimVfs::new();
    let db = Database::open(Path::new(DB), opts(&vfs, true)).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    tx.create_store::<u64, String>("s", StoreOptions::default())
        .unwrap();
    tx.commit().unwrap();
    // Enough commits that several journals were sealed and written out, and the
    // active one holds some.
    let n = 100;
    for i in 0..n {
        put(&db, i).unwrap();
    }

    // The volume fills up: the next commit fails, and says why; so does every
    // later use of the handle.
    vfs.set_fault(Fault::DiskFull);
    let err = put(&db, n).unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    match db.begin(TxMode::ForWriting) {
        Err(Error::Poisoned(why)) => assert!(why.contains("disk full"), "{why}"),
        other => panic!("expected a poisoned handle, got {:?}", other.err()),
    }
    // The owner dies with the disk still full: its journal stays.
    drop(db);
    let image = vfs.crash_image_strict();
    image.set_fault(Fault::DiskFull);
    let journals = image
        .file_names_under(Path::new(DB))
        .iter()
        .filter(|p| p.to_string_lossy().contains("journal-"))
        .count();
    assert!(journals > 0, "the scenario needs a journal left behind");

    // Opening while the disk is full works, in either mode, and reads every
    // acknowledged commit; writes and maintenance are refused with "disk full".
    for exclusive in [false, true] {
        let db = Database::open(Path::new(DB), opts(&image, exclusive)).unwrap();
        assert_items(&db, n);
        let tx = db.begin(TxMode::NoCheck).unwrap();
        assert_eq!(
            tx.open_store::<u64, String>("s").unwrap().count().unwrap(),
            n
        );
        drop(tx);
        for e in [
            db.begin(TxMode::ForWriting).err(),
            db.reclaim().err(),
            db.recover().err(),
        ] {
            let e = e.expect("a write on a full disk must fail");
            assert!(matches!(e, Error::DiskFull { .. }), "{e:?}");
        }
        let report = db.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
    }

    // Space is freed: the next open replays the journal, and writes work again.
    image.set_fault(Fault::None);
    let db = Database::open(Path::new(DB), opts(&image, false)).unwrap();
    assert_items(&db, n);
    put(&db, n).unwrap();
    assert_items(&db, n + 1);
    assert!(db.check().unwrap().is_ok());
    drop(db);
    let left = image
        .file_names_under(Path::new(DB))
        .iter()
        .filter(|p| p.to_string_lossy().contains("journal-"))
        .count();
    assert_eq!(left, 0, "the journal was replayed and removed");
}
