//! Errors thrown to JavaScript: a napi error whose message starts with the
//! code in brackets (`[CONFLICT] ...`); `index.js` turns it into a `SopError`
//! subclass with that `code`.

use sop::ErrorKind;

pub(crate) use napi::Result;

/// An error with one of the binding's codes.
pub(crate) fn fail(code: &str, msg: impl std::fmt::Display) -> napi::Error {
    napi::Error::new(napi::Status::GenericFailure, format!("[{code}] {msg}"))
}

/// The code of an engine error: one per `sop::ErrorKind`.
pub(crate) fn code_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Retry => "CONFLICT",
        ErrorKind::OutcomeUnknown => "OUTCOME_UNKNOWN",
        ErrorKind::Poisoned => "POISONED",
        ErrorKind::Fenced => "FENCED",
        ErrorKind::Corrupt => "CORRUPT",
        ErrorKind::InvalidInput => "INVALID_INPUT",
        ErrorKind::NotFound => "NOT_FOUND",
        ErrorKind::AlreadyExists => "ALREADY_EXISTS",
        ErrorKind::InUse => "IN_USE",
        ErrorKind::DiskFull => "DISK_FULL",
        ErrorKind::Io => "IO",
        ErrorKind::Unavailable => "UNAVAILABLE",
        ErrorKind::Unsupported => "UNSUPPORTED",
        _ => "OTHER",
    }
}

/// An engine error, with its kind's code.
pub(crate) fn engine(e: sop::Error) -> napi::Error {
    fail(code_of(e.kind()), e)
}

/// The transaction has been committed or rolled back.
pub(crate) fn ended() -> napi::Error {
    fail(
        "TX_ENDED",
        "the transaction has already been committed or rolled back",
    )
}

/// The object was closed by its owner.
pub(crate) fn closed(what: &str) -> napi::Error {
    fail("CLOSED", format!("the {what} is closed"))
}

/// A malformed argument (not the engine's judgement of a key or value).
pub(crate) fn invalid(msg: impl std::fmt::Display) -> napi::Error {
    fail("INVALID_INPUT", msg)
}

/// `?` for engine results.
pub(crate) trait OrThrow<T> {
    fn or_throw(self) -> Result<T>;
}

impl<T> OrThrow<T> for sop::Result<T> {
    fn or_throw(self) -> Result<T> {
        self.map_err(engine)
    }
}
