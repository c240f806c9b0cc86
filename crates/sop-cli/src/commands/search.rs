//! `sop index text|vector ...`, `sop search` and `sop vector search`: BM25 text
//! indexes and IVF vector indexes (`sop-search`) over the JSON stores of a database.
//!
//! An index of store S is named S (stores `S.text.*`, `S.vec.*`) and names each
//! item by its key's compact JSON text (the document id), so a search can show
//! the items it found. A write made later through another tool is not indexed
//! by itself: run `sop index text build S` / `sop index vector load S --field F`
//! again (each replaces what a key had indexed), or index in the same
//! transaction from Rust (`TextIndex::update_json`, `VectorStore::upsert`).

use std::io::BufRead;

use crate::args::{Cli, IndexCmd, TextIndexCmd, VectorCmd, VectorIndexCmd};
use crate::output::{emit, failure, Usage};
use anyhow::Result;
use serde_json::{json, Value};
use sop::TxMode;
use sop_search::{
    hybrid_search, DocId, HybridOptions, IndexConfig, PayloadFilter, SearchError, SearchOptions,
    TextIndex, TokenizerConfig, VectorConfig, VectorStore, ENGLISH_STOP_WORDS,
};

/// A search error as the CLI reports it: bad input exits 2.
fn lift<T>(r: sop_search::Result<T>) -> Result<T> {
    r.map_err(|e| match e {
        SearchError::Sop(e) => anyhow::Error::new(e),
        e @ (SearchError::BadQuery { .. }
        | SearchError::UnknownField(_)
        | SearchError::InvalidConfig(_)
        | SearchError::InvalidDocId(_)) => usage(e.to_string()),
        e => failure("corrupt", e.to_string()),
    })
}

fn usage(msg: impl Into<String>) -> anyhow::Error {
    Usage(anyhow::anyhow!(msg.into())).into()
}

/// The text index named `name`, or a clear error if there is none.
fn open_index(tx: &sop::Transaction, name: &str) -> Result<TextIndex> {
    match TextIndex::open(tx, name) {
        Err(SearchError::Sop(sop::Error::StoreNotFound(_))) => Err(failure(
            "not_found",
            format!("no text index named {name:?} (sop index text create {name} --field ...)"),
        )),
        r => lift(r),
    }
}

/// The vector index of `store`, or a clear error if there is none.
fn open_vectors(tx: &sop::Transaction, store: &str) -> Result<VectorStore> {
    match VectorStore::open(tx, store) {
        Err(SearchError::Sop(sop::Error::StoreNotFound(_))) => Err(failure(
            "not_found",
            format!("no vector index named {store:?} (sop index vector create {store} --dim D)"),
        )),
        r => lift(r),
    }
}

pub fn run(cli: &Cli, cmd: &IndexCmd) -> Result<()> {
    match cmd {
        IndexCmd::Text { cmd } => text(cli, cmd),
        IndexCmd::Vector { cmd } => vector_index(cli, cmd),
    }
}

fn text(cli: &Cli, cmd: &TextIndexCmd) -> Result<()> {
    match cmd {
        TextIndexCmd::Create {
            store,
            fields,
            stem,
            stop_words,
            name,
            empty,
        } => {
            let name = name.as_deref().unwrap_or(store);
            let mut config =
                IndexConfig::new(&fields.iter().map(String::as_str).collect::<Vec<_>>());
            config.tokenizer = TokenizerConfig {
                stem_english: *stem,
                stop_words: if *stop_words {
                    ENGLISH_STOP_WORDS.iter().map(|w| w.to_string()).collect()
                } else {
                    vec![]
                },
                ..TokenizerConfig::default()
            };
            let db = crate::db::open(cli, true)?;
            if !empty {
                // Refuse a store that cannot be indexed before creating anything.
                let tx = db.begin(TxMode::NoCheck)?;
                unique_store(&tx, store)?;
            }
            let tx = db.begin(TxMode::ForWriting)?;
            lift(TextIndex::create(&tx, name, config))?;
            tx.commit()?;
            let built = if *empty {
                None
            } else {
                Some(build(&db, name, store, 1000)?)
            };
            emit(
                cli.json,
                match built {
                    Some(n) => format!(
                        "created text index {name} on {}; indexed {n} items of {store}",
                        fields.join(",")
                    ),
                    None => format!("created text index {name} on {}", fields.join(",")),
                },
                json!({"index": name, "store": store, "fields": fields, "indexed": built}),
            );
        }
        TextIndexCmd::Build { store, name, batch } => {
            let name = name.as_deref().unwrap_or(store);
            let db = crate::db::open(cli, true)?;
            let n = build(&db, name, store, *batch)?;
            emit(
                cli.json,
                format!("indexed {n} items of {store} into {name}"),
                json!({"index": name, "store": store, "indexed": n}),
            );
        }
        TextIndexCmd::Drop { store, name } => {
            let name = name.as_deref().unwrap_or(store);
            let db = crate::db::open(cli, true)?;
            let tx = db.begin(TxMode::ForWriting)?;
            open_index(&tx, name)?;
            lift(TextIndex::drop_index(&tx, name))?;
            tx.commit()?;
            emit(
                cli.json,
                format!("dropped text index {name}"),
                json!({"dropped": name}),
            );
        }
        TextIndexCmd::Stats { store, name } => {
            let name = name.as_deref().unwrap_or(store);
            let db = crate::db::open(cli, false)?;
            let tx = db.begin(TxMode::NoCheck)?;
            let index = open_index(&tx, name)?;
            let st = lift(index.stats(&tx))?;
            let fields: Vec<&str> = index
                .config()
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .collect();
            emit(
                cli.json,
                format!("{name}: {} documents, fields {}", st.docs, fields.join(",")),
                json!({"index": name, "docs": st.docs, "fields": fields, "total_len": st.total_len}),
            );
        }
    }
    Ok(())
}

/// JSON store `store`, refused unless its keys are unique (items are named by key).
fn unique_store<'t>(tx: &'t sop::Transaction, store: &str) -> Result<sop::JsonStore<'t>> {
    let s = tx.open_json_store(store)?;
    if !s.info().options.unique {
        return Err(usage(format!(
            "store {store:?} allows duplicate keys: an index names each item by its key, so it \
             indexes unique stores only (sop store create NAME --unique)"
        )));
    }
    Ok(s)
}

/// Pages of `batch` items of JSON store `store` (each page read from its own
/// snapshot, after the last key of the one before), handed to `f` in turn.
fn pages(
    db: &sop::Database,
    store: &str,
    batch: usize,
    mut f: impl FnMut(&[(Value, Value)]) -> Result<()>,
) -> Result<()> {
    let batch = batch.max(1);
    let mut after: Option<Value> = None;
    loop {
        let page: Vec<(Value, Value)> = {
            let tx = db.begin(TxMode::NoCheck)?;
            let s = unique_store(&tx, store)?;
            let mut out = Vec::with_capacity(batch);
            for item in s.range(after.as_ref(), None, false)? {
                let (k, v) = item?;
                if after.as_ref() == Some(&k) {
                    continue;
                }
                out.push((k, v));
                if out.len() == batch {
                    break;
                }
            }
            out
        };
        if page.is_empty() {
            return Ok(());
        }
        f(&page)?;
        after = page.last().map(|(k, _)| k.clone());
    }
}

/// Index (or re-index) every item of JSON store `store` into text index `name`,
/// `batch` items per transaction; returns how many.
fn build(db: &sop::Database, name: &str, store: &str, batch: usize) -> Result<u64> {
    let mut n = 0u64;
    pages(db, store, batch, |page| {
        let tx = db.begin(TxMode::ForWriting)?;
        let index = open_index(&tx, name)?;
        let mut b = lift(index.batch(&tx))?;
        for (k, v) in page {
            let f = index.json_fields(v);
            let fields: Vec<(&str, &str)> =
                f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            lift(b.update(DocId::Str(k.to_string()), &fields))?;
        }
        drop(b);
        tx.commit()?;
        n += page.len() as u64;
        Ok(())
    })?;
    Ok(n)
}

/// A document id as the user sees it: the item's key (or the id as given).
fn shown_id(id: &DocId) -> Value {
    match id {
        DocId::Str(s) => serde_json::from_str::<Value>(s).unwrap_or_else(|_| json!(s)),
        DocId::U64(u) => json!(u),
    }
}

/// A vector given as JSON text.
fn parse_vector(text: &str) -> Result<Vec<f32>> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| usage(format!("--vector: not JSON ({e}): {text}")))?;
    vector_of(&v).ok_or_else(|| usage(format!("--vector: not an array of numbers: {text}")))
}

fn vector_of(v: &Value) -> Option<Vec<f32>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_f64().map(|f| f as f32))
        .collect()
}

fn parse_filter(text: Option<&str>) -> Result<Option<PayloadFilter>> {
    text.map(|t| lift(PayloadFilter::parse(t))).transpose()
}

/// `sop search STORE QUERY`: the best text hits (or, with a vector, hybrid hits),
/// with the items of STORE when it is a JSON store.
pub struct SearchArgs<'a> {
    pub store: &'a str,
    pub query: &'a str,
    pub k: usize,
    pub all: bool,
    pub index: Option<&'a str>,
    pub vector: Option<&'a str>,
    pub filter: Option<&'a str>,
    pub nprobe: usize,
}

/// A hit: id, score, payload, text rank, vector rank.
type Found = (DocId, f64, Option<Value>, Option<usize>, Option<usize>);

pub fn search(cli: &Cli, a: SearchArgs<'_>) -> Result<()> {
    let db = crate::db::open(cli, false)?;
    let tx = db.begin(TxMode::NoCheck)?;
    let index = open_index(&tx, a.index.unwrap_or(a.store))?;
    let hits: Vec<Found> = match a.vector {
        None => {
            let opts = SearchOptions {
                k: a.k,
                default_and: a.all,
            };
            lift(index.search(&tx, a.query, &opts))?
                .into_iter()
                .map(|h| (h.id, h.score, None, None, None))
                .collect()
        }
        Some(v) => {
            let v = parse_vector(v)?;
            let vs = open_vectors(&tx, a.store)?;
            let opts = HybridOptions {
                k: a.k,
                nprobe: a.nprobe,
                default_and: a.all,
                filter: parse_filter(a.filter)?,
                ..HybridOptions::default()
            };
            lift(hybrid_search(
                &tx,
                Some((&index, a.query)),
                Some((&vs, &v)),
                &opts,
            ))?
            .into_iter()
            .map(|h| (h.id, h.score, h.payload, h.text_rank, h.vector_rank))
            .collect()
        }
    };
    let items = match tx.open_json_store(a.store) {
        Ok(s) => Some(s),
        Err(sop::Error::StoreNotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let mut out = Vec::with_capacity(hits.len());
    let mut lines = Vec::with_capacity(hits.len());
    for (id, score, payload, tr, vr) in hits {
        let id = shown_id(&id);
        let value = match &items {
            Some(s) => s.get(&id)?,
            None => None,
        };
        lines.push(match &value {
            Some(v) => format!("{score:.4}\t{id}\t{v}"),
            None => format!("{score:.4}\t{id}"),
        });
        let mut hit = json!({"id": id, "score": score});
        if let Some(v) = value {
            hit["value"] = v;
        }
        if a.vector.is_some() {
            hit["text_rank"] = json!(tr);
            hit["vector_rank"] = json!(vr);
            hit["payload"] = json!(payload);
        }
        out.push(hit);
    }
    emit(cli.json, lines.join("\n"), json!({"hits": out}));
    Ok(())
}

/// `sop vector search STORE --vector JSON`.
pub fn vector(cli: &Cli, cmd: &VectorCmd) -> Result<()> {
    let VectorCmd::Search {
        store,
        vector,
        k,
        filter,
        nprobe,
    } = cmd;
    let v = parse_vector(vector)?;
    let filter = parse_filter(filter.as_deref())?;
    let db = crate::db::open(cli, false)?;
    let tx = db.begin(TxMode::NoCheck)?;
    let vs = open_vectors(&tx, store)?;
    let pass = |p: &Value| filter.as_ref().is_none_or(|f| f.matches(p));
    let hits = lift(vs.search(&tx, &v, *k, *nprobe, Some(&pass)))?;
    let mut lines = Vec::new();
    let mut out = Vec::new();
    for h in hits {
        let id = shown_id(&h.id);
        lines.push(format!("{:.4}\t{id}\t{}", h.score, h.payload));
        out.push(json!({"id": id, "score": h.score, "payload": h.payload}));
    }
    emit(cli.json, lines.join("\n"), json!({"hits": out}));
    Ok(())
}

fn vector_index(cli: &Cli, cmd: &VectorIndexCmd) -> Result<()> {
    match cmd {
        VectorIndexCmd::Create {
            store,
            dim,
            metric,
            field,
            quantize,
        } => {
            let db = crate::db::open(cli, true)?;
            let mut config = VectorConfig::new(*dim, *metric);
            config.quantize = *quantize;
            if field.is_some() {
                let tx = db.begin(TxMode::NoCheck)?;
                unique_store(&tx, store)?;
            }
            let tx = db.begin(TxMode::ForWriting)?;
            lift(VectorStore::create(&tx, store, config))?;
            tx.commit()?;
            let loaded = match field {
                Some(f) => Some(load_field(&db, store, f, 1000)?),
                None => None,
            };
            let lists = match loaded {
                Some(n) if n > 0 => Some(cluster(&db, store, None, 10)?),
                _ => None,
            };
            emit(
                cli.json,
                match loaded {
                    Some(n) => format!(
                        "created vector index {store} ({dim} dimensions, {metric:?}); loaded {n} \
                         vectors of {store}, {} lists",
                        lists.unwrap_or(0)
                    ),
                    None => format!("created vector index {store} ({dim} dimensions, {metric:?})"),
                },
                json!({"index": store, "dim": dim, "metric": format!("{metric:?}").to_lowercase(),
                       "loaded": loaded, "lists": lists}),
            );
        }
        VectorIndexCmd::Load {
            store,
            field,
            file,
            batch,
            no_build,
        } => {
            let db = crate::db::open(cli, true)?;
            let n = match (field, file) {
                (Some(f), _) => load_field(&db, store, f, *batch)?,
                (None, Some(p)) => load_lines(&db, store, p, *batch)?,
                (None, None) => return Err(usage("give --field FIELD or --file PATH")),
            };
            let lists = if *no_build || n == 0 {
                None
            } else {
                Some(cluster(&db, store, None, 10)?)
            };
            emit(
                cli.json,
                format!("loaded {n} vectors into {store}"),
                json!({"index": store, "loaded": n, "lists": lists}),
            );
        }
        VectorIndexCmd::Build {
            store,
            nlist,
            iters,
        } => {
            let db = crate::db::open(cli, true)?;
            let lists = cluster(&db, store, *nlist, *iters)?;
            emit(
                cli.json,
                format!("clustered {store} into {lists} lists"),
                json!({"index": store, "lists": lists}),
            );
        }
        VectorIndexCmd::Stats { store } => {
            let db = crate::db::open(cli, false)?;
            let tx = db.begin(TxMode::NoCheck)?;
            let vs = open_vectors(&tx, store)?;
            let n = lift(vs.len(&tx))?;
            let lists = lift(vs.lists(&tx))?;
            let c = vs.config();
            emit(
                cli.json,
                format!(
                    "{store}: {n} vectors, {} dimensions, {:?}, {lists} lists",
                    c.dim, c.metric
                ),
                json!({"index": store, "vectors": n, "dim": c.dim,
                       "metric": format!("{:?}", c.metric).to_lowercase(), "lists": lists}),
            );
        }
        VectorIndexCmd::Drop { store } => {
            let db = crate::db::open(cli, true)?;
            let tx = db.begin(TxMode::ForWriting)?;
            open_vectors(&tx, store)?;
            lift(VectorStore::drop_store(&tx, store))?;
            tx.commit()?;
            emit(
                cli.json,
                format!("dropped vector index {store}"),
                json!({"dropped": store}),
            );
        }
    }
    Ok(())
}

/// Run k-means over the vectors of `store` (`nlist` lists, default the square
/// root of their number); returns the number of lists.
fn cluster(db: &sop::Database, store: &str, nlist: Option<usize>, iters: usize) -> Result<u64> {
    let tx = db.begin(TxMode::ForWriting)?;
    let vs = open_vectors(&tx, store)?;
    let n = lift(vs.len(&tx))?;
    let nlist = nlist.unwrap_or((n as f64).sqrt().ceil() as usize).max(1);
    lift(vs.rebuild(&tx, nlist, iters, 26))?;
    let lists = lift(vs.lists(&tx))?;
    tx.commit()?;
    Ok(lists)
}

/// The vector of an item (at `field`: a member or a JSON pointer) and the item
/// without it (the payload); None if the item has no such member.
fn split_item(v: &Value, field: &str) -> Option<(Value, Value)> {
    let mut payload = v.clone();
    let vec = if let Some(ptr) = field.strip_prefix('/') {
        let (parent, last) = match ptr.rsplit_once('/') {
            Some((p, l)) => (format!("/{p}"), l),
            None => (String::new(), ptr),
        };
        let last = last.replace("~1", "/").replace("~0", "~");
        payload
            .pointer_mut(&parent)?
            .as_object_mut()?
            .remove(&last)?
    } else {
        payload.as_object_mut()?.remove(field)?
    };
    Some((vec, payload))
}

/// Upsert the vector of every item of JSON store `store` that has `field`
/// (checked first, all of them: bad input changes nothing); returns how many.
fn load_field(db: &sop::Database, store: &str, field: &str, batch: usize) -> Result<u64> {
    let dim = {
        let tx = db.begin(TxMode::NoCheck)?;
        open_vectors(&tx, store)?.config().dim
    };
    pages(db, store, batch, |page| {
        for (k, v) in page {
            if let Some((vec, _)) = split_item(v, field) {
                match vector_of(&vec) {
                    Some(x) if x.len() == dim => {}
                    _ => {
                        return Err(usage(format!(
                            "item {k}: {field} is not an array of {dim} numbers"
                        )))
                    }
                }
            }
        }
        Ok(())
    })?;
    let mut n = 0;
    pages(db, store, batch, |page| {
        let tx = db.begin(TxMode::ForWriting)?;
        let vs = open_vectors(&tx, store)?;
        for (k, v) in page {
            if let Some((vec, payload)) = split_item(v, field) {
                let vec = vector_of(&vec).unwrap_or_default();
                lift(vs.upsert(&tx, DocId::Str(k.to_string()), &vec, &payload))?;
                n += 1;
            }
        }
        tx.commit()?;
        Ok(())
    })?;
    Ok(n)
}

/// One line of a JSON lines file: (id, vector, payload).
fn parse_line(line: &str, at: usize, dim: usize) -> Result<(DocId, Vec<f32>, Value)> {
    let v: Value =
        serde_json::from_str(line).map_err(|e| usage(format!("line {at}: not JSON: {e}")))?;
    let id = v
        .get("id")
        .filter(|i| !i.is_null())
        .ok_or_else(|| usage(format!("line {at}: no \"id\"")))?;
    let vec = v
        .get("vector")
        .and_then(vector_of)
        .filter(|x| x.len() == dim)
        .ok_or_else(|| {
            usage(format!(
                "line {at}: \"vector\" is not an array of {dim} numbers"
            ))
        })?;
    let payload = v.get("payload").cloned().unwrap_or(json!({}));
    Ok((DocId::Str(id.to_string()), vec, payload))
}

/// Upsert the vectors of a JSON lines file (`-`: standard input), checked
/// first, all of them; returns how many.
fn load_lines(
    db: &sop::Database,
    store: &str,
    path: &std::path::Path,
    batch: usize,
) -> Result<u64> {
    let dim = {
        let tx = db.begin(TxMode::NoCheck)?;
        open_vectors(&tx, store)?.config().dim
    };
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|e| usage(format!("{}: {e}", path.display())))?
    };
    let mut items = Vec::new();
    for (i, line) in text.as_bytes().lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        items.push(parse_line(&line, i + 1, dim)?);
    }
    for chunk in items.chunks(batch.max(1)) {
        let tx = db.begin(TxMode::ForWriting)?;
        let vs = open_vectors(&tx, store)?;
        for (id, v, p) in chunk {
            lift(vs.upsert(&tx, id, v, p))?;
        }
        tx.commit()?;
    }
    Ok(items.len() as u64)
}
