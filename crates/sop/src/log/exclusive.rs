//! The commit log of an exclusively opened folder (`DbOptions::exclusive`): the
//! commit journal that makes one `fdatasync` per commit enough (frame format in
//! `journal.rs`).
//!
//! A small record is published by appending its frame to the active journal;
//! reads of it go to its bytes there (it is *packed*) until it is written out.
//! A big one is published as in a shared folder (a synced file, linked), and a
//! marker frame follows once its name is durable. A journal that outgrows
//! `journal_bytes` is sealed and a new one started; sealed journals are written
//! out in the background: their records copied into one record pack, each
//! record's name a hard link to it. A crashed owner's journals are replayed by
//! the next opener (`replay.rs`).

use super::journal::{self, Frame};
use super::{CommitLog, LogDir, Packed, Written};
use crate::error::{Error, Result};
use crate::health::Health;
use crate::io::{VFile, Vfs};
use crate::layout::{Layout, TmpNames};
use crate::log::checkpoints::{CheckpointStore, FolderCheckpoints};
use crate::log::record::Record;
use parking_lot::{Condvar, Mutex};
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// A journal file is grown by writing this many zero bytes ahead of its frames:
/// a frame then lands on blocks the file already has, so its `fdatasync` writes
/// data only. Appending instead made every commit's sync also write the inode
/// (new size, new blocks), about 0.1 ms more per commit on ext4.
const GROW_BY: u64 = 1 << 20;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// The journaled log of an exclusive folder (see the module docs).
pub(crate) struct JournalLog {
    vfs: Arc<dyn Vfs>,
    /// The database folder's layout (journals live at its top).
    layout: Layout,
    dir: Arc<LogDir>,
    health: Arc<Health>,
    tmp: Arc<TmpNames>,
    checkpoints: FolderCheckpoints,
    /// A journal is sealed once it holds this many bytes of frames.
    journal_bytes: u64,
    /// A background thread writes sealed journals out; without one, the commit
    /// that seals a journal writes it out.
    background: bool,
    /// `None` until `start` (and for a handle that never writes).
    journal: Mutex<Option<Journal>>,
    /// Highest sequence known durable.
    durable: Mutex<u64>,
    /// Held while publishing, and while sealing for a write-out: frames go into
    /// the journal in sequence order, and a seal never splits a publish.
    append: Mutex<()>,
    /// One writer of sealed journals at a time.
    writing_out: Mutex<()>,
    /// Given up (`give_up`): no write-out may touch the folder any more (another
    /// opener may be replaying its journals).
    given_up: AtomicBool,
    kick: Arc<Kick>,
}

/// The commit journal: the file being appended to, and older ones whose records
/// are still to be written out as their own files.
struct Journal {
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

/// Wakes the background writer when a journal is sealed.
#[derive(Default)]
struct Kick {
    flag: Mutex<bool>,
    cv: Condvar,
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

impl JournalLog {
    /// The log of the exclusive folder `path`. With `background`, a thread
    /// writes sealed journals out (it ends once the log is given up or dropped).
    pub fn new(
        vfs: Arc<dyn Vfs>,
        layout: &Layout,
        dir: Arc<LogDir>,
        health: Arc<Health>,
        tmp: Arc<TmpNames>,
        journal_bytes: u64,
        background: bool,
    ) -> Arc<JournalLog> {
        let log = Arc::new(JournalLog {
            checkpoints: FolderCheckpoints::new(vfs.clone(), layout.clone(), tmp.clone()),
            vfs,
            layout: layout.clone(),
            dir,
            health,
            tmp,
            journal_bytes,
            background,
            journal: Mutex::new(None),
            durable: Mutex::new(0),
            append: Mutex::new(()),
            writing_out: Mutex::new(()),
            given_up: AtomicBool::new(false),
            kick: Arc::default(),
        });
        if background {
            spawn_writer(Arc::downgrade(&log), log.kick.clone());
        }
        log
    }

    fn journaled(&self) -> bool {
        self.journal.lock().is_some()
    }

    fn has_sealed(&self) -> bool {
        self.journal
            .lock()
            .as_ref()
            .is_some_and(|j| !j.sealed.is_empty())
    }

    /// The journal after `base`: the spare file renamed, or a new one. Its name
    /// is synced before any frame goes in (a frame under the old name would be
    /// checked against the wrong base, and lost). The caller holds the journal
    /// lock when it passes the spare: the spare's name belongs to whoever holds
    /// that lock, so no write-out can rename another journal to it meanwhile.
    fn new_journal_file(&self, base: u64, spare: Option<Arc<dyn VFile>>) -> Result<Active> {
        let path = self.layout.journal(base);
        let file = match spare {
            Some(f) => {
                let from = self.layout.journal_spare();
                self.vfs.rename(&from, &path).map_err(io_err(&path))?;
                self.verify_name(&path, &*f)?;
                f
            }
            None => self.vfs.create_new(&path).map_err(io_err(&path))?,
        };
        let written = file.len().map_err(io_err(&path))?;
        self.vfs
            .sync_dir(self.layout.root())
            .map_err(io_err(self.layout.root()))?;
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

    /// Just after record `seq` was linked or packed: append its frame. A small
    /// record's frame holds its bytes, and reads of it go there until it is
    /// written out; a big one was fsynced as its own file and linked, so its
    /// directory is synced here, before its marker frame.
    fn append_frame(&self, seq: u64, w: &Written) -> Result<()> {
        if w.bytes.is_none() {
            self.dir.sync(&*self.vfs, seq)?;
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
        let path = self.layout.journal(a.base);
        let end = a.len + a.buf.len() as u64;
        if end > a.written {
            // Zeros past the frames are no frame (a frame carries its sequence),
            // so replay stops where the frames stop, as at the end of a file.
            let to = end + GROW_BY.min(self.journal_bytes);
            let zeros = vec![0u8; (to - a.written) as usize];
            a.file.write_at(&zeros, a.written).map_err(io_err(&path))?;
            a.written = to;
        }
        a.file.write_at(&a.buf, a.len).map_err(io_err(&path))?;
        if let Some(b) = &w.bytes {
            self.dir.pack(
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
    fn journal_sync(&self) -> Result<u64> {
        let (file, last, base) = {
            let g = self.journal.lock();
            let a = g
                .as_ref()
                .and_then(|j| j.active.as_ref())
                .ok_or_else(|| Error::InvalidOption("the journal is closed".into()))?;
            (a.file.clone(), a.last, a.base)
        };
        file.sync_data()
            .map_err(io_err(&self.layout.journal(base)))?;
        Ok(last)
    }

    /// While publishing: once the journal outgrows `journal_bytes`, make it
    /// durable, seal it and start the next; the background writer then writes
    /// its records out as files.
    fn maybe_rotate(&self) -> Result<()> {
        let full = self
            .journal
            .lock()
            .as_ref()
            .and_then(|j| j.active.as_ref())
            .is_some_and(|a| a.len >= self.journal_bytes);
        if !full {
            return Ok(());
        }
        self.seal_active()?;
        if self.background {
            self.kick.notify();
        } else {
            // No background threads: write out here, after this commit is durable.
            self.write_out_or_poison();
        }
        Ok(())
    }

    /// Holding `append`: make the active journal durable, seal it and start the
    /// next after its last record.
    fn seal_active(&self) -> Result<()> {
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
            let p = self.layout.journal_spare();
            self.vfs.remove_file(&p).map_err(io_err(&p))?;
        }
        Ok(())
    }

    /// Write out sealed journals. A failure poisons the handle: after a failed
    /// fsync the page cache may claim bytes the disk never got, so only a reopen,
    /// which rewrites every journaled record from its frame, may go on.
    fn write_out_or_poison(&self) {
        if let Err(e) = self.write_out_sealed() {
            tracing::error!(error = %e, "writing out journaled records failed; reopen the database");
            self.health.poison_with(&e);
        }
    }

    /// Write the records of every sealed journal out as their own files, make
    /// them durable, then drop the journals.
    fn write_out_sealed(&self) -> Result<()> {
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
            self.dir.sync_names(&*self.vfs, base, last)?;
            self.dir.unpack(base + 1..=last);
            // Keep the file for reuse (its records are durable elsewhere now; a
            // reader still holding a packed slice of it would fail its checksums,
            // never see wrong data, once new frames overwrite it).
            let p = self.layout.journal(base);
            let mut g = self.journal.lock();
            if let Some(j) = g.as_mut() {
                j.sealed.retain(|s| s.0 != base);
                if j.spare.is_none() {
                    // Under the journal lock: the spare's name is ours now.
                    let to = self.layout.journal_spare();
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
    /// `last`) into one record pack, sync it, and make each record's name a hard
    /// link to it: one file and one sync for the lot, where a file per record
    /// cost an inode allocation each.
    fn write_pack(&self, base: u64, last: u64) -> Result<()> {
        let records: Vec<(u64, Packed)> = (base + 1..=last)
            .filter_map(|s| self.dir.packed(s).map(|p| (s, p)))
            .collect();
        let jpath = self.layout.journal(base);
        let sizes: Vec<(u64, u64)> = records.iter().map(|(s, p)| (*s, p.len)).collect();
        let mut at = records.iter();
        self.dir
            .pack_records(&*self.vfs, &self.tmp, &sizes, false, &mut |buf| {
                let (_, p) = at.next().expect("one read per record");
                p.file.read_exact_at(buf, p.off).map_err(io_err(&jpath))
            })
    }
}

impl CommitLog for JournalLog {
    fn copy_max(&self) -> usize {
        if !self.journaled() {
            return 0;
        }
        journal::COPY_MAX.min(usize::try_from(self.journal_bytes).unwrap_or(usize::MAX))
    }

    fn alone(&self) -> bool {
        true
    }

    fn prepare(&self, seq: u64, w: &Written) -> Result<()> {
        if !self.journaled() {
            // Not started (a handle that only reads): as a shared folder.
            self.make_durable(seq - 1)?;
        }
        if w.path.is_some() {
            // In an exclusive folder the records before `seq` may all be packed
            // in the journal, so its subdirectory may be missing for any `seq`.
            self.dir
                .prepare_link(&*self.vfs, seq, &|| self.health.poison())?;
        }
        Ok(())
    }

    fn publish(&self, seq: u64, w: &Written) -> Result<bool> {
        let _a = self.append.lock();
        if let Some(tmp) = &w.path {
            if !self.dir.link_prepared(&*self.vfs, tmp, seq)? {
                return Ok(false);
            }
        }
        if !self.journaled() {
            return Ok(true);
        }
        self.append_frame(seq, w)?;
        self.maybe_rotate()?;
        Ok(true)
    }

    fn make_durable(&self, seq: u64) -> Result<()> {
        let mut d = self.durable.lock();
        if *d >= seq || seq == 0 {
            return Ok(());
        }
        if self.journaled() {
            // One fdatasync covers every frame appended so far.
            *d = self
                .journal_sync()
                .inspect_err(|e| self.health.poison_with(e))?;
            return Ok(());
        }
        self.dir
            .sync(&*self.vfs, seq)
            .inspect_err(|e| self.health.poison_with(e))?;
        *d = seq;
        Ok(())
    }

    fn start(&self, head: u64, writable: bool) -> Result<()> {
        if !writable {
            *self.durable.lock() = head;
            return Ok(());
        }
        // Records a crashed process linked may still sit only in the page cache.
        if head > 0 {
            self.dir.sync(&*self.vfs, head)?;
        }
        *self.durable.lock() = head;
        let active = self.new_journal_file(head, None)?;
        *self.journal.lock() = Some(Journal {
            active: Some(active),
            sealed: Vec::new(),
            spare: None,
        });
        Ok(())
    }

    fn exists(&self, seq: u64) -> Result<bool> {
        self.dir.exists(&*self.vfs, seq)
    }

    fn read_header(&self, seq: u64) -> Result<Option<Record>> {
        self.dir.read_header(&*self.vfs, seq)
    }

    fn open_record(&self, seq: u64) -> Result<Arc<dyn VFile>> {
        self.dir.segment(&*self.vfs, seq)
    }

    /// Records still in the journal are never retired: they are live or will be
    /// judged once written out.
    fn retire(&self, up_to: u64, live: &std::collections::HashSet<u64>) -> Result<(usize, u64)> {
        self.dir.retire_dead(&*self.vfs, &self.tmp, up_to, live)
    }

    fn list_from(&self, after: u64) -> Result<Vec<u64>> {
        self.dir.list_after(&*self.vfs, after)
    }

    fn location(&self, seq: u64) -> std::path::PathBuf {
        self.dir.path(seq)
    }

    fn checkpoints(&self) -> &dyn CheckpointStore {
        &self.checkpoints
    }

    /// Write every journaled record out into the log now (sealing the active
    /// journal if it holds any), so that compaction sees each as a record file
    /// it can judge and empty, and remove the spare journal file. A failure
    /// poisons the handle, as a failed write-out in the background does.
    fn write_out(&self) -> Result<()> {
        (|| {
            {
                let _a = self.append.lock();
                let holds_frames = self
                    .journal
                    .lock()
                    .as_ref()
                    .and_then(|j| j.active.as_ref())
                    .is_some_and(|a| a.last > a.base);
                if holds_frames {
                    self.seal_active()?;
                }
            }
            self.write_out_sealed()?;
            // Compaction gives space back: the spare journal goes too (the next
            // rotation makes a new one).
            self.remove_spare()
        })()
        .inspect_err(|e| {
            tracing::error!(error = %e, "writing out journaled records failed; reopen the database");
            self.health.poison_with(e);
        })
    }

    /// Seal the journal, write every journaled record out, remove the journals.
    fn close(&self) -> Result<()> {
        self.health.check()?;
        let active = match self.journal.lock().as_mut() {
            Some(j) => j.active.take(),
            None => return Ok(()),
        };
        if let Some(a) = active {
            let p = self.layout.journal(a.base);
            a.file.sync_data().map_err(io_err(&p))?;
            if let Some(j) = self.journal.lock().as_mut() {
                j.sealed.push((a.base, a.last, a.file));
            }
        }
        self.write_out_sealed()?;
        self.remove_spare()?;
        self.vfs
            .sync_dir(self.layout.root())
            .map_err(io_err(self.layout.root()))
    }

    fn discard(&self, w: &Written) {
        w.discard(&*self.vfs);
    }

    fn give_up(&self, release: &mut dyn FnMut()) {
        // A write-out in progress (the background thread's, even after a failure
        // poisoned the handle) finishes first, and none starts after
        // (`write_out_sealed` checks `given_up`).
        let _gate = self.writing_out.lock();
        // Once only: by then another opener may have claimed the folder, which a
        // second pass must not undo.
        if self.given_up.swap(true, Ordering::AcqRel) {
            return;
        }
        release();
    }
}

/// Write out sealed journals in the background: wakes when a journal is sealed,
/// and ends with the log (it waits without holding it).
fn spawn_writer(weak: Weak<JournalLog>, kick: Arc<Kick>) {
    let _ = std::thread::Builder::new()
        .name("sop-journal".into())
        .spawn(move || loop {
            kick.wait(Duration::from_millis(200));
            let Some(log) = weak.upgrade() else { return };
            if log.given_up.load(Ordering::Acquire) {
                return;
            }
            if log.has_sealed() {
                log.write_out_or_poison();
            }
        });
}
