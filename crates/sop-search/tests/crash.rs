//! A crash in the middle of indexing: a transaction dropped without commit, and a
//! process killed (abort) in the middle of a transaction. Afterwards the data and
//! the index agree: each holds exactly the committed documents.

use std::path::Path;
use std::process::Command;

use sop::{Database, DbOptions, TxMode};
use sop_search::{IndexConfig, SearchOptions, TextIndex};

fn open(dir: &Path) -> Database {
    Database::open(
        dir,
        DbOptions {
            recovery_interval: None,
            ..DbOptions::default()
        },
    )
    .unwrap()
}

fn setup(dir: &Path) {
    let db = open(dir);
    let tx = db.begin(TxMode::ForWriting).unwrap();
    TextIndex::create(&tx, "ix", IndexConfig::new(&["body"])).unwrap();
    tx.create_store::<u64, String>("docs", Default::default())
        .unwrap();
    tx.commit().unwrap();
}

/// Write documents `ids` (data and index) in one transaction; commit if asked.
fn write(db: &Database, ids: std::ops::Range<u64>, commit: bool) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let index = TextIndex::open(&tx, "ix").unwrap();
    let data = tx.open_store::<u64, String>("docs").unwrap();
    for id in ids {
        let text = format!("document number n{id} about crashes");
        data.upsert(&id, &text).unwrap();
        index.update(&tx, id, &[("body", &text)]).unwrap();
    }
    // Change an earlier document too (its old postings must come back on abort).
    let text = "rewritten words only".to_string();
    data.upsert(&0, &text).unwrap();
    index.update(&tx, 0u64, &[("body", &text)]).unwrap();
    if commit {
        tx.commit().unwrap();
    }
}

/// Data and index hold the same documents, and the index agrees with itself.
fn consistent(db: &Database, want_docs: u64) {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let index = TextIndex::open(&tx, "ix").unwrap();
    let data = tx.open_store::<u64, String>("docs").unwrap();
    let rep = index.verify(&tx).unwrap();
    assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    assert_eq!(rep.docs, want_docs);
    assert_eq!(data.count().unwrap(), want_docs);
    assert_eq!(index.stats(&tx).unwrap().docs, want_docs);
    let all = SearchOptions {
        k: 100_000,
        default_and: false,
    };
    for item in data.iter().unwrap() {
        let (id, text) = item.unwrap();
        assert!(index.contains(&tx, id).unwrap());
        // The document's rarest word finds it.
        let w = text
            .split(' ')
            .find(|w| w.starts_with('n') && w.len() > 1)
            .unwrap_or("rewritten");
        assert!(
            index
                .search(&tx, w, &all)
                .unwrap()
                .iter()
                .any(|h| h.id == id.into()),
            "{w}"
        );
    }
    assert_eq!(
        index.search(&tx, "about", &all).unwrap().len() as u64 + 1,
        want_docs
    );
}

#[test]
fn dropped_transaction_leaves_data_and_index_consistent() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let db = open(dir.path());
    write(&db, 0..50, true);
    consistent(&db, 50);
    // Dropped in the middle: nothing of it may show.
    write(&db, 40..120, false);
    consistent(&db, 50);
    drop(db);
    let db = open(dir.path());
    consistent(&db, 50);
    write(&db, 50..80, true);
    consistent(&db, 80);
}

#[test]
fn child_aborts_mid_transaction() {
    let Ok(dir) = std::env::var("SOP_SEARCH_CRASH_CHILD") else {
        return;
    };
    let db = open(Path::new(&dir));
    write(&db, 0..30, true);
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let index = TextIndex::open(&tx, "ix").unwrap();
    let data = tx.open_store::<u64, String>("docs").unwrap();
    for id in 30..200 {
        let text = format!("document number n{id} about crashes");
        data.upsert(&id, &text).unwrap();
        index.update(&tx, id, &[("body", &text)]).unwrap();
    }
    index.remove(&tx, 5u64).unwrap();
    println!("ABORTING");
    std::process::abort();
}

#[test]
fn killed_process_leaves_data_and_index_consistent() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let st = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_aborts_mid_transaction",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SOP_SEARCH_CRASH_CHILD", dir.path())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!st.success(), "the child must have aborted");
    let db = open(dir.path());
    consistent(&db, 30);
}
