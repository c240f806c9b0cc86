//! Errors: what a call can fail with (built without the GIL) and how each becomes
//! an exception of `sop._errors` (one class per `sop::ErrorKind`).

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use sop::ErrorKind;

/// An error of a binding call. Engine work runs with the GIL released, so errors
/// are plain Rust values until the call is back under the GIL.
#[derive(Debug)]
pub(crate) enum SopErr {
    /// An error of the engine.
    Engine(sop::Error),
    /// A commit whose outcome is unknown, with what `commit_outcome` needs.
    OutcomeUnknown {
        msg: String,
        txn_id: u128,
        since_seq: u64,
    },
    /// The transaction was committed or rolled back.
    Ended,
    /// The database handle was closed.
    Closed,
    /// The handle was inherited through fork(): opened in process `pid`.
    Forked { pid: u32 },
    /// A bad argument found by the binding (a `sop.InvalidInputError`).
    Invalid(String),
    /// A value of the wrong Python type (a `TypeError`).
    Type(String),
}

pub(crate) type SopResult<T> = Result<T, SopErr>;

impl From<sop::Error> for SopErr {
    fn from(e: sop::Error) -> Self {
        SopErr::Engine(e)
    }
}

/// The `sop._errors` class of an engine error kind.
fn class_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Retry => "ConflictError",
        ErrorKind::OutcomeUnknown => "CommitOutcomeUnknown",
        ErrorKind::Poisoned => "PoisonedError",
        ErrorKind::Fenced => "FencedError",
        ErrorKind::Corrupt => "CorruptError",
        ErrorKind::InvalidInput => "InvalidInputError",
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::AlreadyExists => "AlreadyExistsError",
        ErrorKind::InUse => "InUseError",
        ErrorKind::DiskFull => "DiskFullError",
        ErrorKind::Io => "IoError",
        ErrorKind::Unavailable => "UnavailableError",
        ErrorKind::Unsupported => "UnsupportedError",
        _ => "Error",
    }
}

/// An instance of `sop._errors.<class>` with `msg`.
fn raise(py: Python<'_>, class: &str, msg: String) -> PyErr {
    let made = py
        .import("sop._errors")
        .and_then(|m| m.getattr(class))
        .and_then(|c| c.call1((msg.clone(),)));
    match made {
        Ok(e) => PyErr::from_value(e),
        // The package is broken (the module is missing): still say what failed.
        Err(e) => PyValueError::new_err(format!("{msg} (and sop._errors failed: {e})")),
    }
}

impl SopErr {
    /// The Python exception.
    pub(crate) fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            SopErr::Engine(e) => raise(py, class_of(e.kind()), e.to_string()),
            SopErr::OutcomeUnknown {
                msg,
                txn_id,
                since_seq,
            } => {
                let e = raise(py, "CommitOutcomeUnknown", msg);
                let v = e.value(py);
                // Attributes on an exception instance: setting them cannot fail.
                let _ = v.setattr("txn_id", txn_id);
                let _ = v.setattr("since_seq", since_seq);
                e
            }
            SopErr::Ended => raise(
                py,
                "TransactionEndedError",
                "the transaction has already been committed or rolled back".into(),
            ),
            SopErr::Closed => raise(py, "ClosedError", "the database handle is closed".into()),
            SopErr::Forked { pid } => raise(
                py,
                "ForkedError",
                format!(
                    "this handle was opened by process {pid} and inherited by process {} \
                     through fork(): open the database again in this process",
                    std::process::id()
                ),
            ),
            SopErr::Invalid(m) => raise(py, "InvalidInputError", m),
            SopErr::Type(m) => PyTypeError::new_err(m),
        }
    }
}

impl From<SopErr> for PyErr {
    fn from(e: SopErr) -> PyErr {
        // Conversions happen once a call is back under the GIL: attaching is then
        // only a check.
        Python::attach(|py| e.into_py_err(py))
    }
}
