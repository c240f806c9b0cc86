//! Top-k text search without scoring every posting: MaxScore, term at a time
//! (Turtle and Flood, 1995), exact. docs/ARCHITECTURE.md §12, "Top-k pruning".
//!
//! Every (term clause, field) is a *unit* whose document frequency comes from the
//! `.terms` store (before its postings are read) and whose score is bounded by
//! `weight * idf * max_tfn`; a prefix or phrase clause is one unit, scored in full
//! up front (its bound is its best score). Units are taken from the highest
//! bound down. While the k-th best partial score is at most the sum of the
//! bounds of the units not yet taken, a unit's postings are all read and any
//! document may enter; from then on no document outside the candidates can reach
//! the top k, so the candidates that cannot reach the k-th score are dropped and
//! each later unit is only looked up for the rest (a point read per candidate,
//! or one scan if the candidates outnumber its postings by `PROBE_COST`).
//! Final scores are summed in the exhaustive search's order (clause by clause,
//! field by field), so hits and scores equal `TextIndex::search_exhaustive`'s.

use std::collections::HashSet;

use sop::RawStore;

use crate::codec;
use crate::error::Result;
use crate::index::{doc_freq, scan_prefix, Bm25, FxMap, Hit, Stores, TextIndex};
use crate::query::{Atom, Occur, Query};

/// A point read costs about this many postings of a scan.
const PROBE_COST: usize = 8;

/// Bounds are compared with this much slack (relative), so rounding never prunes
/// a document that could tie.
const SLACK: f64 = 1e-9;

enum Source<'q> {
    /// One term in one field, read lazily.
    Term {
        field: &'q str,
        term: &'q str,
        df: u64,
        w_idf: f64,
        bm: Bm25,
    },
    /// A clause scored in full (prefix, phrase).
    Done(FxMap<Vec<u8>, f64>),
}

struct Unit<'q> {
    clause: usize,
    src: Source<'q>,
    bound: f64,
}

impl Unit<'_> {
    fn size(&self) -> u64 {
        match &self.src {
            Source::Term { df, .. } => *df,
            Source::Done(m) => m.len() as u64,
        }
    }
}

/// The candidates: per document a slot; per slot its partial score and each
/// unit's contribution.
struct Acc {
    slot: FxMap<Vec<u8>, usize>,
    partial: Vec<f64>,
    contrib: Vec<f64>,
    /// Whether the slot's document matched the unit (a score may be 0).
    seen: Vec<bool>,
    units: usize,
}

impl Acc {
    fn add(&mut self, doc: &[u8], unit: usize, score: f64, insert: bool) {
        let i = match self.slot.get(doc) {
            Some(i) => *i,
            None if insert => {
                let i = self.partial.len();
                self.slot.insert(doc.to_vec(), i);
                self.partial.push(0.0);
                self.contrib.resize(self.contrib.len() + self.units, 0.0);
                self.seen.resize(self.seen.len() + self.units, false);
                i
            }
            None => return,
        };
        self.partial[i] += score;
        self.contrib[i * self.units + unit] = score;
        self.seen[i * self.units + unit] = true;
    }

    /// The k-th best partial score (None if fewer than k candidates).
    fn kth(&self, k: usize) -> Option<f64> {
        if k == 0 || self.slot.len() < k {
            return None;
        }
        let mut v: Vec<f64> = self.slot.values().map(|i| self.partial[*i]).collect();
        let (_, x, _) = v.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
        Some(*x)
    }
}

/// Read unit `u` for every document (`insert`) or only the candidates.
fn visit(
    p: &RawStore<'_>,
    unit: &Unit<'_>,
    u: usize,
    acc: &mut Acc,
    insert: bool,
    excl: &HashSet<Vec<u8>>,
) -> Result<()> {
    match &unit.src {
        Source::Done(m) => {
            for (doc, sc) in m {
                if !excl.contains(doc) {
                    acc.add(doc, u, *sc, insert);
                }
            }
        }
        Source::Term {
            field,
            term,
            df,
            w_idf,
            bm,
        } => {
            if !insert && acc.slot.len().saturating_mul(PROBE_COST) < *df as usize {
                let docs: Vec<Vec<u8>> = acc.slot.keys().cloned().collect();
                for doc in docs {
                    let key = codec::posting_key(field, term, &doc);
                    if let Some(r) = p.get_with(&key, codec::decode_len_tf)? {
                        let (len, tf) = r?;
                        acc.add(&doc, u, w_idf * bm.tfn(tf as f64, len as f64), false);
                    }
                }
            } else {
                scan_prefix(p, &codec::term_prefix(field, term), |doc, v| {
                    if insert && excl.contains(doc) {
                        return Ok(true);
                    }
                    let (len, tf) = codec::decode_len_tf(v)?;
                    acc.add(doc, u, w_idf * bm.tfn(tf as f64, len as f64), insert);
                    Ok(true)
                })?;
            }
        }
    }
    Ok(())
}

/// Every document unit `unit` matches.
fn docs_of(p: &RawStore<'_>, unit: &Unit<'_>, out: &mut HashSet<Vec<u8>>) -> Result<()> {
    match &unit.src {
        Source::Done(m) => out.extend(m.keys().cloned()),
        Source::Term { field, term, .. } => {
            scan_prefix(p, &codec::term_prefix(field, term), |doc, _| {
                out.insert(doc.to_vec());
                Ok(true)
            })?;
        }
    }
    Ok(())
}

pub(crate) fn search(
    index: &TextIndex,
    s: &Stores<'_>,
    terms: &RawStore<'_>,
    q: &Query,
    k: usize,
) -> Result<Vec<Hit>> {
    if k == 0 {
        return Ok(Vec::new());
    }
    let stats = index.stats_in(s)?;
    let fields = &index.config().fields;
    // The units, in clause order and, within a clause, field order.
    let mut units: Vec<Unit<'_>> = Vec::new();
    for (ci, c) in q.clauses.iter().enumerate() {
        match &c.atom {
            Atom::Term(t) => {
                for (fi, f) in fields.iter().enumerate() {
                    if c.field.as_deref().is_some_and(|x| x != f.name) {
                        continue;
                    }
                    let df = doc_freq(terms, &f.name, t)?.max(0) as u64;
                    let bm = index.bm25(&stats, fi);
                    let w_idf = c.boost * f.boost * bm.idf(df as f64);
                    let bound = if df == 0 { 0.0 } else { w_idf * bm.max_tfn() };
                    units.push(Unit {
                        clause: ci,
                        src: Source::Term {
                            field: &f.name,
                            term: t,
                            df,
                            w_idf,
                            bm,
                        },
                        bound,
                    });
                }
            }
            Atom::Prefix(_) | Atom::Phrase(_) => {
                let m = index.clause_scores(s, &stats, c)?;
                let bound = m.values().fold(0.0f64, |a, b| a.max(*b));
                units.push(Unit {
                    clause: ci,
                    src: Source::Done(m),
                    bound,
                });
            }
        }
    }
    let occur = |u: &Unit<'_>| q.clauses[u.clause].occur;
    let mut excl = HashSet::new();
    for u in units.iter().filter(|u| occur(u) == Occur::MustNot) {
        docs_of(&s.postings, u, &mut excl)?;
    }
    let mut acc = Acc {
        slot: FxMap::default(),
        partial: Vec::new(),
        contrib: Vec::new(),
        seen: Vec::new(),
        units: units.len(),
    };
    let must: Vec<usize> = {
        let mut m: Vec<usize> = (0..q.clauses.len())
            .filter(|c| q.clauses[*c].occur == Occur::Must)
            .collect();
        let size = |c: &usize| -> u64 {
            units
                .iter()
                .filter(|u| u.clause == *c)
                .map(Unit::size)
                .sum()
        };
        m.sort_by_key(size);
        m
    };
    let mut insert = true;
    for (i, c) in must.iter().enumerate() {
        // The rarest required clause brings the candidates; each other one keeps
        // those it matches.
        let before: Vec<usize> = acc.slot.values().copied().collect();
        let mut hit = vec![false; acc.partial.len()];
        for (ui, u) in units.iter().enumerate().filter(|(_, u)| u.clause == *c) {
            visit(&s.postings, u, ui, &mut acc, i == 0, &excl)?;
            for (x, h) in hit.iter_mut().enumerate() {
                *h |= acc.seen[x * acc.units + ui];
            }
        }
        if i > 0 {
            let gone: HashSet<usize> = before.into_iter().filter(|x| !hit[*x]).collect();
            acc.slot.retain(|_, x| !gone.contains(x));
        }
        insert = false;
    }
    // Should clauses, from the highest bound down; `rest[j]` bounds what the
    // ones from j on can still add.
    let mut order: Vec<usize> = (0..units.len())
        .filter(|u| occur(&units[*u]) == Occur::Should)
        .collect();
    order.sort_by(|a, b| units[*b].bound.total_cmp(&units[*a].bound));
    let mut rest = vec![0.0; order.len() + 1];
    for j in (0..order.len()).rev() {
        rest[j] = rest[j + 1] + units[order[j]].bound;
    }
    for (j, &ui) in order.iter().enumerate() {
        if let Some(theta) = acc.kth(k) {
            let slack = SLACK * (theta.abs() + rest[j]);
            if insert && theta > rest[j] + slack {
                insert = false;
            }
            if !insert {
                let partial = &acc.partial;
                acc.slot
                    .retain(|_, x| partial[*x] + rest[j] + slack >= theta);
            }
        }
        visit(&s.postings, &units[ui], ui, &mut acc, insert, &excl)?;
    }
    // Final scores in the exhaustive order: per clause, its fields in order.
    let hits: Vec<(Vec<u8>, f64)> = acc
        .slot
        .iter()
        .map(|(doc, x)| {
            let c = &acc.contrib[x * acc.units..(x + 1) * acc.units];
            let seen = &acc.seen[x * acc.units..(x + 1) * acc.units];
            let mut score = 0.0;
            let mut u = 0;
            while u < units.len() {
                let cl = units[u].clause;
                let mut clause = 0.0;
                let mut any = false;
                while u < units.len() && units[u].clause == cl {
                    if seen[u] {
                        clause += c[u];
                        any = true;
                    }
                    u += 1;
                }
                if any && occur(&units[u - 1]) != Occur::MustNot {
                    score += clause;
                }
            }
            (doc.clone(), score)
        })
        .collect();
    index.top(hits, k)
}
