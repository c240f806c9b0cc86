//! `TextIndex`: the index stores, the write path (in the caller's transaction)
//! and BM25 search. The design, and why concurrent indexers merge, is in
//! docs/ARCHITECTURE.md §12; the bytes are in docs/FORMAT.md, "Text index".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use serde::{Deserialize, Serialize};
use sop::{RawStore, StoreOptions, Transaction};

use crate::codec::{self, DocEntry, DocId};
use crate::error::{Result, SearchError};
use crate::query::{self, Atom, Occur, Query};
use crate::tokenizer::{Tokenizer, TokenizerConfig};

/// Hash maps keyed by document keys in the query path: rustc's Fx hash (the
/// keys are our own encodings, short and chosen by the indexer; a
/// crafted flood of colliding ids would slow only queries).
pub(crate) type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<rustc_hash::FxHasher>>;

/// The key type the index's raw stores are created with (keys compare as bytes).
pub const KEY_TYPE: &str = "bytes";
/// The key of the configuration in the `.meta` store.
pub const CONFIG_KEY: &[u8] = b"config";
/// Most terms a prefix expands to; more is `SearchError::BadQuery`.
pub const MAX_PREFIX_TERMS: usize = 4096;

/// A field of the index and its boost (multiplies its scores).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldConfig {
    pub name: String,
    #[serde(default = "one")]
    pub boost: f64,
}

fn one() -> f64 {
    1.0
}

impl FieldConfig {
    pub fn new(name: &str) -> Self {
        FieldConfig {
            name: name.to_string(),
            boost: 1.0,
        }
    }
    pub fn boost(mut self, b: f64) -> Self {
        self.boost = b;
        self
    }
}

/// The configuration of an index, saved in its `.meta` store at creation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexConfig {
    pub fields: Vec<FieldConfig>,
    pub tokenizer: TokenizerConfig,
    /// BM25 term-frequency saturation (1.2 in Lucene and Tantivy).
    pub k1: f64,
    /// BM25 length normalization (0.75 in Lucene and Tantivy).
    pub b: f64,
}

impl IndexConfig {
    /// These fields, boost 1, the default tokenizer (words, lower-cased), k1 1.2, b 0.75.
    pub fn new(fields: &[&str]) -> Self {
        IndexConfig {
            fields: fields.iter().map(|f| FieldConfig::new(f)).collect(),
            tokenizer: TokenizerConfig::default(),
            k1: 1.2,
            b: 0.75,
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(SearchError::InvalidConfig(m));
        if self.fields.is_empty() {
            return bad("an index needs at least one field".into());
        }
        let mut seen = HashSet::new();
        for f in &self.fields {
            if f.name.is_empty() || f.name.contains('\0') || f.name.contains(':') {
                return bad(format!("field name {:?}: not empty, no NUL or ':'", f.name));
            }
            if f.name.chars().any(char::is_whitespace) {
                return bad(format!("field name {:?} has white space", f.name));
            }
            if !seen.insert(&f.name) {
                return bad(format!("field {:?} twice", f.name));
            }
            if !(f.boost.is_finite() && f.boost > 0.0) {
                return bad(format!("field {:?}: boost must be positive", f.name));
            }
        }
        if !(self.k1.is_finite() && self.k1 >= 0.0) {
            return bad("k1 must be >= 0".into());
        }
        if !(self.b.is_finite() && (0.0..=1.0).contains(&self.b)) {
            return bad("b must be in 0..=1".into());
        }
        if self.tokenizer.max_token_bytes == 0 {
            return bad("max_token_bytes must be > 0".into());
        }
        Ok(())
    }
}

/// Search settings.
#[derive(Clone, Debug)]
pub struct SearchOptions {
    /// How many hits (top-k).
    pub k: usize,
    /// Unmarked clauses are required (AND) instead of optional (OR, the default).
    pub default_and: bool,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            k: 10,
            default_and: false,
        }
    }
}

/// A hit: the document and its BM25 score.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    pub id: DocId,
    pub score: f64,
}

/// Collection statistics.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct IndexStats {
    /// Documents indexed.
    pub docs: u64,
    /// Per field (configuration order): total length in tokens.
    pub total_len: Vec<u64>,
    /// Statistics entries summed (one per batch since the last `compact_stats`).
    pub entries: u64,
}

/// What `verify` found.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub docs: u64,
    pub postings: u64,
    /// Empty if docs, postings and statistics agree.
    pub problems: Vec<String>,
}

/// A fragment of a text around the query's matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snippet {
    pub fragment: String,
    /// Byte ranges of matched words in `fragment`.
    pub highlights: Vec<(usize, usize)>,
}

impl Snippet {
    /// The fragment with every match wrapped in `pre` and `post` (e.g. `<b>`, `</b>`).
    pub fn marked(&self, pre: &str, post: &str) -> String {
        let mut out = String::with_capacity(self.fragment.len() + 8 * self.highlights.len());
        let mut at = 0;
        for &(s, e) in &self.highlights {
            out.push_str(&self.fragment[at..s]);
            out.push_str(pre);
            out.push_str(&self.fragment[s..e]);
            out.push_str(post);
            at = e;
        }
        out.push_str(&self.fragment[at..]);
        out
    }
}

/// A BM25 text index kept in five raw stores of the database: `NAME.text.meta`,
/// `NAME.text.postings`, `NAME.text.docs`, `NAME.text.stats`, `NAME.text.terms`. The handle holds
/// no transaction: pass the caller's to each call, so a document's data and its
/// index entries commit together or not at all.
#[derive(Clone, Debug)]
pub struct TextIndex {
    name: String,
    config: IndexConfig,
    tok: Tokenizer,
}

pub(crate) struct Stores<'t> {
    pub(crate) postings: RawStore<'t>,
    docs: RawStore<'t>,
    pub(crate) stats: RawStore<'t>,
    /// Document frequencies as deltas (None: an index made before this store
    /// existed, searched exhaustively).
    pub(crate) terms: Option<RawStore<'t>>,
}

fn store_name(index: &str, part: &str) -> String {
    format!("{index}.text.{part}")
}

impl TextIndex {
    /// Create the index's stores and save its configuration (in `tx`).
    pub fn create(tx: &Transaction, name: &str, config: IndexConfig) -> Result<TextIndex> {
        config.validate()?;
        let opts = StoreOptions::default();
        let meta = tx.create_raw_store(&store_name(name, "meta"), KEY_TYPE, opts.clone())?;
        for part in ["postings", "docs", "stats", "terms"] {
            tx.create_raw_store(&store_name(name, part), KEY_TYPE, opts.clone())?;
        }
        let json =
            serde_json::to_vec(&config).map_err(|e| SearchError::InvalidConfig(e.to_string()))?;
        meta.add(CONFIG_KEY, json)?;
        Ok(TextIndex::with(name, config))
    }

    /// Open an index created before (its configuration is read from the database).
    pub fn open(tx: &Transaction, name: &str) -> Result<TextIndex> {
        let meta = tx.open_raw_store(&store_name(name, "meta"))?;
        let json = meta.get(CONFIG_KEY)?.ok_or_else(|| SearchError::Corrupt {
            store: store_name(name, "meta"),
            detail: "no configuration".into(),
        })?;
        let config: IndexConfig =
            serde_json::from_slice(&json).map_err(|e| SearchError::Corrupt {
                store: store_name(name, "meta"),
                detail: e.to_string(),
            })?;
        config.validate()?;
        Ok(TextIndex::with(name, config))
    }

    /// Drop the index's stores (in `tx`).
    pub fn drop_index(tx: &Transaction, name: &str) -> Result<()> {
        for part in ["meta", "postings", "docs", "stats"] {
            tx.drop_store(&store_name(name, part))?;
        }
        match tx.drop_store(&store_name(name, "terms")) {
            Err(sop::Error::StoreNotFound(_)) => {}
            r => r?,
        }
        Ok(())
    }

    fn with(name: &str, config: IndexConfig) -> TextIndex {
        TextIndex {
            name: name.to_string(),
            tok: Tokenizer::new(config.tokenizer.clone()),
            config,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn config(&self) -> &IndexConfig {
        &self.config
    }
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tok
    }

    pub(crate) fn stores<'t>(&self, tx: &'t Transaction) -> Result<Stores<'t>> {
        let terms = match tx.open_raw_store(&store_name(&self.name, "terms")) {
            Ok(t) => Some(t),
            Err(sop::Error::StoreNotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        Ok(Stores {
            postings: tx.open_raw_store(&store_name(&self.name, "postings"))?,
            docs: tx.open_raw_store(&store_name(&self.name, "docs"))?,
            stats: tx.open_raw_store(&store_name(&self.name, "stats"))?,
            terms,
        })
    }

    /// A batch of index writes in `tx`: one statistics entry for all of them.
    pub fn batch<'i, 't>(&'i self, tx: &'t Transaction) -> Result<Batch<'i, 't>> {
        Ok(Batch {
            index: self,
            s: self.stores(tx)?,
            key: fresh_key(),
            docs_delta: 0,
            lens_delta: vec![0; self.config.fields.len()],
            df_delta: HashMap::new(),
            touched: Vec::new(),
        })
    }

    /// Index a new document; false (and nothing changes) if `id` is indexed already.
    pub fn add(
        &self,
        tx: &Transaction,
        id: impl Into<DocId>,
        fields: &[(&str, &str)],
    ) -> Result<bool> {
        Ok(!self.batch(tx)?.put(&id.into(), fields, false)?)
    }
    /// Index a document, replacing what was indexed under `id`; true if there was.
    pub fn update(
        &self,
        tx: &Transaction,
        id: impl Into<DocId>,
        fields: &[(&str, &str)],
    ) -> Result<bool> {
        self.batch(tx)?.put(&id.into(), fields, true)
    }
    /// Remove a document from the index; false if it was not indexed.
    pub fn remove(&self, tx: &Transaction, id: impl Into<DocId>) -> Result<bool> {
        self.batch(tx)?.remove(id.into())
    }
    /// The texts of a JSON document for this index's fields: for each field, the
    /// member of that name (or, for a name starting with `/`, the JSON pointer),
    /// if it is a string or an array of strings (joined with newlines); other
    /// values are skipped. What [`TextIndex::add_json`] indexes.
    pub fn json_fields(&self, doc: &serde_json::Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for f in &self.config.fields {
            let v = if f.name.starts_with('/') {
                doc.pointer(&f.name)
            } else {
                doc.get(&f.name)
            };
            match v {
                Some(serde_json::Value::String(s)) => out.push((f.name.clone(), s.clone())),
                Some(serde_json::Value::Array(a)) => {
                    let parts: Vec<&str> = a.iter().filter_map(|x| x.as_str()).collect();
                    if !parts.is_empty() {
                        out.push((f.name.clone(), parts.join("\n")));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// Index a JSON document (e.g. the value written to a JSON store in the same
    /// transaction) by its fields (see [`TextIndex::json_fields`]); as `add`.
    pub fn add_json(
        &self,
        tx: &Transaction,
        id: impl Into<DocId>,
        doc: &serde_json::Value,
    ) -> Result<bool> {
        let f = self.json_fields(doc);
        let fields: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        self.add(tx, id, &fields)
    }

    /// As [`TextIndex::update`], from a JSON document.
    pub fn update_json(
        &self,
        tx: &Transaction,
        id: impl Into<DocId>,
        doc: &serde_json::Value,
    ) -> Result<bool> {
        let f = self.json_fields(doc);
        let fields: Vec<(&str, &str)> = f.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        self.update(tx, id, &fields)
    }

    /// Whether `id` is indexed (reads its entry: a conflict if another transaction changes it).
    pub fn contains(&self, tx: &Transaction, id: impl Into<DocId>) -> Result<bool> {
        let key = id.into().encode()?;
        Ok(self.stores(tx)?.docs.contains(&key)?)
    }

    /// The collection statistics: the sum of every statistics entry. Reading them
    /// in a `ForWriting` transaction makes it conflict with every concurrent
    /// indexer: search in `NoCheck` (or `ForReading`) transactions.
    pub fn stats(&self, tx: &Transaction) -> Result<IndexStats> {
        let st = self.stores(tx)?.stats;
        self.stats_of(&st)
    }

    fn stats_of(&self, st: &RawStore<'_>) -> Result<IndexStats> {
        let nf = self.config.fields.len();
        let mut docs = 0i64;
        let mut lens = vec![0i64; nf];
        let mut entries = 0;
        let mut err = None;
        st.scan(
            Bound::Unbounded,
            Bound::Unbounded,
            false,
            |_, v| match codec::decode_stats(v, nf) {
                Ok((d, l)) => {
                    docs += d;
                    for (a, b) in lens.iter_mut().zip(l) {
                        *a += b;
                    }
                    entries += 1;
                    true
                }
                Err(e) => {
                    err = Some(e);
                    false
                }
            },
        )?;
        if let Some(e) = err {
            return Err(e);
        }
        if docs < 0 || lens.iter().any(|l| *l < 0) {
            return Err(SearchError::Corrupt {
                store: store_name(&self.name, "stats"),
                detail: format!("negative totals: {docs} documents, lengths {lens:?}"),
            });
        }
        Ok(IndexStats {
            docs: docs as u64,
            total_len: lens.into_iter().map(|l| l as u64).collect(),
            entries,
        })
    }

    /// Fold every statistics entry into one (they grow by one per batch). Reads
    /// them all: run it in its own `ForWriting` transaction, retried on conflict.
    /// Returns how many entries were folded.
    pub fn compact_stats(&self, tx: &Transaction) -> Result<u64> {
        let stores = self.stores(tx)?;
        if let Some(t) = &stores.terms {
            let sums = df_sums(t)?;
            let mut keys = Vec::new();
            t.scan(Bound::Unbounded, Bound::Unbounded, false, |k, _| {
                keys.push(k.to_vec());
                true
            })?;
            for k in &keys {
                t.remove(k)?;
            }
            let fresh = fresh_key();
            for (mut k, df) in sums {
                if df != 0 {
                    k.extend_from_slice(&fresh);
                    t.add(&k, df.to_be_bytes())?;
                }
            }
        }
        let st = stores.stats;
        let s = self.stats_of(&st)?;
        let mut keys = Vec::new();
        st.scan(Bound::Unbounded, Bound::Unbounded, false, |k, _| {
            keys.push(k.to_vec());
            true
        })?;
        for k in &keys {
            st.remove(k)?;
        }
        let lens: Vec<i64> = s.total_len.iter().map(|l| *l as i64).collect();
        st.add(&fresh_key(), codec::encode_stats(s.docs as i64, &lens))?;
        Ok(keys.len() as u64)
    }

    /// Parse a query (see [`crate::query`]).
    pub fn parse(&self, text: &str, default_and: bool) -> Result<Query> {
        let fields: Vec<&str> = self.config.fields.iter().map(|f| f.name.as_str()).collect();
        query::parse(text, &fields, &self.tok, default_and)
    }

    /// Parse and run a query: the top `opts.k` documents by BM25 score.
    pub fn search(&self, tx: &Transaction, text: &str, opts: &SearchOptions) -> Result<Vec<Hit>> {
        let q = self.parse(text, opts.default_and)?;
        self.search_query(tx, &q, opts.k)
    }

    /// Run a parsed query: the top `k` by score (ties by document id). Pruned
    /// (MaxScore, `maxscore.rs`): the same hits and scores as
    /// [`TextIndex::search_exhaustive`], without scoring every posting.
    pub fn search_query(&self, tx: &Transaction, q: &Query, k: usize) -> Result<Vec<Hit>> {
        let s = self.stores(tx)?;
        match &s.terms {
            Some(t) => crate::maxscore::search(self, &s, t, q, k),
            None => self.exhaustive(&s, q, k),
        }
    }

    /// Run a parsed query by scoring every posting of every clause: the
    /// reference the pruned [`TextIndex::search_query`] is tested against.
    pub fn search_exhaustive(&self, tx: &Transaction, q: &Query, k: usize) -> Result<Vec<Hit>> {
        let s = self.stores(tx)?;
        self.exhaustive(&s, q, k)
    }

    /// BM25 of field `fi` under these statistics.
    pub(crate) fn bm25(&self, stats: &IndexStats, fi: usize) -> Bm25 {
        let n = stats.docs as f64;
        let avg = if stats.docs == 0 {
            1.0
        } else {
            (stats.total_len[fi] as f64 / n).max(f64::MIN_POSITIVE)
        };
        Bm25 {
            k1: self.config.k1,
            b: self.config.b,
            n,
            avg,
        }
    }

    pub(crate) fn stats_in(&self, s: &Stores<'_>) -> Result<IndexStats> {
        self.stats_of(&s.stats)
    }

    /// The top `k` of (doc key, score), as hits.
    pub(crate) fn top(&self, mut hits: Vec<(Vec<u8>, f64)>, k: usize) -> Result<Vec<Hit>> {
        let cmp = |a: &(Vec<u8>, f64), b: &(Vec<u8>, f64)| {
            b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0))
        };
        if hits.len() > k && k > 0 {
            hits.select_nth_unstable_by(k - 1, cmp);
        }
        hits.truncate(k);
        hits.sort_by(cmp);
        hits.into_iter()
            .map(|(d, score)| {
                let id = DocId::decode(&d).ok_or_else(|| SearchError::Corrupt {
                    store: store_name(&self.name, "postings"),
                    detail: "bad document id in a posting key".into(),
                })?;
                Ok(Hit { id, score })
            })
            .collect()
    }

    /// Score of clause `c` (every field it names) for each document it matches,
    /// summed in field order (the order the pruned search sums in too).
    pub(crate) fn clause_scores(
        &self,
        s: &Stores<'_>,
        stats: &IndexStats,
        c: &crate::query::Clause,
    ) -> Result<FxMap<Vec<u8>, f64>> {
        let mut clause: FxMap<Vec<u8>, f64> = FxMap::default();
        for (fi, f) in self.config.fields.iter().enumerate() {
            if c.field.as_deref().is_some_and(|x| x != f.name) {
                continue;
            }
            let w = c.boost * f.boost;
            let bm = self.bm25(stats, fi);
            match &c.atom {
                Atom::Term(t) => {
                    let p = self.term_postings(&s.postings, &f.name, t)?;
                    let idf = bm.idf(p.len() as f64);
                    for (doc, len, tf) in p {
                        *clause.entry(doc).or_default() += w * idf * bm.tfn(tf as f64, len as f64);
                    }
                }
                Atom::Prefix(pre) => {
                    for (_, p) in self.prefix_postings(&s.postings, &f.name, pre)? {
                        let idf = bm.idf(p.len() as f64);
                        for (doc, len, tf) in p {
                            *clause.entry(doc).or_default() +=
                                w * idf * bm.tfn(tf as f64, len as f64);
                        }
                    }
                }
                Atom::Phrase(terms) => {
                    let (idf, m) = self.phrase_matches(&s.postings, &f.name, terms, &bm)?;
                    for (doc, len, tf) in m {
                        *clause.entry(doc).or_default() += w * idf * bm.tfn(tf as f64, len as f64);
                    }
                }
            }
        }
        Ok(clause)
    }

    fn exhaustive(&self, s: &Stores<'_>, q: &Query, k: usize) -> Result<Vec<Hit>> {
        let stats = self.stats_of(&s.stats)?;
        let mut acc: FxMap<Vec<u8>, (f64, u32, bool, bool)> = FxMap::default();
        let n_must = q.clauses.iter().filter(|c| c.occur == Occur::Must).count() as u32;
        for c in &q.clauses {
            let clause = self.clause_scores(s, &stats, c)?;
            for (doc, sc) in clause {
                let a = acc.entry(doc).or_default();
                match c.occur {
                    Occur::Must => {
                        a.0 += sc;
                        a.1 += 1;
                    }
                    Occur::Should => {
                        a.0 += sc;
                        a.2 = true;
                    }
                    Occur::MustNot => a.3 = true,
                }
            }
        }
        let hits: Vec<(Vec<u8>, f64)> = acc
            .into_iter()
            .filter(|(_, (_, m, sh, not))| !*not && *m == n_must && (n_must > 0 || *sh))
            .map(|(d, (sc, ..))| (d, sc))
            .collect();
        self.top(hits, k)
    }

    /// (doc key, field length, tf) of every posting of (field, term).
    pub(crate) fn term_postings(
        &self,
        p: &RawStore<'_>,
        field: &str,
        term: &str,
    ) -> Result<Vec<(Vec<u8>, u64, u32)>> {
        let mut out = Vec::new();
        scan_prefix(p, &codec::term_prefix(field, term), |doc, v| {
            let (len, tf) = codec::decode_len_tf(v)?;
            out.push((doc.to_vec(), len, tf));
            Ok(true)
        })?;
        Ok(out)
    }

    /// Per term starting with `prefix` (at most `MAX_PREFIX_TERMS`): its postings.
    #[allow(clippy::type_complexity)]
    pub(crate) fn prefix_postings(
        &self,
        p: &RawStore<'_>,
        field: &str,
        prefix: &str,
    ) -> Result<BTreeMap<String, Vec<(Vec<u8>, u64, u32)>>> {
        let mut pre = field.as_bytes().to_vec();
        pre.push(0);
        pre.extend_from_slice(prefix.as_bytes());
        let mut out: BTreeMap<String, Vec<(Vec<u8>, u64, u32)>> = BTreeMap::new();
        let mut last: Option<Vec<u8>> = None;
        scan_prefix(p, &pre, |rest, v| {
            let z = rest
                .iter()
                .position(|b| *b == 0)
                .ok_or_else(|| corrupt("postings", "a key without a term end"))?;
            if last.as_deref() != Some(&rest[..z]) {
                if out.len() == MAX_PREFIX_TERMS {
                    return Err(SearchError::BadQuery {
                        pos: 0,
                        msg: format!(
                            "prefix {prefix:?} matches more than {MAX_PREFIX_TERMS} terms"
                        ),
                    });
                }
                let term = format!("{prefix}{}", String::from_utf8_lossy(&rest[..z]));
                last = Some(rest[..z].to_vec());
                out.insert(term, Vec::new());
            }
            let (len, tf) = codec::decode_len_tf(v)?;
            if let Some((_, list)) = out.iter_mut().next_back() {
                list.push((rest[z + 1..].to_vec(), len, tf));
            }
            Ok(true)
        })?;
        Ok(out)
    }

    /// Documents where the phrase occurs: (idf sum, [(doc, field length, phrase frequency)]).
    #[allow(clippy::type_complexity)]
    fn phrase_matches(
        &self,
        p: &RawStore<'_>,
        field: &str,
        terms: &[(u32, String)],
        bm: &Bm25,
    ) -> Result<(f64, Vec<(Vec<u8>, u64, u32)>)> {
        let mut idf = 0.0;
        // Per term: doc -> (len, positions).
        let mut maps: Vec<HashMap<Vec<u8>, (u64, Vec<u32>)>> = Vec::new();
        for (_, t) in terms {
            let mut m = HashMap::new();
            scan_prefix(p, &codec::term_prefix(field, t), |doc, v| {
                let (len, _) = codec::decode_len_tf(v)?;
                m.insert(doc.to_vec(), (len, codec::decode_positions(v)?));
                Ok(true)
            })?;
            idf += bm.idf(m.len() as f64);
            maps.push(m);
        }
        let mut out = Vec::new();
        let Some((first, rest)) = maps.split_first() else {
            return Ok((idf, out));
        };
        for (doc, (len, pos0)) in first {
            let others: Option<Vec<&Vec<u32>>> =
                rest.iter().map(|m| m.get(doc).map(|(_, p)| p)).collect();
            let Some(others) = others else { continue };
            let freq = pos0
                .iter()
                .filter(|&&p| {
                    others
                        .iter()
                        .zip(&terms[1..])
                        .all(|(ps, (rel, _))| ps.binary_search(&(p + rel)).is_ok())
                })
                .count() as u32;
            if freq > 0 {
                out.push((doc.clone(), *len, freq));
            }
        }
        Ok((idf, out))
    }

    /// A fragment of `text` of at most about `max_bytes` around the most matches of
    /// `q`'s positive clauses, with the matched words' ranges.
    pub fn snippet(&self, q: &Query, text: &str, max_bytes: usize) -> Snippet {
        let mut terms = HashSet::new();
        let mut prefixes = Vec::new();
        for c in q.clauses.iter().filter(|c| c.occur != Occur::MustNot) {
            match &c.atom {
                Atom::Term(t) => {
                    terms.insert(t.as_str());
                }
                Atom::Phrase(ts) => terms.extend(ts.iter().map(|(_, t)| t.as_str())),
                Atom::Prefix(p) => prefixes.push(p.as_str()),
            }
        }
        let toks = self.tok.tokens(text);
        let lower = |s: &str| {
            if self.tok.config().lowercase {
                s.to_lowercase()
            } else {
                s.to_string()
            }
        };
        let hits: Vec<(usize, usize)> = toks
            .iter()
            .filter(|t| {
                terms.contains(t.term.as_str())
                    || prefixes
                        .iter()
                        .any(|p| lower(&text[t.start..t.end]).starts_with(p))
            })
            .map(|t| (t.start, t.end))
            .collect();
        // The window starting at a match that holds the most matches.
        let mut best = (0usize, 0usize);
        for (i, &(s, _)) in hits.iter().enumerate() {
            let n = hits[i..]
                .iter()
                .take_while(|h| h.1 <= s + max_bytes)
                .count();
            if n > best.1 {
                best = (i, n);
            }
        }
        let start = hits.get(best.0).map_or(0, |h| h.0);
        // Back up a little for context, to a word start.
        let ctx = max_bytes / 4;
        let mut ws = start.saturating_sub(ctx);
        if let Some(t) = toks.iter().find(|t| t.start >= ws) {
            ws = t.start.min(start);
        }
        let mut we = (ws + max_bytes).min(text.len());
        while !text.is_char_boundary(we) {
            we -= 1;
        }
        if we < text.len() {
            if let Some(t) = toks.iter().rev().find(|t| t.end <= we && t.start >= ws) {
                we = t.end;
            }
        }
        let highlights = hits
            .iter()
            .filter(|h| h.0 >= ws && h.1 <= we)
            .map(|h| (h.0 - ws, h.1 - ws))
            .collect();
        Snippet {
            fragment: text[ws..we].to_string(),
            highlights,
        }
    }

    /// Check that documents, postings and statistics agree (reads everything).
    pub fn verify(&self, tx: &Transaction) -> Result<VerifyReport> {
        let s = self.stores(tx)?;
        let mut rep = VerifyReport::default();
        let mut expect: HashMap<Vec<u8>, u64> = HashMap::new();
        let nf = self.config.fields.len();
        let mut lens = vec![0u64; nf];
        let mut err = None;
        s.docs
            .scan(Bound::Unbounded, Bound::Unbounded, false, |k, v| {
                match DocEntry::decode(v) {
                    Ok(e) if e.fields.len() == nf => {
                        rep.docs += 1;
                        for (fi, (len, terms)) in e.fields.iter().enumerate() {
                            lens[fi] += len;
                            for t in terms {
                                expect.insert(
                                    codec::posting_key(&self.config.fields[fi].name, t, k),
                                    *len,
                                );
                            }
                        }
                    }
                    Ok(_) => rep
                        .problems
                        .push(format!("doc {k:?}: wrong number of fields")),
                    Err(e) => err = Some(e),
                }
                err.is_none()
            })?;
        if let Some(e) = err {
            return Err(e);
        }
        let mut dfs: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
        s.postings
            .scan(Bound::Unbounded, Bound::Unbounded, false, |k, v| {
                rep.postings += 1;
                let mut zeros = k.iter().enumerate().filter(|(_, b)| **b == 0).map(|x| x.0);
                if let (Some(_), Some(z)) = (zeros.next(), zeros.next()) {
                    *dfs.entry(k[..=z].to_vec()).or_default() += 1;
                }
                match (expect.remove(k), codec::decode_len_tf(v)) {
                    (Some(len), Ok((l, tf))) if len == l && tf > 0 => {}
                    (Some(_), _) => rep.problems.push(format!("posting {k:?}: bad value")),
                    (None, _) => rep
                        .problems
                        .push(format!("posting {k:?}: no document lists it")),
                }
                true
            })?;
        for k in expect.keys() {
            rep.problems.push(format!("posting {k:?} missing"));
        }
        if let Some(t) = &s.terms {
            let mut got = df_sums(t)?;
            got.retain(|_, df| *df != 0);
            if got != dfs {
                let diff = dfs
                    .iter()
                    .find(|(k, v)| got.get(*k) != Some(v))
                    .map(|(k, v)| (k.clone(), *v, got.get(k).copied()))
                    .or_else(|| {
                        got.iter()
                            .find(|(k, _)| !dfs.contains_key(*k))
                            .map(|(k, v)| (k.clone(), 0, Some(*v)))
                    });
                rep.problems.push(format!(
                    "document frequencies disagree with the postings, e.g. (term key, postings, \
                     frequency): {diff:?}"
                ));
            }
        }
        let st = self.stats_of(&s.stats)?;
        if st.docs != rep.docs || st.total_len != lens {
            rep.problems.push(format!(
                "statistics say {} documents, lengths {:?}; the documents: {}, {:?}",
                st.docs, st.total_len, rep.docs, lens
            ));
        }
        Ok(rep)
    }
}

/// Call `f` with the rest of the key (after `prefix`) and the value of each
/// item of `st` whose key starts with `prefix`, in key order, until it returns
/// `Ok(false)` or an error (returned). The one posting scan of the crate.
pub(crate) fn scan_prefix(
    st: &RawStore<'_>,
    prefix: &[u8],
    mut f: impl FnMut(&[u8], &[u8]) -> Result<bool>,
) -> Result<()> {
    let end = codec::prefix_end(prefix);
    let mut err = None;
    st.scan(
        Bound::Included(prefix),
        end.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
        false,
        |k, v| match f(&k[prefix.len()..], v) {
            Ok(go) => go,
            Err(e) => {
                err = Some(e);
                false
            }
        },
    )?;
    err.map_or(Ok(()), Err)
}

/// The document frequency of (field, term): the sum of its deltas in `.terms`.
pub(crate) fn doc_freq(terms: &RawStore<'_>, field: &str, term: &str) -> Result<i64> {
    let mut df = 0i64;
    scan_prefix(terms, &codec::term_prefix(field, term), |rest, v| {
        df += decode_df(rest, v)?;
        Ok(true)
    })?;
    Ok(df)
}

/// Per `field 0 term 0` prefix: the sum of its `.terms` deltas (reads them all).
fn df_sums(t: &RawStore<'_>) -> Result<BTreeMap<Vec<u8>, i64>> {
    let mut sums: BTreeMap<Vec<u8>, i64> = BTreeMap::new();
    let mut err = None;
    t.scan(Bound::Unbounded, Bound::Unbounded, false, |k, v| {
        let Some(cut) = k.len().checked_sub(16) else {
            err = Some(corrupt("terms", "a key shorter than its batch key"));
            return false;
        };
        match decode_df(&k[cut..], v) {
            Ok(d) => *sums.entry(k[..cut].to_vec()).or_default() += d,
            Err(e) => err = Some(e),
        }
        err.is_none()
    })?;
    err.map_or(Ok(sums), Err)
}

/// A `.terms` entry's delta (its key's rest is the 16-byte batch key).
fn decode_df(rest: &[u8], v: &[u8]) -> Result<i64> {
    match (rest.len(), <[u8; 8]>::try_from(v)) {
        (16, Ok(b)) => Ok(i64::from_be_bytes(b)),
        _ => Err(corrupt(
            "terms",
            "a document frequency entry of the wrong size",
        )),
    }
}

fn corrupt(store: &str, detail: &str) -> SearchError {
    SearchError::Corrupt {
        store: store.into(),
        detail: detail.into(),
    }
}

pub(crate) struct Bm25 {
    k1: f64,
    b: f64,
    n: f64,
    avg: f64,
}

impl Bm25 {
    /// ln(1 + (N - df + 0.5) / (df + 0.5)), as Lucene and Tantivy.
    pub(crate) fn idf(&self, df: f64) -> f64 {
        (1.0 + (self.n - df + 0.5) / (df + 0.5)).ln()
    }
    pub(crate) fn tfn(&self, tf: f64, len: f64) -> f64 {
        tf * (self.k1 + 1.0) / (tf + self.k1 * (1.0 - self.b + self.b * len / self.avg))
    }
    /// The least upper bound of `tfn` over tf >= 1 and len >= tf (a field has at
    /// least as many tokens as any term's occurrences): `tfn(tf, tf)` grows with tf
    /// towards `(k1 + 1) / (1 + k1 * b / avg)`, and `tfn` falls as len grows.
    pub(crate) fn max_tfn(&self) -> f64 {
        (self.k1 + 1.0) / (1.0 + self.k1 * self.b / self.avg)
    }
}

/// A random 16-byte key no other writer knows (a batch's statistics entry).
fn fresh_key() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let a = h.finish() ^ fastrand::u64(..);
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&a.to_be_bytes());
    k[8..].copy_from_slice(&fastrand::u64(..).to_be_bytes());
    k
}

/// Index writes in one transaction sharing one statistics entry (written blind:
/// a fresh random key upserted after every change, never read by the writer).
pub struct Batch<'i, 't> {
    index: &'i TextIndex,
    s: Stores<'t>,
    key: [u8; 16],
    docs_delta: i64,
    lens_delta: Vec<i64>,
    /// Per (field, term): the change of its document frequency in this batch.
    df_delta: HashMap<(usize, String), i64>,
    /// The (field, term)s changed since the last flush.
    touched: Vec<(usize, String)>,
}

impl Batch<'_, '_> {
    /// As [`TextIndex::add`].
    pub fn add(&mut self, id: impl Into<DocId>, fields: &[(&str, &str)]) -> Result<bool> {
        Ok(!self.put(&id.into(), fields, false)?)
    }
    /// As [`TextIndex::update`].
    pub fn update(&mut self, id: impl Into<DocId>, fields: &[(&str, &str)]) -> Result<bool> {
        self.put(&id.into(), fields, true)
    }
    /// As [`TextIndex::remove`].
    pub fn remove(&mut self, id: impl Into<DocId>) -> Result<bool> {
        let key = id.into().encode()?;
        let Some(old) = self.s.docs.get(&key)? else {
            return Ok(false);
        };
        self.unindex(&key, &old)?;
        self.s.docs.remove(&key)?;
        self.flush()?;
        Ok(true)
    }

    /// Index `fields` under `id`; returns whether it was indexed before. If it was
    /// and `replace` is false, nothing changes.
    fn put(&mut self, id: &DocId, fields: &[(&str, &str)], replace: bool) -> Result<bool> {
        let cfg = &self.index.config;
        // Check everything before writing anything.
        let mut texts: Vec<Option<&str>> = vec![None; cfg.fields.len()];
        for (name, text) in fields {
            let fi = cfg
                .fields
                .iter()
                .position(|f| f.name == *name)
                .ok_or_else(|| SearchError::UnknownField(name.to_string()))?;
            if texts[fi].replace(text).is_some() {
                return Err(SearchError::InvalidConfig(format!(
                    "field {name:?} given twice"
                )));
            }
        }
        let key = id.encode()?;
        let old = self.s.docs.get(&key)?;
        if old.is_some() && !replace {
            return Ok(true);
        }
        if let Some(old) = &old {
            self.unindex(&key, old)?;
        }
        let mut entry = DocEntry::default();
        for (fi, text) in texts.iter().enumerate() {
            let toks = text.map(|t| self.index.tok.tokens(t)).unwrap_or_default();
            let len = toks.len() as u64;
            let mut terms: BTreeMap<String, Vec<u32>> = BTreeMap::new();
            for t in toks {
                terms.entry(t.term).or_default().push(t.position);
            }
            let fname = &cfg.fields[fi].name;
            for (t, pos) in &terms {
                self.s.postings.upsert(
                    &codec::posting_key(fname, t, &key),
                    codec::encode_posting(len, pos),
                )?;
                self.df(fi, t, 1);
            }
            self.lens_delta[fi] += len as i64;
            entry.fields.push((len, terms.into_keys().collect()));
        }
        self.s.docs.upsert(&key, entry.encode())?;
        self.docs_delta += 1;
        self.flush()?;
        Ok(old.is_some())
    }

    fn unindex(&mut self, key: &[u8], old: &[u8]) -> Result<()> {
        let e = DocEntry::decode(old)?;
        if e.fields.len() != self.index.config.fields.len() {
            return Err(corrupt("docs", "entry with the wrong number of fields"));
        }
        for (fi, (len, terms)) in e.fields.iter().enumerate() {
            let fname = &self.index.config.fields[fi].name;
            for t in terms {
                self.s.postings.remove(&codec::posting_key(fname, t, key))?;
                self.df(fi, t, -1);
            }
            self.lens_delta[fi] -= *len as i64;
        }
        self.docs_delta -= 1;
        Ok(())
    }

    fn df(&mut self, fi: usize, term: &str, d: i64) {
        if self.s.terms.is_none() {
            return;
        }
        let k = (fi, term.to_string());
        *self.df_delta.entry(k.clone()).or_default() += d;
        self.touched.push(k);
    }

    fn flush(&mut self) -> Result<()> {
        self.s.stats.upsert(
            &self.key,
            codec::encode_stats(self.docs_delta, &self.lens_delta),
        )?;
        if let Some(t) = &self.s.terms {
            self.touched.sort_unstable();
            self.touched.dedup();
            for (fi, term) in self.touched.drain(..) {
                let d = self.df_delta.get(&(fi, term.clone())).copied().unwrap_or(0);
                let mut key = codec::term_prefix(&self.index.config.fields[fi].name, &term);
                key.extend_from_slice(&self.key);
                t.upsert(&key, d.to_be_bytes())?;
            }
        }
        Ok(())
    }
}
