//! SIGTERM and SIGINT as a flag, for `sop worker`: it stops claiming jobs,
//! lets the running ones finish (up to its grace period) and exits. A second
//! signal ends the process at once (what a job had not committed is dropped,
//! and its lease brings it back to the queue).

use std::sync::atomic::{AtomicBool, Ordering};

static CAUGHT: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_signal(_: libc::c_int) {
    if CAUGHT.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(143) };
    }
}

/// From now on, SIGTERM and SIGINT set the flag instead of ending the process.
pub fn catch() {
    #[cfg(unix)]
    // SAFETY: the handler only swaps an atomic (and calls _exit); installing it
    // with `sigaction`, an emptied mask and SA_RESTART is plain use.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGTERM, &sa, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
}

/// Has a stop signal come since `catch`?
pub fn caught() -> bool {
    CAUGHT.load(Ordering::SeqCst)
}
