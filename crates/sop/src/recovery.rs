//! Recovery. Safe to run at any time, from any number of processes at once, and
//! again after a crash during itself: every step is idempotent.
//!
//! - Log records after a gap (possible only after a power cut, for commits that
//!   never returned Ok) are deleted, so no later commit can land behind them.
//! - A process is dead when its `procs/<id>.lock` file lock can be taken. Its
//!   temporary record files are deleted (they were never linked, so never
//!   committed), and so are its big-value blobs that no live item references
//!   (written by transactions that never committed).

use crate::btree::node::{Node, ValueRef};
use crate::btree::tree::{self, NodeStore};
use crate::db::Database;
use crate::error::{Error, Result};
use crate::options::ValuePlacement;
use crate::txn::view::{StoreTx, View};
use std::collections::HashSet;
use std::io;

/// What a recovery pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Log records after a gap, deleted (rolled back).
    pub removed_records: Vec<u64>,
    /// Processes found dead.
    pub dead_processes: usize,
    /// Temporary record files of dead processes, deleted.
    pub removed_temp_files: usize,
    /// Big-value blobs of dead processes' uncommitted transactions, deleted.
    pub removed_blobs: usize,
}

impl Database {
    /// Run recovery now.
    pub fn recover(&self) -> Result<RecoveryReport> {
        let db = &*self.inner;
        let vfs = &*db.vfs;
        let mut report = RecoveryReport { removed_records: db.log.remove_after_gap(vfs, 0)?, ..Default::default() };
        let procs = db.path.join("procs");
        let me = format!("{:032x}.lock", db.proc_id);
        let mut dead = Vec::new();
        for name in vfs.list_dir(&procs).map_err(|e| Error::io(&procs, e))? {
            if name == me || !name.ends_with(".lock") {
                continue;
            }
            let path = procs.join(&name);
            if let Some(guard) = vfs.try_lock(&path).map_err(|e| Error::io(&path, e))? {
                dead.push((name.trim_end_matches(".lock").to_string(), path, guard));
            }
        }
        report.dead_processes = dead.len();
        if dead.is_empty() {
            return Ok(report);
        }
        let tmp = db.path.join("tmp");
        for name in vfs.list_dir(&tmp).map_err(|e| Error::io(&tmp, e))? {
            if dead.iter().any(|(p, _, _)| name.starts_with(p.as_str())) {
                remove_if_present(vfs, &tmp.join(&name))?;
                report.removed_temp_files += 1;
            }
        }
        report.removed_blobs = self.remove_dead_blobs(&dead.iter().map(|(p, _, _)| p[..16].to_string()).collect())?;
        for (_, path, guard) in dead {
            remove_if_present(vfs, &path)?;
            drop(guard);
        }
        vfs.sync_dir(&procs).map_err(|e| Error::io(&procs, e))?;
        Ok(report)
    }

    /// Delete big-value blobs named with a dead process's prefix that no live item references.
    fn remove_dead_blobs(&self, prefixes: &HashSet<String>) -> Result<usize> {
        let db = &*self.inner;
        let vfs = &*db.vfs;
        let blobs = db.path.join("blobs");
        let mut candidates = Vec::new();
        for store_dir in vfs.list_dir(&blobs).map_err(|e| Error::io(&blobs, e))? {
            let dir = blobs.join(&store_dir);
            for name in vfs.list_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                if name.len() >= 16 && prefixes.contains(&name[..16]) {
                    let path = dir.join(&name);
                    candidates.push((store_dir.clone(), name, path));
                }
            }
        }
        if candidates.is_empty() {
            return Ok(0);
        }
        let live = self.referenced_blobs()?;
        let mut removed = 0;
        for (store_dir, name, path) in candidates {
            if !live.contains(&(store_dir, name)) {
                remove_if_present(vfs, &path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// (store dir name, blob file name) of every big value referenced by the newest state.
    pub(crate) fn referenced_blobs(&self) -> Result<HashSet<(String, String)>> {
        let db = &*self.inner;
        let head = db.catch_up()?;
        let mut live = HashSet::new();
        for st in head.stores.values() {
            if st.info.options.values != ValuePlacement::Big {
                continue;
            }
            let mut stx = StoreTx::new(st.info.clone(), st.created_seq, st.count);
            let mut v = View { db, snap: Some(st), st: &mut stx, track: false, uncached: false };
            for id in tree::reachable(&mut v, st.info.root)? {
                if let Node::Leaf(l) = &*v.get(id)? {
                    for i in 0..l.len() {
                        if let ValueRef::File { blob, .. } = l.item(i).value {
                            live.insert((format!("{:016x}", st.info.id), format!("{blob:032x}")));
                        }
                    }
                }
            }
        }
        Ok(live)
    }
}

fn remove_if_present(vfs: &dyn crate::io::Vfs, path: &std::path::Path) -> Result<()> {
    match vfs.remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}
