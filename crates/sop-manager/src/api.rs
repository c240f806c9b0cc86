//! The REST handlers (docs/API.md lists them all).

use crate::auth::{Caller, Role, Via};
use crate::error::{ApiError, ApiResult};
use crate::items::{self, check_key, if_match, param, parse_json, parse_query, Item, PageRequest};
use crate::{blocking, check_name, client_ip, Manager, COOKIE};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures_util::StreamExt;
use serde_json::{json, Value};
use sop::{IndexSpec, StoreOptions, TxMode, ValuePlacement};
use std::sync::Arc;

type M = State<Arc<Manager>>;

/// The routes that need a caller (the auth layer is put on them by `router`).
pub(crate) fn routes() -> Router<Arc<Manager>> {
    let store = "/api/databases/{db}/stores/{store}";
    Router::new()
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/me", get(me))
        .route("/api/metrics", get(crate::metrics::json_metrics))
        .route("/api/databases", get(databases))
        .route("/api/databases/{db}/stores", get(stores).post(create_store))
        .route(store, get(store_info).delete(drop_store))
        .route(
            &format!("{store}/items"),
            get(get_items)
                .put(put_item)
                .post(add_item)
                .delete(delete_item),
        )
        .route(
            &format!("{store}/bytes"),
            get(crate::bytes::get_bytes)
                .put(crate::bytes::put_bytes)
                .delete(crate::bytes::delete_bytes),
        )
        .route(&format!("{store}/search"), get(crate::search::search))
        .route("/api/databases/{db}/indexes", get(crate::search::indexes))
        .route(&format!("{store}/batch"), post(batch))
        .route(&format!("{store}/delete-range"), post(delete_range))
        .route(
            &format!("{store}/import"),
            post(import).layer(DefaultBodyLimit::disable()),
        )
        .route(&format!("{store}/export"), get(export))
        .route("/api/databases/{db}/jobs", post(start_job))
        .route("/api/jobs/{id}", get(job))
}

/// Parse a JSON body (exact numbers, no duplicate members).
fn body_json(body: &Bytes) -> ApiResult<Value> {
    let text =
        std::str::from_utf8(body).map_err(|_| ApiError::bad_json("the body is not UTF-8"))?;
    parse_json("body", text)
}

fn field<'a>(v: &'a Value, name: &str) -> ApiResult<&'a Value> {
    v.get(name)
        .ok_or_else(|| ApiError::bad_request(format!("the body has no member {name:?}")))
}

fn str_field<'a>(v: &'a Value, name: &str) -> ApiResult<&'a str> {
    field(v, name)?
        .as_str()
        .ok_or_else(|| ApiError::bad_request(format!("member {name:?} must be a string")))
}

pub(crate) async fn health(State(m): M) -> Json<Value> {
    Json(json!({"status": "ok", "databases": m.databases().len(), "auth": m.auth.has_users()}))
}

pub(crate) fn cookie_header(m: &Manager, value: &str, max_age: u64) -> HeaderValue {
    let secure = if m.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(crate) async fn login(State(m): M, req: Request) -> ApiResult<Response> {
    let ip = client_ip(&req);
    let body = axum::body::to_bytes(req.into_body(), 64 << 10)
        .await
        .map_err(|_| ApiError::too_large("the login body is over 64 KiB"))?;
    let v = body_json(&body)?;
    let user = str_field(&v, "username")?.to_string();
    let password = str_field(&v, "password")?.to_string();
    let session = v.get("session").and_then(|s| s.as_bool()).unwrap_or(false);
    let m2 = m.clone();
    let tokens = blocking(move || m2.auth.login(&user, &password, ip, session)).await?;
    let mut res = Json(&tokens).into_response();
    if let Some(c) = &tokens.cookie {
        res.headers_mut().insert(
            header::SET_COOKIE,
            cookie_header(&m, c, m.config.refresh_ttl.as_secs()),
        );
    }
    Ok(res)
}

pub(crate) async fn refresh(State(m): M, body: Bytes) -> ApiResult<Json<Value>> {
    let v = body_json(&body)?;
    let token = str_field(&v, "refresh_token")?.to_string();
    let m2 = m.clone();
    let t = blocking(move || m2.auth.refresh(&token)).await?;
    Ok(Json(serde_json::to_value(&t).unwrap_or_default()))
}

async fn logout(State(m): M, Extension(who): Extension<Caller>) -> Response {
    if let Some(s) = who.session {
        let m2 = m.clone();
        if let Err(e) = blocking(move || m2.auth.logout(&s)).await {
            return e.into_response();
        }
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut()
        .insert(header::SET_COOKIE, cookie_header(&m, "", 0));
    res
}

async fn me(State(m): M, Extension(who): Extension<Caller>) -> Json<Value> {
    Json(
        json!({"username": who.name, "role": who.role, "anonymous": who.via == Via::Anonymous,
                "auth": m.auth.has_users()}),
    )
}

async fn databases(State(m): M, Extension(who): Extension<Caller>) -> ApiResult<Json<Value>> {
    who.require(Role::Reader)?;
    Ok(Json(Value::Array(crate::metrics::db_figures(&m).await)))
}

fn summary(s: &sop::StoreSummary) -> Value {
    json!({"name": s.info.name, "items": s.items, "key_type": s.info.key_type,
           "key_spec": s.info.key_spec, "unique": s.info.options.unique,
           "values": s.info.options.values, "slot_length": s.info.options.slot_length,
           "description": s.info.options.description, "nodes": s.nodes,
           "node_bytes": s.node_bytes, "created_seq": s.created_seq,
           "json": s.info.key_type == sop::JSON_KEY_TYPE,
           "kind": kind_of(&s.info.key_type)})
}

/// What the page makes of a store: `json`, `bytes` (writable at the byte
/// level) or `typed` (a program's typed store: browsable as bytes only).
fn kind_of(key_type: &str) -> &'static str {
    if key_type == sop::JSON_KEY_TYPE {
        "json"
    } else if key_type == crate::bytes::BYTES_KEY_TYPE {
        "bytes"
    } else {
        "typed"
    }
}

async fn stores(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path(db): Path<String>,
) -> ApiResult<Json<Value>> {
    who.require(Role::Reader)?;
    let handle = m.db(&db)?.db.clone();
    let st = blocking(move || Ok(handle.stats()?)).await?;
    Ok(Json(Value::Array(st.stores.iter().map(summary).collect())))
}

async fn store_info(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    who.require(Role::Reader)?;
    check_name("store", &store)?;
    let handle = m.db(&db)?.db.clone();
    let st = blocking(move || Ok(handle.stats()?)).await?;
    let s = st
        .stores
        .iter()
        .find(|s| s.info.name == store)
        .ok_or_else(|| ApiError::not_found(format!("store {store:?} does not exist")))?;
    Ok(Json(summary(s)))
}

/// A key spec in a request: a JSON array/object, or the short form as a string.
fn spec_of(v: Option<&Value>) -> ApiResult<Option<IndexSpec>> {
    let bad = |e: sop::CodecError| ApiError::bad_request(format!("bad key_spec: {e}"));
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => IndexSpec::parse_short(s).map(Some).map_err(bad),
        Some(v @ (Value::Array(_) | Value::Object(_))) => {
            IndexSpec::parse(&v.to_string()).map(Some).map_err(bad)
        }
        Some(_) => Err(ApiError::bad_request(
            "key_spec is a string (short form) or JSON",
        )),
    }
}

async fn create_store(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path(db): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    who.require(Role::Admin)?;
    let v = body_json(&body)?;
    let name = str_field(&v, "name")?.to_string();
    check_name("store", &name)?;
    let spec = spec_of(v.get("key_spec"))?;
    let bytes = match v.get("kind").map(|k| k.as_str()) {
        None | Some(Some("json")) => false,
        Some(Some("bytes")) => true,
        _ => {
            return Err(ApiError::bad_request(
                "kind is \"json\" (default) or \"bytes\"",
            ))
        }
    };
    if bytes && spec.is_some() {
        return Err(ApiError::bad_request(
            "a byte store has no key_spec: its keys are bytes, in byte order",
        ));
    }
    let mut opts = StoreOptions::default();
    if let Some(u) = v.get("unique") {
        opts.unique = u
            .as_bool()
            .ok_or_else(|| ApiError::bad_request("unique is true or false"))?;
    }
    if let Some(p) = v.get("values") {
        opts.values = serde_json::from_value::<ValuePlacement>(p.clone())
            .map_err(|_| ApiError::bad_request("values is one of auto, inline, separate, big"))?;
    }
    if let Some(n) = v.get("slot_length") {
        opts.slot_length = n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| ApiError::bad_request("slot_length is a number"))?;
    }
    if let Some(d) = v.get("description") {
        opts.description = d
            .as_str()
            .ok_or_else(|| ApiError::bad_request("description is a string"))?
            .to_string();
    }
    opts.validate()?;
    let handle = m.db(&db)?.db.clone();
    let (n2, o2, s2) = (name.clone(), opts.clone(), spec.clone());
    let info = blocking(move || {
        let tx = handle.begin(TxMode::ForWriting)?;
        let info = if bytes {
            tx.create_raw_store(&n2, crate::bytes::BYTES_KEY_TYPE, o2)?
                .info()?
        } else {
            tx.create_json_store(&n2, o2, s2)?.info().clone()
        };
        tx.commit()?;
        Ok(info)
    })
    .await?;
    m.audit.write(
        &who,
        "create_store",
        &db,
        &name,
        json!({"kind": if bytes {"bytes"} else {"json"}, "key_spec": spec, "options": opts}),
    );
    Ok((
        StatusCode::CREATED,
        Json(serde_json::to_value(&*info).unwrap_or_default()),
    )
        .into_response())
}

async fn drop_store(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    who.require(Role::Admin)?;
    check_name("store", &store)?;
    let q = parse_query(q.as_deref())?;
    if param(&q, "confirm") != Some(store.as_str()) {
        return Err(ApiError::bad_request(
            "to drop a store, repeat its name: ?confirm=NAME",
        ));
    }
    let handle = m.db(&db)?.db.clone();
    let s2 = store.clone();
    let count = blocking(move || {
        let tx = handle.begin(TxMode::ForWriting)?;
        let count = tx.store_info(&s2)?.count;
        tx.drop_store(&s2)?;
        tx.commit()?;
        Ok(count)
    })
    .await?;
    m.audit
        .write(&who, "drop_store", &db, &store, json!({"items": count}));
    Ok(Json(json!({"dropped": store, "items": count})))
}

async fn get_items(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    who.require(Role::Reader)?;
    let q = parse_query(q.as_deref())?;
    if let Some(k) = param(&q, "key") {
        let key = parse_json("key", k)?;
        let item = m
            .read(&db, &store, move |s| {
                check_key(s, &key)?;
                s.get_item(&key)?
                    .map(|(k, v)| Item::new(k, v))
                    .ok_or_else(|| ApiError::not_found(format!("no item with key {key}")))
            })
            .await?;
        let etag = HeaderValue::from_str(&format!("\"{}\"", item.version))
            .unwrap_or_else(|_| HeaderValue::from_static("\"\""));
        let mut res = Json(item).into_response();
        res.headers_mut().insert(header::ETAG, etag);
        return Ok(res);
    }
    let req = PageRequest::parse(&q, m.config.max_page, m.config.scan_limit)?;
    let page = m.read(&db, &store, move |s| items::page(s, &req)).await?;
    Ok(Json(page).into_response())
}

/// The key and value of a PUT or POST body.
fn key_value(body: &Bytes) -> ApiResult<(Value, Value)> {
    let mut v = body_json(body)?;
    let obj = v
        .as_object_mut()
        .ok_or_else(|| ApiError::bad_request("the body is {\"key\":…,\"value\":…}"))?;
    if let Some(other) = obj.keys().find(|k| *k != "key" && *k != "value") {
        return Err(ApiError::bad_request(format!(
            "unknown member {other:?}: the body is {{\"key\":…,\"value\":…}}"
        )));
    }
    let key = obj
        .remove("key")
        .ok_or_else(|| ApiError::bad_request("the body has no member \"key\""))?;
    let value = obj
        .remove("value")
        .ok_or_else(|| ApiError::bad_request("the body has no member \"value\""))?;
    Ok((key, value))
}

fn with_etag(status: StatusCode, item: Item) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", item.version))
        .unwrap_or_else(|_| HeaderValue::from_static("\"\""));
    let mut res = (status, Json(item)).into_response();
    res.headers_mut().insert(header::ETAG, etag);
    res
}

/// PUT: write an item. With `If-Match: VERSION` the item must exist at that
/// version (else 412); with `If-None-Match: *` it must not exist (else 412);
/// without either, a unique store replaces an equal key and a store with
/// duplicates adds one more.
async fn put_item(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    who.require(Role::Writer)?;
    let (key, value) = key_value(&body)?;
    let expect = if_match(&headers)?;
    let absent = headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == b"*");
    let (k2, v2, e2) = (key.clone(), value.clone(), expect.clone());
    let created = m
        .write(&db, &store, move |s| {
            check_key(s, &k2)?;
            let current = s.get_item(&k2)?;
            if let Some(want) = &e2 {
                match &current {
                    None => {
                        return Err(ApiError::precondition(format!(
                            "no item with key {k2} any more (expected version {want})"
                        )))
                    }
                    Some((ck, cv)) if items::version(ck, cv) != *want => {
                        return Err(ApiError::precondition(format!(
                            "the item changed: it is at version {}, not {want}",
                            items::version(ck, cv)
                        )))
                    }
                    _ => {}
                }
                s.update(&k2, &v2)?;
                return Ok(false);
            }
            if absent {
                if current.is_some() {
                    return Err(ApiError::precondition(format!(
                        "an item with key {k2} exists already"
                    )));
                }
                s.add(&k2, &v2)?;
                return Ok(true);
            }
            Ok(if s.info().options.unique {
                s.upsert(&k2, &v2)?
            } else {
                s.add(&k2, &v2)?
            })
        })
        .await?;
    m.audit.write(
        &who,
        "put",
        &db,
        &store,
        json!({"key": key, "if_match": expect, "created": created}),
    );
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_etag(status, Item::new(key, value)))
}

/// POST: add an item only if no item has its key (409 `exists` otherwise).
async fn add_item(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Response> {
    who.require(Role::Writer)?;
    let (key, value) = key_value(&body)?;
    let (k2, v2) = (key.clone(), value.clone());
    m.write(&db, &store, move |s| {
        check_key(s, &k2)?;
        if !s.add_if_absent(&k2, &v2)? {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "exists",
                format!("an item with key {k2} exists already"),
            ));
        }
        Ok(())
    })
    .await?;
    m.audit.write(&who, "add", &db, &store, json!({"key": key}));
    Ok(with_etag(StatusCode::CREATED, Item::new(key, value)))
}

async fn delete_item(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    who.require(Role::Writer)?;
    let q = parse_query(q.as_deref())?;
    let key = parse_json(
        "key",
        param(&q, "key").ok_or_else(|| ApiError::bad_request("DELETE needs ?key=JSON"))?,
    )?;
    let expect = if_match(&headers)?;
    let (k2, e2) = (key.clone(), expect.clone());
    m.write(&db, &store, move |s| {
        check_key(s, &k2)?;
        let Some((ck, cv)) = s.get_item(&k2)? else {
            return Err(if e2.is_some() {
                ApiError::precondition(format!("no item with key {k2} any more"))
            } else {
                ApiError::not_found(format!("no item with key {k2}"))
            });
        };
        if let Some(want) = &e2 {
            let have = items::version(&ck, &cv);
            if have != *want {
                return Err(ApiError::precondition(format!(
                    "the item changed: it is at version {have}, not {want}"
                )));
            }
        }
        s.remove(&k2)?;
        Ok(())
    })
    .await?;
    m.audit.write(
        &who,
        "delete",
        &db,
        &store,
        json!({"key": key, "if_match": expect}),
    );
    Ok(Json(json!({"deleted": true})))
}

/// Operations in a batch at most.
const MAX_BATCH: usize = 10_000;

/// POST batch: `{"ops":[{"op":"put"|"add"|"update"|"delete","key":…,"value":…,
/// "if_match":VERSION}]}`, all in one transaction: all or nothing.
async fn batch(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    who.require(Role::Writer)?;
    let v = body_json(&body)?;
    let ops = field(&v, "ops")?
        .as_array()
        .ok_or_else(|| ApiError::bad_request("ops is a list"))?
        .clone();
    if ops.len() > MAX_BATCH {
        return Err(ApiError::too_large(format!(
            "a batch has at most {MAX_BATCH} operations"
        )));
    }
    for (i, op) in ops.iter().enumerate() {
        let kind = op.get("op").and_then(|o| o.as_str()).unwrap_or("");
        if !["put", "add", "update", "delete"].contains(&kind) {
            return Err(ApiError::bad_request(format!(
                "op {i}: \"op\" is put, add, update or delete"
            )));
        }
        if op.get("key").is_none() || (kind != "delete" && op.get("value").is_none()) {
            return Err(ApiError::bad_request(format!(
                "op {i}: needs \"key\" (and \"value\" unless it is a delete)"
            )));
        }
    }
    let n = ops.len();
    let ops2 = ops.clone();
    m.write(&db, &store, move |s| {
        for (i, op) in ops2.iter().enumerate() {
            let at = |e: ApiError| ApiError {
                message: format!("op {i}: {}", e.message),
                ..e
            };
            let kind = op["op"].as_str().unwrap_or("");
            let key = &op["key"];
            let value = op.get("value").unwrap_or(&Value::Null);
            check_key(s, key).map_err(at)?;
            if let Some(want) = op.get("if_match").and_then(|v| v.as_str()) {
                match s.get_item(key)? {
                    Some((ck, cv)) if items::version(&ck, &cv) == want => {}
                    _ => {
                        return Err(at(ApiError::precondition(format!(
                            "item {key} is not at version {want}"
                        ))))
                    }
                }
            }
            match kind {
                "put" => {
                    if s.info().options.unique {
                        s.upsert(key, value)?;
                    } else {
                        s.add(key, value)?;
                    }
                }
                "add" => {
                    if !s.add_if_absent(key, value)? {
                        return Err(at(ApiError::new(
                            StatusCode::CONFLICT,
                            "exists",
                            format!("an item with key {key} exists already"),
                        )));
                    }
                }
                "update" => {
                    if !s.update(key, value)? {
                        return Err(at(ApiError::not_found(format!("no item with key {key}"))));
                    }
                }
                _ => {
                    if !s.remove(key)? {
                        return Err(at(ApiError::not_found(format!("no item with key {key}"))));
                    }
                }
            }
        }
        Ok(())
    })
    .await?;
    let keys: Vec<Value> = ops
        .iter()
        .map(|o| json!({"op": o["op"], "key": o["key"]}))
        .collect();
    m.audit
        .write(&who, "batch", &db, &store, json!({"ops": keys}));
    Ok(Json(json!({"applied": n})))
}

/// Items removed per transaction by a range delete.
const DELETE_BATCH: usize = 2_000;

/// POST delete-range: `{"from":KEY,"to":KEY}` (either may be missing, not
/// both unless `"all": true`). Commits every 2,000 items.
async fn delete_range(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    who.require(Role::Writer)?;
    let v = body_json(&body)?;
    let from = v.get("from").cloned();
    let to = v.get("to").cloned();
    if from.is_none() && to.is_none() && v.get("all") != Some(&Value::Bool(true)) {
        return Err(ApiError::bad_request(
            "give from and/or to, or \"all\": true to empty the store",
        ));
    }
    let mut total = 0u64;
    loop {
        let (f, t) = (from.clone(), to.clone());
        let n = m
            .write(&db, &store, move |s| {
                for b in [&f, &t].into_iter().flatten() {
                    check_key(s, b)?;
                }
                let keys: Vec<Value> = s
                    .range(f.as_ref(), t.as_ref(), false)?
                    .take(DELETE_BATCH)
                    .map(|r| r.map(|(k, _)| k))
                    .collect::<sop::Result<_>>()?;
                for k in &keys {
                    s.remove(k)?;
                }
                Ok(keys.len())
            })
            .await?;
        total += n as u64;
        if n < DELETE_BATCH {
            break;
        }
    }
    m.audit.write(
        &who,
        "delete_range",
        &db,
        &store,
        json!({"from": from, "to": to, "deleted": total}),
    );
    Ok(Json(json!({"deleted": total})))
}

/// The longest line an import takes.
const MAX_LINE: usize = 1 << 20;

/// POST import: the body is JSON lines `{"key":…,"value":…}`, read as it
/// arrives and committed every `?batch=` lines (default 1,000). A bad line
/// stops the import: the error names its line number and how many items the
/// earlier batches committed.
async fn import(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Body,
) -> ApiResult<Json<Value>> {
    who.require(Role::Writer)?;
    let q = parse_query(q.as_deref())?;
    let batch_size = match param(&q, "batch") {
        None => 1000,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .ok_or_else(|| ApiError::bad_request("batch is a number from 1 to 100000"))?,
    };
    // The store must exist before anything is read.
    let unique = m.read(&db, &store, |s| Ok(s.info().options.unique)).await?;
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut pending: Vec<(Value, Value)> = Vec::new();
    let (mut line_no, mut imported, mut received) = (0u64, 0u64, 0u64);
    let limit = m.config.import_limit;
    let flush = |items: Vec<(Value, Value)>| {
        let m = m.clone();
        let (db, store) = (db.clone(), store.clone());
        async move {
            let items = Arc::new(items);
            let n = items.len() as u64;
            m.write(&db, &store, move |s| {
                for (k, v) in items.iter() {
                    check_key(s, k)?;
                    if unique {
                        s.upsert(k, v)?;
                    } else {
                        s.add(k, v)?;
                    }
                }
                Ok(())
            })
            .await
            .map(|_| n)
        }
    };
    let fail = |line: u64, imported: u64, e: String| {
        ApiError::bad_request(format!(
            "line {line}: {e} ({imported} items before it were committed)"
        ))
    };
    let mut done = false;
    while !done {
        let chunk = match stream.next().await {
            Some(Ok(c)) => c,
            Some(Err(e)) => return Err(ApiError::bad_request(format!("reading the body: {e}"))),
            None => {
                done = true;
                Bytes::new()
            }
        };
        received += chunk.len() as u64;
        if received > limit {
            return Err(ApiError::too_large(format!(
                "the import is over {limit} bytes ({imported} items were committed)"
            )));
        }
        buf.extend_from_slice(&chunk);
        let mut start = 0;
        loop {
            let end = match buf[start..].iter().position(|b| *b == b'\n') {
                Some(i) => start + i,
                None if done && start < buf.len() => buf.len(),
                None => break,
            };
            line_no += 1;
            let line = &buf[start..end];
            start = (end + 1).min(buf.len());
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                if end == buf.len() {
                    break;
                }
                continue;
            }
            let (k, v) = items::parse_line(line).map_err(|e| fail(line_no, imported, e))?;
            pending.push((k, v));
            if pending.len() >= batch_size {
                imported += flush(std::mem::take(&mut pending))
                    .await
                    .map_err(|e| fail(line_no, imported, e.message))?;
            }
            if end == buf.len() {
                break;
            }
        }
        buf.drain(..start.min(buf.len()));
        if buf.len() > MAX_LINE {
            return Err(fail(
                line_no + 1,
                imported,
                format!("a line is longer than {MAX_LINE} bytes"),
            ));
        }
    }
    if !pending.is_empty() {
        imported += flush(std::mem::take(&mut pending))
            .await
            .map_err(|e| fail(line_no, imported, e.message))?;
    }
    m.audit.write(
        &who,
        "import",
        &db,
        &store,
        json!({"items": imported, "lines": line_no}),
    );
    Ok(Json(json!({"imported": imported, "lines": line_no})))
}

/// GET export: the store (or `from`..`to`) as JSON lines, streamed from one
/// read snapshot in 64 KiB chunks through a small channel: memory stays flat
/// however big the store is.
async fn export(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    who.require(Role::Reader)?;
    check_name("store", &store)?;
    let q = parse_query(q.as_deref())?;
    let key = |name: &str| -> ApiResult<Option<Value>> {
        match param(&q, name) {
            None | Some("") => Ok(None),
            Some(t) => parse_json(name, t).map(Some),
        }
    };
    let (from, to) = (key("from")?, key("to")?);
    let handle = m.db(&db)?.db.clone();
    // Open the store first, so a missing store is a 404 rather than an empty file.
    let (s2, f2, t2) = (store.clone(), from.clone(), to.clone());
    let h2 = handle.clone();
    blocking(move || {
        let tx = h2.begin(TxMode::NoCheck)?;
        let s = tx.open_json_store(&s2)?;
        for b in [&f2, &t2].into_iter().flatten() {
            check_key(&s, b)?;
        }
        Ok(())
    })
    .await?;
    let (tx_chan, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let s2 = store.clone();
    tokio::task::spawn_blocking(move || {
        let r: ApiResult<()> = (|| {
            let tx = handle.begin(TxMode::NoCheck)?;
            let s = tx.open_json_store(&s2)?;
            let mut out = Vec::with_capacity(80 << 10);
            for r in s.range(from.as_ref(), to.as_ref(), false)? {
                let (k, v) = r?;
                serde_json::to_writer(&mut out, &json!({"key": k, "value": v}))
                    .map_err(|e| ApiError::internal(e.to_string()))?;
                out.push(b'\n');
                if out.len() >= 64 << 10 {
                    let chunk =
                        Bytes::from(std::mem::replace(&mut out, Vec::with_capacity(80 << 10)));
                    if tx_chan.blocking_send(Ok(chunk)).is_err() {
                        return Ok(()); // the client went away
                    }
                }
            }
            if !out.is_empty() {
                let _ = tx_chan.blocking_send(Ok(Bytes::from(out)));
            }
            Ok(())
        })();
        if let Err(e) = r {
            tracing::error!("export of {s2} failed: {}", e.message);
            let _ = tx_chan.blocking_send(Err(std::io::Error::other(e.message)));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let disposition = format!(
        "attachment; filename=\"{}.jsonl\"",
        store.replace(
            |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
            "_"
        )
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn start_job(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path(db): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    who.require(Role::Admin)?;
    let v = body_json(&body)?;
    let kind = str_field(&v, "kind")?;
    let handle = m.db(&db)?.db.clone();
    let id = m.jobs.start(kind, &db, handle, m.auth.shared_store())?;
    m.audit
        .write(&who, "job", &db, "", json!({"kind": kind, "id": id}));
    Ok((StatusCode::ACCEPTED, Json(json!({"id": id}))).into_response())
}

async fn job(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    who.require(Role::Admin)?;
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_request("a job id is a number"))?;
    let m2 = m.clone();
    Ok(Json(
        blocking(move || m2.jobs.get(id, m2.auth.shared_store())).await?,
    ))
}
