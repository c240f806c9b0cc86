//! What the engine tests over cutfs share: the commits the writers make, and the
//! verification after a cut (every acknowledged commit present, `check` clean).
#![allow(dead_code)]

use sop::{Database, DbOptions, StoreOptions, TxMode, ValuePlacement};
use sop_cutfs::{CutFs, Mounted};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub fn mount() -> (tempfile::TempDir, Mounted) {
    mount_with(CutFs::new())
}

pub fn mount_with(fs: CutFs) -> (tempfile::TempDir, Mounted) {
    let dir = tempfile::tempdir().unwrap();
    let m = fs.mount(dir.path()).unwrap_or_else(|e| {
        panic!("FUSE must mount for these tests (scripts/test.sh installs what it needs): {e}")
    });
    (dir, m)
}

/// A key names the writer and its commit number: `writer << 32 | i`.
pub fn key(writer: u64, i: u64) -> u64 {
    (writer << 32) | i
}

/// Each writer's own "latest" key, rewritten by every commit of that writer (so
/// its Big value's previous blob is released each time).
pub fn last_key(writer: u64) -> u64 {
    key(writer, u32::MAX as u64)
}

/// A value stored in a blob file of its own.
pub fn big(k: u64) -> Vec<u8> {
    let mut v = k.to_le_bytes().repeat(48);
    v.push(k as u8);
    v
}

/// Create the stores the writers use (in a fresh database).
pub fn create_stores(db: &Database) {
    let tx = db.begin(TxMode::ForWriting).unwrap();
    // Small nodes: commits split and rewrite several nodes.
    let small = StoreOptions {
        slot_length: 8,
        ..Default::default()
    };
    tx.create_store::<u64, u64>("items", small).unwrap();
    let bigs = StoreOptions {
        values: ValuePlacement::Big,
        ..Default::default()
    };
    tx.create_store::<u64, Vec<u8>>("bigs", bigs).unwrap();
    tx.commit().unwrap();
}

/// Commit `i` of `writer`: item `k -> k`, a Big value `big(k)`, and the writer's
/// latest pointing at `i` (with `big(i)` as its Big value).
pub fn commit_one(db: &Database, writer: u64, i: u64) -> sop::Result<()> {
    let k = key(writer, i);
    let tx = db.begin(TxMode::ForWriting)?;
    let items = tx.open_store::<u64, u64>("items")?;
    items.upsert(&k, &k)?;
    items.upsert(&last_key(writer), &i)?;
    let bigs = tx.open_store::<u64, Vec<u8>>("bigs")?;
    bigs.upsert(&k, &big(k))?;
    bigs.upsert(&last_key(writer), &big(i))?;
    tx.commit()
}

/// Commit `first..until` until an error that is not a conflict; call `ack(i)`
/// after each commit returned Ok. Returns the error that stopped the writer, or
/// "stopped" at `until`.
pub fn write_until_error(
    db: &Database,
    writer: u64,
    first: u64,
    mut ack: impl FnMut(u64),
    until: u64,
) -> String {
    let mut i = first;
    loop {
        if i >= until {
            return "stopped".into();
        }
        match commit_one(db, writer, i) {
            Ok(()) => {
                ack(i);
                i += 1;
            }
            Err(e) if e.is_conflict() => continue,
            Err(e) => return e.to_string(),
        }
    }
}

/// The first commit number a writer should use next, from what the database holds.
pub fn next_i(db: &Database, writer: u64) -> u64 {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let items = tx.open_store::<u64, u64>("items").unwrap();
    items.get(&last_key(writer)).unwrap().map_or(0, |i| i + 1)
}

/// Every acknowledged commit (`acked[writer]`) must be present with its values,
/// each writer's latest must be at least its newest acknowledged commit and agree
/// with its Big value, and `check` must find nothing. Returns a description of
/// every failure (empty: all good).
pub fn verify(db: &Database, acked: &BTreeMap<u64, Vec<u64>>) -> Vec<String> {
    let mut faults = Vec::new();
    let tx = match db.begin(TxMode::NoCheck) {
        Ok(tx) => tx,
        Err(e) => return vec![format!("begin after the cut: {e}")],
    };
    let items = tx.open_store::<u64, u64>("items").unwrap();
    let bigs = tx.open_store::<u64, Vec<u8>>("bigs").unwrap();
    for (&w, is) in acked {
        let mut missing = Vec::new();
        for &i in is {
            let k = key(w, i);
            match (items.get(&k), bigs.get(&k)) {
                (Ok(Some(v)), Ok(Some(b))) if v == k && b == big(k) => {}
                (a, b) => missing.push(format!(
                    "i={i} (item {}, big value {})",
                    match a {
                        Ok(Some(v)) if v == k => "ok".to_string(),
                        Ok(Some(v)) => format!("wrong {v}"),
                        Ok(None) => "missing".into(),
                        Err(e) => format!("error: {e}"),
                    },
                    match b {
                        Ok(Some(b)) if b == big(k) => "ok".to_string(),
                        Ok(Some(_)) => "wrong".into(),
                        Ok(None) => "missing".into(),
                        Err(e) => format!("error: {e}"),
                    }
                )),
            }
        }
        if !missing.is_empty() {
            let shown: Vec<_> = missing.iter().take(8).cloned().collect();
            faults.push(format!(
                "writer {w}: {} of {} acknowledged commits lost or damaged: {}{}",
                missing.len(),
                is.len(),
                shown.join(", "),
                if missing.len() > 8 { ", ..." } else { "" }
            ));
        }
        let newest = is.iter().max().copied();
        match (items.get(&last_key(w)), bigs.get(&last_key(w))) {
            (Ok(l), Ok(b)) => {
                if l < newest {
                    faults.push(format!(
                        "writer {w}: latest is {l:?}, older than its newest acknowledged commit {newest:?}"
                    ));
                }
                if l.map(big) != b {
                    faults.push(format!(
                        "writer {w}: latest {l:?} and its Big value disagree (torn commit)"
                    ));
                }
            }
            (a, b) => faults.push(format!(
                "writer {w}: reading latest: {a:?} / {:?}",
                b.map(|v| v.map(|v| v.len()))
            )),
        }
    }
    drop(tx);
    match db.check() {
        Ok(r) if r.is_ok() => {}
        Ok(r) => faults.push(format!("check: {}", r.problems.join("; "))),
        Err(e) => faults.push(format!("check failed: {e}")),
    }
    faults
}

/// Names in `dir` starting with `journal-`.
pub fn journal_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("journal-"))
        .collect();
    v.sort();
    v
}

pub fn exclusive(journal_bytes: u64) -> DbOptions {
    DbOptions {
        exclusive: true,
        journal_bytes,
        // Background threads on (the journal write-out), periodic recovery never.
        recovery_interval: Some(Duration::from_secs(3600)),
        ..Default::default()
    }
}

pub fn shared() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        ..Default::default()
    }
}
