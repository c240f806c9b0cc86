//! Reading the caller's arguments and writing outputs through its out-pointers.
//! Every raw pointer the C caller hands over is read here, after a null check.

use crate::error::{FfiError, FfiResult};
use std::ffi::{c_char, CStr, CString};

/// A required NUL-terminated UTF-8 string.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn text<'a>(p: *const c_char, what: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(FfiError::arg(format!("{what} is a null pointer")));
    }
    // SAFETY: non-null, NUL-terminated by the caller's contract.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|e| FfiError::arg(format!("{what} is not valid UTF-8: {e}")))
}

/// An optional string: null is `None`.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn opt_text<'a>(p: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        unsafe { text(p, what) }.map(Some)
    }
}

/// `len` bytes at `p`; `p` may be null only when `len` is 0.
///
/// # Safety
/// `p` points to `len` readable bytes valid for the call (or is null with len 0).
pub(crate) unsafe fn bytes<'a>(p: *const u8, len: usize, what: &str) -> FfiResult<&'a [u8]> {
    if p.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(FfiError::arg(format!(
            "{what} is a null pointer with length {len}"
        )));
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// JSON text, parsed (UTF-8 and JSON errors are the caller's).
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn json(p: *const c_char, what: &str) -> FfiResult<serde_json::Value> {
    let t = unsafe { text(p, what) }?;
    Ok(sop::parse_json(t)?)
}

/// Check an out-pointer before any work is done.
pub(crate) fn out<T>(p: *mut T, what: &str) -> FfiResult<*mut T> {
    if p.is_null() {
        Err(FfiError::arg(format!("{what} is a null pointer")))
    } else {
        Ok(p)
    }
}

/// Write through a checked out-pointer.
///
/// # Safety
/// `p` came from [`out`] and points to writable memory for a `T`.
pub(crate) unsafe fn put<T>(p: *mut T, v: T) {
    // SAFETY: the caller's contract.
    unsafe { p.write(v) }
}

/// A string the caller frees with `sop_string_free`.
pub(crate) fn new_string(s: String) -> *mut c_char {
    CString::new(s.replace('\0', "\\u0000"))
        .unwrap_or_default()
        .into_raw()
}

/// A byte buffer the caller frees with `sop_bytes_free(ptr, len)`. It holds one
/// more byte than `len`, a NUL, so text can be read as a C string.
pub(crate) fn new_bytes(b: &[u8]) -> (*mut u8, usize) {
    let mut v = Vec::with_capacity(b.len() + 1);
    v.extend_from_slice(b);
    v.push(0);
    let len = b.len();
    (Box::into_raw(v.into_boxed_slice()) as *mut u8, len)
}

/// Free a buffer made by [`new_bytes`].
///
/// # Safety
/// `p` and `len` came from [`new_bytes`] and were not freed before.
pub(crate) unsafe fn free_bytes(p: *mut u8, len: usize) {
    // SAFETY: the allocation is a boxed slice of len + 1 bytes.
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, len + 1)) });
}

/// Options given as a JSON object (serde would also take a struct from a JSON
/// array, by position: refused here).
pub(crate) fn options<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> FfiResult<T> {
    let invalid = |e: String| FfiError::arg(format!("invalid {what} {text:?}: {e}"));
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    if !v.is_object() {
        return Err(invalid("not a JSON object".into()));
    }
    serde_json::from_value(v).map_err(|e| invalid(e.to_string()))
}
