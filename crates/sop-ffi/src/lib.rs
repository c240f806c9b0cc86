//! SOP's C ABI (header: `include/sop.h`, rules: docs/BINDINGS.md).
//!
//! Every function returns an `int32_t` code (`SOP_OK` or one of `SOP_ERR_*`) and
//! writes its results through out-pointers, which it writes only on success.
//! `sop_last_error_message` gives the message of the calling thread's last failed
//! call. Handles (`SopDb`, `SopTx`, `SopStore`, `SopCursor`) are opaque pointers;
//! a null, closed or freed handle is reported as `SOP_ERR_BAD_HANDLE`. No panic
//! crosses the boundary (`SOP_ERR_PANIC`). Strings the library returns are freed
//! with `sop_string_free`, byte buffers with `sop_bytes_free`.

mod args;
mod cursor;
mod db;
mod error;
mod handles;
mod json_store;
mod raw_store;
mod store;
mod tx;

pub use cursor::*;
pub use db::*;
pub use error::*;
pub use handles::{SopCursor, SopDb, SopStore, SopTx};
pub use json_store::*;
pub use raw_store::*;
pub use store::*;
pub use tx::*;

use std::ffi::c_char;

/// The version of the C ABI. It changes only when a function is removed or
/// changes its signature or meaning; adding functions or error codes does not
/// change it (docs/BINDINGS.md, "Version policy").
pub const SOP_ABI_VERSION: u32 = 1;

/// The library's version ("0.1.0"), a static NUL-terminated string: never free it.
/// Any thread.
#[no_mangle]
pub extern "C" fn sop_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The C ABI version of the library (`SOP_ABI_VERSION` of the header it was built
/// with); compare it with the header's constant at start-up. Any thread.
#[no_mangle]
pub extern "C" fn sop_abi_version() -> u32 {
    SOP_ABI_VERSION
}

/// The message of the calling thread's last call that failed, or "" if its last
/// call succeeded. The string is owned by the library and valid until the next
/// call of a SOP function in this thread: copy it, never free it. Never null.
#[no_mangle]
pub extern "C" fn sop_last_error_message() -> *const c_char {
    error::last_message()
}

/// Free a string returned by the library (JSON outputs). Null is ignored.
///
/// # Safety
/// `s` is null or a string returned by this library that was not freed before.
/// Any thread.
#[no_mangle]
pub unsafe extern "C" fn sop_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: made by CString::into_raw (args::new_string).
        drop(unsafe { std::ffi::CString::from_raw(s) });
    }
}

/// Free a byte buffer returned by the library, with the length it was returned
/// with. Null is ignored. Any thread.
///
/// # Safety
/// `p` is null or a buffer returned by this library with length `len` that was
/// not freed before.
#[no_mangle]
pub unsafe extern "C" fn sop_bytes_free(p: *mut u8, len: usize) {
    if !p.is_null() {
        // SAFETY: the caller's contract.
        unsafe { args::free_bytes(p, len) }
    }
}
