//! SIGINT (Ctrl-C) as a flag: `sop import` checks it between lines and stops
//! cleanly between batches instead of dying in the middle of one; a second
//! SIGINT ends it at once.

use std::sync::atomic::{AtomicBool, Ordering};

static CAUGHT: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_sigint(_: libc::c_int) {
    // Only an atomic swap, and _exit: async-signal-safe. A second SIGINT ends
    // the process at once (an import blocked reading a terminal, say): what it
    // did not commit is rolled back by recovery, as after a crash.
    if CAUGHT.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// From now on, SIGINT sets the flag instead of ending the process.
pub fn catch() {
    #[cfg(unix)]
    // SAFETY: the handler only stores to an atomic; `sigaction` with a zeroed,
    // emptied mask and SA_RESTART (reads restart after the signal) is plain use.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
}

/// Has SIGINT come since `catch`?
pub fn caught() -> bool {
    CAUGHT.load(Ordering::SeqCst)
}
