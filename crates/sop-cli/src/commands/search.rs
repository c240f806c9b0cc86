//! `sop index create|build|drop|stats` and `sop search`: BM25 text indexes
//! (`sop-search`) over the JSON stores of a database.
//!
//! An index built from a store names each item by its key's compact JSON text
//! (the document id), so `sop search --store S` can show the items it found.
//! A write made later through another tool is not indexed by itself: run
//! `sop index build` again (it replaces what each key had indexed), or index
//! in the same transaction from Rust (`TextIndex::update_json`).

use crate::args::{Cli, IndexCmd};
use crate::output::{emit, failure, Usage};
use anyhow::Result;
use serde_json::{json, Value};
use sop::TxMode;
use sop_search::{
    DocId, IndexConfig, SearchError, SearchOptions, TextIndex, TokenizerConfig, ENGLISH_STOP_WORDS,
};

/// A search error as the CLI reports it: bad input exits 2.
fn lift<T>(r: sop_search::Result<T>) -> Result<T> {
    r.map_err(|e| match e {
        SearchError::Sop(e) => anyhow::Error::new(e),
        e @ (SearchError::BadQuery { .. }
        | SearchError::UnknownField(_)
        | SearchError::InvalidConfig(_)
        | SearchError::InvalidDocId(_)) => Usage(anyhow::anyhow!(e.to_string())).into(),
        e => failure("corrupt", e.to_string()),
    })
}

/// The index named `name`, or a clear error if there is none.
fn open_index(tx: &sop::Transaction, name: &str) -> Result<TextIndex> {
    match TextIndex::open(tx, name) {
        Err(SearchError::Sop(sop::Error::StoreNotFound(_))) => Err(failure(
            "not_found",
            format!("no text index named {name:?} (sop index create {name} --fields ...)"),
        )),
        r => lift(r),
    }
}

pub fn run(cli: &Cli, cmd: &IndexCmd) -> Result<()> {
    match cmd {
        IndexCmd::Create {
            name,
            fields,
            stem,
            stop_words,
            store,
        } => {
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
            let tx = db.begin(TxMode::ForWriting)?;
            lift(TextIndex::create(&tx, name, config))?;
            tx.commit()?;
            let built = match store {
                Some(s) => Some(build(&db, name, s, 1000)?),
                None => None,
            };
            emit(
                cli.json,
                match built {
                    Some(n) => format!(
                        "created text index {name} on {}; indexed {n} items of {}",
                        fields.join(","),
                        store.as_deref().unwrap_or("")
                    ),
                    None => format!("created text index {name} on {}", fields.join(",")),
                },
                json!({"index": name, "fields": fields, "indexed": built}),
            );
        }
        IndexCmd::Build { name, store, batch } => {
            let db = crate::db::open(cli, true)?;
            let n = build(&db, name, store, *batch)?;
            emit(
                cli.json,
                format!("indexed {n} items of {store} into {name}"),
                json!({"index": name, "store": store, "indexed": n}),
            );
        }
        IndexCmd::Drop { name } => {
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
        IndexCmd::Stats { name } => {
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

/// Index (or re-index) every item of JSON store `store` (a unique one: each
/// document is named by its key) into `name`, `batch` items per transaction;
/// returns how many.
fn build(db: &sop::Database, name: &str, store: &str, batch: usize) -> Result<u64> {
    let batch = batch.max(1);
    let mut after: Option<Value> = None;
    let mut n = 0u64;
    loop {
        // A page of items after the last key (a snapshot read), then one
        // transaction that indexes them.
        let page: Vec<(Value, Value)> = {
            let tx = db.begin(TxMode::NoCheck)?;
            let s = tx.open_json_store(store)?;
            if !s.info().options.unique {
                return Err(Usage(anyhow::anyhow!(
                    "store {store:?} allows duplicate keys: an index names each document by its \
                     key, so it indexes unique stores only (sop store create NAME --unique)"
                ))
                .into());
            }
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
            return Ok(n);
        }
        let tx = db.begin(TxMode::ForWriting)?;
        let index = open_index(&tx, name)?;
        for (k, v) in &page {
            lift(index.update_json(&tx, DocId::Str(k.to_string()), v))?;
        }
        tx.commit()?;
        n += page.len() as u64;
        after = page.last().map(|(k, _)| k.clone());
    }
}

/// `sop search INDEX QUERY`: the best hits, with the items when `store` is given.
pub fn search(
    cli: &Cli,
    name: &str,
    query: &str,
    k: usize,
    all: bool,
    store: Option<&str>,
) -> Result<()> {
    let db = crate::db::open(cli, false)?;
    let tx = db.begin(TxMode::NoCheck)?;
    let index = open_index(&tx, name)?;
    let opts = SearchOptions {
        k,
        default_and: all,
    };
    let hits = lift(index.search(&tx, query, &opts))?;
    let items = match store {
        Some(s) => Some(tx.open_json_store(s)?),
        None => None,
    };
    let mut out = Vec::with_capacity(hits.len());
    let mut lines = Vec::with_capacity(hits.len());
    for h in &hits {
        let id = match &h.id {
            DocId::Str(s) => serde_json::from_str::<Value>(s).unwrap_or_else(|_| json!(s)),
            DocId::U64(u) => json!(u),
        };
        let value = match &items {
            Some(s) => s.get(&id)?,
            None => None,
        };
        lines.push(match &value {
            Some(v) => format!("{:.4}\t{id}\t{v}", h.score),
            None => format!("{:.4}\t{id}", h.score),
        });
        let mut hit = json!({"id": id, "score": h.score});
        if let Some(v) = value {
            hit["value"] = v;
        }
        out.push(hit);
    }
    emit(cli.json, lines.join("\n"), json!({"hits": out}));
    Ok(())
}
