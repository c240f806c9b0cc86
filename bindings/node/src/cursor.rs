//! Ranges: the engine's iterator over a store's range, read in batches so a
//! JavaScript iterator crosses into Rust once per batch, not once per item.

use crate::error::{closed, OrThrow, Result};
use crate::job::{job, Bytes, Job};
use crate::store::split_frame;
use crate::tx::{Garbage, RangeState, TxCell};
use napi::bindgen_prelude::{AsyncTask, BufferSlice};
use napi::Env;
use napi_derive::napi;
use std::sync::Arc;

/// An open range of a store (the package's range iterators wrap it).
#[napi]
pub struct NativeRange {
    cell: Arc<TxCell>,
    key: u32,
}

impl Drop for NativeRange {
    fn drop(&mut self) {
        self.cell.discard(Garbage::Range(self.key));
    }
}

fn with<R>(cell: &TxCell, key: u32, f: impl FnOnce(&mut RangeState) -> Result<R>) -> Result<R> {
    let mut g = cell.lock();
    g.tx()?;
    f(g.ranges.get_mut(&key).ok_or_else(|| closed("range"))?)
}

/// Up to `n` items of a JSON store's range as one JSON text `[[k,v],...]`
/// (`[]` at the end).
fn json_batch(r: &mut RangeState, n: u32) -> Result<String> {
    let mut out = String::from("[");
    for _ in 0..n {
        let Some(item) = r.iter.next() else { break };
        let (_, frame) = item.or_throw()?;
        let (k, v) = split_frame(&frame)?;
        if out.len() > 1 {
            out.push(',');
        }
        out.push('[');
        out.push_str(k);
        out.push(',');
        out.push_str(v);
        out.push(']');
    }
    out.push(']');
    Ok(out)
}

/// Up to `n` items of a byte store's range: key, value, key, value, ...
fn bytes_batch(r: &mut RangeState, n: u32) -> Result<Vec<Bytes>> {
    let mut out = Vec::new();
    for _ in 0..n {
        let Some(item) = r.iter.next() else { break };
        let (k, v) = item.or_throw()?;
        out.push(Bytes(k.to_vec()));
        out.push(Bytes(v.to_vec()));
    }
    Ok(out)
}

fn check_json(r: &RangeState, json: bool) -> Result<()> {
    if r.json != json {
        return Err(crate::error::invalid(
            "a range read as the wrong kind of store",
        ));
    }
    Ok(())
}

#[napi]
impl NativeRange {
    pub(crate) fn new(cell: Arc<TxCell>, key: u32) -> Self {
        NativeRange { cell, key }
    }

    /// The next items of a JSON store's range (see `json_batch`).
    #[napi]
    pub fn next_json(&self, n: u32) -> Result<String> {
        with(&self.cell, self.key, |r| {
            check_json(r, true)?;
            json_batch(r, n)
        })
    }
    #[napi]
    pub fn next_json_async(&self, n: u32) -> AsyncTask<Job<String>> {
        let (cell, key) = (self.cell.clone(), self.key);
        job(move || {
            with(&cell, key, |r| {
                check_json(r, true)?;
                json_batch(r, n)
            })
        })
    }

    /// The next items of a byte store's range: key, value, key, value, ...
    #[napi]
    pub fn next_bytes<'env>(&self, env: &'env Env, n: u32) -> Result<Vec<BufferSlice<'env>>> {
        let v = with(&self.cell, self.key, |r| {
            check_json(r, false)?;
            bytes_batch(r, n)
        })?;
        v.into_iter()
            .map(|b| BufferSlice::copy_from(env, b.0))
            .collect()
    }
    #[napi]
    pub fn next_bytes_async(&self, n: u32) -> AsyncTask<Job<Vec<Bytes>>> {
        let (cell, key) = (self.cell.clone(), self.key);
        job(move || {
            with(&cell, key, |r| {
                check_json(r, false)?;
                bytes_batch(r, n)
            })
        })
    }

    /// Release the range now (its transaction's end releases it too).
    #[napi]
    pub fn close(&self) {
        self.cell.discard(Garbage::Range(self.key));
    }
}
