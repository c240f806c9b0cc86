//! Concurrent indexers of different documents: two threads, then two processes
//! (this test binary run again as a child). Every document shares hot terms
//! ("common", "shared"): the in-flight merge must let every batch commit, and no
//! posting or document may be lost.

use std::path::Path;
use std::process::Command;
use std::sync::Barrier;

use sop::{Database, DbOptions, TxMode};
use sop_search::{IndexConfig, SearchOptions, TextIndex};

const PER_WRITER: u64 = 1000;
const BATCH: u64 = 10;

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

fn create(db: &Database) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    TextIndex::create(&tx, "ix", IndexConfig::new(&["body"])).unwrap();
    tx.create_store::<u64, String>("docs", Default::default())
        .unwrap();
    tx.commit().unwrap();
}

fn body(id: u64) -> String {
    format!("common shared words w{id} and more common text")
}

/// Index writer `w`'s documents in batches; returns how many commits were retried.
/// With a barrier, the two writers begin each transaction together and commit
/// together, so each commit runs against the other's: the second must merge.
fn writer(db: &Database, w: u64, sync: Option<&Barrier>) -> u64 {
    let mut retries = 0;
    let mut start = w * PER_WRITER;
    while start < (w + 1) * PER_WRITER {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        if let Some(b) = sync {
            b.wait();
        }
        let index = TextIndex::open(&tx, "ix").unwrap();
        let data = tx.open_store::<u64, String>("docs").unwrap();
        let mut b = index.batch(&tx).unwrap();
        for id in start..start + BATCH {
            let text = body(id);
            data.add(&id, &text).unwrap();
            assert!(b.add(id, &[("body", &text)]).unwrap());
        }
        if let Some(b) = sync {
            b.wait();
        }
        match tx.commit() {
            Ok(()) => start += BATCH,
            Err(e) if e.is_conflict() => retries += 1,
            Err(e) => panic!("commit: {e}"),
        }
    }
    retries
}

fn check(db: &Database, writers: u64) {
    let n = writers * PER_WRITER;
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let index = TextIndex::open(&tx, "ix").unwrap();
    assert_eq!(index.stats(&tx).unwrap().docs, n);
    assert_eq!(index.stats(&tx).unwrap().total_len, vec![8 * n]);
    let all = SearchOptions {
        k: 1_000_000,
        default_and: false,
    };
    assert_eq!(index.search(&tx, "common", &all).unwrap().len() as u64, n);
    assert_eq!(
        index.search(&tx, "+shared +words", &all).unwrap().len() as u64,
        n
    );
    for id in 0..n {
        let hits = index.search(&tx, &format!("w{id}"), &all).unwrap();
        assert_eq!(hits.len(), 1, "w{id}");
        assert_eq!(hits[0].id, id.into());
    }
    let rep = index.verify(&tx).unwrap();
    assert!(rep.problems.is_empty(), "{:?}", rep.problems);
    assert_eq!(rep.postings, n * 7);
    assert_eq!(
        tx.open_store::<u64, String>("docs")
            .unwrap()
            .count()
            .unwrap(),
        n
    );
}

#[test]
fn two_threads_index_different_documents() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    create(&db);
    let barrier = Barrier::new(2);
    let retries: Vec<u64> = std::thread::scope(|s| {
        let h: Vec<_> = (0..2)
            .map(|w| {
                s.spawn({
                    let (db, b) = (&db, &barrier);
                    move || writer(db, w, Some(b))
                })
            })
            .collect();
        h.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!("retries per writer: {retries:?}");
    // Different documents never conflict: every commit merges in flight.
    assert_eq!(retries, vec![0, 0]);
    check(&db, 2);
}

/// The control: the same lock-step writers, but each batch reads the statistics
/// (which the other's batch changes): commits do conflict, and retried, still
/// lose nothing. Shows the lock-step really overlaps the transactions.
#[test]
fn reading_the_statistics_in_the_write_path_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    create(&db);
    let retries: u64 = std::thread::scope(|s| {
        let barrier = std::sync::Arc::new(Barrier::new(2));
        let h: Vec<_> = (0..2)
            .map(|w| {
                let (db, b) = (&db, barrier.clone());
                s.spawn(move || probe_then_write(db, w, &b))
            })
            .collect();
        h.into_iter().map(|h| h.join().unwrap()).sum()
    });
    eprintln!("conflicts: {retries}");
    assert!(retries > 0);
    check(&db, 2);
}

/// Ten lock-step batches reading the statistics, then the rest without the barrier.
fn probe_then_write(db: &Database, w: u64, b: &Barrier) -> u64 {
    let mut retries = 0;
    for round in 0..10 {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        b.wait();
        let index = TextIndex::open(&tx, "ix").unwrap();
        index.stats(&tx).unwrap();
        let id = 100_000 + w * 10 + round;
        index.add(&tx, id, &[("body", "probe")]).unwrap();
        b.wait();
        match tx.commit() {
            Ok(()) => {}
            Err(e) if e.is_conflict() => retries += 1,
            Err(e) => panic!("commit: {e}"),
        }
    }
    // Remove what committed, so `check` sees only the writers' documents.
    loop {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let index = TextIndex::open(&tx, "ix").unwrap();
        let mut batch = index.batch(&tx).unwrap();
        for round in 0..10 {
            batch.remove(100_000 + w * 10 + round).unwrap();
        }
        if tx.commit().is_ok() {
            break;
        }
    }
    retries + writer(db, w, None)
}

/// The child's body: index one writer's share and exit (only when run by the parent).
#[test]
fn child_writer() {
    let Ok(arg) = std::env::var("SOP_SEARCH_CHILD") else {
        return;
    };
    let (dir, w) = arg.split_once('|').unwrap();
    let db = open(Path::new(dir));
    let retries = writer(&db, w.parse().unwrap(), None);
    println!("RETRIES={retries}");
}

#[test]
fn two_processes_index_different_documents() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = open(dir.path());
        create(&db);
    }
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|w| {
            Command::new(&exe)
                .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
                .env("SOP_SEARCH_CHILD", format!("{}|{w}", dir.path().display()))
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut retries = 0;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        let s = String::from_utf8_lossy(&out.stdout);
        let r = s
            .lines()
            .find_map(|l| l.split("RETRIES=").nth(1))
            .unwrap_or_else(|| panic!("the child did not run: {s}"));
        retries += r.trim().parse::<u64>().unwrap();
    }
    eprintln!("retries: {retries}");
    assert_eq!(retries, 0);
    let db = open(dir.path());
    check(&db, 2);
}
