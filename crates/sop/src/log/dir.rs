//! The record files of a folder's log: `log/<seq >> 16 as %08x>/<seq as %016x>.rec`,
//! one name per commit (naming, reading, linking; the format is in `record.rs`).
//!
//! In a folder, a commit is the exclusive `link` of a fully written, fsynced record file to the
//! next free sequence number. Writers link `n` only after reading `n - 1` and
//! making it durable, so the durable records are always a prefix of the log: a
//! power cut loses at most a suffix of commits that never returned Ok.
//!
//! In an exclusively opened folder a record may for a while live only in the
//! commit journal (`journal.rs`): it is then *packed*, and every read of it here
//! goes to its bytes in the journal file until it is written out. Written out, its
//! name is a hard link to a record pack (`pack.rs`) holding it among others; a
//! read of such a name goes to the record's bytes in the pack.

use super::pack;
use super::record::{self, Record, PREFIX_LEN, TRAILER_LEN};
use crate::error::{Error, Result};
use crate::io::{VFile, Vfs};
use crate::layout::{Layout, TmpNames, SUBDIR_SHIFT};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub struct LogDir {
    layout: Layout,
    pub root: PathBuf,
    /// The last shared tombstone read whole: (length, its last 8 bytes = its
    /// checksum, its bytes). Thousands of retired records are links to one file;
    /// this spares reading it again for each.
    last_tombstone: Mutex<Option<SeenTombstone>>,
    /// Records that live in a journal file for now (exclusive mode).
    packed: RwLock<BTreeMap<u64, Packed>>,
    /// The index of the last record pack read: (file length, index checksum, its
    /// entries). Thousands of record names are links to one pack.
    last_pack: Mutex<Option<SeenPack>>,
    /// Records open for reading node images and values, by sequence.
    files: Mutex<HashMap<u64, Arc<dyn VFile>>>,
}

/// Where a packed record's bytes are: `len` bytes at `off` in a journal file.
#[derive(Clone)]
pub struct Packed {
    pub file: Arc<dyn VFile>,
    pub off: u64,
    pub len: u64,
}

/// A packed record seen as a file of its own (read-only).
struct Slice(Packed);

impl VFile for Slice {
    fn read_exact_at(&self, buf: &mut [u8], off: u64) -> io::Result<()> {
        let end = off.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > self.0.len) {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        self.0.file.read_exact_at(buf, self.0.off + off)
    }
    fn append(&self, _: &[u8]) -> io::Result<()> {
        Err(io::Error::other("a packed record is read-only"))
    }
    fn write_at(&self, _: &[u8], _: u64) -> io::Result<()> {
        Err(io::Error::other("a packed record is read-only"))
    }
    fn sync_data(&self) -> io::Result<()> {
        self.0.file.sync_data()
    }
    fn len(&self) -> io::Result<u64> {
        Ok(self.0.len)
    }
    fn id(&self) -> io::Result<crate::io::FileId> {
        self.0.file.id()
    }
}

/// Whether the file named `other` is the one named `ours`, judged by content:
/// the same length and the same last 32 bytes. A record ends with its trailer,
/// which holds the checksum of its header, and the header names the transaction,
/// the sequence it was validated against and the checksum of every node image, so
/// an attempt is identified exactly (a record pack ends with its index's
/// checksum). A name that vanished meanwhile is not ours.
fn same_content(vfs: &dyn Vfs, ours: &Path, other: &Path) -> Result<bool> {
    let tail = |p: &Path| -> io::Result<(u64, Vec<u8>)> {
        let f = vfs.open(p)?;
        let len = f.len()?;
        let n = len.min(TRAILER_LEN as u64);
        let mut b = vec![0u8; n as usize];
        f.read_exact_at(&mut b, len - n)?;
        Ok((len, b))
    };
    let theirs = match tail(other) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(other, e)),
    };
    Ok(tail(ours).map_err(|e| Error::io(ours, e))? == theirs)
}

/// (file length, its last 8 bytes, its bytes).
type SeenTombstone = (u64, [u8; 8], Arc<Vec<u8>>);
/// (file length, its index's checksum, its index).
type SeenPack = (u64, u64, Arc<Vec<pack::Entry>>);

impl LogDir {
    pub fn new(layout: &Layout) -> Self {
        LogDir {
            layout: layout.clone(),
            root: layout.log(),
            last_tombstone: Mutex::new(None),
            packed: RwLock::new(BTreeMap::new()),
            last_pack: Mutex::new(None),
            files: Mutex::new(HashMap::new()),
        }
    }

    /// Record `seq` lives in a journal file for now.
    pub fn pack(&self, seq: u64, at: Packed) {
        self.packed.write().insert(seq, at);
    }
    /// Records `seqs` now live in their own files. Under the files lock, so no
    /// reader remembers a slice of the journal after this (see `segment`).
    pub fn unpack(&self, seqs: std::ops::RangeInclusive<u64>) {
        let mut files = self.files.lock();
        let mut p = self.packed.write();
        for s in seqs {
            p.remove(&s);
            files.remove(&s);
        }
    }

    /// Forget every record open for reading (reclaim retired some).
    pub fn forget_open_records(&self) {
        self.files.lock().clear();
    }

    /// Record `seq`, open for reading node images and values (remembered: the
    /// next read of it opens nothing). A retired record means the reader's
    /// snapshot is older than what reclaim keeps: `SnapshotTooOld`.
    pub fn segment(&self, vfs: &dyn Vfs, seq: u64) -> Result<Arc<dyn VFile>> {
        if let Some(f) = self.files.lock().get(&seq) {
            return Ok(f.clone());
        }
        let path = self.path(seq);
        // A packed record is read from its journal (never a tombstone: reclaim
        // skips packed records).
        let packed = self.is_packed(seq);
        let Some((f, _)) = self.open(vfs, seq)? else {
            return Err(Error::corrupt(
                &path,
                "commit segment referenced by the registry is missing",
            ));
        };
        let mut magic = [0u8; 8];
        let retired = !packed
            && f.len().map_err(|e| Error::io(&path, e))? >= 8
            && f.read_exact_at(&mut magic, 0).is_ok()
            && record::is_tombstone(&magic);
        if retired {
            return Err(Error::SnapshotTooOld(format!(
                "commit record {seq} was reclaimed after this snapshot was taken"
            )));
        }
        let mut files = self.files.lock();
        // Written out meanwhile: its journal file will be reused and these bytes
        // overwritten, so do not remember them (`unpack` runs under this lock).
        if packed && !self.is_packed(seq) {
            return Ok(f);
        }
        if files.len() >= 512 {
            files.clear();
        }
        files.insert(seq, f.clone());
        Ok(f)
    }
    pub fn is_packed(&self, seq: u64) -> bool {
        self.packed.read().contains_key(&seq)
    }
    /// A packed record's place in its journal.
    pub fn packed(&self, seq: u64) -> Option<Packed> {
        self.packed.read().get(&seq).cloned()
    }
    pub fn subdir(&self, seq: u64) -> PathBuf {
        self.layout.record_dir(seq)
    }
    pub fn path(&self, seq: u64) -> PathBuf {
        self.layout.record(seq)
    }

    /// Open record `seq` (its file, or its bytes in the journal while packed) and
    /// take its length; `Ok(None)` if it does not exist.
    pub fn open(&self, vfs: &dyn Vfs, seq: u64) -> Result<Option<(Arc<dyn VFile>, u64)>> {
        if let Some(p) = self.packed(seq) {
            let len = p.len;
            return Ok(Some((Arc::new(Slice(p)), len)));
        }
        let path = self.path(seq);
        let f = match vfs.open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        let flen = f.len().map_err(|e| Error::io(&path, e))?;
        let mut magic = [0u8; 8];
        if flen >= 8 {
            f.read_exact_at(&mut magic, 0)
                .map_err(|e| Error::io(&path, e))?;
        }
        if pack::is_pack(&magic) {
            let e = self.pack_entry(&*f, flen, seq)?;
            let p = Packed {
                file: f,
                off: e.off,
                len: e.len,
            };
            return Ok(Some((Arc::new(Slice(p)), e.len)));
        }
        Ok(Some((f, flen)))
    }

    /// The record pack record `seq` lives in, if its name links to one: (the pack's
    /// length, its index checksum), which tells packs apart.
    pub fn pack_of(&self, vfs: &dyn Vfs, seq: u64) -> Result<Option<(u64, u64)>> {
        let path = self.path(seq);
        let f = match vfs.open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(path, e)),
        };
        let flen = f.len().map_err(|e| Error::io(&path, e))?;
        let mut magic = [0u8; 8];
        if flen < pack::HEADER_LEN + pack::TRAILER_LEN {
            return Ok(None);
        }
        f.read_exact_at(&mut magic, 0)
            .map_err(|e| Error::io(&path, e))?;
        if !pack::is_pack(&magic) {
            return Ok(None);
        }
        let mut t = [0u8; pack::TRAILER_LEN as usize];
        f.read_exact_at(&mut t, flen - pack::TRAILER_LEN)
            .map_err(|e| Error::io(&path, e))?;
        let (_, _, sum) = pack::parse_trailer(&t, flen).map_err(|e| Error::corrupt(&path, e.0))?;
        Ok(Some((flen, sum)))
    }

    /// Where record `seq` lies in the pack `f` (`flen` bytes) its name links to.
    fn pack_entry(&self, f: &dyn VFile, flen: u64, seq: u64) -> Result<pack::Entry> {
        let path = self.path(seq);
        let corrupt = |e: crate::error::CodecError| Error::corrupt(&path, e.0);
        if flen < pack::HEADER_LEN + pack::TRAILER_LEN {
            return Err(Error::corrupt(&path, "record pack too short"));
        }
        let mut t = [0u8; pack::TRAILER_LEN as usize];
        f.read_exact_at(&mut t, flen - pack::TRAILER_LEN)
            .map_err(|e| Error::io(&path, e))?;
        let (off, n, sum) = pack::parse_trailer(&t, flen).map_err(corrupt)?;
        let memo = self.last_pack.lock().clone();
        let index = match memo {
            Some((len, s, index)) if len == flen && s == sum => index,
            _ => {
                let mut raw = vec![0u8; n * 24];
                f.read_exact_at(&mut raw, off)
                    .map_err(|e| Error::io(&path, e))?;
                let index = Arc::new(pack::decode_index(&raw, sum, off).map_err(corrupt)?);
                *self.last_pack.lock() = Some((flen, sum, index.clone()));
                index
            }
        };
        pack::find(&index, seq).ok_or_else(|| {
            Error::corrupt(&path, "the record pack this name links to does not hold it")
        })
    }

    /// Read the header of record `seq`; `Ok(None)` if it does not exist (yet).
    pub fn read_header(&self, vfs: &dyn Vfs, seq: u64) -> Result<Option<Record>> {
        let path = self.path(seq);
        let Some((f, flen)) = self.open(vfs, seq)? else {
            return Ok(None);
        };
        if let Some(txn) = self.tombstone(&*f, flen, seq)? {
            return Ok(Some(Record {
                txn,
                retired: true,
                ..Default::default()
            }));
        }
        Ok(Some(header_of(&*f, flen, &path)?.0))
    }

    /// Forget the remembered tombstone and pack index, so the next ones are read
    /// and verified whole (integrity checks start with this).
    pub fn forget_tombstone(&self) {
        *self.last_tombstone.lock() = None;
        *self.last_pack.lock() = None;
    }

    /// Cheaply: is record `seq` retired (a tombstone), and its file's length;
    /// `Ok(None)` if it does not exist. Reads only the first eight bytes.
    pub fn peek(&self, vfs: &dyn Vfs, seq: u64) -> Result<Option<(bool, u64)>> {
        let path = self.path(seq);
        let Some((f, flen)) = self.open(vfs, seq)? else {
            return Ok(None);
        };
        let mut magic = [0u8; 8];
        if flen >= 8 {
            f.read_exact_at(&mut magic, 0)
                .map_err(|e| Error::io(&path, e))?;
        }
        Ok(Some((record::is_tombstone(&magic), flen)))
    }

    /// `Some(txn)` if `f` (record `seq`, `flen` bytes) is a tombstone; an error if it
    /// starts like one but does not name `seq` or fails its checksum.
    pub fn tombstone(&self, f: &dyn VFile, flen: u64, seq: u64) -> Result<Option<u128>> {
        let path = self.path(seq);
        let mut magic = [0u8; 8];
        if flen < 8 {
            return Err(Error::corrupt(&path, "commit record too short"));
        }
        f.read_exact_at(&mut magic, 0)
            .map_err(|e| Error::io(&path, e))?;
        if !record::is_tombstone(&magic) {
            return Ok(None);
        }
        if flen > record::TOMBSTONE2_MAX_LEN {
            return Err(Error::corrupt(
                &path,
                "damaged tombstone of a reclaimed record",
            ));
        }
        let mut tail = [0u8; 8];
        f.read_exact_at(&mut tail, flen - 8)
            .map_err(|e| Error::io(&path, e))?;
        let memo = self.last_tombstone.lock().clone();
        let t = match memo {
            Some((len, sum, bytes)) if len == flen && sum == tail => bytes,
            _ => {
                let mut t = vec![0u8; flen as usize];
                f.read_exact_at(&mut t, 0)
                    .map_err(|e| Error::io(&path, e))?;
                Arc::new(t)
            }
        };
        let txn = record::decode_tombstone(&t, seq);
        if txn.is_some() {
            *self.last_tombstone.lock() = Some((flen, tail, t));
        }
        match txn {
            Some(txn) => Ok(Some(txn)),
            None => Err(Error::corrupt(
                &path,
                "damaged tombstone of a reclaimed record",
            )),
        }
    }

    /// File length and body length (node images and values, without prefix,
    /// header and trailer) of record `seq`; `Ok(None)` if it is missing or retired.
    pub fn sizes(&self, vfs: &dyn Vfs, seq: u64) -> Result<Option<(u64, u64)>> {
        let path = self.path(seq);
        let Some((f, flen)) = self.open(vfs, seq)? else {
            return Ok(None);
        };
        if self.tombstone(&*f, flen, seq)?.is_some() {
            return Ok(None);
        }
        if flen < (PREFIX_LEN + TRAILER_LEN) as u64 {
            return Err(Error::corrupt(&path, "commit record too short"));
        }
        let mut t = [0u8; TRAILER_LEN];
        f.read_exact_at(&mut t, flen - TRAILER_LEN as u64)
            .map_err(|e| Error::io(&path, e))?;
        let (off, _, _) =
            Record::parse_trailer(&t, flen).map_err(|e| Error::corrupt(&path, e.0))?;
        Ok(Some((flen, off - PREFIX_LEN as u64)))
    }

    /// Make `tmp` record `seq`. `Ok(false)` if that sequence is already taken.
    pub fn link(&self, vfs: &dyn Vfs, tmp: &Path, seq: u64) -> Result<bool> {
        self.prepare_link(vfs, seq, &|| {})?;
        self.link_prepared(vfs, tmp, seq)
    }

    /// What linking record `seq` needs first: before the first record of a new
    /// subdirectory, the previous subdirectory is synced so that a durable later
    /// record always has durable predecessors, and the new one is created and its
    /// name synced. `failed_sync` is called if a directory sync fails (the caller
    /// poisons its handle: the page cache may show entries the disk lacks).
    pub fn prepare_link(&self, vfs: &dyn Vfs, seq: u64, failed_sync: &dyn Fn()) -> Result<()> {
        let dir = self.subdir(seq);
        let first_in_dir = seq & ((1 << SUBDIR_SHIFT) - 1) == 0 || seq == 1;
        if first_in_dir && seq > 1 {
            let prev = self.subdir(seq - 1);
            vfs.sync_dir(&prev).map_err(|e| {
                failed_sync();
                Error::io(&prev, e)
            })?;
        }
        // In an exclusive folder the records before `seq` may all be packed in the
        // journal, so the subdirectory may be missing for any `seq`.
        if (first_in_dir || !self.packed.read().is_empty())
            && !vfs.exists(&dir).map_err(|e| Error::io(&dir, e))?
        {
            vfs.create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            vfs.sync_dir(&self.root).map_err(|e| {
                failed_sync();
                Error::io(&self.root, e)
            })?;
        }
        Ok(())
    }

    /// Link `tmp` as record `seq` (after `prepare_link`). `Ok(false)` if another
    /// record took the sequence. An error leaves the outcome unknown: a network
    /// file system may have made the link and lost the reply.
    pub fn link_prepared(&self, vfs: &dyn Vfs, tmp: &Path, seq: u64) -> Result<bool> {
        let dir = self.subdir(seq);
        let to = self.path(seq);
        match vfs.link_exclusive(tmp, &to) {
            Ok(()) => Ok(true),
            // On a network file system a link whose reply was lost is sent again,
            // and the retry finds the name taken by the first one: the name may
            // hold this very file.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let ours = same_content(vfs, tmp, &to)?;
                if ours {
                    tracing::warn!(
                        seq,
                        "link reported \"already exists\" but the name holds this record: linked"
                    );
                }
                Ok(ours)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && !vfs.exists(&dir).unwrap_or(true) => {
                // The subdirectory is created by whoever links its first record; we
                // are behind, so report the slot as taken and catch up.
                Ok(false)
            }
            Err(e) => Err(Error::io(to, e)),
        }
    }

    /// Write records (sequence, length) into one record pack (`pack.rs`), reading
    /// each one's bytes with `read` in order, `fdatasync` it once, and give each
    /// record its name as a hard link to it: exclusively (`replace` false: a name
    /// taken is an error), or in place of whatever the name holds (`replace`:
    /// journal replay, where a name may hold a torn or unsynced copy). Directory
    /// entries are not synced here.
    pub(crate) fn pack_records(
        &self,
        vfs: &dyn Vfs,
        tmp: &TmpNames,
        records: &[(u64, u64)],
        replace: bool,
        read: &mut dyn FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let path = tmp.next();
        let f = vfs.create_new(&path).map_err(|e| Error::io(&path, e))?;
        let res = (|| {
            let io_err = |e| Error::io(&path, e);
            let mut buf = pack::header().to_vec();
            let mut entries = Vec::with_capacity(records.len());
            let mut off = pack::HEADER_LEN;
            for &(seq, len) in records {
                let at = buf.len();
                buf.resize(at + len as usize, 0);
                read(&mut buf[at..])?;
                entries.push(pack::Entry { seq, off, len });
                off += len;
                if buf.len() >= 1 << 20 {
                    f.append(&buf).map_err(io_err)?;
                    buf.clear();
                }
            }
            buf.extend_from_slice(&pack::encode_tail(&entries));
            f.append(&buf).map_err(io_err)?;
            f.sync_data().map_err(io_err)?;
            for &(seq, _) in records {
                if replace {
                    self.put(vfs, &path, seq, &tmp.next())?;
                } else if !self.link(vfs, &path, seq)? {
                    return Err(Error::corrupt(
                        self.path(seq),
                        "a journaled record's name is taken by another file",
                    ));
                }
            }
            Ok(())
        })();
        let _ = vfs.remove_file(&path);
        res
    }

    /// Make the names of records `from + 1 ..= to` durable: their folders'
    /// entries, and `log/`'s (which holds the folders). Their bytes were made
    /// durable by each file's own `fdatasync` (a record pack's, or a large
    /// record's before its marker frame): never by a whole-file-system sync,
    /// which FUSE and network volumes accept and ignore.
    pub fn sync_names(&self, vfs: &dyn Vfs, from: u64, to: u64) -> Result<()> {
        if from >= to {
            return Ok(());
        }
        let dirs: std::collections::BTreeSet<PathBuf> =
            (from + 1..=to).map(|s| self.subdir(s)).collect();
        for d in &dirs {
            vfs.sync_dir(d).map_err(|e| Error::io(d, e))?;
        }
        vfs.sync_dir(&self.root)
            .map_err(|e| Error::io(&self.root, e))
    }

    /// Retire every record at or below `up_to` not in `live` (and not packed in a
    /// journal, nor retired already): each becomes a hard link, put in place by an
    /// atomic rename, to a durable tombstone file shared by a batch of them, which
    /// keeps each record's transaction id. The name stays taken, so no stale
    /// writer can ever publish at that sequence. Durable on return. Returns how
    /// many were retired and the bytes their files held.
    pub(crate) fn retire_dead(
        &self,
        vfs: &dyn Vfs,
        tmp: &TmpNames,
        up_to: u64,
        live: &std::collections::HashSet<u64>,
    ) -> Result<(usize, u64)> {
        // Dead records, with their transaction ids (kept in the tombstone).
        let mut dead: Vec<(u64, u128, u64)> = Vec::new();
        for seq in self
            .list(vfs)?
            .into_iter()
            .filter(|s| *s <= up_to && !live.contains(s) && !self.is_packed(*s))
        {
            // Retired ones are skipped without reading their (shared) tombstone.
            let Some((false, len)) = self.peek(vfs, seq)? else {
                continue;
            };
            let Some(rec) = self.read_header(vfs, seq)? else {
                continue;
            };
            dead.push((seq, rec.txn, len));
        }
        dead.sort_unstable();
        let (mut retired, mut bytes) = (0, 0);
        let mut dirs = std::collections::BTreeSet::new();
        for batch in dead.chunks(record::TOMBSTONE_BATCH) {
            let entries: Vec<(u64, u128)> = batch.iter().map(|(s, t, _)| (*s, *t)).collect();
            let tomb = tmp.next();
            let f = vfs.create_new(&tomb).map_err(|e| Error::io(&tomb, e))?;
            let res = f
                .append(&record::encode_tombstones(&entries))
                .and_then(|_| f.sync_data())
                .map_err(|e| Error::io(&tomb, e))
                .and_then(|_| {
                    for (seq, _, len) in batch {
                        let path = self.path(*seq);
                        let name = tmp.next();
                        vfs.link_exclusive(&tomb, &name)
                            .map_err(|e| Error::io(&name, e))?;
                        if let Err(e) = vfs.rename(&name, &path) {
                            let _ = vfs.remove_file(&name);
                            return Err(Error::io(&path, e));
                        }
                        dirs.insert(self.subdir(*seq));
                        retired += 1;
                        bytes += len;
                    }
                    Ok(())
                });
            let _ = vfs.remove_file(&tomb);
            res?;
        }
        for d in dirs {
            vfs.sync_dir(&d).map_err(|e| Error::io(&d, e))?;
        }
        self.forget_open_records();
        Ok((retired, bytes))
    }

    /// Make the file `src` record `seq`, replacing whatever the name holds (journal
    /// recovery rewriting a record from its frame): a hard link under the spare
    /// name `via`, then an atomic rename over the record's name. Not synced.
    pub fn put(&self, vfs: &dyn Vfs, src: &Path, seq: u64, via: &Path) -> Result<()> {
        let dir = self.subdir(seq);
        if !vfs.exists(&dir).map_err(|e| Error::io(&dir, e))? {
            vfs.create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        vfs.link_exclusive(src, via)
            .map_err(|e| Error::io(via, e))?;
        let to = self.path(seq);
        vfs.rename(via, &to).map_err(|e| {
            let _ = vfs.remove_file(via);
            Error::io(&to, e)
        })
    }

    /// Whether record `seq` has a name (packed records count).
    pub fn exists(&self, vfs: &dyn Vfs, seq: u64) -> Result<bool> {
        if self.is_packed(seq) {
            return Ok(true);
        }
        let p = self.path(seq);
        vfs.exists(&p).map_err(|e| Error::io(p, e))
    }

    /// Make record `seq` (and all before it in its directory) durable.
    pub fn sync(&self, vfs: &dyn Vfs, seq: u64) -> Result<()> {
        let dir = self.subdir(seq);
        vfs.sync_dir(&dir).map_err(|e| Error::io(dir, e))
    }

    /// All record sequence numbers present, sorted.
    pub fn list(&self, vfs: &dyn Vfs) -> Result<Vec<u64>> {
        self.list_from(vfs, 0)
    }

    /// Record sequence numbers present after `after` (every one for 0), sorted
    /// (`CommitLog::list_from` of the folder logs).
    pub fn list_after(&self, vfs: &dyn Vfs, after: u64) -> Result<Vec<u64>> {
        let mut all = self.list_from(vfs, after)?;
        all.retain(|s| *s > after);
        Ok(all)
    }

    /// Record sequence numbers present in the subdirectories holding `from` and later.
    pub fn list_from(&self, vfs: &dyn Vfs, from: u64) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        let subs = match vfs.list_dir(&self.root) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        for sub in subs {
            match u64::from_str_radix(&sub, 16) {
                Ok(n) if n >= from >> SUBDIR_SHIFT => {}
                _ => continue,
            }
            let p = self.root.join(&sub);
            for name in vfs.list_dir(&p).map_err(|e| Error::io(&p, e))? {
                if let Some(seq) = Layout::parse_record_name(&name) {
                    out.push(seq);
                }
            }
        }
        out.extend(self.packed.read().range(from..).map(|(s, _)| *s));
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }
}

/// The header of the record in `f` (`flen` bytes; `path` names it in errors),
/// and the checksum of that header its trailer gives.
pub(crate) fn header_of(f: &dyn VFile, flen: u64, path: &Path) -> Result<(Record, u64)> {
    if flen < (PREFIX_LEN + TRAILER_LEN) as u64 {
        return Err(Error::corrupt(path, "commit record too short"));
    }
    let mut prefix = [0u8; PREFIX_LEN];
    f.read_exact_at(&mut prefix, 0)
        .map_err(|e| Error::io(path, e))?;
    let version = Record::check_prefix(&prefix).map_err(|e| Error::corrupt(path, e.0))?;
    let mut t = [0u8; TRAILER_LEN];
    f.read_exact_at(&mut t, flen - TRAILER_LEN as u64)
        .map_err(|e| Error::io(path, e))?;
    let (off, len, sum) = Record::parse_trailer(&t, flen).map_err(|e| Error::corrupt(path, e.0))?;
    let mut h = vec![0u8; len];
    f.read_exact_at(&mut h, off)
        .map_err(|e| Error::io(path, e))?;
    let rec = Record::decode_header_of(&h, sum, version).map_err(|e| Error::corrupt(path, e.0))?;
    Ok((rec, sum))
}
