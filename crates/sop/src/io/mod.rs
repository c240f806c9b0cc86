//! The storage seam. Every byte the engine reads or writes, every fsync and every
//! directory operation goes through [`Vfs`], so tests can cut the power or fail an
//! operation at any step (the simulator in the `sop-testkit` crate), while
//! production uses [`OsVfs`].

mod os;

pub use os::{is_local_fs, OsVfs, SyncCounts};

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// An open file. Reads are positional (`read_at`) so one handle can be shared by
/// many readers; writes append (the journal alone also overwrites).
#[allow(clippy::len_without_is_empty)]
pub trait VFile: Send + Sync {
    /// Fill `buf` from offset `off`; a short file is an `UnexpectedEof` error.
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()>;
    /// Append `data` at the end of the file.
    fn append(&self, data: &[u8]) -> io::Result<()>;
    /// Write `data` at offset `off` (over existing bytes, or extending the file;
    /// never past its end). Only the journal overwrites: a recycled journal file
    /// keeps its length, so syncing a frame needs no inode update.
    fn write_at(&self, data: &[u8], off: u64) -> io::Result<()>;
    /// Make the file's content durable (fdatasync).
    fn sync_data(&self) -> io::Result<()>;
    /// A hint: start writing bytes `off..off + len` to the device now, without
    /// waiting, so that a later `sync_data` finds less to do. Durability still
    /// comes only from `sync_data`; the default does nothing.
    fn start_writeback(&self, _off: u64, _len: u64) -> io::Result<()> {
        Ok(())
    }
    /// Current length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Which file this is (device and inode number, or the simulator's inode):
    /// compared with [`Vfs::file_id`] of a name to verify that a rename put this
    /// very file under that name.
    fn id(&self) -> io::Result<FileId>;
}

/// The identity of a file, independent of its names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId {
    /// The device (file system) holding the file.
    pub dev: u64,
    /// The inode number on that device.
    pub ino: u64,
}

/// An exclusive advisory lock on a file, held until dropped.
pub trait VLock: Send + Sync {}

/// The file system as the engine sees it. Paths are absolute (or relative to the
/// process's working directory for the OS implementation).
pub trait Vfs: Send + Sync + 'static {
    /// Create a directory and its missing parents (no sync).
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Create a new file, failing with `AlreadyExists` if the name is taken.
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn VFile>>;
    /// Open an existing file for reading (`NotFound` if absent).
    fn open(&self, path: &Path) -> io::Result<Arc<dyn VFile>>;
    /// Atomically give the file at `from` a second name `to`; fails with
    /// `AlreadyExists` if `to` exists. This is the engine's commit point.
    fn link_exclusive(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Atomically rename `from` to `to`, replacing `to` if it exists.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Remove a file's name (`NotFound` if absent).
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Remove an empty directory.
    fn remove_dir(&self, path: &Path) -> io::Result<()>;
    /// Names (not paths) of the entries of a directory, in no particular order.
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>>;
    /// Make the directory's entries (creations, links, renames, removals) durable.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;
    /// Whether a file or directory of this name exists.
    fn exists(&self, path: &Path) -> io::Result<bool>;
    /// Try to take an exclusive lock on `path` (created if missing) without
    /// blocking. `Ok(None)` means another holder has it.
    fn try_lock(&self, path: &Path) -> io::Result<Option<Box<dyn VLock>>>;

    /// The identity of the file named `path` (see [`VFile::id`]).
    fn file_id(&self, path: &Path) -> io::Result<FileId>;

    /// Open the file at `path` for reading and writing, making it (empty, its
    /// name not synced) if missing; never truncates. Only hints that several
    /// processes share use it (the folder's sync mark, `log/sync_mark.rs`),
    /// and the engine does without them where it fails: the default says
    /// `Unsupported`.
    fn open_shared(&self, _path: &Path) -> io::Result<Arc<dyn VFile>> {
        Err(io::ErrorKind::Unsupported.into())
    }

    // There is deliberately no whole-file-system sync (`syncfs`, `sync`): on FUSE
    // file systems (s3fs, gcsfuse, sshfs, rclone, passthrough FUSE) and on several
    // network volumes they return success and persist nothing. Durability comes
    // only from `VFile::sync_data` of each file and `sync_dir` of each directory.

    /// Read a whole file.
    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let f = self.open(path)?;
        let len = f.len()? as usize;
        let mut buf = vec![0u8; len];
        f.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }

    // Time and randomness go through the same seam, so that tests can run
    // leases, heartbeats, grace periods and fencing in simulated time.

    /// Monotonic time since an origin the implementation chooses: every
    /// deadline, lease, grace period and wait of the engine is measured with it.
    fn now(&self) -> Duration {
        real_now()
    }

    /// Wait until `now()` has advanced by `d` (a simulated clock waits for
    /// whoever drives it).
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d)
    }

    /// A random number: ids of processes, transactions, lock owners, nodes,
    /// stores and big values.
    fn random(&self) -> u128 {
        (u128::from(fastrand::u64(..)) << 64) | u128::from(fastrand::u64(..))
    }
}

/// Monotonic time since the first call in this process.
pub(crate) fn real_now() -> Duration {
    static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(std::time::Instant::now).elapsed()
}
