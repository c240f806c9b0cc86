//! Making a database: `sop init`, and `sop quickstart`'s small demo.

use crate::args::{parse_spec, Cli};
use crate::db::open;
use crate::output::{emit, failure, spec_text, usage, Exit, EXIT_FAULTS};
use anyhow::{anyhow, Context, Result};
use serde_json::json;
use sop::{
    CassandraRegistry, Coordination, Database, DbOptions, Error, Registry, S3Bucket, StoreOptions,
    TxMode,
};

/// The registry `sop init --s3 URL [--endpoint E] [--region R]` asks for.
pub fn bucket(url: &str, endpoint: Option<&str>, region: Option<&str>) -> Result<Registry> {
    let ok = url
        .strip_prefix("s3://")
        .and_then(|r| r.split('/').next())
        .is_some_and(|b| !b.is_empty());
    if !ok {
        return usage(Err(anyhow!(
            "invalid --s3 {url:?}: expected s3://BUCKET/PREFIX"
        )));
    }
    if let Some(e) = endpoint {
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            return usage(Err(anyhow!(
                "invalid --endpoint {e:?}: expected http://HOST:PORT or https://HOST[:PORT]"
            )));
        }
    }
    let mut cfg = S3Bucket::new(url);
    cfg.endpoint = endpoint.map(str::to_string);
    cfg.region = region.map(str::to_string);
    Ok(Registry::S3(cfg))
}

/// The registry `sop init`'s flags ask for: the folder's own, or Cassandra's.
pub fn registry(
    hosts: Option<&str>,
    keyspace: Option<&str>,
    replication: Option<&str>,
    local_dc: bool,
    leases: bool,
) -> Result<Registry> {
    let (Some(hosts), Some(keyspace)) = (hosts, keyspace) else {
        return Ok(Registry::Folder);
    };
    let hosts: Vec<String> = hosts
        .split(',')
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .collect();
    if hosts.is_empty() || hosts.iter().any(|h| !h.contains(':')) {
        return usage(Err(anyhow!(
            "invalid --cassandra {hosts:?}: expected HOST:PORT[,HOST:PORT...]"
        )));
    }
    let mut cfg = CassandraRegistry::new(hosts, keyspace);
    if let Some(r) = replication {
        cfg.replication = Some(replication_cql(r)?);
    }
    cfg.local_dc = local_dc;
    cfg.leases = leases;
    Ok(Registry::Cassandra(cfg))
}

/// `{"class":"NetworkTopologyStrategy","dc1":3}` as CQL's map literal.
fn replication_cql(json_text: &str) -> Result<String> {
    let bad = |why: &str| {
        usage::<String>(Err(anyhow!(
            "invalid --replication {json_text:?}: {why} (e.g. '{{\"class\":\"SimpleStrategy\",\"replication_factor\":1}}')"
        )))
    };
    let Ok(serde_json::Value::Object(m)) = serde_json::from_str::<serde_json::Value>(json_text)
    else {
        return bad("expected a JSON object");
    };
    if !m.contains_key("class") {
        return bad("it needs a \"class\"");
    }
    let mut parts = Vec::new();
    for (k, v) in &m {
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => return bad("values must be strings or numbers"),
        };
        let ok = |s: &str| {
            s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        };
        if !ok(k) || !ok(&v) {
            return bad("names and values may hold letters, digits, '_', '.', '-' only");
        }
        parts.push(format!("'{k}': '{v}'"));
    }
    Ok(format!("{{{}}}", parts.join(", ")))
}

pub fn init(cli: &Cli, force: bool, redis: Option<&str>, registry: Registry) -> Result<()> {
    let coordination = match redis {
        Some(url) => {
            let ok = ["redis://", "rediss://", "redis+unix://"]
                .iter()
                .any(|p| url.starts_with(p) && url.len() > p.len());
            if !ok {
                return usage(Err(anyhow!("invalid --redis URL {url:?}: expected redis://host[:port][/db] (or rediss://, redis+unix://)")));
            }
            Coordination::Redis {
                url: url.to_string(),
            }
        }
        None => Coordination::Standalone,
    };
    if let Some(url) = cli.db.to_str().filter(|d| d.starts_with("s3://")) {
        return init_by_url(cli, url, coordination, registry);
    }
    if !force && !sop::Database::exists(&cli.db).unwrap_or(false) {
        if let Ok(mut entries) = std::fs::read_dir(&cli.db) {
            if entries.next().is_some() {
                return Err(failure(
                    "not_empty",
                    format!(
                        "{} is not empty and holds no database: choose an empty or new folder \
                         with --db, or add --force to make the database among its files",
                        cli.db.display()
                    ),
                ));
            }
        }
    }
    Database::create_config_with(&cli.db, coordination.clone(), registry.clone()).map_err(|e| {
        match e {
            Error::AlreadyExists(p) => failure(
                "already_exists",
                format!("a database already exists at {}", p.display()),
            ),
            e => anyhow::Error::new(e)
                .context(format!("cannot create a database at {}", cli.db.display())),
        }
    })?;
    let mut mode = match &coordination {
        Coordination::Standalone => "standalone".to_string(),
        Coordination::Redis { url } => {
            format!("clustered, coordinated through Redis at {url} (saved in sop.json)")
        }
    };
    if let Registry::Cassandra(c) = &registry {
        mode.push_str(&format!(
            "; registry on Cassandra at {} in keyspace {}",
            c.hosts.join(","),
            c.keyspace
        ));
    }
    if let Registry::S3(b) = &registry {
        mode.push_str(&format!("; in the bucket {}", b.url));
        if let Some(e) = &b.endpoint {
            mode.push_str(&format!(" at {e}"));
        }
    }
    if coordination == Coordination::Standalone {
        // Lays out the folders (and, with Cassandra, makes its keyspace and table).
        drop(open(cli, true)?);
    }
    emit(
        cli.json,
        format!("created database at {} ({mode})", cli.db.display()),
        json!({"path": cli.db, "coordination": coordination, "registry": registry}),
    );
    Ok(())
}

/// `sop --db s3://BUCKET/PREFIX init`: the database in the bucket, with no
/// folder named (this host's state goes under the state folder: see
/// `DbOptions::state_dir`).
fn init_by_url(cli: &Cli, url: &str, coordination: Coordination, registry: Registry) -> Result<()> {
    let registry = match registry {
        Registry::Folder => None,
        Registry::S3(b) if b.url.trim_end_matches('/') == url.trim_end_matches('/') => {
            Some(Registry::S3(b))
        }
        _ => {
            return usage(Err(anyhow!(
                "--db {url} names a bucket: give no other registry (--s3 only with the same URL)"
            )))
        }
    };
    let opts = |create: bool| DbOptions {
        create,
        coordination: Some(coordination.clone()),
        registry: registry.clone(),
        recovery_interval: None,
        ..Default::default()
    };
    match Database::open(url, opts(false)) {
        Ok(_) => {
            return Err(failure(
                "already_exists",
                format!("a database already exists at {url}"),
            ))
        }
        Err(Error::NotFound(_)) => {}
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("cannot create a database at {url}")))
        }
    }
    let db = Database::open(url, opts(true))
        .map_err(|e| anyhow::Error::new(e).context(format!("cannot create a database at {url}")))?;
    drop(db);
    let mode = match &coordination {
        Coordination::Standalone => "standalone".to_string(),
        Coordination::Redis { url } => format!("clustered, coordinated through Redis at {url}"),
    };
    emit(
        cli.json,
        format!("created database at {url} ({mode})"),
        json!({"path": url, "coordination": coordination, "registry": {"kind": "s3", "url": url}}),
    );
    Ok(())
}

pub fn quickstart(cli: &Cli) -> Result<()> {
    let say = |s: String| {
        if !cli.json {
            println!("{s}");
        }
    };
    let fresh = !sop::Database::exists(&cli.db).unwrap_or(false);
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
    say(format!(
        "next: {} --db {} scan people",
        invocation(),
        cli.db.display()
    ));
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

/// How the user ran this program, for the commands we suggest: through `cargo run`
/// (which sets CARGO_PKG_NAME), by a path, or as `sop` from the PATH.
fn invocation() -> String {
    if std::env::var_os("CARGO_PKG_NAME").is_some_and(|n| n == "sop-cli") {
        let release = if cfg!(debug_assertions) {
            ""
        } else {
            " --release"
        };
        return format!("cargo run{release} -p sop-cli --");
    }
    match std::env::args().next() {
        Some(arg0) if arg0.contains('/') => arg0,
        _ => "sop".into(),
    }
}
