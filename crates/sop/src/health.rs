//! A handle's health: once a write or sync of shared state fails, the handle is
//! *poisoned* and refuses every later commit. After a failed `fsync` the page cache
//! may show bytes the disk never got, and a later sync may report success without
//! writing them: only a reopen (which reads what is really durable) may go on.
//!
//! The engine and its commit log share one `Health`, so a failure seen by either
//! stops both.

use crate::error::Error;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the handle is poisoned, and why (the first such error).
#[derive(Default)]
pub(crate) struct Health {
    poisoned: AtomicBool,
    reason: Mutex<Option<String>>,
}

impl Health {
    /// `Err(Error::Poisoned)` once poisoned.
    pub fn check(&self) -> Result<(), Error> {
        if self.is_poisoned() {
            Err(self.error())
        } else {
            Ok(())
        }
    }

    pub fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Relaxed)
    }

    /// The error every call after poisoning gets.
    pub fn error(&self) -> Error {
        let why = self.reason.lock().clone();
        Error::Poisoned(why.unwrap_or_else(|| "an earlier write or fsync failed".into()))
    }

    /// Poison without a reason of its own (a failed directory sync on the way to
    /// an error that is reported separately).
    pub fn poison(&self) {
        self.poisoned.store(true, Ordering::Relaxed);
    }

    /// Poison, saying why (kept for every later `Poisoned` error).
    pub fn poison_with(&self, why: &Error) {
        self.reason.lock().get_or_insert_with(|| why.to_string());
        self.poison();
    }
}
