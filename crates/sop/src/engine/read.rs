//! Reading node images and values from commit records and blob files.

use super::*;

impl DbInner {
    /// Record `seq`, open for reading node images and values.
    pub fn segment(&self, seq: u64) -> Result<Arc<dyn VFile>> {
        self.commits.open_record(seq)
    }

    /// Read, verify and decode the node at `h` (a leaf delta applied to its base).
    pub fn read_node(&self, h: &Handle) -> Result<Arc<Node>> {
        if let Some(n) = self.cache.get((h.seq, h.off)) {
            self.counters.node_hits.bump();
            return Ok(n);
        }
        self.counters.node_misses.bump();
        let node = match h.base {
            None => self.read_node_uncached(h)?,
            // The base stays cached: the next commit of this leaf diffs against it.
            Some(b) => self.apply_delta(h, &*self.read_node(&Handle::full(b))?)?,
        };
        self.cache.insert((h.seq, h.off), node.clone());
        Ok(node)
    }

    /// Whether reading a node not cached is a round trip to a server (an
    /// object store), so reading several at once pays.
    pub(crate) fn fetches_are_round_trips(&self) -> bool {
        !self.commits.in_folder()
    }

    /// Read the nodes at `handles` into the node cache concurrently, if the
    /// first is not there yet (a scan reaching a leaf it has not read reads
    /// the next ones with it: one round trip's wait for many leaves). Errors
    /// are left for the reads that follow to meet.
    pub(crate) fn prefetch_nodes(&self, handles: &[Handle]) {
        let Some(first) = handles.first() else { return };
        if self.cache.get((first.seq, first.off)).is_some() {
            return;
        }
        let todo: Vec<&Handle> = handles
            .iter()
            .filter(|h| self.cache.get((h.seq, h.off)).is_none())
            .collect();
        if todo.len() < 2 {
            return;
        }
        std::thread::scope(|s| {
            for h in todo {
                s.spawn(move || {
                    let _ = self.read_node(h);
                });
            }
        });
    }

    /// `read_node`, from disk (or the shared cache) whatever this process caches.
    pub fn read_node_uncached(&self, h: &Handle) -> Result<Arc<Node>> {
        if let Some(b) = h.base {
            return self.apply_delta(h, &*self.read_node_uncached(&Handle::full(b))?);
        }
        let buf = self.read_node_bytes(h)?;
        let node = Node::decode(&buf, h.seq).map_err(|e| {
            Error::corrupt(
                self.commits.location(h.seq),
                format!("node at offset {}: {e}", h.off),
            )
        })?;
        Ok(Arc::new(node))
    }

    /// The leaf the delta image at `h` makes of `base`.
    fn apply_delta(&self, h: &Handle, base: &Node) -> Result<Arc<Node>> {
        let buf = self.read_node_bytes(h)?;
        let corrupt = |e: String| {
            Error::corrupt(
                self.commits.location(h.seq),
                format!("leaf delta at offset {}: {e}", h.off),
            )
        };
        let Node::Leaf(base) = base else {
            return Err(corrupt("its base is not a leaf".into()));
        };
        let leaf = Leaf::apply_delta(base, &buf, h.seq).map_err(|e| corrupt(e.0))?;
        Ok(Arc::new(Node::Leaf(leaf)))
    }

    /// The verified bytes of the node image at `h` (the shared cache, else the record).
    pub fn read_node_bytes(&self, h: &Handle) -> Result<Vec<u8>> {
        let shared = self.coord.clustered() && self.opts.shared_node_cache == Some(true);
        let shared_key = format!("node:{:x}:{:x}", h.seq, h.off);
        let from_shared = if shared {
            self.coord
                .cache_get(&shared_key)
                .filter(|b| b.len() == h.len as usize && checksum(b) == h.checksum)
        } else {
            None
        };
        let buf = match from_shared {
            Some(b) => b,
            None => {
                let name = format!("n-{:016x}-{:x}", h.seq, h.off);
                match self.disk_get(&name, |b| {
                    b.len() == h.len as usize && checksum(b) == h.checksum
                }) {
                    Some(b) => b,
                    None => {
                        let f = self.segment(h.seq)?;
                        let mut buf = vec![0u8; h.len as usize];
                        f.read_exact_at(&mut buf, h.off).map_err(|e| {
                            self.reclaimed_or(h.seq, Error::io(self.commits.location(h.seq), e))
                        })?;
                        if checksum(&buf) == h.checksum {
                            if shared {
                                self.coord.cache_put(&shared_key, &buf);
                            }
                            self.disk_put(&name, &buf);
                        }
                        buf
                    }
                }
            }
        };
        if checksum(&buf) != h.checksum {
            return Err(self.reclaimed_or(
                h.seq,
                Error::corrupt(
                    self.commits.location(h.seq),
                    format!(
                        "node at offset {} ({} bytes) fails its checksum",
                        h.off, h.len
                    ),
                ),
            ));
        }
        Ok(buf)
    }

    /// The bytes the disk cache keeps under `name`, if there is a cache, it has
    /// them and they pass `ok` (the caller's own check: length and checksum).
    pub(crate) fn disk_get(&self, name: &str, ok: impl Fn(&[u8]) -> bool) -> Option<Vec<u8>> {
        self.reads.disk.as_ref()?.get(name).filter(|b| ok(b))
    }

    /// Keep verified bytes in the disk cache, if there is one.
    pub(crate) fn disk_put(&self, name: &str, bytes: &[u8]) {
        if let Some(d) = &self.reads.disk {
            d.put(name, bytes);
        }
    }

    /// What this handle's reads cost (`Database::read_stats`).
    pub(crate) fn read_stats(&self) -> crate::read_cache::ReadStats {
        use std::sync::atomic::Ordering::Relaxed;
        let mut out = crate::read_cache::ReadStats::default();
        if let Some(t) = &self.reads.transfer {
            out.object_gets = t.gets.load(Relaxed);
            out.object_bytes_fetched = t.bytes_in.load(Relaxed);
            out.object_puts = t.puts.load(Relaxed);
            out.object_bytes_sent = t.bytes_out.load(Relaxed);
        }
        out.disk_cache = self.reads.disk.as_ref().map(|d| d.stats());
        out
    }

    /// `err`, a failed read of record `seq`, unless the record was retired
    /// meanwhile: then the reader's snapshot is older than what reclaim kept
    /// (`SnapshotTooOld`, retryable), not damage. An object store replaces a
    /// retired record while another process may be reading it; a folder's
    /// reader keeps the file it opened, and finds the tombstone when opening.
    fn reclaimed_or(&self, seq: u64, err: Error) -> Error {
        match self.commits.read_header(seq) {
            Ok(Some(rec)) if rec.retired => Error::SnapshotTooOld(format!(
                "commit record {seq} was reclaimed after this snapshot was taken"
            )),
            _ => err,
        }
    }

    /// Read a separate value.
    pub fn read_value(&self, store: u64, v: &ValueRef<'_>, cache: bool) -> Result<Bytes> {
        match *v {
            ValueRef::Inline(b) => Ok(Bytes::copy_from_slice(b)),
            ValueRef::Segment {
                seq,
                off,
                len,
                checksum: sum,
            } => {
                if let Some(b) = self.cache.get_value((seq, off)) {
                    self.counters.value_hits.bump();
                    return Ok(b);
                }
                self.counters.value_misses.bump();
                let name = format!("v-{seq:016x}-{off:x}");
                let buf =
                    match self.disk_get(&name, |b| b.len() == len as usize && checksum(b) == sum) {
                        Some(b) => b,
                        None => {
                            let f = self.segment(seq)?;
                            let mut buf = vec![0u8; len as usize];
                            f.read_exact_at(&mut buf, off).map_err(|e| {
                                self.reclaimed_or(seq, Error::io(self.commits.location(seq), e))
                            })?;
                            if checksum(&buf) == sum {
                                self.disk_put(&name, &buf);
                            }
                            buf
                        }
                    };
                if checksum(&buf) != sum {
                    return Err(self.reclaimed_or(
                        seq,
                        Error::corrupt(
                            self.commits.location(seq),
                            format!("value at offset {off} fails its checksum"),
                        ),
                    ));
                }
                let b = Bytes::from(buf);
                if cache {
                    self.cache.insert_value((seq, off), b.clone());
                }
                Ok(b)
            }
            ValueRef::File {
                blob,
                len,
                checksum: sum,
            } => {
                let Some(buf) = self.blobs.get(store, blob)? else {
                    return Err(Error::corrupt(
                        self.blobs.location(store, blob),
                        MISSING_BLOB,
                    ));
                };
                if buf.len() as u64 != len || checksum(&buf) != sum {
                    return Err(Error::corrupt(
                        self.blobs.location(store, blob),
                        "value blob fails its checksum",
                    ));
                }
                Ok(Bytes::from(buf))
            }
            ValueRef::Stream(s) => {
                Ok(Bytes::from(self.read_stream_whole(store, &s, |i| {
                    self.read_chunk(store, &s, i)
                })?))
            }
            ValueRef::Pending(_) => unreachable!("pending values are resolved by the transaction"),
        }
    }
}
