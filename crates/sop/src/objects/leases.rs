//! Process leases as objects in the bucket: `procs/<id %032x>.lease`, renewed
//! with a conditional write on the ETag the process wrote last (`If-Match`),
//! marked dead the same way by a recoverer (engine/leases.rs has the rules,
//! docs/FORMAT.md "A database in a bucket" the bytes).
//!
//! Every write of a lease has different bytes (a generation and a random
//! nonce), so its ETag is new: an ETag seen twice is the same write, never an
//! older content come back.

use super::{err, ObjectClient};
use crate::engine::leases::{LeaseState, ProcessLeases, RenewError};
use crate::error::Result;
use bytes::Bytes;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use parking_lot::Mutex;
use std::sync::Arc;

/// The bytes of a dead process's lease.
const DEAD: &[u8] = b"sop-lease dead\n";
/// The bytes of the lease of a process that closed cleanly.
const CLOSED: &[u8] = b"sop-lease closed\n";

fn name(id: u128) -> String {
    format!("procs/{id:032x}.lease")
}

fn parse_name(n: &str) -> Option<u128> {
    let hex = n.strip_suffix(".lease")?;
    (hex.len() == 32)
        .then(|| u128::from_str_radix(hex, 16).ok())
        .flatten()
}

fn alive(generation: u64, nonce: u128) -> Bytes {
    Bytes::from(format!("sop-lease alive {generation} {nonce:032x}\n"))
}

/// The outcome of a conditional write.
enum Put {
    /// Written; the new ETag.
    Done(String),
    /// The condition failed (412), or the object is gone.
    Refused,
}

impl ObjectClient {
    /// Write `rel` if its ETag is `etag` (`None`: create only; no condition
    /// at all with `any`).
    fn put_conditional(
        &self,
        rel: &str,
        bytes: Bytes,
        etag: Option<&str>,
        any: bool,
    ) -> Result<Put> {
        let (store, key) = (self.store.clone(), self.key(rel));
        let mode = match (any, etag) {
            (true, _) => PutMode::Overwrite,
            (false, None) => PutMode::Create,
            (false, Some(e)) => PutMode::Update(UpdateVersion {
                e_tag: Some(e.to_string()),
                version: None,
            }),
        };
        let opts = PutOptions::from(mode);
        match self.run("write", rel, async move {
            store.put_opts(&key, PutPayload::from(bytes), opts).await
        })? {
            Ok(r) => Ok(Put::Done(r.e_tag.unwrap_or_default())),
            Err(object_store::Error::Precondition { .. })
            | Err(object_store::Error::AlreadyExists { .. })
            | Err(object_store::Error::NotFound { .. }) => Ok(Put::Refused),
            Err(e) => Err(err(&self.url, "write", rel, e)),
        }
    }

    /// `rel`'s bytes and ETag; `None` if it does not exist.
    fn get_tagged(&self, rel: &str) -> Result<Option<(Bytes, String)>> {
        let (store, key) = (self.store.clone(), self.key(rel));
        match self.run("read", rel, async move {
            let r = store.get(&key).await?;
            let tag = r.meta.e_tag.clone().unwrap_or_default();
            Ok((r.bytes().await?, tag))
        })? {
            Ok(got) => Ok(Some(got)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(err(&self.url, "read", rel, e)),
        }
    }
}

/// This process's lease: what it wrote last.
struct Mine {
    etag: String,
    generation: u64,
}

/// The leases of one database in a bucket.
pub(crate) struct ObjectLeases {
    client: Arc<ObjectClient>,
    mine: Mutex<Option<Mine>>,
}

impl ObjectLeases {
    pub fn new(client: Arc<ObjectClient>) -> ObjectLeases {
        ObjectLeases {
            client,
            mine: Mutex::new(None),
        }
    }
}

impl ProcessLeases for ObjectLeases {
    fn register(&self, me: u128) -> Result<()> {
        let bytes = alive(0, fastrand::u128(..));
        match self
            .client
            .put_conditional(&name(me), bytes.clone(), None, false)?
        {
            Put::Done(etag) => {
                *self.mine.lock() = Some(Mine {
                    etag,
                    generation: 0,
                });
                Ok(())
            }
            // A random id of 128 bits already taken: only an earlier send of
            // this very write (its reply lost) can have made it.
            Put::Refused => match self.client.get_tagged(&name(me))? {
                Some((b, etag)) if b == bytes => {
                    *self.mine.lock() = Some(Mine {
                        etag,
                        generation: 0,
                    });
                    Ok(())
                }
                _ => Err(crate::error::Error::Registry(format!(
                    "object store {}: the lease {} of a fresh process exists",
                    self.client.url,
                    name(me)
                ))),
            },
        }
    }

    fn renew(&self, me: u128) -> std::result::Result<(), RenewError> {
        let mut mine = self.mine.lock();
        let Some(m) = mine.as_mut() else {
            return Err(RenewError::Lost);
        };
        let bytes = alive(m.generation + 1, fastrand::u128(..));
        let rel = name(me);
        let sent = self
            .client
            .put_conditional(&rel, bytes.clone(), Some(&m.etag), false);
        match sent {
            Ok(Put::Done(etag)) => {
                m.etag = etag;
                m.generation += 1;
                Ok(())
            }
            // Refused, or unknown: what is there now says which. Our bytes
            // (an earlier send of this write applied, its reply lost): renewed.
            // What we wrote before: not renewed yet. Anything else (dead,
            // gone): someone judged us dead.
            Ok(Put::Refused) | Err(_) => match self.client.get_tagged(&rel) {
                Ok(Some((b, etag))) if b == bytes => {
                    m.etag = etag;
                    m.generation += 1;
                    Ok(())
                }
                Ok(Some((_, etag))) if etag == m.etag => Err(RenewError::Other(match sent {
                    Err(e) => e,
                    Ok(_) => crate::error::Error::Registry(format!(
                        "object store {}: renewing {rel} was refused, yet it is unchanged",
                        self.client.url
                    )),
                })),
                Ok(_) => {
                    *mine = None;
                    Err(RenewError::Lost)
                }
                Err(e) => Err(RenewError::Other(e)),
            },
        }
    }

    fn list(&self) -> Result<Vec<(u128, LeaseState)>> {
        let mut out = Vec::new();
        for (n, _) in self.client.list("procs", None)? {
            let Some(id) = parse_name(&n) else { continue };
            // Gone between the listing and the read: released or forgotten.
            let Some((bytes, etag)) = self.client.get_tagged(&name(id))? else {
                continue;
            };
            let state = match bytes.as_ref() {
                DEAD => LeaseState::Dead,
                CLOSED => LeaseState::Closed,
                _ => LeaseState::Renewed(etag),
            };
            out.push((id, state));
        }
        Ok(out)
    }

    fn mark_dead(&self, id: u128, token: Option<&str>) -> Result<bool> {
        let rel = name(id);
        match self
            .client
            .put_conditional(&rel, Bytes::from_static(DEAD), token, token.is_none())
        {
            Ok(Put::Done(_)) => Ok(true),
            // Refused or unknown: settled by what is there (a lost reply of
            // ours, or another recoverer, may have marked it already).
            Ok(Put::Refused) | Err(_) => {
                Ok(matches!(self.client.get_tagged(&rel)?, Some((b, _)) if b.as_ref() == DEAD))
            }
        }
    }

    fn forget(&self, id: u128) -> Result<()> {
        self.client.delete(&name(id))
    }

    fn release(&self, me: u128) {
        let Some(m) = self.mine.lock().take() else {
            return;
        };
        let closed = Bytes::from_static(CLOSED);
        if let Err(e) = self
            .client
            .put_conditional(&name(me), closed, Some(&m.etag), false)
        {
            tracing::warn!(error = %e, "could not mark this process's lease closed");
        }
    }

    fn place(&self) -> String {
        format!("{}/procs", self.client.url)
    }
}
