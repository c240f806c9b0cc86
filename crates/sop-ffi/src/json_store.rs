//! JSON store items: put, remove, get and batch put, keys and values as JSON text.

use crate::args::{self, new_string, out, put};
use crate::error::{call, FfiError};
use crate::handles::SopStore;
use crate::store::{json_put, json_store};
use std::ffi::c_char;

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
