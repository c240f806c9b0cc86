//! `sop-bench-bucket --s3-endpoint URL [--s3-bucket NAME]`: a database in an S3
//! bucket beside the same database in a folder, phase by phase: single-insert
//! commits, a bulk load, cold and warm random reads, cold and warm range scans,
//! a restarted reader on a disk cache, and a streamed big value written and
//! read. Each row says what the phase cost in requests and bytes to and from
//! the bucket (`Database::read_stats`). Figures: docs/BENCHMARKS.md.

use anyhow::{Context, Result};
use clap::Parser;
use sop::{Database, DbOptions, ReadStats, Registry, S3Bucket, StoreOptions, TxMode};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "sop-bench-bucket",
    about = "A database in an S3 bucket beside one in a folder"
)]
struct Cli {
    /// The S3 server (e.g. http://127.0.0.1:9000); credentials from AWS_*.
    #[arg(long)]
    s3_endpoint: String,
    /// The bucket (it must exist); each run uses a fresh prefix.
    #[arg(long, default_value = "sop-bench")]
    s3_bucket: String,
    /// Where the folders go (the folder database, the bucket's local folders, the cache).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Single-insert commits.
    #[arg(long, default_value_t = 200)]
    commits: u64,
    /// Items of the bulk load (u64 keys, 100-byte values).
    #[arg(long, default_value_t = 1_000_000)]
    items: u64,
    /// Items per commit of the bulk load.
    #[arg(long, default_value_t = 50_000)]
    batch: u64,
    /// Random gets per read phase.
    #[arg(long, default_value_t = 1000)]
    gets: u64,
    /// Scans per scan phase, and items each.
    #[arg(long, default_value_t = 20)]
    scans: u64,
    #[arg(long, default_value_t = 1000)]
    scan_len: u64,
    /// MiB of the streamed value (0: no stream phases).
    #[arg(long, default_value_t = 2048)]
    stream_mib: u64,
    /// Only this backend: folder or bucket.
    #[arg(long)]
    only: Option<String>,
    /// Add this many milliseconds to every request to the server (a TCP relay
    /// in this process delays each request's first bytes), as a store far
    /// away would: moto on loopback answers in a few milliseconds, S3 in 10-30.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

/// A TCP relay to `upstream` that holds each request back `delay` before
/// passing it on: the first bytes the client sends after the server last
/// spoke (or on a new connection) wait; the rest of a request's body does not.
fn delaying_relay(upstream: &str, delay: Duration) -> Result<String> {
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let to = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(&to) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let fresh = Arc::new(AtomicBool::new(true));
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut s_in, mut c_out) = (server, client);
            let f = fresh.clone();
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 256 << 10];
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if f.swap(false, Ordering::AcqRel) {
                        std::thread::sleep(delay);
                    }
                    if s_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = s_out.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 256 << 10];
                while let Ok(n) = s_in.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    fresh.store(true, Ordering::Release);
                    if c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = c_out.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    Ok(format!("http://{addr}"))
}

struct Row {
    backend: &'static str,
    phase: &'static str,
    ops: u64,
    took: Duration,
    cost: ReadStats,
    /// Bytes moved by the phase's payload (streams), for MB/s.
    payload: u64,
}

fn value(k: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(100);
    let mut x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while v.len() < 100 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(100);
    v
}

fn minus(a: &ReadStats, b: &ReadStats) -> ReadStats {
    ReadStats {
        object_gets: a.object_gets - b.object_gets,
        object_bytes_fetched: a.object_bytes_fetched - b.object_bytes_fetched,
        object_puts: a.object_puts - b.object_puts,
        object_bytes_sent: a.object_bytes_sent - b.object_bytes_sent,
        disk_cache: None,
    }
}

/// Run `f` (doing `ops` operations) on `db`, and what it cost.
fn phase(
    rows: &mut Vec<Row>,
    backend: &'static str,
    name: &'static str,
    db: &Database,
    ops: u64,
    payload: u64,
    f: impl FnOnce() -> Result<()>,
) -> Result<()> {
    let before = db.read_stats();
    let t = Instant::now();
    f().with_context(|| format!("{backend} {name}"))?;
    let took = t.elapsed();
    let cost = minus(&db.read_stats(), &before);
    eprintln!("{backend:>6} {name:<22} {ops:>9} ops {:>10.1} ms", ms(took));
    rows.push(Row {
        backend,
        phase: name,
        ops,
        took,
        cost,
        payload,
    });
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A reader of `n` bytes of a pattern, never all in memory.
struct Pattern {
    left: u64,
    x: u64,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.left) as usize;
        for c in buf[..n].chunks_mut(8) {
            self.x = self.x.wrapping_mul(6364136223846793005).wrapping_add(1);
            let b = self.x.to_le_bytes();
            c.copy_from_slice(&b[..c.len()]);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

fn random_keys(n: u64, items: u64, seed: u64) -> Vec<u64> {
    let mut r = fastrand::Rng::with_seed(seed);
    (0..n).map(|_| r.u64(..items)).collect()
}

fn gets(db: &Database, keys: &[u64]) -> Result<()> {
    let tx = db.begin(TxMode::NoCheck)?;
    let s = tx.open_store::<u64, Vec<u8>>("items")?;
    for &k in keys {
        let v = s.get(&k)?.context("a loaded key is missing")?;
        anyhow::ensure!(v == value(k), "key {k} reads a wrong value");
    }
    Ok(())
}

fn scans(db: &Database, starts: &[u64], len: u64) -> Result<()> {
    let tx = db.begin(TxMode::NoCheck)?;
    let s = tx.open_store::<u64, Vec<u8>>("items")?;
    for &from in starts {
        let mut n = 0;
        for (i, r) in s.range(from..)?.take(len as usize).enumerate() {
            let (k, v) = r?;
            anyhow::ensure!(
                k == from + i as u64 && v == value(k),
                "scan from {from} is wrong at {k}"
            );
            n += 1;
        }
        anyhow::ensure!(n == len, "scan from {from} found {n} items, not {len}");
    }
    Ok(())
}

fn run(cli: &Cli, root: &Path, backend: &'static str, rows: &mut Vec<Row>) -> Result<()> {
    let registry = (backend == "bucket").then(|| {
        let mut b = S3Bucket::new(format!(
            "s3://{}/bench-bucket/{:016x}",
            cli.s3_bucket,
            fastrand::u64(..)
        ));
        b.endpoint = Some(cli.s3_endpoint.clone());
        Registry::S3(b)
    });
    let folder = |name: &str| root.join(format!("{backend}-{name}"));
    // The folder backend has one folder; each reader of the bucket has its own.
    let reader_dir = |name: &str| {
        if registry.is_some() {
            folder(name)
        } else {
            folder("db")
        }
    };
    let opts = |cache: Option<PathBuf>| DbOptions {
        registry: registry.clone(),
        recovery_interval: None,
        object_cache_dir: cache,
        ..Default::default()
    };
    let db = Database::open(folder("db"), opts(None))?;
    {
        let tx = db.begin(TxMode::ForWriting)?;
        tx.create_store::<u64, u64>("counters", StoreOptions::default())?;
        tx.create_store::<u64, Vec<u8>>("items", StoreOptions::default())?;
        tx.commit()?;
    }
    phase(
        rows,
        backend,
        "single-insert commit",
        &db,
        cli.commits,
        0,
        || {
            for i in 0..cli.commits {
                let tx = db.begin(TxMode::ForWriting)?;
                tx.open_store::<u64, u64>("counters")?.add(&i, &i)?;
                tx.commit()?;
            }
            Ok(())
        },
    )?;
    phase(rows, backend, "bulk load", &db, cli.items, 0, || {
        for start in (0..cli.items).step_by(cli.batch as usize) {
            let tx = db.begin(TxMode::ForWriting)?;
            let s = tx.open_store::<u64, Vec<u8>>("items")?;
            for k in start..(start + cli.batch).min(cli.items) {
                s.add(&k, &value(k))?;
            }
            tx.commit()?;
        }
        Ok(())
    })?;
    db.close()?;
    let keys = random_keys(cli.gets, cli.items, 1);
    let starts = random_keys(cli.scans, cli.items.saturating_sub(cli.scan_len), 2);

    let r = Database::open(reader_dir("reader1"), opts(None))?;
    phase(rows, backend, "random get, cold", &r, cli.gets, 0, || {
        gets(&r, &keys)
    })?;
    phase(rows, backend, "random get, warm", &r, cli.gets, 0, || {
        gets(&r, &keys)
    })?;
    r.close()?;
    let r = Database::open(reader_dir("reader2"), opts(None))?;
    let scanned = cli.scans * cli.scan_len;
    phase(rows, backend, "scan, cold", &r, scanned, 0, || {
        scans(&r, &starts, cli.scan_len)
    })?;
    phase(rows, backend, "scan, warm", &r, scanned, 0, || {
        scans(&r, &starts, cli.scan_len)
    })?;
    r.close()?;
    if registry.is_some() {
        let cache = root.join("cache");
        let r = Database::open(reader_dir("reader3"), opts(Some(cache.clone())))?;
        phase(
            rows,
            backend,
            "random get, cold+cache",
            &r,
            cli.gets,
            0,
            || gets(&r, &keys),
        )?;
        r.close()?;
        let r = Database::open(reader_dir("reader4"), opts(Some(cache)))?;
        phase(
            rows,
            backend,
            "random get, disk cache",
            &r,
            cli.gets,
            0,
            || gets(&r, &keys),
        )?;
        eprintln!("        disk cache: {:?}", r.read_stats().disk_cache);
        r.close()?;
    }
    if cli.stream_mib > 0 {
        let len = cli.stream_mib << 20;
        let db = Database::open(folder("db"), opts(None))?;
        phase(rows, backend, "stream write", &db, 1, len, || {
            let tx = db.begin(TxMode::ForWriting)?;
            let s = tx.create_raw_store(
                "media",
                "bytes",
                StoreOptions {
                    values: sop::ValuePlacement::Big,
                    ..Default::default()
                },
            )?;
            s.put_stream(b"clip", Pattern { left: len, x: 7 })?;
            tx.commit()?;
            Ok(())
        })?;
        db.close()?;
        let r = Database::open(reader_dir("reader5"), opts(None))?;
        phase(rows, backend, "stream read, cold", &r, 1, len, || {
            let tx = r.begin(TxMode::NoCheck)?;
            let s = tx.open_raw_store("media")?;
            let mut reader = s.get_stream(b"clip")?.context("no streamed value")?;
            let (mut want, mut buf, mut got) = (
                Pattern { left: len, x: 7 },
                vec![0u8; 1 << 20],
                vec![0u8; 1 << 20],
            );
            let mut total = 0u64;
            loop {
                let n = reader.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                want.read_exact(&mut got[..n])?;
                anyhow::ensure!(buf[..n] == got[..n], "the stream differs at {total}");
                total += n as u64;
            }
            anyhow::ensure!(total == len, "read {total} bytes of {len}");
            Ok(())
        })?;
        r.close()?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let mut cli = Cli::parse();
    if cli.latency_ms > 0 {
        cli.s3_endpoint = delaying_relay(&cli.s3_endpoint, Duration::from_millis(cli.latency_ms))?;
    }
    let tmp;
    let root = match &cli.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let mut rows = Vec::new();
    for backend in ["folder", "bucket"] {
        if cli.only.as_deref().is_some_and(|o| o != backend) {
            continue;
        }
        run(&cli, &root, backend, &mut rows)?;
    }
    println!("| phase | backend | ops | time | per op | GETs | MiB in | PUTs | MiB out | GETs/op | KiB in/op | MB/s |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let per = r.took.as_secs_f64() / r.ops.max(1) as f64;
        let per = if per >= 1e-3 {
            format!("{:.2} ms", per * 1e3)
        } else {
            format!("{:.1} µs", per * 1e6)
        };
        let n = r.ops.max(1) as f64;
        let mbs = if r.payload > 0 {
            format!("{:.0}", r.payload as f64 / 1e6 / r.took.as_secs_f64())
        } else {
            String::new()
        };
        println!(
            "| {} | {} | {} | {:.0} ms | {} | {} | {:.1} | {} | {:.1} | {:.2} | {:.2} | {} |",
            r.phase,
            r.backend,
            r.ops,
            ms(r.took),
            per,
            r.cost.object_gets,
            r.cost.object_bytes_fetched as f64 / 1048576.0,
            r.cost.object_puts,
            r.cost.object_bytes_sent as f64 / 1048576.0,
            r.cost.object_gets as f64 / n,
            r.cost.object_bytes_fetched as f64 / 1024.0 / n,
            mbs
        );
    }
    Ok(())
}
