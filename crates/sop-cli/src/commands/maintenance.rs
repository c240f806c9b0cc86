//! Looking after a database: `sop stats`, `check`, `recover`, `reclaim` and
//! `compact`.

use crate::args::Cli;
use crate::db::{blob_bytes, folder_bytes, log_bytes, open, store_blob_bytes};
use crate::output::{emit, Exit, EXIT_FAULTS};
use anyhow::Result;
use serde_json::{json, Value};
use sop::Error;

pub fn stats(cli: &Cli) -> Result<()> {
    let db = open(cli, true)?;
    let st = db.stats()?;
    let log = log_bytes(cli)?;
    let blobs = blob_bytes(cli)?;
    let all = folder_bytes(cli)?;
    if cli.json {
        let stores: Vec<Value> = st
            .stores
            .iter()
            .map(|s| {
                let b = store_blob_bytes(cli, s.info.id).unwrap_or(0);
                json!({"name": s.info.name, "items": s.items, "nodes": s.nodes, "delta_nodes": s.delta_nodes, "node_bytes": s.node_bytes, "blob_bytes": b})
            })
            .collect();
        println!(
            "{}",
            json!({"head": st.head, "stores": stores, "bytes": {"log": log, "blobs": blobs, "total": all}})
        );
        return Ok(());
    }
    println!("database {} (log head {})", cli.db.display(), st.head);
    println!(
        "{:<24} {:>12} {:>10} {:>14}",
        "store", "items", "nodes", "node bytes"
    );
    for s in &st.stores {
        println!(
            "{:<24} {:>12} {:>10} {:>14}",
            s.info.name, s.items, s.nodes, s.node_bytes
        );
    }
    println!("bytes on disk: {all} ({log} in the log, {blobs} in big-value blobs)");
    Ok(())
}

pub fn check(cli: &Cli) -> Result<()> {
    // Look at the folder as it is: no recovery first.
    let fault = |what: String| -> Result<()> {
        if cli.json {
            println!("{}", json!({"ok": false, "problems": [what]}));
        } else {
            println!("FAULT: {what}");
            println!("check failed: 1 fault");
        }
        Err(Exit(EXIT_FAULTS).into())
    };
    let db = match open(cli, false) {
        Ok(db) => db,
        Err(e) => match e.downcast_ref::<Error>() {
            Some(Error::Corrupt { .. } | Error::Io { .. } | Error::UnsupportedVersion { .. }) => {
                return fault(format!("{:#}", e.root_cause()))
            }
            _ => return Err(e),
        },
    };
    let r = match db.check() {
        Ok(r) => r,
        Err(e) => return fault(e.to_string()),
    };
    if cli.json {
        let stores: Vec<Value> = r
            .stores
            .iter()
            .map(|s| json!({"name": s.name, "items": s.items, "nodes": s.nodes, "depth": s.depth}))
            .collect();
        println!(
            "{}",
            json!({"ok": r.is_ok(), "head": r.head, "records": r.records, "stores": stores,
                   "problems": r.problems, "garbage": r.garbage})
        );
    } else {
        println!(
            "checked {} log records (head {}) and {} stores",
            r.records,
            r.head,
            r.stores.len()
        );
        for s in &r.stores {
            println!(
                "  {}: {} items, {} nodes, depth {}",
                s.name, s.items, s.nodes, s.depth
            );
        }
        for g in &r.garbage {
            println!("note: {g} (removed by `sop recover`)");
        }
        for p in &r.problems {
            println!("FAULT: {p}");
        }
        if r.is_ok() {
            println!("ok: no faults");
        } else {
            println!("check failed: {} faults", r.problems.len());
        }
    }
    if r.is_ok() {
        Ok(())
    } else {
        Err(Exit(EXIT_FAULTS).into())
    }
}

pub fn recover(cli: &Cli) -> Result<()> {
    let db = open(cli, false)?;
    let r = db.recover()?;
    let head = db.head()?;
    emit(
        cli.json,
        format!(
            "recovery: {} dead processes; rolled back {} uncommitted commit records (temporary files) and removed {} \
             big-value blobs of uncommitted transactions; every record in the log (head {head}) is committed, \
             nothing to roll forward",
            r.dead_processes, r.removed_temp_files, r.removed_blobs
        ),
        json!({"dead_processes": r.dead_processes, "removed_temp_files": r.removed_temp_files,
               "removed_blobs": r.removed_blobs, "head": head}),
    );
    Ok(())
}

pub fn reclaim(cli: &Cli) -> Result<()> {
    let db = open(cli, true)?;
    let r = db.reclaim()?;
    let text = match &r.skipped {
        Some(why) => format!("reclaim skipped: {why}"),
        None => format!("reclaimed {} commit records, {} bytes", r.retired, r.bytes),
    };
    emit(
        cli.json,
        text,
        json!({"retired": r.retired, "bytes": r.bytes, "skipped": r.skipped}),
    );
    Ok(())
}

pub fn pack(cli: &Cli, dest: &std::path::Path) -> Result<()> {
    let db = open(cli, true)?;
    let r = db.pack_into(dest)?;
    emit(
        cli.json,
        format!(
            "packed {} stores, {} items as of commit {} into {} ({} bytes)",
            r.stores,
            r.items,
            r.source_seq,
            dest.display(),
            r.bytes
        ),
        json!({"stores": r.stores, "items": r.items, "source_seq": r.source_seq,
               "dest": dest.display().to_string(), "bytes": r.bytes}),
    );
    Ok(())
}

pub fn compact(cli: &Cli, min_dead: f64) -> Result<()> {
    let db = open(cli, true)?;
    let r = db.compact_with(&sop::CompactOptions {
        min_dead_fraction: min_dead,
        ..Default::default()
    })?;
    let mut text = format!(
        "moved {} nodes and {} values ({} bytes) out of {} commit records in {} commits; \
         reclaimed {} commit records, {} bytes",
        r.nodes_moved,
        r.values_moved,
        r.bytes_moved,
        r.records_emptied,
        r.commits,
        r.reclaim.retired,
        r.reclaim.bytes
    );
    if let Some(why) = &r.reclaim.skipped {
        text.push_str(&format!(" (reclaim skipped: {why})"));
    }
    emit(cli.json, text, serde_json::to_value(&r)?);
    Ok(())
}
