//! Streaming a commit record into a temporary file.

use super::*;

/// Streams one commit record into a temporary file.
pub(crate) struct RecordWriter {
    pub path: PathBuf,
    file: Arc<dyn VFile>,
    buf: Vec<u8>,
    pos: u64,
}

const FLUSH_AT: usize = 1 << 20;

impl RecordWriter {
    pub fn create(db: &DbInner) -> Result<RecordWriter> {
        let path = db.tmp_path();
        let file = db.vfs.create_new(&path).map_err(io_err(&path))?;
        let mut buf = Vec::with_capacity(64 << 10);
        buf.extend_from_slice(&Record::prefix());
        Ok(RecordWriter {
            path,
            file,
            buf,
            pos: PREFIX_LEN as u64,
        })
    }
    pub fn add(&mut self, bytes: &[u8]) -> Result<Placement> {
        let p = Placement {
            off: self.pos,
            len: bytes.len() as u32,
            checksum: checksum(bytes),
        };
        self.buf.extend_from_slice(bytes);
        self.pos += bytes.len() as u64;
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(p)
    }
    fn flush(&mut self) -> Result<()> {
        self.file.append(&self.buf).map_err(io_err(&self.path))?;
        self.buf.clear();
        Ok(())
    }
    /// Write the header and trailer and fsync the file.
    pub fn finish(mut self, rec: &Record) -> Result<PathBuf> {
        let h = rec.encode_header();
        let off = self.pos;
        self.buf.extend_from_slice(&h);
        self.buf.extend_from_slice(&Record::trailer(off, &h));
        self.flush()?;
        self.file.sync_data().map_err(io_err(&self.path))?;
        Ok(self.path)
    }
}
