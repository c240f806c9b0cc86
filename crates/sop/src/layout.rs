//! Names of temporary files: `tmp/<process id %032x>-<counter %08x>.tmp`. The
//! process id in the name lets recovery tell a dead process's leftovers from a
//! live one's.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Hands out fresh temporary file names for one process's handle.
pub(crate) struct TmpNames {
    dir: PathBuf,
    proc_id: u128,
    counter: AtomicU64,
}

impl TmpNames {
    pub fn new(db: &Path, proc_id: u128) -> TmpNames {
        TmpNames {
            dir: db.join("tmp"),
            proc_id,
            counter: AtomicU64::new(0),
        }
    }

    /// A name no other file of this handle has had.
    pub fn next(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{:032x}-{n:08x}.tmp", self.proc_id))
    }
}
