//! Fork safety. A child made by fork() inherits the parent's handles but not its
//! threads, locks or lease: using them there would corrupt the parent's state.
//! Every handle records the fork generation it was made in; a handler registered
//! with `pthread_atfork` bumps the generation in each child, so a handle used in
//! a child fails with `sop.ForkedError`, and dropping it there leaks the engine's
//! objects instead of running their destructors (which would release the parent's
//! locks and files).

use crate::errors::{SopErr, SopResult};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

static GENERATION: AtomicU64 = AtomicU64::new(0);

extern "C" fn in_child() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

/// Register the fork handler (once per process; children inherit it).
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a plain function that touches only an atomic.
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
    });
}

/// Where a handle was made: the process and its fork generation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin {
    pid: u32,
    generation: u64,
}

impl Origin {
    /// The calling process.
    pub(crate) fn here() -> Origin {
        Origin {
            pid: std::process::id(),
            generation: GENERATION.load(Ordering::SeqCst),
        }
    }
    /// Whether this process is a fork()ed child of the one that made the handle.
    pub(crate) fn forked(&self) -> bool {
        GENERATION.load(Ordering::Relaxed) != self.generation
    }
    /// `sop.ForkedError` in a child.
    pub(crate) fn check(&self) -> SopResult<()> {
        if self.forked() {
            Err(SopErr::Forked { pid: self.pid })
        } else {
            Ok(())
        }
    }
}
