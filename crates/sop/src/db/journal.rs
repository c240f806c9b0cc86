//! Exclusive folders (`DbOptions::exclusive`): the folder lock, and the commit
//! journal that makes one `fdatasync` per commit enough (format in
//! `log/journal.rs`).
//!
//! Every opener takes `open.lock` while it opens. A shared opener releases it once
//! it holds its process lock; an exclusive one keeps it for as long as it is open,
//! after checking that no other process has the folder open. A journal therefore
//! exists only while its owner runs or after it crashed, and the first opener
//! after a crash replays it while holding `open.lock`, alone.

use super::*;
use crate::log::journal::{self, Frame};
use crate::log::pack;
use crate::log::Packed;
use std::collections::BTreeSet;

pub(crate) const OPEN_LOCK: &str = "open.lock";
/// Names the exclusive owner holding `open.lock` (its process id in hex), so a
/// waiting opener can tell it from another opener that is merely slow.
pub(crate) const OPEN_OWNER: &str = "open.owner";
/// How long an opener waits for `open.lock` while no exclusive owner holds it
/// (another opener is in the middle of its open, however slow).
const OPEN_LOCK_WAIT: Duration = Duration::from_secs(120);
/// A journal file is grown by writing this many zero bytes ahead of its frames:
/// a frame then lands on blocks the file already has, so its `fdatasync` writes
/// data only. Appending instead made every commit's sync also write the inode
/// (new size, new blocks), about 0.1 ms more per commit on ext4.
const GROW_BY: u64 = 1 << 20;

/// The commit journal: the file being appended to, and older ones whose records
/// are still to be written out as their own files.
pub(crate) struct Journal {
    active: Option<Active>,
    /// Sealed journals, oldest first: (base, last sequence, the file).
    sealed: Vec<(u64, u64, Arc<dyn VFile>)>,
    /// A written-out journal file to reuse for the next one.
    spare: Option<Arc<dyn VFile>>,
}

struct Active {
    file: Arc<dyn VFile>,
    /// Its frames are of the commits after `base`.
    base: u64,
    /// The last sequence appended.
    last: u64,
    /// Where the next frame goes (a reused file is longer: its old frames,
    /// checksummed for another base, end the replay where the new ones end).
    len: u64,
    /// The bytes the file holds (frames, then zeros or old frames past `len`).
    written: u64,
    buf: Vec<u8>,
}

/// Take `open.lock`. Held by an exclusive owner (named in `open.owner`, its
/// process lock held): `InUse` at once. Held by another opener in the middle of
/// its open: wait for it, however slow it is (up to `OPEN_LOCK_WAIT`). An opener
/// is never refused because another one is slow.
pub(super) fn take_open_lock(vfs: &dyn Vfs, db: &Path) -> Result<Box<dyn VLock>> {
    let path = db.join(OPEN_LOCK);
    let start = Instant::now();
    loop {
        if let Some(l) = vfs.try_lock(&path).map_err(io_err(&path))? {
            return Ok(l);
        }
        if exclusive_owner_alive(vfs, db)? {
            return Err(Error::InUse(
                db.to_path_buf(),
                "another process has it open exclusively (DbOptions::exclusive)".into(),
            ));
        }
        if start.elapsed() > OPEN_LOCK_WAIT {
            return Err(Error::InUse(
                db.to_path_buf(),
                format!(
                    "another opener has held {} for {} s without finishing its open (a stalled process?)",
                    path.display(),
                    OPEN_LOCK_WAIT.as_secs()
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether `open.owner` names a process whose lock is held (an exclusive owner
/// that is alive). A missing or stale file (its owner gone) is no owner.
fn exclusive_owner_alive(vfs: &dyn Vfs, db: &Path) -> Result<bool> {
    let owner = match vfs.read_all(&db.join(OPEN_OWNER)) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(db.join(OPEN_OWNER), e)),
    };
    let Some(id) = std::str::from_utf8(&owner)
        .ok()
        .and_then(|t| u128::from_str_radix(t.trim(), 16).ok())
    else {
        return Ok(false);
    };
    let lock = db.join("procs").join(format!("{id:032x}.lock"));
    if !vfs.exists(&lock).map_err(io_err(&lock))? {
        return Ok(false);
    }
    Ok(vfs.try_lock(&lock).map_err(io_err(&lock))?.is_none())
}

/// An exclusive opener holding `open.lock`: name itself in `open.owner` (no
/// sync: the name only helps openers decide to fail at once rather than wait).
pub(super) fn claim_owner(vfs: &dyn Vfs, db: &Path, tmp: &Path, me: u128) -> Result<()> {
    let f = vfs.create_new(tmp).map_err(io_err(tmp))?;
    f.append(format!("{me:032x}").as_bytes())
        .map_err(io_err(tmp))?;
    let to = db.join(OPEN_OWNER);
    vfs.rename(tmp, &to).map_err(io_err(&to))
}

/// Fail unless every process that ever opened the folder, except `me`, is gone.
pub(super) fn check_alone(vfs: &dyn Vfs, db: &Path, me: u128) -> Result<()> {
    let procs = db.join("procs");
    for name in vfs.list_dir(&procs).map_err(io_err(&procs))? {
        let Some(id) = name
            .strip_suffix(".lock")
            .and_then(|h| u128::from_str_radix(h, 16).ok())
        else {
            continue;
        };
        let p = procs.join(&name);
        if id != me && vfs.try_lock(&p).map_err(io_err(&p))?.is_none() {
            return Err(Error::InUse(
                db.to_path_buf(),
                "other processes have it open; an exclusive open needs the folder alone".into(),
            ));
        }
    }
    Ok(())
}

/// Write out sealed journals in the background (exclusive mode): wakes when a
/// journal is sealed, and ends with the database.
pub(super) fn spawn_writer(weak: std::sync::Weak<DbInner>, kick: Arc<Kick>) {
    let _ = std::thread::Builder::new()
        .name("sop-journal".into())
        .spawn(move || loop {
            kick.wait(Duration::from_millis(200));
            let Some(inner) = weak.upgrade() else { return };
            if inner.is_closed() {
                return;
            }
            if inner.has_sealed() {
                inner.write_out_or_poison();
            }
        });
}

/// Wakes the background writer when a journal is sealed.
#[derive(Default)]
pub(crate) struct Kick {
    flag: Mutex<bool>,
    cv: parking_lot::Condvar,
}

impl Kick {
    fn wait(&self, at_most: Duration) {
        let mut k = self.flag.lock();
        if !*k {
            self.cv.wait_for(&mut k, at_most);
        }
        *k = false;
    }
    fn notify(&self) {
        *self.flag.lock() = true;
        self.cv.notify_one();
    }
}

impl DbInner {
    pub fn journaled(&self) -> bool {
        self.journal.lock().is_some()
    }

    fn has_sealed(&self) -> bool {
        self.journal
            .lock()
            .as_ref()
            .is_some_and(|j| !j.sealed.is_empty())
    }

    /// Start journaling commits after `head` (an exclusive open, once the log is
    /// durable up to `head`).
    pub(super) fn start_journal(&self, head: u64) -> Result<()> {
        let active = self.new_journal_file(head, None)?;
        *self.journal.lock() = Some(Journal {
            active: Some(active),
            sealed: Vec::new(),
            spare: None,
        });
        Ok(())
    }

    /// The journal after `base`: the spare file renamed, or a new one. Its name
    /// is synced before any frame goes in (a frame under the old name would be
    /// checked against the wrong base, and lost). The caller holds the journal
    /// lock when it passes the spare: the spare's name belongs to whoever holds
    /// that lock, so no write-out can rename another journal to it meanwhile.
    fn new_journal_file(&self, base: u64, spare: Option<Arc<dyn VFile>>) -> Result<Active> {
        let path = journal::path(&self.path, base);
        let file = match spare {
            Some(f) => {
                let from = journal::spare_path(&self.path);
                self.vfs.rename(&from, &path).map_err(io_err(&path))?;
                self.verify_name(&path, &*f)?;
                f
            }
            None => self.vfs.create_new(&path).map_err(io_err(&path))?,
        };
        let written = file.len().map_err(io_err(&path))?;
        self.vfs.sync_dir(&self.path).map_err(io_err(&self.path))?;
        Ok(Active {
            file,
            base,
            last: base,
            len: 0,
            written,
            buf: Vec::new(),
        })
    }

    /// After a rename of a journal file: fail unless the name now holds `file`.
    /// Frames appended to a file that lost its name would be acknowledged and
    /// then lost; this turns any such race into an error (which poisons).
    fn verify_name(&self, path: &Path, file: &dyn VFile) -> Result<()> {
        let named = self.vfs.file_id(path).map_err(io_err(path))?;
        let held = file.id().map_err(io_err(path))?;
        if named != held {
            return Err(Error::io(
                path,
                io::Error::other("this name does not hold the journal file just renamed to it"),
            ));
        }
        Ok(())
    }

    /// Under the commit lock, just after record `seq` was linked or packed: append
    /// its frame. A small record's frame holds its bytes, and reads of it go there
    /// until it is written out; a big one was fsynced as its own file and linked,
    /// so its directory is synced here, before its marker frame.
    pub(super) fn journal_append(&self, seq: u64, w: &Written) -> Result<()> {
        if w.bytes.is_none() {
            self.log.sync(&*self.vfs, seq)?;
        }
        let mut g = self.journal.lock();
        let a = g
            .as_mut()
            .and_then(|j| j.active.as_mut())
            .ok_or_else(|| Error::InvalidOption("the journal is closed".into()))?;
        let frame = match &w.bytes {
            Some(b) => Frame::Record(b),
            None => Frame::Marker,
        };
        a.buf.clear();
        journal::encode(&mut a.buf, a.base, seq, frame);
        let path = journal::path(&self.path, a.base);
        let end = a.len + a.buf.len() as u64;
        if end > a.written {
            // Zeros past the frames are no frame (a frame carries its sequence),
            // so replay stops where the frames stop, as at the end of a file.
            let to = end + GROW_BY.min(self.opts.journal_bytes);
            let zeros = vec![0u8; (to - a.written) as usize];
            a.file.write_at(&zeros, a.written).map_err(io_err(&path))?;
            a.written = to;
        }
        a.file.write_at(&a.buf, a.len).map_err(io_err(&path))?;
        if let Some(b) = &w.bytes {
            self.log.pack(
                seq,
                Packed {
                    file: a.file.clone(),
                    off: a.len + journal::FRAME_HEADER as u64,
                    len: b.len() as u64,
                },
            );
        }
        a.len += a.buf.len() as u64;
        a.last = seq;
        Ok(())
    }

    /// Make every appended frame durable; returns the last sequence appended.
    pub(super) fn journal_sync(&self) -> Result<u64> {
        let (file, last, base) = {
            let g = self.journal.lock();
            let a = g
                .as_ref()
                .and_then(|j| j.active.as_ref())
                .ok_or_else(|| Error::InvalidOption("the journal is closed".into()))?;
            (a.file.clone(), a.last, a.base)
        };
        file.sync_data()
            .map_err(io_err(&journal::path(&self.path, base)))?;
        Ok(last)
    }

    /// Under the commit lock: once the journal outgrows `journal_bytes`, make it
    /// durable, seal it and start the next; the background writer then writes
    /// its records out as files.
    pub(super) fn maybe_rotate_journal(&self) -> Result<()> {
        let full = self
            .journal
            .lock()
            .as_ref()
            .and_then(|j| j.active.as_ref())
            .is_some_and(|a| a.len >= self.opts.journal_bytes);
        if !full {
            return Ok(());
        }
        self.seal_active_journal()?;
        if self.opts.recovery_interval.is_some() {
            self.kick.notify();
        } else {
            // No background threads: write out here, after this commit is durable.
            self.write_out_or_poison();
        }
        Ok(())
    }

    /// Under the commit lock: make the active journal durable, seal it and start
    /// the next after its last record.
    fn seal_active_journal(&self) -> Result<()> {
        let mut d = self.durable.lock();
        let last = self.journal_sync()?;
        *d = last;
        // Taking the spare, renaming it and installing it happen under one hold of
        // the journal lock: the write-out renames a written-out journal to the
        // spare's name under the same lock, so it can never do so between our
        // taking the spare and our rename (which once gave our frames a file with
        // no name, and lost them).
        let mut g = self.journal.lock();
        let j = g
            .as_mut()
            .ok_or_else(|| Error::InvalidOption("the journal is closed".into()))?;
        let spare = j.spare.take();
        let next = self.new_journal_file(last, spare)?;
        if let Some(old) = j.active.replace(next) {
            j.sealed.push((old.base, old.last, old.file));
        }
        Ok(())
    }

    /// Remove the spare journal file (compaction and close give its space back).
    /// Under the journal lock, the owner of the spare's name.
    fn remove_spare(&self) -> Result<()> {
        let mut g = self.journal.lock();
        if g.as_mut().and_then(|j| j.spare.take()).is_some() {
            let p = journal::spare_path(&self.path);
            self.vfs.remove_file(&p).map_err(io_err(&p))?;
        }
        Ok(())
    }

    /// Write every journaled record out into the log now (sealing the active
    /// journal if it holds any), so that compaction sees each as a record file
    /// it can judge and empty, and remove the spare journal file. A no-op on a
    /// folder that does not journal. A failure poisons the handle, as a failed
    /// write-out in the background does.
    pub(super) fn write_out_journal(&self) -> Result<()> {
        (|| {
            {
                let _g = self.commit_lock.lock();
                let holds_frames = self
                    .journal
                    .lock()
                    .as_ref()
                    .and_then(|j| j.active.as_ref())
                    .is_some_and(|a| a.last > a.base);
                if holds_frames {
                    self.seal_active_journal()?;
                }
            }
            self.write_out_sealed()?;
            // Compaction gives space back: the spare journal goes too (the next
            // rotation makes a new one).
            self.remove_spare()
        })()
        .inspect_err(|e| {
            tracing::error!(error = %e, "writing out journaled records failed; reopen the database");
            self.poison_with(e);
        })
    }

    /// Write out sealed journals. A failure poisons the handle: after a failed
    /// fsync the page cache may claim bytes the disk never got, so only a reopen,
    /// which rewrites every journaled record from its frame, may go on.
    fn write_out_or_poison(&self) {
        if let Err(e) = self.write_out_sealed() {
            tracing::error!(error = %e, "writing out journaled records failed; reopen the database");
            self.poison_with(&e);
        }
    }

    /// Write the records of every sealed journal out as their own files, make
    /// them durable, then drop the journals.
    pub(super) fn write_out_sealed(&self) -> Result<()> {
        let _g = self.writing_out.lock();
        if self.given_up.load(Ordering::Acquire) {
            // Closed and the folder given up: another opener may own it now.
            return Ok(());
        }
        loop {
            let next = self
                .journal
                .lock()
                .as_ref()
                .and_then(|j| j.sealed.first().cloned());
            let Some((base, last, file)) = next else {
                return Ok(());
            };
            self.write_pack(base, last)?;
            self.sync_record_names(base, last)?;
            {
                // Under the files lock, so no reader caches a slice of the journal
                // after this (see `segment`).
                let mut files = self.files.lock();
                self.log.unpack(base + 1..=last);
                for seq in base + 1..=last {
                    files.remove(&seq);
                }
            }
            // Keep the file for reuse (its records are durable elsewhere now; a
            // reader still holding a packed slice of it would fail its checksums,
            // never see wrong data, once new frames overwrite it).
            let p = journal::path(&self.path, base);
            let mut g = self.journal.lock();
            if let Some(j) = g.as_mut() {
                j.sealed.retain(|s| s.0 != base);
                if j.spare.is_none() {
                    // Under the journal lock: the spare's name is ours now.
                    let to = journal::spare_path(&self.path);
                    self.vfs.rename(&p, &to).map_err(io_err(&to))?;
                    self.verify_name(&to, &*file)?;
                    j.spare = Some(file);
                    continue;
                }
            }
            drop(g);
            self.vfs.remove_file(&p).map_err(io_err(&p))?;
        }
    }

    /// Copy the packed records of the sealed journal `base` (sequences up to
    /// `last`) into one record pack (`log::pack`), sync it, and make each record's
    /// name a hard link to it: one file and one sync for the lot, where a file per
    /// record cost an inode allocation each.
    fn write_pack(&self, base: u64, last: u64) -> Result<()> {
        let records: Vec<(u64, Packed)> = (base + 1..=last)
            .filter_map(|s| self.log.packed(s).map(|p| (s, p)))
            .collect();
        let jpath = journal::path(&self.path, base);
        let sizes: Vec<(u64, u64)> = records.iter().map(|(s, p)| (*s, p.len)).collect();
        let mut at = records.iter();
        self.pack_records(&sizes, false, &mut |buf| {
            let (_, p) = at.next().expect("one read per record");
            p.file.read_exact_at(buf, p.off).map_err(io_err(&jpath))
        })
    }

    /// Write records (sequence, length) into one record pack, reading each one's
    /// bytes with `read` in order, `fdatasync` it once, and give each record its
    /// name as a hard link to it: exclusively (`replace` false: a name taken is an
    /// error), or in place of whatever the name holds (`replace`: journal
    /// recovery, where a name may hold a torn or unsynced copy). Directory
    /// entries are not synced here.
    fn pack_records(
        &self,
        records: &[(u64, u64)],
        replace: bool,
        read: &mut dyn FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let tmp = self.tmp_path();
        let f = self.vfs.create_new(&tmp).map_err(io_err(&tmp))?;
        let res = (|| {
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
                    f.append(&buf).map_err(io_err(&tmp))?;
                    buf.clear();
                }
            }
            buf.extend_from_slice(&pack::encode_tail(&entries));
            f.append(&buf).map_err(io_err(&tmp))?;
            f.sync_data().map_err(io_err(&tmp))?;
            for &(seq, _) in records {
                if replace {
                    self.log.put(&*self.vfs, &tmp, seq, &self.tmp_path())?;
                } else if !self.log.link(&*self.vfs, &tmp, seq)? {
                    return Err(Error::corrupt(
                        self.log.path(seq),
                        "a journaled record's name is taken by another file",
                    ));
                }
            }
            Ok(())
        })();
        let _ = self.vfs.remove_file(&tmp);
        res
    }

    /// A clean close: seal the journal, write every journaled record out, remove
    /// the journals. Errors leave them for the next opener to replay.
    pub(super) fn close_journal(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Relaxed) {
            return Err(self.poisoned_error());
        }
        (|| {
            let active = match self.journal.lock().as_mut() {
                Some(j) => j.active.take(),
                None => return Ok(()),
            };
            if let Some(a) = active {
                let p = journal::path(&self.path, a.base);
                a.file.sync_data().map_err(io_err(&p))?;
                if let Some(j) = self.journal.lock().as_mut() {
                    j.sealed.push((a.base, a.last, a.file));
                }
            }
            self.write_out_sealed()?;
            self.remove_spare()?;
            self.vfs.sync_dir(&self.path).map_err(io_err(&self.path))
        })()
    }

    /// Make the names of records `from + 1 ..= to` durable: their folders'
    /// entries, and `log/`'s (which holds the folders). Their bytes were made
    /// durable by each file's own `fdatasync` (a record pack's, or a large
    /// record's before its marker frame): never by a whole-file-system sync,
    /// which FUSE and network volumes accept and ignore.
    fn sync_record_names(&self, from: u64, to: u64) -> Result<()> {
        if from >= to {
            return Ok(());
        }
        let dirs: BTreeSet<PathBuf> = (from + 1..=to).map(|s| self.log.subdir(s)).collect();
        for d in &dirs {
            self.vfs.sync_dir(d).map_err(io_err(d))?;
        }
        self.vfs
            .sync_dir(&self.log.root)
            .map_err(io_err(&self.log.root))
    }

    /// On open, holding `open.lock` alone: replay the journals a crashed exclusive
    /// owner left, oldest first. Every record with a valid frame is rewritten from
    /// it, all of them into one record pack made durable by its own `fdatasync`;
    /// records after the last valid frame never returned Ok: those intact are
    /// kept (each synced), the first damaged one and everything after it are
    /// removed (newest first, so the log stays a prefix). Only once all of that is
    /// durable do the journals go.
    pub(super) fn recover_journal(&self) -> Result<()> {
        let bases = self.journal_bases()?;
        let spare = journal::spare_path(&self.path);
        if self.vfs.exists(&spare).map_err(io_err(&spare))? {
            self.vfs.remove_file(&spare).map_err(io_err(&spare))?;
        }
        let Some(&first) = bases.first() else {
            return Ok(());
        };
        let mut journals = Vec::with_capacity(bases.len());
        for &base in &bases {
            let jpath = journal::path(&self.path, base);
            journals.push((base, self.vfs.read_all(&jpath).map_err(io_err(&jpath))?));
        }
        let mut last = first;
        let mut restore: Vec<(u64, &[u8])> = Vec::new();
        for (base, bytes) in &journals {
            last = *base;
            for (seq, frame) in journal::parse(bytes, *base) {
                match frame {
                    // Rewritten even when the file reads back the same: after a
                    // failed fsync the page cache can show bytes the disk lacks.
                    // A record retired since keeps its tombstone.
                    Frame::Record(b) => {
                        if !matches!(self.log.peek(&*self.vfs, seq)?, Some((true, _))) {
                            restore.push((seq, b));
                        }
                    }
                    Frame::Marker => self.marked_record_exists(seq)?,
                }
                last = seq;
            }
        }
        let sizes: Vec<(u64, u64)> = restore.iter().map(|(s, b)| (*s, b.len() as u64)).collect();
        let mut next = restore.iter();
        self.pack_records(&sizes, true, &mut |buf| {
            let (_, b) = next.next().expect("one read per record");
            buf.copy_from_slice(b);
            Ok(())
        })?;
        let beyond: Vec<u64> = self
            .log
            .list_from(&*self.vfs, last + 1)?
            .into_iter()
            .filter(|s| *s > last)
            .collect();
        let mut keep = last;
        for &s in &beyond {
            if s != keep + 1 || !self.record_intact(s)? {
                break;
            }
            keep = s;
        }
        for &s in beyond.iter().rev().filter(|s| **s > keep) {
            let p = self.log.path(s);
            tracing::warn!(path = %p.display(), "removing a record whose commit never returned");
            self.vfs.remove_file(&p).map_err(io_err(&p))?;
        }
        checkpoint::CheckpointDir::new(&self.path).remove_after(&*self.vfs, keep)?;
        // Records kept beyond the journal were linked but maybe never synced (a
        // crash between a large record's link and its marker frame).
        for s in last + 1..=keep {
            let p = self.log.path(s);
            self.vfs
                .open(&p)
                .and_then(|f| f.sync_data())
                .map_err(io_err(&p))?;
        }
        self.sync_record_names(first, keep)?;
        let ckpts = self.path.join("checkpoints");
        self.vfs.sync_dir(&ckpts).map_err(io_err(&ckpts))?;
        for b in bases {
            let p = journal::path(&self.path, b);
            self.vfs.remove_file(&p).map_err(io_err(&p))?;
        }
        self.vfs.sync_dir(&self.path).map_err(io_err(&self.path))
    }

    /// On open, when the journals cannot be replayed because the volume is full:
    /// read them in place instead. Every record with a valid frame is read from
    /// its frame (packed, as while its owner ran), a marker frame's record from its
    /// file; nothing is written or removed. Returns the last record to read
    /// (`None` if there is no journal): records beyond the journals count only
    /// while intact, as replay would keep them.
    pub(super) fn attach_journals(&self) -> Result<Option<u64>> {
        let bases = self.journal_bases()?;
        let Some(&first) = bases.first() else {
            return Ok(None);
        };
        let mut last = first;
        for &base in &bases {
            let jpath = journal::path(&self.path, base);
            let file = self.vfs.open(&jpath).map_err(io_err(&jpath))?;
            let bytes = self.vfs.read_all(&jpath).map_err(io_err(&jpath))?;
            last = base;
            for (seq, frame) in journal::parse(&bytes, base) {
                match frame {
                    Frame::Record(b) => {
                        if matches!(self.log.peek(&*self.vfs, seq)?, Some((true, _))) {
                            last = seq;
                            continue; // retired since: its tombstone stands
                        }
                        let off = b.as_ptr() as u64 - bytes.as_ptr() as u64;
                        self.log.pack(
                            seq,
                            Packed {
                                file: file.clone(),
                                off,
                                len: b.len() as u64,
                            },
                        );
                    }
                    Frame::Marker => self.marked_record_exists(seq)?,
                }
                last = seq;
            }
        }
        let mut keep = last;
        while self
            .log
            .read_header(&*self.vfs, keep + 1)
            .is_ok_and(|h| h.is_some())
            && self.record_intact(keep + 1)?
        {
            keep += 1;
        }
        Ok(Some(keep))
    }

    /// The bases of the journals in the folder, oldest first.
    fn journal_bases(&self) -> Result<Vec<u64>> {
        let mut bases: Vec<u64> = self
            .vfs
            .list_dir(&self.path)
            .map_err(io_err(&self.path))?
            .iter()
            .filter_map(|n| journal::parse_name(n))
            .collect();
        bases.sort_unstable();
        Ok(bases)
    }

    /// A marker frame says record `seq` was synced as a file of its own: it must
    /// be there.
    fn marked_record_exists(&self, seq: u64) -> Result<()> {
        if self.log.read_header(&*self.vfs, seq)?.is_none() {
            return Err(Error::corrupt(
                self.log.path(seq),
                "record is missing though the journal says it was synced",
            ));
        }
        Ok(())
    }

    /// Whether record `seq` is whole: its header, every node image it holds and
    /// every separate value its leaves keep in it pass their checksums.
    fn record_intact(&self, seq: u64) -> Result<bool> {
        let rec = match self.log.read_header(&*self.vfs, seq) {
            Ok(Some(rec)) => rec,
            Ok(None) | Err(Error::Corrupt { .. }) => return Ok(false),
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::UnexpectedEof => {
                return Ok(false)
            }
            Err(e) => return Err(e),
        };
        if rec.retired {
            return Ok(true);
        }
        let p = self.log.path(seq);
        let Some((f, flen)) = self.log.open(&*self.vfs, seq)? else {
            return Ok(false);
        };
        let mut bytes = vec![0u8; flen as usize];
        f.read_exact_at(&mut bytes, 0).map_err(io_err(&p))?;
        let slice = |off: u64, len: u64| {
            let start = usize::try_from(off).ok()?;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            bytes.get(start..end)
        };
        for d in &rec.deltas {
            for (_, pl, _) in &d.puts {
                let Some(img) = slice(pl.off, pl.len as u64) else {
                    return Ok(false);
                };
                if checksum(img) != pl.checksum {
                    return Ok(false);
                }
                // The separate values an image keeps in this same record.
                let mut ok = true;
                crate::btree::node::image_values(img, seq, &mut |v| {
                    if let ValueRef::Segment {
                        seq: s,
                        off,
                        len,
                        checksum: sum,
                    } = *v
                    {
                        ok &=
                            s != seq || slice(off, len as u64).is_some_and(|v| checksum(v) == sum);
                    }
                });
                if !ok {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }
}
