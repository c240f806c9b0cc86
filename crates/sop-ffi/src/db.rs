//! Databases: open, close, begin, stats, check, recover, commit outcome.

use crate::args::{self, new_string, out, put};
use crate::error::{call, FfiError};
use crate::handles::{add_db, add_tx, get_db, take_db, SopDb, SopTx, TxSlot};
use parking_lot::{Mutex, RwLock};
use serde::Deserialize;
use serde_json::json;
use sop::{Coordination, Database, DbOptions, TxMode};
use std::ffi::c_char;

/// `sop_begin` mode: reads and writes, validated and merged at commit.
pub const SOP_TX_FOR_WRITING: i32 = 1;
/// `sop_begin` mode: reads only; the commit fails if what was read changed.
pub const SOP_TX_FOR_READING: i32 = 2;
/// `sop_begin` mode: reads only from a snapshot, no validation.
pub const SOP_TX_NO_CHECK: i32 = 3;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct OpenOptions {
    exclusive: Option<bool>,
    coordination: Option<CoordinationArg>,
    cache_bytes: Option<usize>,
    create: Option<bool>,
    read_only: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CoordinationArg {
    Named(String),
    Redis { redis: String },
}

fn db_options(json: Option<&str>) -> Result<DbOptions, FfiError> {
    let o: OpenOptions = match json {
        Some(t) => args::options(t, "open options")?,
        None => OpenOptions::default(),
    };
    let mut d = DbOptions::default();
    if let Some(x) = o.exclusive {
        d.exclusive = x;
    }
    if let Some(x) = o.cache_bytes {
        d.node_cache_bytes = x;
    }
    if let Some(x) = o.create {
        d.create = x;
    }
    if let Some(x) = o.read_only {
        d.read_only = x;
    }
    d.coordination = match o.coordination {
        None => None,
        Some(CoordinationArg::Named(n)) if n == "standalone" => Some(Coordination::Standalone),
        Some(CoordinationArg::Named(n)) => {
            return Err(FfiError::arg(format!(
                "unknown coordination {n:?}: \"standalone\" or {{\"redis\":\"url\"}}"
            )))
        }
        Some(CoordinationArg::Redis { redis }) => Some(Coordination::Redis { url: redis }),
    };
    Ok(d)
}

/// Open (or create) the database in folder `path` and write its handle to `*out_db`.
///
/// `options_json` may be null (defaults) or a JSON object with any of
/// `"exclusive": bool` (this handle alone uses the folder; commits go through a
/// journal), `"coordination": "standalone" | {"redis": "redis://host:port/"}`
/// (for a new database), `"cache_bytes": n` (node cache size), `"create": bool`
/// (default true), `"read_only": bool`.
///
/// Ownership: `path` and `options_json` are borrowed for the call; the handle is
/// the caller's, released with `sop_close`. Threads: any; the handle may be used
/// from any thread, concurrently. Errors: `SOP_ERR_BAD_ARGUMENT` (null or
/// non-UTF-8 text, malformed options), `SOP_ERR_NOT_FOUND` (no database and
/// `"create": false`), `SOP_ERR_IN_USE` (held exclusively elsewhere),
/// `SOP_ERR_UNAVAILABLE` (Redis), `SOP_ERR_CORRUPT`, `SOP_ERR_IO`,
/// `SOP_ERR_UNSUPPORTED`.
///
/// # Safety
/// `path` and `options_json` are null or NUL-terminated strings; `out_db` is null
/// or points to writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn sop_open(
    path: *const c_char,
    options_json: *const c_char,
    out_db: *mut *mut SopDb,
) -> i32 {
    call(|| {
        let out_db = out(out_db, "out_db")?;
        let path = unsafe { args::text(path, "path") }?;
        let opts = db_options(unsafe { args::opt_text(options_json, "options_json") }?)?;
        let db = Database::open(path, opts)?;
        let h = add_db(SopDb {
            db: RwLock::new(Some(db)),
        });
        unsafe { put(out_db, h) };
        Ok(())
    })
}

/// Close the database handle. The handle is released whatever the result; an
/// error reports what closing did not finish: `SOP_ERR_IN_USE` if transactions
/// of it are still alive (the database then closes when the last of them is
/// freed), `SOP_ERR_IO`/`SOP_ERR_DISK_FULL` if writing out the journal failed.
/// Closing a closed handle is `SOP_ERR_BAD_HANDLE`. Any thread.
///
/// # Safety
/// `db` is any pointer value (it is looked up, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn sop_close(db: *mut SopDb) -> i32 {
    call(|| {
        let h = take_db(db)?;
        let d = h.db.write().take();
        match d {
            Some(d) => Ok(d.close()?),
            None => Err(FfiError::handle("database")),
        }
    })
}

fn with_db<R>(
    db: *const SopDb,
    f: impl FnOnce(&Database) -> Result<R, FfiError>,
) -> Result<R, FfiError> {
    let h = get_db(db)?;
    let g = h.db.read();
    match g.as_ref() {
        Some(d) => f(d),
        None => Err(FfiError::handle("database")),
    }
}

/// Begin a transaction in `mode` (`SOP_TX_FOR_WRITING`, `SOP_TX_FOR_READING`,
/// `SOP_TX_NO_CHECK`) and write its handle to `*out_tx`. The handle is the
/// caller's: end the transaction with `sop_tx_commit` or `sop_tx_rollback`, then
/// release it with `sop_tx_free` (freeing a live transaction rolls it back).
/// Threads: any; a transaction and its stores and cursors may be used from any
/// thread, one call at a time (calls on one transaction are serialized).
/// Errors: `SOP_ERR_BAD_HANDLE`, `SOP_ERR_BAD_ARGUMENT` (unknown mode),
/// `SOP_ERR_INVALID_INPUT` (a write transaction on a read-only handle),
/// `SOP_ERR_POISONED`, `SOP_ERR_FENCED`, `SOP_ERR_UNAVAILABLE`.
///
/// # Safety
/// `out_tx` is null or points to writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn sop_begin(db: *mut SopDb, mode: i32, out_tx: *mut *mut SopTx) -> i32 {
    call(|| {
        let out_tx = out(out_tx, "out_tx")?;
        let mode = match mode {
            SOP_TX_FOR_WRITING => TxMode::ForWriting,
            SOP_TX_FOR_READING => TxMode::ForReading,
            SOP_TX_NO_CHECK => TxMode::NoCheck,
            m => return Err(FfiError::arg(format!("unknown transaction mode {m}"))),
        };
        let tx = with_db(db, |d| Ok(d.begin(mode)?))?;
        let h = add_tx(SopTx {
            id: tx.id(),
            snapshot_seq: tx.snapshot_seq(),
            slot: Mutex::new(TxSlot::new(tx)),
        });
        unsafe { put(out_tx, h) };
        Ok(())
    })
}

/// After `SOP_ERR_OUTCOME_UNKNOWN`: whether the transaction with id `txn_id` (16
/// bytes from `sop_tx_id`) committed, looking at commits after `since_seq` (from
/// `sop_tx_id`). Writes 1 (committed) or 0 to `*out_committed`. Any thread.
/// Errors: `SOP_ERR_BAD_HANDLE`, `SOP_ERR_BAD_ARGUMENT`, `SOP_ERR_IO`,
/// `SOP_ERR_CORRUPT`.
///
/// # Safety
/// `txn_id` is null or points to 16 readable bytes; `out_committed` is null or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sop_commit_outcome(
    db: *mut SopDb,
    txn_id: *const u8,
    since_seq: u64,
    out_committed: *mut i32,
) -> i32 {
    call(|| {
        let o = out(out_committed, "out_committed")?;
        let id = unsafe { args::bytes(txn_id, 16, "txn_id") }?;
        let id = u128::from_be_bytes(id.try_into().expect("16 bytes"));
        let c = with_db(db, |d| Ok(d.commit_outcome(id, since_seq)?))?;
        unsafe { put(o, i32::from(c)) };
        Ok(())
    })
}

unsafe fn json_out(
    db: *mut SopDb,
    out_json: *mut *mut c_char,
    f: impl FnOnce(&Database) -> Result<serde_json::Value, FfiError>,
) -> i32 {
    call(|| {
        let o = out(out_json, "out_json")?;
        let v = with_db(db, f)?;
        unsafe { put(o, new_string(v.to_string())) };
        Ok(())
    })
}

/// The database's statistics as a JSON object, written to `*out_json` (free it
/// with `sop_string_free`): `{"head":seq,"stores":[{"name","id","key_type",
/// "created_seq","items","nodes","delta_nodes","node_bytes"}...]}`. Any thread.
/// Errors: `SOP_ERR_BAD_HANDLE`, `SOP_ERR_BAD_ARGUMENT`, `SOP_ERR_IO`,
/// `SOP_ERR_CORRUPT`.
///
/// # Safety
/// `out_json` is null or points to writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn sop_stats(db: *mut SopDb, out_json: *mut *mut c_char) -> i32 {
    unsafe {
        json_out(db, out_json, |d| {
            let s = d.stats()?;
            let stores: Vec<_> = s
                .stores
                .iter()
                .map(|st| {
                    json!({"name": st.info.name, "id": st.info.id, "key_type": st.info.key_type,
                       "created_seq": st.created_seq, "items": st.items, "nodes": st.nodes,
                       "delta_nodes": st.delta_nodes, "node_bytes": st.node_bytes})
                })
                .collect();
            Ok(json!({"head": s.head, "stores": stores}))
        })
    }
}

/// Check the database's integrity; the report as a JSON object in `*out_json`
/// (free it with `sop_string_free`): `{"ok":bool,"head","records","stores":[{"name",
/// "items","nodes","depth"}],"problems":[text],"garbage":[text]}`. Problems found
/// are in the report, not an error code. Any thread. Errors:
/// `SOP_ERR_BAD_HANDLE`, `SOP_ERR_BAD_ARGUMENT`, `SOP_ERR_IO`.
///
/// # Safety
/// `out_json` is null or points to writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn sop_check(db: *mut SopDb, out_json: *mut *mut c_char) -> i32 {
    unsafe {
        json_out(db, out_json, |d| {
            let r = d.check()?;
            let stores: Vec<_> = r
                .stores
                .iter()
                .map(|s| json!({"name": s.name, "items": s.items, "nodes": s.nodes, "depth": s.depth}))
                .collect();
            Ok(
                json!({"ok": r.is_ok(), "head": r.head, "records": r.records, "stores": stores,
                      "problems": r.problems, "garbage": r.garbage}),
            )
        })
    }
}

/// Recover what dead processes left (locks, temporary files, blobs); the report
/// as JSON in `*out_json` (free it with `sop_string_free`):
/// `{"dead_processes","removed_temp_files","removed_blobs"}`. Any thread.
/// Errors: `SOP_ERR_BAD_HANDLE`, `SOP_ERR_BAD_ARGUMENT`, `SOP_ERR_IO`,
/// `SOP_ERR_UNAVAILABLE`, `SOP_ERR_INVALID_INPUT` (a read-only handle).
///
/// # Safety
/// `out_json` is null or points to writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn sop_recover(db: *mut SopDb, out_json: *mut *mut c_char) -> i32 {
    unsafe {
        json_out(db, out_json, |d| {
            let r = d.recover()?;
            Ok(json!({"dead_processes": r.dead_processes,
                      "removed_temp_files": r.removed_temp_files,
                      "removed_blobs": r.removed_blobs}))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The open options JSON: every member, defaults when absent, and refusals.
    #[test]
    fn open_options_are_read_from_json() {
        let d = db_options(Some(
            r#"{"exclusive":true,"coordination":{"redis":"redis://h:1/"},"cache_bytes":1024,
                "create":false,"read_only":true}"#,
        ))
        .unwrap();
        assert!(d.exclusive && !d.create && d.read_only);
        assert_eq!(d.node_cache_bytes, 1024);
        assert_eq!(
            d.coordination,
            Some(Coordination::Redis {
                url: "redis://h:1/".into()
            })
        );
        let s = db_options(Some(r#"{"coordination":"standalone"}"#)).unwrap();
        assert_eq!(s.coordination, Some(Coordination::Standalone));
        let none = db_options(None).unwrap();
        let dflt = DbOptions::default();
        assert_eq!(none.exclusive, dflt.exclusive);
        assert_eq!(none.coordination, None);
        for bad in [
            r#"{"cache_bytes":-1}"#,
            r#"{"coordination":{"zk":"x"}}"#,
            "[]",
            "{",
        ] {
            let e = db_options(Some(bad)).expect_err(bad);
            assert_eq!(e.code, crate::SOP_ERR_BAD_ARGUMENT, "{bad}");
        }
    }
}
