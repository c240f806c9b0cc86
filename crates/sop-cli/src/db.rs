//! Opening the database folder, and measuring it on disk.
//!
//! The folder layout (docs/FORMAT.md) that the CLI needs, `log/` and
//! `blobs/<store id>/`, is spelled out here alone.

use crate::args::Cli;
use anyhow::Result;
use sop::{Database, DbOptions, Error, JsonStore, TxMode};
use std::path::Path;

/// Open an existing database. `recover`: run recovery first (everything but
/// `check` and `recover`, which look at the folder as it is).
pub fn open(cli: &Cli, recover: bool) -> Result<Database> {
    let opts = DbOptions {
        create: false,
        recovery_interval: None,
        recover_on_open: recover,
        exclusive: cli.exclusive,
        object_cache_dir: cli.cache_dir.clone(),
        object_cache_bytes: cli.cache_size.saturating_mul(1 << 20),
        ..Default::default()
    };
    let res = match Database::open(&cli.db, opts.clone()) {
        // A folder this user may only read (read-only media, another user's
        // files): open it read-only, and say so.
        Err(Error::Io { source, .. })
            if !cli.exclusive
                && matches!(
                    source.kind(),
                    std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
                ) =>
        {
            let ro = DbOptions {
                read_only: true,
                ..opts
            };
            let db = Database::open(&cli.db, ro);
            if db.is_ok() {
                eprintln!(
                    "note: {} is not writable ({source}): opened read-only",
                    cli.db.display()
                );
            }
            db
        }
        other => other,
    };
    res.map_err(|e| match e {
        Error::NotFound(p) => crate::output::failure(
            "not_found",
            format!(
                "no database at {} (create one with `sop init`, or choose the folder with --db)",
                p.display()
            ),
        ),
        e => anyhow::Error::new(e)
            .context(format!("cannot open the database at {}", cli.db.display())),
    })
}

/// Run `f` on the JSON store `store` in a read transaction (`TxMode::NoCheck`)
/// on the database, recovered first; nothing is committed.
pub fn read_store<T>(
    cli: &Cli,
    store: &str,
    f: impl FnOnce(&JsonStore<'_>) -> Result<T>,
) -> Result<T> {
    let db = open(cli, true)?;
    let tx = db.begin(TxMode::NoCheck)?;
    let s = tx.open_json_store(store)?;
    f(&s)
}

/// Run `f` on the JSON store `store` in a write transaction on the database,
/// recovered first, and commit when `f` succeeds; when it fails, nothing is
/// written.
pub fn write_store<T>(
    cli: &Cli,
    store: &str,
    f: impl FnOnce(&JsonStore<'_>) -> Result<T>,
) -> Result<T> {
    let db = open(cli, true)?;
    let tx = db.begin(TxMode::ForWriting)?;
    let out = f(&tx.open_json_store(store)?)?;
    tx.commit()?;
    Ok(out)
}

/// Bytes on disk: the whole folder.
pub fn folder_bytes(cli: &Cli) -> Result<u64> {
    dir_bytes(&cli.db)
}

/// Bytes on disk: the commit log, `log/`.
pub fn log_bytes(cli: &Cli) -> Result<u64> {
    dir_bytes(&sop::Layout::new(&cli.db).log())
}

/// Bytes on disk: every store's big-value blobs, `blobs/`.
pub fn blob_bytes(cli: &Cli) -> Result<u64> {
    dir_bytes(&sop::Layout::new(&cli.db).blobs())
}

/// Bytes on disk: one store's big-value blobs, `blobs/<store id as %016x>/`.
pub fn store_blob_bytes(cli: &Cli, store_id: u64) -> Result<u64> {
    dir_bytes(&sop::Layout::new(&cli.db).blob_dir(store_id))
}

/// Total size of the files under `dir` (0 if it does not exist).
fn dir_bytes(dir: &Path) -> Result<u64> {
    let mut total = 0;
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("cannot list {}", dir.display())))
        }
    };
    for entry in rd {
        let entry = entry?;
        let md = entry.metadata()?;
        total += if md.is_dir() {
            dir_bytes(&entry.path())?
        } else {
            md.len()
        };
    }
    Ok(total)
}
