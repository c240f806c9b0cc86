//! `VectorStore`: vectors with JSON payloads, searched by an IVF index kept in
//! B-tree stores (docs/ARCHITECTURE.md §12, "Vectors").
//!
//! Stores (raw, key type `"bytes"`): `NAME.vec.meta` (`config`: JSON),
//! `NAME.vec.centroids` (u32 BE list number → f32 LE vector), `NAME.vec.lists`
//! (u32 BE list number + doc key → f32 LE vector + payload JSON), `NAME.vec.items`
//! (doc key → u32 BE list number). List `u32::MAX` holds vectors added before the
//! first `rebuild` (searched always). Writers of different ids write different
//! keys, so they merge in flight; every writer reads the centroids, so a
//! `rebuild` conflicts with the writers that overlap it (and they retry).

use std::ops::Bound;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sop::{RawStore, StoreOptions, Transaction};

use crate::codec::DocId;
use crate::error::{Result, SearchError};

/// How vectors are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Metric {
    /// Cosine similarity (vectors are normalized when stored and queried).
    Cosine,
    /// Inner product (larger is closer).
    Dot,
    /// Euclidean distance (smaller is closer; the score is its negation).
    L2,
}

/// The configuration saved with a vector store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VectorConfig {
    pub dim: usize,
    pub metric: Metric,
    /// Keep an 8-bit code per dimension of each vector (scalar quantization,
    /// trained by `rebuild`) and search the codes, re-ranking the best
    /// `rerank` × k candidates by their exact vectors (unfiltered searches).
    #[serde(default)]
    pub quantize: bool,
    /// Candidates re-ranked per hit wanted when quantized (0: 4).
    #[serde(default)]
    pub rerank: usize,
}

impl VectorConfig {
    /// `dim` dimensions compared by `metric`, not quantized.
    pub fn new(dim: usize, metric: Metric) -> Self {
        VectorConfig {
            dim,
            metric,
            quantize: false,
            rerank: 0,
        }
    }
    /// The same, quantized to 8 bits per dimension.
    pub fn quantized(mut self) -> Self {
        self.quantize = true;
        self
    }
}

/// A hit: the id, its score (higher is closer; for L2, minus the distance) and payload.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorHit {
    pub id: DocId,
    pub score: f64,
    pub payload: serde_json::Value,
}

const UNASSIGNED: u32 = u32::MAX;

type Entry = (u32, Vec<u8>, Vec<f32>, Vec<u8>);

/// A vector store with an IVF index. Holds no transaction: pass the caller's.
#[derive(Clone, Debug)]
pub struct VectorStore {
    name: String,
    config: VectorConfig,
    /// The centroids decoded, with the version they belong to.
    cache: Arc<Mutex<Option<CachedCentroids>>>,
}

type Centroids = Arc<Vec<(u32, Vec<f32>)>>;
/// (version, centroids, quantizer).
type CachedCentroids = (Vec<u8>, Centroids, Option<Arc<Sq8>>);

/// The key in `.meta` of the scalar quantizer (per dimension: min, step; f32 LE).
pub const SQ8_KEY: &[u8] = b"sq8";

/// Per dimension: code c stands for `min + c * step`.
#[derive(Debug)]
struct Sq8 {
    min: Vec<f32>,
    step: Vec<f32>,
}

impl Sq8 {
    fn train<'a>(dim: usize, vs: impl Iterator<Item = &'a [f32]>) -> Option<Sq8> {
        let mut lo = vec![f32::INFINITY; dim];
        let mut hi = vec![f32::NEG_INFINITY; dim];
        let mut any = false;
        for v in vs {
            any = true;
            for d in 0..dim {
                lo[d] = lo[d].min(v[d]);
                hi[d] = hi[d].max(v[d]);
            }
        }
        any.then(|| Sq8 {
            step: lo.iter().zip(&hi).map(|(l, h)| (h - l) / 255.0).collect(),
            min: lo,
        })
    }
    fn encode(&self, v: &[f32]) -> Vec<u8> {
        v.iter()
            .zip(self.min.iter().zip(&self.step))
            .map(|(x, (m, s))| {
                if *s > 0.0 {
                    ((x - m) / s).round().clamp(0.0, 255.0) as u8
                } else {
                    0
                }
            })
            .collect()
    }
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.min.len() * 8);
        enc_vec(&self.min, &mut out);
        enc_vec(&self.step, &mut out);
        out
    }
    fn from_bytes(b: &[u8], dim: usize) -> Result<Sq8> {
        if b.len() != dim * 8 {
            return Err(corrupt("quantizer of the wrong size"));
        }
        Ok(Sq8 {
            min: dec_vec(&b[..dim * 4], dim)?,
            step: dec_vec(&b[dim * 4..], dim)?,
        })
    }
}

/// The key in `.meta` of the centroids' version: random bytes `rebuild` writes
/// with the centroids, so a handle may reuse centroids it decoded while the
/// version it reads is the same (reading it is what makes a writer conflict
/// with a concurrent rebuild).
pub const CENTROIDS_VERSION_KEY: &[u8] = b"centroids";

struct VStores<'t> {
    meta: RawStore<'t>,
    centroids: RawStore<'t>,
    lists: RawStore<'t>,
    items: RawStore<'t>,
    /// `L | doc` → the vector's codes (quantized stores only).
    codes: Option<RawStore<'t>>,
}

fn sname(n: &str, part: &str) -> String {
    format!("{n}.vec.{part}")
}

fn corrupt(detail: &str) -> SearchError {
    SearchError::Corrupt {
        store: "vector".into(),
        detail: detail.into(),
    }
}

fn enc_vec(v: &[f32], out: &mut Vec<u8>) {
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn dec_vec(b: &[u8], dim: usize) -> Result<Vec<f32>> {
    if b.len() < dim * 4 {
        return Err(corrupt("vector too short"));
    }
    Ok(b[..dim * 4]
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

fn list_key(list: u32, doc: &[u8]) -> Vec<u8> {
    let mut k = list.to_be_bytes().to_vec();
    k.extend_from_slice(doc);
    k
}

impl VectorStore {
    /// Create the store (in `tx`).
    pub fn create(tx: &Transaction, name: &str, config: VectorConfig) -> Result<VectorStore> {
        if config.dim == 0 || config.dim > 65536 {
            return Err(SearchError::InvalidConfig("dim must be 1..=65536".into()));
        }
        if config.rerank > 1024 {
            return Err(SearchError::InvalidConfig("rerank must be 0..=1024".into()));
        }
        let o = StoreOptions::default();
        let meta = tx.create_raw_store(&sname(name, "meta"), crate::KEY_TYPE, o.clone())?;
        for p in ["centroids", "items"] {
            tx.create_raw_store(&sname(name, p), crate::KEY_TYPE, o.clone())?;
        }
        // Vectors (4 bytes a dimension) are over the 256 bytes `Auto` keeps in
        // the leaf: kept inline, a list's scan reads its leaves and nothing else.
        let inline = StoreOptions {
            values: sop::ValuePlacement::Inline,
            ..o.clone()
        };
        tx.create_raw_store(&sname(name, "lists"), crate::KEY_TYPE, inline)?;
        if config.quantize {
            tx.create_raw_store(&sname(name, "codes"), crate::KEY_TYPE, o.clone())?;
        }
        let json =
            serde_json::to_vec(&config).map_err(|e| SearchError::InvalidConfig(e.to_string()))?;
        meta.add(crate::CONFIG_KEY, json)?;
        Ok(VectorStore {
            name: name.into(),
            config,
            cache: Default::default(),
        })
    }

    /// Open a store created before.
    pub fn open(tx: &Transaction, name: &str) -> Result<VectorStore> {
        let meta = tx.open_raw_store(&sname(name, "meta"))?;
        let json = meta
            .get(crate::CONFIG_KEY)?
            .ok_or_else(|| corrupt("no configuration"))?;
        let config = serde_json::from_slice(&json).map_err(|e| corrupt(&e.to_string()))?;
        Ok(VectorStore {
            name: name.into(),
            config,
            cache: Default::default(),
        })
    }

    pub fn config(&self) -> &VectorConfig {
        &self.config
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drop a vector store's stores (in `tx`).
    pub fn drop_store(tx: &Transaction, name: &str) -> Result<()> {
        for p in ["meta", "centroids", "lists", "items"] {
            tx.drop_store(&sname(name, p))?;
        }
        match tx.drop_store(&sname(name, "codes")) {
            Err(sop::Error::StoreNotFound(_)) => {}
            r => r?,
        }
        Ok(())
    }

    /// How many lists (centroids) the last `rebuild` made; 0 before the first.
    pub fn lists(&self, tx: &Transaction) -> Result<u64> {
        Ok(self.stores(tx)?.centroids.count()?)
    }

    /// The payload stored with `id`, if it has a vector.
    pub fn payload(
        &self,
        tx: &Transaction,
        id: impl Into<DocId>,
    ) -> Result<Option<serde_json::Value>> {
        let key = id.into().encode()?;
        let s = self.stores(tx)?;
        let Some(l) = s.items.get(&key)? else {
            return Ok(None);
        };
        let l = u32::from_be_bytes(l.as_ref().try_into().map_err(|_| corrupt("bad item"))?);
        let dim = self.config.dim;
        let got = s.lists.get_with(&list_key(l, &key), |v| {
            v.get(dim * 4..)
                .ok_or_else(|| corrupt("vector too short"))
                .and_then(|p| serde_json::from_slice(p).map_err(|e| corrupt(&e.to_string())))
        })?;
        match got {
            Some(p) => Ok(Some(p?)),
            None => Err(corrupt("an item names a list entry that is missing")),
        }
    }

    fn stores<'t>(&self, tx: &'t Transaction) -> Result<VStores<'t>> {
        Ok(VStores {
            meta: tx.open_raw_store(&sname(&self.name, "meta"))?,
            centroids: tx.open_raw_store(&sname(&self.name, "centroids"))?,
            lists: tx.open_raw_store(&sname(&self.name, "lists"))?,
            items: tx.open_raw_store(&sname(&self.name, "items"))?,
            codes: if self.config.quantize {
                Some(tx.open_raw_store(&sname(&self.name, "codes"))?)
            } else {
                None
            },
        })
    }

    fn prepare(&self, v: &[f32]) -> Result<Vec<f32>> {
        if v.len() != self.config.dim {
            return Err(SearchError::InvalidConfig(format!(
                "vector of {} dimensions, the store has {}",
                v.len(),
                self.config.dim
            )));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(SearchError::InvalidConfig(
                "vector with a NaN or infinity".into(),
            ));
        }
        let mut v = v.to_vec();
        if self.config.metric == Metric::Cosine {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if n == 0.0 {
                return Err(SearchError::InvalidConfig(
                    "zero vector under cosine".into(),
                ));
            }
            v.iter_mut().for_each(|x| *x /= n);
        }
        Ok(v)
    }

    /// Higher is closer.
    fn score(&self, a: &[f32], b: &[f32]) -> f64 {
        match self.config.metric {
            Metric::Cosine | Metric::Dot => a
                .iter()
                .zip(b)
                .map(|(x, y)| (*x as f64) * (*y as f64))
                .sum(),
            Metric::L2 => -a
                .iter()
                .zip(b)
                .map(|(x, y)| ((*x - *y) as f64).powi(2))
                .sum::<f64>()
                .sqrt(),
        }
    }

    /// The centroids and the quantizer: decoded again only when their version changed.
    fn centroids(&self, s: &VStores<'_>) -> Result<(Centroids, Option<Arc<Sq8>>)> {
        let version = s
            .meta
            .get(CENTROIDS_VERSION_KEY)?
            .map(|v| v.to_vec())
            .unwrap_or_default();
        if let Some((v, c, q)) = &*self.cache.lock().unwrap_or_else(|e| e.into_inner()) {
            if *v == version {
                return Ok((c.clone(), q.clone()));
            }
        }
        let c = Arc::new(self.read_centroids(s)?);
        let q = match (&s.codes, s.meta.get(SQ8_KEY)?) {
            (Some(_), Some(b)) => Some(Arc::new(Sq8::from_bytes(&b, self.config.dim)?)),
            _ => None,
        };
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((version, c.clone(), q.clone()));
        Ok((c, q))
    }

    fn read_centroids(&self, s: &VStores<'_>) -> Result<Vec<(u32, Vec<f32>)>> {
        let mut out = Vec::new();
        let mut err = None;
        s.centroids
            .scan(Bound::Unbounded, Bound::Unbounded, false, |k, v| {
                match (
                    k.try_into().map(u32::from_be_bytes),
                    dec_vec(v, self.config.dim),
                ) {
                    (Ok(c), Ok(v)) => out.push((c, v)),
                    _ => err = Some(corrupt("bad centroid")),
                }
                err.is_none()
            })?;
        err.map_or(Ok(out), Err)
    }

    /// Insert or replace a vector and its payload (in `tx`); true if it replaced one.
    pub fn upsert(
        &self,
        tx: &Transaction,
        id: impl Into<DocId>,
        vector: &[f32],
        payload: &serde_json::Value,
    ) -> Result<bool> {
        let v = self.prepare(vector)?;
        let key = id.into().encode()?;
        let s = self.stores(tx)?;
        let existed = self.unlink(&s, &key)?;
        let (cents, sq8) = self.centroids(&s)?;
        let list = nearest_l2(&cents, &v);
        if let (Some(c), Some(q)) = (&s.codes, &sq8) {
            c.upsert(&list_key(list, &key), q.encode(&v))?;
        }
        let mut val = Vec::with_capacity(v.len() * 4 + 16);
        enc_vec(&v, &mut val);
        val.extend_from_slice(payload.to_string().as_bytes());
        s.lists.upsert(&list_key(list, &key), val)?;
        s.items.upsert(&key, list.to_be_bytes())?;
        Ok(existed)
    }

    fn unlink(&self, s: &VStores<'_>, key: &[u8]) -> Result<bool> {
        let Some(old) = s.items.get(key)? else {
            return Ok(false);
        };
        let l = u32::from_be_bytes(old.as_ref().try_into().map_err(|_| corrupt("bad item"))?);
        s.lists.remove(&list_key(l, key))?;
        if let Some(c) = &s.codes {
            c.remove(&list_key(l, key))?;
        }
        Ok(true)
    }

    /// Remove a vector (in `tx`); false if there was none.
    pub fn delete(&self, tx: &Transaction, id: impl Into<DocId>) -> Result<bool> {
        let key = id.into().encode()?;
        let s = self.stores(tx)?;
        let existed = self.unlink(&s, &key)?;
        if existed {
            s.items.remove(&key)?;
        }
        Ok(existed)
    }

    /// How many vectors the store holds. In a `ForWriting` transaction this reads
    /// the count, so it conflicts with any concurrent upsert or delete.
    pub fn len(&self, tx: &Transaction) -> Result<u64> {
        Ok(self.stores(tx)?.items.count()?)
    }

    /// Whether it holds none.
    pub fn is_empty(&self, tx: &Transaction) -> Result<bool> {
        Ok(self.len(tx)? == 0)
    }

    fn scan_list(
        &self,
        s: &VStores<'_>,
        list: u32,
        mut f: impl FnMut(&[u8], Vec<f32>, &[u8]),
    ) -> Result<()> {
        let lo = list.to_be_bytes();
        let hi = (list as u64 + 1).to_be_bytes();
        let hi_b = if list == u32::MAX {
            Bound::Unbounded
        } else {
            Bound::Excluded(&hi[4..])
        };
        let mut err = None;
        s.lists
            .scan(Bound::Included(&lo[..]), hi_b, false, |k, v| {
                match dec_vec(v, self.config.dim) {
                    Ok(vec) => f(&k[4..], vec, &v[self.config.dim * 4..]),
                    Err(e) => err = Some(e),
                }
                err.is_none()
            })?;
        err.map_or(Ok(()), Err)
    }

    /// The `k` closest vectors to `query` among the `nprobe` lists whose
    /// centroids are closest (and vectors added since the last rebuild), that
    /// pass `filter` (on the payload). `nprobe` at least the number of lists is exact.
    pub fn search(
        &self,
        tx: &Transaction,
        query: &[f32],
        k: usize,
        nprobe: usize,
        filter: Option<&dyn Fn(&serde_json::Value) -> bool>,
    ) -> Result<Vec<VectorHit>> {
        let q = self.prepare(query)?;
        let s = self.stores(tx)?;
        // Probe the cells nearest the query (by Euclidean distance, as assigned).
        let (cents, sq8) = self.centroids(&s)?;
        let mut cs: Vec<(u32, f32)> = cents.iter().map(|(c, v)| (*c, l2sq(v, &q))).collect();
        cs.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut lists: Vec<u32> = cs.iter().take(nprobe.max(1)).map(|c| c.0).collect();
        lists.push(UNASSIGNED);
        if let (Some(codes), Some(sq8), None) = (&s.codes, &sq8, filter) {
            return self.search_codes(&s, codes, sq8, &q, k, &lists);
        }
        // (score, doc key, payload bytes): ordered by score, then doc key.
        let mut best: Vec<(f64, Vec<u8>, Vec<u8>)> = Vec::with_capacity(k.min(1024) + 1);
        let before = |sc: f64, doc: &[u8], b: &(f64, Vec<u8>, Vec<u8>)| {
            sc > b.0 || (sc == b.0 && doc < &b.1[..])
        };
        let dim = self.config.dim;
        let mut err = None;
        for l in lists {
            let lo = l.to_be_bytes();
            let hi = (l as u64 + 1).to_be_bytes();
            let hi_b = if l == UNASSIGNED {
                Bound::Unbounded
            } else {
                Bound::Excluded(&hi[4..])
            };
            s.lists
                .scan(Bound::Included(&lo[..]), hi_b, false, |key, v| {
                    if v.len() < dim * 4 || key.len() < 4 {
                        err = Some(corrupt("vector too short"));
                        return false;
                    }
                    let doc = &key[4..];
                    let sc = self.score_bytes(&v[..dim * 4], &q);
                    if k == 0
                        || (best.len() == k && !best.last().is_some_and(|b| before(sc, doc, b)))
                    {
                        return true;
                    }
                    let payload = &v[dim * 4..];
                    if let Some(f) = filter {
                        match serde_json::from_slice(payload) {
                            Ok(p) => {
                                if !f(&p) {
                                    return true;
                                }
                            }
                            Err(e) => {
                                err = Some(corrupt(&e.to_string()));
                                return false;
                            }
                        }
                    }
                    let at = best.partition_point(|b| !before(sc, doc, b));
                    best.insert(at, (sc, doc.to_vec(), payload.to_vec()));
                    best.truncate(k);
                    true
                })?;
            if let Some(e) = err.take() {
                return Err(e);
            }
        }
        best.into_iter()
            .map(|(score, d, payload)| {
                Ok(VectorHit {
                    id: DocId::decode(&d).ok_or_else(|| corrupt("bad id"))?,
                    score,
                    payload: serde_json::from_slice(&payload)
                        .map_err(|e| corrupt(&e.to_string()))?,
                })
            })
            .collect()
    }

    /// `score` of a vector still in its stored bytes (f32 LE).
    fn score_bytes(&self, b: &[u8], q: &[f32]) -> f64 {
        let xs = b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        match self.config.metric {
            Metric::Cosine | Metric::Dot => xs.zip(q).map(|(x, y)| (x as f64) * (*y as f64)).sum(),
            Metric::L2 => -xs
                .zip(q)
                .map(|(x, y)| ((x - *y) as f64).powi(2))
                .sum::<f64>()
                .sqrt(),
        }
    }

    /// The search over 8-bit codes: the best `rerank` × k by approximate score
    /// among `lists`, then re-ranked by their exact vectors (point reads).
    fn search_codes(
        &self,
        s: &VStores<'_>,
        codes: &RawStore<'_>,
        sq8: &Sq8,
        q: &[f32],
        k: usize,
        lists: &[u32],
    ) -> Result<Vec<VectorHit>> {
        let dim = self.config.dim;
        if k == 0 {
            return Ok(Vec::new());
        }
        let r = k
            .saturating_mul(match self.config.rerank {
                0 => 4,
                n => n,
            })
            .max(k);
        let r2 = r.saturating_mul(2);
        let l2 = self.config.metric == Metric::L2;
        // L2: q - min, compared with code * step; dot: q * step, plus q . min.
        let qa: Vec<f32> = if l2 {
            q.iter().zip(&sq8.min).map(|(x, m)| x - m).collect()
        } else {
            q.iter().zip(&sq8.step).map(|(x, s)| x * s).collect()
        };
        let base: f32 = if l2 {
            0.0
        } else {
            q.iter().zip(&sq8.min).map(|(x, m)| x * m).sum()
        };
        let approx = |c: &[u8]| -> f32 {
            if l2 {
                -c.iter()
                    .zip(qa.iter().zip(&sq8.step))
                    .map(|(c, (a, s))| {
                        let d = a - *c as f32 * s;
                        d * d
                    })
                    .sum::<f32>()
            } else {
                base + c.iter().zip(&qa).map(|(c, a)| *c as f32 * a).sum::<f32>()
            }
        };
        let mut cand: Vec<(f32, Vec<u8>)> = Vec::with_capacity(r2.min(1 << 16) + 1);
        let mut floor = f32::NEG_INFINITY;
        let mut err = None;
        let mut exact: Vec<(f64, Vec<u8>, serde_json::Value)> = Vec::new();
        for &l in lists {
            if l == UNASSIGNED {
                // Vectors with no codes (added while there were no centroids).
                self.scan_list(s, l, |doc, v, p| match serde_json::from_slice(p) {
                    Ok(p) => exact.push((self.score(&v, q), doc.to_vec(), p)),
                    Err(e) => err = Some(corrupt(&e.to_string())),
                })?;
                continue;
            }
            let lo = l.to_be_bytes();
            let hi = (l as u64 + 1).to_be_bytes();
            codes.scan(
                Bound::Included(&lo[..]),
                Bound::Excluded(&hi[4..]),
                false,
                |key, c| {
                    if c.len() != dim {
                        err = Some(corrupt("codes of the wrong size"));
                        return false;
                    }
                    let a = approx(c);
                    if a < floor {
                        return true;
                    }
                    cand.push((a, key.to_vec()));
                    if cand.len() >= r2 {
                        cand.select_nth_unstable_by(r - 1, |x, y| y.0.total_cmp(&x.0));
                        cand.truncate(r);
                        floor = cand.iter().map(|c| c.0).fold(f32::INFINITY, f32::min);
                    }
                    true
                },
            )?;
            if let Some(e) = err.take() {
                return Err(e);
            }
        }
        if let Some(e) = err {
            return Err(e);
        }
        cand.sort_by(|x, y| y.0.total_cmp(&x.0));
        cand.truncate(r);
        for (_, key) in cand {
            let got = s
                .lists
                .get_with(&key, |v| -> Result<(f64, serde_json::Value)> {
                    let vec = dec_vec(v, dim)?;
                    let p = serde_json::from_slice(&v[dim * 4..])
                        .map_err(|e| corrupt(&e.to_string()))?;
                    Ok((self.score(&vec, q), p))
                })?;
            let (sc, p) = got.ok_or_else(|| corrupt("codes without a vector"))??;
            exact.push((sc, key[4..].to_vec(), p));
        }
        exact.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        exact.truncate(k);
        exact
            .into_iter()
            .map(|(score, d, payload)| {
                Ok(VectorHit {
                    id: DocId::decode(&d).ok_or_else(|| corrupt("bad id"))?,
                    score,
                    payload,
                })
            })
            .collect()
    }

    /// Re-cluster: k-means (`nlist` centroids, `iters` rounds, seeded) over every
    /// vector, then every vector moved to its nearest centroid's list. Reads and
    /// rewrites everything: run it in a transaction of its own (writers that
    /// overlap it conflict and retry).
    pub fn rebuild(&self, tx: &Transaction, nlist: usize, iters: usize, seed: u64) -> Result<()> {
        let s = self.stores(tx)?;
        // (list, doc key, vector, payload bytes) of every vector.
        let mut all: Vec<Entry> = Vec::new();
        let mut err = None;
        s.lists
            .scan(Bound::Unbounded, Bound::Unbounded, false, |k, v| {
                match dec_vec(v, self.config.dim) {
                    Ok(vec) => all.push((
                        u32::from_be_bytes([k[0], k[1], k[2], k[3]]),
                        k[4..].to_vec(),
                        vec,
                        v[self.config.dim * 4..].to_vec(),
                    )),
                    Err(e) => err = Some(e),
                }
                err.is_none()
            })?;
        if let Some(e) = err {
            return Err(e);
        }
        let nlist = nlist.clamp(1, all.len().max(1));
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut cents: Vec<Vec<f32>> = (0..nlist)
            .filter_map(|_| all.get(rng.usize(0..all.len().max(1))).map(|a| a.2.clone()))
            .collect();
        let dim = self.config.dim;
        for _ in 0..iters {
            let cs: Vec<(u32, Vec<f32>)> = cents
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, c)| (i as u32, c))
                .collect();
            let mut sum = vec![vec![0f64; dim]; cents.len()];
            let mut n = vec![0usize; cents.len()];
            for a in &all {
                let c = nearest_l2(&cs, &a.2) as usize;
                n[c] += 1;
                for (s, x) in sum[c].iter_mut().zip(&a.2) {
                    *s += *x as f64;
                }
            }
            for (i, c) in cents.iter_mut().enumerate() {
                if n[i] > 0 {
                    *c = sum[i].iter().map(|s| (*s / n[i] as f64) as f32).collect();
                }
            }
        }
        // Replace centroids and lists.
        let mut old = Vec::new();
        s.centroids
            .scan(Bound::Unbounded, Bound::Unbounded, false, |k, _| {
                old.push(k.to_vec());
                true
            })?;
        for k in old {
            s.centroids.remove(&k)?;
        }
        let mut version = [0u8; 16];
        version[..8].copy_from_slice(&fastrand::u64(..).to_be_bytes());
        version[8..].copy_from_slice(&fastrand::u64(..).to_be_bytes());
        s.meta.upsert(CENTROIDS_VERSION_KEY, version)?;
        let cs: Vec<(u32, Vec<f32>)> = cents
            .into_iter()
            .enumerate()
            .map(|(i, c)| (i as u32, c))
            .collect();
        for (i, c) in &cs {
            let mut v = Vec::new();
            enc_vec(c, &mut v);
            s.centroids.add(&i.to_be_bytes(), v)?;
        }
        if let Some(codes) = &s.codes {
            // Train the quantizer on every vector; every vector's codes change.
            let mut old = Vec::new();
            codes.scan(Bound::Unbounded, Bound::Unbounded, false, |k, _| {
                old.push(k.to_vec());
                true
            })?;
            for k in old {
                codes.remove(&k)?;
            }
            match Sq8::train(self.config.dim, all.iter().map(|a| &a.2[..])) {
                Some(q) => {
                    s.meta.upsert(SQ8_KEY, q.to_bytes())?;
                    for (_, doc, vec, _) in &all {
                        codes.add(&list_key(nearest_l2(&cs, vec), doc), q.encode(vec))?;
                    }
                }
                None => {
                    s.meta.remove(SQ8_KEY)?;
                }
            }
        }
        for (l, doc, vec, payload) in all {
            let nl = nearest_l2(&cs, &vec);
            if nl != l {
                s.lists.remove(&list_key(l, &doc))?;
                let mut v = Vec::with_capacity(vec.len() * 4 + payload.len());
                enc_vec(&vec, &mut v);
                v.extend_from_slice(&payload);
                s.lists.upsert(&list_key(nl, &doc), v)?;
                s.items.upsert(&doc, nl.to_be_bytes())?;
            }
        }
        Ok(())
    }
}

/// The list of the centroid nearest to `v` by Euclidean distance (lists are
/// Voronoi cells; cosine vectors are normalized first). `UNASSIGNED` if none.
fn nearest_l2(cs: &[(u32, Vec<f32>)], v: &[f32]) -> u32 {
    cs.iter()
        .map(|(c, cv)| (*c, l2sq(cv, v)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(UNASSIGNED, |x| x.0)
}

fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}
