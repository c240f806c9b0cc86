//! Integrity check: every record header and node checksum, the B-tree invariants
//! of every store, item counts, registry entries no tree reaches (orphan nodes),
//! and big-value blobs (missing, damaged, or orphaned).

use crate::btree::node::{Node, ValueRef};
use crate::btree::tree::{self, NodeStore, Tree};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::txn::view::{StoreTx, View};
use std::collections::HashSet;

/// One store's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreCheck {
    pub name: String,
    pub items: u64,
    pub nodes: usize,
    pub depth: usize,
}

/// What `Database::check` found.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub head: u64,
    pub records: u64,
    pub stores: Vec<StoreCheck>,
    /// Every fault found, one line each. Empty means the database is sound.
    pub problems: Vec<String>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Database {
    /// Verify the whole database (reads everything; bypasses the cache).
    pub fn check(&self) -> Result<CheckReport> {
        let db = &*self.inner;
        let head = db.catch_up()?;
        let mut report = CheckReport { head: head.seq, ..Default::default() };
        for seq in db.log.list(&*db.vfs)? {
            report.records += 1;
            if seq > head.seq {
                report.problems.push(format!("log record {seq} lies beyond the head {} (run recovery)", head.seq));
                continue;
            }
            if let Err(e) = db.log.read_header(&*db.vfs, seq) {
                report.problems.push(e.to_string());
            }
        }
        let mut referenced_blobs = HashSet::new();
        let mut names: Vec<_> = head.stores.values().cloned().collect();
        names.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        for st in names {
            let info = st.info.clone();
            let mut stx = StoreTx::new(info.clone(), st.created_seq, st.count);
            let mut v = View { db, snap: Some(&st), st: &mut stx, track: true, uncached: true };
            let t = Tree { root: info.root, max: info.options.slot_length, balance: info.options.leaf_load_balancing };
            let items = match tree::check(&mut v, &t) {
                Ok(n) => n,
                Err(e) => {
                    report.problems.push(format!("store {:?}: {e}", info.name));
                    continue;
                }
            };
            if items != st.count {
                report.problems.push(format!("store {:?}: count says {}, the tree holds {items}", info.name, st.count));
            }
            let reach: HashSet<u64> = tree::reachable(&mut v, info.root)?.into_iter().collect();
            for id in st.nodes.keys() {
                if !reach.contains(id) {
                    report.problems.push(format!("store {:?}: registry node {id:#x} is not in the tree (orphan)", info.name));
                }
            }
            let mut depth = 0;
            let mut id = info.root;
            loop {
                depth += 1;
                match &*v.get(id)? {
                    Node::Internal(p) => id = p.children[0],
                    Node::Leaf(_) => break,
                }
            }
            for id in &reach {
                if let Node::Leaf(l) = &*v.get(*id)? {
                    for i in 0..l.len() {
                        let val = l.item(i).value;
                        if let ValueRef::File { blob, .. } = val {
                            referenced_blobs.insert((format!("{:016x}", info.id), format!("{blob:032x}")));
                        }
                        if !matches!(val, ValueRef::Inline(_)) {
                            if let Err(e) = db.read_value(info.id, &val, false) {
                                report.problems.push(e.to_string());
                            }
                        }
                    }
                }
            }
            report.stores.push(StoreCheck { name: info.name.clone(), items, nodes: reach.len(), depth });
        }
        // Blob files nobody references, except those of live processes (in flight).
        let live = crate::recovery::liveness(db)?.live;
        let trash: HashSet<_> = db.trash_paths().into_iter().collect();
        let blobs = db.path.join("blobs");
        for sdir in db.vfs.list_dir(&blobs).map_err(|e| Error::io(&blobs, e))? {
            let dir = blobs.join(&sdir);
            for name in db.vfs.list_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                let in_flight = name.len() >= 16 && live.contains(&name[..16]);
                if !in_flight && !trash.contains(&dir.join(&name)) && !trash.contains(&dir) && !referenced_blobs.contains(&(sdir.clone(), name.clone())) {
                    report.problems.push(format!("orphan blob {}", dir.join(&name).display()));
                }
            }
        }
        let tmp = db.path.join("tmp");
        for name in db.vfs.list_dir(&tmp).map_err(|e| Error::io(&tmp, e))? {
            if !(name.len() >= 16 && live.contains(&name[..16])) {
                report.problems.push(format!("leftover temporary file {} (run recovery)", tmp.join(&name).display()));
            }
        }
        Ok(report)
    }
}
