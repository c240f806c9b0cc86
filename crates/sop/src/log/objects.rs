//! The commit log in an S3-compatible object store (feature `s3`).
//!
//! Record `seq` is the object `log/<seq %016x>.rec` under the database's
//! prefix, with the same bytes as a record file (docs/FORMAT.md). A commit at
//! `seq`:
//!
//! 1. `prepare`: nothing. The record's predecessors are durable already: an
//!    object exists only once its PUT was acknowledged, and the committer read
//!    `seq - 1` before writing at `seq`.
//! 2. `publish` (the commit point): a create-only PUT (`If-None-Match: *`) of
//!    the record. One PUT wins per name; a loser gets 412 and validates again
//!    (as `EEXIST` from the folder's link). A PUT whose reply is lost may have
//!    applied: the same bytes are sent again, create-only, and a 412 is settled
//!    by reading the record there (ours if it names our transaction and header
//!    checksum). Only when that keeps failing is the outcome unknown; a lost
//!    PUT still in flight somewhere may land later, so `commit_outcome` takes
//!    the next sequence with an empty record before saying "not committed"
//!    (`lost_claims_linger`).
//! 3. `make_durable`: nothing; an acknowledged PUT is durable.
//!
//! No rename, link, directory sync or lock is used. Catching up probes the next
//! names directly (`read_header(seq + 1)`, ...); listings are used only by
//! maintenance (check, retire), never to decide what exists. Retiring a record
//! replaces its object by a tombstone naming its transaction: the name stays
//! taken, so a stale writer's create-only PUT at that sequence still fails.

use super::checkpoints::CheckpointStore;
use super::dir::header_of;
use super::record::{self, Record};
use super::{CommitLog, Written};
use crate::error::{Error, Result};
use crate::health::Health;
use crate::io::{FileId, VFile, Vfs};
use crate::layout::Layout;
use crate::objects::ObjectClient;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashSet;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How much of a record's end one read fetches for its header: most records'
/// headers and trailers, and small records whole.
const TAIL: u64 = 64 << 10;
/// The bytes of a record's start read (and kept) with its first prefix read.
const HEAD: u64 = 4096;
/// The size of a tombstone of one record.
const ONE_TOMBSTONE: u64 = 16 + 24 + 8;
/// Sends of one record after a failed PUT before its outcome is unknown.
const PUBLISH_ATTEMPTS: u32 = 5;

/// The name of record `seq` under the prefix.
pub(crate) fn record_key(seq: u64) -> String {
    format!("log/{seq:016x}.rec")
}

/// A record object read through ranged GETs (its end, and its start, kept
/// after the first reads), or bytes in memory.
pub(crate) struct ObjectFile {
    client: Arc<ObjectClient>,
    key: String,
    len: Mutex<Option<u64>>,
    /// Bytes from `.0` to the end, if read.
    tail: Mutex<Option<(u64, Bytes)>>,
    head: Mutex<Option<Bytes>>,
}

impl ObjectFile {
    fn new(client: Arc<ObjectClient>, key: String) -> ObjectFile {
        ObjectFile {
            client,
            key,
            len: Mutex::new(None),
            tail: Mutex::new(None),
            head: Mutex::new(None),
        }
    }

    /// The object with its last `TAIL` bytes read; `None` if it does not exist.
    fn with_tail(client: Arc<ObjectClient>, key: String) -> Result<Option<ObjectFile>> {
        let Some((bytes, size)) = client.get_tail(&key, TAIL)? else {
            return Ok(None);
        };
        let f = ObjectFile::new(client, key);
        *f.len.lock() = Some(size);
        *f.tail.lock() = Some((size - bytes.len() as u64, bytes));
        Ok(Some(f))
    }

    fn copy_from(held: &Option<(u64, Bytes)>, buf: &mut [u8], off: u64) -> bool {
        match held {
            Some((start, b))
                if off >= *start && off - start + buf.len() as u64 <= b.len() as u64 =>
            {
                let at = (off - start) as usize;
                buf.copy_from_slice(&b[at..at + buf.len()]);
                true
            }
            _ => false,
        }
    }
}

impl VFile for ObjectFile {
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        if Self::copy_from(&self.tail.lock(), buf, off) {
            return Ok(());
        }
        let head = self.head.lock().clone().map(|b| (0, b));
        if Self::copy_from(&head, buf, off) {
            return Ok(());
        }
        let end = off + buf.len() as u64;
        if off == 0 && end <= HEAD {
            // A record's start is read for its prefix and magic: keep a little.
            let want = match *self.len.lock() {
                Some(l) => HEAD.min(l),
                None => end,
            };
            let b = self.client.get_range(&self.key, 0..want.max(end))?;
            buf.copy_from_slice(&b[..buf.len()]);
            *self.head.lock() = Some(b);
            return Ok(());
        }
        let b = self.client.get_range(&self.key, off..end)?;
        buf.copy_from_slice(&b);
        Ok(())
    }

    fn append(&self, _: &[u8]) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "records are immutable",
        ))
    }

    fn write_at(&self, _: &[u8], _: u64) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "records are immutable",
        ))
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        if let Some(l) = *self.len.lock() {
            return Ok(l);
        }
        match self.client.head(&self.key) {
            Ok(Some(l)) => {
                *self.len.lock() = Some(l);
                Ok(l)
            }
            Ok(None) => Err(io::Error::new(io::ErrorKind::NotFound, "no such record")),
            Err(e) => Err(io::Error::other(e.to_string())),
        }
    }

    fn id(&self) -> io::Result<FileId> {
        Ok(FileId {
            dev: u64::MAX,
            ino: xxhash_rust::xxh3::xxh3_64(self.key.as_bytes()),
        })
    }
}

/// Bytes in memory as a file (a record about to be published).
struct BytesFile(Bytes);

impl VFile for BytesFile {
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        let at = off as usize;
        let b = self
            .0
            .get(at..at + buf.len())
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(b);
        Ok(())
    }
    fn append(&self, _: &[u8]) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn write_at(&self, _: &[u8], _: u64) -> io::Result<()> {
        Err(io::ErrorKind::Unsupported.into())
    }
    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.len() as u64)
    }
    fn id(&self) -> io::Result<FileId> {
        Err(io::ErrorKind::Unsupported.into())
    }
}

/// The object store's log (see the module docs).
pub(crate) struct ObjectLog {
    client: Arc<ObjectClient>,
    vfs: Arc<dyn Vfs>,
    checkpoints: ObjectCheckpoints,
    health: Arc<Health>,
    given_up: AtomicBool,
}

impl ObjectLog {
    pub fn new(client: Arc<ObjectClient>, vfs: Arc<dyn Vfs>, health: Arc<Health>) -> ObjectLog {
        ObjectLog {
            checkpoints: ObjectCheckpoints {
                client: client.clone(),
            },
            client,
            vfs,
            health,
            given_up: AtomicBool::new(false),
        }
    }

    fn bytes_of(&self, w: &Written) -> Result<Bytes> {
        if let Some(b) = &w.bytes {
            return Ok(Bytes::from(b.clone()));
        }
        let Some(p) = &w.path else {
            return Err(Error::InvalidOption("a record with no bytes".into()));
        };
        let b = self.vfs.read_all(p).map_err(|e| Error::io(p, e))?;
        Ok(Bytes::from(b))
    }

    /// Whether the record at `seq` is the one in `ours` (a resent PUT of ours
    /// that landed before): same transaction and header checksum.
    fn is_ours(&self, seq: u64, ours: &Bytes) -> Result<bool> {
        let path = self.client.location(&record_key(seq));
        let mine = header_of(&BytesFile(ours.clone()), ours.len() as u64, &path)?;
        let Some(f) = ObjectFile::with_tail(self.client.clone(), record_key(seq))? else {
            return Err(Error::corrupt(
                path,
                "record vanished after its name was taken",
            ));
        };
        let len = f.len().map_err(|e| Error::io(&path, e))?;
        let mut magic = [0u8; 8];
        f.read_exact_at(&mut magic, 0)
            .map_err(|e| Error::io(&path, e))?;
        if record::is_tombstone(&magic) {
            return Ok(false);
        }
        let theirs = header_of(&f, len, &path)?;
        Ok(theirs.0.txn == mine.0.txn && theirs.1 == mine.1)
    }

    fn header(&self, seq: u64) -> Result<Option<Record>> {
        let key = record_key(seq);
        let path = self.client.location(&key);
        let Some(f) = ObjectFile::with_tail(self.client.clone(), key)? else {
            return Ok(None);
        };
        let len = f.len().map_err(|e| Error::io(&path, e))?;
        if len < 8 {
            return Err(Error::corrupt(&path, "commit record too short"));
        }
        let mut magic = [0u8; 8];
        f.read_exact_at(&mut magic, 0)
            .map_err(|e| Error::io(&path, e))?;
        if record::is_tombstone(&magic) {
            if len > record::TOMBSTONE2_MAX_LEN {
                return Err(Error::corrupt(
                    &path,
                    "damaged tombstone of a reclaimed record",
                ));
            }
            let mut t = vec![0u8; len as usize];
            f.read_exact_at(&mut t, 0)
                .map_err(|e| Error::io(&path, e))?;
            return match record::decode_tombstone(&t, seq) {
                Some(txn) => Ok(Some(Record {
                    txn,
                    retired: true,
                    ..Default::default()
                })),
                None => Err(Error::corrupt(
                    &path,
                    "damaged tombstone of a reclaimed record",
                )),
            };
        }
        Ok(Some(header_of(&f, len, &path)?.0))
    }
}

impl ObjectLog {
    /// `CommitLog::record_sizes`: one suffix GET (the trailer), and for a
    /// record short enough to be a tombstone its start, from the same reply
    /// when the record is under 64 KiB.
    fn sizes(&self, seq: u64) -> Result<Option<(u64, u64)>> {
        let key = record_key(seq);
        let path = self.client.location(&key);
        let Some(f) = ObjectFile::with_tail(self.client.clone(), key)? else {
            return Ok(None);
        };
        let len = f.len().map_err(|e| Error::io(&path, e))?;
        if len < (record::PREFIX_LEN + record::TRAILER_LEN) as u64 {
            if len >= 8 {
                let mut magic = [0u8; 8];
                f.read_exact_at(&mut magic, 0)
                    .map_err(|e| Error::io(&path, e))?;
                if record::is_tombstone(&magic) {
                    return Ok(None);
                }
            }
            return Err(Error::corrupt(&path, "commit record too short"));
        }
        if len <= record::TOMBSTONE2_MAX_LEN {
            let mut magic = [0u8; 8];
            f.read_exact_at(&mut magic, 0)
                .map_err(|e| Error::io(&path, e))?;
            if record::is_tombstone(&magic) {
                return Ok(None);
            }
        }
        let mut t = [0u8; record::TRAILER_LEN];
        f.read_exact_at(&mut t, len - record::TRAILER_LEN as u64)
            .map_err(|e| Error::io(&path, e))?;
        let (off, _, _) = Record::parse_trailer(&t, len).map_err(|e| Error::corrupt(&path, e.0))?;
        Ok(Some((len, off - record::PREFIX_LEN as u64)))
    }
}

impl CommitLog for ObjectLog {
    fn copy_max(&self) -> usize {
        // A record is sent whole in one PUT: small ones need no temporary file.
        8 << 20
    }

    fn alone(&self) -> bool {
        false
    }

    fn prepare(&self, _: u64, _: &Written) -> Result<()> {
        self.health.check()
    }

    fn publish(&self, seq: u64, w: &Written) -> Result<bool> {
        let bytes = self.bytes_of(w)?;
        let key = record_key(seq);
        let mut last = None;
        for attempt in 0..PUBLISH_ATTEMPTS {
            if attempt > 0 {
                self.vfs.sleep(Duration::from_millis(25 << attempt));
            }
            match self.client.put_new(&key, bytes.clone()) {
                Ok(true) => return Ok(true),
                // Taken: by another committer, or by an earlier send of ours
                // whose reply was lost.
                Ok(false) => match self.is_ours(seq, &bytes) {
                    Ok(mine) => return Ok(mine),
                    Err(e) => last = Some(e),
                },
                Err(e) => {
                    tracing::warn!(seq, attempt, error = %e, "publishing a record failed; sending it again");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::Registry(format!("record {seq} not settled"))))
    }

    fn make_durable(&self, _: u64) -> Result<()> {
        Ok(())
    }

    fn start(&self, _: u64, _: bool) -> Result<()> {
        Ok(())
    }

    fn exists(&self, seq: u64) -> Result<bool> {
        Ok(self.client.head(&record_key(seq))?.is_some())
    }

    fn lost_claims_linger(&self) -> bool {
        true
    }

    fn read_header(&self, seq: u64) -> Result<Option<Record>> {
        self.header(seq)
    }

    fn open_record(&self, seq: u64) -> Result<Arc<dyn VFile>> {
        Ok(Arc::new(ObjectFile::new(
            self.client.clone(),
            record_key(seq),
        )))
    }

    fn list_from(&self, after: u64) -> Result<Vec<u64>> {
        let from = (after > 0).then(|| format!("{:016x}.rec", after));
        let mut out: Vec<u64> = self
            .client
            .list("log", from.as_deref())?
            .into_iter()
            .filter_map(|(n, _)| Layout::parse_record_name(&n))
            .filter(|s| *s > after || after == 0)
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    fn retire(&self, up_to: u64, live: &HashSet<u64>) -> Result<(usize, u64)> {
        let (mut retired, mut bytes) = (0, 0);
        for (name, size) in self.client.list("log", None)? {
            let Some(seq) = Layout::parse_record_name(&name) else {
                continue;
            };
            if seq > up_to || live.contains(&seq) || size <= ONE_TOMBSTONE {
                continue;
            }
            let Some(rec) = self.header(seq)? else {
                continue;
            };
            if rec.retired {
                continue;
            }
            // Replaced, never removed: the name stays taken.
            let t = record::encode_tombstones(&[(seq, rec.txn)]);
            self.client.put(&record_key(seq), Bytes::from(t))?;
            retired += 1;
            bytes += size;
        }
        Ok((retired, bytes))
    }

    fn checkpoints(&self) -> &dyn CheckpointStore {
        &self.checkpoints
    }

    fn write_out(&self) -> Result<()> {
        Ok(())
    }

    fn close(&self) -> Result<()> {
        Ok(())
    }

    fn discard(&self, w: &Written) {
        w.discard(&*self.vfs);
    }

    fn in_folder(&self) -> bool {
        false
    }

    fn record_sizes(&self, seq: u64) -> Result<Option<(u64, u64)>> {
        self.sizes(seq)
    }

    fn location(&self, seq: u64) -> PathBuf {
        self.client.location(&record_key(seq))
    }

    fn give_up(&self, release: &mut dyn FnMut()) {
        if !self.given_up.swap(true, Ordering::AcqRel) {
            release();
        }
    }
}

/// Checkpoints in the bucket: `checkpoints/<seq %016x>.ckpt`, created once.
pub(crate) struct ObjectCheckpoints {
    client: Arc<ObjectClient>,
}

fn checkpoint_key(seq: u64) -> String {
    format!("checkpoints/{seq:016x}.ckpt")
}

impl CheckpointStore for ObjectCheckpoints {
    fn list(&self) -> Result<Vec<u64>> {
        let mut seqs: Vec<u64> = self
            .client
            .list("checkpoints", None)?
            .into_iter()
            .filter_map(|(n, _)| Layout::parse_checkpoint_name(&n))
            .collect();
        seqs.sort_unstable();
        Ok(seqs)
    }

    fn get(&self, seq: u64) -> Result<Vec<u8>> {
        let key = checkpoint_key(seq);
        match self.client.get(&key)? {
            Some(b) => Ok(b.to_vec()),
            None => Err(Error::io(
                self.client.location(&key),
                io::Error::from(io::ErrorKind::NotFound),
            )),
        }
    }

    fn put(&self, seq: u64, bytes: &[u8]) -> Result<bool> {
        self.client
            .put_new(&checkpoint_key(seq), Bytes::copy_from_slice(bytes))
    }

    fn remove(&self, seq: u64) -> Result<()> {
        self.client.delete(&checkpoint_key(seq))
    }

    fn sync(&self) -> Result<()> {
        Ok(())
    }

    fn location(&self, seq: u64) -> PathBuf {
        self.client.location(&checkpoint_key(seq))
    }
}
