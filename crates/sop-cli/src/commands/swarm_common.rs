//! What the swarm's commands share: opening the swarm, and its errors as the
//! CLI reports them.

use crate::args::Cli;
use anyhow::Result;
use sop_swarm::{Limits, Swarm, SwarmError, SwarmOptions};

/// The swarm's error as a CLI error: an engine error keeps its kind; the
/// others get theirs ("not_found", "script", "limit", ...).
pub fn err(e: SwarmError) -> anyhow::Error {
    match e {
        SwarmError::Db(e) => anyhow::Error::new(e),
        SwarmError::Invalid(_) => crate::output::Usage(anyhow::anyhow!(e.to_string())).into(),
        e => crate::output::failure(e.kind_name(), e.to_string()),
    }
}

/// A swarm result as a CLI result.
pub fn lift<T>(r: sop_swarm::Result<T>) -> Result<T> {
    r.map_err(err)
}

/// The swarm on the database at --db (recovered first), running scripts
/// under `limits`.
pub fn open(cli: &Cli, limits: Limits) -> Result<Swarm> {
    open_with(
        cli,
        SwarmOptions {
            limits,
            ..SwarmOptions::default()
        },
    )
}

/// The swarm on the database at --db (recovered first), with `opts`.
pub fn open_with(cli: &Cli, opts: SwarmOptions) -> Result<Swarm> {
    let db = crate::db::open(cli, true)?;
    lift(Swarm::open(db, opts))
}
