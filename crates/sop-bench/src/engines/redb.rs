//! redb: a copy-on-write B-tree in one file. Every commit uses `Durability::Immediate`
//! (redb's default): the commit has been fsynced when `commit()` returns.

use super::{mib, Engine, EngineConfig, ReadFn, ReadTx, WriteFn, WriteTx};
use anyhow::{Context, Result};
use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::Path;

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

pub fn version() -> String {
    format!("redb {}", env!("SOP_BENCH_V_REDB"))
}

pub fn settings(cfg: &EngineConfig) -> String {
    format!(
        "durability: Durability::Immediate (fsync on every commit); cache: {} (Builder::set_cache_size)",
        mib(cfg.cache_bytes)
    )
}

pub struct RedbEngine {
    db: redb::Database,
}

impl RedbEngine {
    pub fn open(dir: &Path, cfg: &EngineConfig) -> Result<Self> {
        let db = redb::Builder::new()
            .set_cache_size(usize::try_from(cfg.cache_bytes).unwrap_or(usize::MAX))
            .create(dir.join("bench.redb"))
            .context("redb: create")?;
        // Create the table up front so read transactions can always open it.
        let txn = db.begin_write()?;
        txn.open_table(TABLE)?;
        txn.commit()?;
        Ok(Self { db })
    }
}

/// The read half, shared by the write transaction's `Table` and the read transaction's
/// `ReadOnlyTable`.
struct Reader<'t, T>(&'t T);

fn get<T: ReadableTable<&'static [u8], &'static [u8]>>(
    t: &T,
    key: &[u8],
    out: &mut Vec<u8>,
) -> Result<bool> {
    match t.get(key)? {
        Some(v) => {
            out.clear();
            out.extend_from_slice(v.value());
            Ok(true)
        }
        None => Ok(false),
    }
}

fn scan<T: ReadableTable<&'static [u8], &'static [u8]>>(
    t: &T,
    from: &[u8],
    limit: usize,
    visit: &mut dyn FnMut(&[u8], &[u8]),
) -> Result<usize> {
    let mut n = 0;
    for item in t.range::<&[u8]>(from..)?.take(limit) {
        let (k, v) = item?;
        visit(k.value(), v.value());
        n += 1;
    }
    Ok(n)
}

impl<T: ReadableTable<&'static [u8], &'static [u8]>> ReadTx for Reader<'_, T> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        get(self.0, key, out)
    }
    fn scan(
        &self,
        from: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        scan(self.0, from, limit, visit)
    }
    fn len(&self) -> Result<u64> {
        Ok(self.0.len()?)
    }
}

struct Writer<'a, 'txn>(&'a mut redb::Table<'txn, &'static [u8], &'static [u8]>);

impl ReadTx for Writer<'_, '_> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        get(&*self.0, key, out)
    }
    fn scan(
        &self,
        from: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        scan(&*self.0, from, limit, visit)
    }
    fn len(&self) -> Result<u64> {
        Ok(self.0.len()?)
    }
}

impl WriteTx for Writer<'_, '_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.0.insert(key, value)?;
        Ok(())
    }
    fn remove(&mut self, key: &[u8]) -> Result<()> {
        self.0.remove(key)?;
        Ok(())
    }
}

impl Engine for RedbEngine {
    fn write(&self, f: &mut WriteFn<'_>) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(TABLE)?;
            f(&mut Writer(&mut table))?;
        }
        txn.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut ReadFn<'_>) -> Result<()> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(TABLE)?;
        f(&Reader(&table))
    }

    fn compact(&mut self) -> Result<bool> {
        // Compaction runs until it reports nothing left to move.
        while self.db.compact()? {}
        Ok(true)
    }
}
