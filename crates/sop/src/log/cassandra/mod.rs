//! The registry and the commit point on Apache Cassandra (feature `cassandra`).
//!
//! The folder keeps the record files; Cassandra decides which record has each
//! sequence number. A commit at `seq`:
//!
//! 1. `prepare`: the record file (written and fsynced in `tmp/`) is renamed to
//!    `<seq>-<process>-<n>.claim` in the `log/` subdirectory of `seq`, and that
//!    directory is synced: the body is durable under a name no one else uses
//!    before anything names it.
//! 2. `publish` (the commit point): a lightweight transaction
//!    `INSERT ... IF NOT EXISTS` of the row `(seq) -> (file, len, checksum,
//!    txn)` at SERIAL consistency. One claim wins per sequence. A request that
//!    fails or times out may still apply, even later (queued in the cluster):
//!    only a row settles it, so the claimer reads at SERIAL and, while there is
//!    no row, sends the same claim again (`settle_claim`); only if that keeps
//!    failing is the outcome unknown.
//! 3. `make_durable`: the row is durable once acknowledged (QUORUM commit of the
//!    Paxos round; on one node, the commit log in `batch` mode). The file is then
//!    renamed to its record name, `<seq>.rec`, in the same directory (atomic
//!    even where a power cut can keep one half of a rename across two
//!    directories), and the directory synced: the folder then looks as a folder
//!    database does, and maintenance reads it there.
//!
//! Readers look for `<seq>.rec` first and ask Cassandra for a sequence not
//! there (a record still under its claim name, or one a crash stopped before
//! its rename). A claim file no row names, of a sequence already taken, is
//! garbage once its process is dead: recovery removes it (`tidy_claims`).

mod client;
mod leases;
mod retired;

pub(crate) use leases::RowLeases;

use super::checkpoints::{CheckpointStore, FolderCheckpoints};
use super::dir::header_of;
use super::{CommitLog, LogDir, Written};
use crate::error::{Error, Result};
use crate::health::Health;
use crate::io::{VFile, Vfs};
use crate::layout::{Layout, TmpNames};
use crate::log::record::Record;
use crate::options::CassandraRegistry;
use client::{Claim, Client};
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A record file open for reading, and its path.
type Opened = (Arc<dyn VFile>, PathBuf);

/// A record on its way: its claim file and the row that claims it.
struct Moving {
    path: PathBuf,
    claim: Claim,
}

/// The Cassandra registry's log (see the module docs).
pub(crate) struct CassandraLog {
    vfs: Arc<dyn Vfs>,
    dir: Arc<LogDir>,
    layout: Layout,
    checkpoints: FolderCheckpoints,
    health: Arc<Health>,
    client: Client,
    /// Records reclaimed (`retired.rs`).
    retired: retired::Retired,
    /// Records being claimed, by their temporary file's path.
    moving: Mutex<HashMap<PathBuf, Moving>>,
    /// This process's published records still under their claim names.
    claimed: Mutex<BTreeMap<u64, PathBuf>>,
    /// Highest sequence whose record this process has moved into `log/`.
    durable: Mutex<u64>,
    /// Started for writing (`start`): it may rename and remove files.
    writable: AtomicBool,
    given_up: AtomicBool,
}

impl CassandraLog {
    /// Connect to the registry of database `db_id`.
    pub fn open(
        cfg: &CassandraRegistry,
        db_id: &str,
        vfs: Arc<dyn Vfs>,
        dir: Arc<LogDir>,
        tmp: Arc<TmpNames>,
        health: Arc<Health>,
        layout: &Layout,
    ) -> Result<CassandraLog> {
        let client = Client::connect(cfg, db_id)?;
        Ok(CassandraLog {
            retired: retired::Retired::new(&cfg.keyspace),
            checkpoints: FolderCheckpoints::new(vfs.clone(), layout.clone(), tmp.clone()),
            vfs,
            dir,
            layout: layout.clone(),
            health,
            client,
            moving: Mutex::new(HashMap::new()),
            claimed: Mutex::new(BTreeMap::new()),
            durable: Mutex::new(0),
            writable: AtomicBool::new(false),
            given_up: AtomicBool::new(false),
        })
    }

    fn io(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
        move |e| Error::io(path, e)
    }

    /// The `log/` subdirectory of `seq`, made (and its name synced) if missing.
    fn ensure_subdir(&self, seq: u64) -> Result<PathBuf> {
        let sub = self.dir.subdir(seq);
        if !self.vfs.exists(&sub).map_err(Self::io(&sub))? {
            self.vfs.create_dir_all(&sub).map_err(Self::io(&sub))?;
            let log = self.layout.log();
            self.vfs.sync_dir(&log).map_err(|e| {
                self.health.poison();
                Error::io(&log, e)
            })?;
        }
        Ok(sub)
    }

    /// Rename record `seq` from its claim file `from` to its record name (both
    /// in one directory). Anyone may do it (the claim decides what the record
    /// is); a second renamer finds the file gone and the name there. Not synced.
    fn move_into_log(&self, seq: u64, from: &Path) -> Result<()> {
        let to = self.dir.path(seq);
        if self.vfs.exists(&to).map_err(Self::io(&to))? {
            // Renamed before: a leftover spare name (never the case with an
            // atomic rename, but harmless to clear).
            return match self.vfs.remove_file(from) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(from, e)),
                _ => Ok(()),
            };
        }
        match self.vfs.rename(from, &to) {
            Ok(()) => Ok(()),
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    && self.vfs.exists(&to).map_err(Self::io(&to))? =>
            {
                Ok(())
            }
            Err(e) => Err(Error::io(&to, e)),
        }
    }

    /// The record a row names, opened under its claim name; `None` if it has
    /// been renamed meanwhile. Checked against the row.
    fn open_claimed(&self, seq: u64, c: &Claim) -> Result<Option<Opened>> {
        let path = self.dir.subdir(seq).join(&c.file);
        let f = match self.vfs.open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let len = f.len().map_err(Self::io(&path))?;
        if len != c.len {
            return Err(Error::corrupt(
                &path,
                format!(
                    "the registry names this file as record {seq} of {} bytes; it has {len}",
                    c.len
                ),
            ));
        }
        Ok(Some((f, path)))
    }

    /// The record the registry names for `seq`, under its claim name or its
    /// record name; `Ok(None)` if no row exists. Where it has its record name,
    /// `None` for the file (read it there).
    fn claimed_file(&self, seq: u64) -> Result<Option<Option<Opened>>> {
        let Some(c) = self.client.get(seq)? else {
            return Ok(None);
        };
        match self.open_claimed(seq, &c)? {
            Some(found) => Ok(Some(Some(found))),
            None if self.dir.exists(&*self.vfs, seq)? => Ok(Some(None)),
            None => Err(Error::corrupt(
                self.dir.subdir(seq).join(&c.file),
                format!("the registry names this file as record {seq}, but neither it nor the record's own name exists"),
            )),
        }
    }

    /// What the registry says of `seq` when its record file is missing: as
    /// `claimed_file`, except that a record retired without a tombstone file
    /// (`retire`) is `Ok(Some(None))` with no file, read as retired by
    /// `read_header` (`retired_header`).
    fn claimed_or_retired(&self, seq: u64) -> Result<Option<Option<Opened>>> {
        match self.claimed_file(seq) {
            Err(e @ Error::Corrupt { .. }) => match self.retired.get(&self.client, seq)? {
                Some(_) => Ok(Some(None)),
                None => Err(e),
            },
            other => other,
        }
    }

    /// The header of a record retired without a tombstone file, if `seq` is one.
    fn retired_header(&self, seq: u64) -> Result<Option<Record>> {
        Ok(self.retired.get(&self.client, seq)?.map(|txn| Record {
            txn,
            retired: true,
            ..Default::default()
        }))
    }

    /// The outcome of a claim of `seq` whose reply was lost. Only a row settles
    /// it (rows are never removed): the row names our file, or another. While
    /// there is none, the lost request may still be queued in the cluster and
    /// apply later (a SERIAL read settles proposals already accepted, not
    /// requests yet to start), so the same claim is sent again: whichever copy
    /// applies names our file, and once one has been answered a row exists.
    fn settle_claim(&self, seq: u64, claim: &Claim) -> Result<bool> {
        let mut last = None;
        for attempt in 0..6u32 {
            if attempt > 0 {
                self.vfs
                    .sleep(std::time::Duration::from_millis(20 << attempt));
            }
            match self.client.resolve(seq) {
                Ok(Some(c)) => return Ok(c == *claim),
                Ok(None) => {}
                Err(e) => {
                    last = Some(e);
                    continue;
                }
            }
            match self.client.claim(seq, claim) {
                Ok(true) => return Ok(true),
                // Taken meanwhile: the next round reads whose it is.
                Ok(false) => {}
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Registry(format!("claim of {seq} not settled"))))
    }

    /// What is wrong with the record row `c` names for `seq`, if anything: its
    /// file must exist (under its record name, or still its claim name) with
    /// the row's length and header checksum, or be a tombstone (retired).
    fn verify_row(&self, seq: u64, c: &Claim) -> Result<Option<String>> {
        let (f, path) = match self.open_claimed(seq, c) {
            Ok(Some(found)) => found,
            Ok(None) => {
                let path = self.dir.path(seq);
                match self.vfs.open(&path) {
                    Ok(f) => (f, path),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        if self.retired.get(&self.client, seq)? == Some(c.txn) {
                            return Ok(None); // retired: its row outlives its file
                        }
                        return Ok(Some(format!(
                            "record {seq}: the Cassandra registry names {} ({} bytes), which is missing",
                            c.file, c.len
                        )));
                    }
                    Err(e) => return Err(Error::io(&path, e)),
                }
            }
            Err(e) => return Ok(Some(e.to_string())),
        };
        let len = f.len().map_err(Self::io(&path))?;
        if self.dir.tombstone(&*f, len, seq).ok().flatten().is_some() {
            return Ok(None); // retired: its row outlives its body
        }
        if len != c.len {
            return Ok(Some(format!(
                "record {seq}: {} has {len} bytes, the Cassandra registry says {}",
                path.display(),
                c.len
            )));
        }
        Ok(match header_of(&*f, len, &path) {
            Ok((rec, sum)) if sum == c.sum && rec.txn == c.txn => None,
            Ok(_) => Some(format!(
                "record {seq}: {} is not the record the Cassandra registry names (checksum or transaction differs)",
                path.display()
            )),
            Err(e) => Some(e.to_string()),
        })
    }

    /// Rename every record whose row names a file still under its claim name,
    /// and remove claim files of sequences up to `head` that no row names, if
    /// their process is `dead`. Returns how many were removed.
    fn tidy_claims(&self, head: u64, dead: &dyn Fn(u128) -> bool) -> Result<usize> {
        let log = self.layout.log();
        let subs = match self.vfs.list_dir(&log) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io(&log, e)),
        };
        let ours: HashSet<PathBuf> = self
            .moving
            .lock()
            .values()
            .map(|m| m.path.clone())
            .chain(self.claimed.lock().values().cloned())
            .collect();
        let mut removed = 0;
        let mut moved = Vec::new();
        for sub in subs {
            let dir = log.join(&sub);
            let names = match self.vfs.list_dir(&dir) {
                Ok(n) => n,
                Err(_) => continue, // not a directory
            };
            for name in names {
                let Some((seq, owner)) = Layout::parse_claim_name(&name) else {
                    continue;
                };
                let path = dir.join(&name);
                if ours.contains(&path) {
                    continue;
                }
                match self.client.get(seq)? {
                    Some(c) if c.file == name => {
                        self.move_into_log(seq, &path)?;
                        moved.push(seq);
                    }
                    _ if seq <= head && dead(owner) => match self.vfs.remove_file(&path) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => {
                            return Err(Error::io(&path, e))
                        }
                        _ => removed += 1,
                    },
                    _ => {}
                }
            }
        }
        self.sync_moved(&moved)?;
        Ok(removed)
    }

    /// Sync the `log/` subdirectories records were moved into.
    fn sync_moved(&self, seqs: &[u64]) -> Result<()> {
        let subs: HashSet<PathBuf> = seqs.iter().map(|s| self.dir.subdir(*s)).collect();
        for sub in subs {
            self.vfs.sync_dir(&sub).map_err(Self::io(&sub))?;
        }
        Ok(())
    }
}

impl CommitLog for CassandraLog {
    fn copy_max(&self) -> usize {
        0
    }

    fn alone(&self) -> bool {
        false
    }

    fn prepare(&self, seq: u64, w: &Written) -> Result<()> {
        let Some(tmp) = &w.path else {
            return Err(Error::InvalidOption(
                "a Cassandra registry publishes record files only".into(),
            ));
        };
        let tmp_name = tmp
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::InvalidOption(format!("bad record file name {tmp:?}")))?;
        let sub = self.ensure_subdir(seq)?;
        let to = sub.join(Layout::claim_name(seq, tmp_name));
        let mut moving = self.moving.lock();
        let from = moving.get(tmp).map(|m| m.path.clone());
        match from {
            Some(from) if from == to => return Ok(()),
            Some(from) => {
                self.vfs.rename(&from, &to).map_err(Self::io(&to))?;
            }
            None => {
                self.vfs.rename(tmp, &to).map_err(Self::io(&to))?;
            }
        }
        // Durable under its new name before anything names it: a failed sync
        // poisons (the page cache may show what the disk lacks).
        self.vfs.sync_dir(&sub).map_err(|e| {
            self.health.poison();
            Error::io(&sub, e)
        })?;
        let claim = match moving.remove(tmp) {
            Some(m) => Claim {
                file: Layout::claim_name(seq, tmp_name),
                ..m.claim
            },
            None => {
                let f = self.vfs.open(&to).map_err(Self::io(&to))?;
                let len = f.len().map_err(Self::io(&to))?;
                let (rec, sum) = header_of(&*f, len, &to)?;
                Claim {
                    file: Layout::claim_name(seq, tmp_name),
                    len,
                    sum,
                    txn: rec.txn,
                }
            }
        };
        moving.insert(tmp.clone(), Moving { path: to, claim });
        Ok(())
    }

    fn publish(&self, seq: u64, w: &Written) -> Result<bool> {
        let tmp = w.path.as_ref().ok_or_else(|| {
            Error::InvalidOption("a Cassandra registry publishes record files only".into())
        })?;
        let (path, claim) = {
            let moving = self.moving.lock();
            let m = moving
                .get(tmp)
                .ok_or_else(|| Error::InvalidOption("publish without prepare".into()))?;
            (m.path.clone(), m.claim.clone())
        };
        let won = match self.client.claim(seq, &claim) {
            Ok(won) => won,
            Err(e) => {
                tracing::warn!(seq, error = %e, "a claim failed; settling it");
                match self.settle_claim(seq, &claim) {
                    Ok(won) => won,
                    Err(e2) => {
                        tracing::warn!(seq, error = %e2, "the claim could not be settled");
                        // The row may name the file: never remove it here (not
                        // in `discard` either). Recovery renames it if a row
                        // names it, or removes it once this process is gone.
                        self.moving.lock().remove(tmp);
                        return Err(e);
                    }
                }
            }
        };
        if won {
            self.moving.lock().remove(tmp);
            self.claimed.lock().insert(seq, path);
        }
        Ok(won)
    }

    fn make_durable(&self, seq: u64) -> Result<()> {
        let mut d = self.durable.lock();
        if *d >= seq || seq == 0 {
            return Ok(());
        }
        // The claims are durable already (acknowledged rows, synced files); this
        // moves this process's records into `log/` for readers and maintenance.
        let done: Vec<(u64, PathBuf)> = {
            let c = self.claimed.lock();
            c.range(..=seq).map(|(s, p)| (*s, p.clone())).collect()
        };
        let moved = done
            .iter()
            .try_for_each(|(s, p)| self.move_into_log(*s, p))
            .and_then(|()| self.sync_moved(&done.iter().map(|(s, _)| *s).collect::<Vec<_>>()));
        moved.inspect_err(|e| self.health.poison_with(e))?;
        let mut c = self.claimed.lock();
        for (s, _) in &done {
            c.remove(s);
        }
        *d = seq;
        Ok(())
    }

    fn start(&self, head: u64, writable: bool) -> Result<()> {
        if writable {
            // Records a crash stopped between their claim and their rename.
            self.tidy_claims(head, &|_| false)?;
            self.writable.store(true, Ordering::Release);
        }
        *self.durable.lock() = head;
        Ok(())
    }

    fn exists(&self, seq: u64) -> Result<bool> {
        Ok(self.dir.exists(&*self.vfs, seq)? || self.client.get(seq)?.is_some())
    }

    fn lost_claims_linger(&self) -> bool {
        true
    }

    fn settle(&self, seq: u64) -> Result<bool> {
        // A SERIAL read finishes a claim a node accepted but did not commit.
        Ok(self.dir.exists(&*self.vfs, seq)? || self.client.resolve(seq)?.is_some())
    }

    fn read_header(&self, seq: u64) -> Result<Option<Record>> {
        if let Some(rec) = self.dir.read_header(&*self.vfs, seq)? {
            return Ok(Some(rec));
        }
        match self.claimed_or_retired(seq)? {
            None => Ok(None),
            Some(None) => match self.dir.read_header(&*self.vfs, seq)? {
                Some(rec) => Ok(Some(rec)),
                None => self.retired_header(seq),
            },
            Some(Some((f, path))) => {
                let len = f.len().map_err(Self::io(&path))?;
                Ok(Some(header_of(&*f, len, &path)?.0))
            }
        }
    }

    fn open_record(&self, seq: u64) -> Result<Arc<dyn VFile>> {
        if self.dir.exists(&*self.vfs, seq)? {
            return self.dir.segment(&*self.vfs, seq);
        }
        match self.claimed_or_retired(seq)? {
            Some(Some((f, _))) => Ok(f),
            // Retired, its file removed: only a snapshot older than what
            // reclaim kept reads it (as a tombstone tells a folder's reader).
            Some(None)
                if self.retired_header(seq)?.is_some() && !self.dir.exists(&*self.vfs, seq)? =>
            {
                Err(Error::SnapshotTooOld(format!(
                    "commit record {seq} was reclaimed after this snapshot was taken"
                )))
            }
            _ => self.dir.segment(&*self.vfs, seq),
        }
    }

    fn retire(&self, up_to: u64, live: &HashSet<u64>) -> Result<(usize, u64)> {
        // Dead records with their transactions (tombstones of an older
        // reclaim, which hard-linked them, are skipped).
        let mut dead: Vec<(u64, u128, u64)> = Vec::new();
        for seq in self
            .dir
            .list(&*self.vfs)?
            .into_iter()
            .filter(|s| *s <= up_to && !live.contains(s) && !self.dir.is_packed(*s))
        {
            let Some((false, len)) = self.dir.peek(&*self.vfs, seq)? else {
                continue;
            };
            let Some(rec) = self.dir.read_header(&*self.vfs, seq)? else {
                continue;
            };
            dead.push((seq, rec.txn, len));
        }
        let (mut retired, mut bytes) = (0, 0);
        for batch in dead.chunks(256) {
            // Marked on a quorum before any file goes: a reader that then
            // misses the file learns it was retired, never that it is lost.
            let marks: Vec<(u64, u128)> = batch.iter().map(|(s, t, _)| (*s, *t)).collect();
            self.retired.mark(&self.client, &marks)?;
            let mut dirs = std::collections::BTreeSet::new();
            for (seq, _, len) in batch {
                let path = self.dir.path(*seq);
                match self.vfs.remove_file(&path) {
                    Ok(()) => {
                        retired += 1;
                        bytes += len;
                        dirs.insert(self.dir.subdir(*seq));
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(&path, e)),
                }
            }
            for d in dirs {
                self.vfs.sync_dir(&d).map_err(Self::io(&d))?;
            }
        }
        self.dir.forget_open_records();
        Ok((retired, bytes))
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

    fn write_out(&self) -> Result<()> {
        let last = self.claimed.lock().keys().next_back().copied();
        if let Some(seq) = last {
            self.make_durable(seq)?;
        }
        self.tidy_claims(0, &|_| false).map(|_| ())
    }

    fn close(&self) -> Result<()> {
        let last = self.claimed.lock().keys().next_back().copied();
        match last {
            Some(seq) => self.make_durable(seq),
            None => Ok(()),
        }
    }

    fn give_up(&self, release: &mut dyn FnMut()) {
        if !self.given_up.swap(true, Ordering::AcqRel) {
            release();
        }
    }

    fn discard(&self, w: &Written) {
        if let Some(m) = w.path.as_ref().and_then(|t| self.moving.lock().remove(t)) {
            let _ = self.vfs.remove_file(&m.path);
        }
        w.discard(&*self.vfs);
    }

    fn check(&self, head: u64, problems: &mut Vec<String>) -> Result<()> {
        // Records a crash left under their claim names get their own names first
        // (a read-only handle only reads them where they are).
        if self.writable.load(Ordering::Acquire) {
            let _ = self.tidy_claims(0, &|_| false);
        }
        let mut seq = 1;
        while seq <= head {
            let to = head
                .min(seq | ((1 << client::BUCKET_SHIFT) - 1))
                .min(seq + client::RANGE_MAX - 1);
            let rows = self.client.range(seq, to)?;
            let mut expect = seq;
            for (s, c) in rows {
                if s != expect {
                    problems.push(format!(
                        "the Cassandra registry has no row for record {expect} (next row: {s})"
                    ));
                }
                expect = s + 1;
                if let Some(p) = self.verify_row(s, &c)? {
                    problems.push(p);
                }
            }
            if expect <= to {
                problems.push(format!(
                    "the Cassandra registry has no row for record {expect} (the head is {head})"
                ));
            }
            seq = to + 1;
        }
        Ok(())
    }

    fn tidy(&self, head: u64, dead: &dyn Fn(u128) -> bool) -> Result<usize> {
        self.tidy_claims(head, dead)
    }
}
