//! Process leases as rows of the registry's keyspace (`CassandraRegistry::
//! leases`): `sop_leases ((db), proc) -> (gen, state)`, one partition per
//! database. Every change is a lightweight transaction conditional on the
//! generation and state the writer last saw: a renewal `IF gen = g AND state =
//! 'alive'` sets `gen = g + 1`; a recoverer marks a stale lease dead `IF gen = g`
//! with the generation it saw unchanged for the lease time (engine/leases.rs
//! has the rules, docs/FORMAT.md "The Cassandra registry" the table). A
//! request whose reply is lost is settled by a SERIAL read of the row.

use super::client::{registry_err, Client};
use crate::engine::leases::{LeaseState, ProcessLeases, RenewError};
use crate::error::{Error, Result};
use crate::options::CassandraRegistry;
use parking_lot::Mutex;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency};
use scylla::value::{CqlValue, Row};
use std::sync::Arc;
use std::time::Duration;

struct Statements {
    register: PreparedStatement,
    renew: PreparedStatement,
    mark: PreparedStatement,
    mark_any: PreparedStatement,
    forget: PreparedStatement,
    list: PreparedStatement,
    get_serial: PreparedStatement,
}

/// The leases of one database on a Cassandra registry.
pub(crate) struct RowLeases {
    client: Client,
    session: Arc<Session>,
    st: Arc<Statements>,
    timeout: Duration,
    keyspace: String,
    /// The generation this process wrote last (`None` once lost or released).
    mine: Mutex<Option<i64>>,
}

fn proc_key(id: u128) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

impl RowLeases {
    /// Connect (sharing the registry's session), create the table if missing.
    pub fn open(cfg: &CassandraRegistry, db_id: &str) -> Result<RowLeases> {
        let client = Client::connect(cfg, db_id)?;
        let (session, timeout, local_dc) = client.session();
        let ks = cfg.keyspace.clone();
        let s = session.clone();
        let st = client.run_on(Duration::from_secs(60), async move {
            let q = format!(
                "CREATE TABLE IF NOT EXISTS {ks}.sop_leases (db text, proc blob, gen bigint, \
                 state text, PRIMARY KEY (db, proc))"
            );
            s.query_unpaged(q.clone(), ())
                .await
                .map_err(|e| registry_err(&format!("running `{q}`"), e))?;
            let (cl, serial, serial_cl) = if local_dc {
                (
                    Consistency::LocalQuorum,
                    SerialConsistency::LocalSerial,
                    Consistency::LocalSerial,
                )
            } else {
                (
                    Consistency::Quorum,
                    SerialConsistency::Serial,
                    Consistency::Serial,
                )
            };
            let prep = |q: String, cl: Consistency| {
                let s = &s;
                async move {
                    let mut p = s
                        .prepare(q.clone())
                        .await
                        .map_err(|e| registry_err(&format!("preparing `{q}`"), e))?;
                    p.set_consistency(cl);
                    p.set_serial_consistency(Some(serial));
                    p.set_request_timeout(Some(timeout));
                    p.set_is_idempotent(false);
                    Ok::<_, Error>(p)
                }
            };
            let t = format!("{ks}.sop_leases");
            Ok::<_, Error>(Statements {
                register: prep(
                    format!("INSERT INTO {t} (db, proc, gen, state) VALUES (?, ?, 0, 'alive') IF NOT EXISTS"),
                    cl,
                )
                .await?,
                renew: prep(
                    format!("UPDATE {t} SET gen = ?, state = ? WHERE db = ? AND proc = ? IF gen = ? AND state = 'alive'"),
                    cl,
                )
                .await?,
                mark: prep(
                    format!("UPDATE {t} SET gen = ?, state = 'dead' WHERE db = ? AND proc = ? IF gen = ?"),
                    cl,
                )
                .await?,
                mark_any: prep(
                    format!("UPDATE {t} SET state = 'dead' WHERE db = ? AND proc = ? IF EXISTS"),
                    cl,
                )
                .await?,
                forget: prep(
                    format!("DELETE FROM {t} WHERE db = ? AND proc = ? IF state IN ('dead', 'closed')"),
                    cl,
                )
                .await?,
                list: prep(format!("SELECT proc, gen, state FROM {t} WHERE db = ?"), cl).await?,
                get_serial: prep(
                    format!("SELECT gen, state FROM {t} WHERE db = ? AND proc = ?"),
                    serial_cl,
                )
                .await?,
            })
        })??;
        Ok(RowLeases {
            client,
            session,
            st: Arc::new(st),
            timeout,
            keyspace: cfg.keyspace.clone(),
            mine: Mutex::new(None),
        })
    }

    fn limit(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(5)
    }

    /// Run a lightweight transaction: whether it applied.
    fn lwt<V>(
        &self,
        what: &'static str,
        pick: fn(&Statements) -> &PreparedStatement,
        values: V,
    ) -> Result<bool>
    where
        V: scylla::serialize::row::SerializeRow + Send + Sync + 'static,
    {
        let (s, st) = (self.session.clone(), self.st.clone());
        self.client.run_on(self.limit(), async move {
            let r = s
                .execute_unpaged(pick(&st), values)
                .await
                .map_err(|e| registry_err(what, e))?;
            let rows = r.into_rows_result().map_err(|e| registry_err(what, e))?;
            let row: Row = rows.first_row().map_err(|e| registry_err(what, e))?;
            match row.columns.first() {
                Some(Some(CqlValue::Boolean(applied))) => Ok(*applied),
                other => Err(registry_err(
                    what,
                    format!("no [applied] column (got {other:?})"),
                )),
            }
        })?
    }

    /// The row of `id`, read at SERIAL consistency (settles a lost reply).
    fn settle(&self, id: u128) -> Result<Option<(i64, String)>> {
        let (s, st) = (self.session.clone(), self.st.clone());
        let values = (self.client.db().to_string(), proc_key(id));
        self.client.run_on(self.limit(), async move {
            let what = "reading a process lease";
            let r = s
                .execute_unpaged(&st.get_serial, values)
                .await
                .map_err(|e| registry_err(what, e))?;
            let rows = r.into_rows_result().map_err(|e| registry_err(what, e))?;
            rows.maybe_first_row::<(i64, String)>()
                .map_err(|e| registry_err(what, e))
        })?
    }
}

impl ProcessLeases for RowLeases {
    fn register(&self, me: u128) -> Result<()> {
        let db = self.client.db().to_string();
        let applied = match self.lwt(
            "registering a process lease",
            |s| &s.register,
            (db, proc_key(me)),
        ) {
            Ok(a) => a,
            // A random id: a row there can only be this very insert's.
            Err(_) => self.settle(me)? == Some((0, "alive".into())),
        };
        if !applied && self.settle(me)? != Some((0, "alive".into())) {
            return Err(Error::Registry(format!(
                "the lease of a fresh process {me:032x} exists in {}.sop_leases",
                self.keyspace
            )));
        }
        *self.mine.lock() = Some(0);
        Ok(())
    }

    fn renew(&self, me: u128) -> std::result::Result<(), RenewError> {
        let mut mine = self.mine.lock();
        let Some(g) = *mine else {
            return Err(RenewError::Lost);
        };
        let db = self.client.db().to_string();
        let sent = self.lwt(
            "renewing a process lease",
            |s| &s.renew,
            (g + 1, "alive".to_string(), db, proc_key(me), g),
        );
        if let Ok(true) = sent {
            *mine = Some(g + 1);
            return Ok(());
        }
        // Not applied, or unknown: the row says which.
        match self.settle(me) {
            Ok(Some((n, st))) if n == g + 1 && st == "alive" => {
                *mine = Some(n);
                Ok(())
            }
            Ok(Some((n, st))) if n == g && st == "alive" => Err(RenewError::Other(match sent {
                Err(e) => e,
                Ok(_) => {
                    Error::Registry("a lease renewal was refused, yet the row is unchanged".into())
                }
            })),
            Ok(_) => {
                *mine = None;
                Err(RenewError::Lost)
            }
            Err(e) => Err(RenewError::Other(e)),
        }
    }

    fn list(&self) -> Result<Vec<(u128, LeaseState)>> {
        let (s, st) = (self.session.clone(), self.st.clone());
        let db = self.client.db().to_string();
        self.client.run_on(self.limit() * 2, async move {
            let what = "listing process leases";
            let r = s
                .execute_unpaged(&st.list, (db,))
                .await
                .map_err(|e| registry_err(what, e))?;
            let rows = r.into_rows_result().map_err(|e| registry_err(what, e))?;
            let mut out = Vec::new();
            for row in rows
                .rows::<(Vec<u8>, i64, String)>()
                .map_err(|e| registry_err(what, e))?
            {
                let (p, g, state) = row.map_err(|e| registry_err(what, e))?;
                let Ok(p) = <[u8; 16]>::try_from(p) else {
                    continue;
                };
                let state = match state.as_str() {
                    "dead" => LeaseState::Dead,
                    "closed" => LeaseState::Closed,
                    _ => LeaseState::Renewed(format!("{g}")),
                };
                out.push((u128::from_be_bytes(p), state));
            }
            Ok(out)
        })?
    }

    fn mark_dead(&self, id: u128, token: Option<&str>) -> Result<bool> {
        let db = self.client.db().to_string();
        let sent = match token {
            Some(t) => {
                let g: i64 = t.parse().map_err(|_| {
                    Error::Registry(format!("a lease token {t:?} is not a generation"))
                })?;
                self.lwt(
                    "marking a lease dead",
                    |s| &s.mark,
                    (g + 1, db, proc_key(id), g),
                )
            }
            None => self.lwt("marking a lease dead", |s| &s.mark_any, (db, proc_key(id))),
        };
        match sent {
            Ok(true) => Ok(true),
            // Refused or unknown: dead now (by us or another) or renewed.
            _ => Ok(matches!(self.settle(id)?, Some((_, st)) if st == "dead")),
        }
    }

    fn forget(&self, id: u128) -> Result<()> {
        let db = self.client.db().to_string();
        self.lwt(
            "forgetting a dead process's lease",
            |s| &s.forget,
            (db, proc_key(id)),
        )
        .map(|_| ())
    }

    fn release(&self, me: u128) {
        let Some(g) = self.mine.lock().take() else {
            return;
        };
        let db = self.client.db().to_string();
        if let Err(e) = self.lwt(
            "marking this process's lease closed",
            |s| &s.renew,
            (g + 1, "closed".to_string(), db, proc_key(me), g),
        ) {
            tracing::warn!(error = %e, "could not mark this process's lease closed");
        }
    }

    fn place(&self) -> String {
        format!("{}.sop_leases", self.keyspace)
    }
}
