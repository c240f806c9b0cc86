//! The library half of `sop-swarm`: what the worker processes share ([`common`]) and the
//! swarm benchmark ([`bench`]): loading the store, the writer processes and the timed
//! phases. The `sop-swarm bench` command and `sop-bench swarm` both drive [`bench`]; each
//! starts writer processes of its own binary.

pub mod bench;
pub mod common;
