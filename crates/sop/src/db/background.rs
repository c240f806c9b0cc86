//! The background thread of an open database: periodic recovery, garbage
//! collection and compaction.

use crate::engine::DbInner;
use crate::maintenance::{compact, recovery};
use std::time::Duration;

/// Run recovery every `every` while the database is open (the thread holds only a
/// weak reference and ends when the database is dropped).
pub(super) fn spawn_recovery(weak: std::sync::Weak<DbInner>, every: Duration) {
    let _ = std::thread::Builder::new()
        .name("sop-recovery".into())
        .spawn(move || {
            let step = Duration::from_millis(100).min(every);
            // Paced in real time (so the thread ends soon after the database),
            // due by the clock of the I/O seam (which a test may hold still).
            let mut last = None;
            loop {
                std::thread::sleep(step);
                let Some(inner) = weak.upgrade() else { return };
                if inner.is_closed() {
                    return;
                }
                let now = inner.vfs.now();
                let since = *last.get_or_insert(now);
                if now.saturating_sub(since) < every {
                    continue;
                }
                last = Some(now);
                if let Err(e) = recovery::recover(&inner) {
                    tracing::warn!(error = %e, "periodic recovery failed");
                }
                inner.collect_trash();
                if inner.opts.auto_reclaim {
                    let o = compact::CompactOptions {
                        write_out_journal: false,
                        ..Default::default()
                    };
                    if let Err(e) = compact::compact_with(&inner, &o, &Default::default()) {
                        tracing::warn!(error = %e, "periodic compaction failed");
                    }
                }
            }
        });
}
