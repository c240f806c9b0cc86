//! JSON stores: keys and values are JSON documents, ordered by the store's saved
//! index specification so that any program, in any language, sorts them the same
//! way (docs/FORMAT.md, "JSON key order" and "JSON stores").
//!
//! A JSON store has key type [`JSON_KEY_TYPE`] and, in its saved `StoreInfo`, an
//! optional [`IndexSpec`]. Without a spec keys are primitives (null, bool, number,
//! string); with one they are objects ordered by the spec's fields. The B-tree key
//! is [`encode_json_key`]; the stored value is an [item frame](encode_item) holding
//! the original key document and the value document, because members of a key
//! that the spec does not list are not part of the order bytes. [`JsonStore`]
//! has an example.

use crate::codec::json_key::{encode_json_key, IndexSpec};
use crate::codec::wire::{put_varint, Reader};
use crate::error::{CodecError, Error, Result};
use crate::options::StoreOptions;
use crate::registry::StoreInfo;
use crate::store::{RawRange, RawStore};
use crate::txn::ops::PutMode;
use crate::txn::Transaction;
use bytes::Bytes;
use serde_json::Value;
use std::ops::Bound;
use std::sync::Arc;

pub use crate::codec::json_key::JSON_KEY_TYPE;

/// Parse JSON text (one document, surrounding whitespace allowed) with a clear error.
/// Numbers keep their literal text (serde_json `arbitrary_precision`). An object
/// with two members of one name is refused, at any depth: a key must be
/// unambiguous (and a value would silently lose one of them).
pub fn parse_json(text: &str) -> Result<Value> {
    let invalid = |why: String| {
        Error::Codec(CodecError::new(format!(
            "invalid JSON {}: {why}",
            excerpt(text)
        )))
    };
    let v: Value = serde_json::from_str(text).map_err(|e| {
        invalid(match crate::json_text::lone_surrogate(text) {
            Some(why) => why,
            None => e.to_string(),
        })
    })?;
    if text.contains('{') {
        crate::json_text::check_unique_members(text).map_err(invalid)?;
    }
    Ok(v)
}

/// The start of `text`, quoted (for text that may not be JSON).
fn excerpt(text: &str) -> String {
    format!("{:?}", shorten(text))
}

/// The start of `text` (at most 60 characters, then "...").
fn shorten(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// The stored value of a JSON store item ("item frame"): the key document's compact
/// JSON text prefixed by its byte length (unsigned LEB128 varint), then the value
/// document's compact JSON text, both UTF-8.
pub fn encode_item(key: &Value, value: &Value) -> Vec<u8> {
    let k = serde_json::to_vec(key).expect("a JSON value serializes");
    let mut out = Vec::with_capacity(k.len() + 64);
    put_varint(&mut out, k.len() as u64);
    out.extend_from_slice(&k);
    serde_json::to_writer(&mut out, value).expect("a JSON value serializes");
    out
}

/// Decode an item frame into (key document, value document).
pub fn decode_item(bytes: &[u8]) -> Result<(Value, Value), CodecError> {
    let mut r = Reader::new(bytes);
    let k = r
        .bytes()
        .map_err(|e| CodecError::new(format!("JSON item frame: {e}")))?;
    let v = &bytes[r.pos..];
    let key = serde_json::from_slice(k)
        .map_err(|e| CodecError::new(format!("JSON item frame: bad key text: {e}")))?;
    let value = serde_json::from_slice(v)
        .map_err(|e| CodecError::new(format!("JSON item frame: bad value text: {e}")))?;
    Ok((key, value))
}

impl Transaction {
    /// Create a JSON store. Without `spec` its keys are primitives (null, bool,
    /// number, string); with one they are objects ordered by the spec. The spec is
    /// saved with the store, so any program can open it from the saved info alone.
    pub fn create_json_store(
        &self,
        name: &str,
        opts: StoreOptions,
        spec: Option<IndexSpec>,
    ) -> Result<JsonStore<'_>> {
        if let Some(s) = &spec {
            s.validate()?;
        }
        let h = self.open_handle_spec(name, JSON_KEY_TYPE, Some(opts), spec)?;
        JsonStore::new(self.raw_store(h))
    }

    /// Open a JSON store with the index spec it was created with. A store with
    /// typed keys is `Error::StoreMismatch`.
    pub fn open_json_store(&self, name: &str) -> Result<JsonStore<'_>> {
        let h = self.open_handle_spec(name, JSON_KEY_TYPE, None, None)?;
        JsonStore::new(self.raw_store(h))
    }
}

/// A store whose keys and values are JSON documents, ordered by the store's
/// [`IndexSpec`] (or, without one, primitive keys in the JSON key order of
/// docs/FORMAT.md). Create one with [`Transaction::create_json_store`].
///
/// ```
/// use serde_json::json;
/// use sop::{Database, DbOptions, IndexSpec, StoreOptions, TxMode};
/// # let dir = tempfile::tempdir().unwrap();
/// let db = Database::open(dir.path().join("db"), DbOptions::default())?;
/// let tx = db.begin(TxMode::ForWriting)?;
/// // People by last name, then the oldest first.
/// let spec = IndexSpec::parse(r#"[{"field":"last"},{"field":"age","order":"desc"}]"#)?;
/// let people = tx.create_json_store("people", StoreOptions::default(), Some(spec))?;
/// people.add(&json!({"last": "Lovelace", "age": 36}), &json!({"first": "Ada"}))?;
/// people.add(&json!({"last": "Hopper", "age": 85}), &json!({"first": "Grace"}))?;
/// people.add(&json!({"last": "Lovelace", "age": 60}), &json!({"first": "Byron"}))?;
/// let firsts: Vec<String> = people
///     .iter()?
///     .map(|item| item.map(|(_key, value)| value["first"].as_str().unwrap().to_string()))
///     .collect::<sop::Result<_>>()?;
/// assert_eq!(firsts, ["Grace", "Byron", "Ada"]);
/// drop(people);
/// tx.commit()?;
/// # Ok::<(), sop::Error>(())
/// ```
pub struct JsonStore<'t> {
    raw: RawStore<'t>,
    info: Arc<StoreInfo>,
}

impl<'t> JsonStore<'t> {
    fn new(raw: RawStore<'t>) -> Result<Self> {
        let info = raw.info()?;
        Ok(JsonStore { raw, info })
    }
    /// The store's saved info (options, index spec).
    pub fn info(&self) -> &Arc<StoreInfo> {
        &self.info
    }
    /// The index specification that orders object keys (None: primitive keys).
    pub fn spec(&self) -> Option<&IndexSpec> {
        self.info.key_spec.as_ref()
    }
    /// The byte-level store underneath (keys: `encode_json_key`; values: item frames).
    pub fn raw(&self) -> RawStore<'t> {
        self.raw
    }
    /// The B-tree key of a JSON key (an error if the key does not fit the spec).
    pub fn key_bytes(&self, key: &Value) -> Result<Vec<u8>> {
        encode_json_key(key, self.spec()).map_err(|e| {
            Error::Codec(CodecError::new(format!(
                "key {}: {e}",
                shorten(&key.to_string())
            )))
        })
    }
    fn put(&self, key: &Value, value: &Value, mode: PutMode) -> Result<bool> {
        let k = self.key_bytes(key)?;
        self.raw
            .put_owned(Bytes::from(k), encode_item(key, value), mode)
    }
    /// Insert. On a unique store an existing key leaves the store unchanged and returns false.
    pub fn add(&self, key: &Value, value: &Value) -> Result<bool> {
        self.put(key, value, PutMode::Add)
    }
    /// Insert only if no item has this key (also on stores that allow duplicates).
    pub fn add_if_absent(&self, key: &Value, value: &Value) -> Result<bool> {
        self.put(key, value, PutMode::AddIfAbsent)
    }
    /// Replace the key document and value of the (first) item with this key; false if none.
    pub fn update(&self, key: &Value, value: &Value) -> Result<bool> {
        self.put(key, value, PutMode::Update)
    }
    /// Update or insert; true if it inserted.
    pub fn upsert(&self, key: &Value, value: &Value) -> Result<bool> {
        self.put(key, value, PutMode::Upsert)
    }
    /// Remove the (first) item with this key; false if there is none.
    pub fn remove(&self, key: &Value) -> Result<bool> {
        let k = self.key_bytes(key)?;
        self.raw.remove(&k)
    }
    /// The (first) item with this key: its stored key document and its value.
    pub fn get_item(&self, key: &Value) -> Result<Option<(Value, Value)>> {
        let k = self.key_bytes(key)?;
        match self.raw.get(&k)? {
            Some(b) => Ok(Some(decode_item(&b)?)),
            None => Ok(None),
        }
    }
    /// The value of the (first) item with this key.
    pub fn get(&self, key: &Value) -> Result<Option<Value>> {
        Ok(self.get_item(key)?.map(|(_, v)| v))
    }
    /// Whether an item with this key exists.
    pub fn contains(&self, key: &Value) -> Result<bool> {
        let k = self.key_bytes(key)?;
        self.raw.contains(&k)
    }
    /// Number of items, as this transaction sees it.
    pub fn count(&self) -> Result<u64> {
        self.raw.count()
    }
    /// Items with `from <= key <= to` (either bound optional), ascending or
    /// descending, as (key document, value document). Bounds are keys compared in
    /// the store's order (with a spec, a field the bound lacks is "missing").
    pub fn range(
        &self,
        from: Option<&Value>,
        to: Option<&Value>,
        desc: bool,
    ) -> Result<JsonRange<'t>> {
        let b = |v: Option<&Value>| -> Result<Bound<Vec<u8>>> {
            Ok(match v {
                Some(v) => Bound::Included(self.key_bytes(v)?),
                None => Bound::Unbounded,
            })
        };
        let (lo, hi) = (b(from)?, b(to)?);
        Ok(JsonRange {
            raw: self.raw.range(lo, hi, desc)?,
        })
    }
    /// All items, ascending.
    pub fn iter(&self) -> Result<JsonRange<'t>> {
        self.range(None, None, false)
    }
}

/// An iterator over a range of a JSON store: (key document, value document).
pub struct JsonRange<'t> {
    raw: RawRange<'t>,
}

impl Iterator for JsonRange<'_> {
    type Item = Result<(Value, Value)>;
    fn next(&mut self) -> Option<Self::Item> {
        let r = self.raw.next()?;
        Some(r.and_then(|(_, v)| Ok(decode_item(&v)?)))
    }
}
