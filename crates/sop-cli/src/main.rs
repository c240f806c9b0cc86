//! `sop`: create, fill, inspect, check and repair SOP databases from the shell.
//!
//! Every command works on the database folder given by `--db` (default
//! `./sop-data`). Output is human-readable, or JSON with `--json`; errors go to
//! stderr with a non-zero exit code (1: error, 2: bad usage, 3: `sop check` found
//! faults). Stores made here are JSON stores (see docs/FORMAT.md, "JSON stores").

mod args;
mod db;
mod output;

use anyhow::{anyhow, bail, Context, Result};
use args::{json_arg, parse_spec, Cli, Cmd, StoreCmd};
use clap::Parser;
use db::{dir_bytes, open};
use output::{chain_text, emit, placement, spec_text, Exit, ItemLine, EXIT_FAULTS};
use serde_json::{json, Value};
use sop::{Coordination, Database, DbOptions, Error, StoreOptions, TxMode, ValuePlacement};
use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    output::exit_code(run(&cli))
}

fn run(cli: &Cli) -> Result<()> {
    match &cli.cmd {
        Cmd::Init { redis } => init(cli, redis.as_deref()),
        Cmd::Store { cmd } => match cmd {
            StoreCmd::Create {
                name,
                slot_length,
                unique,
                key_spec,
                values,
                description,
            } => {
                let opts = StoreOptions {
                    slot_length: usize::try_from(*slot_length).unwrap_or(usize::MAX),
                    unique: *unique,
                    values: (*values).into(),
                    description: description.clone(),
                    ..Default::default()
                };
                store_create(cli, name, opts, key_spec.as_deref())
            }
            StoreCmd::List => store_list(cli),
            StoreCmd::Info { name } => store_info(cli, name),
            StoreCmd::Drop { name } => store_drop(cli, name),
        },
        Cmd::Put { store, key, value } => put(cli, store, key, value),
        Cmd::Get { store, key } => get(cli, store, key),
        Cmd::Del { store, key } => del(cli, store, key),
        Cmd::Scan {
            store,
            from,
            to,
            desc,
            limit,
        } => scan(cli, store, from.as_deref(), to.as_deref(), *desc, *limit),
        Cmd::Import {
            store,
            file,
            batch,
            verbose,
        } => import(cli, store, file, *batch, *verbose),
        Cmd::Export { store, file } => export(cli, store, file.as_deref()),
        Cmd::Stats => stats(cli),
        Cmd::Check => check(cli),
        Cmd::Recover => recover(cli),
        Cmd::Reclaim => reclaim(cli),
        Cmd::Compact { min_dead } => compact(cli, *min_dead),
        Cmd::Quickstart => quickstart(cli),
    }
}

// ---------------------------------------------------------------- helpers

/// One line of an import: an object with exactly the members "key" and "value".
fn parse_line(line: &str) -> Result<(Value, Value)> {
    let what = "not a JSON line {\"key\":…,\"value\":…}";
    let mut m: serde_json::Map<String, Value> =
        serde_json::from_str(line).map_err(|e| anyhow!("{what}: {e}"))?;
    if let Some(other) = m.keys().find(|k| *k != "key" && *k != "value") {
        bail!("{what}: unknown member {other:?}");
    }
    let key = m
        .remove("key")
        .ok_or_else(|| anyhow!("{what}: missing member \"key\""))?;
    let value = m
        .remove("value")
        .ok_or_else(|| anyhow!("{what}: missing member \"value\""))?;
    Ok((key, value))
}

// ---------------------------------------------------------------- commands

fn init(cli: &Cli, redis: Option<&str>) -> Result<()> {
    let coordination = match redis {
        Some(url) => {
            let ok = ["redis://", "rediss://", "redis+unix://"]
                .iter()
                .any(|p| url.starts_with(p) && url.len() > p.len());
            if !ok {
                bail!("invalid --redis URL {url:?}: expected redis://host[:port][/db] (or rediss://, redis+unix://)");
            }
            Coordination::Redis {
                url: url.to_string(),
            }
        }
        None => Coordination::Standalone,
    };
    Database::create_config(&cli.db, coordination.clone()).map_err(|e| match e {
        Error::AlreadyExists(p) => anyhow!("a database already exists at {}", p.display()),
        e => anyhow::Error::new(e)
            .context(format!("cannot create a database at {}", cli.db.display())),
    })?;
    let mode = match &coordination {
        Coordination::Standalone => {
            drop(open(cli, true)?); // lays out the folders
            "standalone".to_string()
        }
        Coordination::Redis { url } => {
            format!("clustered, coordinated through Redis at {url} (saved in sop.json; this build opens standalone databases only)")
        }
    };
    emit(
        cli,
        format!("created database at {} ({mode})", cli.db.display()),
        json!({"path": cli.db, "coordination": coordination}),
    );
    Ok(())
}

fn store_create(cli: &Cli, name: &str, opts: StoreOptions, spec: Option<&str>) -> Result<()> {
    let spec = spec.map(parse_spec).transpose().context("bad --key-spec")?;
    opts.validate().context("bad --slot-length")?;
    let db = open(cli, true)?;
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.create_json_store(name, opts.clone(), spec.clone())?;
    let info = (**s.info()).clone();
    tx.commit()?;
    emit(
        cli,
        format!(
            "created store {name} ({}; {}; values {}; {} per node)",
            spec_text(spec.as_ref()),
            if opts.unique {
                "unique keys"
            } else {
                "duplicate keys allowed"
            },
            placement(opts.values),
            opts.slot_length
        ),
        serde_json::to_value(&info)?,
    );
    Ok(())
}

fn store_list(cli: &Cli) -> Result<()> {
    let db = open(cli, true)?;
    let stats = db.stats()?;
    if cli.json {
        let v: Vec<Value> = stats
            .stores
            .iter()
            .map(|s| {
                json!({"name": s.info.name, "items": s.items, "key_type": s.info.key_type,
                       "key_spec": s.info.key_spec, "unique": s.info.options.unique,
                       "values": s.info.options.values})
            })
            .collect();
        println!("{}", Value::Array(v));
        return Ok(());
    }
    if stats.stores.is_empty() {
        println!("no stores");
    }
    for s in &stats.stores {
        let keys = if s.info.key_type == sop::json::JSON_KEY_TYPE {
            format!("json, {}", spec_text(s.info.key_spec.as_ref()))
        } else {
            format!("typed key {}", s.info.key_type)
        };
        println!("{}\t{} items\t{keys}", s.info.name, s.items);
    }
    Ok(())
}

fn store_info(cli: &Cli, name: &str) -> Result<()> {
    let db = open(cli, true)?;
    let stats = db.stats()?;
    let s = stats
        .stores
        .iter()
        .find(|s| s.info.name == name)
        .ok_or_else(|| Error::StoreNotFound(name.to_string()))?;
    let blob_bytes = dir_bytes(&cli.db.join("blobs").join(format!("{:016x}", s.info.id)))?;
    if cli.json {
        let mut v = serde_json::to_value(s)?;
        v["blob_bytes"] = json!(blob_bytes);
        println!("{v}");
        return Ok(());
    }
    let i = &s.info;
    println!("store      {}", i.name);
    println!("id         {:016x}", i.id);
    println!("key type   {}", i.key_type);
    if i.key_type == sop::json::JSON_KEY_TYPE {
        println!(
            "key spec   {}",
            i.key_spec
                .as_ref()
                .map_or("none (primitive keys)".into(), |s| serde_json::to_string(s)
                    .unwrap())
        );
    }
    println!("unique     {}", i.options.unique);
    println!("values     {}", placement(i.options.values));
    println!("slots      {}", i.options.slot_length);
    if !i.options.description.is_empty() {
        println!("about      {}", i.options.description);
    }
    println!("items      {}", s.items);
    println!(
        "nodes      {} ({} bytes; {} leaves stored as deltas)",
        s.nodes, s.node_bytes, s.delta_nodes
    );
    if i.options.values == ValuePlacement::Big {
        println!("big values {blob_bytes} bytes");
    }
    println!("created in commit {}", s.created_seq);
    Ok(())
}

fn store_drop(cli: &Cli, name: &str) -> Result<()> {
    let db = open(cli, true)?;
    let tx = db.begin(TxMode::ForWriting)?;
    let count = tx.store_info(name)?.count;
    tx.drop_store(name)?;
    tx.commit()?;
    emit(
        cli,
        format!("dropped store {name} ({count} items)"),
        json!({"dropped": name, "items": count}),
    );
    Ok(())
}

fn put(cli: &Cli, store: &str, key: &str, value: &str) -> Result<()> {
    let key = json_arg("KEY", key)?;
    let value = json_arg("VALUE", value)?;
    let db = open(cli, true)?;
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.open_json_store(store)?;
    let inserted = if s.info().options.unique {
        s.upsert(&key, &value)?
    } else {
        s.add(&key, &value)?
    };
    tx.commit()?;
    emit(
        cli,
        if inserted { "inserted" } else { "updated" },
        json!({"inserted": inserted}),
    );
    Ok(())
}

fn get(cli: &Cli, store: &str, key: &str) -> Result<()> {
    let key = json_arg("KEY", key)?;
    let db = open(cli, true)?;
    let tx = db.begin(TxMode::NoCheck)?;
    let s = tx.open_json_store(store)?;
    match s.get_item(&key)? {
        Some((k, v)) => {
            emit(
                cli,
                &v,
                serde_json::to_value(ItemLine { key: &k, value: &v })?,
            );
            Ok(())
        }
        None => bail!("no item with key {key} in store {store}"),
    }
}

fn del(cli: &Cli, store: &str, key: &str) -> Result<()> {
    let key = json_arg("KEY", key)?;
    let db = open(cli, true)?;
    let tx = db.begin(TxMode::ForWriting)?;
    let s = tx.open_json_store(store)?;
    if !s.remove(&key)? {
        bail!("no item with key {key} in store {store}");
    }
    tx.commit()?;
    emit(cli, "deleted", json!({"deleted": true}));
    Ok(())
}

fn scan(
    cli: &Cli,
    store: &str,
    from: Option<&str>,
    to: Option<&str>,
    desc: bool,
    limit: Option<u64>,
) -> Result<()> {
    let from = from.map(|t| json_arg("--from", t)).transpose()?;
    let to = to.map(|t| json_arg("--to", t)).transpose()?;
    let db = open(cli, true)?;
    let tx = db.begin(TxMode::NoCheck)?;
    let s = tx.open_json_store(store)?;
    let range = s.range(from.as_ref(), to.as_ref(), desc)?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for item in range.take(limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX))) {
        let (k, v) = item?;
        serde_json::to_writer(&mut out, &ItemLine { key: &k, value: &v })?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

fn import(cli: &Cli, store: &str, file: &Path, batch: u64, verbose: bool) -> Result<()> {
    let db = open(cli, true)?;
    let unique = {
        let tx = db.begin(TxMode::NoCheck)?;
        let s = tx.open_json_store(store)?;
        s.info().options.unique
    };
    let (mut input, size): (Box<dyn BufRead>, Option<u64>) = if file == Path::new("-") {
        (Box::new(std::io::stdin().lock()), None)
    } else {
        let f =
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        let size = f.metadata().ok().map(|m| m.len());
        (
            Box::new(std::io::BufReader::with_capacity(1 << 20, f)),
            size,
        )
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = match size {
            Some(n) => indicatif::ProgressBar::new(n).with_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {msg} ({eta})",
                )
                .unwrap(),
            ),
            None => indicatif::ProgressBar::new_spinner(),
        };
        b.set_message("0 items");
        b
    });
    let (mut line_no, mut bytes_read, mut total, mut batches) = (0u64, 0u64, 0u64, 0u64);
    let mut buf = String::new();
    let mut eof = false;
    let fail = |line_no: u64, total: u64, batches: u64, e: anyhow::Error| {
        anyhow!(
            "line {line_no}: {}; import stopped: the {total} items of the {batches} batches committed before it \
             stay, the batch holding this line was not written",
            chain_text(&e)
        )
    };
    while !eof {
        let tx = db.begin(TxMode::ForWriting)?;
        let s = tx.open_json_store(store)?;
        let mut n = 0u64;
        while n < batch {
            buf.clear();
            let read = match input.read_line(&mut buf) {
                Ok(r) => r,
                Err(e) => {
                    return Err(fail(
                        line_no + 1,
                        total,
                        batches,
                        anyhow::Error::new(e).context("cannot read the input"),
                    ))
                }
            };
            if read == 0 {
                eof = true;
                break;
            }
            line_no += 1;
            bytes_read += read as u64;
            if buf.trim().is_empty() {
                continue;
            }
            let (key, value) = parse_line(&buf).map_err(|e| fail(line_no, total, batches, e))?;
            let r = if unique {
                s.upsert(&key, &value)
            } else {
                s.add(&key, &value)
            };
            r.map_err(|e| fail(line_no, total, batches, e.into()))?;
            n += 1;
            if let Some(b) = &bar {
                if n & 1023 == 0 {
                    b.set_position(bytes_read);
                    b.set_message(format!("{} items", total + n));
                }
            }
        }
        if n == 0 {
            break;
        }
        tx.commit()
            .with_context(|| format!("committing the batch ending at line {line_no}"))?;
        total += n;
        batches += 1;
        if let Some(b) = &bar {
            b.set_position(bytes_read);
            b.set_message(format!("{total} items"));
        }
        if verbose {
            let mut o = std::io::stdout().lock();
            writeln!(
                o,
                "committed batch {batches}: {n} items, {total} in all (through line {line_no})"
            )?;
            o.flush()?;
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    emit(
        cli,
        format!("imported {total} items in {batches} batches into {store}"),
        json!({"items": total, "batches": batches, "lines": line_no}),
    );
    Ok(())
}

fn export(cli: &Cli, store: &str, file: Option<&Path>) -> Result<()> {
    let db = open(cli, true)?;
    let tx = db.begin(TxMode::NoCheck)?;
    let s = tx.open_json_store(store)?;
    let sink: Box<dyn Write> = match file {
        Some(p) => Box::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out = BufWriter::with_capacity(1 << 20, sink);
    let mut n = 0u64;
    for item in s.iter()? {
        let (k, v) = item?;
        serde_json::to_writer(&mut out, &ItemLine { key: &k, value: &v })?;
        out.write_all(b"\n")?;
        n += 1;
    }
    out.flush()?;
    if let Some(p) = file {
        emit(
            cli,
            format!("exported {n} items to {}", p.display()),
            json!({"items": n, "file": p}),
        );
    }
    Ok(())
}

fn stats(cli: &Cli) -> Result<()> {
    let db = open(cli, true)?;
    let st = db.stats()?;
    let log = dir_bytes(&cli.db.join("log"))?;
    let blobs = dir_bytes(&cli.db.join("blobs"))?;
    let all = dir_bytes(&cli.db)?;
    if cli.json {
        let stores: Vec<Value> = st
            .stores
            .iter()
            .map(|s| {
                let b = dir_bytes(&cli.db.join("blobs").join(format!("{:016x}", s.info.id))).unwrap_or(0);
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

fn check(cli: &Cli) -> Result<()> {
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

fn recover(cli: &Cli) -> Result<()> {
    let db = open(cli, false)?;
    let r = db.recover()?;
    let head = db.head()?;
    emit(
        cli,
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

fn reclaim(cli: &Cli) -> Result<()> {
    let db = open(cli, true)?;
    let r = db.reclaim()?;
    let text = match &r.skipped {
        Some(why) => format!("reclaim skipped: {why}"),
        None => format!("reclaimed {} commit records, {} bytes", r.retired, r.bytes),
    };
    emit(
        cli,
        text,
        json!({"retired": r.retired, "bytes": r.bytes, "skipped": r.skipped}),
    );
    Ok(())
}

fn compact(cli: &Cli, min_dead: f64) -> Result<()> {
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
    emit(cli, text, serde_json::to_value(&r)?);
    Ok(())
}

fn quickstart(cli: &Cli) -> Result<()> {
    let say = |s: String| {
        if !cli.json {
            println!("{s}");
        }
    };
    let fresh = !cli.db.join(sop::db::CONFIG_FILE).exists();
    let db = Database::open(
        &cli.db,
        DbOptions {
            recovery_interval: None,
            exclusive: cli.exclusive,
            ..Default::default()
        },
    )
    .with_context(|| format!("cannot open or create a database at {}", cli.db.display()))?;
    say(format!(
        "{} database at {} (log head {})",
        if fresh { "created" } else { "opened" },
        cli.db.display(),
        db.head()?
    ));

    let spec = parse_spec("last,born")?;
    let tx = db.begin(TxMode::ForWriting)?;
    let people = match tx.open_json_store("people") {
        Ok(s) => s,
        Err(Error::StoreNotFound(_)) => {
            say(format!(
                "creating JSON store \"people\" ({})",
                spec_text(Some(&spec))
            ));
            tx.create_json_store("people", StoreOptions::default(), Some(spec))?
        }
        Err(e) => return Err(e.into()),
    };
    let rows = [
        ("Lovelace", 1815, "Ada"),
        ("Turing", 1912, "Alan"),
        ("Hopper", 1906, "Grace"),
        ("Knuth", 1938, "Donald"),
    ];
    for (last, born, first) in rows {
        people.upsert(
            &json!({"last": last, "born": born}),
            &json!({"first": first}),
        )?;
    }
    let count = people.count()?;
    say(format!(
        "wrote {} people; the store holds {count}",
        rows.len()
    ));
    drop(people);
    tx.commit()?;
    say("committed (durable)".into());

    let tx = db.begin(TxMode::ForReading)?;
    let people = tx.open_json_store("people")?;
    let key = json!({"last": "Lovelace", "born": 1815});
    let ada = people.get(&key)?;
    say(format!(
        "get {key} -> {}",
        ada.as_ref().map_or("none".into(), |v| v.to_string())
    ));
    let (from, to) = (json!({"last": "H"}), json!({"last": "L"}));
    say(format!("scan from {from} to {to}:"));
    let mut scanned = Vec::new();
    for item in people.range(Some(&from), Some(&to), false)? {
        let (k, v) = item?;
        say(format!("  {k} {v}"));
        scanned.push(json!({"key": k, "value": v}));
    }
    drop(people);
    tx.commit()?;

    let report = db.check()?;
    say(format!(
        "check: {} stores, {} log records, {} problems",
        report.stores.len(),
        report.records,
        report.problems.len()
    ));
    say(format!("next: sop --db {} scan people", cli.db.display()));
    if cli.json {
        println!(
            "{}",
            json!({"path": cli.db, "created": fresh, "items": count, "get": ada, "scan": scanned,
                   "problems": report.problems})
        );
    }
    if !report.is_ok() {
        return Err(Exit(EXIT_FAULTS).into());
    }
    Ok(())
}
