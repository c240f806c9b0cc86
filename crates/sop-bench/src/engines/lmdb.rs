//! LMDB through heed: a copy-on-write B-tree in a memory map. heed's default flags are used, so
//! every commit is fsynced (no `NO_SYNC`/`NO_META_SYNC`/`MAP_ASYNC`). LMDB has no cache of its
//! own: it reads through the OS page cache.

use super::{Engine, EngineConfig, ReadFn, ReadTx, WriteFn, WriteTx};
use anyhow::{Context, Result};
use heed::types::Bytes;
use heed::{CommitOrAbort, CompactionOption, Env, EnvOpenOptions};
use std::ops::Bound;
use std::path::{Path, PathBuf};

/// Virtual size of the memory map; pages are only allocated as they are written.
const MAP_SIZE: usize = 64 << 30;

type Db = heed::Database<'static, Bytes, Bytes>;

pub fn version() -> String {
    format!(
        "heed {} ({})",
        env!("SOP_BENCH_V_HEED"),
        heed::lmdb_version().string
    )
}

pub fn settings(_cfg: &EngineConfig) -> String {
    "durability: heed default flags, fsync on every commit; cache: none of its own (OS page cache), map size 64 GiB".to_string()
}

pub struct LmdbEngine {
    dir: PathBuf,
    /// `None` only while `compact` swaps the file.
    open: Option<(Env, Db)>,
}

fn open_env(dir: &Path) -> Result<(Env, Db)> {
    let mut options = EnvOpenOptions::new();
    options.map_size(MAP_SIZE).max_dbs(1);
    // SAFETY: the directory is ours alone and is opened once at a time in this process.
    let env = unsafe { options.open(dir) }.context("lmdb: open")?;
    let wtxn = env.write_txn()?;
    let db = env
        .create_databases_and_commit(wtxn, |opener, wtxn| {
            opener
                .create_database::<Bytes, Bytes>(wtxn, Some("kv"))
                .map(CommitOrAbort::<_, ()>::Commit)
        })?
        .unwrap_commit();
    Ok((env, db))
}

impl LmdbEngine {
    pub fn open(dir: &Path, _cfg: &EngineConfig) -> Result<Self> {
        Ok(Self {
            dir: dir.to_path_buf(),
            open: Some(open_env(dir)?),
        })
    }

    fn env_db(&self) -> (&Env, &Db) {
        let (env, db) = self.open.as_ref().expect("lmdb: environment is open");
        (env, db)
    }
}

fn get(db: &Db, txn: &heed::RoTxn, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
    match db.get(txn, key)? {
        Some(v) => {
            out.clear();
            out.extend_from_slice(v);
            Ok(true)
        }
        None => Ok(false),
    }
}

fn scan(
    db: &Db,
    txn: &heed::RoTxn,
    from: &[u8],
    limit: usize,
    visit: &mut dyn FnMut(&[u8], &[u8]),
) -> Result<usize> {
    let range: (Bound<&[u8]>, Bound<&[u8]>) = (Bound::Included(from), Bound::Unbounded);
    let mut n = 0;
    for item in db.range(txn, &range)?.take(limit) {
        let (k, v) = item?;
        visit(k, v);
        n += 1;
    }
    Ok(n)
}

struct Reader<'a, 't> {
    db: &'a Db,
    txn: &'a heed::RoTxn<'t>,
}

impl ReadTx for Reader<'_, '_> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        get(self.db, self.txn, key, out)
    }
    fn scan(
        &self,
        from: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        scan(self.db, self.txn, from, limit, visit)
    }
    fn len(&self) -> Result<u64> {
        Ok(self.db.len(self.txn)?)
    }
}

struct Writer<'a, 't> {
    db: &'a Db,
    txn: &'a mut heed::RwTxn<'t>,
}

impl ReadTx for Writer<'_, '_> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        get(self.db, self.txn, key, out)
    }
    fn scan(
        &self,
        from: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        scan(self.db, self.txn, from, limit, visit)
    }
    fn len(&self) -> Result<u64> {
        Ok(self.db.len(self.txn)?)
    }
}

impl WriteTx for Writer<'_, '_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.db.put(self.txn, key, value)?;
        Ok(())
    }
    fn remove(&mut self, key: &[u8]) -> Result<()> {
        self.db.delete(self.txn, key)?;
        Ok(())
    }
}

impl Engine for LmdbEngine {
    fn write(&self, f: &mut WriteFn<'_>) -> Result<()> {
        let (env, db) = self.env_db();
        let mut txn = env.write_txn()?;
        f(&mut Writer { db, txn: &mut txn })?;
        txn.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut ReadFn<'_>) -> Result<()> {
        let (env, db) = self.env_db();
        let txn = env.read_txn()?;
        f(&Reader { db, txn: &txn })
    }

    /// LMDB compacts by copying: `mdb_env_copy2` with `MDB_CP_COMPACT` writes a copy without
    /// free pages, which then replaces the original file.
    fn compact(&mut self) -> Result<bool> {
        let copy = self.dir.join("compacted.mdb");
        self.env_db()
            .0
            .copy_to_path(&copy, CompactionOption::Enabled)
            .context("lmdb: compacting copy")?;
        // Close the environment before replacing its file.
        if let Some((env, _db)) = self.open.take() {
            env.prepare_for_closing().wait();
        }
        std::fs::rename(&copy, self.dir.join("data.mdb"))?;
        self.open = Some(open_env(&self.dir)?);
        Ok(true)
    }
}
