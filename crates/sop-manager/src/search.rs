//! Text search over a JSON store through a `sop-search` BM25 index (made
//! with `sop index create NAME --fields F,... --store STORE`): the indexes of
//! a database, and the hits of a query with their items and snippets. Uses
//! only `sop-search`'s public API.
//!
//! An index does not record which store it was built from; it names each
//! document by the compact JSON text of its key. So the page offers the
//! database's indexes on a store's page (the one named like the store
//! first), and a hit whose key is not in the store is shown without a value.

use crate::auth::{Caller, Role};
use crate::error::{ApiError, ApiResult};
use crate::items::{param, parse_query, Item};
use crate::{check_name, Manager};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde_json::{json, Value};
use sop_search::{DocId, SearchError, SearchOptions, TextIndex};
use std::sync::Arc;

type M = State<Arc<Manager>>;

/// The suffix of an index's configuration store.
const META: &str = ".text.meta";

/// Hits a query returns at most.
const MAX_HITS: usize = 100;

fn lift(e: SearchError) -> ApiError {
    match e {
        SearchError::Sop(e) => ApiError::from(e),
        e @ (SearchError::BadQuery { .. } | SearchError::UnknownField(_)) => {
            ApiError::bad_request(e.to_string())
        }
        e => ApiError::internal(e.to_string()),
    }
}

/// The text indexes of a database: their names, fields and document counts.
fn indexes_of(tx: &sop::Transaction, stores: &[String]) -> ApiResult<Vec<Value>> {
    let mut out = Vec::new();
    for s in stores {
        let Some(name) = s.strip_suffix(META) else {
            continue;
        };
        let Ok(index) = TextIndex::open(tx, name) else {
            continue;
        };
        let docs = index.stats(tx).map(|st| st.docs).unwrap_or(0);
        let fields: Vec<&str> = index
            .config()
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        out.push(json!({"name": name, "fields": fields, "docs": docs}));
    }
    Ok(out)
}

/// `GET /api/databases/{db}/indexes`: the database's text indexes.
pub(crate) async fn indexes(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path(db): Path<String>,
) -> ApiResult<Json<Value>> {
    who.require(Role::Reader)?;
    let handle = m.db(&db)?.db.clone();
    let list = crate::blocking(move || {
        let names: Vec<String> = handle
            .stats()?
            .stores
            .iter()
            .map(|s| s.info.name.clone())
            .collect();
        let tx = handle.begin(sop::TxMode::NoCheck)?;
        indexes_of(&tx, &names)
    })
    .await?;
    Ok(Json(Value::Array(list)))
}

/// `GET /api/databases/{db}/stores/{store}/search?q=&index=&k=&all=`: the best
/// `k` hits (default 20, at most 100) of query `q` in text index `index`,
/// each with its key, score, the store's item (if the key is in it) and a
/// snippet of the best-matching field with the matches marked as ranges.
pub(crate) async fn search(
    State(m): M,
    Extension(who): Extension<Caller>,
    Path((db, store)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    who.require(Role::Reader)?;
    check_name("store", &store)?;
    let q = parse_query(q.as_deref())?;
    let text = param(&q, "q")
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("search needs ?q=QUERY"))?
        .to_string();
    let index_name = param(&q, "index")
        .ok_or_else(|| {
            ApiError::bad_request(
                "search needs ?index=NAME (GET /api/databases/{db}/indexes lists them)",
            )
        })?
        .to_string();
    check_name("index", &index_name)?;
    let k = match param(&q, "k") {
        None => 20,
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_HITS).contains(n))
            .ok_or_else(|| ApiError::bad_request(format!("k is 1 to {MAX_HITS}")))?,
    };
    let all = crate::items::flag(&q, "all")?;
    let hits = m
        .read_tx(&db, move |tx| {
            let index = match TextIndex::open(tx, &index_name) {
                Err(SearchError::Sop(sop::Error::StoreNotFound(_))) => {
                    return Err(ApiError::new(
                        StatusCode::NOT_FOUND,
                        "not_found",
                        format!("no text index named {index_name:?}"),
                    ))
                }
                r => r.map_err(lift)?,
            };
            let opts = SearchOptions {
                k,
                default_and: all,
            };
            let hits = index.search(tx, &text, &opts).map_err(lift)?;
            let query = index.parse(&text, all).map_err(lift)?;
            let s = tx.open_json_store(&store)?;
            let mut out = Vec::with_capacity(hits.len());
            for h in &hits {
                let key = match &h.id {
                    DocId::Str(s) => sop::parse_json(s).unwrap_or_else(|_| json!(s)),
                    DocId::U64(u) => json!(u),
                    #[allow(unreachable_patterns)]
                    _ => Value::Null,
                };
                let mut hit = json!({"key": key, "score": h.score});
                let item = if key.is_null() { None } else { s.get_item(&key).ok().flatten() };
                if let Some((k, v)) = item {
                    // The field whose snippet has the most matches.
                    let best = index
                        .json_fields(&v)
                        .into_iter()
                        .map(|(f, t)| (f, index.snippet(&query, &t, 200)))
                        .max_by_key(|(_, s)| s.highlights.len());
                    if let Some((field, sn)) = best {
                        hit["snippet"] = json!({"field": field, "text": sn.fragment,
                            "highlights": sn.highlights.iter().map(|(a, b)| json!([a, b])).collect::<Vec<_>>()});
                    }
                    let item = Item::new(k, v);
                    hit["value"] = item.value;
                    hit["version"] = json!(item.version);
                    hit["in_store"] = json!(true);
                } else {
                    hit["in_store"] = json!(false);
                }
                out.push(hit);
            }
            Ok(out)
        })
        .await?;
    Ok(Json(json!({"hits": hits})))
}
