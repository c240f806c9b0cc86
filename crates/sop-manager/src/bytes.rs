//! Items of any store at the byte level: `/api/databases/{db}/stores/{store}/bytes`.
//!
//! Every store can be read here (a JSON store shows its stored bytes; a
//! typed store its encoded keys and values). Byte stores (key
//! type `raw-bytes`, what `sop store create --bytes` and `kind: "bytes"`
//! make) can also be written: keys and values travel in an explicit encoding
//! (`encoding=base64` by default, `hex` or `utf8`). JSON stores are written
//! through `/items` (their keys have a format of their own) and typed stores
//! only by their program (the server does not know their encoding).

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::items::{if_match, param, parse_query};
use crate::{check_name, Manager};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use serde_json::{json, Value};
use std::ops::Bound;
use std::sync::Arc;

/// The key type of byte stores (the CLI's `sop store create --bytes`).
pub(crate) const BYTES_KEY_TYPE: &str = "raw-bytes";

/// Largest value a single GET returns (bigger ones: the CLI streams them).
const MAX_VALUE: usize = 16 << 20;

type M = State<Arc<Manager>>;

/// How keys and values are written in requests and answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Base64,
    Hex,
    Utf8,
}

impl Encoding {
    fn parse(q: &[(String, String)]) -> ApiResult<Encoding> {
        match param(q, "encoding").unwrap_or("base64") {
            "base64" => Ok(Encoding::Base64),
            "hex" => Ok(Encoding::Hex),
            "utf8" => Ok(Encoding::Utf8),
            other => Err(ApiError::bad_request(format!(
                "unknown encoding {other:?}: base64, hex or utf8"
            ))),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Encoding::Base64 => "base64",
            Encoding::Hex => "hex",
            Encoding::Utf8 => "utf8",
        }
    }
    /// Bytes as text; `utf8` gives null for bytes that are not UTF-8.
    pub(crate) fn encode(self, b: &[u8]) -> Value {
        match self {
            Encoding::Base64 => json!(base64::engine::general_purpose::STANDARD.encode(b)),
            Encoding::Hex => json!(hex(b)),
            Encoding::Utf8 => std::str::from_utf8(b).map_or(Value::Null, |s| json!(s)),
        }
    }
    pub(crate) fn decode(self, what: &str, text: &str) -> ApiResult<Vec<u8>> {
        let bad = |e: String| ApiError::bad_key(format!("{what} is not {}: {e}", self.name()));
        match self {
            Encoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| bad(e.to_string())),
            Encoding::Hex => unhex(text).ok_or_else(|| bad("an even number of hex digits".into())),
            Encoding::Utf8 => Ok(text.as_bytes().to_vec()),
        }
    }
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn unhex(t: &str) -> Option<Vec<u8>> {
    if !t.len().is_multiple_of(2) || !t.is_ascii() {
        return None;
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).ok())
        .collect()
}

/// The version of a byte item: a hash of its key and value bytes.
pub(crate) fn version(key: &[u8], value: &[u8]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&(key.len() as u64).to_le_bytes());
    h.update(key);
    h.update(value);
    format!("{:016x}", h.digest())
}

/// A continuation token: the next key, and how many items with that key the
/// page already gave (stores with duplicate keys).
fn cursor_encode(key: &[u8], dups: u64) -> String {
    let mut b = dups.to_be_bytes().to_vec();
    b.extend_from_slice(key);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn cursor_decode(t: &str) -> ApiResult<(Vec<u8>, u64)> {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(t)
        .ok()
        .filter(|b| b.len() >= 8)
        .ok_or_else(|| ApiError::bad_cursor("bad continuation token"))?;
    let mut d = [0u8; 8];
    d.copy_from_slice(&b[..8]);
    Ok((b[8..].to_vec(), u64::from_be_bytes(d)))
}

fn item_json(enc: Encoding, k: &[u8], v: &[u8], preview: usize) -> Value {
    let shown = &v[..v.len().min(preview)];
    json!({"key": enc.encode(k), "value": enc.encode(shown), "value_bytes": v.len(),
           "truncated": shown.len() < v.len(), "version": version(k, v)})
}

/// GET `?key=` (one item, whole value) or a page (`from`, `to`, `desc`,
/// `limit`, `after`, `preview`: value bytes shown per item, default 1,024).
pub(crate) async fn get_bytes(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    who.require(Role::Reader)?;
    check_name("store", &store)?;
    let q = parse_query(q.as_deref())?;
    let enc = Encoding::parse(&q)?;
    if let Some(k) = param(&q, "key") {
        let key = enc.decode("key", k)?;
        let item = m
            .read_tx(&db, move |tx| {
                let s = tx.open_raw_store(&store)?;
                let v = s
                    .get(&key)?
                    .ok_or_else(|| ApiError::not_found("no item with this key"))?;
                if v.len() > MAX_VALUE {
                    return Err(ApiError::too_large(format!(
                        "the value has {} bytes, over the {MAX_VALUE} a request returns: `sop get` streams it",
                        v.len()
                    )));
                }
                Ok(item_json(enc, &key, &v, usize::MAX))
            })
            .await?;
        let mut res = Json(&item).into_response();
        if let Ok(v) =
            HeaderValue::from_str(&format!("\"{}\"", item["version"].as_str().unwrap_or("")))
        {
            res.headers_mut().insert(header::ETAG, v);
        }
        return Ok(res);
    }
    let bound = |name: &str| -> ApiResult<Option<Vec<u8>>> {
        param(&q, name).map(|t| enc.decode(name, t)).transpose()
    };
    let (from, to) = (bound("from")?, bound("to")?);
    let desc = crate::items::flag(&q, "desc")?;
    let limit = match param(&q, "limit") {
        None => 100,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=m.config.max_page).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("limit is 1 to {}", m.config.max_page)))?,
    };
    let preview = match param(&q, "preview") {
        None => 1024,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= MAX_VALUE)
            .ok_or_else(|| ApiError::bad_request("preview is 0 to 16777216 bytes"))?,
    };
    let after = param(&q, "after").map(cursor_decode).transpose()?;
    let page = m
        .read_tx(&db, move |tx| {
            let s = tx.open_raw_store(&store)?;
            let key_type = s.info()?.key_type.clone();
            // The seek: from the cursor's key (skipping the items of it the
            // previous page gave), else from the range's start.
            let (mut lo, mut hi) = (
                from.map_or(Bound::Unbounded, Bound::Included),
                to.map_or(Bound::Unbounded, Bound::Included),
            );
            let mut skip_key = None;
            if let Some((k, dups)) = after {
                if desc {
                    hi = Bound::Included(k.clone());
                } else {
                    lo = Bound::Included(k.clone());
                }
                skip_key = Some((k, dups));
            }
            let mut items = Vec::new();
            let mut next = None;
            let mut last: Option<(Vec<u8>, u64)> = None;
            let lo_ref = bound_ref(&lo);
            let hi_ref = bound_ref(&hi);
            s.scan(lo_ref, hi_ref, desc, |k, v| {
                if let Some((sk, left)) = &mut skip_key {
                    if k == sk.as_slice() && *left > 0 {
                        *left -= 1;
                        return true;
                    }
                }
                if items.len() == limit {
                    let dups = match &last {
                        Some((lk, n)) if lk.as_slice() == k => *n,
                        _ => 0,
                    };
                    next = Some(cursor_encode(k, dups));
                    return false;
                }
                items.push(item_json(enc, k, v, preview));
                last = match last.take() {
                    Some((lk, n)) if lk.as_slice() == k => Some((lk, n + 1)),
                    _ => Some((k.to_vec(), 1)),
                };
                true
            })?;
            Ok(
                json!({"items": items, "next": next, "encoding": enc.name(), "key_type": key_type,
                      "writable": key_type == BYTES_KEY_TYPE}),
            )
        })
        .await?;
    Ok(Json(page).into_response())
}

fn bound_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Bound::Included(v) => Bound::Included(v.as_slice()),
        Bound::Excluded(v) => Bound::Excluded(v.as_slice()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Refuse writes to stores that are not byte stores.
fn writable(s: &sop::RawStore<'_>, store: &str) -> ApiResult<()> {
    let kt = s.info()?.key_type.clone();
    if kt != BYTES_KEY_TYPE {
        let how = if kt == sop::JSON_KEY_TYPE {
            "write it through /items"
        } else {
            "its program knows its encoding"
        };
        return Err(ApiError::bad_request(format!(
            "store {store:?} has key type {kt:?}, not {BYTES_KEY_TYPE:?}: {how}"
        )));
    }
    Ok(())
}

/// PUT `{"key","value","encoding"?}`: write an item. `If-Match: VERSION`:
/// only if the item is at that version (412 otherwise); `If-None-Match: *`:
/// only if there is no item with the key.
pub(crate) async fn put_bytes(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    who.require(Role::Writer)?;
    check_name("store", &store)?;
    let text =
        std::str::from_utf8(&body).map_err(|_| ApiError::bad_json("the body is not UTF-8"))?;
    let v = crate::items::parse_json("body", text)?;
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::bad_request("the body is {\"key\",\"value\",\"encoding\"}"))?;
    if let Some(other) = obj
        .keys()
        .find(|k| !["key", "value", "encoding"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!("unknown member {other:?}")));
    }
    let text_of = |name: &str| -> ApiResult<String> {
        obj.get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| ApiError::bad_request(format!("member {name:?} is a string")))
    };
    let enc = match obj.get("encoding") {
        None => Encoding::Base64,
        Some(e) => Encoding::parse(&[(
            "encoding".to_string(),
            e.as_str()
                .ok_or_else(|| ApiError::bad_request("encoding is a string"))?
                .to_string(),
        )])?,
    };
    let key = enc.decode("key", &text_of("key")?)?;
    let value = enc.decode("value", &text_of("value")?)?;
    if key.is_empty() || key.len() > sop::MAX_KEY_LEN {
        return Err(ApiError::bad_key(format!(
            "a key has 1 to {} bytes",
            sop::MAX_KEY_LEN
        )));
    }
    let expect = if_match(&headers)?;
    let absent = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == b"*");
    let (k2, v2, e2, s2) = (key.clone(), value.clone(), expect.clone(), store.clone());
    let created = m
        .write_tx(&db, move |tx| {
            let s = tx.open_raw_store(&s2)?;
            writable(&s, &s2)?;
            let current = s.get(&k2)?;
            if let Some(want) = &e2 {
                match &current {
                    None => {
                        return Err(ApiError::precondition(format!(
                            "no item with this key any more (expected version {want})"
                        )))
                    }
                    Some(cv) if version(&k2, cv) != *want => {
                        return Err(ApiError::precondition(format!(
                            "the item changed: it is at version {}, not {want}",
                            version(&k2, cv)
                        )))
                    }
                    _ => {}
                }
                s.update(&k2, &v2)?;
                return Ok(false);
            }
            if absent {
                if current.is_some() {
                    return Err(ApiError::precondition(
                        "an item with this key exists already",
                    ));
                }
                s.add(&k2, &v2)?;
                return Ok(true);
            }
            Ok(if s.info()?.options.unique {
                s.upsert(&k2, &v2)?
            } else {
                s.add(&k2, &v2)?
            })
        })
        .await?;
    m.audit.write(
        &who,
        "put_bytes",
        &db,
        &store,
        json!({"key": Encoding::Hex.encode(&key), "value_bytes": value.len(), "if_match": expect, "created": created}),
    );
    let item = item_json(enc, &key, &value, 0);
    let mut res = (
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(json!({"key": item["key"], "version": item["version"], "created": created})),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", item["version"].as_str().unwrap_or("")))
    {
        res.headers_mut().insert(header::ETAG, v);
    }
    Ok(res)
}

/// DELETE `?key=&encoding=`: remove the (first) item with the key; with
/// `If-Match`, only at that version.
pub(crate) async fn delete_bytes(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    who.require(Role::Writer)?;
    check_name("store", &store)?;
    let q = parse_query(q.as_deref())?;
    let enc = Encoding::parse(&q)?;
    let key = enc.decode(
        "key",
        param(&q, "key").ok_or_else(|| ApiError::bad_request("DELETE needs ?key="))?,
    )?;
    let expect = if_match(&headers)?;
    let (k2, e2, s2) = (key.clone(), expect.clone(), store.clone());
    m.write_tx(&db, move |tx| {
        let s = tx.open_raw_store(&s2)?;
        writable(&s, &s2)?;
        match (s.get(&k2)?, &e2) {
            (None, _) => Err(ApiError::not_found("no item with this key")),
            (Some(cv), Some(want)) if version(&k2, &cv) != *want => {
                Err(ApiError::precondition(format!(
                    "the item changed: it is at version {}, not {want}",
                    version(&k2, &cv)
                )))
            }
            _ => {
                s.remove(&k2)?;
                Ok(())
            }
        }
    })
    .await?;
    m.audit.write(
        &who,
        "delete_bytes",
        &db,
        &store,
        json!({"key": Encoding::Hex.encode(&key), "if_match": expect}),
    );
    Ok(Json(json!({"deleted": true})))
}
