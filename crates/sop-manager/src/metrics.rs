//! Counters for `/metrics` (Prometheus text) and the page's dashboard.

use crate::auth::{Caller, Role};
use crate::error::ApiResult;
use crate::Manager;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// Upper bounds of the commit latency buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Default)]
pub(crate) struct Metrics {
    requests: [AtomicU64; 5],
    commits: AtomicU64,
    conflicts: AtomicU64,
    latency: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
}

impl Metrics {
    pub(crate) fn request(&self, s: StatusCode) {
        let i = (s.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.requests[i].fetch_add(1, Relaxed);
    }
    pub(crate) fn commit(&self, took: Duration) {
        self.commits.fetch_add(1, Relaxed);
        self.latency_sum_us
            .fetch_add(took.as_micros() as u64, Relaxed);
        let s = took.as_secs_f64();
        let i = BUCKETS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(BUCKETS.len());
        self.latency[i].fetch_add(1, Relaxed);
    }
    pub(crate) fn conflict(&self) {
        self.conflicts.fetch_add(1, Relaxed);
    }
}

/// Per database: what the dashboard and /metrics show.
pub(crate) async fn db_figures(m: &Arc<Manager>) -> Vec<Value> {
    let mut out = Vec::new();
    for d in m.databases() {
        let db = d.db.clone();
        let path = d.path.clone();
        let figures = crate::blocking(move || {
            let st = db.stats()?;
            let items: u64 = st.stores.iter().map(|s| s.items).sum();
            Ok((
                st.head,
                st.stores.len(),
                items,
                dir_bytes(&path),
                db.cache_bytes(),
                db.counters(),
            ))
        })
        .await;
        let redis_up = match &d.redis {
            Some(url) => Some(redis_ping(url).await),
            None => None,
        };
        let mut v =
            json!({"name": d.name, "mode": if d.redis.is_some() {"clustered"} else {"standalone"}});
        match figures {
            Ok((head, stores, items, bytes, cache, c)) => {
                v["engine"] = serde_json::to_value(c).unwrap_or_default();
                v["node_cache_hit_rate"] = json!(c.node_cache_hit_rate());
                v["head"] = json!(head);
                v["stores"] = json!(stores);
                v["items"] = json!(items);
                v["bytes"] = json!(bytes);
                v["cache_bytes"] = json!(cache);
            }
            Err(e) => v["error"] = json!(e.message),
        }
        if let Some(up) = redis_up {
            v["redis_up"] = json!(up);
        }
        out.push(v);
    }
    out
}

/// Bytes of the files under `dir`.
pub(crate) fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(md) if md.is_dir() => dir_bytes(&e.path()),
            Ok(md) => md.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Whether the Redis at `url` answers PING within a second.
async fn redis_ping(url: &str) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let hostport = url
        .trim_start_matches("redis://")
        .split(['/', '?'])
        .next()
        .unwrap_or("")
        .rsplit('@')
        .next()
        .unwrap_or("")
        .to_string();
    let hostport = if hostport.contains(':') {
        hostport
    } else {
        format!("{hostport}:6379")
    };
    let attempt = async {
        let mut c = tokio::net::TcpStream::connect(&hostport).await.ok()?;
        c.write_all(b"PING\r\n").await.ok()?;
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).await.ok()?;
        // "+PONG", or "-NOAUTH" from a server that wants a password: it answers.
        Some(n > 0 && (buf[0] == b'+' || buf[0] == b'-'))
    };
    tokio::time::timeout(Duration::from_secs(1), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// The figures as JSON, for the dashboard.
pub(crate) async fn json_metrics(
    State(m): State<Arc<Manager>>,
    Extension(who): Extension<Caller>,
) -> ApiResult<Json<Value>> {
    who.require(Role::Reader)?;
    let x = &m.metrics;
    Ok(Json(json!({
        "uptime_seconds": m.started.elapsed().as_secs_f64(),
        "requests": {"2xx": x.requests[1].load(Relaxed), "4xx": x.requests[3].load(Relaxed), "5xx": x.requests[4].load(Relaxed)},
        "commits": x.commits.load(Relaxed),
        "conflicts": x.conflicts.load(Relaxed),
        "commit_seconds_sum": x.latency_sum_us.load(Relaxed) as f64 / 1e6,
        "sessions": m.auth.session_count(),
        "databases": db_figures(&m).await,
    })))
}

/// `/metrics`: Prometheus text format.
pub(crate) async fn prometheus(
    State(m): State<Arc<Manager>>,
    Extension(who): Extension<Caller>,
) -> ApiResult<impl IntoResponse> {
    who.require(Role::Reader)?;
    let x = &m.metrics;
    let mut o = String::new();
    let _ = writeln!(o, "# HELP sop_manager_requests_total HTTP requests answered, by status class.\n# TYPE sop_manager_requests_total counter");
    for (i, c) in ["1xx", "2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
        let _ = writeln!(
            o,
            "sop_manager_requests_total{{class=\"{c}\"}} {}",
            x.requests[i].load(Relaxed)
        );
    }
    let _ = writeln!(o, "# HELP sop_manager_commits_total Transactions this server committed.\n# TYPE sop_manager_commits_total counter\nsop_manager_commits_total {}", x.commits.load(Relaxed));
    let _ = writeln!(o, "# HELP sop_manager_conflicts_total Engine conflicts met by this server's writes (each retried up to 5 times).\n# TYPE sop_manager_conflicts_total counter\nsop_manager_conflicts_total {}", x.conflicts.load(Relaxed));
    let _ = writeln!(o, "# HELP sop_manager_commit_seconds Commit latency.\n# TYPE sop_manager_commit_seconds histogram");
    let mut cum = 0;
    for (i, b) in BUCKETS.iter().enumerate() {
        cum += x.latency[i].load(Relaxed);
        let _ = writeln!(o, "sop_manager_commit_seconds_bucket{{le=\"{b}\"}} {cum}");
    }
    cum += x.latency[BUCKETS.len()].load(Relaxed);
    let _ = writeln!(o, "sop_manager_commit_seconds_bucket{{le=\"+Inf\"}} {cum}");
    let _ = writeln!(
        o,
        "sop_manager_commit_seconds_sum {}",
        x.latency_sum_us.load(Relaxed) as f64 / 1e6
    );
    let _ = writeln!(o, "sop_manager_commit_seconds_count {cum}");
    let _ = writeln!(o, "# HELP sop_manager_sessions Live login sessions.\n# TYPE sop_manager_sessions gauge\nsop_manager_sessions {}", m.auth.session_count());
    let dbs = db_figures(&m).await;
    let gauge = |o: &mut String, name: &str, help: &str, field: &str| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge");
        for d in &dbs {
            if let Some(v) = d
                .get(field)
                .and_then(|v| v.as_u64().or(v.as_bool().map(u64::from)))
            {
                let _ = writeln!(
                    o,
                    "{name}{{db=\"{}\"}} {v}",
                    d["name"].as_str().unwrap_or("")
                );
            }
        }
    };
    gauge(
        &mut o,
        "sop_db_head",
        "Sequence of the newest commit (all processes): its rate is commits per second.",
        "head",
    );
    gauge(&mut o, "sop_db_items", "Items in all stores.", "items");
    gauge(&mut o, "sop_db_stores", "Stores.", "stores");
    gauge(
        &mut o,
        "sop_db_bytes",
        "Bytes on disk of the database folder.",
        "bytes",
    );
    gauge(
        &mut o,
        "sop_db_cache_bytes",
        "Bytes in this process's node and value cache.",
        "cache_bytes",
    );
    gauge(
        &mut o,
        "sop_db_redis_up",
        "Whether the Redis of a Clustered database answers (1) or not (0).",
        "redis_up",
    );
    // The engine's own counters (this process's transactions and reads).
    let engine = |o: &mut String, name: &str, kind: &str, help: &str, field: &str| {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for d in &dbs {
            if let Some(v) = d["engine"].get(field).and_then(|v| v.as_u64()) {
                let _ = writeln!(
                    o,
                    "{name}{{db=\"{}\"}} {v}",
                    d["name"].as_str().unwrap_or("")
                );
            }
        }
    };
    for (name, help, field) in [
        (
            "sop_engine_commits_total",
            "Write transactions this process committed (any client of the handle).",
            "commits",
        ),
        (
            "sop_engine_conflicts_total",
            "Commits that failed with a conflict.",
            "conflicts",
        ),
        (
            "sop_engine_merges_total",
            "In-flight merges: commits that replayed their operations on a newer state.",
            "merges",
        ),
        (
            "sop_engine_merged_total",
            "Merges whose replay succeeded.",
            "merged",
        ),
        (
            "sop_engine_node_cache_hits_total",
            "Node reads served by the in-process cache.",
            "node_cache_hits",
        ),
        (
            "sop_engine_node_cache_misses_total",
            "Node reads that went to storage.",
            "node_cache_misses",
        ),
        (
            "sop_engine_value_cache_hits_total",
            "Separate-value reads served by the cache.",
            "value_cache_hits",
        ),
        (
            "sop_engine_value_cache_misses_total",
            "Separate-value reads that went to storage.",
            "value_cache_misses",
        ),
    ] {
        engine(&mut o, name, "counter", help, field);
    }
    let _ = writeln!(o, "# HELP sop_engine_node_cache_hit_ratio Node cache hits over node reads since the server started.\n# TYPE sop_engine_node_cache_hit_ratio gauge");
    for d in &dbs {
        if let Some(r) = d["node_cache_hit_rate"].as_f64() {
            let _ = writeln!(
                o,
                "sop_engine_node_cache_hit_ratio{{db=\"{}\"}} {r}",
                d["name"].as_str().unwrap_or("")
            );
        }
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        o,
    ))
}
