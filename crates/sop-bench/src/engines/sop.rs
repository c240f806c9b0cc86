//! SOP, the engine this workspace builds (feature `sop-engine`, on by default).
//!
//! The adapter uses SOP's byte-level `RawStore` in one store named "kv": keys are compared as
//! raw bytes and values stored as given, as every peer adapter does, so the figures measure the
//! engine rather than a serde encoding. Write transactions are `TxMode::ForWriting`, whose
//! `commit()` is durable when it returns. Read transactions are `TxMode::NoCheck` by default (a
//! snapshot with no commit-time validation, like the peers' read transactions);
//! `--sop-read-mode for-reading` measures validated read transactions instead. Reads go through
//! `RawStore::get_with` and `RawStore::scan`, which lend keys and values to the harness (in a
//! NoCheck transaction straight from the node) rather than returning copies;
//! `--sop-owned-reads` measures the owning `RawStore::get` and `RawStore::range` instead.

use super::{Engine, EngineConfig, ReadFn, ReadTx, WriteFn, WriteTx};
use anyhow::{Context, Result};
use sop::{RawStore, TxMode};
use std::ops::Bound;
use std::path::Path;

const STORE: &str = "kv";
/// The key type recorded for the store: plain bytes, compared as bytes.
const KEY_TYPE: &str = "raw-bytes";

pub fn version() -> String {
    format!("sop {} (this workspace)", env!("SOP_BENCH_V_SOP"))
}

fn slot_length(cfg: &EngineConfig) -> usize {
    cfg.slot_length
        .unwrap_or(sop::StoreOptions::default().slot_length)
}

/// What the read API is called in the settings.
fn read_api(cfg: &EngineConfig) -> &'static str {
    if cfg.sop_owned_reads {
        "owning get/range (a copy of each key and value)"
    } else {
        "borrowing get_with/scan"
    }
}

fn read_mode(cfg: &EngineConfig) -> TxMode {
    if cfg.sop_validated_reads {
        TxMode::ForReading
    } else {
        TxMode::NoCheck
    }
}

/// Settings of `sop` (exclusive: the folder is this process's alone, commits go
/// through the journal) or of `sop-shared` and `sop-redis` (any process may open
/// the folder too).
pub fn settings(cfg: &EngineConfig, exclusive: bool) -> String {
    let durability = if exclusive {
        "DbOptions::exclusive (the folder is this process's alone), commit() durable on return (journal frame fdatasynced; at each journal rotation the records are written out into one record pack)"
    } else {
        "folder shared with other processes, commit() durable on return (record fdatasynced, log directory fsynced)"
    };
    format!(
        "durability: TxMode::ForWriting, {durability}; reads: TxMode::{:?}, {}; cache: {} (node_cache_bytes); RawStore with slot_length {}, values {:?} (inline up to {} bytes, larger ones separate)",
        read_mode(cfg),
        read_api(cfg),
        super::mib(cfg.cache_bytes),
        slot_length(cfg),
        sop::StoreOptions::default().values,
        sop::AUTO_INLINE_MAX
    )
}

pub struct SopEngine {
    db: sop::Database,
    read_mode: TxMode,
    /// Reads through the owning `get` and `range` instead of `get_with` and `scan`.
    owned_reads: bool,
    /// `sop-redis`: the Redis server started for this run, if any (stopped on drop).
    _redis: Option<BenchRedis>,
}

/// A private redis-server on a free loopback port, for the `sop-redis` engine.
pub struct BenchRedis {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl BenchRedis {
    pub fn available() -> bool {
        std::process::Command::new("redis-server")
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok()
    }

    /// Starts redis-server on a free loopback port and waits until it answers.
    pub fn start() -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let rdir = tempfile::tempdir()?;
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(rdir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("sop-redis needs redis-server (Debian: apt-get install redis-server)")?;
        let r = BenchRedis {
            child,
            port,
            _dir: rdir,
        };
        let t = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            anyhow::ensure!(
                t.elapsed().as_secs() < 10,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ok(r)
    }
}

impl BenchRedis {
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for BenchRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SopEngine {
    /// `sop`: Standalone, the folder opened exclusively (commits journaled).
    pub fn open(dir: &Path, cfg: &EngineConfig) -> Result<Self> {
        Self::open_in(dir, cfg, None, true)
    }

    /// `sop-shared`: Standalone, the folder open to other processes too.
    pub fn open_shared(dir: &Path, cfg: &EngineConfig) -> Result<Self> {
        Self::open_in(dir, cfg, None, false)
    }

    /// `sop-redis`: Clustered mode, coordinated by the Redis `cfg` names or by one started
    /// for this run.
    pub fn open_clustered(dir: &Path, cfg: &EngineConfig) -> Result<Self> {
        let (own, url) = match &cfg.redis_url {
            Some(url) => (None, url.clone()),
            None => {
                let r = BenchRedis::start()?;
                let url = r.url();
                (Some(r), url)
            }
        };
        let mut e = Self::open_in(dir, cfg, Some(url), false)?;
        e._redis = own;
        Ok(e)
    }

    /// `sop-cassandra`: Standalone, the registry on the Cassandra `cfg` names.
    pub fn open_cassandra(dir: &Path, cfg: &EngineConfig) -> Result<Self> {
        let registry = cassandra_registry(cfg.cassandra.as_deref())?;
        Self::open_with(dir, cfg, None, false, Some(registry))
    }

    /// `sop-s3`: Standalone, the whole database in the bucket `cfg` names,
    /// under a fresh prefix.
    pub fn open_s3(dir: &Path, cfg: &EngineConfig) -> Result<Self> {
        let (endpoint, bucket) = cfg.s3.clone().ok_or_else(|| {
            anyhow::anyhow!("engine sop-s3 needs --s3-endpoint URL (a running S3 server)")
        })?;
        let mut b = sop::S3Bucket::new(format!("s3://{bucket}/bench/{:016x}", fastrand::u64(..)));
        b.endpoint = Some(endpoint);
        Self::open_with(dir, cfg, None, false, Some(sop::Registry::S3(b)))
    }

    fn open_in(
        dir: &Path,
        cfg: &EngineConfig,
        redis_url: Option<String>,
        exclusive: bool,
    ) -> Result<Self> {
        Self::open_with(dir, cfg, redis_url, exclusive, None)
    }

    fn open_with(
        dir: &Path,
        cfg: &EngineConfig,
        redis_url: Option<String>,
        exclusive: bool,
        registry: Option<sop::Registry>,
    ) -> Result<Self> {
        let coordination = redis_url.map(|url| sop::Coordination::Redis { url });
        let db = sop::Database::open(
            dir,
            sop::DbOptions {
                node_cache_bytes: usize::try_from(cfg.cache_bytes).unwrap_or(usize::MAX),
                coordination,
                exclusive,
                registry,
                ..Default::default()
            },
        )
        .context("sop: open")?;
        let store_opts = sop::StoreOptions {
            slot_length: slot_length(cfg),
            ..Default::default()
        };
        let tx = db.begin(TxMode::ForWriting)?;
        tx.create_raw_store(STORE, KEY_TYPE, store_opts)?;
        tx.commit()?;
        Ok(Self {
            db,
            read_mode: read_mode(cfg),
            owned_reads: cfg.sop_owned_reads,
            _redis: None,
        })
    }
}

/// A store in a transaction; `owned`: reads through the owning API.
struct Handle<'t>(RawStore<'t>, bool);

impl ReadTx for Handle<'_> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        if self.1 {
            let v = self.0.get(key)?;
            if let Some(v) = &v {
                out.clear();
                out.extend_from_slice(v);
            }
            return Ok(v.is_some());
        }
        let found = self.0.get_with(key, |v| {
            out.clear();
            out.extend_from_slice(v);
        })?;
        Ok(found.is_some())
    }
    fn scan(
        &self,
        from: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        if limit == 0 {
            return Ok(0);
        }
        if self.1 {
            let mut n = 0;
            for item in self
                .0
                .range(Bound::Included(from.to_vec()), Bound::Unbounded, false)?
                .take(limit)
            {
                let (k, v) = item?;
                visit(&k, &v);
                n += 1;
            }
            return Ok(n);
        }
        let mut n = 0;
        self.0
            .scan(Bound::Included(from), Bound::Unbounded, false, |k, v| {
                visit(k, v);
                n += 1;
                n < limit
            })?;
        Ok(n)
    }
    fn len(&self) -> Result<u64> {
        Ok(self.0.count()?)
    }
}

impl WriteTx for Handle<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.0.upsert(key, value)?;
        Ok(())
    }
    fn remove(&mut self, key: &[u8]) -> Result<()> {
        self.0.remove(key)?;
        Ok(())
    }
}

impl Engine for SopEngine {
    fn write(&self, f: &mut WriteFn<'_>) -> Result<()> {
        let tx = self.db.begin(TxMode::ForWriting)?;
        {
            let store = tx.open_raw_store(STORE)?;
            f(&mut Handle(store, self.owned_reads))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// `Database::compact` with its default options: live data moves out of
    /// records at least 20% dead, then dead records are retired.
    fn compact(&mut self) -> Result<bool> {
        self.db.compact().context("sop: compact")?;
        Ok(true)
    }

    fn read(&self, f: &mut ReadFn<'_>) -> Result<()> {
        let tx = self.db.begin(self.read_mode)?;
        {
            let store = tx.open_raw_store(STORE)?;
            f(&Handle(store, self.owned_reads))?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// The registry of the `sop-cassandra` engine: keyspace `sop_bench` at `hosts`.
pub fn cassandra_registry(hosts: Option<&str>) -> Result<sop::Registry> {
    let hosts = hosts.ok_or_else(|| {
        anyhow::anyhow!("engine sop-cassandra needs --cassandra HOST:PORT (a running node)")
    })?;
    Ok(sop::Registry::Cassandra(sop::CassandraRegistry::new(
        hosts.split(',').map(str::to_string).collect(),
        "sop_bench",
    )))
}
