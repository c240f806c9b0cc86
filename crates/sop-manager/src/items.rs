//! Items: versions, seek cursors, field filters and pages, over the engine's
//! JSON stores. Also the parsers of what requests carry (query strings, keys,
//! cursors, filters, import lines); they return errors, never panic.

use crate::error::{ApiError, ApiResult};
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};
use sop::JsonStore;

/// The version of an item: a hash of its key and value documents, as sent
/// in `ETag` and expected in `If-Match`.
pub fn version(key: &Value, value: &Value) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(key.to_string().as_bytes());
    h.update(b"\0");
    h.update(value.to_string().as_bytes());
    format!("{:016x}", h.digest())
}

/// An item as the API shows it.
#[derive(Debug, Serialize)]
pub struct Item {
    /// The key document.
    pub key: Value,
    /// The value document.
    pub value: Value,
    /// Its version.
    pub version: String,
}

impl Item {
    /// The item of a key and a value.
    pub fn new(key: Value, value: Value) -> Item {
        let version = version(&key, &value);
        Item {
            key,
            value,
            version,
        }
    }
}

/// Parse JSON text as the engine does (numbers kept exact, duplicate members refused).
pub fn parse_json(what: &str, text: &str) -> ApiResult<Value> {
    sop::parse_json(text).map_err(|e| ApiError::bad_json(format!("{what}: {e}")))
}

/// Parse a query string into its pairs (percent-decoded; repeated names kept).
pub fn parse_query(q: Option<&str>) -> ApiResult<Vec<(String, String)>> {
    match q {
        None | Some("") => Ok(Vec::new()),
        Some(q) => serde_urlencoded::from_str::<Vec<(String, String)>>(q)
            .map_err(|e| ApiError::bad_request(format!("bad query string: {e}"))),
    }
}

/// The first value of query parameter `name`.
pub fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A yes/no query parameter: `true`/`1`/`yes` or `false`/`0`/`no`.
pub fn flag(q: &[(String, String)], name: &str) -> ApiResult<bool> {
    match param(q, name) {
        None => Ok(false),
        Some("true" | "1" | "yes" | "") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(v) => Err(ApiError::bad_request(format!(
            "{name}={v:?}: expected true or false"
        ))),
    }
}

/// Where a page starts: after `dups` items of key `key` (in the page's
/// direction). Sent as `next`, an opaque base64url token; read back from `after`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    /// The key of the last item examined.
    pub key: Value,
    /// How many items of that key were examined (stores with duplicates).
    pub dups: u64,
}

impl Cursor {
    /// The token.
    pub fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(json!([self.key, self.dups]).to_string())
    }
    /// Read a token back.
    pub fn decode(token: &str) -> ApiResult<Cursor> {
        let bad = || ApiError::bad_cursor("the continuation token is not one this server made");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| bad())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
        match sop::parse_json(text).map_err(|_| bad())? {
            Value::Array(mut a) if a.len() == 2 => {
                let dups = a[1].as_u64().ok_or_else(bad)?;
                Ok(Cursor {
                    key: a.swap_remove(0),
                    dups,
                })
            }
            _ => Err(bad()),
        }
    }
}

/// A comparison of a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `^=`: a string that starts with the literal.
    Prefix,
    /// `?` after the path: the field exists.
    Exists,
}

/// A field predicate: `value.age>30`, `key.last=Lovelace`, `value.name^=Ad`,
/// `value.email?`. The path starts at `key` or `value`; members by `.`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// Whether the path starts at the key (else the value).
    pub in_key: bool,
    /// Member names below the root.
    pub path: Vec<String>,
    /// The comparison.
    pub op: Op,
    /// The literal: JSON if it parses as JSON, else a string.
    pub lit: Value,
}

impl Filter {
    /// Parse one filter.
    pub fn parse(text: &str) -> ApiResult<Filter> {
        let bad = |why: &str| {
            ApiError::bad_request(format!(
                "bad filter {text:?}: {why} (e.g. value.age>30, key.name=Ada, value.name^=Ad, value.email?)"
            ))
        };
        let (path, op, lit) = if let Some(p) = text.strip_suffix('?') {
            (p, Op::Exists, "")
        } else {
            let i = text
                .find(['=', '<', '>', '^'])
                .ok_or_else(|| bad("no operator"))?;
            let (p, rest) = text.split_at(i);
            let (op, lit) = if let Some(l) = rest.strip_prefix("^=") {
                (Op::Prefix, l)
            } else if let Some(l) = rest.strip_prefix('=') {
                (Op::Eq, l)
            } else if let Some(l) = rest.strip_prefix('<') {
                (Op::Lt, l)
            } else if let Some(l) = rest.strip_prefix('>') {
                (Op::Gt, l)
            } else {
                return Err(bad("unknown operator"));
            };
            (p, op, lit)
        };
        let mut parts = path.trim().split('.');
        let in_key = match parts.next() {
            Some("key") => true,
            Some("value") => false,
            _ => return Err(bad("the path starts with key or value")),
        };
        let path: Vec<String> = parts.map(|s| s.to_string()).collect();
        if path.iter().any(|p| p.is_empty()) {
            return Err(bad("an empty member name"));
        }
        let lit = if op == Op::Prefix {
            Value::String(lit.to_string())
        } else {
            sop::parse_json(lit).unwrap_or_else(|_| Value::String(lit.to_string()))
        };
        Ok(Filter {
            in_key,
            path,
            op,
            lit,
        })
    }

    /// Whether an item passes.
    pub fn matches(&self, key: &Value, value: &Value) -> bool {
        let mut v = if self.in_key { key } else { value };
        for p in &self.path {
            match v.get(p) {
                Some(x) => v = x,
                None => return false,
            }
        }
        match self.op {
            Op::Exists => true,
            Op::Prefix => {
                matches!((v, &self.lit), (Value::String(s), Value::String(p)) if s.starts_with(p.as_str()))
            }
            Op::Eq => match (v.as_f64(), self.lit.as_f64()) {
                (Some(a), Some(b)) => a == b,
                _ => *v == self.lit,
            },
            Op::Lt | Op::Gt => {
                let ord = match (v, &self.lit) {
                    (Value::Number(_), Value::Number(_)) => {
                        v.as_f64().partial_cmp(&self.lit.as_f64())
                    }
                    (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                    _ => None,
                };
                match ord {
                    Some(o) => {
                        if self.op == Op::Lt {
                            o.is_lt()
                        } else {
                            o.is_gt()
                        }
                    }
                    None => false,
                }
            }
        }
    }
}

/// What a page asks for.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// Lowest key (inclusive).
    pub from: Option<Value>,
    /// Highest key (inclusive).
    pub to: Option<Value>,
    /// Descending order.
    pub desc: bool,
    /// Items at most.
    pub limit: usize,
    /// Start after this cursor.
    pub after: Option<Cursor>,
    /// Every filter must pass.
    pub filters: Vec<Filter>,
    /// Items examined at most (a filtered page may come back short, with a `next`).
    pub scan_limit: usize,
}

impl PageRequest {
    /// Read a page request from query pairs; `max` caps `limit` (default 100).
    pub fn parse(q: &[(String, String)], max: usize, scan_limit: usize) -> ApiResult<PageRequest> {
        let key = |name: &str| -> ApiResult<Option<Value>> {
            match param(q, name) {
                None | Some("") => Ok(None),
                Some(t) => parse_json(name, t).map(Some),
            }
        };
        let limit = match param(q, "limit") {
            None | Some("") => 100,
            Some(t) => t
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("limit={t:?}: a number from 1 to {max}"))
                })?,
        };
        let after = match param(q, "after") {
            None | Some("") => None,
            Some(t) => Some(Cursor::decode(t)?),
        };
        let filters = q
            .iter()
            .filter(|(k, _)| k == "filter")
            .map(|(_, v)| Filter::parse(v))
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(PageRequest {
            from: key("from")?,
            to: key("to")?,
            desc: flag(q, "desc")?,
            limit,
            after,
            filters,
            scan_limit,
        })
    }
}

/// A page of items.
#[derive(Debug, Serialize)]
pub struct Page {
    /// The items, in order.
    pub items: Vec<Item>,
    /// The token of the next page (`after=`), or null at the end.
    pub next: Option<String>,
    /// Items read to make this page (more than `items` when filtering).
    pub examined: u64,
}

/// Read one page: seek to the start (the cursor's key, or `from`/`to`), skip
/// the cursor's duplicates, and read until `limit` items pass the filters or
/// `scan_limit` were examined. The cost depends on the page, not on the store.
pub fn page(s: &JsonStore<'_>, req: &PageRequest) -> ApiResult<Page> {
    let (mut from, mut to) = (req.from.clone(), req.to.clone());
    for b in [&from, &to].into_iter().flatten() {
        check_key(s, b)?;
    }
    let mut run_key: Option<Vec<u8>> = None;
    let mut run = 0u64;
    let mut skip = 0u64;
    if let Some(c) = &req.after {
        check_key(s, &c.key).map_err(|e| ApiError::bad_cursor(e.message))?;
        if req.desc {
            to = Some(c.key.clone());
        } else {
            from = Some(c.key.clone());
        }
        run_key = Some(s.key_bytes(&c.key)?);
        run = c.dups;
        skip = c.dups;
    }
    let mut it = s.range(from.as_ref(), to.as_ref(), req.desc)?;
    let mut items = Vec::new();
    let mut examined = 0u64;
    let mut last: Option<Value> = None;
    let mut skipping = skip > 0;
    let mut skipped = 0u64;
    for r in it.by_ref() {
        let (k, v) = r?;
        let kb = s.key_bytes(&k)?;
        let same = run_key.as_deref() == Some(kb.as_slice());
        if skipping {
            if same && skipped < skip {
                skipped += 1;
                continue;
            }
            skipping = false;
        }
        if same {
            run += 1;
        } else {
            run_key = Some(kb);
            run = 1;
        }
        examined += 1;
        if req.filters.iter().all(|f| f.matches(&k, &v)) {
            items.push(Item::new(k.clone(), v));
        }
        last = Some(k);
        if items.len() >= req.limit || examined as usize >= req.scan_limit {
            break;
        }
    }
    let more = match &last {
        Some(_) => it.next().transpose()?.is_some(),
        None => false,
    };
    let next = match (more, last) {
        (true, Some(key)) => Some(Cursor { key, dups: run }.encode()),
        _ => None,
    };
    Ok(Page {
        items,
        next,
        examined,
    })
}

/// A bad-key error if `key` does not fit the store's key spec or is too long.
pub fn check_key(s: &JsonStore<'_>, key: &Value) -> ApiResult<()> {
    let len = s
        .key_bytes(key)
        .map_err(|e| ApiError::bad_key(e.to_string()))?
        .len();
    if len > sop::MAX_KEY_LEN {
        return Err(ApiError::bad_key(format!(
            "key too long: {len} bytes, keys are at most {} bytes",
            sop::MAX_KEY_LEN
        )));
    }
    Ok(())
}

/// One line of an import: an object with exactly the members "key" and "value".
pub fn parse_line(line: &[u8]) -> Result<(Value, Value), String> {
    let what = "not a JSON line {\"key\":…,\"value\":…}";
    let text = std::str::from_utf8(line).map_err(|_| format!("{what}: not UTF-8"))?;
    let mut m = match sop::parse_json(text.trim_end()).map_err(|e| format!("{what}: {e}"))? {
        Value::Object(m) => m,
        _ => return Err(format!("{what}: not an object")),
    };
    if let Some(other) = m.keys().find(|k| *k != "key" && *k != "value") {
        return Err(format!("{what}: unknown member {other:?}"));
    }
    let key = m
        .remove("key")
        .ok_or_else(|| format!("{what}: missing member \"key\""))?;
    let value = m
        .remove("value")
        .ok_or_else(|| format!("{what}: missing member \"value\""))?;
    Ok((key, value))
}

/// The version an `If-Match` header names (quotes and `W/` dropped).
pub fn if_match(h: &axum::http::HeaderMap) -> ApiResult<Option<String>> {
    match h.get(axum::http::header::IF_MATCH) {
        None => Ok(None),
        Some(v) => {
            let t = v
                .to_str()
                .map_err(|_| ApiError::bad_request("If-Match is not text"))?;
            Ok(Some(
                t.trim()
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .to_string(),
            ))
        }
    }
}
