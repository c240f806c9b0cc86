//! sled 0.34 (the latest stable release). sled has no multi-key write transaction with reads
//! apart from its closure-based `Tree::transaction`; a write transaction here is an atomic
//! `Batch` applied with `apply_batch` and then `flush()`ed, which fsyncs. Reads inside a write
//! transaction therefore do not see that transaction's own writes, and reads are not snapshots.

use super::{Engine, EngineConfig, ReadFn, ReadTx, WriteFn, WriteTx};
use anyhow::{Context, Result};
use std::path::Path;

pub fn version() -> String {
    format!("sled {}", env!("SOP_BENCH_V_SLED"))
}

pub fn settings(cfg: &EngineConfig) -> String {
    format!(
        "durability: atomic Batch per transaction + flush() (fsync) after each commit; reads are not snapshot-isolated; cache: {} (cache_capacity)",
        super::mib(cfg.cache_bytes)
    )
}

pub struct SledEngine {
    db: sled::Db,
}

impl SledEngine {
    pub fn open(dir: &Path, cfg: &EngineConfig) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cfg.cache_bytes)
            .open()
            .context("sled: open")?;
        Ok(Self { db })
    }
}

struct Reader<'a>(&'a sled::Db);

impl ReadTx for Reader<'_> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        match self.0.get(key)? {
            Some(v) => {
                out.clear();
                out.extend_from_slice(&v);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn scan(
        &self,
        from: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        let mut n = 0;
        for item in self.0.range(from..).take(limit) {
            let (k, v) = item?;
            visit(&k, &v);
            n += 1;
        }
        Ok(n)
    }
    fn len(&self) -> Result<u64> {
        Ok(self.0.len() as u64)
    }
}

struct Writer<'a> {
    reader: Reader<'a>,
    batch: sled::Batch,
}

impl ReadTx for Writer<'_> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        self.reader.get(key, out)
    }
    fn scan(
        &self,
        from: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        self.reader.scan(from, limit, visit)
    }
    fn len(&self) -> Result<u64> {
        self.reader.len()
    }
}

impl WriteTx for Writer<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.batch.insert(key, value);
        Ok(())
    }
    fn remove(&mut self, key: &[u8]) -> Result<()> {
        self.batch.remove(key);
        Ok(())
    }
}

impl Engine for SledEngine {
    fn write(&self, f: &mut WriteFn<'_>) -> Result<()> {
        let mut w = Writer {
            reader: Reader(&self.db),
            batch: sled::Batch::default(),
        };
        f(&mut w)?;
        self.db.apply_batch(w.batch)?;
        self.db.flush()?;
        Ok(())
    }

    fn read(&self, f: &mut ReadFn<'_>) -> Result<()> {
        f(&Reader(&self.db))
    }
}
