//! Transactions: commit, rollback, free, id, and the store catalog.

use crate::args::{self, new_string, out, put};
use crate::error::{call, FfiError};
use crate::handles::{get_tx, take_tx, SopTx};
use serde_json::json;
use std::ffi::c_char;

/// Commit the transaction: durable when it returns `SOP_OK`. The transaction has
/// ended afterwards, whatever the result; free the handle with `sop_tx_free`.
/// Errors: `SOP_ERR_RETRY` (conflict: run it again), `SOP_ERR_OUTCOME_UNKNOWN`
/// (may or may not be durable: ask `sop_commit_outcome`), `SOP_ERR_TX_ENDED`
/// (already committed or rolled back), `SOP_ERR_BAD_HANDLE`, `SOP_ERR_POISONED`,
/// `SOP_ERR_FENCED`, `SOP_ERR_UNAVAILABLE`, `SOP_ERR_DISK_FULL`, `SOP_ERR_IO`.
/// Any thread.
///
/// # Safety
/// `tx` is any pointer value (looked up, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn sop_tx_commit(tx: *mut SopTx) -> i32 {
    call(|| {
        let h = get_tx(tx)?;
        let t = h.slot.lock().end().ok_or_else(FfiError::ended)?;
        Ok((*t).commit()?)
    })
}

/// Roll the transaction back: discard its changes. It has ended afterwards; free
/// the handle with `sop_tx_free`. Errors: `SOP_ERR_TX_ENDED` (already committed
/// or rolled back), `SOP_ERR_BAD_HANDLE`. Any thread.
///
/// # Safety
/// `tx` is any pointer value (looked up, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn sop_tx_rollback(tx: *mut SopTx) -> i32 {
    call(|| {
        let h = get_tx(tx)?;
        let t = h.slot.lock().end().ok_or_else(FfiError::ended)?;
        (*t).rollback();
        Ok(())
    })
}

/// Release the transaction handle (rolling the transaction back if it has not
/// ended). Its stores and cursors then report `SOP_ERR_TX_ENDED`; free them too.
/// Errors: `SOP_ERR_BAD_HANDLE` (null or freed before). Any thread.
///
/// # Safety
/// `tx` is any pointer value (looked up, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn sop_tx_free(tx: *mut SopTx) -> i32 {
    call(|| {
        let h = take_tx(tx)?;
        let t = h.slot.lock().end();
        drop(t);
        Ok(())
    })
}

/// The transaction's id (16 bytes, big-endian, written to `out_id`) and the
/// sequence of its snapshot (`*out_since_seq`): what `sop_commit_outcome` needs.
/// Works after the transaction ended too. Errors: `SOP_ERR_BAD_HANDLE`,
/// `SOP_ERR_BAD_ARGUMENT`. Any thread.
///
/// # Safety
/// `out_id` is null or points to 16 writable bytes; `out_since_seq` is null or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sop_tx_id(
    tx: *mut SopTx,
    out_id: *mut u8,
    out_since_seq: *mut u64,
) -> i32 {
    call(|| {
        let oi = out(out_id, "out_id")?;
        let os = out(out_since_seq, "out_since_seq")?;
        let h = get_tx(tx)?;
        let id = h.id.to_be_bytes();
        // SAFETY: 16 writable bytes by the contract.
        unsafe { std::ptr::copy_nonoverlapping(id.as_ptr(), oi, 16) };
        unsafe { put(os, h.snapshot_seq) };
        Ok(())
    })
}

/// The names of all stores the transaction sees, sorted, as a JSON array of
/// strings in `*out_json` (free it with `sop_string_free`). Errors:
/// `SOP_ERR_BAD_HANDLE`, `SOP_ERR_TX_ENDED`, `SOP_ERR_BAD_ARGUMENT`, `SOP_ERR_IO`.
/// Any thread.
///
/// # Safety
/// `out_json` is null or points to writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn sop_tx_list_stores(tx: *mut SopTx, out_json: *mut *mut c_char) -> i32 {
    call(|| {
        let o = out(out_json, "out_json")?;
        let names = get_tx(tx)?.with(|t| Ok(t.list_stores()?))?;
        unsafe { put(o, new_string(json!(names).to_string())) };
        Ok(())
    })
}

/// Drop the store `name` and everything in it (durable with the commit).
/// Errors: `SOP_ERR_NOT_FOUND`, `SOP_ERR_INVALID_INPUT` (read-only transaction),
/// `SOP_ERR_BAD_HANDLE`, `SOP_ERR_TX_ENDED`, `SOP_ERR_BAD_ARGUMENT`. Any thread.
///
/// # Safety
/// `name` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn sop_tx_drop_store(tx: *mut SopTx, name: *const c_char) -> i32 {
    call(|| {
        let name = unsafe { args::text(name, "name") }?;
        get_tx(tx)?.with(|t| Ok(t.drop_store(name)?))
    })
}

/// A store's saved info and item count as JSON in `*out_json` (free it with
/// `sop_string_free`): `{"name","id","key_type","key_spec","options":{...},
/// "count"}`. Errors: `SOP_ERR_NOT_FOUND`, `SOP_ERR_BAD_HANDLE`,
/// `SOP_ERR_TX_ENDED`, `SOP_ERR_BAD_ARGUMENT`. Any thread.
///
/// # Safety
/// `name` is null or a NUL-terminated string; `out_json` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_tx_store_info(
    tx: *mut SopTx,
    name: *const c_char,
    out_json: *mut *mut c_char,
) -> i32 {
    call(|| {
        let o = out(out_json, "out_json")?;
        let name = unsafe { args::text(name, "name") }?;
        let s = get_tx(tx)?.with(|t| Ok(t.store_info(name)?))?;
        let v = json!({"name": s.info.name, "id": s.info.id, "key_type": s.info.key_type,
                       "key_spec": s.info.key_spec, "options": s.info.options, "count": s.count});
        unsafe { put(o, new_string(v.to_string())) };
        Ok(())
    })
}
