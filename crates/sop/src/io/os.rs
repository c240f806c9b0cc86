//! The real file system.

use super::{FileId, VFile, VLock, Vfs};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// [`Vfs`] over the operating system's files (POSIX).
#[derive(Debug, Default, Clone, Copy)]
pub struct OsVfs;

/// Is the folder at `path` (or its nearest existing parent) on a local file
/// system, where reading a node from disk costs less than a network round trip?
/// True only for the ones known local; false for network and FUSE file
/// systems, and when it cannot be told.
pub fn is_local_fs(path: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        // statfs(2) f_type values (linux/magic.h).
        const LOCAL: [i64; 8] = [
            0xEF53,      // ext2/3/4
            0x5846_5342, // XFS
            0x9123_683E, // Btrfs
            0x2FC1_2FC1, // ZFS
            0xF2F5_2010, // F2FS
            0x0102_1994, // tmpfs
            0x794C_7630, // overlayfs
            0x3153_464A, // JFS
        ];
        let mut p = path;
        while !p.exists() {
            match p.parent() {
                Some(q) => p = q,
                None => return false,
            }
        }
        let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: a plain system call on a NUL-terminated path and a zeroed
        // struct it fills.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
            return false;
        }
        #[allow(clippy::unnecessary_cast)]
        LOCAL.contains(&(st.f_type as i64))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        false
    }
}

/// `fdatasync` and directory `fsync` calls of every [`OsVfs`] in this process.
static SYNCS: [std::sync::atomic::AtomicU64; 2] = [
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
];

/// How many syncs the engine asked of the operating system in this process.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SyncCounts {
    /// `fdatasync` of files (records, journals, packs, checkpoints, values).
    pub data: u64,
    /// `fsync` of directories.
    pub dirs: u64,
}

impl OsVfs {
    /// The syncs every `OsVfs` of this process made so far (for benchmarks:
    /// syncs per commit).
    pub fn sync_counts() -> SyncCounts {
        use std::sync::atomic::Ordering::Relaxed;
        SyncCounts {
            data: SYNCS[0].load(Relaxed),
            dirs: SYNCS[1].load(Relaxed),
        }
    }
}

struct OsFile {
    file: File,
    len: parking_lot::Mutex<u64>,
}

impl VFile for OsFile {
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, off)
    }
    fn append(&self, data: &[u8]) -> io::Result<()> {
        let mut len = self.len.lock();
        self.file.write_all_at(data, *len)?;
        *len += data.len() as u64;
        Ok(())
    }
    fn write_at(&self, data: &[u8], off: u64) -> io::Result<()> {
        let mut len = self.len.lock();
        if off > *len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "write past the end of the file",
            ));
        }
        self.file.write_all_at(data, off)?;
        *len = (*len).max(off + data.len() as u64);
        Ok(())
    }
    fn sync_data(&self) -> io::Result<()> {
        SYNCS[0].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.file.sync_data()
    }
    #[cfg(target_os = "linux")]
    fn start_writeback(&self, off: u64, len: u64) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        // SAFETY: a plain system call on a file descriptor this handle owns.
        let r = unsafe {
            libc::sync_file_range(
                self.file.as_raw_fd(),
                off as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
    fn len(&self) -> io::Result<u64> {
        Ok(*self.len.lock())
    }
    fn id(&self) -> io::Result<FileId> {
        id_of(&self.file.metadata()?)
    }
}

fn id_of(m: &fs::Metadata) -> io::Result<FileId> {
    use std::os::unix::fs::MetadataExt;
    Ok(FileId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

struct OsLock {
    _file: File,
}
impl VLock for OsLock {}

impl Vfs for OsVfs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }
    fn create_new(&self, path: &Path) -> io::Result<Arc<dyn VFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        Ok(Arc::new(OsFile {
            file,
            len: parking_lot::Mutex::new(0),
        }))
    }
    fn open(&self, path: &Path) -> io::Result<Arc<dyn VFile>> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Arc::new(OsFile {
            file,
            len: parking_lot::Mutex::new(len),
        }))
    }
    fn open_shared(&self, path: &Path) -> io::Result<Arc<dyn VFile>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let len = file.metadata()?.len();
        Ok(Arc::new(OsFile {
            file,
            len: parking_lot::Mutex::new(len),
        }))
    }
    fn link_exclusive(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::hard_link(from, to)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }
    fn remove_dir(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir(path)
    }
    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        let mut out = Vec::new();
        for e in fs::read_dir(path)? {
            let e = e?;
            if let Ok(name) = e.file_name().into_string() {
                out.push(name);
            }
        }
        Ok(out)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        SYNCS[1].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        File::open(path)?.sync_all()
    }
    fn exists(&self, path: &Path) -> io::Result<bool> {
        path.try_exists()
    }
    fn file_id(&self, path: &Path) -> io::Result<FileId> {
        id_of(&fs::metadata(path)?)
    }
    fn try_lock(&self, path: &Path) -> io::Result<Option<Box<dyn VLock>>> {
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
        {
            Ok(f) => f,
            // A folder this process may only read (a read-only mount, another
            // user's files): an existing lock file is locked through a read-only
            // descriptor (flock needs no write access); one that cannot be
            // created is the error it was.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied
                ) =>
            {
                File::open(path).map_err(|_| e)?
            }
            Err(e) => return Err(e),
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(Box::new(OsLock { _file: file }))),
            Err(fs::TryLockError::WouldBlock) => Ok(None),
            Err(fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Starting writeback of a written range succeeds and changes nothing: the
    /// bytes read back are the bytes written, before and after the sync.
    #[test]
    fn start_writeback_is_a_harmless_hint() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let f = OsVfs.create_new(&path).unwrap();
        let data: Vec<u8> = (0..3 << 20).map(|i| (i % 251) as u8).collect();
        f.append(&data[..1 << 20]).unwrap();
        f.start_writeback(0, 1 << 20).unwrap();
        f.append(&data[1 << 20..]).unwrap();
        f.start_writeback(1 << 20, 2 << 20).unwrap();
        let mut back = vec![0u8; data.len()];
        f.read_exact_at(&mut back, 0).unwrap();
        assert!(back == data);
        f.sync_data().unwrap();
        assert!(OsVfs.read_all(&path).unwrap() == data);
    }
}
