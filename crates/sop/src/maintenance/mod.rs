//! Maintenance, working on the engine: recovery of what dead processes left
//! (`recovery`), fencing them off (`fencing`), the integrity check (`check`),
//! compaction (`compact`) and retiring dead records (`reclaim`). Each may run at
//! any time, from any process, beside writers; `Database` (`db/maintenance.rs`)
//! and the background thread (`db/background.rs`) call them.

pub(crate) mod check;
pub(crate) mod compact;
pub(crate) mod fencing;
pub(crate) mod progress;
pub(crate) mod reclaim;
pub(crate) mod recovery;

pub use check::{CheckReport, StoreCheck};
pub use compact::{CompactOptions, CompactReport};
pub use progress::Progress;
pub use reclaim::ReclaimReport;
pub use recovery::RecoveryReport;
