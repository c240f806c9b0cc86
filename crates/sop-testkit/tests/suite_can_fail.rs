//! The conformance suite fails on a backend that breaks a guarantee: here a
//! shared folder whose directory syncs do nothing (as on a file system that
//! acknowledges them without persisting), so a commit that returned Ok can be
//! lost in a power cut. The crash sweep must catch it.

use sop::DbOptions;
use sop::{FileId, VFile, VLock, Vfs};
use sop_testkit::conformance::{crash, Backend, SharedFolder};
use std::io;
use std::path::Path;
use std::sync::Arc;

/// Delegates everything to the inner file system except `sync_dir`, which it
/// acknowledges without doing.
struct IgnoresDirSyncs(Arc<dyn Vfs>);

impl Vfs for IgnoresDirSyncs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        self.0.create_dir_all(path)
    }
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn VFile>> {
        self.0.create_new(path)
    }
    fn open(&self, path: &Path) -> io::Result<Arc<dyn VFile>> {
        self.0.open(path)
    }
    fn link_exclusive(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.link_exclusive(from, to)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.0.rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.0.remove_file(path)
    }
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        self.0.remove_dir(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.0.list_dir(path)
    }
    fn sync_dir(&self, _: &Path) -> io::Result<()> {
        Ok(())
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        self.0.exists(path)
    }
    fn try_lock(&self, path: &Path) -> io::Result<Option<Box<dyn VLock>>> {
        self.0.try_lock(path)
    }
    fn file_id(&self, path: &Path) -> io::Result<FileId> {
        self.0.file_id(path)
    }
}

struct Broken;

impl Backend for Broken {
    fn name(&self) -> &str {
        "shared folder without directory syncs"
    }
    fn options(&self, base: DbOptions) -> DbOptions {
        let inner = base
            .vfs
            .clone()
            .expect("the crash sweep runs on a simulated file system");
        SharedFolder.options(DbOptions {
            vfs: Some(Arc::new(IgnoresDirSyncs(inner))),
            ..base
        })
    }
}

#[test]
fn the_crash_sweep_catches_a_backend_that_loses_acknowledged_commits() {
    let caught = std::panic::catch_unwind(|| crash::power_cut_at_every_step_of_a_commit(&Broken));
    let msg = match caught {
        Ok(()) => panic!("the crash sweep passed a backend whose directory syncs do nothing"),
        Err(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
    };
    // A commit it had acknowledged (the sweep's own, or the setup's) was lost.
    assert!(
        msg.contains("state"),
        "the sweep failed for another reason: {msg}"
    );
}

#[test]
fn the_same_sweep_passes_the_real_backend() {
    crash::power_cut_at_every_step_of_a_commit(&SharedFolder);
}
