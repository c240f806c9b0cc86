//! Item commands: `sop put`, `get`, `del` and `scan`.

use crate::args::{json_arg, Cli};
use crate::db::{read_store, write_store};
use crate::output::{emit, failure, usage, write_item_line, ItemLine};
use anyhow::Result;
use serde_json::{json, Value};
use sop::JsonStore;
use std::io::{BufWriter, Write};

/// Write an item: in a `unique` store it replaces the value of an equal key, in
/// another it is added as one more duplicate. True if it was inserted, false if
/// it replaced a value.
pub fn write_item(
    s: &JsonStore<'_>,
    unique: bool,
    key: &Value,
    value: &Value,
) -> sop::Result<bool> {
    if unique {
        s.upsert(key, value)
    } else {
        s.add(key, value)
    }
}

/// The error of `get` and `del` when `store` has no item with `key`.
fn no_item(key: &Value, store: &str) -> anyhow::Error {
    failure(
        "not_found",
        format!("no item with key {key} in store {store}"),
    )
}

/// A usage error if `key`, typed by the user, is not a key of `s`: it does not
/// fit the store's spec, or it is too long.
fn check_key(s: &JsonStore<'_>, key: &Value) -> Result<()> {
    let check = || -> sop::Result<()> {
        let len = s.key_bytes(key)?.len();
        if len > sop::MAX_KEY_LEN {
            return Err(sop::Error::KeyTooLong {
                len,
                max: sop::MAX_KEY_LEN,
            });
        }
        Ok(())
    };
    usage(check().map_err(anyhow::Error::new))
}

/// Name the JSON key in a conflict: the engine can only show its bytes.
fn name_key(r: Result<()>, key: &Value, store: &str) -> Result<()> {
    r.map_err(|e| match e.downcast_ref::<sop::Error>() {
        Some(sop::Error::Conflict(_)) => e.context(format!("writing key {key} in store {store}")),
        _ => e,
    })
}

pub fn put(cli: &Cli, store: &str, key: &str, value: &str) -> Result<()> {
    let key = json_arg("KEY", key)?;
    let value = json_arg("VALUE", value)?;
    let mut inserted = false;
    let r = write_store(cli, store, |s| {
        check_key(s, &key)?;
        inserted = write_item(s, s.info().options.unique, &key, &value)?;
        Ok(())
    });
    name_key(r, &key, store)?;
    emit(
        cli.json,
        if inserted { "inserted" } else { "updated" },
        json!({"inserted": inserted}),
    );
    Ok(())
}

pub fn get(cli: &Cli, store: &str, key: &str) -> Result<()> {
    let key = json_arg("KEY", key)?;
    read_store(cli, store, |s| {
        match check_key(s, &key).and_then(|_| Ok(s.get_item(&key)?))? {
            Some((k, v)) => {
                emit(
                    cli.json,
                    &v,
                    serde_json::to_value(ItemLine { key: &k, value: &v })?,
                );
                Ok(())
            }
            None => Err(no_item(&key, store)),
        }
    })
}

pub fn del(cli: &Cli, store: &str, key: &str) -> Result<()> {
    let key = json_arg("KEY", key)?;
    let r = write_store(cli, store, |s| {
        check_key(s, &key)?;
        if !s.remove(&key)? {
            return Err(no_item(&key, store));
        }
        Ok(())
    });
    name_key(r, &key, store)?;
    emit(cli.json, "deleted", json!({"deleted": true}));
    Ok(())
}

pub fn scan(
    cli: &Cli,
    store: &str,
    from: Option<&str>,
    to: Option<&str>,
    desc: bool,
    limit: Option<u64>,
) -> Result<()> {
    let from = from.map(|t| json_arg("--from", t)).transpose()?;
    let to = to.map(|t| json_arg("--to", t)).transpose()?;
    read_store(cli, store, |s| {
        for bound in [&from, &to].into_iter().flatten() {
            check_key(s, bound)?;
        }
        let range = s.range(from.as_ref(), to.as_ref(), desc)?;
        let mut out = BufWriter::new(std::io::stdout().lock());
        for item in
            range.take(limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX)))
        {
            let (k, v) = item?;
            write_item_line(&mut out, &k, &v)?;
        }
        out.flush()?;
        Ok(())
    })
}
