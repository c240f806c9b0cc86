//! Streaming a commit record into a temporary file (or, in an exclusive folder,
//! into memory for the journal).

use super::*;
pub(crate) use crate::log::Written;

/// Streams one commit record into a temporary file. When the commit log takes
/// records in memory (an exclusive folder's journal), a record that stays under
/// its copy limit never gets a file: its bytes go into the journal.
pub(crate) struct RecordWriter {
    path: PathBuf,
    vfs: Arc<dyn Vfs>,
    /// Created at the first flush (at once unless journaled).
    file: Option<Arc<dyn VFile>>,
    buf: Vec<u8>,
    pos: u64,
    journaled: bool,
    /// Journaled: the largest record handed over in memory.
    copy_max: usize,
}

const FLUSH_AT: usize = 1 << 20;

impl RecordWriter {
    pub fn create(db: &DbInner) -> Result<RecordWriter> {
        let mut w = RecordWriter {
            path: db.tmp_path(),
            vfs: db.vfs.clone(),
            file: None,
            buf: Vec::with_capacity(64 << 10),
            pos: PREFIX_LEN as u64,
            journaled: db.commits.copy_max() > 0,
            copy_max: db.commits.copy_max(),
        };
        w.buf.extend_from_slice(&Record::prefix());
        if !w.journaled {
            w.open_file()?;
        }
        Ok(w)
    }
    fn open_file(&mut self) -> Result<Arc<dyn VFile>> {
        if let Some(f) = &self.file {
            return Ok(f.clone());
        }
        let f = self
            .vfs
            .create_new(&self.path)
            .map_err(io_err(&self.path))?;
        self.file = Some(f.clone());
        Ok(f)
    }
    pub fn add(&mut self, bytes: &[u8]) -> Result<Placement> {
        self.add_with(|out| out.extend_from_slice(bytes))
    }
    /// Add what `encode` appends to the buffer it is given (no copy through a
    /// buffer of the caller's).
    pub fn add_with(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> Result<Placement> {
        if self.buf.len() + (64 << 10) > self.buf.capacity() && self.buf.capacity() < FLUSH_AT {
            // A large record: grow once to about the flush size rather than
            // doubling through every size below it (each step fresh memory).
            self.buf
                .reserve_exact(FLUSH_AT + (256 << 10) - self.buf.len());
        }
        let start = self.buf.len();
        encode(&mut self.buf);
        let bytes = &self.buf[start..];
        let p = Placement {
            off: self.pos,
            len: bytes.len() as u32,
            checksum: checksum(bytes),
        };
        self.pos += bytes.len() as u64;
        // A journaled record stays in memory while it may still go into the journal.
        let limit = if self.journaled && self.file.is_none() {
            self.copy_max
        } else {
            FLUSH_AT
        };
        if self.buf.len() >= limit {
            self.flush()?;
        }
        Ok(p)
    }
    fn flush(&mut self) -> Result<()> {
        let f = self.open_file()?;
        let at = f.len().map_err(io_err(&self.path))?;
        f.append(&self.buf).map_err(io_err(&self.path))?;
        // The device can write this part while the rest is encoded: the record's
        // final fdatasync then waits for less. A hint only; failing it costs nothing.
        let _ = f.start_writeback(at, self.buf.len() as u64);
        self.buf.clear();
        Ok(())
    }
    /// Write the header and trailer. A journaled record that never reached the
    /// disk stays in memory; any other is written out and fsynced.
    pub fn finish(mut self, rec: &Record) -> Result<Written> {
        let h = rec.encode_header();
        let off = self.pos;
        self.buf.extend_from_slice(&h);
        self.buf.extend_from_slice(&Record::trailer(off, &h));
        if self.journaled && self.file.is_none() && self.buf.len() <= self.copy_max {
            return Ok(Written {
                path: None,
                bytes: Some(self.buf),
            });
        }
        self.flush()?;
        let f = self.open_file()?;
        f.sync_data().map_err(io_err(&self.path))?;
        Ok(Written {
            path: Some(self.path.clone()),
            bytes: None,
        })
    }
    /// Give up: remove the temporary file, if one was made.
    pub fn discard(&self) {
        if self.file.is_some() {
            let _ = self.vfs.remove_file(&self.path);
        }
    }
}
