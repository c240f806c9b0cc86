//! Big values as streams: [`RawStore::put_stream`] writes a value from any
//! [`Read`] without holding it in memory, [`RawStore::get_stream`] reads one
//! back as a [`ValueReader`] (`Read + Seek`), and [`RawStore::get_range`] reads
//! a byte range of it. Only stores created with [`ValuePlacement::Big`] take
//! streams; any value of any store can be read as one.
//!
//! A streamed value is cut into chunks ([`STREAM_CHUNK_SIZE`] by default), each
//! an immutable blob with its own checksum, written as the stream is read; the
//! item keeps one small reference to them (docs/ARCHITECTURE.md §7, "Big values
//! as streams"; the bytes: docs/FORMAT.md). It is transactional like every
//! other value: the commit syncs the chunks before its record refers to them,
//! a transaction that does not commit leaves none behind (recovery collects
//! those of a crashed process), and removing or replacing the item frees them.
//!
//! Streams are for byte values: a JSON store's values stay JSON documents, and a
//! typed store's values are their serde encoding, so neither takes a stream
//! (open a typed store's bytes with [`crate::Store::raw`] only to read one).

use crate::btree::node::{chunk_blob, MAX_KEY_LEN};
use crate::codec::json_key::JSON_KEY_TYPE;
use crate::error::{Error, Result};
use crate::options::ValuePlacement;
use crate::store::RawStore;
use crate::txn::ops::{Op, OpOut, OwnedValue, PutMode, PutStream, StreamRef};
use crate::txn::snapshot::Fetch;
use crate::TxMode;
use bytes::Bytes;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use xxhash_rust::xxh3::Xxh3;

/// Bytes per chunk of a value written by [`RawStore::put_stream`] (8 MiB): the
/// memory a stream takes to write or read, and the unit a byte range is read in.
pub const STREAM_CHUNK_SIZE: u32 = 8 << 20;

/// The smallest chunk size [`RawStore::put_stream_with_chunk_size`] takes.
pub const MIN_STREAM_CHUNK_SIZE: u32 = 4 << 10;

/// The largest chunk size [`RawStore::put_stream_with_chunk_size`] takes.
pub const MAX_STREAM_CHUNK_SIZE: u32 = 1 << 30;

/// What [`RawStore::put_stream`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamPut {
    /// Bytes of the value (all the reader gave).
    pub len: u64,
    /// True if the item was inserted, false if it replaced a value (as
    /// [`RawStore::upsert`] says).
    pub inserted: bool,
}

/// Where put_stream's reader errors are said to come from.
const READER: &str = "(the reader given to put_stream)";

impl<'t> RawStore<'t> {
    /// Write the value of `key` from `reader`, read to its end, without holding
    /// it in memory: in chunks of [`STREAM_CHUNK_SIZE`] bytes, each written as
    /// it is read. Inserts the item, or replaces the value of the (first) item
    /// with the key, as [`RawStore::upsert`] does. Returns the value's length,
    /// and whether the item was inserted.
    ///
    /// The store must keep its values as [`ValuePlacement::Big`]
    /// (`Error::InvalidOption` otherwise, before anything is read), and not be a
    /// JSON store. Durable with the commit; an error (of the reader too) leaves
    /// the transaction as it was, and what was written of the value is deleted
    /// when the transaction ends.
    ///
    /// ```
    /// use sop::{Database, DbOptions, StoreOptions, TxMode, ValuePlacement};
    /// use std::io::{Read, Seek, SeekFrom};
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = Database::open(dir.path().join("db"), DbOptions::default())?;
    /// let tx = db.begin(TxMode::ForWriting)?;
    /// let opts = StoreOptions { values: ValuePlacement::Big, ..Default::default() };
    /// let media = tx.create_raw_store("media", "raw-bytes", opts)?;
    /// let file = std::io::repeat(7).take(20 << 20); // any Read: a file, a socket, stdin
    /// assert_eq!(media.put_stream(b"clip", file)?.len, 20 << 20);
    /// tx.commit()?;
    ///
    /// let tx = db.begin(TxMode::NoCheck)?;
    /// let media = tx.open_raw_store("media")?;
    /// let mut clip = media.get_stream(b"clip")?.expect("written above");
    /// clip.seek(SeekFrom::Start(10 << 20))?;
    /// let mut some = [0u8; 4];
    /// clip.read_exact(&mut some)?;
    /// assert_eq!(some, [7; 4]);
    /// assert_eq!(media.get_range(b"clip", 5..9)?.unwrap(), [7; 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn put_stream(&self, key: &[u8], reader: impl Read) -> Result<StreamPut> {
        self.put_stream_with_chunk_size(key, reader, STREAM_CHUNK_SIZE)
    }

    /// [`RawStore::put_stream`] with chunks of `chunk_size` bytes
    /// ([`MIN_STREAM_CHUNK_SIZE`] to [`MAX_STREAM_CHUNK_SIZE`]): larger chunks
    /// mean fewer blobs, and more memory to write or read one.
    pub fn put_stream_with_chunk_size(
        &self,
        key: &[u8],
        mut reader: impl Read,
        chunk_size: u32,
    ) -> Result<StreamPut> {
        let tx = self.tx;
        if !(MIN_STREAM_CHUNK_SIZE..=MAX_STREAM_CHUNK_SIZE).contains(&chunk_size) {
            return Err(Error::InvalidOption(format!(
                "stream chunk size {chunk_size} is outside {MIN_STREAM_CHUNK_SIZE}..={MAX_STREAM_CHUNK_SIZE}"
            )));
        }
        if tx.mode != TxMode::ForWriting {
            return Err(Error::ReadOnly(tx.mode));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(Error::KeyTooLong {
                len: key.len(),
                max: MAX_KEY_LEN,
            });
        }
        if tx.st.borrow().ended {
            return Err(Error::TxEnded);
        }
        let info = self.info()?;
        if info.key_type == JSON_KEY_TYPE {
            return Err(Error::InvalidOption(format!(
                "store {:?} is a JSON store: its values are JSON documents, not streams",
                info.name
            )));
        }
        if info.options.values != ValuePlacement::Big {
            return Err(Error::InvalidOption(format!(
                "store {:?} keeps its values {:?}; streams need a store created with ValuePlacement::Big",
                info.name, info.options.values
            )));
        }
        let sid = info.id;
        let db = &*tx.db;
        // Chunk blobs are named like other big values: this process's id first,
        // so recovery collects them if the process dies before the commit.
        let first = (db.proc_id >> 64) << 64 | u128::from(db.vfs.random() as u64);
        let mut stream = StreamRef {
            first,
            len: 0,
            chunk: chunk_size,
            checksum: 0,
        };
        // Listed with the transaction before the first chunk is written, its
        // length kept up to date: whatever was written goes when the
        // transaction ends without adopting it.
        let slot = {
            let mut st = tx.st.borrow_mut();
            st.streams.push((sid, stream));
            st.streams.len() - 1
        };
        let chunk = u64::from(chunk_size);
        let mut buf = Vec::with_capacity(chunk_size as usize + crate::engine::CHUNK_TRAILER);
        let mut whole = Box::new(Xxh3::new());
        for i in 0.. {
            buf.clear();
            let n = (&mut reader)
                .take(chunk)
                .read_to_end(&mut buf)
                .map_err(|e| Error::io(READER, e))? as u64;
            if n == 0 {
                break;
            }
            whole.update(&buf);
            stream.len += n;
            tx.st.borrow_mut().streams[slot].1.len = stream.len;
            db.write_chunk(sid, chunk_blob(first, i), &mut buf)?;
            if n < chunk {
                break;
            }
        }
        stream.checksum = whole.digest();
        tx.st.borrow_mut().streams[slot].1 = stream;
        let op = Op::PutStream(Box::new(PutStream {
            h: self.h,
            mode: PutMode::Upsert,
            key: Bytes::copy_from_slice(key),
            stream,
        }));
        let inserted = matches!(tx.run(op)?, OpOut::Bool(true));
        Ok(StreamPut {
            len: stream.len,
            inserted,
        })
    }

    /// The value of the (first) item with `key` as a reader (`Read + Seek`);
    /// `None` if there is no such item. A value written by
    /// [`RawStore::put_stream`] is read one chunk at a time (a chunk in memory
    /// at most); any other value is read whole first and served from memory.
    /// The read counts as a `get` of the key for the transaction's validation.
    pub fn get_stream(&self, key: &[u8]) -> Result<Option<ValueReader<'t>>> {
        let tx = self.tx;
        let value = if tx.reads_snapshot() {
            let Some((leaf, idx)) = tx.snap_find(self.h, key)? else {
                return Ok(None);
            };
            let crate::btree::node::Node::Leaf(l) = &*leaf else {
                unreachable!("an item is found in a leaf")
            };
            OwnedValue::from_ref(&l.item(idx).value)
        } else {
            match self.get_item(key)? {
                Some(it) => it.value,
                None => return Ok(None),
            }
        };
        let OwnedValue::Stream(s) = value else {
            let bytes = match value {
                OwnedValue::Inline(b) => b,
                _ if tx.reads_snapshot() => match tx.snap_get(self.h, key, |v| v.into_bytes())? {
                    Some(b) => b,
                    None => return Ok(None),
                },
                other => tx.take_value(self.h, other)?,
            };
            return Ok(Some(ValueReader {
                len: bytes.len() as u64,
                pos: 0,
                src: Source::Memory(bytes),
            }));
        };
        let (sid, snap_seq) = {
            let st = tx.st.borrow();
            (st.handles[self.h as usize], st.snap.seq)
        };
        Ok(Some(ValueReader {
            len: s.len,
            pos: 0,
            src: Source::Stream(Box::new(Chunks {
                fetch: Fetch {
                    db: &tx.db,
                    sid,
                    cache: false,
                    snap_seq,
                },
                s,
                cur: None,
                whole: Some((0, Xxh3::new())),
            })),
        }))
    }

    /// Bytes `range` of the value of the (first) item with `key`; `None` if
    /// there is no such item. Reads only the chunks the range touches. A range
    /// that does not lie within the value (`start > end`, or `end` past its
    /// length) is `Error::InvalidOption`, naming the value's length.
    pub fn get_range(&self, key: &[u8], range: Range<u64>) -> Result<Option<Vec<u8>>> {
        let Some(mut r) = self.get_stream(key)? else {
            return Ok(None);
        };
        if range.start > range.end || range.end > r.len() {
            return Err(Error::InvalidOption(format!(
                "byte range {}..{} is not within the value of {} bytes",
                range.start,
                range.end,
                r.len()
            )));
        }
        let n = usize::try_from(range.end - range.start)
            .map_err(|_| Error::InvalidOption("the range does not fit in memory".into()))?;
        let mut out = vec![0u8; n];
        r.seek(SeekFrom::Start(range.start)).map_err(from_io)?;
        r.read_exact(&mut out).map_err(from_io)?;
        Ok(Some(out))
    }
}

/// A value read as a stream ([`RawStore::get_stream`]): `Read + Seek` over its
/// bytes. A streamed value is fetched one chunk at a time, each chunk checked
/// against its checksum as it arrives, and the whole value against its own
/// when it was read in order to its end; a value of another kind is held in
/// memory. Seeking past the end is allowed (reads there return 0 bytes).
///
/// It lives as long as the transaction it came from, and reads that
/// transaction's snapshot. Read errors are `std::io::Error`s; one that comes
/// from the engine carries the [`Error`] (`into_inner` and downcast it), of
/// kind `Corrupt` for a missing or damaged chunk, or `SnapshotTooOld` for one
/// collected after a later commit released it (past `DbOptions::blob_grace`).
pub struct ValueReader<'t> {
    len: u64,
    pos: u64,
    src: Source<'t>,
}

enum Source<'t> {
    Memory(Bytes),
    Stream(Box<Chunks<'t>>),
}

/// A streamed value's chunks, fetched one at a time.
struct Chunks<'t> {
    fetch: Fetch<'t>,
    s: StreamRef,
    /// The chunk in memory: its index and bytes.
    cur: Option<(u64, Vec<u8>)>,
    /// The next chunk to hash and the hash of those before it, while chunks
    /// were fetched in order (`None` once one was skipped).
    whole: Option<(u64, Xxh3)>,
}

impl Chunks<'_> {
    /// Make chunk `i` the one in memory.
    fn load(&mut self, i: u64) -> Result<()> {
        if self.cur.as_ref().is_some_and(|(c, _)| *c == i) {
            return Ok(());
        }
        // The previous chunk goes first: one in memory at a time.
        self.cur = None;
        let data = self.fetch.chunk(&self.s, i)?;
        match &mut self.whole {
            Some((next, h)) if *next == i => {
                h.update(&data);
                *next += 1;
                if *next == self.s.blobs().count && h.digest() != self.s.checksum {
                    let at = self.fetch.db.blobs.location(self.fetch.sid, self.s.first);
                    return Err(Error::corrupt(
                        at,
                        "streamed value fails its checksum (its chunks pass theirs)",
                    ));
                }
            }
            Some((next, _)) if i > *next => self.whole = None,
            _ => {}
        }
        self.cur = Some((i, data));
        Ok(())
    }
}

impl ValueReader<'_> {
    /// The value's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }
    /// Where the next read starts, in bytes from the value's start.
    pub fn position(&self) -> u64 {
        self.pos
    }
    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The chunk size of a value written as a stream; `None` for a value of
    /// another kind (held in memory).
    pub fn chunk_size(&self) -> Option<u32> {
        match &self.src {
            Source::Memory(_) => None,
            Source::Stream(c) => Some(c.s.chunk),
        }
    }
}

impl Read for ValueReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.pos >= self.len {
            return Ok(0);
        }
        let n = match &mut self.src {
            Source::Memory(b) => {
                let from = &b[self.pos as usize..];
                let n = from.len().min(out.len());
                out[..n].copy_from_slice(&from[..n]);
                n
            }
            Source::Stream(c) => {
                let i = self.pos / u64::from(c.s.chunk);
                c.load(i).map_err(io::Error::other)?;
                let (start, _) = c.s.chunk_span(i);
                let data = &c.cur.as_ref().expect("loaded above").1;
                let from = &data[(self.pos - start) as usize..];
                let n = from.len().min(out.len());
                out[..n].copy_from_slice(&from[..n]);
                n
            }
        };
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for ValueReader<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (base, off) = match to {
            SeekFrom::Start(p) => {
                self.pos = p;
                return Ok(p);
            }
            SeekFrom::End(off) => (self.len, off),
            SeekFrom::Current(off) => (self.pos, off),
        };
        match base.checked_add_signed(off) {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("seek to {base} {off:+} is before the start of the value"),
            )),
        }
    }
}

/// The engine's error inside an `io::Error` from a `ValueReader`, or the
/// `io::Error` itself.
fn from_io(e: io::Error) -> Error {
    if e.get_ref().is_some_and(|i| i.is::<Error>()) {
        let inner = e.into_inner().expect("checked above");
        return *inner.downcast::<Error>().expect("checked above");
    }
    Error::io(READER.replace("put_stream", "get_range"), e)
}
