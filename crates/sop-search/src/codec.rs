//! Key and value encodings of the index stores (docs/FORMAT.md, "Text index").

use crate::error::{Result, SearchError};

/// A document id: a string or an unsigned integer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DocId {
    U64(u64),
    Str(String),
}

impl From<u64> for DocId {
    fn from(v: u64) -> Self {
        DocId::U64(v)
    }
}
impl From<&str> for DocId {
    fn from(v: &str) -> Self {
        DocId::Str(v.to_string())
    }
}
impl From<String> for DocId {
    fn from(v: String) -> Self {
        DocId::Str(v)
    }
}
impl From<&DocId> for DocId {
    fn from(v: &DocId) -> Self {
        v.clone()
    }
}

impl std::fmt::Display for DocId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DocId::U64(v) => write!(f, "{v}"),
            DocId::Str(s) => write!(f, "{s}"),
        }
    }
}

/// Longest string id, in bytes.
pub const MAX_DOC_ID_BYTES: usize = 1024;

impl DocId {
    /// 0x01 + 8 bytes big-endian, or 0x02 + UTF-8.
    pub fn encode(&self) -> Result<Vec<u8>> {
        match self {
            DocId::U64(v) => {
                let mut k = Vec::with_capacity(9);
                k.push(1);
                k.extend_from_slice(&v.to_be_bytes());
                Ok(k)
            }
            DocId::Str(s) => {
                if s.is_empty() || s.len() > MAX_DOC_ID_BYTES {
                    return Err(SearchError::InvalidDocId(format!(
                        "a string id must have 1 to {MAX_DOC_ID_BYTES} bytes, got {}",
                        s.len()
                    )));
                }
                let mut k = Vec::with_capacity(1 + s.len());
                k.push(2);
                k.extend_from_slice(s.as_bytes());
                Ok(k)
            }
        }
    }

    pub fn decode(b: &[u8]) -> Option<DocId> {
        match b.split_first()? {
            (1, rest) if rest.len() == 8 => {
                Some(DocId::U64(u64::from_be_bytes(rest.try_into().ok()?)))
            }
            (2, rest) => std::str::from_utf8(rest)
                .ok()
                .map(|s| DocId::Str(s.to_string())),
            _ => None,
        }
    }
}

pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A reader of varints over a byte slice; every read is checked.
pub struct Reader<'a> {
    pub b: &'a [u8],
    pub store: &'static str,
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8], store: &'static str) -> Self {
        Reader { b, store }
    }
    fn bad(&self, what: &str) -> SearchError {
        SearchError::Corrupt {
            store: self.store.to_string(),
            detail: what.to_string(),
        }
    }
    pub fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some((&byte, rest)) = self.b.split_first() else {
                return Err(self.bad("truncated varint"));
            };
            self.b = rest;
            v |= ((byte & 0x7f) as u64) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.bad("varint too long"))
    }
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() < n {
            return Err(self.bad("truncated bytes"));
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    pub fn i64(&mut self) -> Result<i64> {
        let b = self.bytes(8)?;
        Ok(i64::from_be_bytes(b.try_into().unwrap_or([0; 8])))
    }
}

/// Posting key: field, 0, term, 0, encoded doc id.
pub fn posting_key(field: &str, term: &str, doc: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(field.len() + term.len() + 2 + doc.len());
    k.extend_from_slice(field.as_bytes());
    k.push(0);
    k.extend_from_slice(term.as_bytes());
    k.push(0);
    k.extend_from_slice(doc);
    k
}

/// The prefix of every posting key of (field, term).
pub fn term_prefix(field: &str, term: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(field.len() + term.len() + 2);
    k.extend_from_slice(field.as_bytes());
    k.push(0);
    k.extend_from_slice(term.as_bytes());
    k.push(0);
    k
}

/// The smallest key greater than every key starting with `p` (None if none is).
pub fn prefix_end(p: &[u8]) -> Option<Vec<u8>> {
    let mut e = p.to_vec();
    while let Some(last) = e.pop() {
        if last < 0xff {
            e.push(last + 1);
            return Some(e);
        }
    }
    None
}

/// Posting value: the field's length in the document (tokens), tf, then the
/// positions delta-encoded (all varints).
pub fn encode_posting(field_len: u64, positions: &[u32]) -> Vec<u8> {
    let mut v = Vec::with_capacity(2 + positions.len() * 2);
    put_varint(&mut v, field_len);
    put_varint(&mut v, positions.len() as u64);
    let mut prev = 0u32;
    for &p in positions {
        put_varint(&mut v, (p - prev) as u64);
        prev = p;
    }
    v
}

/// (field length, tf) of a posting value.
pub fn decode_len_tf(v: &[u8]) -> Result<(u64, u32)> {
    let mut r = Reader::new(v, "postings");
    let len = r.varint()?;
    Ok((len, r.varint()? as u32))
}

pub fn decode_positions(v: &[u8]) -> Result<Vec<u32>> {
    let mut r = Reader::new(v, "postings");
    r.varint()?;
    let n = r.varint()? as usize;
    if n > v.len() {
        return Err(SearchError::Corrupt {
            store: "postings".into(),
            detail: "position count exceeds the value".into(),
        });
    }
    let mut out = Vec::with_capacity(n);
    let mut p = 0u64;
    for _ in 0..n {
        p += r.varint()?;
        out.push(p as u32);
    }
    Ok(out)
}

/// A document entry: per field of the index (in configuration order) its length in
/// tokens and its distinct terms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocEntry {
    pub fields: Vec<(u64, Vec<String>)>,
}

impl DocEntry {
    pub fn encode(&self) -> Vec<u8> {
        let mut v = vec![1u8];
        put_varint(&mut v, self.fields.len() as u64);
        for (len, terms) in &self.fields {
            put_varint(&mut v, *len);
            put_varint(&mut v, terms.len() as u64);
            for t in terms {
                put_varint(&mut v, t.len() as u64);
                v.extend_from_slice(t.as_bytes());
            }
        }
        v
    }
    pub fn decode(b: &[u8]) -> Result<DocEntry> {
        let mut r = Reader::new(b, "docs");
        if r.bytes(1)? != [1] {
            return Err(r.bad("unknown doc entry version"));
        }
        let nf = r.varint()? as usize;
        let mut fields = Vec::with_capacity(nf.min(1024));
        for _ in 0..nf {
            let len = r.varint()?;
            let nt = r.varint()? as usize;
            let mut terms = Vec::with_capacity(nt.min(b.len()));
            for _ in 0..nt {
                let l = r.varint()? as usize;
                let t = r.bytes(l)?;
                terms.push(String::from_utf8(t.to_vec()).map_err(|_| r.bad("term is not UTF-8"))?);
            }
            fields.push((len, terms));
        }
        Ok(DocEntry { fields })
    }
}

/// A statistics delta: documents added (negative: removed), then per field the
/// change of its total length; i64 big-endian each.
pub fn encode_stats(docs: i64, lens: &[i64]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 * (1 + lens.len()));
    v.extend_from_slice(&docs.to_be_bytes());
    for l in lens {
        v.extend_from_slice(&l.to_be_bytes());
    }
    v
}

pub fn decode_stats(b: &[u8], nfields: usize) -> Result<(i64, Vec<i64>)> {
    let mut r = Reader::new(b, "stats");
    if b.len() != 8 * (1 + nfields) {
        return Err(r.bad("statistics entry of the wrong size"));
    }
    let d = r.i64()?;
    let mut lens = Vec::with_capacity(nfields);
    for _ in 0..nfields {
        lens.push(r.i64()?);
    }
    Ok((d, lens))
}
