//! `sop.Store`: a JSON or byte store opened in a transaction, used like a dict
//! whose keys are kept in order.

use crate::convert::{to_bytes, to_json, to_py};
use crate::errors::{SopErr, SopResult};
use crate::range::{decode_item, Part, PyRange};
use crate::tx::{StoreKind, TxInner};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PySlice, PyTuple};
use serde_json::Value;
use std::borrow::Cow;
use std::ops::Bound as B;
use std::sync::Arc;

/// What a store object keeps of its store.
pub(crate) struct StoreMeta {
    pub name: String,
    pub json: bool,
    pub unique: bool,
    pub key_spec: Option<String>,
}

/// A key or value as the store takes it.
pub(crate) enum Arg<'a> {
    Json(Value),
    Bytes(Cow<'a, [u8]>),
}

/// How an item is written.
#[derive(Clone, Copy)]
enum Mode {
    Add,
    AddIfAbsent,
    Update,
    Upsert,
}

fn put(k: &StoreKind, mode: Mode, key: &Arg<'_>, value: &Arg<'_>) -> SopResult<bool> {
    Ok(match (k, key, value) {
        (StoreKind::Json(j), Arg::Json(key), Arg::Json(v)) => match mode {
            Mode::Add => j.add(key, v)?,
            Mode::AddIfAbsent => j.add_if_absent(key, v)?,
            Mode::Update => j.update(key, v)?,
            Mode::Upsert => j.upsert(key, v)?,
        },
        (StoreKind::Raw(r), Arg::Bytes(key), Arg::Bytes(v)) => match mode {
            Mode::Add => r.add(key, v)?,
            Mode::AddIfAbsent => r.add_if_absent(key, v)?,
            Mode::Update => r.update(key, v)?,
            Mode::Upsert => r.upsert(key, v)?,
        },
        _ => {
            return Err(SopErr::Type(
                "a key or value of the other kind of store".into(),
            ))
        }
    })
}

/// The B-tree key of `key` in store `k`.
fn key_bytes(k: &StoreKind, key: &Arg<'_>) -> SopResult<Vec<u8>> {
    match (k, key) {
        (StoreKind::Json(j), Arg::Json(v)) => Ok(j.key_bytes(v)?),
        (StoreKind::Raw(_), Arg::Bytes(b)) => Ok(b.to_vec()),
        _ => Err(SopErr::Type("a key of the other kind of store".into())),
    }
}

/// A store opened in a transaction: `store[key] = value`, `store[key]`,
/// `del store[key]`, `key in store`, `len(store)`, iteration in key order,
/// `range(...)`. A JSON store takes and gives Python objects; a byte store,
/// bytes. It is valid until its transaction ends.
#[pyclass(frozen, module = "sop", name = "Store")]
pub struct PyStore {
    tx: Arc<TxInner>,
    idx: usize,
    meta: StoreMeta,
}

impl PyStore {
    pub(crate) fn new(tx: Arc<TxInner>, idx: usize, meta: StoreMeta) -> PyStore {
        PyStore { tx, idx, meta }
    }

    /// Run `f` with the store, without the GIL.
    fn run<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&StoreKind) -> SopResult<R> + Send,
    ) -> PyResult<R> {
        let (tx, i) = (&self.tx, self.idx);
        Ok(py.detach(move || tx.with(|s| f(s.store(i)?)))?)
    }

    fn arg<'a>(&self, obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<Arg<'a>> {
        if self.meta.json {
            Ok(Arg::Json(to_json(obj)?))
        } else {
            Ok(Arg::Bytes(to_bytes(obj, what)?))
        }
    }

    fn write(
        &self,
        py: Python<'_>,
        mode: Mode,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let (k, v) = (self.arg(key, "key")?, self.arg(value, "value")?);
        self.run(py, |s| put(s, mode, &k, &v))
    }

    /// A `(key, value)` pair of `put_many`, item number `n`.
    fn pair(&self, item: &Bound<'_, PyAny>, n: u64) -> PyResult<(Arg<'static>, Arg<'static>)> {
        let (k, v) = item
            .extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()
            .map_err(|_| SopErr::Type(format!("item {n} is not a (key, value) pair")))?;
        let py = item.py();
        let at = |e: PyErr| -> PyErr {
            let msg = format!("item {n}: {}", e.value(py));
            if e.is_instance_of::<PyTypeError>(py) {
                SopErr::Type(msg).into()
            } else {
                SopErr::Invalid(msg).into()
            }
        };
        Ok((
            self.arg(&k, "key").map_err(at)?.into_owned(),
            self.arg(&v, "value").map_err(at)?.into_owned(),
        ))
    }

    /// `store[key] = value`: replace in a unique store, add in one with duplicates.
    fn set_mode(&self) -> Mode {
        if self.meta.unique {
            Mode::Upsert
        } else {
            Mode::Add
        }
    }

    /// The value of `key`, or None.
    fn lookup<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.arg(key, "key")? {
            Arg::Json(k) => {
                let v = self.run(py, |s| match s {
                    StoreKind::Json(j) => Ok(j.get(&k)?),
                    StoreKind::Raw(_) => Err(SopErr::Type("a JSON key for a byte store".into())),
                })?;
                v.map(|v| to_py(py, &v)).transpose()
            }
            Arg::Bytes(k) => {
                let v = self.run(py, |s| match s {
                    StoreKind::Raw(r) => Ok(r.get(&k)?),
                    StoreKind::Json(_) => Err(SopErr::Type("a byte key for a JSON store".into())),
                })?;
                Ok(v.map(|b| PyBytes::new(py, &b).into_any()))
            }
        }
    }

    fn new_range(
        &self,
        py: Python<'_>,
        start: Option<&Bound<'_, PyAny>>,
        stop: Option<&Bound<'_, PyAny>>,
        reverse: bool,
        stop_inclusive: bool,
        part: Part,
    ) -> PyResult<PyRange> {
        let lo = start.map(|s| self.arg(s, "start")).transpose()?;
        let hi = stop.map(|s| self.arg(s, "stop")).transpose()?;
        PyRange::open(
            py,
            self.tx.clone(),
            self.idx,
            self.meta.json,
            part,
            move |k| {
                let lo = match &lo {
                    Some(a) => B::Included(key_bytes(k, a)?),
                    None => B::Unbounded,
                };
                let hi = match &hi {
                    Some(a) if stop_inclusive => B::Included(key_bytes(k, a)?),
                    Some(a) => B::Excluded(key_bytes(k, a)?),
                    None => B::Unbounded,
                };
                let raw = match k {
                    StoreKind::Json(j) => j.raw(),
                    StoreKind::Raw(r) => *r,
                };
                Ok(raw.range(lo, hi, reverse)?)
            },
        )
    }

    /// The first item (last if `desc`), or None.
    fn end_item<'py>(&self, py: Python<'py>, desc: bool) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let json = self.meta.json;
        let item = self.run(py, |k| {
            let raw = match k {
                StoreKind::Json(j) => j.raw(),
                StoreKind::Raw(r) => *r,
            };
            let mut r = raw.range(B::Unbounded, B::Unbounded, desc)?;
            r.next().transpose().map_err(SopErr::from)
        })?;
        let Some((k, v)) = item else { return Ok(None) };
        let (k, v) = if json {
            let (jk, jv) = decode_item(&v, Part::Items)?;
            (to_py(py, &jk)?, to_py(py, &jv)?)
        } else {
            (
                PyBytes::new(py, &k).into_any(),
                PyBytes::new(py, &v).into_any(),
            )
        };
        Ok(Some(PyTuple::new(py, [k, v])?))
    }
}

#[pymethods]
impl PyStore {
    /// `Store[...]` in annotations evaluated at run time (a `types.GenericAlias`).
    #[classmethod]
    fn __class_getitem__(
        cls: &Bound<'_, pyo3::types::PyType>,
        item: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let alias = cls.py().import("types")?.getattr("GenericAlias")?;
        Ok(alias.call1((cls, item))?.unbind())
    }

    /// The store's name.
    #[getter]
    fn name(&self) -> &str {
        &self.meta.name
    }

    /// `"json"` or `"bytes"`.
    #[getter]
    fn kind(&self) -> &'static str {
        if self.meta.json {
            "json"
        } else {
            "bytes"
        }
    }

    /// Whether an item's key is unique in the store.
    #[getter]
    fn unique(&self) -> bool {
        self.meta.unique
    }

    /// The key spec of a JSON store with object keys (short form), or None.
    #[getter]
    fn key_spec(&self) -> Option<&str> {
        self.meta.key_spec.as_deref()
    }

    fn __len__(&self, py: Python<'_>) -> PyResult<usize> {
        let n = self.run(py, |k| {
            Ok(match k {
                StoreKind::Json(j) => j.count()?,
                StoreKind::Raw(r) => r.count()?,
            })
        })?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    fn __contains__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let k = self.arg(key, "key")?;
        self.run(py, |s| match (s, &k) {
            (StoreKind::Json(j), Arg::Json(k)) => Ok(j.contains(k)?),
            (StoreKind::Raw(r), Arg::Bytes(k)) => Ok(r.contains(k)?),
            _ => Err(SopErr::Type("a key of the other kind of store".into())),
        })
    }

    /// `store[key]`: the value (KeyError if none). `store[start:stop]` is
    /// `store.range(start, stop)`.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if let Ok(s) = key.cast::<PySlice>() {
            if !s.getattr("step")?.is_none() {
                return Err(PyValueError::new_err(
                    "a store slice takes no step: use range(reverse=True)",
                ));
            }
            let (a, b) = (s.getattr("start")?, s.getattr("stop")?);
            let r = self.new_range(
                py,
                (!a.is_none()).then_some(&a),
                (!b.is_none()).then_some(&b),
                false,
                false,
                Part::Items,
            )?;
            return Ok(Bound::new(py, r)?.into_any());
        }
        match self.lookup(py, key)? {
            Some(v) => Ok(v),
            None => Err(PyKeyError::new_err(key.clone().unbind())),
        }
    }

    /// `store[key] = value`: in a unique store, insert or replace; in a store
    /// that allows duplicates, add another item.
    fn __setitem__(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.write(py, self.set_mode(), key, value)?;
        Ok(())
    }

    /// `del store[key]`: remove the (first) item with `key` (KeyError if none).
    fn __delitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.remove(py, key)? {
            Ok(())
        } else {
            Err(PyKeyError::new_err(key.clone().unbind()))
        }
    }

    /// The keys, in order.
    fn __iter__(&self, py: Python<'_>) -> PyResult<PyRange> {
        self.new_range(py, None, None, false, false, Part::Keys)
    }

    /// The value of `key`, or `default`.
    #[pyo3(signature = (key, default=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
        default: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        Ok(match self.lookup(py, key)? {
            Some(v) => v,
            None => default.unwrap_or_else(|| py.None().into_bound(py)),
        })
    }

    /// Insert; in a unique store an existing key is left alone (returns False).
    fn add(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.write(py, Mode::Add, key, value)
    }

    /// Insert only if no item has the key (also in stores with duplicates).
    fn add_if_absent(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.write(py, Mode::AddIfAbsent, key, value)
    }

    /// Replace the value of the (first) item with the key; False if there is none.
    fn update(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.write(py, Mode::Update, key, value)
    }

    /// Insert or replace; True if it inserted.
    fn upsert(
        &self,
        py: Python<'_>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        self.write(py, Mode::Upsert, key, value)
    }

    /// Remove the (first) item with the key; False if there is none.
    fn remove(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        let k = self.arg(key, "key")?;
        self.run(py, |s| match (s, &k) {
            (StoreKind::Json(j), Arg::Json(k)) => Ok(j.remove(k)?),
            (StoreKind::Raw(r), Arg::Bytes(k)) => Ok(r.remove(k)?),
            _ => Err(SopErr::Type("a key of the other kind of store".into())),
        })
    }

    /// Put many `(key, value)` pairs from a list or any iterable, as
    /// `store[key] = value` does; returns how many were put. On an error the
    /// pairs before the failing one stay put (roll back to undo them).
    fn put_many(&self, py: Python<'_>, items: &Bound<'_, PyAny>) -> PyResult<u64> {
        const CHUNK: usize = 4096;
        let mode = self.set_mode();
        let mut total: u64 = 0;
        let mut it = items.try_iter()?;
        loop {
            // Convert a chunk under the GIL, then write it without.
            let mut held = Vec::with_capacity(CHUNK);
            for item in it.by_ref().take(CHUNK) {
                held.push(item?);
            }
            if held.is_empty() {
                return Ok(total);
            }
            // A pair that does not convert stops the batch after the pairs before it.
            let mut chunk = Vec::with_capacity(held.len());
            let mut failed = None;
            for item in &held {
                match self.pair(item, total + chunk.len() as u64) {
                    Ok(p) => chunk.push(p),
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            let base = total;
            self.run(py, |s| {
                for (n, (k, v)) in chunk.iter().enumerate() {
                    put(s, mode, k, v).map_err(|e| at_item(e, base + n as u64))?;
                }
                Ok(())
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            total += chunk.len() as u64;
        }
    }

    /// The items `(key, value)` with `start <= key < stop` (`stop_inclusive`:
    /// `<= stop`), either bound optional, ascending or (`reverse`) descending.
    #[pyo3(signature = (start=None, stop=None, *, reverse=false, stop_inclusive=false))]
    fn range(
        &self,
        py: Python<'_>,
        start: Option<Bound<'_, PyAny>>,
        stop: Option<Bound<'_, PyAny>>,
        reverse: bool,
        stop_inclusive: bool,
    ) -> PyResult<PyRange> {
        self.new_range(
            py,
            start.as_ref(),
            stop.as_ref(),
            reverse,
            stop_inclusive,
            Part::Items,
        )
    }

    /// The items `(key, value)`, in key order.
    fn items(&self, py: Python<'_>) -> PyResult<PyRange> {
        self.new_range(py, None, None, false, false, Part::Items)
    }

    /// The keys, in order.
    fn keys(&self, py: Python<'_>) -> PyResult<PyRange> {
        self.new_range(py, None, None, false, false, Part::Keys)
    }

    /// The values, in key order.
    fn values(&self, py: Python<'_>) -> PyResult<PyRange> {
        self.new_range(py, None, None, false, false, Part::Values)
    }

    /// The item with the lowest key, `(key, value)`, or None if the store is empty.
    fn first<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.end_item(py, false)
    }

    /// The item with the highest key, `(key, value)`, or None if the store is empty.
    fn last<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.end_item(py, true)
    }

    fn __repr__(&self) -> String {
        format!("<sop.Store {:?} ({})>", self.meta.name, self.kind())
    }
}

impl Arg<'_> {
    fn into_owned(self) -> Arg<'static> {
        match self {
            Arg::Json(v) => Arg::Json(v),
            Arg::Bytes(b) => Arg::Bytes(Cow::Owned(b.into_owned())),
        }
    }
}

/// Name the failing item of a batch in its error.
fn at_item(e: SopErr, n: u64) -> SopErr {
    match e {
        SopErr::Engine(e) => match e.kind() {
            sop::ErrorKind::InvalidInput => SopErr::Invalid(format!("item {n}: {e}")),
            _ => SopErr::Engine(e),
        },
        SopErr::Invalid(m) => SopErr::Invalid(format!("item {n}: {m}")),
        other => other,
    }
}
