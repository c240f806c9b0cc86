//! `sop`: create, fill, inspect, check and repair SOP databases from the shell.
//!
//! Every command works on the database folder given by `--db` (default
//! `./sop-data`). Output is human-readable, or JSON with `--json`; errors go to
//! stderr with a non-zero exit code (1: error, 2: bad usage, 3: `sop check` found
//! faults, 130: an import stopped by SIGINT), as `{"error": kind, "message": …}`
//! with `--json`. Stores made here are JSON stores (see docs/FORMAT.md, "JSON stores").

mod args;
mod commands;
mod db;
mod output;
mod sigint;
mod sigterm;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return args::parse_failed(e),
    };
    // Every command but `serve` works on one database.
    if cli.dbs.len() > 1 && !matches!(cli.cmd, args::Cmd::Serve { .. }) {
        let e = <args::Cli as clap::CommandFactory>::command().error(
            clap::error::ErrorKind::ArgumentConflict,
            "--db is given more than once (only `sop serve` serves several databases)",
        );
        return args::parse_failed(e);
    }
    cli.db = cli
        .dbs
        .last()
        .cloned()
        .unwrap_or_else(|| "./sop-data".into());
    output::exit_code(cli.json, commands::run(&cli))
}
