//! `sop.open` and `sop.Database`: opening, transactions, the retry helper,
//! statistics, check and recovery.

use crate::convert::to_py;
use crate::errors::{SopErr, SopResult};
use crate::fork::Origin;
use crate::tx::PyTransaction;
use parking_lot::RwLock;
use pyo3::prelude::*;
use pyo3::types::PyType;
use serde_json::json;
use sop::{Coordination, Database, DbOptions, TxMode};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// An open database, shared by its Python object and the calls in flight.
pub(crate) struct DbInner {
    /// `close` takes it (after calls in flight).
    db: RwLock<Option<Database>>,
    origin: Origin,
    path: PathBuf,
}

impl DbInner {
    /// Run `f` with the open database (call without the GIL: it may wait for `close`).
    fn with<R>(&self, f: impl FnOnce(&Database) -> SopResult<R>) -> SopResult<R> {
        self.origin.check()?;
        let g = self.db.read();
        f(g.as_ref().ok_or(SopErr::Closed)?)
    }
}

impl Drop for DbInner {
    fn drop(&mut self) {
        if self.origin.forked() {
            // The parent's database: its destructor would release the parent's
            // locks and lease files. Leak it.
            std::mem::forget(self.db.get_mut().take());
        }
    }
}

/// The transaction mode named `mode`.
pub(crate) fn tx_mode(mode: &str) -> SopResult<TxMode> {
    match mode {
        "write" => Ok(TxMode::ForWriting),
        "read" => Ok(TxMode::ForReading),
        "nocheck" => Ok(TxMode::NoCheck),
        m => Err(SopErr::Invalid(format!(
            "unknown transaction mode {m:?}: \"write\", \"read\" or \"nocheck\""
        ))),
    }
}

/// Open (or create) the database in folder `path`.
///
/// `redis`: a Redis URL (`redis://host:port/`) makes a new database Clustered
/// (processes on many hosts coordinate through it); an existing database keeps
/// the coordination saved in its `sop.json`. `exclusive`: this handle alone uses
/// the folder (commits go through a journal). `cache_bytes`: the node cache's
/// size. `create`: make the database if the folder has none. `read_only`: no
/// writes through this handle.
#[pyfunction]
#[pyo3(signature = (path, redis=None, *, exclusive=false, cache_bytes=None, create=true, read_only=false))]
pub(crate) fn open(
    py: Python<'_>,
    path: PathBuf,
    redis: Option<String>,
    exclusive: bool,
    cache_bytes: Option<usize>,
    create: bool,
    read_only: bool,
) -> PyResult<PyDatabase> {
    let mut o = DbOptions {
        exclusive,
        create,
        read_only,
        ..DbOptions::default()
    };
    if let Some(n) = cache_bytes {
        o.node_cache_bytes = n;
    }
    if let Some(url) = redis {
        o.coordination = Some(Coordination::Redis { url });
    }
    let p = path.clone();
    let db = py.detach(move || Database::open(&p, o).map_err(SopErr::from))?;
    Ok(PyDatabase {
        inner: Arc::new(DbInner {
            db: RwLock::new(Some(db)),
            origin: Origin::here(),
            path,
        }),
    })
}

/// An open database. Use it as a context manager (closed on exit), or call
/// `close()`. Any thread may use it; give each thread its own transactions.
#[pyclass(frozen, module = "sop", name = "Database")]
pub struct PyDatabase {
    inner: Arc<DbInner>,
}

impl PyDatabase {
    fn begin(&self, py: Python<'_>, mode: &str) -> PyResult<PyTransaction> {
        let m = tx_mode(mode)?;
        let inner = self.inner.clone();
        let tx = py.detach(move || inner.with(|d| Ok(d.begin(m)?)))?;
        Ok(PyTransaction::new(tx, mode))
    }

    fn json_of<F>(&self, py: Python<'_>, f: F) -> PyResult<Py<PyAny>>
    where
        F: FnOnce(&Database) -> SopResult<serde_json::Value> + Send,
    {
        let inner = self.inner.clone();
        let v = py.detach(move || inner.with(f))?;
        Ok(to_py(py, &v)?.unbind())
    }
}

#[pymethods]
impl PyDatabase {
    /// Begin a transaction: `"write"` (reads and writes, validated at commit),
    /// `"read"` (reads; the commit fails if what was read changed) or `"nocheck"`
    /// (reads from a snapshot, no validation). As a context manager it commits on
    /// exit, or rolls back if the block raised.
    #[pyo3(signature = (mode="write"))]
    fn transaction(&self, py: Python<'_>, mode: &str) -> PyResult<PyTransaction> {
        self.begin(py, mode)
    }

    /// Call `fn(tx)` in a new transaction and commit; if the transaction
    /// conflicts with another (`ConflictError`, from `fn` or the commit), roll
    /// back and run it again, at most `retries` more times. Returns what `fn`
    /// returned; other exceptions roll back and propagate at once.
    #[pyo3(signature = (r#fn, mode="write", retries=10))]
    fn run_in_transaction(
        &self,
        py: Python<'_>,
        r#fn: Bound<'_, PyAny>,
        mode: &str,
        retries: u32,
    ) -> PyResult<Py<PyAny>> {
        let conflict = py.import("sop._errors")?.getattr("ConflictError")?;
        let mut attempt: u32 = 0;
        loop {
            let tx = Bound::new(py, self.begin(py, mode)?)?;
            let result = r#fn.call1((tx.clone(),));
            let failed = match result {
                // `fn` may have ended the transaction itself.
                Ok(v) if !tx.get().is_active() => return Ok(v.unbind()),
                Ok(v) => match tx.get().finish(py, true) {
                    Ok(()) => return Ok(v.unbind()),
                    Err(e) => e,
                },
                Err(e) => {
                    tx.get().finish_quietly(py);
                    e
                }
            };
            if !failed.is_instance(py, &conflict) || attempt >= retries {
                return Err(failed);
            }
            attempt += 1;
            // Back off a little, at random, so that rivals do not collide again.
            let cap_us = 200u64 << attempt.min(6);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| u64::from(d.subsec_nanos()))
                .unwrap_or(0);
            let wait = Duration::from_micros(nanos % cap_us);
            py.detach(move || std::thread::sleep(wait));
        }
    }

    /// Close the handle. Transactions still alive keep the database open until
    /// they end. Closing a closed handle does nothing.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.inner.origin.check()?;
        let inner = self.inner.clone();
        py.detach(move || {
            let d = inner.db.write().take();
            match d {
                Some(d) => d.close().or_else(|e| match e.kind() {
                    // Transactions are still alive: the database closes after them.
                    sop::ErrorKind::InUse => Ok(()),
                    _ => Err(SopErr::Engine(e)),
                }),
                None => Ok(()),
            }
        })?;
        Ok(())
    }

    /// Whether `close()` was called.
    #[getter]
    fn closed(&self) -> bool {
        self.inner.db.read().is_none()
    }

    /// The database folder.
    #[getter]
    fn path(&self) -> String {
        self.inner.path.to_string_lossy().into_owned()
    }

    /// After `CommitOutcomeUnknown`: whether the transaction `txn_id` committed,
    /// looking at commits after `since_seq` (both from the exception).
    fn commit_outcome(&self, py: Python<'_>, txn_id: u128, since_seq: u64) -> PyResult<bool> {
        let inner = self.inner.clone();
        Ok(py.detach(move || inner.with(|d| Ok(d.commit_outcome(txn_id, since_seq)?)))?)
    }

    /// Statistics: `{"head": seq, "stores": [{"info": {...}, "items", "nodes", ...}]}`.
    fn stats(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.json_of(py, |d| {
            let s = d.stats()?;
            serde_json::to_value(&s).map_err(|e| SopErr::Invalid(e.to_string()))
        })
    }

    /// Check the database's integrity: `{"ok": bool, "head", "records",
    /// "stores": [...], "problems": [text], "garbage": [text]}`.
    fn check(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.json_of(py, |d| {
            let r = d.check()?;
            let stores: Vec<_> = r
                .stores
                .iter()
                .map(|s| json!({"name": s.name, "items": s.items, "nodes": s.nodes, "depth": s.depth}))
                .collect();
            Ok(json!({"ok": r.is_ok(), "head": r.head, "records": r.records, "stores": stores,
                      "problems": r.problems, "garbage": r.garbage}))
        })
    }

    /// Recover what dead processes left: `{"dead_processes", "removed_temp_files",
    /// "removed_blobs"}`.
    fn recover(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.json_of(py, |d| {
            let r = d.recover()?;
            Ok(json!({"dead_processes": r.dead_processes,
                      "removed_temp_files": r.removed_temp_files,
                      "removed_blobs": r.removed_blobs}))
        })
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().inner.origin.check()?;
        Ok(slf)
    }

    #[pyo3(signature = (_exc_type=None, _exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<Bound<'_, PyType>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let state = if self.closed() { "closed" } else { "open" };
        format!("<sop.Database {:?} ({state})>", self.inner.path)
    }
}
