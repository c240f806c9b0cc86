//! Model-based tests: random sequences of every operation against a BTreeMap model,
//! with commits, rollbacks and reopenings; `Database::check` after every commit
//! verifies the tree invariants, counts, and that no orphan node or blob is left.
//! Beside the writer, a NoCheck reader of the last committed state answers every
//! read too (its reads take the unrecorded snapshot path).

use super::Backend;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sop::{Database, DbOptions, Key, StoreOptions, Transaction, TxMode, Value, ValuePlacement};
use std::collections::BTreeMap;
use std::ops::Bound;

type Model = BTreeMap<u64, Vec<Vec<u8>>>;

#[derive(Debug, Clone)]
enum Act {
    Add(u64, u8),
    AddIfAbsent(u64, u8),
    Update(u64, u8),
    Upsert(u64, u8),
    Remove(u64),
    Get(u64),
    Range(u64, u64, bool),
    Count,
    Walk(u64, u8, bool),
    CursorRemove(u64),
    CursorUpdate(u64, u8),
    SeekLe(u64),
    Bulk(u64, u16),
    Commit,
    Rollback,
    Reopen,
}

fn act(keys: u64) -> impl Strategy<Value = Act> {
    let k = 0..keys;
    prop_oneof![
        6 => (k.clone(), any::<u8>()).prop_map(|(k, v)| Act::Add(k, v)),
        1 => (k.clone(), any::<u8>()).prop_map(|(k, v)| Act::AddIfAbsent(k, v)),
        2 => (k.clone(), any::<u8>()).prop_map(|(k, v)| Act::Update(k, v)),
        2 => (k.clone(), any::<u8>()).prop_map(|(k, v)| Act::Upsert(k, v)),
        4 => k.clone().prop_map(Act::Remove),
        2 => k.clone().prop_map(Act::Get),
        2 => (k.clone(), k.clone(), any::<bool>()).prop_map(|(a, b, d)| Act::Range(a.min(b), a.max(b), d)),
        1 => Just(Act::Count),
        1 => (k.clone(), any::<u8>(), any::<bool>()).prop_map(|(a, n, f)| Act::Walk(a, n % 20, f)),
        1 => k.clone().prop_map(Act::CursorRemove),
        1 => (k.clone(), any::<u8>()).prop_map(|(a, v)| Act::CursorUpdate(a, v)),
        1 => k.clone().prop_map(Act::SeekLe),
        1 => (k.clone(), any::<u16>()).prop_map(|(a, n)| Act::Bulk(a, n % 300)),
        2 => Just(Act::Commit),
        1 => Just(Act::Rollback),
        1 => Just(Act::Reopen),
    ]
}

fn value(k: u64, v: u8, big: bool) -> Vec<u8> {
    let mut out = format!("{k}:{v}").into_bytes();
    if big {
        out.resize(out.len() + (v as usize % 7) * 100, v);
    }
    out
}

struct Harness {
    dir: tempfile::TempDir,
    db: Option<Database>,
    tx: Option<Transaction>,
    /// A NoCheck transaction reading `committed`.
    reader: Option<Transaction>,
    committed: Model,
    work: Model,
    unique: bool,
    big: bool,
    db_opts: DbOptions,
}

fn db_opts(b: &dyn Backend) -> DbOptions {
    b.options(DbOptions {
        recovery_interval: None,
        node_cache_bytes: 1 << 20,
        ..Default::default()
    })
}

impl Harness {
    fn new(b: &dyn Backend, opts: StoreOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        b.fresh_database();
        let db_opts = db_opts(b);
        let db = Database::open(dir.path(), db_opts.clone()).unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        tx.create_store::<u64, Vec<u8>>("m", opts.clone()).unwrap();
        tx.commit().unwrap();
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let reader = db.begin(TxMode::NoCheck).unwrap();
        Harness {
            dir,
            db: Some(db),
            tx: Some(tx),
            reader: Some(reader),
            committed: Model::new(),
            work: Model::new(),
            unique: opts.unique,
            big: opts.values != ValuePlacement::Inline,
            db_opts,
        }
    }

    fn check_db(&self) {
        let r = self.db.as_ref().unwrap().check().unwrap();
        assert!(r.is_ok(), "check found problems: {:?}", r.problems);
        let st = r.stores.iter().find(|s| s.name == "m").unwrap();
        let n: usize = self.committed.values().map(|v| v.len()).sum();
        assert_eq!(st.items as usize, n, "items in tree vs model");
    }

    fn flat(m: &Model, lo: Bound<u64>, hi: Bound<u64>, desc: bool) -> Vec<(u64, Vec<u8>)> {
        let val = |b: &Bound<u64>| match b {
            Bound::Included(x) | Bound::Excluded(x) => Some(*x),
            Bound::Unbounded => None,
        };
        if let (Some(a), Some(b)) = (val(&lo), val(&hi)) {
            if a > b
                || (a == b
                    && !(matches!(lo, Bound::Included(_)) && matches!(hi, Bound::Included(_))))
            {
                return vec![];
            }
        }
        let mut v: Vec<(u64, Vec<u8>)> = m
            .range((lo, hi))
            .flat_map(|(k, vs)| vs.iter().map(move |v| (*k, v.clone())))
            .collect();
        if desc {
            v.reverse();
        }
        v
    }

    /// The NoCheck reader's answers to the reads in `a`, against the committed model
    /// (typed and raw API, owned and borrowed results, cursors).
    fn check_reader(&self, a: &Act) {
        let m = &self.committed;
        let tx = self.reader.as_ref().unwrap();
        let s = tx.open_store::<u64, Vec<u8>>("m").unwrap();
        let raw = s.raw();
        let dec = |v: &[u8]| Vec::<u8>::decode_value(v).unwrap();
        match *a {
            Act::Get(k) => {
                let want = m.get(&k).map(|v| v[0].clone());
                assert_eq!(s.get(&k).unwrap(), want, "NoCheck get {k}");
                assert_eq!(s.contains(&k).unwrap(), want.is_some());
                let kb = k.to_key_bytes();
                assert_eq!(
                    raw.get_with(&kb, dec).unwrap(),
                    want,
                    "NoCheck get_with {k}"
                );
                assert_eq!(raw.get(&kb).unwrap().map(|b| dec(&b)), want);
            }
            Act::Range(lo, hi, desc) => {
                let bounds = [
                    (Bound::Included(lo), Bound::Included(hi)),
                    (Bound::Excluded(lo), Bound::Excluded(hi)),
                    (Bound::Unbounded, Bound::Excluded(hi)),
                    (Bound::Included(lo), Bound::Unbounded),
                ];
                for (l, h) in bounds {
                    let want = Self::flat(m, l, h, desc);
                    let got: Vec<(u64, Vec<u8>)> = if desc {
                        s.range_desc((l, h)).unwrap().map(|r| r.unwrap()).collect()
                    } else {
                        s.range((l, h)).unwrap().map(|r| r.unwrap()).collect()
                    };
                    assert_eq!(got, want, "NoCheck range {l:?}..{h:?} desc={desc}");
                    let kb = |b: Bound<u64>| b.map(|k| k.to_key_bytes());
                    let (lb, hb) = (kb(l), kb(h));
                    for limit in [usize::MAX, 3] {
                        let mut seen = vec![];
                        let n = raw
                            .scan(as_slice(&lb), as_slice(&hb), desc, |k, v| {
                                seen.push((u64::from_key_bytes(k).unwrap(), dec(v)));
                                seen.len() < limit
                            })
                            .unwrap();
                        assert_eq!(n as usize, seen.len());
                        let want: Vec<_> = want.iter().take(limit).cloned().collect();
                        assert_eq!(seen, want, "NoCheck scan {l:?}..{h:?} desc={desc}");
                    }
                }
            }
            Act::Walk(k, n, fwd) => {
                let all = Self::flat(m, Bound::Unbounded, Bound::Unbounded, false);
                let mut c = s.cursor().unwrap();
                let mut ok = c.seek_ge(&k).unwrap();
                let mut idx = all.iter().position(|(kk, _)| *kk >= k);
                for _ in 0..n {
                    assert_eq!(ok, idx.is_some());
                    let Some(i) = idx else { break };
                    assert_eq!(c.item().unwrap(), Some(all[i].clone()));
                    ok = if fwd {
                        c.next().unwrap()
                    } else {
                        c.prev().unwrap()
                    };
                    idx = if fwd {
                        Some(i + 1).filter(|j| *j < all.len())
                    } else {
                        i.checked_sub(1)
                    };
                }
            }
            _ => {}
        }
    }

    fn step(&mut self, a: &Act) {
        let (unique, big) = (self.unique, self.big);
        match a {
            Act::Commit => {
                self.tx.take().unwrap().commit().unwrap();
                // The reader still sees its snapshot, the state before this commit.
                self.check_reader(&Act::Range(0, u64::MAX, false));
                self.committed = self.work.clone();
                self.check_db();
                self.reader = Some(self.db.as_ref().unwrap().begin(TxMode::NoCheck).unwrap());
                self.tx = Some(self.db.as_ref().unwrap().begin(TxMode::ForWriting).unwrap());
                return;
            }
            Act::Rollback => {
                self.tx.take().unwrap().rollback();
                self.work = self.committed.clone();
                self.tx = Some(self.db.as_ref().unwrap().begin(TxMode::ForWriting).unwrap());
                return;
            }
            Act::Reopen => {
                self.tx.take();
                self.reader.take();
                self.db.take();
                self.work = self.committed.clone();
                let db = Database::open(self.dir.path(), self.db_opts.clone()).unwrap();
                self.reader = Some(db.begin(TxMode::NoCheck).unwrap());
                self.db = Some(db);
                self.check_db();
                self.tx = Some(self.db.as_ref().unwrap().begin(TxMode::ForWriting).unwrap());
                return;
            }
            _ => {}
        }
        self.check_reader(a);
        let tx = self.tx.as_ref().unwrap();
        let s = tx.open_store::<u64, Vec<u8>>("m").unwrap();
        let w = &mut self.work;
        match *a {
            Act::Add(k, v) => {
                let exists = w.contains_key(&k);
                let got = s.add(&k, &value(k, v, big)).unwrap();
                assert_eq!(got, !(unique && exists));
                if got {
                    w.entry(k).or_default().push(value(k, v, big));
                }
            }
            Act::AddIfAbsent(k, v) => {
                let got = s.add_if_absent(&k, &value(k, v, big)).unwrap();
                assert_eq!(got, !w.contains_key(&k));
                if got {
                    w.insert(k, vec![value(k, v, big)]);
                }
            }
            Act::Update(k, v) => {
                let got = s.update(&k, &value(k, v, big)).unwrap();
                assert_eq!(got, w.contains_key(&k));
                if let Some(vs) = w.get_mut(&k) {
                    vs[0] = value(k, v, big);
                }
            }
            Act::Upsert(k, v) => {
                let inserted = s.upsert(&k, &value(k, v, big)).unwrap();
                assert_eq!(inserted, !w.contains_key(&k));
                let vs = w.entry(k).or_default();
                if vs.is_empty() {
                    vs.push(value(k, v, big));
                } else {
                    vs[0] = value(k, v, big);
                }
            }
            Act::Remove(k) => {
                let got = s.remove(&k).unwrap();
                assert_eq!(got, w.contains_key(&k));
                if let Some(vs) = w.get_mut(&k) {
                    vs.remove(0);
                    if vs.is_empty() {
                        w.remove(&k);
                    }
                }
            }
            Act::Get(k) => {
                assert_eq!(
                    s.get(&k).unwrap(),
                    w.get(&k).map(|v| v[0].clone()),
                    "get {k}"
                );
            }
            Act::Count => {
                assert_eq!(
                    s.count().unwrap() as usize,
                    w.values().map(|v| v.len()).sum::<usize>()
                );
            }
            Act::Range(lo, hi, desc) => {
                let bounds = [
                    (Bound::Included(lo), Bound::Included(hi)),
                    (Bound::Excluded(lo), Bound::Excluded(hi)),
                    (Bound::Unbounded, Bound::Excluded(hi)),
                    (Bound::Included(lo), Bound::Unbounded),
                ];
                for (l, h) in bounds {
                    let got: Vec<(u64, Vec<u8>)> = if desc {
                        s.range_desc((l, h)).unwrap().map(|r| r.unwrap()).collect()
                    } else {
                        s.range((l, h)).unwrap().map(|r| r.unwrap()).collect()
                    };
                    assert_eq!(
                        got,
                        Self::flat(w, l, h, desc),
                        "range {l:?}..{h:?} desc={desc}"
                    );
                }
            }
            Act::Walk(k, n, fwd) => {
                let mut c = s.cursor().unwrap();
                let mut ok = c.seek_ge(&k).unwrap();
                let all = Self::flat(w, Bound::Unbounded, Bound::Unbounded, false);
                let mut idx = all.iter().position(|(kk, _)| *kk >= k);
                assert_eq!(ok, idx.is_some());
                for _ in 0..n {
                    if !ok {
                        break;
                    }
                    let i = idx.unwrap();
                    assert_eq!(c.item().unwrap(), Some(all[i].clone()));
                    ok = if fwd {
                        c.next().unwrap()
                    } else {
                        c.prev().unwrap()
                    };
                    idx = if fwd {
                        Some(i + 1).filter(|j| *j < all.len())
                    } else {
                        i.checked_sub(1)
                    };
                    assert_eq!(ok, idx.is_some());
                }
            }
            Act::CursorRemove(k) => {
                // Remove every item from k onward that has an even value byte count, via a cursor.
                let mut c = s.cursor().unwrap();
                let mut ok = c.find(&k).unwrap();
                assert_eq!(ok, w.contains_key(&k));
                let mut removed = 0;
                while ok && removed < 3 {
                    let key = c.key().unwrap().unwrap();
                    c.remove_current().unwrap();
                    let vs = w.get_mut(&key).unwrap();
                    vs.remove(0);
                    if vs.is_empty() {
                        w.remove(&key);
                    }
                    removed += 1;
                    ok = c.next().unwrap();
                    let expect = Self::flat(w, Bound::Excluded(key), Bound::Unbounded, false);
                    let expect = if w.contains_key(&key) {
                        Self::flat(w, Bound::Included(key), Bound::Unbounded, false)
                    } else {
                        expect
                    };
                    assert_eq!(ok, !expect.is_empty());
                    if ok {
                        assert_eq!(c.item().unwrap().unwrap(), expect[0]);
                    }
                }
            }
            Act::CursorUpdate(k, v) => {
                let mut c = s.cursor().unwrap();
                if c.find(&k).unwrap() {
                    c.update_current_value(&value(k, v, big)).unwrap();
                    w.get_mut(&k).unwrap()[0] = value(k, v, big);
                    assert_eq!(c.key().unwrap(), Some(k));
                }
            }
            Act::SeekLe(k) => {
                let mut c = s.cursor().unwrap();
                let ok = c.seek_le(&k).unwrap();
                let expect = Self::flat(w, Bound::Unbounded, Bound::Included(k), true);
                assert_eq!(ok, !expect.is_empty());
                if ok {
                    assert_eq!(c.item().unwrap().unwrap(), expect[0]);
                }
            }
            Act::Bulk(start, n) => {
                for i in 0..n as u64 {
                    let k = start * 1000 + i;
                    let got = s.add(&k, &value(k, 1, big)).unwrap();
                    assert_eq!(got, !(unique && w.contains_key(&k)));
                    if got {
                        w.entry(k).or_default().push(value(k, 1, big));
                    }
                }
            }
            Act::Commit | Act::Rollback | Act::Reopen => unreachable!(),
        }
    }
}

fn run(b: &dyn Backend, opts: StoreOptions, acts: Vec<Act>) {
    let mut h = Harness::new(b, opts);
    for a in &acts {
        h.step(a);
    }
    h.step(&Act::Commit);
    h.step(&Act::Reopen);
    let tx = h.db.as_ref().unwrap().begin(TxMode::NoCheck).unwrap();
    let s = tx.open_store::<u64, Vec<u8>>("m").unwrap();
    let all: Vec<(u64, Vec<u8>)> = s.iter().unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(
        all,
        Harness::flat(&h.committed, Bound::Unbounded, Bound::Unbounded, false)
    );
}

fn as_slice(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    b.as_ref().map(Vec::as_slice)
}

fn store_opts() -> impl Strategy<Value = StoreOptions> {
    (
        prop_oneof![
            Just(4usize),
            Just(5),
            Just(7),
            Just(16),
            Just(64),
            Just(1024)
        ],
        any::<bool>(),
        prop_oneof![
            Just(ValuePlacement::Auto),
            Just(ValuePlacement::Inline),
            Just(ValuePlacement::Separate),
            Just(ValuePlacement::Big)
        ],
        any::<bool>(),
    )
        .prop_map(
            |(slot_length, unique, values, leaf_load_balancing)| StoreOptions {
                slot_length,
                unique,
                values,
                leaf_load_balancing,
                ..Default::default()
            },
        )
}

/// Run `cases` random sequences of up to `len` actions over `keys` keys.
fn random_runs(b: &dyn Backend, cases: u32, keys: u64, len: std::ops::Range<usize>) {
    let mut runner = TestRunner::new(Config {
        cases,
        max_shrink_iters: 2000,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (store_opts(), prop::collection::vec(act(keys), len));
    if let Err(e) = runner.run(&strategy, |(opts, acts)| {
        run(b, opts, acts);
        Ok(())
    }) {
        panic!("{}: {e}", b.name());
    }
}

/// Random sequences over 40 keys (many hits on the same keys and leaves).
pub fn matches_model_small_keyspace(b: &dyn Backend) {
    random_runs(b, 48, 40, 1..120);
}

/// Random sequences over 5,000 keys (sparse trees, splits far apart).
pub fn matches_model_wide_keyspace(b: &dyn Backend) {
    random_runs(b, 48, 5000, 1..80);
}

/// Cases random runs once found (kept from the proptest regression file).
pub fn past_failures(b: &dyn Backend) {
    let slot4 = |values| StoreOptions {
        slot_length: 4,
        values,
        ..Default::default()
    };
    run(
        b,
        slot4(ValuePlacement::Big),
        vec![
            Act::Add(23, 0),
            Act::Commit,
            Act::Reopen,
            Act::CursorUpdate(23, 0),
        ],
    );
    run(
        b,
        slot4(ValuePlacement::Inline),
        vec![Act::Upsert(0, 0), Act::Add(0, 0), Act::Range(8, 8, false)],
    );
}

/// One store of 2,000-item leaves: bulk inserts, then thousands of removals.
pub fn big_slot_length_many_items(b: &dyn Backend) {
    let opts = StoreOptions {
        slot_length: 2000,
        ..Default::default()
    };
    let mut acts: Vec<Act> = (0..20).map(|i| Act::Bulk(i * 7 % 20, 299)).collect();
    acts.push(Act::Commit);
    acts.extend((0..3000).map(|i| Act::Remove((i * 7919) % 20_000)));
    acts.push(Act::Commit);
    run(b, opts, acts);
}
