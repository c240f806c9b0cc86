//! Shared test helpers (see the sop-testkit crate).
#![allow(unused_imports, dead_code)]

pub use sop_testkit::{redis_url, OwnRedis};

use sop::{Database, DbOptions, TxMode};
use std::ops::Bound;
use std::path::Path;

/// Options for tests: no background recovery thread.
pub fn opts() -> DbOptions {
    DbOptions {
        recovery_interval: None,
        ..Default::default()
    }
}

/// Bytes of the files under `p`, each inode once (retired records are hard links
/// to one shared tombstone), as `du --apparent-size` counts them.
pub fn folder_bytes(p: &Path) -> u64 {
    fn walk(p: &Path, seen: &mut std::collections::HashSet<u64>) -> u64 {
        use std::os::unix::fs::MetadataExt;
        let mut total = 0;
        for e in std::fs::read_dir(p).unwrap().flatten() {
            let m = e.metadata().unwrap();
            if m.is_dir() {
                total += walk(&e.path(), seen);
            } else if seen.insert(m.ino()) {
                total += m.len();
            }
        }
        total
    }
    walk(p, &mut Default::default())
}

/// Reopen the folder with the options it saved (no background recovery).
pub fn reopen(path: &Path) -> Database {
    Database::open(path, opts()).unwrap()
}

/// Read-modify-write increment of counter `n` in store `counters` (created if
/// missing), in one transaction.
pub fn add_one(db: &Database) -> sop::Result<()> {
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.open_or_create_store::<String, u64>("counters", sop::StoreOptions::default())?;
    let n = s.get(&"n".to_string())?.unwrap_or(0);
    s.upsert(&"n".to_string(), &(n + 1))?;
    tx.commit()
}

/// Counter `n` of store `counters`, read validated.
pub fn count(db: &Database) -> u64 {
    let tx = db.begin(TxMode::ForReading).unwrap();
    let s = tx.open_store::<String, u64>("counters").unwrap();
    s.get(&"n".to_string()).unwrap().unwrap_or(0)
}

/// How increments of counter `n` ended when replies of the commit point may
/// be lost (the Cassandra, Cassandra node and S3 fault tests).
#[derive(Debug, Default)]
pub struct Outcomes {
    pub ok: u64,
    /// Outcome unknown; `commit_outcome` found it committed.
    pub unknown_committed: u64,
    /// Outcome unknown; `commit_outcome` found it not committed.
    pub unknown_not: u64,
    /// Failed with another error: not committed.
    pub failed: u64,
}

/// A transaction whose outcome is unknown: its id and snapshot.
pub type Unknown = (u128, u64);

/// How one increment ended (see [`Outcomes::try_increment`]).
#[derive(Debug)]
pub enum Step {
    Committed,
    /// `begin` failed: nothing was tried.
    BeginFailed(sop::Error),
    /// The commit failed before its commit point: not committed.
    Failed(sop::Error),
    /// The commit's outcome is unknown; the handle is poisoned.
    Unknown(Unknown),
}

impl Outcomes {
    /// One read-modify-write increment of counter `n` (store `counters`, which
    /// must exist) on `db`. Tallies only `ok`: what a failure counts as is the
    /// caller's to say.
    pub fn try_increment(&mut self, db: &Database) -> Step {
        let tx = match db.begin(TxMode::ForWriting) {
            Ok(tx) => tx,
            Err(e) => return Step::BeginFailed(e),
        };
        let (id, snap) = (tx.id(), tx.snapshot_seq());
        let r = (|| {
            let s = tx.open_store::<String, u64>("counters")?;
            let n = s.get(&"n".to_string())?.unwrap_or(0);
            s.upsert(&"n".to_string(), &(n + 1))?;
            tx.commit()
        })();
        match r {
            Ok(()) => {
                self.ok += 1;
                Step::Committed
            }
            Err(sop::Error::CommitOutcomeUnknown { .. }) => Step::Unknown((id, snap)),
            Err(e) => Step::Failed(e),
        }
    }

    /// [`Outcomes::try_increment`], every failure tallied as failed. Returns
    /// the transaction when its outcome is unknown: the caller settles it with
    /// [`Outcomes::settle`] on a fresh handle (this one is poisoned).
    pub fn increment(&mut self, db: &Database) -> Option<Unknown> {
        match self.try_increment(db) {
            Step::Committed => None,
            Step::BeginFailed(e) | Step::Failed(e) => {
                eprintln!("increment: {e}");
                self.failed += 1;
                None
            }
            Step::Unknown(u) => Some(u),
        }
    }

    /// Ask `check` whether `unknown` committed, and tally the answer.
    pub fn settle(&mut self, check: &Database, unknown: Unknown) {
        if check.commit_outcome(unknown.0, unknown.1).unwrap() {
            self.unknown_committed += 1;
        } else {
            self.unknown_not += 1;
        }
    }

    /// The counter on `db` is `base` plus the increments that committed: none
    /// lost, none applied twice, none said not committed that did; and the
    /// database checks clean.
    pub fn assert_counted(&self, db: &Database, base: u64, more: &str) {
        assert_eq!(
            count(db),
            base + self.ok + self.unknown_committed,
            "{self}; {more}"
        );
        let report = db.check().unwrap();
        assert!(report.is_ok(), "{:?}", report.problems);
    }
}

impl std::fmt::Display for Outcomes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ok {}, unknown and committed {}, unknown and not {}, failed {}",
            self.ok, self.unknown_committed, self.unknown_not, self.failed
        )
    }
}

/// Every item of every store: (store, key, value).
pub type Dump = Vec<(String, Vec<u8>, Vec<u8>)>;

pub fn dump(db: &Database) -> Dump {
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let mut out = vec![];
    for name in tx.list_stores().unwrap() {
        let s = tx.open_raw_store(&name).unwrap();
        for r in s.range(Bound::Unbounded, Bound::Unbounded, false).unwrap() {
            let (k, v) = r.unwrap();
            out.push((name.clone(), k.to_vec(), v.to_vec()));
        }
    }
    out
}

/// A read-only bind mount of `src` at `at` (`mount --bind`, then `remount,ro`;
/// the test command runs as root), unmounted on drop. Fails loudly if it cannot
/// mount: these tests never skip.
pub struct RoMount(pub std::path::PathBuf);

impl RoMount {
    pub fn new(src: &Path, at: &Path) -> RoMount {
        std::fs::create_dir_all(at).unwrap();
        let run = |args: &[&str]| {
            let out = std::process::Command::new("mount")
                .args(args)
                .output()
                .expect("run mount");
            assert!(
                out.status.success(),
                "mount {args:?} failed (the test command runs as root): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&["--bind", src.to_str().unwrap(), at.to_str().unwrap()]);
        let m = RoMount(at.to_path_buf());
        run(&["-o", "remount,bind,ro", at.to_str().unwrap()]);
        m
    }
}

impl Drop for RoMount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// Counts the engine's events whose message contains a text (in the threads
/// where it is the default subscriber).
pub struct Count {
    pub text: &'static str,
    pub n: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl tracing::Subscriber for Count {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, e: &tracing::Event<'_>) {
        let mut m = Message(String::new());
        e.record(&mut m);
        if m.0.contains(self.text) {
            self.n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
