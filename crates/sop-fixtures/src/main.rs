//! `sop-worker`: the worker processes that the multi-process tests of Clustered mode
//! (`tests/processes.rs`, `tests/bank.rs`) start, one subcommand per kind of worker.
//! A test fixture, not a tool: the tests find it through `CARGO_BIN_EXE_sop-worker`.
//!
//! Every worker opens the same folder in Clustered mode (Redis coordination) and
//! reports on stdout, one line per event, each line written with a single
//! `write(2)` of less than `PIPE_BUF` bytes so a SIGKILL never tears one. A
//! line is printed only after the event happened (e.g. after `commit` returned
//! Ok), so the parent knows exactly which transactions committed.

mod common;
mod workers;

use clap::Parser;

#[derive(Parser)]
#[command(
    name = "sop-worker",
    about = "Worker processes for SOP's multi-process tests (Clustered mode)"
)]
struct Cli {
    #[command(subcommand)]
    worker: workers::Worker,
}

fn main() {
    std::process::exit(workers::run(Cli::parse().worker));
}
