//! Where checkpoints are kept: their bytes, by the sequence of the record they
//! are taken at (the format is the registry's, `registry/checkpoint.rs`). A
//! folder keeps them as `checkpoints/<seq>.ckpt`.

use crate::error::{Error, Result};
use crate::io::Vfs;
use crate::layout::{Layout, TmpNames};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

/// What a backend provides to keep checkpoints. Checkpoints are derived data:
/// a lost one costs replay time only, and a damaged one is skipped.
pub(crate) trait CheckpointStore: Send + Sync {
    /// Sequences of the checkpoints present, ascending.
    fn list(&self) -> Result<Vec<u64>>;
    /// The bytes of checkpoint `seq`; `Err` with the reason if unreadable.
    fn get(&self, seq: u64) -> Result<Vec<u8>>;
    /// Keep `bytes` as checkpoint `seq`, durably, unless there is one already
    /// (`Ok(false)`: a checkpoint of a sequence is written once).
    fn put(&self, seq: u64, bytes: &[u8]) -> Result<bool>;
    /// Remove checkpoint `seq`, if there is one (not yet durable: see `sync`).
    fn remove(&self, seq: u64) -> Result<()>;
    /// Make removals durable.
    fn sync(&self) -> Result<()>;
    /// Where checkpoint `seq` is (for messages).
    fn location(&self, seq: u64) -> PathBuf;
}

/// Checkpoints in a folder: `checkpoints/<seq %016x>.ckpt`, written to a
/// temporary file, fsynced, then linked exclusively and the folder synced.
pub(crate) struct FolderCheckpoints {
    vfs: Arc<dyn Vfs>,
    layout: Layout,
    tmp: Arc<TmpNames>,
}

impl FolderCheckpoints {
    pub fn new(vfs: Arc<dyn Vfs>, layout: Layout, tmp: Arc<TmpNames>) -> FolderCheckpoints {
        FolderCheckpoints { vfs, layout, tmp }
    }
}

impl CheckpointStore for FolderCheckpoints {
    fn list(&self) -> Result<Vec<u64>> {
        let dir = self.layout.checkpoints();
        let mut seqs: Vec<u64> = self
            .vfs
            .list_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .iter()
            .filter_map(|n| Layout::parse_checkpoint_name(n))
            .collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    fn get(&self, seq: u64) -> Result<Vec<u8>> {
        let p = self.layout.checkpoint(seq);
        self.vfs.read_all(&p).map_err(|e| Error::io(&p, e))
    }

    fn put(&self, seq: u64, bytes: &[u8]) -> Result<bool> {
        let tmp = self.tmp.next();
        let f = self.vfs.create_new(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let res = (|| {
            f.append(bytes).map_err(|e| Error::io(&tmp, e))?;
            f.sync_data().map_err(|e| Error::io(&tmp, e))?;
            let to = self.layout.checkpoint(seq);
            match self.vfs.link_exclusive(&tmp, &to) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
                Err(e) => return Err(Error::io(&to, e)),
            }
            self.sync()?;
            Ok(true)
        })();
        let _ = self.vfs.remove_file(&tmp);
        res
    }

    fn remove(&self, seq: u64) -> Result<()> {
        let p = self.layout.checkpoint(seq);
        match self.vfs.remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&p, e)),
        }
    }

    fn sync(&self) -> Result<()> {
        let dir = self.layout.checkpoints();
        self.vfs.sync_dir(&dir).map_err(|e| Error::io(&dir, e))
    }

    fn location(&self, seq: u64) -> PathBuf {
        self.layout.checkpoint(seq)
    }
}
