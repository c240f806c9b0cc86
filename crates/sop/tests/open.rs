//! Opening databases: options saved in the folder, bad options, versions, two
//! handles (as two processes would) on one folder.

use sop::{Coordination, Database, DbOptions, Error, StoreOptions, TxMode};
use std::time::Duration;

fn opts() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        ..Default::default()
    }
}

#[test]
fn missing_folder_without_create_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nothing-here");
    let e = Database::open(
        &p,
        DbOptions {
            create: false,
            ..opts()
        },
    )
    .err()
    .unwrap();
    assert!(matches!(e, Error::NotFound(_)), "{e}");
    assert!(e.to_string().contains("nothing-here"));
    assert!(!p.exists(), "a failed open creates nothing");
}

#[test]
fn unknown_format_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(Database::open(dir.path(), opts()).unwrap());
    let cfg = dir.path().join("sop.json");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("\"version\": 1", "\"version\": 99");
    std::fs::write(&cfg, text).unwrap();
    let e = Database::open(dir.path(), opts()).err().unwrap();
    assert!(
        matches!(
            e,
            Error::UnsupportedVersion {
                found: 99,
                supported: 1,
                ..
            }
        ),
        "{e}"
    );
    std::fs::write(&cfg, "{ not json").unwrap();
    assert!(matches!(
        Database::open(dir.path(), opts()),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn saved_coordination_wins_and_a_mismatch_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    drop(Database::open(dir.path(), opts()).unwrap());
    let db = Database::open(
        dir.path(),
        DbOptions {
            coordination: None,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(db.config().coordination, Coordination::Standalone);
    drop(db);
    let e = Database::open(
        dir.path(),
        DbOptions {
            coordination: Some(Coordination::Redis {
                url: "redis://127.0.0.1:1".into(),
            }),
            ..opts()
        },
    )
    .err()
    .unwrap();
    assert!(matches!(e, Error::InvalidOption(_)), "{e}");
}

#[test]
fn bad_store_options_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    for slot in [0usize, 3, 20_001] {
        let e = tx
            .create_store::<u64, u64>(
                "s",
                StoreOptions {
                    slot_length: slot,
                    ..Default::default()
                },
            )
            .err()
            .unwrap();
        assert!(matches!(e, Error::InvalidOption(_)), "{e}");
    }
    tx.create_store::<u64, u64>(
        "s",
        StoreOptions {
            slot_length: 10,
            ..Default::default()
        },
    )
    .unwrap();
    tx.commit().unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let e = tx
        .open_or_create_store::<u64, u64>("s", StoreOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, Error::StoreMismatch { .. }), "{e}");
    let e = tx
        .create_store::<u64, u64>("s", StoreOptions::default())
        .err()
        .unwrap();
    assert!(matches!(e, Error::StoreExists(_)), "{e}");
    assert!(matches!(
        tx.open_store::<u64, u64>("t"),
        Err(Error::StoreNotFound(_))
    ));
    assert_eq!(tx.list_stores().unwrap(), vec!["s".to_string()]);
}

#[test]
fn two_handles_on_one_folder_commit_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let a = Database::open(dir.path(), opts()).unwrap();
    let b = Database::open(dir.path(), opts()).unwrap();
    let tx = a.begin(TxMode::ForWriting).unwrap();
    tx.create_store::<u64, u64>(
        "s",
        StoreOptions {
            slot_length: 1000,
            ..Default::default()
        },
    )
    .unwrap();
    tx.commit().unwrap();
    let writers: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(w, db)| {
            std::thread::spawn(move || {
                for i in 0..100u64 {
                    loop {
                        let tx = db
                            .begin_with(TxMode::ForWriting, Duration::from_secs(30))
                            .unwrap();
                        let s = tx.open_store::<u64, u64>("s").unwrap();
                        s.add(&(w as u64 * 1000 + i), &i).unwrap();
                        match tx.commit() {
                            Ok(()) => break,
                            Err(e) if e.is_conflict() => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    for db in [&a, &b] {
        let tx = db.begin(TxMode::ForReading).unwrap();
        let s = tx.open_store::<u64, u64>("s").unwrap();
        assert_eq!(s.count().unwrap(), 200);
        assert_eq!(s.iter().unwrap().count(), 200);
    }
    assert!(a.check().unwrap().is_ok());
}

#[test]
fn a_missing_log_record_is_reported_not_papered_over() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), opts()).unwrap();
    for i in 0..5u64 {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx
            .open_or_create_store::<u64, u64>("s", StoreOptions::default())
            .unwrap();
        s.add(&i, &i).unwrap();
        tx.commit().unwrap();
    }
    drop(db);
    let victim = dir.path().join("log/00000000/0000000000000003.rec");
    std::fs::remove_file(&victim).unwrap();
    let e = Database::open(dir.path(), opts()).err().unwrap();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");
    assert!(e.to_string().contains("0000000000000003.rec"), "{e}");
    // Nothing was deleted by the failed open: the later records are still there.
    for seq in [4, 5] {
        assert!(dir
            .path()
            .join(format!("log/00000000/{seq:016x}.rec"))
            .exists());
    }
}

fn dump(db: &Database) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let mut out = vec![];
    for name in tx.list_stores().unwrap() {
        let s = tx.open_raw_store(&name).unwrap();
        for r in s
            .range(
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                false,
            )
            .unwrap()
        {
            let (k, v) = r.unwrap();
            out.push((name.clone(), k.to_vec(), v.to_vec()));
        }
        out.push((
            name.clone(),
            b"#count".to_vec(),
            s.count().unwrap().to_le_bytes().to_vec(),
        ));
    }
    out
}

#[test]
fn checkpoints_give_the_same_database_as_replaying_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let o = || DbOptions {
        checkpoint_every: 3,
        ..opts()
    };
    let db = Database::open(dir.path(), o()).unwrap();
    for i in 0..20u64 {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let s = tx
            .open_or_create_store::<u64, u64>(
                "s",
                StoreOptions {
                    slot_length: 4,
                    ..Default::default()
                },
            )
            .unwrap();
        for j in 0..10 {
            s.upsert(&(i * 7 + j), &i).unwrap();
        }
        if i % 4 == 0 {
            s.remove(&(i * 3)).unwrap();
        }
        if i == 10 {
            tx.create_store::<String, String>("t", StoreOptions::default())
                .unwrap();
        }
        if i == 15 {
            tx.drop_store("t").unwrap();
        }
        tx.commit().unwrap();
    }
    let want = dump(&db);
    drop(db);
    let ckpts = dir.path().join("checkpoints");
    let names: Vec<_> = std::fs::read_dir(&ckpts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        names.len(),
        2,
        "the two newest checkpoints are kept: {names:?}"
    );
    let db = Database::open(dir.path(), o()).unwrap();
    assert_eq!(dump(&db), want, "from a checkpoint");
    assert!(db.check().unwrap().is_ok());
    drop(db);
    // A damaged newest checkpoint is skipped.
    let mut newest = names.clone();
    newest.sort();
    let p = newest.last().unwrap();
    let mut bytes = std::fs::read(p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(p, bytes).unwrap();
    let db = Database::open(dir.path(), o()).unwrap();
    assert_eq!(dump(&db), want, "from the older checkpoint");
    drop(db);
    for n in &names {
        std::fs::remove_file(n).unwrap();
    }
    let db = Database::open(
        dir.path(),
        DbOptions {
            checkpoint_every: 0,
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(dump(&db), want, "from the log alone");
}

#[test]
fn a_transaction_over_its_memory_budget_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(
        dir.path(),
        DbOptions {
            txn_memory_budget: 64 << 10,
            ..opts()
        },
    )
    .unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let s = tx
        .create_store::<u64, Vec<u8>>("s", StoreOptions::default())
        .unwrap();
    let mut added = 0u64;
    let err = loop {
        match s.add(&added, &vec![0u8; 1000]) {
            Ok(_) => added += 1,
            Err(e) => break e,
        }
        assert!(added < 1000, "the budget was never enforced");
    };
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(added > 10, "{added} items fit in 64 KiB");
    // The failed add changed nothing; what was staged before it commits.
    assert_eq!(s.count().unwrap(), added);
    tx.commit().unwrap();
    let tx = db.begin(TxMode::ForReading).unwrap();
    assert_eq!(
        tx.open_store::<u64, Vec<u8>>("s").unwrap().count().unwrap(),
        added
    );
}

/// An opener stalled in the middle of its open (it holds `open.lock`) must not
/// make another opener fail: that one waits, and opens once the first is done.
/// `InUse` means an exclusive owner holds the folder, and only that: then it
/// comes at once. (Under load, a slow opener once made others fail with "another
/// process has it open exclusively".)
#[test]
fn a_slow_opener_never_makes_another_fail_and_in_use_means_exclusive() {
    use sop_testkit::{HookOp, SimVfs};
    use std::sync::{mpsc, Arc, Mutex};
    use std::time::Instant;
    let vfs = SimVfs::new();
    let o = || DbOptions {
        vfs: Some(Arc::new(vfs.clone())),
        ..opts()
    };
    drop(Database::open("/data/db", o()).unwrap());
    // The opener in thread "stalled" sleeps 4 s right after taking open.lock
    // (at its process lock), longer than openers used to wait.
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(Some(tx));
    vfs.set_hook(Some(Arc::new(move |op| {
        if let HookOp::TryLock(p) = op {
            let stalled = std::thread::current().name() == Some("stalled");
            if stalled && p.to_string_lossy().contains("/procs/") {
                if let Some(tx) = tx.lock().unwrap().take() {
                    tx.send(()).unwrap();
                    std::thread::sleep(Duration::from_secs(4));
                }
            }
        }
    })));
    let slow = std::thread::Builder::new()
        .name("stalled".into())
        .spawn({
            let o = o();
            move || Database::open("/data/db", o).map(drop)
        })
        .unwrap();
    rx.recv().unwrap();
    let t = Instant::now();
    let db = Database::open("/data/db", o())
        .unwrap_or_else(|e| panic!("an opener failed because another was slow: {e}"));
    assert!(
        t.elapsed() >= Duration::from_secs(3),
        "it did wait for the slow one"
    );
    slow.join().unwrap().unwrap();
    drop(db);
    vfs.set_hook(None);

    // An exclusive owner: InUse, at once, for either kind of opener.
    let owner = Database::open(
        "/data/db",
        DbOptions {
            exclusive: true,
            ..o()
        },
    )
    .unwrap();
    for exclusive in [false, true] {
        let t = Instant::now();
        let e = Database::open("/data/db", DbOptions { exclusive, ..o() })
            .expect_err("the folder is held exclusively");
        assert!(matches!(e, Error::InUse(..)), "{e}");
        assert!(e.to_string().contains("exclusively"), "{e}");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "InUse came only after {:?}",
            t.elapsed()
        );
    }
    drop(owner);
    // Closed: the folder opens again, and no owner is named any more.
    drop(Database::open("/data/db", o()).unwrap());
    assert!(!sop::Vfs::exists(&vfs, std::path::Path::new("/data/db/open.owner")).unwrap());
}

/// `Database::exists` tells a database folder from a missing, empty or foreign one.
#[test]
fn exists_tells_a_database_folder_from_others() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    assert!(!Database::exists(&db).unwrap(), "a missing folder");
    std::fs::create_dir(&db).unwrap();
    std::fs::write(db.join("notes.txt"), b"not a database").unwrap();
    assert!(!Database::exists(&db).unwrap(), "a folder of other files");
    Database::create_config(&db, Coordination::Standalone).unwrap();
    assert!(Database::exists(&db).unwrap(), "after create_config");
    let other = dir.path().join("other");
    Database::open(&other, opts()).unwrap().close().unwrap();
    assert!(
        Database::exists(&other).unwrap(),
        "after an open that created it"
    );
}
