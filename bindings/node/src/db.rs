//! Databases: open, begin, close, commit outcome.

use crate::error::{closed, invalid, OrThrow, Result};
use crate::job::{job, IntoJs, Job};
use crate::tx::{parse_mode, NativeTx, TxCell};
use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;
use parking_lot::{Mutex, RwLock};
use sop::{Coordination, Database, DbOptions};
use std::sync::{Arc, Weak};

/// How to open a database.
#[napi(object)]
#[derive(Default, Clone)]
pub struct OpenOptions {
    /// Clustered mode through the Redis at this URL (for a new database, or one
    /// already Clustered).
    pub redis: Option<String>,
    /// This handle alone uses the folder (commits go through a journal).
    pub exclusive: Option<bool>,
    /// Open without writing anything.
    pub read_only: Option<bool>,
    /// Create the database if the folder has none (default true).
    pub create: Option<bool>,
    /// The node cache's size in bytes.
    pub cache_bytes: Option<f64>,
}

fn db_options(o: OpenOptions) -> DbOptions {
    let mut d = DbOptions::default();
    if let Some(x) = o.exclusive {
        d.exclusive = x;
    }
    if let Some(x) = o.read_only {
        d.read_only = x;
    }
    if let Some(x) = o.create {
        d.create = x;
    }
    if let Some(x) = o.cache_bytes {
        d.node_cache_bytes = x as usize;
    }
    if let Some(url) = o.redis {
        d.coordination = Some(Coordination::Redis { url });
    }
    d
}

struct DbCell {
    db: RwLock<Option<Database>>,
    /// The transactions begun here that may still be live (closing rolls them back).
    txs: Mutex<Vec<Weak<TxCell>>>,
}

impl DbCell {
    fn begin(&self, mode: &str) -> Result<NativeTx> {
        let mode = parse_mode(mode)?;
        let tx = {
            let g = self.db.read();
            g.as_ref()
                .ok_or_else(|| closed("database"))?
                .begin(mode)
                .or_throw()?
        };
        let cell = TxCell::new(tx);
        let mut txs = self.txs.lock();
        txs.retain(|w| w.strong_count() > 0);
        txs.push(Arc::downgrade(&cell));
        Ok(NativeTx { cell })
    }
}

/// An open database (the package's `Database` wraps it).
#[napi]
pub struct NativeDb {
    cell: Arc<DbCell>,
}

impl IntoJs for NativeDb {
    type Js = NativeDb;
    fn into_js(self) -> Result<NativeDb> {
        Ok(self)
    }
}
impl IntoJs for NativeTx {
    type Js = NativeTx;
    fn into_js(self) -> Result<NativeTx> {
        Ok(self)
    }
}

fn open(path: String, options: Option<OpenOptions>) -> Result<NativeDb> {
    let db = Database::open(&path, db_options(options.unwrap_or_default())).or_throw()?;
    Ok(NativeDb {
        cell: Arc::new(DbCell {
            db: RwLock::new(Some(db)),
            txs: Mutex::new(Vec::new()),
        }),
    })
}

/// Open (or create) the database in folder `path`.
#[napi]
pub fn open_db(path: String, options: Option<OpenOptions>) -> Result<NativeDb> {
    open(path, options)
}

/// Open on the thread pool.
#[napi]
pub fn open_db_async(path: String, options: Option<OpenOptions>) -> AsyncTask<Job<NativeDb>> {
    job(move || open(path, options))
}

#[napi]
impl NativeDb {
    /// Begin a transaction: "write", "read" or "snapshot".
    #[napi]
    pub fn begin(&self, mode: String) -> Result<NativeTx> {
        self.cell.begin(&mode)
    }

    /// Begin on the thread pool.
    #[napi]
    pub fn begin_async(&self, mode: String) -> AsyncTask<Job<NativeTx>> {
        let cell = self.cell.clone();
        job(move || cell.begin(&mode))
    }

    /// Whether `close` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.cell.db.read().is_none()
    }

    /// The folder of the database.
    #[napi(getter)]
    pub fn path(&self) -> Result<String> {
        let g = self.cell.db.read();
        let db = g.as_ref().ok_or_else(|| closed("database"))?;
        Ok(db.path().to_string_lossy().into_owned())
    }

    /// Roll back the transactions still live, then close the database and
    /// report what closing did not finish. Closing twice is a no-op.
    #[napi]
    pub fn close(&self) -> Result<()> {
        let Some(db) = self.cell.db.write().take() else {
            return Ok(());
        };
        let txs = std::mem::take(&mut *self.cell.txs.lock());
        for cell in txs.iter().filter_map(Weak::upgrade) {
            if let Some(t) = cell.end() {
                (*t).rollback();
            }
        }
        db.close().or_throw()
    }

    /// Whether the transaction `id` (from `tx.id`) has a durable commit
    /// record, looking at the commits after `since_seq` (`tx.snapshotSeq`).
    #[napi]
    pub fn commit_outcome(&self, id: String, since_seq: f64) -> Result<bool> {
        let id = u128::from_str_radix(&id, 16)
            .map_err(|_| invalid(format!("{id:?} is not a transaction id")))?;
        let g = self.cell.db.read();
        let db = g.as_ref().ok_or_else(|| closed("database"))?;
        db.commit_outcome(id, since_seq as u64).or_throw()
    }
}
