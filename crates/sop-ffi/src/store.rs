//! Stores: creating, opening, closing and counting JSON and byte stores; the put
//! modes (the items: json_store.rs, raw_store.rs).

use crate::args::{self, out, put};
use crate::error::{call, FfiError, FfiResult};
use crate::handles::{
    add_store, extend_json, extend_raw, get_store, get_tx, take_store, SopStore, SopTx, StoreKind,
};
use sop::{IndexSpec, JsonStore, RawStore, StoreOptions};
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
    IndexSpec::parse_short(text).map_err(|e| FfiError::arg(e.0))
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

pub(crate) fn json_store<R>(
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

pub(crate) fn raw_store<R>(
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

pub(crate) fn json_put(
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

pub(crate) fn raw_put(r: &RawStore<'_>, mode: i32, k: &[u8], v: &[u8]) -> FfiResult<bool> {
    Ok(match mode {
        SOP_PUT_ADD => r.add(k, v)?,
        SOP_PUT_ADD_IF_ABSENT => r.add_if_absent(k, v)?,
        SOP_PUT_UPDATE => r.update(k, v)?,
        SOP_PUT_UPSERT => r.upsert(k, v)?,
        m => return Err(FfiError::arg(format!("unknown put mode {m}"))),
    })
}
