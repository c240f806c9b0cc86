//! `sop store`: create, list, describe and drop stores.

use crate::args::{parse_spec, Cli, StoreCmd};
use crate::db::{open, store_blob_bytes};
use crate::output::{emit, placement, spec_text, usage};
use anyhow::{Context, Result};
use serde_json::{json, Value};
use sop::{Error, StoreOptions, TxMode, ValuePlacement};

/// Run a `sop store` subcommand.
pub fn run(cli: &Cli, cmd: &StoreCmd) -> Result<()> {
    match cmd {
        StoreCmd::Create {
            name,
            slot_length,
            unique,
            key_spec,
            values,
            description,
            bytes,
        } => {
            let opts = StoreOptions {
                slot_length: usize::try_from(*slot_length).unwrap_or(usize::MAX),
                unique: *unique,
                values: (*values).into(),
                description: description.clone(),
                ..Default::default()
            };
            store_create(cli, name, opts, key_spec.as_deref(), *bytes)
        }
        StoreCmd::List => store_list(cli),
        StoreCmd::Info { name } => store_info(cli, name),
        StoreCmd::Drop { name } => store_drop(cli, name),
    }
}

fn store_create(
    cli: &Cli,
    name: &str,
    opts: StoreOptions,
    spec: Option<&str>,
    bytes: bool,
) -> Result<()> {
    let spec = usage(spec.map(parse_spec).transpose().context("bad --key-spec"))?;
    usage(opts.validate().context("bad --slot-length"))?;
    let db = open(cli, true)?;
    let tx = db.begin(TxMode::ForWriting)?;
    let created = if bytes {
        tx.create_raw_store(name, crate::commands::blob::BYTES_KEY_TYPE, opts.clone())
            .and_then(|s| s.info())
    } else {
        tx.create_json_store(name, opts.clone(), spec.clone())
            .map(|s| s.info().clone())
    };
    let info = match created {
        Ok(info) => (*info).clone(),
        // A bad name or option the user typed.
        Err(e @ Error::InvalidOption(_)) => return usage(Err(e.into())),
        Err(e) => return Err(e.into()),
    };
    tx.commit()?;
    emit(
        cli.json,
        format!(
            "created store {name} ({}; {}; values {}; {} per node)",
            if bytes {
                "byte keys and values".to_string()
            } else {
                spec_text(spec.as_ref())
            },
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
        let keys = if s.info.key_type == sop::JSON_KEY_TYPE {
            format!("json, {}", spec_text(s.info.key_spec.as_ref()))
        } else if s.info.key_type == crate::commands::blob::BYTES_KEY_TYPE {
            format!("bytes, values {}", placement(s.info.options.values))
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
    let blob_bytes = store_blob_bytes(cli, s.info.id)?;
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
    if i.key_type == sop::JSON_KEY_TYPE {
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
        cli.json,
        format!("dropped store {name} ({count} items)"),
        json!({"dropped": name, "items": count}),
    );
    Ok(())
}
