//! Stores: JSON stores (keys and values as JSON text) and raw byte stores.

use crate::args::{self, new_bytes, new_string, out, put};
use crate::error::{call, FfiError, FfiResult};
use crate::handles::{
    add_store, extend_json, extend_raw, get_store, get_tx, take_store, SopStore, SopTx, StoreKind,
};
use sop::{IndexField, IndexSpec, JsonStore, RawStore, SortOrder, StoreOptions};
use std::ffi::c_char;

/// Put mode: insert; in a unique store an existing key is not replaced (`*out_done` 0).
pub const SOP_PUT_ADD: i32 = 1;
/// Put mode: insert only if no item has the key (also in non-unique stores).
pub const SOP_PUT_ADD_IF_ABSENT: i32 = 2;
/// Put mode: replace the value of an existing key only (`*out_done` 0 if none).
pub const SOP_PUT_UPDATE: i32 = 3;
/// Put mode: insert or replace; `*out_done` is 1 if it inserted, 0 if it replaced.
pub const SOP_PUT_UPSERT: i32 = 4;

/// A key spec: its JSON form, or the short form `field[:asc|:desc],...`.
fn parse_spec(text: &str) -> FfiResult<IndexSpec> {
    let t = text.trim();
    if t.starts_with(['[', '{', '"']) {
        return IndexSpec::parse(t).map_err(|e| sop::Error::Codec(e).into());
    }
    let mut fields = Vec::new();
    for part in t.split(',') {
        let (field, order) = match part.rsplit_once(':') {
            Some((f, "asc")) => (f, SortOrder::Asc),
            Some((f, "desc")) => (f, SortOrder::Desc),
            Some((_, o)) => {
                return Err(FfiError::arg(format!(
                    "invalid key spec {text:?}: order {o:?} is neither asc nor desc"
                )))
            }
            None => (part, SortOrder::Asc),
        };
        fields.push(IndexField {
            field: field.trim().to_string(),
            order,
        });
    }
    let spec = IndexSpec { fields };
    spec.validate()
        .map_err(|e| FfiError::arg(format!("{e} (in {text:?})")))?;
    Ok(spec)
}

fn store_options(json: Option<&str>) -> FfiResult<StoreOptions> {
    match json {
        None => Ok(StoreOptions::default()),
        Some(t) => args::options(t, "store options"),
    }
}

unsafe fn new_store(
    tx: *mut SopTx,
    out_store: *mut *mut SopStore,
    open: impl FnOnce(&sop::Transaction) -> FfiResult<StoreKind>,
) -> i32 {
    call(|| {
        let o = out(out_store, "out_store")?;
        let txh = get_tx(tx)?;
        let key = {
            let mut g = txh.slot.lock();
            let kind = open(g.tx()?)?;
            let key = g.next_key();
            g.stores.insert(key, kind);
            key
        };
        let h = add_store(SopStore { tx: txh, key });
        unsafe { put(o, h) };
        Ok(())
    })
}

/// Create a JSON store `name` and write its handle to `*out_store`. `key_spec` is
/// null (keys are primitives: null, bool, number, string) or orders object keys:
/// `"last,age:desc"` or its JSON form `[{"field":"last","order":"asc"},...]`.
/// `options_json` is null or a JSON object of store options (`"unique"`,
/// `"slot_length"`, `"values"`, `"description"`, ...).
///
/// Ownership: the strings are borrowed for the call; the store handle is the
/// caller's, released with `sop_store_close` (before or after its transaction
/// ends). Threads: as its transaction. Errors: `SOP_ERR_ALREADY_EXISTS`,
/// `SOP_ERR_BAD_ARGUMENT` (null or non-UTF-8 text, malformed spec or options),
/// `SOP_ERR_INVALID_INPUT` (invalid options, read-only transaction),
/// `SOP_ERR_BAD_HANDLE`, `SOP_ERR_TX_ENDED`.
///
/// # Safety
/// The strings are null or NUL-terminated; `out_store` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_json_store_create(
    tx: *mut SopTx,
    name: *const c_char,
    key_spec: *const c_char,
    options_json: *const c_char,
    out_store: *mut *mut SopStore,
) -> i32 {
    unsafe {
        new_store(tx, out_store, |t| {
            let name = args::text(name, "name")?;
            let spec = args::opt_text(key_spec, "key_spec")?
                .map(parse_spec)
                .transpose()?;
            let opts = store_options(args::opt_text(options_json, "options_json")?)?;
            let s = t.create_json_store(name, opts, spec)?;
            Ok(StoreKind::Json(extend_json(s)))
        })
    }
}

/// Open the existing JSON store `name`; as `sop_json_store_create` otherwise.
/// Errors: `SOP_ERR_NOT_FOUND`, `SOP_ERR_INVALID_INPUT` (not a JSON store),
/// `SOP_ERR_BAD_ARGUMENT`, `SOP_ERR_BAD_HANDLE`, `SOP_ERR_TX_ENDED`.
///
/// # Safety
/// `name` is null or NUL-terminated; `out_store` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_json_store_open(
    tx: *mut SopTx,
    name: *const c_char,
    out_store: *mut *mut SopStore,
) -> i32 {
    unsafe {
        new_store(tx, out_store, |t| {
            let s = t.open_json_store(args::text(name, "name")?)?;
            Ok(StoreKind::Json(extend_json(s)))
        })
    }
}

/// Create a byte store `name` whose keys are compared as bytes; `key_type`
/// names the keys' encoding (saved with the store; `"raw-bytes"` if null: keys as
/// given, not the escaped encoding of the typed key name `"bytes"`).
/// Otherwise as `sop_json_store_create`.
///
/// # Safety
/// The strings are null or NUL-terminated; `out_store` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_raw_store_create(
    tx: *mut SopTx,
    name: *const c_char,
    key_type: *const c_char,
    options_json: *const c_char,
    out_store: *mut *mut SopStore,
) -> i32 {
    unsafe {
        new_store(tx, out_store, |t| {
            let name = args::text(name, "name")?;
            let kt = args::opt_text(key_type, "key_type")?.unwrap_or("raw-bytes");
            let opts = store_options(args::opt_text(options_json, "options_json")?)?;
            let s = t.create_raw_store(name, kt, opts)?;
            Ok(StoreKind::Raw(extend_raw(s)))
        })
    }
}

/// Open any existing store `name` at the byte level (a JSON store's values are
/// then its item frames, docs/FORMAT.md). Otherwise as `sop_json_store_open`.
///
/// # Safety
/// `name` is null or NUL-terminated; `out_store` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_raw_store_open(
    tx: *mut SopTx,
    name: *const c_char,
    out_store: *mut *mut SopStore,
) -> i32 {
    unsafe {
        new_store(tx, out_store, |t| {
            let s = t.open_raw_store(args::text(name, "name")?)?;
            Ok(StoreKind::Raw(extend_raw(s)))
        })
    }
}

/// Release a store handle (JSON or raw). Errors: `SOP_ERR_BAD_HANDLE` (null or
/// closed before). Any thread.
///
/// # Safety
/// `store` is any pointer value (looked up, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn sop_store_close(store: *mut SopStore) -> i32 {
    call(|| {
        take_store(store)?;
        Ok(())
    })
}

/// The number of items in the store as its transaction sees it, in `*out_count`.
/// Errors: `SOP_ERR_BAD_HANDLE`, `SOP_ERR_TX_ENDED`, `SOP_ERR_BAD_ARGUMENT`,
/// `SOP_ERR_IO`, `SOP_ERR_CORRUPT`. Threads: as its transaction.
///
/// # Safety
/// `out_count` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_store_count(store: *mut SopStore, out_count: *mut u64) -> i32 {
    call(|| {
        let o = out(out_count, "out_count")?;
        let n = get_store(store)?.with(|k| {
            Ok(match k {
                StoreKind::Json(j) => j.count()?,
                StoreKind::Raw(r) => r.count()?,
            })
        })?;
        unsafe { put(o, n) };
        Ok(())
    })
}

fn json_store<R>(
    store: *mut SopStore,
    f: impl FnOnce(&JsonStore<'static>) -> FfiResult<R>,
) -> FfiResult<R> {
    get_store(store)?.with(|k| match k {
        StoreKind::Json(j) => f(j),
        StoreKind::Raw(_) => Err(FfiError::arg(
            "a byte store handle given to a sop_json_* function",
        )),
    })
}

fn raw_store<R>(
    store: *mut SopStore,
    f: impl FnOnce(&RawStore<'static>) -> FfiResult<R>,
) -> FfiResult<R> {
    get_store(store)?.with(|k| match k {
        StoreKind::Raw(r) => f(r),
        StoreKind::Json(_) => Err(FfiError::arg(
            "a JSON store handle given to a sop_raw_* function",
        )),
    })
}

fn json_put(
    j: &JsonStore<'_>,
    mode: i32,
    k: &serde_json::Value,
    v: &serde_json::Value,
) -> FfiResult<bool> {
    Ok(match mode {
        SOP_PUT_ADD => j.add(k, v)?,
        SOP_PUT_ADD_IF_ABSENT => j.add_if_absent(k, v)?,
        SOP_PUT_UPDATE => j.update(k, v)?,
        SOP_PUT_UPSERT => j.upsert(k, v)?,
        m => return Err(FfiError::arg(format!("unknown put mode {m}"))),
    })
}

fn raw_put(r: &RawStore<'_>, mode: i32, k: &[u8], v: &[u8]) -> FfiResult<bool> {
    Ok(match mode {
        SOP_PUT_ADD => r.add(k, v)?,
        SOP_PUT_ADD_IF_ABSENT => r.add_if_absent(k, v)?,
        SOP_PUT_UPDATE => r.update(k, v)?,
        SOP_PUT_UPSERT => r.upsert(k, v)?,
        m => return Err(FfiError::arg(format!("unknown put mode {m}"))),
    })
}

/// Put one item into a JSON store: `key_json` and `value_json` are JSON text;
/// `mode` is one of `SOP_PUT_*`. `*out_done` is what the mode reports: 1 if an
/// add inserted, an update replaced, an upsert inserted (0: it replaced).
/// Errors: `SOP_ERR_INVALID_INPUT` (invalid JSON, a key that does not fit the key
/// spec, a key too long, a read-only transaction), `SOP_ERR_BAD_ARGUMENT` (null,
/// non-UTF-8, unknown mode, a byte store handle), `SOP_ERR_BAD_HANDLE`,
/// `SOP_ERR_TX_ENDED`, `SOP_ERR_IO`. Threads: as its transaction.
///
/// # Safety
/// The strings are null or NUL-terminated; `out_done` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_json_put(
    store: *mut SopStore,
    key_json: *const c_char,
    value_json: *const c_char,
    mode: i32,
    out_done: *mut i32,
) -> i32 {
    call(|| {
        let o = out(out_done, "out_done")?;
        let k = unsafe { args::json(key_json, "key_json") }?;
        let v = unsafe { args::json(value_json, "value_json") }?;
        let done = json_store(store, |j| json_put(j, mode, &k, &v))?;
        unsafe { put(o, i32::from(done)) };
        Ok(())
    })
}

/// Remove the item with key `key_json` (the first, in a non-unique store);
/// `*out_done` is 1 if one was removed. Errors as `sop_json_put`.
///
/// # Safety
/// `key_json` is null or NUL-terminated; `out_done` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_json_remove(
    store: *mut SopStore,
    key_json: *const c_char,
    out_done: *mut i32,
) -> i32 {
    call(|| {
        let o = out(out_done, "out_done")?;
        let k = unsafe { args::json(key_json, "key_json") }?;
        let done = json_store(store, |j| Ok(j.remove(&k)?))?;
        unsafe { put(o, i32::from(done)) };
        Ok(())
    })
}

/// Get the value of key `key_json`: `*out_found` is 1 and `*out_value_json` the
/// value's JSON text (free it with `sop_string_free`), or `*out_found` is 0 and
/// `*out_value_json` null. Errors as `sop_json_put`.
///
/// # Safety
/// `key_json` is null or NUL-terminated; the out-pointers are null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_json_get(
    store: *mut SopStore,
    key_json: *const c_char,
    out_found: *mut i32,
    out_value_json: *mut *mut c_char,
) -> i32 {
    call(|| {
        let of = out(out_found, "out_found")?;
        let ov = out(out_value_json, "out_value_json")?;
        let k = unsafe { args::json(key_json, "key_json") }?;
        let v = json_store(store, |j| Ok(j.get(&k)?))?;
        unsafe {
            put(of, i32::from(v.is_some()));
            put(
                ov,
                v.map_or(std::ptr::null_mut(), |v| new_string(v.to_string())),
            );
        }
        Ok(())
    })
}

/// Put many items into a JSON store in one call: `items_json` is a JSON array of
/// `[key, value]` pairs, put in order with `mode` (`SOP_PUT_*`). `*out_done` is
/// the number of items for which `sop_json_put` would have reported 1. On an error the items before the
/// failing one stay put in the transaction (roll back to undo them); the message
/// names the failing item's index. Errors as `sop_json_put`.
///
/// # Safety
/// `items_json` is null or NUL-terminated; `out_done` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_json_put_many(
    store: *mut SopStore,
    items_json: *const c_char,
    mode: i32,
    out_done: *mut u64,
) -> i32 {
    call(|| {
        let o = out(out_done, "out_done")?;
        let items = unsafe { args::json(items_json, "items_json") }?;
        let serde_json::Value::Array(items) = items else {
            return Err(FfiError::arg(
                "items_json is not a JSON array of [key, value] pairs",
            ));
        };
        let n = json_store(store, |j| {
            let mut n = 0;
            for (i, item) in items.iter().enumerate() {
                let (k, v) = match item.as_array().map(Vec::as_slice) {
                    Some([k, v]) => (k, v),
                    _ => {
                        return Err(FfiError::arg(format!(
                            "item {i} of items_json is not a [key, value] pair"
                        )))
                    }
                };
                let done = json_put(j, mode, k, v)
                    .map_err(|e| FfiError::new(e.code, format!("item {i}: {}", e.msg)))?;
                n += u64::from(done);
            }
            Ok(n)
        })?;
        unsafe { put(o, n) };
        Ok(())
    })
}

/// Put one item into a byte store: `key_len` bytes at `key`, `value_len` bytes at
/// `value` (a pointer may be null when its length is 0); `mode` is one of
/// `SOP_PUT_*`. `*out_done` as in `sop_json_put`. The bytes are copied.
/// Errors: `SOP_ERR_INVALID_INPUT` (key too long, value too large, read-only
/// transaction), `SOP_ERR_BAD_ARGUMENT` (null with a length, unknown mode, a JSON
/// store handle), `SOP_ERR_BAD_HANDLE`, `SOP_ERR_TX_ENDED`, `SOP_ERR_IO`.
/// Threads: as its transaction.
///
/// # Safety
/// `key`/`value` point to `key_len`/`value_len` readable bytes (or are null with
/// length 0); `out_done` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_raw_put(
    store: *mut SopStore,
    key: *const u8,
    key_len: usize,
    value: *const u8,
    value_len: usize,
    mode: i32,
    out_done: *mut i32,
) -> i32 {
    call(|| {
        let o = out(out_done, "out_done")?;
        let k = unsafe { args::bytes(key, key_len, "key") }?;
        let v = unsafe { args::bytes(value, value_len, "value") }?;
        let done = raw_store(store, |r| raw_put(r, mode, k, v))?;
        unsafe { put(o, i32::from(done)) };
        Ok(())
    })
}

/// Remove the item with the given key bytes; `*out_done` is 1 if one was
/// removed. Errors as `sop_raw_put`.
///
/// # Safety
/// As `sop_raw_put`.
#[no_mangle]
pub unsafe extern "C" fn sop_raw_remove(
    store: *mut SopStore,
    key: *const u8,
    key_len: usize,
    out_done: *mut i32,
) -> i32 {
    call(|| {
        let o = out(out_done, "out_done")?;
        let k = unsafe { args::bytes(key, key_len, "key") }?;
        let done = raw_store(store, |r| Ok(r.remove(k)?))?;
        unsafe { put(o, i32::from(done)) };
        Ok(())
    })
}

/// Get the value of a key: `*out_found` is 1 and `*out_value`/`*out_len` a copy
/// of the value (free it with `sop_bytes_free(value, len)`; it is followed by a
/// NUL not counted in the length), or `*out_found` is 0 and `*out_value` null.
/// Errors as `sop_raw_put`.
///
/// # Safety
/// As `sop_raw_put`; the out-pointers are null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_raw_get(
    store: *mut SopStore,
    key: *const u8,
    key_len: usize,
    out_found: *mut i32,
    out_value: *mut *mut u8,
    out_len: *mut usize,
) -> i32 {
    call(|| {
        let of = out(out_found, "out_found")?;
        let ov = out(out_value, "out_value")?;
        let ol = out(out_len, "out_len")?;
        let k = unsafe { args::bytes(key, key_len, "key") }?;
        let v = raw_store(store, |r| Ok(r.get(k)?))?;
        let (p, n) = v.map_or((std::ptr::null_mut(), 0), |v| new_bytes(&v));
        unsafe {
            put(of, i32::from(!p.is_null()));
            put(ov, p);
            put(ol, n);
        }
        Ok(())
    })
}

/// Put `count` items into a byte store in one call: item i is `key_lens[i]` bytes
/// at `keys[i]` and `value_lens[i]` bytes at `values[i]`, put in order with
/// `mode`. `*out_done` is the number of items reported 1 (`sop_raw_put`). On an
/// error the items before the failing one stay put in the transaction; the
/// message names the failing index. Errors as `sop_raw_put`.
///
/// # Safety
/// The four arrays hold `count` entries each (or are null with count 0); every
/// key and value pointer is valid as in `sop_raw_put`.
#[no_mangle]
pub unsafe extern "C" fn sop_raw_put_many(
    store: *mut SopStore,
    keys: *const *const u8,
    key_lens: *const usize,
    values: *const *const u8,
    value_lens: *const usize,
    count: usize,
    mode: i32,
    out_done: *mut u64,
) -> i32 {
    call(|| {
        let o = out(out_done, "out_done")?;
        let arr = |p: *const *const u8, what: &str| -> FfiResult<&[*const u8]> {
            if p.is_null() && count > 0 {
                return Err(FfiError::arg(format!("{what} is a null pointer")));
            }
            // SAFETY: `count` entries by the contract.
            Ok(if count == 0 {
                &[]
            } else {
                unsafe { std::slice::from_raw_parts(p, count) }
            })
        };
        let lens = |p: *const usize, what: &str| -> FfiResult<&[usize]> {
            if p.is_null() && count > 0 {
                return Err(FfiError::arg(format!("{what} is a null pointer")));
            }
            // SAFETY: `count` entries by the contract.
            Ok(if count == 0 {
                &[]
            } else {
                unsafe { std::slice::from_raw_parts(p, count) }
            })
        };
        let (ks, kl, vs, vl) = (
            arr(keys, "keys")?,
            lens(key_lens, "key_lens")?,
            arr(values, "values")?,
            lens(value_lens, "value_lens")?,
        );
        let n = raw_store(store, |r| {
            let mut n = 0;
            for i in 0..count {
                let at = |e: FfiError| FfiError::new(e.code, format!("item {i}: {}", e.msg));
                let k = unsafe { args::bytes(ks[i], kl[i], "key") }.map_err(at)?;
                let v = unsafe { args::bytes(vs[i], vl[i], "value") }.map_err(at)?;
                n += u64::from(raw_put(r, mode, k, v).map_err(at)?);
            }
            Ok(n)
        })?;
        unsafe { put(o, n) };
        Ok(())
    })
}
