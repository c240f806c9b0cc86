//! cutfs: a FUSE file system for tests that keeps everything in memory and, at a
//! power cut, drops everything that was not made durable: file data that was not
//! fsynced, and directory entries (creations, links, renames, removals) of
//! directories that were not fsynced. `syncfs`, `sync`, close and flush persist
//! nothing, as on most FUSE volumes.
//!
//! ```no_run
//! let m = sop_cutfs::CutFs::new().mount("/tmp/mnt")?;
//! std::fs::write(m.path().join("a"), b"lost")?;   // neither data nor name synced
//! m.cut();                                         // power cut, then reboot
//! assert!(!m.path().join("a").exists());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Other processes can cut too: write `cut` to `<mount>/.cutfs` (see
//! [`model::CONTROL_NAME`]), or run `sop-cutfs cut <mount>`.

mod fuse;
pub mod model;

use model::{Model, Stats};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// How to build a cutfs mount.
#[derive(Clone, Debug)]
pub struct CutFs {
    seed: u64,
    keep_appends: bool,
    threads: usize,
}

impl Default for CutFs {
    fn default() -> Self {
        CutFs {
            seed: 0x5eed,
            keep_appends: false,
            threads: 2,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("cannot mount cutfs at {path}: {source} (FUSE needs /dev/fuse and either CAP_SYS_ADMIN or fusermount3, Debian package fuse3)")]
    Mount { path: PathBuf, source: io::Error },
}

impl From<MountError> for io::Error {
    fn from(e: MountError) -> io::Error {
        io::Error::other(e)
    }
}

impl CutFs {
    pub fn new() -> CutFs {
        CutFs::default()
    }

    /// Seed of the random choices a cut makes (which unsynced appends survive).
    pub fn seed(mut self, seed: u64) -> CutFs {
        self.seed = seed;
        self
    }

    /// At [`Mounted::cut`], keep a random prefix of each file's unsynced appends
    /// (with probability 1/2 per file), as a kernel may have written some back.
    pub fn keep_unsynced_appends(mut self, keep: bool) -> CutFs {
        self.keep_appends = keep;
        self
    }

    /// Threads serving requests (default 2).
    pub fn threads(mut self, n: usize) -> CutFs {
        self.threads = n.max(1);
        self
    }

    /// Mount an empty cutfs on `dir` (an existing, empty directory), served by
    /// background threads until the returned handle is dropped.
    pub fn mount(&self, dir: impl AsRef<Path>) -> Result<Mounted, MountError> {
        let path = dir.as_ref().to_path_buf();
        let model = Arc::new(Mutex::new(Model::new(self.seed)));
        let fs = fuse::CutFuse {
            model: model.clone(),
        };
        let mut config = fuser::Config::default();
        config.mount_options = vec![
            fuser::MountOption::FSName("sop-cutfs".into()),
            fuser::MountOption::Subtype("cutfs".into()),
        ];
        config.n_threads = Some(self.threads);
        let session =
            fuser::spawn_mount(fs, &path, &config).map_err(|source| MountError::Mount {
                path: path.clone(),
                source,
            })?;
        Ok(Mounted {
            path,
            model,
            keep_appends: self.keep_appends,
            session: Some(session),
        })
    }
}

/// A mounted cutfs. Dropping it unmounts (lazily if files are still open).
pub struct Mounted {
    path: PathBuf,
    model: Arc<Mutex<Model>>,
    keep_appends: bool,
    session: Option<fuser::BackgroundSession>,
}

impl Mounted {
    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn m(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A power cut and the next boot: the mount now shows only what was durable,
    /// as a new incarnation; every file or directory opened before fails with
    /// `EIO`. Processes that were writing should be stopped first (a cut stops
    /// the whole machine): use [`Mounted::power_off`] while they die.
    pub fn cut(&self) {
        let keep = self.keep_appends;
        self.m().cut(keep);
    }

    /// The first half of a cut: from now on every request fails with `EIO`, so
    /// nothing more reaches the "disk" while the writers die (threads of this
    /// process cannot be frozen the way a power cut freezes them).
    pub fn power_off(&self) {
        self.m().power_off();
    }

    /// The second half of a cut: boot the durable state as a new incarnation.
    pub fn power_on(&self) {
        let keep = self.keep_appends;
        let mut m = self.m();
        if m.is_off() {
            m.power_on(keep);
        }
    }

    /// Counters: cuts, fsyncs, directory fsyncs, refused requests.
    pub fn stats(&self) -> Stats {
        self.m().stats()
    }

    /// Unmount now (also done on drop).
    pub fn unmount(mut self) -> io::Result<()> {
        self.unmount_inner()
    }

    fn unmount_inner(&mut self) -> io::Result<()> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        match session.umount_and_join() {
            Ok(()) => Ok(()),
            Err(e) => {
                // Busy (a file is still open): detach; the session ends when the
                // last file is closed.
                let c = std::ffi::CString::new(self.path.as_os_str().as_encoded_bytes())
                    .map_err(io::Error::other)?;
                // SAFETY: a plain system call on a NUL-terminated path.
                let r = unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
                let again = io::Error::last_os_error();
                // EINVAL: no longer a mount point (unmounted from outside).
                if r == 0 || again.raw_os_error() == Some(libc::EINVAL) {
                    Ok(())
                } else {
                    Err(io::Error::other(format!(
                        "unmounting {}: {e}; lazily: {}",
                        self.path.display(),
                        again
                    )))
                }
            }
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Err(e) = self.unmount_inner() {
            tracing::warn!(error = %e, "cutfs: unmount failed");
        }
    }
}
