//! The workloads. Each takes an opened, empty engine and records its phases; `swarm` instead
//! starts writer processes over a folder of its own (sop and sop-redis only).

pub mod mixed;
pub mod redb;
pub mod sop_go;
pub mod swarm;
