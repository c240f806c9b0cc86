//! `sop-manager-bench`: what the Data Manager's HTTP layer costs.
//!
//! `cargo run --release -p sop-manager --bin sop-manager-bench -- [--large N] [--dir PATH]`
//!
//! 1. Pages of 100 items at random places in a store of 1,000 items and in one
//!    of N (default 1,000,000): median and p99 of the server's time (the
//!    router called in process, no network).
//! 2. Export of the large store: items per second, and the growth of the
//!    process's resident memory while it streams.
//! 3. Item gets with 16 concurrent HTTP clients over loopback (keep-alive),
//!    against the same gets through the library on 16 threads.

use anyhow::{Context, Result};
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sop::{Database, DbOptions, StoreOptions, TxMode};
use sop_manager::{Config, DbSpec, Manager, Role, Users};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn key(i: u64) -> Value {
    json!({"id": format!("k{i:010}")})
}

fn fill(db: &Database, name: &str, n: u64) -> Result<()> {
    let t = Instant::now();
    {
        let tx = db.begin(TxMode::ForWriting)?;
        tx.create_json_store(
            name,
            StoreOptions::default(),
            Some(sop::IndexSpec::parse_short("id")?),
        )?;
        tx.commit()?;
    }
    let mut i = 0;
    while i < n {
        let tx = db.begin(TxMode::ForWriting)?;
        {
            let s = tx.open_json_store(name)?;
            for j in i..(i + 20_000).min(n) {
                s.add(
                    &key(j),
                    &json!({"n": j, "name": format!("name {j}"), "tags": ["a", "b"]}),
                )?;
            }
        }
        tx.commit()?;
        i = (i + 20_000).min(n);
    }
    eprintln!(
        "filled {name}: {n} items in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn enc(v: &Value) -> String {
    v.to_string()
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let large: u64 = arg("--large")
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let tmp = tempfile_dir(arg("--dir"))?;
    let path = tmp.join("bench-db");
    let db = Database::open(&path, DbOptions::default())?;
    fill(&db, "small", 1_000)?;
    fill(&db, "large", large)?;
    let users_path = tmp.join("users.json");
    Users::add_user(&users_path, "bench", Role::Admin, "bench password")?;
    let config = Config::new(
        vec![DbSpec {
            name: "db".into(),
            path: path.clone(),
        }],
        Some(Users::load(&users_path)?),
    );
    let m = Manager::open(config)?;
    let app = sop_manager::router(m.clone());
    let login = app
        .clone()
        .oneshot(
            Request::post("/api/auth/login")
                .header("host", "localhost")
                .body(Body::from(
                    r#"{"username":"bench","password":"bench password"}"#,
                ))?,
        )
        .await?;
    let v: Value = serde_json::from_slice(&login.into_body().collect().await?.to_bytes())?;
    let token = format!("Bearer {}", v["access_token"].as_str().context("login")?);

    println!("# sop-manager-bench: stores of 1,000 and {large} items");
    // 1. Pages.
    for (store, n) in [("small", 1_000u64), ("large", large)] {
        let mut times = Vec::new();
        let mut rng = fastrand::Rng::with_seed(1);
        for r in 0..300 {
            let from = key(rng.u64(0..n.saturating_sub(100).max(1)));
            let uri = format!(
                "/api/databases/db/stores/{store}/items?limit=100&from={}",
                enc(&from)
            );
            let t = Instant::now();
            let res = app
                .clone()
                .oneshot(
                    Request::get(&uri)
                        .header("authorization", &token)
                        .body(Body::empty())?,
                )
                .await?;
            let body = res.into_body().collect().await?.to_bytes();
            let el = t.elapsed().as_secs_f64() * 1e3;
            if r >= 20 {
                times.push(el); // the first ones warm the cache
            }
            anyhow::ensure!(
                body.len() > 1000,
                "short page: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let (med, p99) = (pct(&mut times, 0.5), pct(&mut times, 0.99));
        println!("page of 100, store of {n:>10} items: median {med:.3} ms, p99 {p99:.3} ms");
    }
    // 2. Export, twice: the first run also fills the engine's node cache
    //    (256 MiB by default); the second shows what the streaming itself holds.
    for run in 1..=2 {
        let before = rss_kib();
        let cache_before = m.databases()[0].db.cache_bytes();
        let peak = Arc::new(AtomicU64::new(before));
        let stop = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, stop) = (peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kib(), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        let t = Instant::now();
        let res = app
            .clone()
            .oneshot(
                Request::get("/api/databases/db/stores/large/export")
                    .header("authorization", &token)
                    .body(Body::empty())?,
            )
            .await?;
        let mut body = res.into_body();
        let (mut bytes, mut lines) = (0u64, 0u64);
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                bytes += data.len() as u64;
                lines += data.iter().filter(|b| **b == b'\n').count() as u64;
            }
        }
        let secs = t.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        sampler.join().unwrap();
        anyhow::ensure!(lines == large, "exported {lines} of {large}");
        let cache_after = m.databases()[0].db.cache_bytes();
        println!(
            "export {run} of {large} items ({:.1} MB): {:.0} items/s; resident memory {} MiB before, +{} MiB at most while streaming; node cache {} -> {} MiB",
            bytes as f64 / 1e6,
            lines as f64 / secs,
            before / 1024,
            peak.load(Ordering::Relaxed).saturating_sub(before) / 1024,
            cache_before >> 20,
            cache_after >> 20
        );
    }
    // 3. Gets: 16 HTTP clients vs 16 library threads.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app2 = app.clone();
    let server = tokio::spawn(async move { axum::serve(listener, app2).await });
    let dur = Duration::from_secs(5);
    let done = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..16u64 {
        let (token, done) = (token.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let client =
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http::<Body>();
            let mut rng = fastrand::Rng::with_seed(c);
            let end = Instant::now() + dur;
            while Instant::now() < end {
                let uri = format!(
                    "http://{addr}/api/databases/db/stores/large/items?key={}",
                    enc(&key(rng.u64(0..large)))
                );
                let req = Request::get(uri)
                    .header("authorization", &token)
                    .body(Body::empty())
                    .unwrap();
                let res = client.request(req).await.unwrap();
                assert!(res.status().is_success());
                let _ = res.into_body().collect().await.unwrap();
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let http_rate = done.load(Ordering::Relaxed) as f64 / dur.as_secs_f64();
    server.abort();
    let lib_done = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..16u64)
        .map(|c| {
            let (db, lib_done) = (db.clone(), lib_done.clone());
            std::thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(c);
                let end = Instant::now() + dur;
                while Instant::now() < end {
                    // As the server does: a transaction, the store, one get.
                    let tx = db.begin(TxMode::NoCheck).unwrap();
                    let s = tx.open_json_store("large").unwrap();
                    let k = key(rng.u64(0..large));
                    assert!(s.get_item(&k).unwrap().is_some());
                    lib_done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let lib_rate = lib_done.load(Ordering::Relaxed) as f64 / dur.as_secs_f64();
    println!(
        "item gets, 16 concurrent: HTTP {http_rate:.0}/s, library {lib_rate:.0}/s (HTTP at {:.0}% of the library)",
        100.0 * http_rate / lib_rate
    );
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("({cores} cores)");
    drop(m);
    if arg("--dir").is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(())
}

fn tempfile_dir(given: Option<String>) -> Result<std::path::PathBuf> {
    let p = match given {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("sop-manager-bench-{}", std::process::id())),
    };
    std::fs::create_dir_all(&p)?;
    Ok(p)
}
