//! Python objects to JSON documents and back: None, bool, int, float, str, list
//! (and tuple, read as a list) and dict with str keys. Integers of any size
//! survive the trip (serde_json keeps each number's literal text); floats must
//! be finite (JSON has no NaN or infinity).

use crate::errors::{SopErr, SopResult};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple,
};
use serde_json::{Map, Number, Value};
use std::borrow::Cow;

/// Deeper documents are refused (also stops a list that contains itself).
const MAX_DEPTH: usize = 256;

/// A Python object as a JSON document.
pub(crate) fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_json_at(obj, 0).map_err(PyErr::from)
}

fn to_json_at(obj: &Bound<'_, PyAny>, depth: usize) -> SopResult<Value> {
    if depth > MAX_DEPTH {
        return Err(SopErr::Invalid(format!(
            "the document is nested deeper than {MAX_DEPTH} levels (or contains itself)"
        )));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast_exact::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(text(s)?.into_owned()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::Number(i.into()));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::Number(u.into()));
        }
        // A big integer: its decimal text is the number's literal.
        let lit = obj.str().map_err(type_err)?;
        let n: Number = serde_json::from_str(&text(&lit)?)
            .map_err(|e| SopErr::Invalid(format!("integer {lit}: {e}")))?;
        return Ok(Value::Number(n));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let x = f.value();
        return Number::from_f64(x).map(Value::Number).ok_or_else(|| {
            SopErr::Invalid(format!(
                "{x} is not a JSON number (JSON has no NaN or infinity)"
            ))
        });
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let Ok(ks) = k.cast::<PyString>() else {
                return Err(SopErr::Type(format!(
                    "JSON object keys are str, not {}",
                    type_name(&k)
                )));
            };
            m.insert(text(ks)?.into_owned(), to_json_at(&v, depth + 1)?);
        }
        return Ok(Value::Object(m));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        let mut a = Vec::with_capacity(l.len());
        for v in l.iter() {
            a.push(to_json_at(&v, depth + 1)?);
        }
        return Ok(Value::Array(a));
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        let mut a = Vec::with_capacity(t.len());
        for v in t.iter() {
            a.push(to_json_at(&v, depth + 1)?);
        }
        return Ok(Value::Array(a));
    }
    Err(SopErr::Type(format!(
        "an object of type {} is not JSON (None, bool, int, float, str, list, tuple or dict)",
        type_name(obj)
    )))
}

fn text<'a>(s: &'a Bound<'_, PyString>) -> SopResult<Cow<'a, str>> {
    s.to_cow()
        .map_err(|e| SopErr::Invalid(format!("a str that is not valid UTF-8: {e}")))
}

fn type_err(e: PyErr) -> SopErr {
    SopErr::Type(e.to_string())
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A JSON document as a Python object.
pub(crate) fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => number(py, n)?,
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let l = PyList::empty(py);
            for x in a {
                l.append(to_py(py, x)?)?;
            }
            l.into_any()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, x) in m {
                d.set_item(k, to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

fn number<'py>(py: Python<'py>, n: &Number) -> PyResult<Bound<'py, PyAny>> {
    if let Some(i) = n.as_i64() {
        return Ok(i.into_pyobject(py)?.into_any());
    }
    if let Some(u) = n.as_u64() {
        return Ok(u.into_pyobject(py)?.into_any());
    }
    let lit = n.to_string();
    if lit.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        // An integer beyond 64 bits: Python's int reads its literal.
        return py.get_type::<PyInt>().call1((PyString::new(py, &lit),));
    }
    match n.as_f64() {
        Some(f) => Ok(PyFloat::new(py, f).into_any()),
        None => Err(SopErr::Invalid(format!("the number {lit} does not fit a float")).into()),
    }
}

/// Bytes given for a byte store's key or value: `bytes` (borrowed), or a
/// `bytearray` or `memoryview` (copied).
pub(crate) fn to_bytes<'a>(obj: &'a Bound<'_, PyAny>, what: &str) -> PyResult<Cow<'a, [u8]>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Cow::Borrowed(b.as_bytes()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Cow::Owned(b.to_vec()));
    }
    if obj.get_type().name().is_ok_and(|n| n == "memoryview") {
        let b = obj.call_method0("tobytes")?;
        if let Ok(b) = b.cast::<PyBytes>() {
            return Ok(Cow::Owned(b.as_bytes().to_vec()));
        }
    }
    Err(SopErr::Type(format!(
        "a byte store's {what} is bytes, bytearray or memoryview, not {}",
        type_name(obj)
    ))
    .into())
}
