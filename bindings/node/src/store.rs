//! Stores: JSON stores (keys and values as JSON text; the `j*` methods) and
//! byte stores (keys and values as bytes; the `b*` methods), each call in a
//! blocking and a Promise-returning form.

use crate::cursor::NativeRange;
use crate::error::{closed, fail, invalid, OrThrow, Result};
use crate::job::{job, Bytes, Job};
use crate::tx::{Garbage, RangeState, StoreKind, TxCell};
use napi::bindgen_prelude::{AsyncTask, BufferSlice};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use sop::{JsonStore, RawStore};
use std::ops::Bound;
use std::sync::Arc;

/// Put modes, as the package numbers them.
const PUT_UPSERT: u32 = 0;
const PUT_ADD: u32 = 1;
const PUT_ADD_IF_ABSENT: u32 = 2;
const PUT_UPDATE: u32 = 3;

/// A store opened in a transaction (the package's `JsonStore` or `BytesStore`
/// wraps it).
#[napi]
pub struct NativeStore {
    cell: Arc<TxCell>,
    key: u32,
    json: bool,
}

impl Drop for NativeStore {
    fn drop(&mut self) {
        self.cell.discard(Garbage::Store(self.key));
    }
}

/// Run `f` with the store `key` of the transaction in `cell`, under its lock.
fn with<R>(cell: &TxCell, key: u32, f: impl FnOnce(&StoreKind) -> Result<R>) -> Result<R> {
    let g = cell.lock();
    g.tx()?;
    f(g.stores.get(&key).ok_or_else(|| closed("store"))?)
}

fn json(k: &StoreKind) -> Result<&JsonStore<'static>> {
    match k {
        StoreKind::Json(j) => Ok(j),
        StoreKind::Raw(_) => Err(invalid("a JSON operation on a byte store")),
    }
}

fn raw(k: &StoreKind) -> Result<RawStore<'static>> {
    match k {
        StoreKind::Raw(r) => Ok(*r),
        StoreKind::Json(_) => Err(invalid("a byte operation on a JSON store")),
    }
}

fn parse(text: &str) -> Result<Value> {
    sop::parse_json(text).or_throw()
}

/// A JSON store item frame (docs/FORMAT.md, "JSON stores"): the key document's
/// length as an unsigned LEB128 varint, the key's JSON text, the value's.
pub(crate) fn split_frame(b: &[u8]) -> Result<(&str, &str)> {
    let bad = || fail("CORRUPT", "a JSON store item frame is malformed");
    let (mut len, mut shift, mut i) = (0u64, 0u32, 0usize);
    loop {
        let byte = *b.get(i).ok_or_else(bad)?;
        i += 1;
        if shift >= 64 {
            return Err(bad());
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
        .ok_or_else(bad)?;
    let k = std::str::from_utf8(&b[i..end]).map_err(|_| bad())?;
    let v = std::str::from_utf8(&b[end..]).map_err(|_| bad())?;
    Ok((k, v))
}

fn jget(k: &StoreKind, key: &str) -> Result<Option<String>> {
    let j = json(k)?;
    let kb = j.key_bytes(&parse(key)?).or_throw()?;
    match j.raw().get(&kb).or_throw()? {
        Some(frame) => Ok(Some(split_frame(&frame)?.1.to_string())),
        None => Ok(None),
    }
}

fn jhas(k: &StoreKind, key: &str) -> Result<bool> {
    json(k)?.contains(&parse(key)?).or_throw()
}

fn jput_value(j: &JsonStore<'_>, k: &Value, v: &Value, mode: u32) -> Result<bool> {
    match mode {
        PUT_UPSERT => j.upsert(k, v),
        PUT_ADD => j.add(k, v),
        PUT_ADD_IF_ABSENT => j.add_if_absent(k, v),
        PUT_UPDATE => j.update(k, v),
        m => return Err(invalid(format!("unknown put mode {m}"))),
    }
    .or_throw()
}

fn jput(k: &StoreKind, key: &str, value: &str, mode: u32) -> Result<bool> {
    jput_value(json(k)?, &parse(key)?, &parse(value)?, mode)
}

fn jdelete(k: &StoreKind, key: &str) -> Result<bool> {
    json(k)?.remove(&parse(key)?).or_throw()
}

/// Put `[[key, value], ...]`; the number of puts that did what `mode` asks.
fn jput_many(k: &StoreKind, items: &str, mode: u32) -> Result<u32> {
    let j = json(k)?;
    let Value::Array(items) = parse(items)? else {
        return Err(invalid("putMany: not an array of [key, value] pairs"));
    };
    let mut done = 0;
    for item in &items {
        match item.as_array().map(Vec::as_slice) {
            Some([key, value]) => done += u32::from(jput_value(j, key, value, mode)?),
            _ => return Err(invalid("putMany: an item is not a [key, value] pair")),
        }
    }
    Ok(done)
}

fn jget_many(k: &StoreKind, keys: &str) -> Result<Vec<Option<String>>> {
    let j = json(k)?;
    let Value::Array(keys) = parse(keys)? else {
        return Err(invalid("getMany: not an array of keys"));
    };
    keys.iter()
        .map(|key| {
            let kb = j.key_bytes(key).or_throw()?;
            match j.raw().get(&kb).or_throw()? {
                Some(frame) => Ok(Some(split_frame(&frame)?.1.to_string())),
                None => Ok(None),
            }
        })
        .collect()
}

fn raw_put(r: RawStore<'_>, k: &[u8], v: &[u8], mode: u32) -> Result<bool> {
    match mode {
        PUT_UPSERT => r.upsert(k, v),
        PUT_ADD => r.add(k, v),
        PUT_ADD_IF_ABSENT => r.add_if_absent(k, v),
        PUT_UPDATE => r.update(k, v),
        m => return Err(invalid(format!("unknown put mode {m}"))),
    }
    .or_throw()
}

/// Items packed as one buffer of keys and one of values, with their lengths.
struct Packed {
    keys: Vec<u8>,
    key_lens: Vec<u32>,
    values: Vec<u8>,
    value_lens: Vec<u32>,
}

impl Packed {
    fn items(&self) -> Result<Vec<(&[u8], &[u8])>> {
        if self.key_lens.len() != self.value_lens.len() {
            return Err(invalid("putMany: as many keys as values are needed"));
        }
        let split = |buf: &'_ [u8], lens: &[u32]| -> Result<Vec<std::ops::Range<usize>>> {
            let mut at = 0usize;
            let mut out = Vec::with_capacity(lens.len());
            for &l in lens {
                let end = at + l as usize;
                if end > buf.len() {
                    return Err(invalid("putMany: lengths beyond the buffer"));
                }
                out.push(at..end);
                at = end;
            }
            Ok(out)
        };
        let ks = split(&self.keys, &self.key_lens)?;
        let vs = split(&self.values, &self.value_lens)?;
        Ok(ks
            .into_iter()
            .zip(vs)
            .map(|(k, v)| (&self.keys[k], &self.values[v]))
            .collect())
    }
}

fn bput_many(k: &StoreKind, p: &Packed, mode: u32) -> Result<u32> {
    let r = raw(k)?;
    let mut done = 0;
    for (key, value) in p.items()? {
        done += u32::from(raw_put(r, key, value, mode)?);
    }
    Ok(done)
}

fn bget(k: &StoreKind, key: &[u8]) -> Result<Option<Bytes>> {
    Ok(raw(k)?.get(key).or_throw()?.map(|b| Bytes(b.to_vec())))
}

fn count(k: &StoreKind) -> Result<f64> {
    Ok(k.raw().count().or_throw()? as f64)
}

fn bound(b: Option<Vec<u8>>, excl: bool) -> Bound<Vec<u8>> {
    match b {
        None => Bound::Unbounded,
        Some(b) if excl => Bound::Excluded(b),
        Some(b) => Bound::Included(b),
    }
}

#[napi]
impl NativeStore {
    pub(crate) fn new(cell: Arc<TxCell>, key: u32, json: bool) -> Self {
        NativeStore { cell, key, json }
    }

    fn with<R>(&self, f: impl FnOnce(&StoreKind) -> Result<R>) -> Result<R> {
        with(&self.cell, self.key, f)
    }

    fn job<T: crate::job::IntoJs>(
        &self,
        f: impl FnOnce(&StoreKind) -> Result<T> + Send + 'static,
    ) -> AsyncTask<Job<T>> {
        let (cell, key) = (self.cell.clone(), self.key);
        job(move || with(&cell, key, f))
    }

    /// Whether this is a JSON store (else a byte store).
    #[napi(getter)]
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Release the store (it is released with its transaction anyway).
    #[napi]
    pub fn close(&self) {
        self.cell.discard(Garbage::Store(self.key));
    }

    #[napi]
    pub fn count(&self) -> Result<f64> {
        self.with(count)
    }
    #[napi]
    pub fn count_async(&self) -> AsyncTask<Job<f64>> {
        self.job(count)
    }

    #[napi]
    pub fn jget(&self, key: String) -> Result<Option<String>> {
        self.with(|k| jget(k, &key))
    }
    #[napi]
    pub fn jget_async(&self, key: String) -> AsyncTask<Job<Option<String>>> {
        self.job(move |k| jget(k, &key))
    }
    #[napi]
    pub fn jget_many(&self, keys: String) -> Result<Vec<Option<String>>> {
        self.with(|k| jget_many(k, &keys))
    }
    #[napi]
    pub fn jget_many_async(&self, keys: String) -> AsyncTask<Job<Vec<Option<String>>>> {
        self.job(move |k| jget_many(k, &keys))
    }
    #[napi]
    pub fn jhas(&self, key: String) -> Result<bool> {
        self.with(|k| jhas(k, &key))
    }
    #[napi]
    pub fn jhas_async(&self, key: String) -> AsyncTask<Job<bool>> {
        self.job(move |k| jhas(k, &key))
    }
    #[napi]
    pub fn jput(&self, key: String, value: String, mode: u32) -> Result<bool> {
        self.with(|k| jput(k, &key, &value, mode))
    }
    #[napi]
    pub fn jput_async(&self, key: String, value: String, mode: u32) -> AsyncTask<Job<bool>> {
        self.job(move |k| jput(k, &key, &value, mode))
    }
    #[napi]
    pub fn jput_many(&self, items: String, mode: u32) -> Result<u32> {
        self.with(|k| jput_many(k, &items, mode))
    }
    #[napi]
    pub fn jput_many_async(&self, items: String, mode: u32) -> AsyncTask<Job<u32>> {
        self.job(move |k| jput_many(k, &items, mode))
    }
    #[napi]
    pub fn jdelete(&self, key: String) -> Result<bool> {
        self.with(|k| jdelete(k, &key))
    }
    #[napi]
    pub fn jdelete_async(&self, key: String) -> AsyncTask<Job<bool>> {
        self.job(move |k| jdelete(k, &key))
    }

    /// The value as a new Buffer (a copy: cheaper than handing the Vec over
    /// for small values).
    #[napi]
    pub fn bget<'env>(&self, env: &'env Env, key: &[u8]) -> Result<Option<BufferSlice<'env>>> {
        self.with(|k| bget(k, key))?
            .map(|b| BufferSlice::copy_from(env, b.0))
            .transpose()
    }
    #[napi]
    pub fn bget_async(&self, key: &[u8]) -> AsyncTask<Job<Option<Bytes>>> {
        let key = key.to_vec();
        self.job(move |k| bget(k, &key))
    }
    #[napi]
    pub fn bhas(&self, key: &[u8]) -> Result<bool> {
        self.with(|k| raw(k)?.contains(key).or_throw())
    }
    #[napi]
    pub fn bhas_async(&self, key: &[u8]) -> AsyncTask<Job<bool>> {
        let key = key.to_vec();
        self.job(move |k| raw(k)?.contains(&key).or_throw())
    }
    #[napi]
    pub fn bput(&self, key: &[u8], value: &[u8], mode: u32) -> Result<bool> {
        self.with(|k| raw_put(raw(k)?, key, value, mode))
    }
    #[napi]
    pub fn bput_async(&self, key: &[u8], value: &[u8], mode: u32) -> AsyncTask<Job<bool>> {
        let (key, value) = (key.to_vec(), value.to_vec());
        self.job(move |k| raw_put(raw(k)?, &key, &value, mode))
    }
    #[napi]
    pub fn bput_many(
        &self,
        keys: &[u8],
        key_lens: Vec<u32>,
        values: &[u8],
        value_lens: Vec<u32>,
        mode: u32,
    ) -> Result<u32> {
        let p = Packed {
            keys: keys.to_vec(),
            key_lens,
            values: values.to_vec(),
            value_lens,
        };
        self.with(|k| bput_many(k, &p, mode))
    }
    #[napi]
    pub fn bput_many_async(
        &self,
        keys: &[u8],
        key_lens: Vec<u32>,
        values: &[u8],
        value_lens: Vec<u32>,
        mode: u32,
    ) -> AsyncTask<Job<u32>> {
        let p = Packed {
            keys: keys.to_vec(),
            key_lens,
            values: values.to_vec(),
            value_lens,
        };
        self.job(move |k| bput_many(k, &p, mode))
    }
    #[napi]
    pub fn bdelete(&self, key: &[u8]) -> Result<bool> {
        self.with(|k| raw(k)?.remove(key).or_throw())
    }
    #[napi]
    pub fn bdelete_async(&self, key: &[u8]) -> AsyncTask<Job<bool>> {
        let key = key.to_vec();
        self.job(move |k| raw(k)?.remove(&key).or_throw())
    }

    /// Open a range over the items with keys between `lo` and `hi` (JSON text
    /// for a JSON store, the key bytes for a byte store; None
    /// is unbounded), ascending or descending.
    #[napi]
    pub fn range(
        &self,
        lo: Option<&[u8]>,
        lo_exclusive: bool,
        hi: Option<&[u8]>,
        hi_exclusive: bool,
        desc: bool,
    ) -> Result<NativeRange> {
        let mut g = self.cell.lock();
        g.tx()?;
        let k = g.stores.get(&self.key).ok_or_else(|| closed("store"))?;
        let enc = |b: Option<&[u8]>| -> Result<Option<Vec<u8>>> {
            let Some(b) = b else { return Ok(None) };
            match k {
                StoreKind::Json(j) => {
                    let t = std::str::from_utf8(b).map_err(|_| invalid("a bound is not UTF-8"))?;
                    Ok(Some(j.key_bytes(&parse(t)?).or_throw()?))
                }
                StoreKind::Raw(_) => Ok(Some(b.to_vec())),
            }
        };
        let (lo, hi) = (enc(lo)?, enc(hi)?);
        let iter = k
            .raw()
            .range(bound(lo, lo_exclusive), bound(hi, hi_exclusive), desc)
            .or_throw()?;
        let key = g.next_key();
        g.ranges.insert(
            key,
            RangeState {
                iter,
                json: self.json,
            },
        );
        drop(g);
        Ok(NativeRange::new(self.cell.clone(), key))
    }
}
