//! SQLite (bundled, through rusqlite): table `kv(key BLOB PRIMARY KEY, value BLOB)`,
//! `journal_mode=WAL` with `synchronous=FULL`, so the WAL is fsynced at every commit.
//! Write transactions are `BEGIN IMMEDIATE … COMMIT`; read transactions `BEGIN … COMMIT`
//! (a WAL snapshot). Each reading thread takes its own connection from a small pool.

use super::{Engine, EngineConfig, ReadFn, ReadTx, WriteFn, WriteTx};
use anyhow::{Context, Result};
use rusqlite::{CachedStatement, Connection};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub fn version() -> String {
    format!(
        "rusqlite {} (SQLite {}, bundled)",
        env!("SOP_BENCH_V_RUSQLITE"),
        rusqlite::version()
    )
}

pub fn settings(cfg: &EngineConfig) -> String {
    format!(
        "durability: journal_mode=WAL, synchronous=FULL (WAL fsynced at every commit); cache: {} per connection (cache_size pragma), page size 4096",
        super::mib(cfg.cache_bytes)
    )
}

pub struct SqliteEngine {
    path: PathBuf,
    cache_kib: u64,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn connect(path: &Path, cache_kib: u64) -> Result<Connection> {
    let conn = Connection::open(path).context("sqlite: open")?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=-{cache_kib};"
    ))?;
    Ok(conn)
}

impl SqliteEngine {
    pub fn open(dir: &Path, cfg: &EngineConfig) -> Result<Self> {
        let path = dir.join("bench.sqlite");
        let cache_kib = (cfg.cache_bytes / 1024).max(1);
        let conn = connect(&path, cache_kib)?;
        conn.execute_batch("CREATE TABLE IF NOT EXISTS kv(key BLOB PRIMARY KEY, value BLOB);")?;
        Ok(Self {
            path,
            cache_kib,
            writer: Mutex::new(conn),
            readers: Mutex::new(Vec::new()),
        })
    }
}

const GET: &str = "SELECT value FROM kv WHERE key = ?1";
const SCAN: &str = "SELECT key, value FROM kv WHERE key >= ?1 ORDER BY key LIMIT ?2";
const COUNT: &str = "SELECT COUNT(*) FROM kv";
const UPSERT: &str =
    "INSERT INTO kv(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM kv WHERE key = ?1";

struct Reader<'c> {
    conn: &'c Connection,
    get: RefCell<CachedStatement<'c>>,
    scan: RefCell<CachedStatement<'c>>,
}

impl<'c> Reader<'c> {
    fn new(conn: &'c Connection) -> Result<Self> {
        Ok(Self {
            conn,
            get: RefCell::new(conn.prepare_cached(GET)?),
            scan: RefCell::new(conn.prepare_cached(SCAN)?),
        })
    }
}

impl ReadTx for Reader<'_> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        let mut st = self.get.borrow_mut();
        let mut rows = st.query([key])?;
        match rows.next()? {
            Some(row) => {
                out.clear();
                out.extend_from_slice(row.get_ref(0)?.as_blob()?);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    fn scan(
        &self,
        from: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        let mut st = self.scan.borrow_mut();
        let mut rows = st.query(rusqlite::params![from, limit as i64])?;
        let mut n = 0;
        while let Some(row) = rows.next()? {
            visit(row.get_ref(0)?.as_blob()?, row.get_ref(1)?.as_blob()?);
            n += 1;
        }
        Ok(n)
    }
    fn len(&self) -> Result<u64> {
        let n: i64 = self
            .conn
            .prepare_cached(COUNT)?
            .query_row([], |r| r.get(0))?;
        Ok(n as u64)
    }
}

struct Writer<'c> {
    reader: Reader<'c>,
    upsert: CachedStatement<'c>,
    delete: CachedStatement<'c>,
}

impl ReadTx for Writer<'_> {
    fn get(&self, key: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        self.reader.get(key, out)
    }
    fn scan(
        &self,
        from: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<usize> {
        self.reader.scan(from, limit, visit)
    }
    fn len(&self) -> Result<u64> {
        self.reader.len()
    }
}

impl WriteTx for Writer<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.upsert.execute(rusqlite::params![key, value])?;
        Ok(())
    }
    fn remove(&mut self, key: &[u8]) -> Result<()> {
        self.delete.execute([key])?;
        Ok(())
    }
}

/// Runs `body` between `begin` and `COMMIT`, rolling back if it fails.
fn in_txn(conn: &Connection, begin: &str, body: impl FnOnce() -> Result<()>) -> Result<()> {
    conn.execute_batch(begin)?;
    match body() {
        Ok(()) => {
            conn.execute_batch("COMMIT")?;
            Ok(())
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

impl Engine for SqliteEngine {
    fn write(&self, f: &mut WriteFn<'_>) -> Result<()> {
        let conn = self.writer.lock().unwrap();
        in_txn(&conn, "BEGIN IMMEDIATE", || {
            let mut w = Writer {
                reader: Reader::new(&conn)?,
                upsert: conn.prepare_cached(UPSERT)?,
                delete: conn.prepare_cached(DELETE)?,
            };
            f(&mut w)
        })
    }

    fn read(&self, f: &mut ReadFn<'_>) -> Result<()> {
        let pooled = self.readers.lock().unwrap().pop();
        let conn = match pooled {
            Some(c) => c,
            None => connect(&self.path, self.cache_kib)?,
        };
        let result = in_txn(&conn, "BEGIN", || f(&Reader::new(&conn)?));
        self.readers.lock().unwrap().push(conn);
        result
    }

    fn compact(&mut self) -> Result<bool> {
        let conn = self.writer.lock().unwrap();
        conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(true)
    }
}
