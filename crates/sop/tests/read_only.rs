//! `DbOptions::read_only` on a real read-only bind mount (`mount --bind`, then
//! remounted `ro`; the test run is root, as the test command is): the database
//! reads whole, writes and maintenance are refused with `ReadOnlyOpen`, `check`
//! is clean, and a folder a crashed exclusive owner left (journals included) reads
//! its acknowledged commits without anything being repaired.

mod support;

use sop::{Database, DbOptions, Error, StoreOptions, TxMode};
use std::path::{Path, PathBuf};
use support::RoMount;

fn ro() -> DbOptions {
    DbOptions {
        read_only: true,
        ..Default::default()
    }
}

fn fill(db: &Database, from: u64, to: u64) {
    for i in from..to {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx.open_store::<u64, String>("s").unwrap();
        s.add(&i, &format!("v{i}").repeat(20)).unwrap();
        tx.commit().unwrap();
    }
}

fn create(db: &Database) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    tx.create_store::<u64, String>("s", StoreOptions::default())
        .unwrap();
    tx.commit().unwrap();
}

fn assert_reads(db: &Database, n: u64) {
    for mode in [TxMode::NoCheck, TxMode::ForReading] {
        let tx = db.begin(mode).unwrap();
        let s = tx.open_store::<u64, String>("s").unwrap();
        assert_eq!(s.count().unwrap(), n);
        for i in 0..n {
            assert_eq!(s.get(&i).unwrap(), Some(format!("v{i}").repeat(20)), "{i}");
        }
        tx.commit().unwrap();
    }
}

fn assert_refuses_writes(db: &Database) {
    for e in [
        db.begin(TxMode::ForWriting).err(),
        db.reclaim().err(),
        db.recover().err(),
        db.compact().err(),
    ] {
        let e = e.expect("a write on a read-only handle must fail");
        assert!(matches!(e, Error::ReadOnlyOpen(_)), "{e:?}");
        assert!(e.to_string().contains("read-only"), "{e}");
    }
}

/// Every file under `dir` with its bytes: the mount must be left exactly as found.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_database_on_a_read_only_mount_reads_and_refuses_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let db = Database::open(&src, DbOptions::default()).unwrap();
    create(&db);
    fill(&db, 0, 50);
    db.close().unwrap();

    let mnt = RoMount::new(&src, &tmp.path().join("ro"));
    let before = snapshot(&mnt.0);
    // A normal open needs to write (its lock files): it fails, and says why.
    let e = Database::open(&mnt.0, DbOptions::default()).err().unwrap();
    assert!(e.to_string().contains("Read-only file system"), "{e}");
    let db = Database::open(&mnt.0, ro()).unwrap();
    assert_reads(&db, 50);
    assert_refuses_writes(&db);
    let report = db.check().unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    drop(db);
    assert!(
        snapshot(&mnt.0) == before,
        "the read-only open changed the folder"
    );
    // Read-only and exclusive exclude each other.
    let both = DbOptions {
        exclusive: true,
        ..ro()
    };
    assert!(matches!(
        Database::open(&mnt.0, both),
        Err(Error::InvalidOption(_))
    ));
}

#[test]
fn a_crashed_exclusive_folder_reads_its_acknowledged_commits_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let opts = DbOptions {
        exclusive: true,
        journal_bytes: 16 << 10,
        recovery_interval: None,
        ..Default::default()
    };
    let db = Database::open(&src, opts).unwrap();
    create(&db);
    fill(&db, 0, 60);
    // The owner "crashes": it never closes (its journals stay, unreplayed).
    std::mem::forget(db);
    let journals = std::fs::read_dir(&src)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("journal-")
        })
        .count();
    assert!(journals > 0, "the scenario needs a journal left behind");

    let mnt = RoMount::new(&src, &tmp.path().join("ro"));
    let before = snapshot(&mnt.0);
    let db = Database::open(&mnt.0, ro()).unwrap();
    assert_reads(&db, 60);
    assert_refuses_writes(&db);
    drop(db);
    assert!(
        snapshot(&mnt.0) == before,
        "the read-only open repaired something"
    );
}
