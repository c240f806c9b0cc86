//! SOP, the engine this workspace builds (feature `sop-engine`). Keys and values are stored as
//! `Vec<u8>` in one store named "kv".

use super::{Engine, EngineConfig, ReadFn, ReadTx, WriteFn, WriteTx};
use anyhow::{Context, Result};
use std::path::Path;

type K = Vec<u8>;
type V = Vec<u8>;
const STORE: &str = "kv";

pub fn version() -> String {
    format!("sop {} (this workspace)", env!("SOP_BENCH_V_SOP"))
}

pub fn settings(cfg: &EngineConfig) -> String {
    let slot = match cfg.slot_length {
        Some(n) => n.to_string(),
        None => "default".to_string(),
    };
    format!(
        "durability: TxMode::ForWriting, commit() per transaction; cache: {} (node_cache_bytes); slot_length {slot}",
        super::mib(cfg.cache_bytes)
    )
}

pub struct SopEngine {
    db: sop::Database,
}

impl SopEngine {
    pub fn open(dir: &Path, cfg: &EngineConfig) -> Result<Self> {
        let db = sop::Database::open(
            dir,
            sop::DbOptions {
                node_cache_bytes: cfg.cache_bytes as _,
                ..Default::default()
            },
        )
        .context("sop: open")?;
        let mut store_opts = sop::StoreOptions::default();
        if let Some(n) = cfg.slot_length {
            store_opts.slot_length = n as _;
        }
        let tx = db.begin(sop::TxMode::ForWriting)?;
        tx.create_store::<K, V>(STORE, store_opts)?;
        tx.commit()?;
        Ok(Self { db })
    }
}

struct Handle<'s, 't>(&'s sop::Store<'t, K, V>);

impl ReadTx for Handle<'_, '_> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        match self.0.get(&key.to_vec())? {
            Some(v) => {
                *out = v;
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn scan(&self, from: &[u8], limit: usize, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<usize> {
        let mut n = 0;
        for item in self.0.range(&(from.to_vec()..))?.take(limit) {
            let (k, v) = item?;
            visit(&k, &v);
            n += 1;
        }
        Ok(n)
    }
    fn len(&self) -> Result<u64> {
        Ok(self.0.count()?)
    }
}

impl WriteTx for Handle<'_, '_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.0.upsert(&key.to_vec(), &value.to_vec())?;
        Ok(())
    }
    fn remove(&mut self, key: &[u8]) -> Result<()> {
        self.0.remove(&key.to_vec())?;
        Ok(())
    }
}

impl Engine for SopEngine {
    fn write(&self, f: &mut WriteFn<'_>) -> Result<()> {
        let tx = self.db.begin(sop::TxMode::ForWriting)?;
        {
            let store = tx.open_store::<K, V>(STORE)?;
            f(&mut Handle(&store))?;
        }
        tx.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut ReadFn<'_>) -> Result<()> {
        let tx = self.db.begin(sop::TxMode::ForReading)?;
        {
            let store = tx.open_store::<K, V>(STORE)?;
            f(&Handle(&store))?;
        }
        tx.commit()?;
        Ok(())
    }
}
