//! `sop.Range`: an iterator over a key range of a store. It reads ahead in
//! batches (one lock and one GIL release per batch, not per item); a batch
//! grows from 16 items to 512 as the iteration goes on.

use crate::convert::to_py;
use crate::errors::{SopErr, SopResult};
use crate::tx::{Slot, StoreKind, TxInner};
use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use serde_json::Value;
use sop::RawRange;
use std::collections::VecDeque;
use std::sync::Arc;

const FIRST_BATCH: usize = 16;
const MAX_BATCH: usize = 512;

/// What an iteration yields of each item.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Items,
    Keys,
    Values,
}

/// A JSON store item frame (docs/FORMAT.md, "JSON stores"): the key document's
/// length as an unsigned LEB128 varint, the key's JSON text, the value's JSON
/// text. Parses the documents `part` needs (the other is null).
pub(crate) fn decode_item(b: &[u8], part: Part) -> SopResult<(Value, Value)> {
    let bad = |why: String| {
        SopErr::Engine(sop::Error::Codec(sop::CodecError::new(format!(
            "a JSON store item frame is malformed: {why}"
        ))))
    };
    let (mut len, mut shift, mut i) = (0u64, 0u32, 0usize);
    loop {
        let byte = *b.get(i).ok_or_else(|| bad("truncated length".into()))?;
        i += 1;
        if shift >= 64 {
            return Err(bad("length too long".into()));
        }
        len |= u64::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
    }
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| i.checked_add(l))
        .filter(|&e| e <= b.len())
        .ok_or_else(|| bad("key past the end".into()))?;
    let parse = |t: &[u8]| serde_json::from_slice::<Value>(t).map_err(|e| bad(e.to_string()));
    let k = if part == Part::Values {
        Value::Null
    } else {
        parse(&b[i..end])?
    };
    let v = if part == Part::Keys {
        Value::Null
    } else {
        parse(&b[end..])?
    };
    Ok((k, v))
}

/// Read up to `n` items of range `key` into `buf`; true if the range ended (it
/// is then dropped from the slot).
fn read_batch(s: &mut Slot, key: u64, buf: &mut Buffered, n: usize, part: Part) -> SopResult<bool> {
    let r = s.range(key)?;
    let mut ended = false;
    for _ in 0..n {
        let Some(item) = r.next() else {
            ended = true;
            break;
        };
        let (k, v) = item?;
        match buf {
            Buffered::Json(b) => b.push_back(decode_item(&v, part)?),
            Buffered::Raw(b) => b.push_back((k, v)),
        }
    }
    if ended {
        s.drop_range(key);
    }
    Ok(ended)
}

enum Buffered {
    Json(VecDeque<(Value, Value)>),
    Raw(VecDeque<(Bytes, Bytes)>),
}

/// An iterator over a range of a store: `(key, value)` pairs, keys or values.
/// Valid until its transaction ends (then `TransactionEndedError`).
#[pyclass(module = "sop", name = "Range")]
pub struct PyRange {
    tx: Arc<TxInner>,
    key: u64,
    part: Part,
    buf: Buffered,
    batch: usize,
    done: bool,
}

impl PyRange {
    /// Open a range made by `make` on store `i` and read its first batch, in one
    /// call without the GIL.
    pub(crate) fn open(
        py: Python<'_>,
        tx: Arc<TxInner>,
        i: usize,
        json: bool,
        part: Part,
        make: impl FnOnce(&StoreKind) -> SopResult<RawRange<'static>> + Send,
    ) -> PyResult<PyRange> {
        let mut buf = if json {
            Buffered::Json(VecDeque::new())
        } else {
            Buffered::Raw(VecDeque::new())
        };
        let b = &mut buf;
        let (key, done) = py.detach(|| {
            tx.with(|s| {
                let key = s.add_range(i, make)?;
                let done = read_batch(s, key, b, FIRST_BATCH, part)?;
                Ok((key, done))
            })
        })?;
        Ok(PyRange {
            tx,
            key,
            part,
            buf,
            batch: FIRST_BATCH * 2,
            done,
        })
    }

    /// Read the next batch into the buffer (without the GIL).
    fn fill(&mut self, py: Python<'_>) -> PyResult<()> {
        let (tx, key, n, part) = (&self.tx, self.key, self.batch, self.part);
        self.batch = (self.batch * 2).min(MAX_BATCH);
        let buf = &mut self.buf;
        let ended = py.detach(|| tx.with(|s| read_batch(s, key, buf, n, part)))?;
        self.done = ended;
        Ok(())
    }

    fn pop<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let pair = |k: Bound<'py, PyAny>, v: Bound<'py, PyAny>| -> PyResult<Bound<'py, PyAny>> {
            Ok(PyTuple::new(py, [k, v])?.into_any())
        };
        Ok(match &mut self.buf {
            Buffered::Json(b) => match b.pop_front() {
                None => None,
                Some((k, v)) => Some(match self.part {
                    Part::Items => pair(to_py(py, &k)?, to_py(py, &v)?)?,
                    Part::Keys => to_py(py, &k)?,
                    Part::Values => to_py(py, &v)?,
                }),
            },
            Buffered::Raw(b) => match b.pop_front() {
                None => None,
                Some((k, v)) => Some(match self.part {
                    Part::Items => pair(
                        PyBytes::new(py, &k).into_any(),
                        PyBytes::new(py, &v).into_any(),
                    )?,
                    Part::Keys => PyBytes::new(py, &k).into_any(),
                    Part::Values => PyBytes::new(py, &v).into_any(),
                }),
            },
        })
    }
}

#[pymethods]
impl PyRange {
    /// `Range[...]` in annotations evaluated at run time (a `types.GenericAlias`).
    #[classmethod]
    fn __class_getitem__(
        cls: &Bound<'_, pyo3::types::PyType>,
        item: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        let alias = cls.py().import("types")?.getattr("GenericAlias")?;
        Ok(alias.call1((cls, item))?.unbind())
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&mut self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        // Also for items already read ahead.
        self.tx.check()?;
        if let Some(x) = self.pop(py)? {
            return Ok(Some(x));
        }
        if self.done {
            return Ok(None);
        }
        self.fill(py)?;
        self.pop(py)
    }
}

impl Drop for PyRange {
    fn drop(&mut self) {
        if !self.done && !self.tx.forked() {
            self.tx.slot.lock().drop_range(self.key);
        }
    }
}
