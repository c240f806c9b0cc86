//! RocksDB (feature `rocksdb`): an LSM-tree. A write transaction is an atomic `WriteBatch`
//! written with `WriteOptions::set_sync(true)` (WAL fsynced per commit); reads inside a write
//! transaction read the database directly and do not see the batch. Read transactions use a
//! snapshot.

use super::{Engine, EngineConfig, ReadFn, ReadTx, WriteFn, WriteTx};
use anyhow::{Context, Result};
use rocksdb::{
    BlockBasedOptions, Cache, Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB,
};
use std::path::Path;

pub fn version() -> String {
    format!(
        "rocksdb {} (librocksdb-sys {})",
        env!("SOP_BENCH_V_ROCKSDB"),
        env!("SOP_BENCH_V_LIBROCKSDB_SYS")
    )
}

pub fn settings(cfg: &EngineConfig) -> String {
    format!(
        "durability: WriteBatch per transaction with WriteOptions::set_sync(true) (WAL fsync per commit); cache: {} LRU block cache; other options default",
        super::mib(cfg.cache_bytes)
    )
}

pub struct RocksEngine {
    db: DB,
}

impl RocksEngine {
    pub fn open(dir: &Path, cfg: &EngineConfig) -> Result<Self> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        let mut table = BlockBasedOptions::default();
        let cache = Cache::new_lru_cache(usize::try_from(cfg.cache_bytes).unwrap_or(usize::MAX));
        table.set_block_cache(&cache);
        opts.set_block_based_table_factory(&table);
        let db = DB::open(&opts, dir).context("rocksdb: open")?;
        Ok(Self { db })
    }
}

fn fill(out: &mut Vec<u8>, v: Option<impl AsRef<[u8]>>) -> bool {
    match v {
        Some(v) => {
            out.clear();
            out.extend_from_slice(v.as_ref());
            true
        }
        None => false,
    }
}

fn drain<I, E>(iter: I, limit: usize, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize>
where
    I: Iterator<Item = Result<(Box<[u8]>, Box<[u8]>), E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut n = 0;
    for item in iter.take(limit) {
        let (k, v) = item?;
        visit(&k, &v);
        n += 1;
    }
    Ok(n)
}

struct Snap<'a>(rocksdb::Snapshot<'a>);

impl ReadTx for Snap<'_> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        Ok(fill(out, self.0.get_pinned(key)?))
    }
    fn scan(
        &self,
        from: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        drain(
            self.0
                .iterator(IteratorMode::From(from, Direction::Forward)),
            limit,
            visit,
        )
    }
    fn len(&self) -> Result<u64> {
        let mut n = 0u64;
        for item in self.0.iterator(IteratorMode::Start) {
            item?;
            n += 1;
        }
        Ok(n)
    }
}

struct Writer<'a> {
    db: &'a DB,
    batch: WriteBatch,
}

impl ReadTx for Writer<'_> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        Ok(fill(out, self.db.get_pinned(key)?))
    }
    fn scan(
        &self,
        from: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        drain(
            self.db
                .iterator(IteratorMode::From(from, Direction::Forward)),
            limit,
            visit,
        )
    }
    fn len(&self) -> Result<u64> {
        Snap(self.db.snapshot()).len()
    }
}

impl WriteTx for Writer<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.batch.put(key, value);
        Ok(())
    }
    fn remove(&mut self, key: &[u8]) -> Result<()> {
        self.batch.delete(key);
        Ok(())
    }
}

impl Engine for RocksEngine {
    fn write(&self, f: &mut WriteFn<'_>) -> Result<()> {
        let mut w = Writer {
            db: &self.db,
            batch: WriteBatch::default(),
        };
        f(&mut w)?;
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(w.batch, &opts)?;
        Ok(())
    }

    fn read(&self, f: &mut ReadFn<'_>) -> Result<()> {
        f(&Snap(self.db.snapshot()))
    }

    fn compact(&mut self) -> Result<bool> {
        self.db.compact_range::<&[u8], &[u8]>(None, None);
        Ok(true)
    }
}
