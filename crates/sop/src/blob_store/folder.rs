//! Big values in the database folder: `blobs/<store %016x>/<blob %032x>`, one
//! file each, written once; made durable by `fdatasync` of each file and a
//! directory sync of its store's folder.

use super::{BlobStore, Listed};
use crate::error::{Error, Result};
use crate::health::Health;
use crate::io::Vfs;
use crate::layout::Layout;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The folder's big values (see the module docs).
pub(crate) struct FolderBlobs {
    vfs: Arc<dyn Vfs>,
    layout: Layout,
    health: Arc<Health>,
}

impl FolderBlobs {
    pub fn new(vfs: Arc<dyn Vfs>, layout: Layout, health: Arc<Health>) -> FolderBlobs {
        FolderBlobs {
            vfs,
            layout,
            health,
        }
    }
}

impl BlobStore for FolderBlobs {
    fn location(&self, store: u64, blob: u128) -> PathBuf {
        self.layout.blob(store, blob)
    }

    fn store_location(&self, store: u64) -> PathBuf {
        self.layout.blob_dir(store)
    }

    fn put(&self, store: u64, blob: u128, bytes: &[u8]) -> Result<()> {
        let dir = self.layout.blob_dir(store);
        if !self.vfs.exists(&dir).map_err(|e| Error::io(&dir, e))? {
            // `blobs/` exists from the folder's creation: only its entry for the
            // store's folder needs syncing.
            self.vfs
                .create_dir_all(&dir)
                .map_err(|e| Error::io(&dir, e))?;
            let parent = self.layout.blobs();
            self.vfs
                .sync_dir(&parent)
                .map_err(|e| Error::io(&parent, e))?;
        }
        let path = self.layout.blob(store, blob);
        let f = self
            .vfs
            .create_new(&path)
            .map_err(|e| Error::io(&path, e))?;
        f.append(bytes).map_err(|e| Error::io(&path, e))
    }

    fn sync(&self, blobs: &[(u64, u128)]) -> Result<()> {
        for (store, blob) in blobs {
            let p = self.layout.blob(*store, *blob);
            let f = self.vfs.open(&p).map_err(|e| Error::io(&p, e))?;
            f.sync_data().map_err(|e| Error::io(&p, e))?;
        }
        let mut dirs: Vec<u64> = blobs.iter().map(|(s, _)| *s).collect();
        dirs.sort_unstable();
        dirs.dedup();
        for store in dirs {
            let d = self.layout.blob_dir(store);
            // The folder is shared with every committer of the process: a failed
            // sync may have lost another commit's entry, and a later sync would
            // not say so. Poison, as for any failed sync of shared state.
            self.vfs.sync_dir(&d).map_err(|e| {
                let e = Error::io(&d, e);
                self.health.poison_with(&e);
                e
            })?;
        }
        Ok(())
    }

    fn get(&self, store: u64, blob: u128) -> Result<Option<Vec<u8>>> {
        let path = self.layout.blob(store, blob);
        match self.vfs.read_all(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    fn remove(&self, location: &Path) -> Result<()> {
        let gone = |p: &Path, r: io::Result<()>| match r {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io(p, e)),
            _ => Ok(()),
        };
        match self.vfs.list_dir(location) {
            // A dropped store's folder: every blob, then the folder.
            Ok(names) => {
                let mut first_err = Ok(());
                for n in names {
                    let p = location.join(n);
                    let r = gone(&p, self.vfs.remove_file(&p));
                    if first_err.is_ok() {
                        first_err = r;
                    }
                }
                first_err?;
                gone(location, self.vfs.remove_dir(location))
            }
            Err(_) => gone(location, self.vfs.remove_file(location)),
        }
    }

    fn list(&self) -> Result<Vec<Listed>> {
        let blobs = self.layout.blobs();
        let mut out = Vec::new();
        for store in self
            .vfs
            .list_dir(&blobs)
            .map_err(|e| Error::io(&blobs, e))?
        {
            let dir = blobs.join(&store);
            for name in self.vfs.list_dir(&dir).map_err(|e| Error::io(&dir, e))? {
                out.push(Listed {
                    location: dir.join(&name),
                    store: store.clone(),
                    name,
                });
            }
        }
        Ok(out)
    }
}
