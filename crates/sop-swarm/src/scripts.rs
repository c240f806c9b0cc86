//! The script store: every version of every script, in the system store
//! `_swarm.scripts` keyed by `{"name", "version"}`. Saving a script adds a new
//! version and keeps the old ones until they are deleted; a job runs the newest
//! version when it starts, unless it names one.

use crate::error::{Result, SwarmError};
use crate::names;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sop::{JsonStore, Transaction};

/// One saved version of a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptVersion {
    /// The script's name.
    pub name: String,
    /// Its version: 1, 2, ... in the order they were saved.
    pub version: u64,
    /// The Lua source.
    pub source: String,
    /// When it was saved (ms since the Unix epoch).
    pub saved_ms: u64,
}

/// A script's versions, for `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptSummary {
    /// The script's name.
    pub name: String,
    /// Its newest version.
    pub latest: u64,
    /// How many versions are kept.
    pub versions: u64,
}

/// A script name: 1 to 200 bytes, no control characters or whitespace.
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 200
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(SwarmError::Invalid(format!(
            "script name {name:?}: 1 to 200 bytes without spaces or control characters"
        )));
    }
    Ok(())
}

/// Check that `source` compiles as Lua text (nothing is run).
pub fn check_source(name: &str, source: &str) -> Result<()> {
    let lua = mlua::Lua::new_with(mlua::StdLib::NONE, mlua::LuaOptions::default())
        .map_err(|e| SwarmError::Script(e.to_string()))?;
    lua.load(source)
        .set_name(format!("={name}"))
        .set_mode(mlua::ChunkMode::Text)
        .into_function()
        .map_err(|e| SwarmError::Script(format!("script {name:?} does not compile: {e}")))?;
    Ok(())
}

fn key(name: &str, version: u64) -> Value {
    json!({"name": name, "version": version})
}

/// The versions of `name`, newest first (one at most with `newest_only`).
fn versions(s: &JsonStore<'_>, name: &str, newest_only: bool) -> Result<Vec<ScriptVersion>> {
    let from = json!({"name": name});
    let to = json!({"name": name, "version": u64::MAX});
    let mut out = Vec::new();
    for item in s.range(Some(&from), Some(&to), true)? {
        let (_, v) = item?;
        out.push(decode(v)?);
        if newest_only {
            break;
        }
    }
    Ok(out)
}

fn decode(v: Value) -> Result<ScriptVersion> {
    serde_json::from_value(v)
        .map_err(|e| SwarmError::Invalid(format!("a damaged script record: {e}")))
}

/// Save `source` as the next version of `name`; returns the version.
pub fn put(tx: &Transaction, name: &str, source: &str) -> Result<u64> {
    check_name(name)?;
    check_source(name, source)?;
    crate::grants::manifest(name, source)?;
    let s = tx.open_json_store(names::SCRIPTS)?;
    let version = versions(&s, name, true)?
        .first()
        .map_or(1, |v| v.version + 1);
    let rec = ScriptVersion {
        name: name.to_string(),
        version,
        source: source.to_string(),
        saved_ms: crate::time::now_ms(),
    };
    s.upsert(
        &key(name, version),
        &serde_json::to_value(&rec).expect("serializes"),
    )?;
    Ok(version)
}

/// Version `version` of `name`, or its newest.
pub fn get(tx: &Transaction, name: &str, version: Option<u64>) -> Result<ScriptVersion> {
    let s = tx.open_json_store(names::SCRIPTS)?;
    match version {
        Some(v) => match s.get(&key(name, v))? {
            Some(rec) => decode(rec),
            None if versions(&s, name, true)?.is_empty() => {
                Err(SwarmError::ScriptNotFound(name.to_string()))
            }
            None => Err(SwarmError::VersionNotFound {
                name: name.to_string(),
                version: v,
            }),
        },
        None => versions(&s, name, true)?
            .pop()
            .ok_or_else(|| SwarmError::ScriptNotFound(name.to_string())),
    }
}

/// Every script: name, newest version, how many versions.
pub fn list(tx: &Transaction) -> Result<Vec<ScriptSummary>> {
    let s = tx.open_json_store(names::SCRIPTS)?;
    let mut out: Vec<ScriptSummary> = Vec::new();
    for item in s.iter()? {
        let (_, v) = item?;
        let rec = decode(v)?;
        match out.last_mut() {
            Some(last) if last.name == rec.name => {
                last.latest = last.latest.max(rec.version);
                last.versions += 1;
            }
            _ => out.push(ScriptSummary {
                name: rec.name,
                latest: rec.version,
                versions: 1,
            }),
        }
    }
    Ok(out)
}

/// Delete version `version` of `name`, or every version; returns how many went.
pub fn delete(tx: &Transaction, name: &str, version: Option<u64>) -> Result<u64> {
    let s = tx.open_json_store(names::SCRIPTS)?;
    let gone: Vec<u64> = match version {
        Some(v) => vec![v],
        None => versions(&s, name, false)?
            .iter()
            .map(|v| v.version)
            .collect(),
    };
    let mut n = 0;
    for v in gone {
        if s.remove(&key(name, v))? {
            n += 1;
        }
    }
    if n == 0 {
        return Err(match version {
            Some(v) if !versions(&s, name, true)?.is_empty() => SwarmError::VersionNotFound {
                name: name.to_string(),
                version: v,
            },
            _ => SwarmError::ScriptNotFound(name.to_string()),
        });
    }
    Ok(n)
}
