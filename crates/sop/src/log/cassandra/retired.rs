//! Retired records on a Cassandra registry, without the folder's tombstone
//! hard links: `sop_retired ((db, bucket), seq) -> txn` says record `seq` was
//! reclaimed (a checkpoint covers it) and keeps its transaction id; its file
//! is then removed. Its row in `sop_commits` stays, so a stale claim at that
//! sequence is still refused (`IF NOT EXISTS`). docs/FORMAT.md has the table.
//!
//! The table is made (and its statements prepared) on first use: a database
//! that never reclaims never asks for it.

use super::client::{registry_err, Client, BUCKET_SHIFT};
use crate::error::{Error, Result};
use parking_lot::Mutex;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;
use std::sync::Arc;
use std::time::Duration;

struct Statements {
    mark: PreparedStatement,
    get: PreparedStatement,
}

/// The retired records of one database.
pub(crate) struct Retired {
    keyspace: String,
    st: Mutex<Option<Arc<Statements>>>,
}

impl Retired {
    pub fn new(keyspace: &str) -> Retired {
        Retired {
            keyspace: keyspace.to_string(),
            st: Mutex::new(None),
        }
    }

    fn statements(&self, client: &Client) -> Result<Arc<Statements>> {
        let mut st = self.st.lock();
        if let Some(s) = &*st {
            return Ok(s.clone());
        }
        let (session, timeout, local_dc) = client.session();
        let t = format!("{}.sop_retired", self.keyspace);
        let cl = if local_dc {
            Consistency::LocalQuorum
        } else {
            Consistency::Quorum
        };
        let made = client.run_on(Duration::from_secs(60), async move {
            let q = format!(
                "CREATE TABLE IF NOT EXISTS {t} (db text, bucket bigint, seq bigint, txn blob, \
                 PRIMARY KEY ((db, bucket), seq))"
            );
            session
                .query_unpaged(q.clone(), ())
                .await
                .map_err(|e| registry_err(&format!("running `{q}`"), e))?;
            let prep = |q: String| {
                let s = &session;
                async move {
                    let mut p = s
                        .prepare(q.clone())
                        .await
                        .map_err(|e| registry_err(&format!("preparing `{q}`"), e))?;
                    p.set_consistency(cl);
                    p.set_request_timeout(Some(timeout));
                    // Writing the same row twice is harmless.
                    p.set_is_idempotent(true);
                    Ok::<_, Error>(p)
                }
            };
            Ok::<_, Error>(Statements {
                mark: prep(format!(
                    "INSERT INTO {t} (db, bucket, seq, txn) VALUES (?, ?, ?, ?)"
                ))
                .await?,
                get: prep(format!(
                    "SELECT txn FROM {t} WHERE db = ? AND bucket = ? AND seq = ?"
                ))
                .await?,
            })
        })??;
        let made = Arc::new(made);
        *st = Some(made.clone());
        Ok(made)
    }

    /// Mark `records` (sequence, transaction) retired; every row is on a
    /// quorum when this returns.
    pub fn mark(&self, client: &Client, records: &[(u64, u128)]) -> Result<()> {
        let st = self.statements(client)?;
        let (session, timeout, _) = client.session();
        let db = client.db().to_string();
        let records = records.to_vec();
        let n = records.len() as u32;
        client.run_on(timeout * (n + 2) + Duration::from_secs(5), async move {
            for (seq, txn) in records {
                let values = (
                    db.clone(),
                    (seq >> BUCKET_SHIFT) as i64,
                    seq as i64,
                    txn.to_be_bytes().to_vec(),
                );
                session
                    .execute_unpaged(&st.mark, values)
                    .await
                    .map_err(|e| registry_err(&format!("marking record {seq} retired"), e))?;
            }
            Ok::<_, Error>(())
        })?
    }

    /// The transaction of record `seq` if it was retired.
    pub fn get(&self, client: &Client, seq: u64) -> Result<Option<u128>> {
        let st = self.statements(client)?;
        let (session, timeout, _) = client.session();
        let values = (
            client.db().to_string(),
            (seq >> BUCKET_SHIFT) as i64,
            seq as i64,
        );
        client.run_on(timeout * 2 + Duration::from_secs(5), async move {
            let what = format!("reading whether record {seq} was retired");
            let r = session
                .execute_unpaged(&st.get, values)
                .await
                .map_err(|e| registry_err(&what, e))?;
            let rows = r.into_rows_result().map_err(|e| registry_err(&what, e))?;
            let row: Option<(Vec<u8>,)> =
                rows.maybe_first_row().map_err(|e| registry_err(&what, e))?;
            row.map(|(txn,)| {
                <[u8; 16]>::try_from(txn)
                    .map(u128::from_be_bytes)
                    .map_err(|_| registry_err(&what, "txn is not 16 bytes"))
            })
            .transpose()
        })?
    }
}
