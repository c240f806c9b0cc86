//! Big values in an object store (feature `s3`): the object
//! `blobs/<store %016x>/<blob %032x>` under the database's prefix, created once
//! (`If-None-Match: *`). An acknowledged PUT is durable, so `sync` has nothing
//! to do. A blob's location is its URL (`s3://BUCKET/PREFIX/blobs/...`), which
//! `remove` takes back.

use super::{BlobStore, Listed};
use crate::error::{Error, Result};
use crate::objects::ObjectClient;
use bytes::Bytes;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The bucket's big values (see the module docs).
pub(crate) struct ObjectBlobs {
    client: Arc<ObjectClient>,
}

impl ObjectBlobs {
    pub fn new(client: Arc<ObjectClient>) -> ObjectBlobs {
        ObjectBlobs { client }
    }

    fn store_key(store: u64) -> String {
        format!("blobs/{store:016x}")
    }

    fn key(store: u64, blob: u128) -> String {
        format!("blobs/{store:016x}/{blob:032x}")
    }

    /// The name under the prefix that `location` (a URL this store made) is.
    fn rel<'a>(&self, location: &'a Path) -> Result<&'a str> {
        let base = format!("{}/", self.client.url().trim_end_matches('/'));
        location
            .to_str()
            .and_then(|l| l.strip_prefix(&base))
            .filter(|r| r.starts_with("blobs/"))
            .ok_or_else(|| {
                Error::InvalidOption(format!(
                    "{} is not a big value's location in {}",
                    location.display(),
                    self.client.url()
                ))
            })
    }
}

impl BlobStore for ObjectBlobs {
    fn location(&self, store: u64, blob: u128) -> PathBuf {
        self.client.location(&Self::key(store, blob))
    }

    fn store_location(&self, store: u64) -> PathBuf {
        self.client.location(&Self::store_key(store))
    }

    fn put(&self, store: u64, blob: u128, bytes: &[u8]) -> Result<()> {
        let key = Self::key(store, blob);
        if self.client.put_new(&key, Bytes::copy_from_slice(bytes))? {
            Ok(())
        } else {
            Err(Error::io(
                self.client.location(&key),
                std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            ))
        }
    }

    fn sync(&self, _: &[(u64, u128)]) -> Result<()> {
        Ok(())
    }

    fn get(&self, store: u64, blob: u128) -> Result<Option<Vec<u8>>> {
        Ok(self
            .client
            .get(&Self::key(store, blob))?
            .map(|b| b.to_vec()))
    }

    fn remove(&self, location: &Path) -> Result<()> {
        let rel = self.rel(location)?;
        if rel.matches('/').count() == 1 {
            // A dropped store: every blob of it.
            for (name, _) in self.client.list(rel, None)? {
                self.client.delete(&format!("{rel}/{name}"))?;
            }
            Ok(())
        } else {
            self.client.delete(rel)
        }
    }

    fn list(&self) -> Result<Vec<Listed>> {
        let mut out = Vec::new();
        for (name, _) in self.client.list("blobs", None)? {
            let Some((store, blob)) = name.split_once('/') else {
                continue;
            };
            out.push(Listed {
                location: self.client.location(&format!("blobs/{name}")),
                store: store.to_string(),
                name: blob.to_string(),
            });
        }
        Ok(out)
    }
}
