//! Byte store items: put, remove, get and batch put on (pointer, length) bytes.

use crate::args::{self, new_bytes, out, put};
use crate::error::{call, FfiError, FfiResult};
use crate::handles::SopStore;
use crate::store::{raw_put, raw_store};

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
