//! A compact copy of a database as of one commit (`Database::pack_into`, `sop
//! pack DEST`): for read-only media and shipping. The copy holds every store of
//! the snapshot, item for item (same keys, values, order of duplicates, store
//! options, key types and JSON key specs), in freshly built trees whose records
//! hold only live nodes, one checkpoint at its head, no journal and no leftovers.
//! It is an ordinary Standalone database: open it read-only on the medium
//! (`DbOptions::read_only`), or normally anywhere writable.

use super::*;
use crate::layout::Layout;
use crate::registry::checkpoint;
use std::io;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}
use crate::maintenance::CompactOptions;
use std::ops::Bound;

/// What `Database::pack_into` wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PackReport {
    /// The commit of this database the copy was taken at.
    pub source_seq: u64,
    /// Stores copied.
    pub stores: usize,
    /// Items copied.
    pub items: u64,
    /// Bytes of the copy's folder.
    pub bytes: u64,
}

/// Items per commit while copying: bounds the copy's memory.
const BATCH_ITEMS: u64 = 50_000;

impl Database {
    /// Write a compact copy of this database, as of its newest commit, into the
    /// folder `dest`, which must not hold a database yet (see the module docs).
    /// This database is only read (a NoCheck snapshot); writers may go on.
    pub fn pack_into(&self, dest: impl AsRef<Path>) -> Result<PackReport> {
        let dest = dest.as_ref();
        let vfs = &*self.inner.vfs;
        let cfg = Layout::new(dest).config();
        if vfs.exists(&cfg).map_err(io_err(&cfg))? {
            return Err(Error::AlreadyExists(dest.to_path_buf()));
        }
        let src = self.begin(TxMode::NoCheck)?;
        let mut report = PackReport {
            source_seq: src.snapshot_seq(),
            ..Default::default()
        };
        let opts = DbOptions {
            create: true,
            coordination: Some(Coordination::Standalone),
            // A record file per commit (the copy makes few): an exclusive
            // folder's record packs are freed only as a whole, so part of one
            // could stay dead.
            recovery_interval: None,
            checkpoint_every: 0,
            vfs: self.inner.opts.vfs.clone(),
            ..Default::default()
        };
        let copy = Database::open(dest, opts)?;
        let mut names = src.list_stores()?;
        names.sort();
        for name in &names {
            let from = src.open_raw_store(name)?;
            let info = from.info()?;
            let mut tx = copy.begin(TxMode::ForWriting)?;
            let mut h = tx.open_handle_spec(
                name,
                &info.key_type,
                Some(info.options.clone()),
                info.key_spec.clone(),
            )?;
            let mut in_tx = 0;
            for item in from.range(Bound::Unbounded, Bound::Unbounded, false)? {
                let (k, v) = item?;
                tx.raw_store(h).add(&k, &v)?;
                report.items += 1;
                in_tx += 1;
                if in_tx == BATCH_ITEMS {
                    tx.commit()?;
                    tx = copy.begin(TxMode::ForWriting)?;
                    h = tx.open_handle_spec(name, &info.key_type, None, info.key_spec.clone())?;
                    in_tx = 0;
                }
            }
            tx.commit()?;
            report.stores += 1;
        }
        drop(src);
        // Live nodes only: move them out of records that batches left part dead,
        // retire the emptied records, and keep the one checkpoint at the head.
        copy.compact_with(&CompactOptions {
            min_dead_fraction: 0.0,
            ..Default::default()
        })?;
        copy.reclaim()?;
        let head = copy.head()?;
        // The copy is open: its own log keeps its checkpoints.
        let dir = checkpoint::Checkpoints::new(copy.inner.commits.checkpoints());
        for seq in dir.list()?.into_iter().filter(|s| *s != head) {
            dir.remove(seq)?;
        }
        copy.close()?;
        report.bytes = folder_bytes(vfs, dest)?;
        Ok(report)
    }
}

/// Bytes of every file under `dir`, each inode once (record names that are
/// hard links to one pack count it once).
fn folder_bytes(vfs: &dyn Vfs, dir: &Path) -> Result<u64> {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for name in vfs.list_dir(&d).map_err(io_err(&d))? {
            let p = d.join(&name);
            if vfs.list_dir(&p).is_ok() {
                stack.push(p);
                continue;
            }
            let f = vfs.open(&p).map_err(io_err(&p))?;
            if seen.insert(f.id().map_err(io_err(&p))?) {
                total += f.len().map_err(io_err(&p))?;
            }
        }
    }
    Ok(total)
}
