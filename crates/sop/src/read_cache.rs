//! What reading a database in an object store costs, and the local disk cache
//! of what it fetched (`DbOptions::object_cache_dir`).
//!
//! Everything cached is immutable where it is named: a node image or separate
//! value is (record sequence, offset) and a record's bytes never change once
//! published; a chunk of a streamed value is a blob created once. So an entry
//! is valid forever and is never invalidated, only evicted for room. Each
//! entry is one file `<dir>/<db id>/<xx>/<name>`: a header (magic, length,
//! XXH3-64 of the bytes) and the bytes. A torn or damaged file (a crash while
//! writing, a full disk, a bit flip) fails that check, is removed and counts as
//! a miss: it is never served. Callers verify what they get against their own
//! checksum too (the node's handle, the chunk's trailer). Entries are written
//! to a temporary name and renamed, unsynced: a power cut can only tear an
//! entry, which the check catches.
//!
//! The bound is in bytes: entries are evicted oldest use first (an LRU over
//! this process's uses; at open, the files' modification times order what an
//! earlier process left). Several processes may share one folder: each keeps
//! its own index and evicts what it knows of, and a file another process
//! evicted is a miss.

use parking_lot::Mutex;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const MAGIC: &[u8; 8] = b"SOPCACH1";
const HEADER: usize = 24;

/// Requests and bytes fetched from an object store by one open database.
#[derive(Default, Debug)]
pub(crate) struct Transfer {
    /// GETs (ranged, suffix or whole) and HEADs.
    pub gets: AtomicU64,
    /// Bytes those GETs brought.
    pub bytes_in: AtomicU64,
    /// PUTs (create-only or not).
    pub puts: AtomicU64,
    /// Bytes those PUTs sent.
    pub bytes_out: AtomicU64,
}

// Counted by the object store client only (feature `s3`).
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
impl Transfer {
    pub fn got(&self, bytes: usize) {
        self.gets.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }
    pub fn sent(&self, bytes: usize) {
        self.puts.fetch_add(1, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// What `Database::read_stats` reports: what this handle's reads cost.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ReadStats {
    /// GET and HEAD requests sent to the object store (0 for a folder).
    pub object_gets: u64,
    /// Bytes those requests fetched.
    pub object_bytes_fetched: u64,
    /// PUT requests sent to the object store.
    pub object_puts: u64,
    /// Bytes those requests sent.
    pub object_bytes_sent: u64,
    /// The local disk cache, if one is configured (`DbOptions::object_cache_dir`).
    pub disk_cache: Option<DiskCacheStats>,
}

/// The local disk cache's counters, in `ReadStats`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct DiskCacheStats {
    /// Reads served from the cache.
    pub hits: u64,
    /// Reads the cache did not have (fetched from the store, then kept).
    pub misses: u64,
    /// Entries found damaged (torn, wrong length or checksum), removed and
    /// fetched again.
    pub damaged: u64,
    /// Entries evicted for room.
    pub evicted: u64,
    /// Entries and bytes the cache holds now, as this process knows them.
    pub entries: u64,
    /// Bytes held (headers included).
    pub bytes: u64,
    /// The bound on `bytes`.
    pub max_bytes: u64,
}

#[derive(Default)]
struct Index {
    /// Entry name -> (file bytes, last use).
    entries: HashMap<String, (u64, u64)>,
    /// Last use -> entry name (oldest first).
    by_use: BTreeMap<u64, String>,
    bytes: u64,
    clock: u64,
}

impl Index {
    fn touch(&mut self, name: &str) -> bool {
        self.clock += 1;
        let now = self.clock;
        match self.entries.get_mut(name) {
            Some(e) => {
                self.by_use.remove(&e.1);
                e.1 = now;
                self.by_use.insert(now, name.to_string());
                true
            }
            None => false,
        }
    }
    fn add(&mut self, name: String, size: u64) {
        self.forget(&name);
        self.clock += 1;
        self.by_use.insert(self.clock, name.clone());
        self.entries.insert(name, (size, self.clock));
        self.bytes += size;
    }
    fn forget(&mut self, name: &str) {
        if let Some((size, used)) = self.entries.remove(name) {
            self.by_use.remove(&used);
            self.bytes -= size;
        }
    }
}

/// The disk cache of one database (see the module docs).
pub(crate) struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
    hits: AtomicU64,
    misses: AtomicU64,
    damaged: AtomicU64,
    evicted: AtomicU64,
    tmp_n: AtomicU64,
}

fn shard(name: &str) -> String {
    format!("{:02x}", xxhash_rust::xxh3::xxh3_64(name.as_bytes()) & 0xff)
}

impl DiskCache {
    /// The cache of database `db_id` under `root`, holding at most `max_bytes`;
    /// what an earlier process left there is indexed (oldest first by
    /// modification time) and kept.
    pub fn open(root: &Path, db_id: &str, max_bytes: u64) -> std::io::Result<Arc<DiskCache>> {
        let id = if db_id.is_empty() { "unnamed" } else { db_id };
        let dir = root.join(id);
        fs::create_dir_all(&dir)?;
        let mut found: Vec<(std::time::SystemTime, String, u64)> = Vec::new();
        for sub in fs::read_dir(&dir)?.flatten() {
            if !sub.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            for e in fs::read_dir(sub.path())?.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Ok(meta) = e.metadata() else { continue };
                if name.starts_with("tmp-") {
                    // A write a crash interrupted.
                    let _ = fs::remove_file(e.path());
                    continue;
                }
                let when = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                found.push((when, name, meta.len()));
            }
        }
        found.sort();
        let mut index = Index::default();
        for (_, name, size) in found {
            index.add(name, size);
        }
        let c = Arc::new(DiskCache {
            dir,
            max_bytes,
            index: Mutex::new(index),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            damaged: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            tmp_n: AtomicU64::new(0),
        });
        c.evict();
        Ok(c)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(shard(name)).join(name)
    }

    /// The bytes kept under `name`, if whole and intact.
    pub fn get(&self, name: &str) -> Option<Vec<u8>> {
        if !self.index.lock().touch(name) {
            self.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let path = self.path(name);
        match fs::read(&path) {
            Ok(b) if intact(&b) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(b[HEADER..].to_vec())
            }
            Ok(_) => {
                tracing::warn!(path = %path.display(), "a damaged disk cache entry; fetching it again");
                self.damaged.fetch_add(1, Ordering::Relaxed);
                self.misses.fetch_add(1, Ordering::Relaxed);
                self.index.lock().forget(name);
                let _ = fs::remove_file(&path);
                None
            }
            Err(_) => {
                // Evicted by another process sharing the folder.
                self.misses.fetch_add(1, Ordering::Relaxed);
                self.index.lock().forget(name);
                None
            }
        }
    }

    /// Keep `bytes` under `name` (best effort: a failure to write only means
    /// the next read fetches again).
    pub fn put(&self, name: &str, bytes: &[u8]) {
        let size = (HEADER + bytes.len()) as u64;
        if size > self.max_bytes / 4 {
            return;
        }
        if let Err(e) = self.write(name, bytes) {
            tracing::debug!(name, error = %e, "could not keep an entry in the disk cache");
            return;
        }
        self.index.lock().add(name.to_string(), size);
        self.evict();
    }

    fn write(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path(name);
        let sub = path.parent().expect("under a shard");
        let tmp = sub.join(format!(
            "tmp-{}-{}",
            std::process::id(),
            self.tmp_n.fetch_add(1, Ordering::Relaxed)
        ));
        let mut f = match fs::File::create(&tmp) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fs::create_dir_all(sub)?;
                fs::File::create(&tmp)?
            }
            Err(e) => return Err(e),
        };
        let mut head = [0u8; HEADER];
        head[..8].copy_from_slice(MAGIC);
        head[8..16].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
        head[16..].copy_from_slice(&xxhash_rust::xxh3::xxh3_64(bytes).to_le_bytes());
        let done = f.write_all(&head).and_then(|_| f.write_all(bytes));
        drop(f);
        match done.and_then(|_| fs::rename(&tmp, &path)) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Remove the least recently used entries until the bound holds.
    fn evict(&self) {
        loop {
            let victim = {
                let mut ix = self.index.lock();
                if ix.bytes <= self.max_bytes {
                    return;
                }
                let Some((_, name)) = ix.by_use.pop_first() else {
                    return;
                };
                if let Some((size, _)) = ix.entries.remove(&name) {
                    ix.bytes -= size;
                }
                name
            };
            self.evicted.fetch_add(1, Ordering::Relaxed);
            let _ = fs::remove_file(self.path(&victim));
        }
    }

    pub fn stats(&self) -> DiskCacheStats {
        let ix = self.index.lock();
        DiskCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            damaged: self.damaged.load(Ordering::Relaxed),
            evicted: self.evicted.load(Ordering::Relaxed),
            entries: ix.entries.len() as u64,
            bytes: ix.bytes,
            max_bytes: self.max_bytes,
        }
    }
}

/// Whether a cache file is whole: its header's length and checksum match.
fn intact(b: &[u8]) -> bool {
    if b.len() < HEADER || &b[..8] != MAGIC {
        return false;
    }
    let len = u64::from_le_bytes(b[8..16].try_into().expect("8 bytes"));
    let sum = u64::from_le_bytes(b[16..24].try_into().expect("8 bytes"));
    len == (b.len() - HEADER) as u64 && xxhash_rust::xxh3::xxh3_64(&b[HEADER..]) == sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_restart_torn_ones_are_refetched_and_the_bound_holds() {
        let dir = tempfile::tempdir().unwrap();
        let c = DiskCache::open(dir.path(), "db", 10_000).unwrap();
        assert_eq!(c.get("n-1-0"), None);
        c.put("n-1-0", &[7u8; 1000]);
        assert_eq!(c.get("n-1-0"), Some(vec![7u8; 1000]));
        drop(c);
        let c = DiskCache::open(dir.path(), "db", 10_000).unwrap();
        assert_eq!(
            c.get("n-1-0"),
            Some(vec![7u8; 1000]),
            "kept across a restart"
        );
        // A torn entry (cut short) is removed, never served.
        let p = c.path("n-1-0");
        let b = fs::read(&p).unwrap();
        fs::write(&p, &b[..b.len() - 10]).unwrap();
        assert_eq!(c.get("n-1-0"), None);
        assert!(!p.exists());
        // A flipped byte too.
        c.put("n-2-0", &[1u8; 100]);
        let p = c.path("n-2-0");
        let mut b = fs::read(&p).unwrap();
        b[HEADER + 5] ^= 1;
        fs::write(&p, &b).unwrap();
        assert_eq!(c.get("n-2-0"), None);
        assert_eq!(c.stats().damaged, 2);
        // The bound: the least recently used go first.
        for i in 0..5 {
            c.put(&format!("n-3-{i}"), &[2u8; 1900]);
        }
        assert!(c.get("n-3-0").is_some()); // used: now the newest
        c.put("n-3-5", &[2u8; 1900]);
        let s = c.stats();
        assert!(s.bytes <= 10_000, "{s:?}");
        assert!(c.get("n-3-0").is_some(), "recently used kept");
        assert!(c.get("n-3-1").is_none(), "least recently used evicted");
        assert!(s.evicted >= 1);
    }
}
