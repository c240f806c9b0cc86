//! The registry's table in Cassandra, behind a synchronous interface.
//!
//! The CQL driver is async; this file owns a small runtime of its own and runs
//! every request there, waiting on a plain channel, so it may be called from
//! any thread (a caller inside another async runtime included). Nothing async
//! leaves this file.
//!
//! One table, `sop_commits`, holds a row per published record:
//! `((db, bucket), seq) -> (file, len, sum, txn)`, where `bucket` is
//! `seq >> 16` (a partition holds 65,536 records) and `file` is the name under
//! `log/claims/` the record was written to before its claim.

use crate::error::{Error, Result};
use crate::options::CassandraRegistry;
use parking_lot::Mutex;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency};
use scylla::value::{CqlValue, Row};
use std::future::Future;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Records per partition (`bucket = seq >> BUCKET_SHIFT`).
pub(crate) const BUCKET_SHIFT: u32 = 16;

/// What the registry says of one sequence number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Claim {
    /// The record's file name under `log/claims/`.
    pub file: String,
    /// The record file's length.
    pub len: u64,
    /// The checksum in the record's trailer (of its header).
    pub sum: u64,
    /// The committing transaction's id.
    pub txn: u128,
}

/// A session with one cluster and its prepared statements, shared by every
/// handle of this process that uses the same registry settings (opening a
/// database must not cost a new connection pool).
struct Shared {
    rt: tokio::runtime::Runtime,
    session: Arc<Session>,
    claim: PreparedStatement,
    get: PreparedStatement,
    get_serial: PreparedStatement,
    range: PreparedStatement,
    timeout: Duration,
    local_dc: bool,
}

/// Sessions alive in this process, by their settings.
static SESSIONS: Mutex<Vec<(CassandraRegistry, Weak<Shared>)>> = Mutex::new(Vec::new());

/// A connection to the registry's table, for one database.
pub(crate) struct Client {
    shared: Arc<Shared>,
    db: String,
}

pub(super) fn registry_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Registry(format!("{what}: {e}"))
}

impl Client {
    /// Connect (or share this process's session), create the keyspace and table
    /// if missing, prepare the statements.
    pub fn connect(cfg: &CassandraRegistry, db: &str) -> Result<Client> {
        let mut sessions = SESSIONS.lock();
        sessions.retain(|(_, w)| w.strong_count() > 0);
        if let Some(shared) = sessions
            .iter()
            .find(|(c, _)| c == cfg)
            .and_then(|(_, w)| w.upgrade())
        {
            return Ok(Client {
                shared,
                db: db.to_string(),
            });
        }
        let shared = Arc::new(Shared::connect(cfg)?);
        sessions.push((cfg.clone(), Arc::downgrade(&shared)));
        Ok(Client {
            shared,
            db: db.to_string(),
        })
    }
}

impl Shared {
    fn connect(cfg: &CassandraRegistry) -> Result<Shared> {
        if cfg.hosts.is_empty() {
            return Err(Error::InvalidOption(
                "a Cassandra registry needs at least one host".into(),
            ));
        }
        if !valid_identifier(&cfg.keyspace) {
            return Err(Error::InvalidOption(format!(
                "keyspace {:?}: use letters, digits and underscores (at most 48, starting with a letter)",
                cfg.keyspace
            )));
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sop-cassandra")
            .enable_all()
            .build()
            .map_err(|e| registry_err("starting the Cassandra client's runtime", e))?;
        let timeout = Duration::from_millis(cfg.timeout_ms.max(1));
        let (read, serial) = if cfg.local_dc {
            (Consistency::LocalQuorum, SerialConsistency::LocalSerial)
        } else {
            (Consistency::Quorum, SerialConsistency::Serial)
        };
        let ks = cfg.keyspace.clone();
        let replication = cfg
            .replication
            .clone()
            .unwrap_or_else(|| "{'class': 'SimpleStrategy', 'replication_factor': 1}".into());
        let hosts = cfg.hosts.clone();
        let connect = async move {
            let session = SessionBuilder::new()
                .known_nodes(&hosts)
                .connection_timeout(timeout.max(Duration::from_secs(5)))
                .build()
                .await
                .map_err(|e| registry_err(&format!("connecting to Cassandra at {hosts:?}"), e))?;
            let ddl = |q: String| {
                let s = &session;
                async move {
                    s.query_unpaged(q.clone(), ())
                        .await
                        .map_err(|e| registry_err(&format!("running `{q}`"), e))
                }
            };
            ddl(format!(
                "CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {replication}"
            ))
            .await?;
            ddl(format!(
                "CREATE TABLE IF NOT EXISTS {ks}.sop_commits (db text, bucket bigint, seq bigint, \
                 file text, len bigint, sum bigint, txn blob, PRIMARY KEY ((db, bucket), seq))"
            ))
            .await?;
            let prep = |q: String, cl: Consistency| {
                let s = &session;
                async move {
                    let mut p = s
                        .prepare(q.clone())
                        .await
                        .map_err(|e| registry_err(&format!("preparing `{q}`"), e))?;
                    p.set_consistency(cl);
                    p.set_serial_consistency(Some(serial));
                    p.set_request_timeout(Some(timeout));
                    // Never sent twice by the driver: a claim whose reply was lost
                    // is settled by a serial read, not retried blindly.
                    p.set_is_idempotent(false);
                    Ok::<_, Error>(p)
                }
            };
            let claim = prep(
                format!(
                    "INSERT INTO {ks}.sop_commits (db, bucket, seq, file, len, sum, txn) \
                     VALUES (?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"
                ),
                read,
            )
            .await?;
            let select = format!(
                "SELECT file, len, sum, txn FROM {ks}.sop_commits WHERE db = ? AND bucket = ? AND seq = ?"
            );
            let get = prep(select.clone(), read).await?;
            // A read at SERIAL (or LOCAL_SERIAL) consistency is a Paxos read.
            let serial_cl = match serial {
                SerialConsistency::LocalSerial => Consistency::LocalSerial,
                _ => Consistency::Serial,
            };
            let get_serial = prep(select, serial_cl).await?;
            let range = prep(
                format!(
                    "SELECT seq, file, len, sum, txn FROM {ks}.sop_commits \
                     WHERE db = ? AND bucket = ? AND seq >= ? AND seq <= ?"
                ),
                read,
            )
            .await?;
            Ok::<_, Error>((Arc::new(session), claim, get, get_serial, range))
        };
        let (session, claim, get, get_serial, range) = run(&rt, Duration::from_secs(60), connect)??;
        Ok(Shared {
            rt,
            session,
            claim,
            get,
            get_serial,
            range,
            timeout,
            local_dc: cfg.local_dc,
        })
    }
}

/// What the lease table (`leases.rs`) shares of a client.
impl Client {
    /// The session, the request timeout, and whether claims are LOCAL_SERIAL.
    pub(super) fn session(&self) -> (Arc<Session>, Duration, bool) {
        let sh = &*self.shared;
        (sh.session.clone(), sh.timeout, sh.local_dc)
    }

    /// The database's id (the tables' `db` column).
    pub(super) fn db(&self) -> &str {
        &self.db
    }

    /// Run `f` on the client's runtime, waiting at most `limit`.
    pub(super) fn run_on<T: Send + 'static>(
        &self,
        limit: Duration,
        f: impl Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        run(&self.shared.rt, limit, f)
    }
}

impl Client {
    /// Claim `seq` for `c`: `Ok(true)` if this call took it, `Ok(false)` if a
    /// row was there. An error leaves the outcome unknown (see `resolve`).
    pub fn claim(&self, seq: u64, c: &Claim) -> Result<bool> {
        let sh = &*self.shared;
        let s = sh.session.clone();
        let p = sh.claim.clone();
        let values = (
            self.db.clone(),
            (seq >> BUCKET_SHIFT) as i64,
            seq as i64,
            c.file.clone(),
            c.len as i64,
            c.sum as i64,
            c.txn.to_be_bytes().to_vec(),
        );
        let res = run(
            &sh.rt,
            sh.timeout * 2 + Duration::from_secs(5),
            async move {
                let r = s
                    .execute_unpaged(&p, values)
                    .await
                    .map_err(|e| registry_err(&format!("claiming sequence {seq}"), e))?;
                let rows = r
                    .into_rows_result()
                    .map_err(|e| registry_err("reading the claim's result", e))?;
                let row: Row = rows
                    .first_row()
                    .map_err(|e| registry_err("reading the claim's result", e))?;
                match row.columns.first() {
                    Some(Some(CqlValue::Boolean(applied))) => Ok(*applied),
                    other => Err(registry_err(
                        "reading the claim's result",
                        format!("no [applied] column (got {other:?})"),
                    )),
                }
            },
        )?;
        res
    }

    /// The row of `seq`, read at the regular (quorum) consistency: it sees every
    /// claim acknowledged before the read began.
    pub fn get(&self, seq: u64) -> Result<Option<Claim>> {
        self.read(seq, false)
    }

    /// The row of `seq`, read at SERIAL consistency: it completes any claim in
    /// progress first, so after it returns no earlier attempt can still take
    /// `seq`. What settles a claim whose reply was lost.
    pub fn resolve(&self, seq: u64) -> Result<Option<Claim>> {
        self.read(seq, true)
    }

    /// The rows of `from..=to` (at most [`RANGE_MAX`] sequences, in one
    /// bucket), in order.
    pub fn range(&self, from: u64, to: u64) -> Result<Vec<(u64, Claim)>> {
        debug_assert!(from >> BUCKET_SHIFT == to >> BUCKET_SHIFT && to - from < RANGE_MAX);
        let sh = &*self.shared;
        let s = sh.session.clone();
        let p = sh.range.clone();
        let values = (
            self.db.clone(),
            (from >> BUCKET_SHIFT) as i64,
            from as i64,
            to as i64,
        );
        run(
            &sh.rt,
            sh.timeout * 4 + Duration::from_secs(5),
            async move {
                let r = s
                    .execute_unpaged(&p, values)
                    .await
                    .map_err(|e| registry_err(&format!("reading sequences {from}..={to}"), e))?;
                let rows = r
                    .into_rows_result()
                    .map_err(|e| registry_err("reading registry rows", e))?;
                let mut out = Vec::new();
                for row in rows
                    .rows::<(i64, String, i64, i64, Vec<u8>)>()
                    .map_err(|e| registry_err("reading registry rows", e))?
                {
                    let (seq, file, len, sum, txn) =
                        row.map_err(|e| registry_err("reading a registry row", e))?;
                    out.push((seq as u64, claim_of(file, len, sum, txn)?));
                }
                Ok(out)
            },
        )?
    }

    fn read(&self, seq: u64, serial: bool) -> Result<Option<Claim>> {
        let sh = &*self.shared;
        let s = sh.session.clone();
        let p = if serial {
            sh.get_serial.clone()
        } else {
            sh.get.clone()
        };
        let values = (self.db.clone(), (seq >> BUCKET_SHIFT) as i64, seq as i64);
        run(
            &sh.rt,
            sh.timeout * 2 + Duration::from_secs(5),
            async move {
                let r = s
                    .execute_unpaged(&p, values)
                    .await
                    .map_err(|e| registry_err(&format!("reading sequence {seq}"), e))?;
                let rows = r
                    .into_rows_result()
                    .map_err(|e| registry_err("reading a registry row", e))?;
                let row: Option<(String, i64, i64, Vec<u8>)> = rows
                    .maybe_first_row()
                    .map_err(|e| registry_err("reading a registry row", e))?;
                row.map(|(file, len, sum, txn)| {
                    let txn: [u8; 16] = txn.try_into().map_err(|_| {
                        registry_err("reading a registry row", "txn is not 16 bytes")
                    })?;
                    Ok(Claim {
                        file,
                        len: len as u64,
                        sum: sum as u64,
                        txn: u128::from_be_bytes(txn),
                    })
                })
                .transpose()
            },
        )?
    }
}

/// Sequences one `range` call reads at most.
pub(crate) const RANGE_MAX: u64 = 4096;

fn claim_of(file: String, len: i64, sum: i64, txn: Vec<u8>) -> Result<Claim> {
    let txn: [u8; 16] = txn
        .try_into()
        .map_err(|_| registry_err("reading a registry row", "txn is not 16 bytes"))?;
    Ok(Claim {
        file,
        len: len as u64,
        sum: sum as u64,
        txn: u128::from_be_bytes(txn),
    })
}

/// Run `f` on the client's runtime and wait for it, from any thread, at most
/// `limit` (the driver's own timeouts come first; this only bounds a hang).
fn run<T: Send + 'static>(
    rt: &tokio::runtime::Runtime,
    limit: Duration,
    f: impl Future<Output = T> + Send + 'static,
) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    rt.spawn(async move {
        let _ = tx.send(f.await);
    });
    rx.recv_timeout(limit)
        .map_err(|_| Error::Registry(format!("no answer from Cassandra within {limit:?}")))
}

/// A CQL identifier we accept unquoted.
fn valid_identifier(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic())
        && s.len() <= 48
        && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}
