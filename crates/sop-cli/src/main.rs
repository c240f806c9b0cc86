//! `sop`: create, fill, inspect, check and repair SOP databases from the shell.
//!
//! Every command works on the database folder given by `--db` (default
//! `./sop-data`). Output is human-readable, or JSON with `--json`; errors go to
//! stderr with a non-zero exit code (1: error, 2: bad usage, 3: `sop check` found
//! faults). Stores made here are JSON stores (see docs/FORMAT.md, "JSON stores").

mod args;
mod commands;
mod db;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    output::exit_code(commands::run(&cli))
}
