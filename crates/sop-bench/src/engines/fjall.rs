//! fjall 3: an LSM-tree. Uses the single-writer transactional database; after each commit the
//! journal is persisted with `PersistMode::SyncAll` (fsync). Read transactions are snapshots.

use super::{Engine, EngineConfig, ReadFn, ReadTx, WriteFn, WriteTx};
use anyhow::{Context, Result};
use fjall::{
    KeyspaceCreateOptions, PersistMode, Readable, SingleWriterTxDatabase, SingleWriterTxKeyspace,
};
use std::path::Path;

pub fn version() -> String {
    format!("fjall {}", env!("SOP_BENCH_V_FJALL"))
}

pub fn settings(cfg: &EngineConfig) -> String {
    format!(
        "durability: SingleWriterTxDatabase, persist(PersistMode::SyncAll) after each commit; cache: {} (cache_size); default LZ4 compression, background flush/compaction threads",
        super::mib(cfg.cache_bytes)
    )
}

pub struct FjallEngine {
    db: SingleWriterTxDatabase,
    ks: SingleWriterTxKeyspace,
}

impl FjallEngine {
    pub fn open(dir: &Path, cfg: &EngineConfig) -> Result<Self> {
        let db = SingleWriterTxDatabase::builder(dir)
            .cache_size(cfg.cache_bytes)
            .open()
            .context("fjall: open")?;
        let ks = db.keyspace("kv", KeyspaceCreateOptions::default)?;
        Ok(Self { db, ks })
    }
}

fn get<R: Readable>(
    r: &R,
    ks: &SingleWriterTxKeyspace,
    key: &[u8],
    out: &mut Vec<u8>,
) -> Result<bool> {
    match r.get(ks, key)? {
        Some(v) => {
            out.clear();
            out.extend_from_slice(&v);
            Ok(true)
        }
        None => Ok(false),
    }
}

fn scan<R: Readable>(
    r: &R,
    ks: &SingleWriterTxKeyspace,
    from: &[u8],
    limit: usize,
    visit: &mut dyn FnMut(&[u8], &[u8]),
) -> Result<usize> {
    let mut n = 0;
    for guard in r.range(ks, from..).take(limit) {
        let (k, v) = guard.into_inner()?;
        visit(&k, &v);
        n += 1;
    }
    Ok(n)
}

struct Reader<'a, R> {
    r: &'a R,
    ks: &'a SingleWriterTxKeyspace,
}

impl<R: Readable> ReadTx for Reader<'_, R> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        get(self.r, self.ks, key, out)
    }
    fn scan(
        &self,
        from: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        scan(self.r, self.ks, from, limit, visit)
    }
    fn len(&self) -> Result<u64> {
        Ok(self.r.len(self.ks)? as u64)
    }
}

struct Writer<'a, 'tx> {
    tx: fjall::SingleWriterWriteTx<'tx>,
    ks: &'a SingleWriterTxKeyspace,
}

impl ReadTx for Writer<'_, '_> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        get(&self.tx, self.ks, key, out)
    }
    fn scan(
        &self,
        from: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        scan(&self.tx, self.ks, from, limit, visit)
    }
    fn len(&self) -> Result<u64> {
        Ok(self.tx.len(self.ks)? as u64)
    }
}

impl WriteTx for Writer<'_, '_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.tx.insert(self.ks, key, value);
        Ok(())
    }
    fn remove(&mut self, key: &[u8]) -> Result<()> {
        self.tx.remove(self.ks, key);
        Ok(())
    }
}

impl Engine for FjallEngine {
    fn write(&self, f: &mut WriteFn<'_>) -> Result<()> {
        let mut w = Writer {
            tx: self.db.write_tx(),
            ks: &self.ks,
        };
        f(&mut w)?;
        w.tx.commit()?;
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }

    fn read(&self, f: &mut ReadFn<'_>) -> Result<()> {
        let snapshot = self.db.read_tx();
        f(&Reader {
            r: &snapshot,
            ks: &self.ks,
        })
    }

    fn compact(&mut self) -> Result<bool> {
        self.ks.inner().major_compact()?;
        Ok(true)
    }
}
