//! The storage engines under test, each behind the same small byte-oriented interface.
//!
//! A transaction is scoped by a closure: [`Engine::write`] begins a write transaction, hands it to
//! the closure and commits it (durably, where the engine allows) when the closure returns `Ok`;
//! an `Err` from the closure rolls it back. [`Engine::read`] does the same with a read
//! transaction (a snapshot where the engine has them). Scoping by closure lets each adapter keep
//! its borrowed table or statement handles on the stack, with no self-referential structs.

use anyhow::{bail, Result};
use std::path::Path;

pub mod fjall;
pub mod lmdb;
pub mod redb;
#[cfg(feature = "rocksdb")]
pub mod rocksdb;
pub mod sled;
#[cfg(feature = "sop-engine")]
pub mod sop;
pub mod sqlite;

/// Reads, as seen by one transaction.
#[allow(clippy::len_without_is_empty)]
pub trait ReadTx {
    /// Copies the value stored under `key` into `out` (replacing its contents); `false` when the
    /// key is absent.
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool>;
    /// Visits, in ascending key order, at most `limit` entries whose key is `>= from`; returns
    /// how many were visited.
    fn scan(&self, from: &[u8], limit: usize, visit: &mut dyn FnMut(&[u8], &[u8]))
        -> Result<usize>;
    /// The number of entries.
    fn len(&self) -> Result<u64>;
}

/// Reads and writes inside one write transaction.
pub trait WriteTx: ReadTx {
    /// Inserts or overwrites.
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
    /// Removes `key` if present.
    fn remove(&mut self, key: &[u8]) -> Result<()>;
}

/// A closure run inside a write transaction.
pub type WriteFn<'a> = dyn FnMut(&mut dyn WriteTx) -> Result<()> + 'a;
/// A closure run inside a read transaction.
pub type ReadFn<'a> = dyn FnMut(&dyn ReadTx) -> Result<()> + 'a;

/// One open database of one engine, holding a single key-value table.
pub trait Engine: Send + Sync {
    /// Runs `f` in a write transaction and commits it.
    fn write(&self, f: &mut WriteFn<'_>) -> Result<()>;
    /// Runs `f` in a read transaction. Several threads may call this at once.
    fn read(&self, f: &mut ReadFn<'_>) -> Result<()>;
    /// Compacts the database, if the engine can; `false` when it cannot.
    fn compact(&mut self) -> Result<bool> {
        Ok(false)
    }
}

/// What the report says about an engine.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EngineInfo {
    pub engine: String,
    pub version: String,
    pub settings: String,
}

/// Settings shared by all engines.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Cache size for engines that take one.
    pub cache_bytes: u64,
    /// SOP's B-tree node slot length (`None`: SOP's default).
    pub slot_length: Option<usize>,
    /// SOP read transactions in `TxMode::ForReading` (validated) instead of `NoCheck`.
    pub sop_validated_reads: bool,
    /// SOP reads through the owning `get` and `range` instead of `get_with` and `scan`.
    pub sop_owned_reads: bool,
    /// `sop-redis`: this Redis instead of one started for the run.
    pub redis_url: Option<String>,
    /// `sop-cassandra`: the Cassandra contact points of its registry.
    pub cassandra: Option<String>,
    /// `sop-s3`: the S3 server's endpoint and the bucket.
    pub s3: Option<(String, String)>,
}

/// Every engine this build knows, in the order they are run by default.
pub fn available() -> Vec<&'static str> {
    let mut v = Vec::new();
    if cfg!(feature = "sop-engine") {
        v.push("sop");
        v.push("sop-shared");
        #[cfg(feature = "sop-engine")]
        if sop::BenchRedis::available() {
            v.push("sop-redis");
        }
    }
    v.extend(["redb", "lmdb", "sled", "fjall", "sqlite"]);
    if cfg!(feature = "rocksdb") {
        v.push("rocksdb");
    }
    v
}

/// Describes an engine without opening it.
pub fn info(name: &str, cfg: &EngineConfig) -> Result<EngineInfo> {
    let (version, settings) = match name {
        "redb" => (redb::version(), redb::settings(cfg)),
        "lmdb" => (lmdb::version(), lmdb::settings(cfg)),
        "sled" => (sled::version(), sled::settings(cfg)),
        "fjall" => (fjall::version(), fjall::settings(cfg)),
        "sqlite" => (sqlite::version(), sqlite::settings(cfg)),
        #[cfg(feature = "rocksdb")]
        "rocksdb" => (rocksdb::version(), rocksdb::settings(cfg)),
        #[cfg(feature = "sop-engine")]
        "sop" => (sop::version(), sop::settings(cfg, true)),
        #[cfg(feature = "sop-engine")]
        "sop-shared" => (sop::version(), sop::settings(cfg, false)),
        #[cfg(feature = "sop-engine")]
        "sop-redis" => (
            sop::version(),
            format!(
                "Clustered mode ({}); {}",
                match &cfg.redis_url {
                    Some(url) => format!("the Redis at {url}"),
                    None => "Redis started by the harness on a free loopback port".to_string(),
                },
                sop::settings(cfg, false)
            ),
        ),
        #[cfg(feature = "sop-engine")]
        "sop-cassandra" => (
            sop::version(),
            format!(
                "Standalone, the registry and the commit point on Cassandra at {} (keyspace \
                 sop_bench; a lightweight transaction per commit); {}",
                cfg.cassandra
                    .as_deref()
                    .unwrap_or("(none given: --cassandra)"),
                sop::settings(cfg, false)
            ),
        ),
        #[cfg(feature = "sop-engine")]
        "sop-s3" => (
            sop::version(),
            format!(
                "Standalone, the whole database in a bucket at {} (records, checkpoints and \
                 big values are objects; a create-only PUT per commit); {}",
                cfg.s3
                    .as_ref()
                    .map_or("(none given: --s3-endpoint)".to_string(), |(e, b)| format!(
                        "{e}, bucket {b}"
                    )),
                sop::settings(cfg, false).replace(
                    "folder shared with other processes, commit() durable on return (record \
                     fdatasynced, log directory fsynced)",
                    "commit() durable on return (the record's create-only PUT acknowledged)"
                )
            ),
        ),
        other => bail!("{}", unknown_engine(other)),
    };
    Ok(EngineInfo {
        engine: name.to_string(),
        version,
        settings,
    })
}

/// Opens (creating) the named engine's database in the empty directory `dir`.
pub fn open(name: &str, dir: &Path, cfg: &EngineConfig) -> Result<Box<dyn Engine>> {
    Ok(match name {
        "redb" => Box::new(redb::RedbEngine::open(dir, cfg)?),
        "lmdb" => Box::new(lmdb::LmdbEngine::open(dir, cfg)?),
        "sled" => Box::new(sled::SledEngine::open(dir, cfg)?),
        "fjall" => Box::new(fjall::FjallEngine::open(dir, cfg)?),
        "sqlite" => Box::new(sqlite::SqliteEngine::open(dir, cfg)?),
        #[cfg(feature = "rocksdb")]
        "rocksdb" => Box::new(rocksdb::RocksEngine::open(dir, cfg)?),
        #[cfg(feature = "sop-engine")]
        "sop" => Box::new(sop::SopEngine::open(dir, cfg)?),
        #[cfg(feature = "sop-engine")]
        "sop-shared" => Box::new(sop::SopEngine::open_shared(dir, cfg)?),
        #[cfg(feature = "sop-engine")]
        "sop-redis" => Box::new(sop::SopEngine::open_clustered(dir, cfg)?),
        #[cfg(feature = "sop-engine")]
        "sop-cassandra" => Box::new(sop::SopEngine::open_cassandra(dir, cfg)?),
        #[cfg(feature = "sop-engine")]
        "sop-s3" => Box::new(sop::SopEngine::open_s3(dir, cfg)?),
        other => bail!("{}", unknown_engine(other)),
    })
}

fn unknown_engine(name: &str) -> String {
    let hint = match name {
        "sop" | "sop-shared" | "sop-redis" | "sop-cassandra" | "sop-s3" => {
            " (build with `--features sop-engine`; sop-redis also needs redis-server installed, \
             sop-cassandra a node named by --cassandra, sop-s3 a server named by --s3-endpoint)"
        }
        "rocksdb" => " (build with `--features rocksdb`)",
        _ => "",
    };
    format!(
        "unknown or not compiled-in engine `{name}`{hint}; this build has: {}",
        available().join(", ")
    )
}

/// Human-readable byte count for settings strings.
pub(crate) fn mib(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}
