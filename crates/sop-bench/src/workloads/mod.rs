//! The workloads. Each takes an opened, empty engine and records its phases.

pub mod mixed;
pub mod redb;
pub mod sop_go;
