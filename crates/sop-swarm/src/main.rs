//! `sop-swarm`: worker processes for the OS-process tests of Clustered mode, and
//! the swarm throughput benchmark.
//!
//! Every worker opens the same folder in Clustered mode (Redis coordination) and
//! reports on stdout, one line per event, each line written with a single
//! `write(2)` of less than `PIPE_BUF` bytes so a SIGKILL never tears one. A
//! line is printed only after the event happened (e.g. after `commit` returned
//! Ok), so the parent knows exactly which transactions committed.

mod workers;

use clap::{Parser, Subcommand};
use sop_swarm::bench;

#[derive(Parser)]
#[command(
    name = "sop-swarm",
    about = "Clustered-mode worker processes and the swarm benchmark for SOP"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// A worker process (used by the tests and by `bench`).
    #[command(subcommand)]
    Worker(workers::Worker),
    /// Aggregate committed transactions per second with 1, 2, 4, 8 writer processes.
    Bench(bench::BenchArgs),
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.cmd {
        Cmd::Worker(w) => workers::run(w),
        Cmd::Bench(b) => bench::run(b),
    };
    std::process::exit(code);
}
