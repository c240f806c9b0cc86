//! Hybrid search: the BM25 hits of a [`TextIndex`] and the nearest vectors of a
//! [`VectorStore`] over the same ids, fused by reciprocal rank fusion, with an
//! optional [`PayloadFilter`] on the vector store's payloads.

use std::collections::HashMap;

use serde_json::Value;
use sop::Transaction;

use crate::codec::DocId;
use crate::error::Result;
use crate::filter::PayloadFilter;
use crate::fusion::reciprocal_rank_fusion;
use crate::index::{SearchOptions, TextIndex};
use crate::vector::VectorStore;

/// Settings of [`hybrid_search`].
#[derive(Clone, Debug)]
pub struct HybridOptions {
    /// How many fused hits.
    pub k: usize,
    /// How many hits each side contributes to the fusion (at least `k`).
    pub candidates: usize,
    /// Lists the vector side probes.
    pub nprobe: usize,
    /// The constant of reciprocal rank fusion (60, as Cormack et al.).
    pub rrf_k: f64,
    /// Unmarked query words are required (AND) instead of optional (OR).
    pub default_and: bool,
    /// Keep only ids whose payload in the vector store passes (text hits
    /// included: an id with no vector does not pass).
    pub filter: Option<PayloadFilter>,
}

impl Default for HybridOptions {
    fn default() -> Self {
        HybridOptions {
            k: 10,
            candidates: 50,
            nprobe: 8,
            rrf_k: 60.0,
            default_and: false,
            filter: None,
        }
    }
}

/// A fused hit: its fusion score, where it ranked in each list (from 1), and
/// its payload in the vector store (if it has a vector).
#[derive(Clone, Debug, PartialEq)]
pub struct HybridHit {
    pub id: DocId,
    pub score: f64,
    pub text_rank: Option<usize>,
    pub vector_rank: Option<usize>,
    pub payload: Option<Value>,
}

/// The best `opts.k` ids for the text `query` and the `vector` together: the
/// top `opts.candidates` of each side (after the filter) fused by reciprocal
/// rank. Either side may be left out (`None`).
pub fn hybrid_search(
    tx: &Transaction,
    text: Option<(&TextIndex, &str)>,
    vector: Option<(&VectorStore, &[f32])>,
    opts: &HybridOptions,
) -> Result<Vec<HybridHit>> {
    if opts.filter.is_some() && vector.is_none() {
        return Err(crate::SearchError::InvalidConfig(
            "a filter applies to the vector store's payloads: give a vector store".into(),
        ));
    }
    let want = opts.candidates.max(opts.k);
    let mut payloads: HashMap<DocId, Value> = HashMap::new();
    let mut text_ids = Vec::new();
    if let Some((index, q)) = text {
        let query = index.parse(q, opts.default_and)?;
        match (&opts.filter, vector) {
            (Some(f), Some((vs, _))) => {
                // Ask for more until `want` pass or the query has no more hits.
                let mut ask = want;
                loop {
                    let hits = index.search_query(tx, &query, ask)?;
                    text_ids.clear();
                    for h in &hits {
                        if let Some(p) = vs.payload(tx, &h.id)? {
                            if f.matches(&p) {
                                text_ids.push(h.id.clone());
                                payloads.insert(h.id.clone(), p);
                                if text_ids.len() == want {
                                    break;
                                }
                            }
                        }
                    }
                    if text_ids.len() == want || hits.len() < ask || ask >= want.saturating_mul(64)
                    {
                        break;
                    }
                    ask = ask.saturating_mul(4);
                }
            }
            _ => {
                let o = SearchOptions {
                    k: want,
                    default_and: opts.default_and,
                };
                text_ids = index.search(tx, q, &o)?.into_iter().map(|h| h.id).collect();
            }
        }
    }
    let mut vec_ids = Vec::new();
    if let Some((vs, v)) = vector {
        let f = opts.filter.as_ref();
        let pass = |p: &Value| f.is_none_or(|f| f.matches(p));
        for h in vs.search(tx, v, want, opts.nprobe, Some(&pass))? {
            vec_ids.push(h.id.clone());
            payloads.insert(h.id, h.payload);
        }
    }
    let rank = |l: &[DocId], id: &DocId| l.iter().position(|x| x == id).map(|i| i + 1);
    let fused = reciprocal_rank_fusion(&[text_ids.clone(), vec_ids.clone()], opts.rrf_k, opts.k);
    let mut out = Vec::with_capacity(fused.len());
    for (id, score) in fused {
        let payload = match (payloads.remove(&id), vector) {
            (Some(p), _) => Some(p),
            (None, Some((vs, _))) => vs.payload(tx, &id)?,
            (None, None) => None,
        };
        out.push(HybridHit {
            text_rank: rank(&text_ids, &id),
            vector_rank: rank(&vec_ids, &id),
            id,
            score,
            payload,
        });
    }
    Ok(out)
}
