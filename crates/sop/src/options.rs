//! Database, store and transaction options.

use crate::error::{Error, Result};
use crate::io::Vfs;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The smallest [`StoreOptions::slot_length`].
pub const MIN_SLOT_LENGTH: usize = 4;
/// The largest [`StoreOptions::slot_length`].
pub const MAX_SLOT_LENGTH: usize = 20_000;
/// [`StoreOptions::slot_length`] by default. Small leaves keep each commit's write small (a commit rewrites every node it
/// touches); measured with `sop-bench redb`: 64 cut batch writes' time 5x and the
/// folder 5x against 1000, with reads about equal. See docs/BENCHMARKS.md.
pub const DEFAULT_SLOT_LENGTH: usize = 64;

/// Where a store keeps its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ValuePlacement {
    /// Each value by its size: up to [`AUTO_INLINE_MAX`] bytes inside the leaf,
    /// larger ones separate. Leaves stay small (a commit rewrites whole leaves), and
    /// small values cost no second read.
    #[default]
    Auto,
    /// Inside the leaf node (small values).
    Inline,
    /// In a separate blob written with the commit.
    Separate,
    /// In a file of its own, written at the moment of the add (big values).
    Big,
}

/// `ValuePlacement::Auto`: the largest value kept inside the leaf.
pub const AUTO_INLINE_MAX: usize = 256;

impl ValuePlacement {
    /// Can leaves of such a store point at separate values in commit records?
    pub(crate) fn has_separate(self) -> bool {
        matches!(self, ValuePlacement::Separate | ValuePlacement::Auto)
    }
}

/// Options of a store, fixed at creation and saved with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreOptions {
    /// Maximum items per leaf (and children per internal node).
    pub slot_length: usize,
    /// Reject a second item with an equal key.
    pub unique: bool,
    /// Where values are kept.
    pub values: ValuePlacement,
    /// Keep separate values in the shared cache.
    pub cache_values: bool,
    /// On leaf overflow, shift items into a sibling with room before splitting.
    pub leaf_load_balancing: bool,
    /// Free text saved with the store.
    pub description: String,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            slot_length: DEFAULT_SLOT_LENGTH,
            unique: true,
            values: ValuePlacement::Auto,
            cache_values: true,
            leaf_load_balancing: false,
            description: String::new(),
        }
    }
}

impl StoreOptions {
    /// Check the options (`Error::InvalidOption` if `slot_length` is out of range).
    pub fn validate(&self) -> Result<()> {
        if !(MIN_SLOT_LENGTH..=MAX_SLOT_LENGTH).contains(&self.slot_length) {
            return Err(Error::InvalidOption(format!(
                "slot_length {} is outside {MIN_SLOT_LENGTH}..={MAX_SLOT_LENGTH}",
                self.slot_length
            )));
        }
        Ok(())
    }
}

/// How processes sharing the folder coordinate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Coordination {
    /// Processes on one host: the exclusive link of the log orders their commits,
    /// an OS file lock tells which are alive; in-process locks only.
    #[default]
    Standalone,
    /// Many processes, possibly on many hosts, coordinated through Redis.
    Redis {
        /// The Redis server, e.g. `redis://127.0.0.1:6379/`.
        url: String,
    },
}

/// Where the registry (which record holds each node) and the commit point live.
/// Saved in `sop.json` when the database is created; every opener uses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Registry {
    /// In the folder: a record file per commit, published by an exclusive hard
    /// link (or a journal, for an exclusive handle).
    #[default]
    Folder,
    /// On Apache Cassandra: a lightweight transaction claims each sequence
    /// number; the folder keeps only the record files (feature `cassandra`).
    Cassandra(CassandraRegistry),
    /// In an S3-compatible object store: records, checkpoints and big values
    /// are objects in a bucket, and a create-only PUT (`If-None-Match: *`) is
    /// the commit point; the folder keeps only `sop.json` and what this host's
    /// processes use (feature `s3`).
    S3(S3Bucket),
}

impl Registry {
    /// Whether this is the folder's own registry.
    pub fn is_folder(&self) -> bool {
        matches!(self, Registry::Folder)
    }
}

/// Where a Cassandra registry lives, and the consistency it uses
/// (docs/ARCHITECTURE.md §4.6 says why these levels).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CassandraRegistry {
    /// Contact points, `host:port` (the native protocol port, 9042 by default).
    pub hosts: Vec<String>,
    /// The keyspace of the registry's table; created if missing.
    pub keyspace: String,
    /// The keyspace's replication, as CQL's map, used when it is created, e.g.
    /// `{'class': 'NetworkTopologyStrategy', 'dc1': 3}`. `None`:
    /// `{'class': 'SimpleStrategy', 'replication_factor': 1}` (one test node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<String>,
    /// Claims at LOCAL_SERIAL and reads at LOCAL_QUORUM (one datacenter's
    /// quorum) instead of SERIAL and QUORUM. Only for a cluster whose writers
    /// all live in one datacenter.
    #[serde(default)]
    pub local_dc: bool,
    /// How long one request may take, in milliseconds, before its outcome is
    /// resolved by a serial read (`Error::CommitOutcomeUnknown` if that fails).
    #[serde(default = "default_cassandra_timeout_ms")]
    pub timeout_ms: u64,
    /// Judge processes by lease rows in the keyspace (`sop_leases`, renewed
    /// with lightweight transactions) instead of the OS locks of the folder's
    /// `procs/`: for a folder on a network volume whose locks other hosts
    /// cannot see. Saved at creation; every opener then judges alike.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub leases: bool,
}

fn default_cassandra_timeout_ms() -> u64 {
    10_000
}

impl CassandraRegistry {
    /// A registry at `hosts` in `keyspace`, with the default settings.
    pub fn new(hosts: Vec<String>, keyspace: impl Into<String>) -> Self {
        CassandraRegistry {
            hosts,
            keyspace: keyspace.into(),
            replication: None,
            local_dc: false,
            timeout_ms: default_cassandra_timeout_ms(),
            leases: false,
        }
    }
}

/// Where a database in an object store lives (`Registry::S3`). Credentials
/// come from the environment as the AWS tools read them (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, web identity,
/// instance metadata); none is ever saved in `sop.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Bucket {
    /// `s3://BUCKET/PREFIX`: every object of the database is under `PREFIX/`.
    pub url: String,
    /// The server, for a store other than AWS (MinIO, R2, a test server), e.g.
    /// `http://127.0.0.1:9000`; requests are then path-style, and plain HTTP
    /// is allowed only when the endpoint says `http://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The region (default: `AWS_REGION`, else `us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// How long one request may take, retries on throttling and server errors
    /// included, in milliseconds, before it fails (a failed commit point is then
    /// `Error::CommitOutcomeUnknown`).
    #[serde(default = "default_s3_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_s3_timeout_ms() -> u64 {
    30_000
}

impl S3Bucket {
    /// The database at `url` (`s3://BUCKET/PREFIX`), with the default settings.
    pub fn new(url: impl Into<String>) -> Self {
        S3Bucket {
            url: url.into(),
            endpoint: None,
            region: None,
            timeout_ms: default_s3_timeout_ms(),
        }
    }
}

/// `DbOptions::blob_grace` by default: longer than nearly every transaction.
pub const DEFAULT_BLOB_GRACE: Duration = Duration::from_secs(300);

/// Options for opening a database. Start from the default and change what you
/// need:
///
/// ```
/// use sop::{Database, DbOptions};
/// use std::time::Duration;
/// # let dir = tempfile::tempdir().unwrap();
/// let opts = DbOptions {
///     // This handle alone uses the folder: commits go through a journal.
///     exclusive: true,
///     node_cache_bytes: 64 << 20,
///     max_commit_time: Duration::from_secs(10),
///     ..DbOptions::default()
/// };
/// let db = Database::open(dir.path().join("db"), opts)?;
/// db.close()?;
///
/// // Refuse to create a database where there is none.
/// let missing = DbOptions { create: false, ..DbOptions::default() };
/// let err = Database::open(dir.path().join("nothing"), missing).err();
/// assert!(matches!(err, Some(sop::Error::NotFound(_))));
/// # Ok::<(), sop::Error>(())
/// ```
#[derive(Clone)]
pub struct DbOptions {
    /// Create the database if the folder holds none.
    pub create: bool,
    /// Coordination for a new database. `None` uses what the folder has saved (or
    /// Standalone for a new one); a value that differs from the saved one is an error.
    pub coordination: Option<Coordination>,
    /// Registry for a new database. `None` uses what the folder has saved (or the
    /// folder's own for a new one); a value that differs from the saved one is an
    /// error.
    pub registry: Option<Registry>,
    /// Bytes of decoded nodes and values kept in the in-process cache.
    pub node_cache_bytes: usize,
    /// Staged bytes a write transaction may hold before it fails with `TooLarge`.
    pub txn_memory_budget: usize,
    /// Default maximum commit time of transactions.
    pub max_commit_time: Duration,
    /// Run recovery every this often in a background thread (None: only on open).
    pub recovery_interval: Option<Duration>,
    /// Also reclaim space in that background thread: `Database::compact` with its
    /// default options (moves live data out of records at least 20% dead, then
    /// retires dead records).
    pub auto_reclaim: bool,
    /// Clustered mode: share node images through Redis (a node missing from this
    /// process's cache is looked up there first, and put there after a read from
    /// disk). It saves reads on a network volume; on a local disk the round
    /// trips cost more than the read. `None` (the default) decides by the
    /// folder's file system: off on a local one (ext4, XFS, Btrfs, ZFS, F2FS,
    /// tmpfs, overlayfs), on for any other (NFS, SMB, FUSE mounts, ...).
    pub shared_node_cache: Option<bool>,
    /// Clustered mode: how long a process's lease lives without renewal. A process
    /// silent for longer is presumed dead; its commits are fenced off before
    /// recovery removes what it left.
    pub lease_ttl: Duration,
    /// Write a registry checkpoint every this many commits (0: never), so opening
    /// replays at most this many commit records.
    pub checkpoint_every: u64,
    /// Run recovery when opening (default). Tools that inspect a folder as it is
    /// (`sop check`, `sop recover`) turn it off.
    pub recover_on_open: bool,
    /// Open the folder for this handle alone (Standalone mode only). No other
    /// process or handle may have it open meanwhile (`Error::InUse`). Commits then
    /// go through a journal: one append and one `fdatasync` per commit instead of
    /// a record sync plus a directory sync; records are synced in place when the
    /// journal is rotated or the database closed, and rebuilt from the journal
    /// after a crash.
    pub exclusive: bool,
    /// Exclusive mode: rotate the journal once it holds this many bytes.
    pub journal_bytes: u64,
    /// How long a big-value blob that a commit released is kept before it is
    /// deleted, while other processes have the folder open (they may read a
    /// snapshot from before that commit). A transaction younger than this always
    /// reads its snapshot's big values; an older one may get `SnapshotTooOld`.
    /// Applies to the releasing process and to recovery in every process
    /// (docs/ARCHITECTURE.md §7, "Garbage").
    pub blob_grace: Duration,
    /// Open for reading only, writing nothing at all to the folder (read-only
    /// media, a folder this user may only read): no lock or temp file, no
    /// recovery, no background thread, no Redis. NoCheck and ForReading
    /// transactions work; ForWriting and maintenance fail with
    /// `Error::ReadOnlyOpen`. Journals a crashed exclusive owner left are read in
    /// place, never replayed. Other processes do not see this one (its snapshots
    /// do not hold back their garbage: a long read may get `SnapshotTooOld`).
    pub read_only: bool,
    /// For a database opened by its URL (`Database::open("s3://BUCKET/PREFIX",
    /// ..)`): the folder under which this host keeps its state of it. None:
    /// `$SOP_STATE_DIR`, else `$XDG_STATE_HOME/sop`, else `~/.local/state/sop`.
    pub state_dir: Option<std::path::PathBuf>,
    /// For a database in an object store: a local folder where what reads
    /// fetch (node images, separate values, chunks of streamed values) is kept
    /// on disk, bounded by `object_cache_bytes`, across restarts. Every entry
    /// is immutable where it is named and checksummed; a damaged one is fetched
    /// again, never served (docs/ARCHITECTURE.md §4.7, "Reading"). None: only
    /// the in-memory node cache. Ignored for a folder's own records.
    pub object_cache_dir: Option<std::path::PathBuf>,
    /// The bound on `object_cache_dir`'s bytes; least recently used entries
    /// are evicted first. Default 1 GiB.
    pub object_cache_bytes: u64,
    /// The storage backend (tests inject faults here). None: the OS file system.
    pub vfs: Option<Arc<dyn Vfs>>,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            create: true,
            coordination: None,
            registry: None,
            node_cache_bytes: 256 << 20,
            txn_memory_budget: 4 << 30,
            max_commit_time: Duration::from_secs(60),
            recovery_interval: Some(Duration::from_secs(30)),
            auto_reclaim: false,
            shared_node_cache: None,
            checkpoint_every: 1000,
            lease_ttl: Duration::from_secs(10),
            recover_on_open: true,
            exclusive: false,
            journal_bytes: 64 << 20,
            blob_grace: DEFAULT_BLOB_GRACE,
            read_only: false,
            state_dir: None,
            object_cache_dir: None,
            object_cache_bytes: 1 << 30,
            vfs: None,
        }
    }
}

impl std::fmt::Debug for DbOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DbOptions")
            .field("create", &self.create)
            .field("coordination", &self.coordination)
            .field("registry", &self.registry)
            .field("node_cache_bytes", &self.node_cache_bytes)
            .field("txn_memory_budget", &self.txn_memory_budget)
            .field("max_commit_time", &self.max_commit_time)
            .field("recovery_interval", &self.recovery_interval)
            .field("recover_on_open", &self.recover_on_open)
            .field("exclusive", &self.exclusive)
            .field("journal_bytes", &self.journal_bytes)
            .field("blob_grace", &self.blob_grace)
            .field("object_cache_dir", &self.object_cache_dir)
            .field("object_cache_bytes", &self.object_cache_bytes)
            .finish_non_exhaustive()
    }
}
