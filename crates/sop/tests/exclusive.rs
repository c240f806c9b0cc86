//! Exclusive mode (`DbOptions::exclusive`): who may open the folder, and commits
//! through the journal on the real file system (crash and kill tests are in
//! `crash.rs` and `kill.rs`).

mod support;

use sop::{Coordination, Database, DbOptions, Error, StoreOptions, TxMode};
use std::path::Path;
use std::time::Duration;
use support::{dump, opts};

fn excl() -> DbOptions {
    DbOptions {
        exclusive: true,
        // Rotate often, so journals are sealed and written out during the tests.
        journal_bytes: 32 << 10,
        ..opts()
    }
}

fn journals(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            n.to_string_lossy().starts_with("journal-")
        })
        .count()
}

fn records(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("log").join("00000000"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Record names that are links to a record pack, and the distinct packs.
fn packed_names(dir: &Path) -> (usize, usize) {
    use std::os::unix::fs::MetadataExt;
    let mut names = 0;
    let mut inodes = std::collections::HashSet::new();
    for e in std::fs::read_dir(dir.join("log").join("00000000")).unwrap() {
        let p = e.unwrap().path();
        let head = std::fs::read(&p).unwrap();
        if head.starts_with(b"SOPPACK") {
            names += 1;
            inodes.insert(std::fs::metadata(&p).unwrap().ino());
        }
    }
    (names, inodes.len())
}

fn fill(db: &Database, from: u64, to: u64) {
    for i in from..to {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx.open_store::<u64, String>("s").unwrap();
        s.add(&i, &format!("v{i}").repeat(30)).unwrap();
        tx.commit().unwrap();
    }
}

fn create(db: &Database) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    tx.create_store::<u64, String>(
        "s",
        StoreOptions {
            slot_length: 16,
            ..Default::default()
        },
    )
    .unwrap();
    tx.commit().unwrap();
}

#[test]
fn commits_survive_rotation_and_reopen_in_either_mode() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), excl()).unwrap();
    create(&db);
    fill(&db, 0, 400);
    // Journals were sealed and their records written out as files meanwhile.
    assert!(records(dir.path()) > 0, "no record was written out");
    assert!(db.check().unwrap().is_ok(), "check of the open database");
    let before = dump(&db);
    assert_eq!(before.len(), 400);
    drop(db);
    // A clean close writes every journaled record out and removes the journal.
    assert_eq!(journals(dir.path()), 0);
    assert_eq!(records(dir.path()), 401);
    // Written out into record packs: many names to each pack file.
    let (names, packs) = packed_names(dir.path());
    assert!(
        names > 300 && packs * 10 < names,
        "{names} names, {packs} packs"
    );
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(dump(&db), before);
    assert!(db.check().unwrap().is_ok());
    fill(&db, 400, 410);
    drop(db);
    let db = Database::open(dir.path(), excl()).unwrap();
    assert_eq!(dump(&db).len(), 410);
}

/// A damaged record pack (its index) is an error naming a record that links to
/// it, never a panic or wrong items, and `check` reports it.
#[test]
fn a_damaged_record_pack_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), excl()).unwrap();
    create(&db);
    fill(&db, 0, 200);
    drop(db);
    let pack = std::fs::read_dir(dir.path().join("log").join("00000000"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read(p).unwrap().starts_with(b"SOPPACK"))
        .expect("a record pack");
    let mut bytes = std::fs::read(&pack).unwrap();
    let n = bytes.len();
    // A byte of the last index entry.
    bytes[n - 32 - 3] ^= 0x20;
    std::fs::write(&pack, &bytes).unwrap();
    let err = match Database::open(dir.path(), opts()) {
        Err(e) => e,
        Ok(db) => match db.check() {
            Ok(r) => {
                assert!(!r.is_ok(), "check found nothing");
                return;
            }
            Err(e) => e,
        },
    };
    assert!(
        matches!(err, Error::Corrupt { .. }) && err.to_string().contains(".rec"),
        "{err}"
    );
}

/// Compaction frees record packs: a pack is judged by its dead share as a whole,
/// so a few live records in it do not keep it, and after the same work an
/// exclusive folder ends up about as small as a shared one.
#[test]
fn compaction_frees_mostly_dead_record_packs() {
    let run = |o: DbOptions| -> (u64, u64) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path(), o.clone()).unwrap();
        create(&db);
        fill(&db, 0, 300);
        // Each key rewritten but one in fifty: most records die, a few stay live.
        for i in (0..300u64).filter(|i| i % 50 != 0) {
            let tx = db.begin(TxMode::ForWriting).unwrap();
            let s = tx.open_store::<u64, String>("s").unwrap();
            s.update(&i, &"w".repeat(40)).unwrap();
            tx.commit().unwrap();
        }
        let before = support::folder_bytes(dir.path());
        db.compact().unwrap();
        if o.exclusive {
            // The journal was written out and its spare removed: only the new
            // active journal is left.
            assert_eq!(journals(dir.path()), 1, "journal files after compaction");
        }
        let want = dump(&db);
        drop(db);
        let after = support::folder_bytes(dir.path());
        let db = Database::open(dir.path(), opts()).unwrap();
        assert_eq!(dump(&db), want);
        assert!(db.check().unwrap().is_ok());
        (before, after)
    };
    let (shared_before, shared) = run(opts());
    assert!(
        shared * 3 < shared_before,
        "shared: {shared_before} -> {shared} bytes"
    );
    // Journals rotated often (records written out into packs during the churn),
    // and a journal that never fills (every record still in it at compaction).
    for o in [
        excl(),
        DbOptions {
            journal_bytes: 64 << 20,
            ..excl()
        },
    ] {
        let jb = o.journal_bytes;
        let (excl_before, excl) = run(o);
        assert!(
            excl * 3 < excl_before,
            "exclusive (journal_bytes {jb}): {excl_before} -> {excl} bytes"
        );
        assert!(
            excl < shared * 2,
            "exclusive (journal_bytes {jb}) {excl} bytes, shared {shared} bytes"
        );
    }
}

/// A journal file is grown ahead of its frames (by zeros), so most commits write
/// into bytes the file already holds and their sync needs no inode update; the
/// zeros are no frame, so reopening sees exactly the commits.
#[test]
fn the_journal_grows_ahead_of_its_frames() {
    let dir = tempfile::tempdir().unwrap();
    let o = DbOptions {
        journal_bytes: 8 << 20,
        ..excl()
    };
    let db = Database::open(dir.path(), o.clone()).unwrap();
    create(&db);
    let journal_len = || {
        let p = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "wal"))
            .expect("a journal");
        std::fs::metadata(p).unwrap().len()
    };
    fill(&db, 0, 1);
    let first = journal_len();
    assert!(
        first >= 1 << 20,
        "journal is {first} bytes after one commit"
    );
    fill(&db, 1, 200);
    assert_eq!(journal_len(), first, "200 small commits grew the file");
    let want = dump(&db);
    assert_eq!(want.len(), 200);
    drop(db);
    let db = Database::open(dir.path(), o).unwrap();
    assert_eq!(dump(&db), want);
    assert!(db.check().unwrap().is_ok());
}

#[test]
fn an_exclusive_folder_admits_nobody_else() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), excl()).unwrap();
    create(&db);
    for o in [opts(), excl()] {
        match Database::open(dir.path(), o) {
            Err(Error::InUse(p, why)) => {
                assert_eq!(p, dir.path());
                assert!(why.contains("exclusive"), "{why}");
            }
            Err(e) => panic!("wrong error: {e}"),
            Ok(_) => panic!("a second handle opened an exclusive folder"),
        }
    }
    // The failed opens changed nothing.
    fill(&db, 0, 3);
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(dump(&db).len(), 3);
}

#[test]
fn an_exclusive_open_waits_for_nobody_and_fails_if_others_are_in() {
    let dir = tempfile::tempdir().unwrap();
    let shared = Database::open(dir.path(), opts()).unwrap();
    create(&shared);
    match Database::open(dir.path(), excl()) {
        Err(Error::InUse(_, why)) => assert!(why.contains("other processes"), "{why}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("exclusive open while another handle has the folder"),
    }
    // A second shared handle is still welcome, and the first keeps working.
    let other = Database::open(dir.path(), opts()).unwrap();
    fill(&shared, 0, 2);
    assert_eq!(dump(&other).len(), 2);
    drop(shared);
    drop(other);
    let db = Database::open(dir.path(), excl()).unwrap();
    assert_eq!(dump(&db).len(), 2);
}

#[test]
fn wrong_exclusive_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = DbOptions {
        journal_bytes: 0,
        ..excl()
    };
    assert!(matches!(
        Database::open(dir.path(), o),
        Err(Error::InvalidOption(_))
    ));
    let o = DbOptions {
        coordination: Some(Coordination::Redis {
            url: "redis://127.0.0.1:1/".into(),
        }),
        ..excl()
    };
    match Database::open(dir.path().join("c"), o) {
        Err(Error::InvalidOption(m)) => assert!(m.contains("Standalone"), "{m}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("exclusive Clustered database opened"),
    }
    assert!(
        !dir.path().join("c").exists(),
        "a refused open created a folder"
    );
}

#[test]
fn concurrent_committers_share_journal_syncs_and_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let o = DbOptions {
        recovery_interval: Some(Duration::from_secs(3600)),
        ..excl()
    };
    let db = Database::open(dir.path(), o).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    tx.create_store::<String, u64>("c", StoreOptions::default())
        .unwrap();
    tx.commit().unwrap();
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let db = db.clone();
            s.spawn(move || {
                for i in 0..100u64 {
                    loop {
                        let tx = db.begin(TxMode::ForWriting).unwrap();
                        let c = tx.open_store::<String, u64>("c").unwrap();
                        let n = c.get(&"n".to_string()).unwrap().unwrap_or(0);
                        c.upsert(&"n".to_string(), &(n + 1)).unwrap();
                        c.add(&format!("t{t}-{i}"), &i).unwrap();
                        match tx.commit() {
                            Ok(()) => break,
                            Err(e) if e.is_conflict() => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
    });
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let c = tx.open_store::<String, u64>("c").unwrap();
    assert_eq!(
        c.get(&"n".to_string()).unwrap(),
        Some(400),
        "an increment was lost"
    );
    drop(tx);
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let c = tx.open_store::<String, u64>("c").unwrap();
    assert_eq!(c.get(&"n".to_string()).unwrap(), Some(400));
    assert_eq!(c.count().unwrap(), 401);
}

#[test]
fn compaction_and_reclaim_work_on_an_open_exclusive_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), excl()).unwrap();
    create(&db);
    fill(&db, 0, 300);
    for i in 0..300u64 {
        if i % 3 != 0 {
            let tx = db.begin(TxMode::ForWriting).unwrap();
            let s = tx.open_store::<u64, String>("s").unwrap();
            s.remove(&i).unwrap();
            tx.commit().unwrap();
        }
    }
    let before = dump(&db);
    db.compact().unwrap();
    assert_eq!(dump(&db), before);
    assert!(db.check().unwrap().is_ok());
    drop(db);
    let db = Database::open(dir.path(), opts()).unwrap();
    assert_eq!(dump(&db), before);
    assert!(db.check().unwrap().is_ok());
}
