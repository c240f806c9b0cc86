//! The folder layout: every path and file name format of a database folder, in
//! one place (docs/FORMAT.md describes the files; this is where their names are
//! made and parsed).
//!
//! ```text
//! <db>/sop.json                         the configuration
//! <db>/log/<seq >> 16 %08x>/<seq %016x>.rec   commit records
//! <db>/checkpoints/<seq %016x>.ckpt     registry checkpoints
//! <db>/blobs/<store %016x>/<blob %032x>  big values
//! <db>/procs/<process %032x>.lock       one per process with the folder open
//! <db>/tmp/<process %032x>-<n %08x>.tmp temporary files
//! <db>/journal-<base %016x>.wal         an exclusive owner's commit journals
//! <db>/journal-spare.wal                a written-out journal kept for reuse
//! <db>/open.lock, <db>/open.owner       taken while opening; the exclusive owner
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Log records per subdirectory of `log/` (a power of two: `seq >> SUBDIR_SHIFT`).
pub const SUBDIR_SHIFT: u32 = 16;

/// The paths of one database folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout of the database folder `root`.
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    /// The database folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `sop.json`: the configuration.
    pub fn config(&self) -> PathBuf {
        self.root.join(Self::CONFIG_FILE)
    }

    /// The configuration's file name.
    pub const CONFIG_FILE: &'static str = "sop.json";

    /// The folders every database has.
    pub fn dirs(&self) -> [PathBuf; 5] {
        [
            self.log(),
            self.tmp(),
            self.procs(),
            self.blobs(),
            self.checkpoints(),
        ]
    }

    /// `log/`: commit records, in subdirectories of 65,536.
    pub fn log(&self) -> PathBuf {
        self.root.join("log")
    }

    /// The subdirectory of `log/` holding record `seq`.
    pub fn record_dir(&self, seq: u64) -> PathBuf {
        self.log().join(format!("{:08x}", seq >> SUBDIR_SHIFT))
    }

    /// Commit record `seq`.
    pub fn record(&self, seq: u64) -> PathBuf {
        self.record_dir(seq).join(format!("{seq:016x}.rec"))
    }

    /// The sequence a record file name stands for (`<seq %016x>.rec`).
    pub fn parse_record_name(name: &str) -> Option<u64> {
        parse_hex_name(name, "", ".rec", Some(16)).map(|v| v as u64)
    }

    /// `checkpoints/`.
    pub fn checkpoints(&self) -> PathBuf {
        self.root.join("checkpoints")
    }

    /// The checkpoint of the state at `seq`.
    pub fn checkpoint(&self, seq: u64) -> PathBuf {
        self.checkpoints().join(format!("{seq:016x}.ckpt"))
    }

    /// The sequence a checkpoint file name stands for (`<seq %016x>.ckpt`).
    pub fn parse_checkpoint_name(name: &str) -> Option<u64> {
        parse_hex_name(name, "", ".ckpt", None).and_then(|v| u64::try_from(v).ok())
    }

    /// `blobs/`: big values, a folder per store.
    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// The folder of store `store`'s big values.
    pub fn blob_dir(&self, store: u64) -> PathBuf {
        self.blobs().join(format!("{store:016x}"))
    }

    /// Big value `blob` of store `store`.
    pub fn blob(&self, store: u64, blob: u128) -> PathBuf {
        self.blob_dir(store).join(format!("{blob:032x}"))
    }

    /// `procs/`: a lock file per process that has the folder open.
    pub fn procs(&self) -> PathBuf {
        self.root.join("procs")
    }

    /// The lock file of process `id`.
    pub fn proc_lock(&self, id: u128) -> PathBuf {
        self.procs().join(Self::proc_lock_name(id))
    }

    /// The file name of process `id`'s lock.
    pub fn proc_lock_name(id: u128) -> String {
        format!("{id:032x}.lock")
    }

    /// The process a lock file name stands for (`<id %032x>.lock`).
    pub fn parse_proc_lock_name(name: &str) -> Option<u128> {
        parse_hex_name(name, "", ".lock", Some(32))
    }

    /// In a database in a bucket, the marker `procs/<id %032x>.dead` that
    /// replaces a dead process's lock file while its big values remain.
    pub fn proc_dead_marker(&self, id: u128) -> PathBuf {
        self.procs().join(format!("{id:032x}.dead"))
    }

    /// The process a dead marker's name stands for.
    pub fn parse_proc_dead_marker(name: &str) -> Option<u128> {
        parse_hex_name(name, "", ".dead", Some(32))
    }

    /// `tmp/`: temporary files, named after the process that made them.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// With a registry outside the folder (Cassandra), the record file of a
    /// commit waits, durable, under a name of its own in its sequence's `log/`
    /// subdirectory while that sequence is claimed, and is renamed to its record
    /// name once claimed (a rename within one directory):
    /// `log/<subdir>/<seq %016x>-<process id>-<counter>.claim`, from its
    /// temporary file's name `tmp_name` (`<process id>-<counter>.tmp`).
    pub fn claim_name(seq: u64, tmp_name: &str) -> String {
        let stem = tmp_name.strip_suffix(".tmp").unwrap_or(tmp_name);
        format!("{seq:016x}-{stem}.claim")
    }

    /// The sequence and the writing process of a claim file's name.
    pub fn parse_claim_name(name: &str) -> Option<(u64, u128)> {
        let stem = name.strip_suffix(".claim")?;
        let (seq, rest) = stem.split_once('-')?;
        let (proc_id, _) = rest.split_once('-')?;
        if seq.len() != 16 || proc_id.len() != 32 {
            return None;
        }
        Some((
            u64::from_str_radix(seq, 16).ok()?,
            u128::from_str_radix(proc_id, 16).ok()?,
        ))
    }

    /// Commit journal `base` (its frames are of the commits after `base`).
    pub fn journal(&self, base: u64) -> PathBuf {
        self.root.join(format!("journal-{base:016x}.wal"))
    }

    /// A written-out journal kept for reuse.
    pub fn journal_spare(&self) -> PathBuf {
        self.root.join("journal-spare.wal")
    }

    /// The base a journal file name stands for (`journal-<base %016x>.wal`).
    pub fn parse_journal_name(name: &str) -> Option<u64> {
        parse_hex_name(name, "journal-", ".wal", Some(16)).map(|v| v as u64)
    }

    /// `open.lock`: taken by every opener while it opens, and held by an
    /// exclusive owner while it is open.
    pub fn open_lock(&self) -> PathBuf {
        self.root.join("open.lock")
    }

    /// `synced.seq`: how far some process saw the log durable, a hint that lets
    /// processes share directory syncs (`log/sync_mark.rs`).
    pub fn sync_mark(&self) -> PathBuf {
        self.root.join("synced.seq")
    }

    /// `open.owner`: names the exclusive owner holding `open.lock`.
    pub fn open_owner(&self) -> PathBuf {
        self.root.join("open.owner")
    }
}

/// `<prefix><hex digits><suffix>`, with exactly `digits` digits if given.
fn parse_hex_name(name: &str, prefix: &str, suffix: &str, digits: Option<usize>) -> Option<u128> {
    let hex = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if hex.is_empty()
        || digits.is_some_and(|d| hex.len() != d)
        || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    u128::from_str_radix(hex, 16).ok()
}

/// Hands out fresh temporary file names for one process's handle:
/// `tmp/<process id %032x>-<counter %08x>.tmp`. The process id in the name lets
/// recovery tell a dead process's leftovers from a live one's.
pub(crate) struct TmpNames {
    dir: PathBuf,
    proc_id: u128,
    counter: AtomicU64,
}

impl TmpNames {
    pub fn new(layout: &Layout, proc_id: u128) -> TmpNames {
        TmpNames {
            dir: layout.tmp(),
            proc_id,
            counter: AtomicU64::new(0),
        }
    }

    /// A name no other file of this handle has had.
    pub fn next(&self) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{:032x}-{n:08x}.tmp", self.proc_id))
    }

    /// A named temporary file of this handle (`tmp/<process id>-<what>.tmp`).
    pub fn named(&self, what: &str) -> PathBuf {
        self.dir.join(format!("{:032x}-{what}.tmp", self.proc_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_foreign_names_are_refused() {
        let l = Layout::new("/db");
        let rec = l.record(0x1_2345);
        assert_eq!(rec, Path::new("/db/log/00000001/0000000000012345.rec"));
        let name = rec.file_name().unwrap().to_str().unwrap();
        assert_eq!(Layout::parse_record_name(name), Some(0x1_2345));
        let j = l.journal(7);
        assert_eq!(
            Layout::parse_journal_name(j.file_name().unwrap().to_str().unwrap()),
            Some(7)
        );
        assert_eq!(Layout::parse_journal_name("journal-spare.wal"), None);
        assert_eq!(Layout::parse_journal_name("journal-12.wal"), None);
        assert_eq!(Layout::parse_record_name("000000000000123G.rec"), None);
        assert_eq!(Layout::parse_record_name("+00000000000123a.rec"), None);
        assert_eq!(
            Layout::parse_checkpoint_name("0000000000000009.ckpt"),
            Some(9)
        );
        let id = 0xabcdu128 << 100;
        let lock = l.proc_lock(id);
        assert_eq!(
            Layout::parse_proc_lock_name(lock.file_name().unwrap().to_str().unwrap()),
            Some(id)
        );
        assert_eq!(
            l.blob(1, 2),
            Path::new("/db/blobs/0000000000000001/00000000000000000000000000000002")
        );
    }
}
