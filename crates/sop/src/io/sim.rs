//! Simulated file system for fault injection (to be written).
