//! `sop.Transaction`, and the slot that keeps an engine transaction together
//! with the stores and ranges that borrow it.

use crate::convert::to_json;
use crate::errors::{SopErr, SopResult};
use crate::fork::Origin;
use crate::store::{PyStore, StoreMeta};
use parking_lot::Mutex;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyType};
use sop::{IndexSpec, JsonStore, RawRange, RawStore, SortOrder, StoreOptions, Transaction};
use std::collections::HashMap;
use std::sync::Arc;

/// A store opened in a transaction.
pub(crate) enum StoreKind {
    Json(JsonStore<'static>),
    Raw(RawStore<'static>),
}

/// A transaction and the engine objects that borrow it. Their `'static`
/// lifetime stands for "while `tx` is `Some`".
///
/// Soundness: the `Transaction` is boxed, so its address does not change while
/// the slot holds it; what borrows it (`stores`, `ranges`) lives only in this
/// slot and is dropped before the box is taken out or dropped ([`Slot::end`],
/// and `Drop`); every use happens under the mutex of the [`TxInner`] that owns
/// the slot, so the transaction (`Send`, not `Sync`) is used by one thread at a
/// time, and the borrowers move between threads together with it.
#[derive(Default)]
pub(crate) struct Slot {
    stores: Vec<StoreKind>,
    names: HashMap<String, usize>,
    ranges: HashMap<u64, RawRange<'static>>,
    next_range: u64,
    tx: Option<Box<Transaction>>,
}

// SAFETY: see the type's documentation. The slot is only reached through its
// mutex, and what borrows the transaction never outlives it.
unsafe impl Send for Slot {}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.end());
    }
}

/// How to create a store.
pub(crate) enum Create {
    Json(StoreOptions, Option<IndexSpec>),
    Raw(StoreOptions),
}

impl Slot {
    fn new(tx: Transaction) -> Slot {
        let mut s = Slot::default();
        s.tx = Some(Box::new(tx));
        s
    }
    /// End the slot: drop what borrows the transaction, then hand it over.
    fn end(&mut self) -> Option<Box<Transaction>> {
        self.ranges.clear();
        self.stores.clear();
        self.names.clear();
        self.tx.take()
    }
    /// The live transaction.
    pub(crate) fn tx(&self) -> SopResult<&Transaction> {
        self.tx.as_deref().ok_or(SopErr::Ended)
    }
    /// The live transaction, for objects kept in this slot.
    fn tx_static(&self) -> SopResult<&'static Transaction> {
        let t: *const Transaction = self.tx()?;
        // SAFETY: the box does not move or drop while anything made from this
        // reference is alive: those objects live in this slot and `end` drops
        // them first (see the type's documentation).
        Ok(unsafe { &*t })
    }
    /// Store number `i` of this transaction.
    pub(crate) fn store(&self, i: usize) -> SopResult<&StoreKind> {
        self.tx()?;
        self.stores.get(i).ok_or(SopErr::Ended)
    }
    /// Open (or create) a store; its number and what the Python object keeps.
    fn open_store(&mut self, name: &str, create: Option<Create>) -> SopResult<(usize, StoreMeta)> {
        let t = self.tx_static()?;
        let i = match (create, self.names.get(name)) {
            (None, Some(&i)) => i,
            (create, _) => {
                let kind = match create {
                    Some(Create::Json(o, spec)) => {
                        StoreKind::Json(t.create_json_store(name, o, spec)?)
                    }
                    Some(Create::Raw(o)) => {
                        StoreKind::Raw(t.create_raw_store(name, "raw-bytes", o)?)
                    }
                    None => {
                        let r = t.open_raw_store(name)?;
                        if r.info()?.key_type == sop::JSON_KEY_TYPE {
                            StoreKind::Json(t.open_json_store(name)?)
                        } else {
                            StoreKind::Raw(r)
                        }
                    }
                };
                self.stores.push(kind);
                let i = self.stores.len() - 1;
                self.names.insert(name.to_string(), i);
                i
            }
        };
        let meta = match &self.stores[i] {
            StoreKind::Json(j) => StoreMeta {
                name: name.to_string(),
                json: true,
                unique: j.info().options.unique,
                key_spec: j.spec().map(spec_text),
            },
            StoreKind::Raw(r) => StoreMeta {
                name: name.to_string(),
                json: false,
                unique: r.info()?.options.unique,
                key_spec: None,
            },
        };
        Ok((i, meta))
    }
    /// Keep a range of store `i`, made by `f`; its number.
    pub(crate) fn add_range(
        &mut self,
        i: usize,
        f: impl FnOnce(&StoreKind) -> SopResult<RawRange<'static>>,
    ) -> SopResult<u64> {
        let r = f(self.store(i)?)?;
        self.next_range += 1;
        self.ranges.insert(self.next_range, r);
        Ok(self.next_range)
    }
    /// Range number `k`.
    pub(crate) fn range(&mut self, k: u64) -> SopResult<&mut RawRange<'static>> {
        self.tx()?;
        self.ranges.get_mut(&k).ok_or(SopErr::Ended)
    }
    /// Forget range number `k`.
    pub(crate) fn drop_range(&mut self, k: u64) {
        self.ranges.remove(&k);
    }
}

/// A key spec in its short form.
fn spec_text(s: &IndexSpec) -> String {
    s.fields
        .iter()
        .map(|f| match f.order {
            SortOrder::Desc => format!("{}:desc", f.field),
            _ => f.field.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A key spec: the short form `"last,age:desc"`, its JSON text, or the JSON
/// form as Python objects (`[{"field": "last", "order": "asc"}, ...]`).
fn parse_spec(spec: &Bound<'_, PyAny>) -> PyResult<IndexSpec> {
    let text = match spec.cast::<PyString>() {
        Ok(s) => s.to_cow()?.into_owned(),
        Err(_) => to_json(spec)?.to_string(),
    };
    let t = text.trim();
    if t.starts_with(['[', '{', '"']) {
        return Ok(IndexSpec::parse(t).map_err(|e| SopErr::Engine(e.into()))?);
    }
    IndexSpec::parse_short(&text).map_err(|e| SopErr::Invalid(e.0).into())
}

/// A transaction shared by its Python object, its stores and its ranges.
pub(crate) struct TxInner {
    pub(crate) slot: Mutex<Slot>,
    origin: Origin,
    id: u128,
    since_seq: u64,
}

impl TxInner {
    /// Run `f` with the slot, holding its lock. Call without the GIL.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Slot) -> SopResult<R>) -> SopResult<R> {
        self.origin.check()?;
        let mut g = self.slot.lock();
        f(&mut g)
    }
    /// `sop.ForkedError` in a child that inherited this transaction.
    pub(crate) fn check(&self) -> SopResult<()> {
        self.origin.check()
    }
    /// Whether the process is a child that inherited this transaction.
    pub(crate) fn forked(&self) -> bool {
        self.origin.forked()
    }
}

impl Drop for TxInner {
    fn drop(&mut self) {
        let s = std::mem::take(self.slot.get_mut());
        if self.origin.forked() {
            // The parent's transaction: leak it (see crate::fork).
            std::mem::forget(s);
        }
    }
}

/// A transaction. As a context manager it commits on exit, or rolls back if the
/// block raised. Its stores are valid until it ends. It may be shared between
/// threads: calls on one transaction take turns.
#[pyclass(frozen, module = "sop", name = "Transaction")]
pub struct PyTransaction {
    pub(crate) inner: Arc<TxInner>,
    mode: &'static str,
}

impl PyTransaction {
    pub(crate) fn new(tx: Transaction, mode: &str) -> PyTransaction {
        let mode = match mode {
            "write" => "write",
            "read" => "read",
            _ => "nocheck",
        };
        PyTransaction {
            inner: Arc::new(TxInner {
                id: tx.id(),
                since_seq: tx.snapshot_seq(),
                slot: Mutex::new(Slot::new(tx)),
                origin: Origin::here(),
            }),
            mode,
        }
    }

    /// Commit (`commit` true) or roll back.
    pub(crate) fn finish(&self, py: Python<'_>, commit: bool) -> PyResult<()> {
        let inner = self.inner.clone();
        py.detach(move || {
            let t = inner.with(|s| s.end().ok_or(SopErr::Ended))?;
            if !commit {
                (*t).rollback();
                return Ok(());
            }
            (*t).commit().map_err(|e| match e.kind() {
                sop::ErrorKind::OutcomeUnknown => SopErr::OutcomeUnknown {
                    msg: e.to_string(),
                    txn_id: inner.id,
                    since_seq: inner.since_seq,
                },
                _ => SopErr::Engine(e),
            })
        })?;
        Ok(())
    }

    /// Whether the transaction has not ended (false in a fork()ed child).
    pub(crate) fn is_active(&self) -> bool {
        !self.inner.forked() && self.inner.slot.lock().tx.is_some()
    }

    /// Roll back if still active; nothing else.
    pub(crate) fn finish_quietly(&self, py: Python<'_>) {
        let _ = self.finish(py, false);
    }

    fn store_object(
        &self,
        py: Python<'_>,
        name: &str,
        create: Option<Create>,
    ) -> PyResult<PyStore> {
        let inner = self.inner.clone();
        let n = name.to_string();
        let (i, meta) = py.detach(move || inner.with(|s| s.open_store(&n, create)))?;
        Ok(PyStore::new(self.inner.clone(), i, meta))
    }
}

#[pymethods]
impl PyTransaction {
    /// Create a store. `kind="json"` (the default): keys and values are JSON
    /// documents (None, bool, int, float, str, list, dict); without `key_spec`
    /// keys are primitives, with one (`"last,age:desc"`) they are dicts ordered
    /// by those fields. `kind="bytes"`: keys and values are bytes, keys ordered
    /// as bytes. `unique=False` allows several items with one key.
    #[pyo3(signature = (name, key_spec=None, *, unique=true, kind="json", slot_length=None, description=None))]
    #[allow(clippy::too_many_arguments)]
    fn create_store(
        &self,
        py: Python<'_>,
        name: &str,
        key_spec: Option<Bound<'_, PyAny>>,
        unique: bool,
        kind: &str,
        slot_length: Option<usize>,
        description: Option<String>,
    ) -> PyResult<PyStore> {
        let mut o = StoreOptions {
            unique,
            ..StoreOptions::default()
        };
        if let Some(n) = slot_length {
            o.slot_length = n;
        }
        if let Some(d) = description {
            o.description = d;
        }
        let create = match kind {
            "json" => Create::Json(o, key_spec.map(|s| parse_spec(&s)).transpose()?),
            "bytes" if key_spec.is_some() => {
                return Err(SopErr::Invalid("a byte store has no key spec".into()).into())
            }
            "bytes" => Create::Raw(o),
            k => {
                return Err(SopErr::Invalid(format!(
                    "unknown store kind {k:?}: \"json\" or \"bytes\""
                ))
                .into())
            }
        };
        self.store_object(py, name, Some(create))
    }

    /// Open the existing store `name` (`NotFoundError` if there is none). A JSON
    /// store takes and gives Python objects; any other store, bytes.
    fn store(&self, py: Python<'_>, name: &str) -> PyResult<PyStore> {
        self.store_object(py, name, None)
    }

    /// Drop the store `name` and everything in it.
    fn drop_store(&self, py: Python<'_>, name: &str) -> PyResult<()> {
        let inner = self.inner.clone();
        let n = name.to_string();
        py.detach(move || {
            inner.with(|s| {
                s.tx()?.drop_store(&n)?;
                s.names.remove(&n);
                Ok(())
            })
        })?;
        Ok(())
    }

    /// The names of the stores this transaction sees, sorted.
    fn store_names(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let inner = self.inner.clone();
        Ok(py.detach(move || inner.with(|s| Ok(s.tx()?.list_stores()?)))?)
    }

    /// Commit: durable when it returns. `ConflictError`: run the transaction
    /// again; `CommitOutcomeUnknown`: ask `Database.commit_outcome`.
    fn commit(&self, py: Python<'_>) -> PyResult<()> {
        self.finish(py, true)
    }

    /// Discard the transaction's changes.
    fn rollback(&self, py: Python<'_>) -> PyResult<()> {
        self.finish(py, false)
    }

    /// Whether the transaction has not been committed or rolled back yet.
    #[getter]
    fn active(&self) -> bool {
        self.is_active()
    }

    /// `"write"`, `"read"` or `"nocheck"`.
    #[getter]
    fn mode(&self) -> &'static str {
        self.mode
    }

    /// The transaction's id (what `Database.commit_outcome` takes).
    #[getter]
    fn id(&self) -> u128 {
        self.inner.id
    }

    /// The sequence of the commit its snapshot shows.
    #[getter]
    fn snapshot_seq(&self) -> u64 {
        self.inner.since_seq
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().inner.origin.check()?;
        Ok(slf)
    }

    #[pyo3(signature = (exc_type=None, _exc=None, _tb=None))]
    fn __exit__(
        &self,
        py: Python<'_>,
        exc_type: Option<Bound<'_, PyType>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        if !self.is_active() {
            // Ended inside the block (an explicit commit or rollback).
            self.inner.origin.check()?;
            return Ok(false);
        }
        self.finish(py, exc_type.is_none())?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let state = if self.is_active() { "active" } else { "ended" };
        format!("<sop.Transaction {} ({state})>", self.mode)
    }
}
