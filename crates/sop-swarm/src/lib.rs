//! The compute swarm on SOP: scripts stored in the database, a job queue that
//! any process claims from, and workers. There is no master: every worker that
//! opens the database (a folder in Standalone mode, or a Clustered database)
//! takes jobs from the same stores, through ordinary transactions.
//!
//! # Language: Lua 5.4 (through `mlua`, vendored)
//!
//! Scripts are Lua 5.4, as Redis users know from `EVAL`: small, well kept,
//! made to be embedded, with an instruction hook and a custom allocator that
//! give a per-run instruction and memory limit for free. `mlua` compiles Lua
//! from source (feature `vendored`), so nothing is installed on the host.
//! JavaScript (`rquickjs`) was the other candidate; Lua's smaller runtime (a
//! fresh state per run costs about 100 µs) and its hooks decided it.
//!
//! # Where things live
//!
//! Four JSON stores, created on first use ([`names`]): `_swarm.scripts` (every
//! version of every script, keyed by name and version), `_swarm.jobs` (one record
//! per job, keyed by its id), `_swarm.queue` (an index of the jobs that can be
//! claimed, keyed by queue, partition, priority and the time they are due) and
//! `_swarm.keys` (idempotency keys to job ids). So the queue has the database's
//! durability and needs no other server.
//!
//! # Invariants
//!
//! - **Exactly-once effects.** A job's run is ONE `ForWriting` transaction: it
//!   re-reads the job record and checks the lease, runs the script (its writes,
//!   the jobs it submits), then writes the job's result and its state `done` and
//!   removes its queue entry, and commits. Either all of that is in the database
//!   or none of it is. A conflict runs the script again from the start with the
//!   same input (a fresh transaction). A script may commit in steps
//!   (`sop.checkpoint(state)`): each step is such a transaction, committing its
//!   effects with `state` in the job record, and a later attempt resumes from
//!   the last state committed, so each step's effects are there once.
//! - **Fencing.** A claim gives a lease: owner, attempt number, deadline. The
//!   completing transaction reads the job record and refuses to go on unless
//!   it is still `running` with the same owner and attempt and the deadline has
//!   not passed; because that read is in its read set, a claim by another worker
//!   committed in between (after the lease expired) makes the commit fail as a
//!   conflict, and the retry sees the new owner and gives the job up. A worker
//!   paused past its lease (SIGSTOP, a long GC, a VM migration) therefore cannot
//!   commit the job's effects.
//! - **No job lost.** A job that can still run always has a queue entry; a
//!   running job's entry is due at its lease deadline, so when its worker dies
//!   the job becomes claimable again by the expiry alone (the next claim counts
//!   the lost attempt and records "lease expired").
//! - **Claims spread.** The queue is split into [`PARTITIONS`] partitions (a
//!   job's partition is drawn at submit); a claimer starts at a random one and
//!   takes the first due job there, so concurrent claimers mostly read and take
//!   different parts of the queue and commit without conflicting.
//! - **Bounded runs.** Every run has an instruction limit, a memory limit and a
//!   time limit ([`Limits`]); hitting one fails the run with a clear error and its
//!   transaction rolls back. The sandbox has no file, network, process or
//!   debug access ([`sandbox`]); a script's manifest may ask for reading or
//!   writing files under named folders, which it gets only where its runner
//!   allows it ([`grants`]).
//! - **Failures.** An error in a script fails the attempt with its message and
//!   stack; the job is retried with exponential backoff until `max_attempts`,
//!   then dead-lettered (state `dead`) with every attempt's error.
//!
//! Times are wall-clock milliseconds since the Unix epoch: workers on several
//! hosts need clocks in step to within a small part of the lease.

pub mod api;
pub mod error;
pub mod grants;
pub mod jobs;
pub mod json;
pub mod names;
pub mod sandbox;
pub mod scripts;
pub mod swarm;
pub mod time;
pub mod worker;

pub use error::{Result, SwarmError};
pub use grants::{Access, Grant, Grants};
pub use jobs::{AttemptError, Job, JobFilter, JobState, Lease, SubmitOptions, PARTITIONS};
pub use sandbox::Limits;
pub use scripts::ScriptVersion;
pub use swarm::{Swarm, SwarmOptions};
pub use worker::{Worker, WorkerOptions, WorkerReport};
