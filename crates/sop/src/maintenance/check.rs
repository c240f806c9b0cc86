//! Integrity check: every record header and node image checksum (current and
//! superseded), the B-tree invariants of every store, item counts, registry
//! entries no tree reaches (orphan nodes), the item frames of JSON stores, and
//! big-value blobs (missing, damaged, or orphaned).
//!
//! Leftovers of processes no longer running (temporary record files, blobs no
//! item refers to: released by a commit, or written by an uncommitted
//! transaction) are not faults: recovery removes them, by the same rule
//! (`engine/blobs.rs`). They are listed in `CheckReport::garbage`.

use crate::btree::node::{Node, StreamRef, ValueRef};
use crate::btree::tree::{self, NodeRead, Tree};
use crate::codec::json_key::encode_json_key;
use crate::codec::wire::checksum;
use crate::engine::CommittedTree;
use crate::engine::{unreferenced, DbInner, Unreferenced};
use crate::error::{Error, Result};
use crate::json::{decode_item, JSON_KEY_TYPE};
use crate::log::record::Record;
use crate::registry::StoreInfo;
use std::collections::HashSet;

/// One store's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreCheck {
    /// The store's name.
    pub name: String,
    /// Items counted by walking the tree.
    pub items: u64,
    /// Nodes reachable from the root.
    pub nodes: usize,
    /// Levels of the tree (1: the root is a leaf).
    pub depth: usize,
}

/// What `Database::check` found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    /// Sequence of the newest commit checked.
    pub head: u64,
    /// Commit records read.
    pub records: u64,
    /// Every store, by name.
    pub stores: Vec<StoreCheck>,
    /// Every fault found, one line each. Empty means the database is sound.
    pub problems: Vec<String>,
    /// Leftovers of crashed processes that recovery will remove (not faults).
    pub garbage: Vec<String>,
}

impl CheckReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Verify the whole database (reads everything; bypasses the cache).
pub(crate) fn check(db: &DbInner, progress: &super::Progress) -> Result<CheckReport> {
    let head = db.catch_up()?;
    progress.add_total(head.stores.values().map(|s| s.count).sum());
    let mut report = CheckReport {
        head: head.seq,
        ..Default::default()
    };
    db.log.forget_tombstone();
    db.commits.check(head.seq, &mut report.problems)?;
    // The check judges the state at `head`. Records linked after it by
    // processes still committing (a check run from a monitoring job on a live
    // database) follow it without a gap: not faults, and not checked here.
    let mut next = head.seq + 1;
    for seq in db.commits.list_from(0)? {
        if seq == next {
            next += 1;
            continue;
        }
        report.records += 1;
        if seq > head.seq {
            report.problems.push(format!(
                "log record {seq} lies beyond the missing record {next} (the log has a gap)"
            ));
            continue;
        }
        match db.commits.read_header(seq) {
            Ok(Some(rec)) if rec.retired => {}
            Err(e) => report.problems.push(e.to_string()),
            Ok(None) => report
                .problems
                .push(format!("log record {seq} vanished during the check")),
            Ok(Some(rec)) => check_images(db, seq, &rec, &mut report.problems)?,
        }
    }
    check_checkpoints(db, head.seq, &mut report.problems)?;
    let mut referenced_blobs = HashSet::new();
    let mut names: Vec<_> = head.stores.values().cloned().collect();
    names.sort_by(|a, b| a.info.name.cmp(&b.info.name));
    for st in names {
        let info = st.info.clone();
        let mut v = CommittedTree::new(db, &st, true);
        let t = Tree {
            root: info.root,
            max: info.options.slot_length,
            balance: info.options.leaf_load_balancing,
        };
        let items = match tree::check(&mut v, &t) {
            Ok(n) => n,
            Err(e) => {
                report.problems.push(format!("store {:?}: {e}", info.name));
                continue;
            }
        };
        if items != st.count {
            report.problems.push(format!(
                "store {:?}: count says {}, the tree holds {items}",
                info.name, st.count
            ));
        }
        let reach: HashSet<u64> = tree::reachable(&mut v, info.root)?.into_iter().collect();
        for id in st.nodes.keys() {
            if !reach.contains(id) {
                report.problems.push(format!(
                    "store {:?}: registry node {id:#x} is not in the tree (orphan)",
                    info.name
                ));
            }
        }
        let mut depth = 0;
        let mut id = info.root;
        loop {
            depth += 1;
            match &**v.node(id)? {
                Node::Internal(p) => id = p.children[0],
                Node::Leaf(_) => break,
            }
        }
        for id in &reach {
            if let Node::Leaf(l) = &**v.node(*id)? {
                progress.advance(l.len() as u64);
                for i in 0..l.len() {
                    let val = l.item(i).value;
                    for blob in val.big_blobs().into_iter().flat_map(|b| b.iter()) {
                        referenced_blobs
                            .insert((format!("{:016x}", info.id), format!("{blob:032x}")));
                    }
                    if let ValueRef::Stream(s) = val {
                        // Chunk by chunk (a streamed value need not fit in memory).
                        if let Err(e) = check_stream(db, info.id, &s) {
                            report
                                .problems
                                .push(format!("store {:?}: node {id:#x} item {i}: {e}", info.name));
                        }
                        continue;
                    }
                    let bytes = match val {
                        ValueRef::Inline(b) => Ok(bytes::Bytes::copy_from_slice(b)),
                        _ => db.read_value(info.id, &val, false),
                    };
                    match bytes {
                        Err(e) => report.problems.push(e.to_string()),
                        Ok(b) if info.key_type == JSON_KEY_TYPE => {
                            if let Err(e) = check_json_item(&info, l.key(i), &b) {
                                report.problems.push(format!(
                                    "store {:?}: node {id:#x} item {i}: {e}",
                                    info.name
                                ));
                            }
                        }
                        Ok(_) => {}
                    }
                }
            }
        }
        report.stores.push(StoreCheck {
            name: info.name.clone(),
            items,
            nodes: reach.len(),
            depth,
        });
    }
    // Blob files nobody references: in flight while their writer lives,
    // garbage that recovery removes once it does not (the one rule, shared
    // with recovery: engine/blobs.rs). Never a fault: nothing refers to them.
    let life = crate::engine::liveness(db)?;
    let trash: HashSet<_> = db.trash_paths().into_iter().collect();
    for b in db.blobs.list()? {
        if trash.contains(&b.location)
            || b.location.parent().is_some_and(|d| trash.contains(d))
            || referenced_blobs.contains(&(b.store.clone(), b.name.clone()))
        {
            continue;
        }
        match unreferenced(&b.name, &life) {
            Unreferenced::InFlight => {}
            Unreferenced::Garbage => report.garbage.push(format!(
                "blob no item refers to (released, or of an uncommitted transaction), of a process no longer running {}",
                b.location.display()
            )),
            Unreferenced::Stranger => report.problems.push(format!(
                "unexpected file {} (not a big-value blob)",
                b.location.display()
            )),
        }
    }
    for path in crate::engine::config_temps(&*db.vfs, &db.path)? {
        report.garbage.push(format!(
            "temporary configuration file (of a crashed writer, or one at work) {}",
            path.display()
        ));
    }
    let tmp = db.layout.tmp();
    for name in db.vfs.list_dir(&tmp).map_err(|e| Error::io(&tmp, e))? {
        if name.len() < 16 || life.gone(&name[..16]) {
            // Never linked into the log, so never part of the database.
            report.garbage.push(format!(
                "temporary file of a crashed process {}",
                tmp.join(&name).display()
            ));
        }
    }
    Ok(report)
}

/// Every node image record `seq` put in its body lies inside the file and matches
/// its checksum, whether the registry still uses it or not.
fn check_images(
    db: &crate::engine::DbInner,
    seq: u64,
    rec: &Record,
    problems: &mut Vec<String>,
) -> Result<()> {
    let path = db.commits.location(seq);
    let f = db.segment(seq)?;
    let flen = f.len().map_err(|e| Error::io(&path, e))?;
    let mut buf = Vec::new();
    for d in &rec.deltas {
        for (id, p, _) in &d.puts {
            if p.off.checked_add(p.len as u64).is_none_or(|end| end > flen) {
                problems.push(format!(
                    "corrupt data in {}: node {id:#x} of store {:#x} points to bytes {}..{} past the end of the file ({flen} bytes)",
                    path.display(),
                    d.store,
                    p.off,
                    p.off as u128 + p.len as u128
                ));
                continue;
            }
            buf.resize(p.len as usize, 0);
            f.read_exact_at(&mut buf, p.off)
                .map_err(|e| Error::io(&path, e))?;
            if checksum(&buf) != p.checksum {
                problems.push(format!(
                    "corrupt data in {}: node image {id:#x} at offset {} ({} bytes) fails its checksum",
                    path.display(),
                    p.off,
                    p.len
                ));
            }
        }
    }
    Ok(())
}

/// A JSON store item: its value is an item frame whose key document encodes to
/// the item's B-tree key under the store's spec.
fn check_json_item(info: &StoreInfo, key: &[u8], value: &[u8]) -> std::result::Result<(), String> {
    let (k, _) = decode_item(value).map_err(|e| e.to_string())?;
    let enc = encode_json_key(&k, info.key_spec.as_ref())
        .map_err(|e| format!("stored key document {k}: {e}"))?;
    if enc != key {
        return Err(format!(
            "stored key document {k} does not encode to the item's key"
        ));
    }
    Ok(())
}

/// Every checkpoint must decode, and stand for the record at its sequence: that
/// record exists (a checkpoint is written only once its record is durable, so one
/// beyond the newest record proves records were lost) and, when the checkpoint
/// names its transaction, is that transaction's.
fn check_checkpoints(
    db: &crate::engine::DbInner,
    head: u64,
    problems: &mut Vec<String>,
) -> Result<()> {
    let dir = crate::registry::checkpoint::Checkpoints::new(db.commits.checkpoints());
    for seq in dir.list()? {
        let st = match dir.read(seq) {
            Ok(st) => st,
            Err(e) => {
                problems.push(format!("checkpoint {seq} is damaged: {e}"));
                continue;
            }
        };
        match db.commits.read_header(seq) {
            Ok(None) if seq > head => problems.push(format!(
                "checkpoint {seq} proves records up to {seq} were committed, but the log ends at {head}: records were lost"
            )),
            Ok(None) => problems.push(format!("checkpoint {seq}: log record {seq} is missing")),
            Ok(Some(rec)) if st.head_txn != 0 && rec.txn != st.head_txn => problems.push(format!(
                "checkpoint {seq} was taken at another record {seq} (transaction {:032x}; the log's is {:032x}): a record was lost and its sequence taken again",
                st.head_txn, rec.txn
            )),
            Ok(Some(_)) => {}
            // The record's own fault is reported with the log.
            Err(_) => {}
        }
    }
    Ok(())
}

/// Every chunk of streamed value `s` of store `sid` is there and passes its
/// checksum, and the whole passes the value's; one chunk in memory at a time.
fn check_stream(db: &DbInner, sid: u64, s: &StreamRef) -> Result<()> {
    let mut whole = xxhash_rust::xxh3::Xxh3::new();
    for i in 0..s.blobs().count {
        whole.update(&db.read_chunk(sid, s, i)?);
    }
    if whole.digest() != s.checksum {
        return Err(Error::corrupt(
            db.blobs.location(sid, s.first),
            "streamed value fails its checksum (its chunks pass theirs)",
        ));
    }
    Ok(())
}
