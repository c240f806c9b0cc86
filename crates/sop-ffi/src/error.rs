//! Error codes, the thread's last error message, and the boundary every exported
//! function goes through (`call`): it catches panics and turns errors into codes.

use sop::ErrorKind;
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Success.
pub const SOP_OK: i32 = 0;
/// Another commit changed what the transaction used, the commit ran past its
/// maximum commit time, or its snapshot is gone: run the whole transaction again
/// from a new `sop_begin`. Nothing of it was committed.
pub const SOP_ERR_RETRY: i32 = 1;
/// The commit may or may not be durable (an error after the commit point). Do not
/// blindly retry: ask `sop_commit_outcome` with the id from `sop_tx_id`.
pub const SOP_ERR_OUTCOME_UNKNOWN: i32 = 2;
/// The database handle cannot go on after an earlier error (a failed fsync):
/// close it and open the database again.
pub const SOP_ERR_POISONED: i32 = 3;
/// This process was fenced off by others (Clustered mode): open the database again.
pub const SOP_ERR_FENCED: i32 = 4;
/// Data in the folder is damaged: run `sop_check`; retrying does not help.
pub const SOP_ERR_CORRUPT: i32 = 5;
/// The engine refused the input: a key that does not fit the store's key spec, a
/// write in a read-only transaction, invalid options, a key too long, ...
pub const SOP_ERR_INVALID_INPUT: i32 = 6;
/// The database or store does not exist.
pub const SOP_ERR_NOT_FOUND: i32 = 7;
/// The database or store already exists.
pub const SOP_ERR_ALREADY_EXISTS: i32 = 8;
/// Another process or handle holds the database in a way that excludes this use
/// (an exclusive open; `sop_close` while transactions are alive).
pub const SOP_ERR_IN_USE: i32 = 9;
/// The volume is full; nothing committed was lost.
pub const SOP_ERR_DISK_FULL: i32 = 10;
/// Another I/O error; the message names the path.
pub const SOP_ERR_IO: i32 = 11;
/// The coordinator (Redis) cannot be reached; nothing was committed.
pub const SOP_ERR_UNAVAILABLE: i32 = 12;
/// This build cannot serve this database (format version, missing feature).
pub const SOP_ERR_UNSUPPORTED: i32 = 13;
/// An engine error of a kind this version of the C ABI does not know: treat it as
/// fatal for the operation.
pub const SOP_ERR_OTHER: i32 = 14;
/// A bad argument to the C ABI itself: a null pointer where one is required,
/// text that is not UTF-8, malformed options JSON, an unknown mode or flag, a
/// cursor that is not on an item.
pub const SOP_ERR_BAD_ARGUMENT: i32 = 20;
/// The handle is null, already closed or freed, or not a handle of this type.
pub const SOP_ERR_BAD_HANDLE: i32 = 21;
/// The transaction has already been committed or rolled back (or its commit
/// failed): the call needs a live transaction.
pub const SOP_ERR_TX_ENDED: i32 = 22;
/// A panic inside the library was caught at the boundary (a bug in SOP: please
/// report it with the message). The handles used by the call may be unusable.
pub const SOP_ERR_PANIC: i32 = 23;

/// An error on its way to the C caller: a code and a message.
#[derive(Debug, thiserror::Error)]
#[error("{msg}")]
pub(crate) struct FfiError {
    pub code: i32,
    pub msg: String,
}

impl FfiError {
    pub fn new(code: i32, msg: impl Into<String>) -> Self {
        FfiError {
            code,
            msg: msg.into(),
        }
    }
    pub fn arg(msg: impl Into<String>) -> Self {
        Self::new(SOP_ERR_BAD_ARGUMENT, msg)
    }
    pub fn handle(what: &str) -> Self {
        Self::new(
            SOP_ERR_BAD_HANDLE,
            format!("{what} handle is null, closed, or not a {what} handle"),
        )
    }
    pub fn ended() -> Self {
        Self::new(
            SOP_ERR_TX_ENDED,
            "the transaction has already been committed or rolled back",
        )
    }
}

/// The code of an engine error: one per `ErrorKind`.
pub(crate) fn code_of(kind: ErrorKind) -> i32 {
    match kind {
        ErrorKind::Retry => SOP_ERR_RETRY,
        ErrorKind::OutcomeUnknown => SOP_ERR_OUTCOME_UNKNOWN,
        ErrorKind::Poisoned => SOP_ERR_POISONED,
        ErrorKind::Fenced => SOP_ERR_FENCED,
        ErrorKind::Corrupt => SOP_ERR_CORRUPT,
        ErrorKind::InvalidInput => SOP_ERR_INVALID_INPUT,
        ErrorKind::NotFound => SOP_ERR_NOT_FOUND,
        ErrorKind::AlreadyExists => SOP_ERR_ALREADY_EXISTS,
        ErrorKind::InUse => SOP_ERR_IN_USE,
        ErrorKind::DiskFull => SOP_ERR_DISK_FULL,
        ErrorKind::Io => SOP_ERR_IO,
        ErrorKind::Unavailable => SOP_ERR_UNAVAILABLE,
        ErrorKind::Unsupported => SOP_ERR_UNSUPPORTED,
        _ => SOP_ERR_OTHER,
    }
}

impl From<sop::Error> for FfiError {
    fn from(e: sop::Error) -> Self {
        FfiError::new(code_of(e.kind()), e.to_string())
    }
}

pub(crate) type FfiResult<T> = Result<T, FfiError>;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last(msg: &str) {
    let c = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|m| *m.borrow_mut() = c);
}

/// The message of the thread's last failed call ("" after a call that succeeded).
pub(crate) fn last_message() -> *const c_char {
    LAST_ERROR.with(|m| m.borrow().as_ptr())
}

/// Run one exported function's body: no panic crosses the boundary, and the
/// thread's last message is set (emptied on success).
pub(crate) fn call(f: impl FnOnce() -> FfiResult<()>) -> i32 {
    let e = match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => {
            set_last("");
            return SOP_OK;
        }
        Ok(Err(e)) => e,
        Err(p) => {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".into());
            FfiError::new(SOP_ERR_PANIC, format!("panic inside SOP: {what}"))
        }
    };
    tracing::debug!(code = e.code, msg = %e.msg, "sop-ffi call failed");
    set_last(&e.msg);
    e.code
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        // SAFETY: last_message is a valid C string until the next call.
        unsafe { CStr::from_ptr(last_message()) }
            .to_string_lossy()
            .into_owned()
    }

    /// A panic inside a call is caught, reported with its message, and the
    /// next successful call clears the message.
    #[test]
    fn a_panic_becomes_an_error_code() {
        let code = call(|| panic!("boom {}", 42));
        assert_eq!(code, SOP_ERR_PANIC);
        assert_eq!(last(), "panic inside SOP: boom 42");
        assert_eq!(call(|| Ok(())), SOP_OK);
        assert_eq!(last(), "");
    }

    /// Each engine error kind has its own code, and the message is the error's.
    #[test]
    fn engine_errors_keep_their_kind_and_message() {
        let e = sop::Error::StoreNotFound("people".into());
        let text = e.to_string();
        assert_eq!(call(|| Err(e.into())), SOP_ERR_NOT_FOUND);
        assert_eq!(last(), text);
        assert_eq!(code_of(ErrorKind::Retry), SOP_ERR_RETRY);
        assert_eq!(code_of(ErrorKind::OutcomeUnknown), SOP_ERR_OUTCOME_UNKNOWN);
        assert_eq!(code_of(ErrorKind::Fenced), SOP_ERR_FENCED);
    }

    /// The message of one thread is not another's.
    #[test]
    fn messages_are_per_thread() {
        call(|| Err(FfiError::arg("mine")));
        std::thread::spawn(|| {
            assert_eq!(last(), "");
            call(|| Err(FfiError::arg("theirs")));
        })
        .join()
        .unwrap();
        assert_eq!(last(), "mine");
    }
}
