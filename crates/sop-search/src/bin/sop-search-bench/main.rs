//! sop-search-bench: SopSearch side by side with Tantivy on the Debian package
//! descriptions (`apt-cache dumpavail`): indexing documents/s, query p50/p99,
//! index bytes, and the top-10 overlap with Tantivy's BM25 over the same tokens.
//!
//! cargo run --release -p sop-search --features bench --bin sop-search-bench -- [--queries 200] [--seed 26] [--batch 1000] [--writers 1 | --processes N] [--dir DIR]
//!
//! `--exhaustive` times `search_exhaustive` (every posting scored) instead of the pruned search.
//!
//! Vectors (`vectors.rs`): `-- --vectors N | --debian-vectors [--quantize] [--faiss PYTHON]`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sop::{Database, DbOptions, TxMode};
use sop_search::{DocId, IndexConfig, SearchOptions, TextIndex, Tokenizer, TokenizerConfig};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING,
};
use tantivy::{doc, Index, TantivyDocument, Term};

mod vectors;

struct Doc {
    name: String,
    desc: String,
}

/// Package and Description (synopsis and any continuation lines) of each
/// paragraph; the first paragraph of each package name only.
fn corpus() -> Vec<Doc> {
    let out = std::process::Command::new("apt-cache")
        .arg("dumpavail")
        .output()
        .expect("run apt-cache dumpavail");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut seen = HashSet::new();
    let mut docs = Vec::new();
    for para in text.split("\n\n") {
        let mut name = None;
        let mut desc = String::new();
        let mut in_desc = false;
        for line in para.lines() {
            if let Some(rest) = line.strip_prefix("Package: ") {
                name = Some(rest.trim().to_string());
                in_desc = false;
            } else if let Some(rest) = line.strip_prefix("Description: ") {
                desc.push_str(rest.trim());
                in_desc = true;
            } else if in_desc && line.starts_with(' ') {
                let l = line.trim();
                if l != "." {
                    desc.push('\n');
                    desc.push_str(l);
                }
            } else {
                in_desc = false;
            }
        }
        if let Some(name) = name {
            if seen.insert(name.clone()) {
                docs.push(Doc { name, desc });
            }
        }
    }
    docs
}

fn dir_bytes(p: &Path) -> u64 {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(p) {
        for e in rd.flatten() {
            let m = e.metadata().unwrap();
            n += if m.is_dir() {
                dir_bytes(&e.path())
            } else {
                m.len()
            };
        }
    }
    n
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1e3
}

// ------------------------------------------------------------- Tantivy side

/// Our tokenizer inside Tantivy, so both engines index the same tokens at the same positions.
#[derive(Clone)]
struct SopTok(Arc<Tokenizer>);

struct SopStream {
    toks: Vec<tantivy::tokenizer::Token>,
    i: usize,
}

impl tantivy::tokenizer::Tokenizer for SopTok {
    type TokenStream<'a> = SopStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> SopStream {
        let toks = self
            .0
            .tokens(text)
            .into_iter()
            .map(|t| tantivy::tokenizer::Token {
                offset_from: t.start,
                offset_to: t.end,
                position: t.position as usize,
                text: t.term,
                position_length: 1,
            })
            .collect();
        SopStream { toks, i: 0 }
    }
}

impl tantivy::tokenizer::TokenStream for SopStream {
    fn advance(&mut self) -> bool {
        self.i += 1;
        self.i <= self.toks.len()
    }
    fn token(&self) -> &tantivy::tokenizer::Token {
        &self.toks[self.i - 1]
    }
    fn token_mut(&mut self) -> &mut tantivy::tokenizer::Token {
        &mut self.toks[self.i - 1]
    }
}

/// Index writer `w` of `n`'s slice of the corpus (ids: the position in the
/// corpus) in transactions of `batch` documents; returns the conflicts retried.
fn ingest(db: &Database, docs: &[Doc], w: usize, n: usize, batch: usize) -> u64 {
    let per = docs.len().div_ceil(n);
    let base = (w * per).min(docs.len());
    let mine = &docs[base..((w + 1) * per).min(docs.len())];
    let mut conflicts = 0;
    let mut at = 0;
    while at < mine.len() {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let index = TextIndex::open(&tx, "debian").unwrap();
        let mut b = index.batch(&tx).unwrap();
        let end = (at + batch).min(mine.len());
        for (i, d) in mine[at..end].iter().enumerate() {
            b.add(
                (base + at + i) as u64,
                &[("name", &d.name), ("desc", &d.desc)],
            )
            .unwrap();
        }
        match tx.commit() {
            Ok(()) => at = end,
            Err(e) if e.is_conflict() => conflicts += 1,
            Err(e) => panic!("commit: {e}"),
        }
    }
    conflicts
}

fn main() {
    let mut queries_n = 200usize;
    let mut seed = 26u64;
    let mut batch = 1000usize;
    let mut writers = 1usize;
    let mut dir: Option<PathBuf> = None;
    let mut processes = 0usize;
    let mut vectors = 0usize;
    let mut debian_vectors = false;
    let mut quantize = false;
    let mut exhaustive = false;
    let mut faiss: Option<String> = None;
    let mut child: Option<String> = None;
    let mut db_path: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut v = || args.next().expect("a value");
        match a.as_str() {
            "--queries" => queries_n = v().parse().unwrap(),
            "--seed" => seed = v().parse().unwrap(),
            "--batch" => batch = v().parse().unwrap(),
            "--writers" => writers = v().parse().unwrap(),
            "--dir" => dir = Some(PathBuf::from(v())),
            "--processes" => processes = v().parse().unwrap(),
            "--vectors" => vectors = v().parse().unwrap(),
            "--debian-vectors" => debian_vectors = true,
            "--quantize" => quantize = true,
            "--exhaustive" => exhaustive = true,
            "--faiss" => faiss = Some(v()),
            "--child" => child = Some(v()),
            "--db" => db_path = Some(PathBuf::from(v())),
            _ => panic!("unknown argument {a}"),
        }
    }
    if let Some(c) = child {
        let (w, n) = c.split_once('/').unwrap();
        let (w, n): (usize, usize) = (w.parse().unwrap(), n.parse().unwrap());
        let docs = corpus();
        let db = Database::open(
            db_path.expect("--db"),
            DbOptions {
                recovery_interval: None,
                ..Default::default()
            },
        )
        .unwrap();
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        };
        let start = now();
        let c = ingest(&db, &docs, w, n, batch);
        println!("{start} {} {c}", now());
        return;
    }
    let tmp = tempfile::tempdir_in(dir.clone().unwrap_or_else(std::env::temp_dir)).unwrap();
    if vectors > 0 || debian_vectors {
        let set = if debian_vectors {
            vectors::debian(&corpus(), seed)
        } else {
            vectors::synthetic(vectors, seed)
        };
        vectors::run(tmp.path(), &set, seed, quantize, faiss.as_deref());
        return;
    }
    let docs = corpus();
    let words: usize = docs.iter().map(|d| d.desc.split_whitespace().count()).sum();
    println!(
        "corpus: {} documents (apt-cache dumpavail), {:.1} description words per document",
        docs.len(),
        words as f64 / docs.len() as f64
    );
    let tcfg = TokenizerConfig::default();
    let tok = Tokenizer::new(tcfg.clone());

    // ---------------------------------------------------------------- SOP
    let sop_dir = tmp.path().join("sop");
    let db = Database::open(
        &sop_dir,
        DbOptions {
            recovery_interval: None,
            ..Default::default()
        },
    )
    .unwrap();
    let mut cfg = IndexConfig::new(&["name", "desc"]);
    cfg.tokenizer = tcfg.clone();
    {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        TextIndex::create(&tx, "debian", cfg).unwrap();
        tx.commit().unwrap();
    }
    let t0 = Instant::now();
    let mut conflicts = 0u64;
    let mut sop_index_s = 0.0;
    if processes > 0 {
        // Writer processes: this binary again, each indexing its slice; the time is
        // from the first child's first transaction to the last child's last commit.
        let exe = std::env::current_exe().unwrap();
        let kids: Vec<_> = (0..processes)
            .map(|w| {
                std::process::Command::new(&exe)
                    .args([
                        "--child",
                        &format!("{w}/{processes}"),
                        "--batch",
                        &batch.to_string(),
                    ])
                    .arg("--db")
                    .arg(&sop_dir)
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let (mut first, mut last) = (u128::MAX, 0u128);
        for k in kids {
            let out = k.wait_with_output().unwrap();
            assert!(out.status.success(), "a writer process failed");
            let text = String::from_utf8_lossy(&out.stdout);
            let f: Vec<u128> = text.trim().split(' ').map(|x| x.parse().unwrap()).collect();
            first = first.min(f[0]);
            last = last.max(f[1]);
            conflicts += f[2] as u64;
        }
        sop_index_s = (last - first) as f64 / 1e9;
    } else {
        let c = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for w in 0..writers {
                let (db, docs, c) = (&db, &docs, &c);
                s.spawn(move || {
                    c.fetch_add(
                        ingest(db, docs, w, writers, batch),
                        std::sync::atomic::Ordering::Relaxed,
                    )
                });
            }
        });
        conflicts = c.into_inner();
    }
    if processes == 0 {
        sop_index_s = t0.elapsed().as_secs_f64();
    }
    let writers_desc = if processes > 0 {
        format!("{processes} writer process(es)")
    } else {
        format!("{writers} writer thread(s)")
    };
    {
        let tx = db.begin(TxMode::ForWriting).unwrap();
        let index = TextIndex::open(&tx, "debian").unwrap();
        index.compact_stats(&tx).unwrap();
        tx.commit().unwrap();
    }
    let sop_bytes = dir_bytes(&sop_dir);
    let live: u64 = db
        .stats()
        .unwrap()
        .stores
        .iter()
        .filter(|s| s.info.name.starts_with("debian.text."))
        .map(|s| s.node_bytes)
        .sum();
    let items: Vec<(String, u64)> = db
        .stats()
        .unwrap()
        .stores
        .iter()
        .map(|s| (s.info.name.clone(), s.items))
        .collect();
    let t = Instant::now();
    db.compact().unwrap();
    let compact_s = t.elapsed().as_secs_f64();
    let sop_compacted = dir_bytes(&sop_dir);
    println!(
        "sop: indexed in {:.2} s ({:.0} docs/s, {}, batches of {batch}, {} conflicts); \
         folder {} bytes after ingest, {} after Database::compact ({:.1} s); live index node bytes {}; items {:?}",
        sop_index_s,
        docs.len() as f64 / sop_index_s,
        writers_desc,
        conflicts,
        sop_bytes,
        sop_compacted,
        compact_s,
        live,
        items
    );

    // ------------------------------------------------------------ Tantivy
    let tan_threads = if processes > 0 { processes } else { writers };
    let tan_dir = tmp.path().join("tantivy");
    std::fs::create_dir_all(&tan_dir).unwrap();
    let mut sb = Schema::builder();
    let ix = TextFieldIndexing::default()
        .set_tokenizer("sop")
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let id_f = sb.add_text_field("id", STRING | STORED);
    let name_f = sb.add_text_field(
        "name",
        TextOptions::default().set_indexing_options(ix.clone()),
    );
    let desc_f = sb.add_text_field("desc", TextOptions::default().set_indexing_options(ix));
    let tindex = Index::create_in_dir(&tan_dir, sb.build()).unwrap();
    tindex
        .tokenizers()
        .register("sop", SopTok(Arc::new(tok.clone())));
    let t0 = Instant::now();
    let mut w: tantivy::IndexWriter = tindex
        .writer_with_num_threads(tan_threads, 100_000_000 * tan_threads)
        .unwrap();
    for (i, d) in docs.iter().enumerate() {
        w.add_document(
            doc!(id_f => i.to_string(), name_f => d.name.as_str(), desc_f => d.desc.as_str()),
        )
        .unwrap();
    }
    w.commit().unwrap();
    w.wait_merging_threads().unwrap();
    let tan_index_s = t0.elapsed().as_secs_f64();
    let tan_bytes = dir_bytes(&tan_dir);
    println!(
        "tantivy: indexed in {:.2} s ({:.0} docs/s, {} indexing thread(s)); {} bytes",
        tan_index_s,
        docs.len() as f64 / tan_index_s,
        tan_threads,
        tan_bytes
    );
    let reader = tindex.reader().unwrap();
    let searcher = reader.searcher();

    // ------------------------------------------------------------ queries
    // Terms of random documents' descriptions (seeded): half one term, half two.
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut queries: Vec<Vec<String>> = Vec::new();
    while queries.len() < queries_n {
        let d = &docs[rng.usize(0..docs.len())];
        let terms: Vec<String> = tok
            .tokens(&d.desc)
            .into_iter()
            .map(|t| t.term)
            .filter(|t| t.chars().all(char::is_alphanumeric))
            .collect();
        let want = if queries.len() < queries_n / 2 { 1 } else { 2 };
        if terms.len() < want {
            continue;
        }
        let mut q = vec![terms[rng.usize(0..terms.len())].clone()];
        if want == 2 {
            let t = terms[rng.usize(0..terms.len())].clone();
            if t == q[0] {
                continue;
            }
            q.push(t);
        }
        queries.push(q);
    }
    let tq = |q: &[String]| -> Box<dyn Query> {
        let mut cl: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in q {
            for f in [name_f, desc_f] {
                cl.push((
                    Occur::Should,
                    Box::new(TermQuery::new(
                        Term::from_field_text(f, t),
                        IndexRecordOption::WithFreqs,
                    )),
                ));
            }
        }
        Box::new(BooleanQuery::new(cl))
    };
    let top10 = SearchOptions {
        k: 10,
        default_and: false,
    };
    let run_sop = |q: &[String]| -> Vec<(DocId, f64)> {
        let tx = db.begin(TxMode::NoCheck).unwrap();
        let index = TextIndex::open(&tx, "debian").unwrap();
        let hits = if exhaustive {
            let parsed = index.parse(&q.join(" "), false).unwrap();
            index.search_exhaustive(&tx, &parsed, top10.k)
        } else {
            index.search(&tx, &q.join(" "), &top10)
        };
        hits.unwrap().into_iter().map(|h| (h.id, h.score)).collect()
    };
    let run_tan = |q: &[String]| -> Vec<(u64, f32)> {
        searcher
            .search(&*tq(q), &TopDocs::with_limit(10))
            .unwrap()
            .into_iter()
            .map(|(s, a)| {
                let d: TantivyDocument = searcher.doc(a).unwrap();
                (
                    d.get_first(id_f)
                        .and_then(|v| v.as_str())
                        .unwrap()
                        .parse()
                        .unwrap(),
                    s,
                )
            })
            .collect()
    };
    // Warm both, then time.
    for q in &queries {
        run_sop(q);
        run_tan(q);
    }
    let (mut ts, mut tt) = (Vec::new(), Vec::new());
    let mut overlap = 0.0;
    let mut tie_overlap = 0.0;
    let mut slow: Vec<(Duration, String)> = Vec::new();
    let mut hits = 0usize;
    let mut max_rel = 0f64;
    let mut worst: Vec<(f64, String)> = Vec::new();
    for q in &queries {
        let t = Instant::now();
        let a = run_sop(q);
        ts.push(t.elapsed());
        slow.push((t.elapsed(), q.join(" ")));
        let t = Instant::now();
        let b = run_tan(q);
        tt.push(t.elapsed());
        let sa: HashSet<u64> = a
            .iter()
            .map(|(d, _)| match d {
                DocId::U64(v) => *v,
                _ => u64::MAX,
            })
            .collect();
        hits += b.len();
        for ((_, x), (_, y)) in a.iter().zip(&b) {
            max_rel = max_rel.max((x - *y as f64).abs() / (*y as f64).max(1e-9));
        }
        let hit = b.iter().filter(|(d, _)| sa.contains(d)).count();
        let o = if b.is_empty() && a.is_empty() {
            1.0
        } else {
            hit as f64 / b.len().max(a.len()) as f64
        };
        // Tie-aware: a SOP hit missing from Tantivy's list whose score equals
        // Tantivy's last score (within f32 precision) is a tie cut differently.
        let sb: HashSet<u64> = b.iter().map(|(d, _)| *d).collect();
        let cut = b.last().map_or(f64::NAN, |x| x.1 as f64);
        let tied = a
            .iter()
            .filter(|(d, sc)| {
                let d = match d {
                    DocId::U64(v) => *v,
                    _ => u64::MAX,
                };
                !sb.contains(&d) && ((sc - cut).abs() / cut.abs().max(1e-9)) < 1e-5
            })
            .count();
        tie_overlap += if b.is_empty() && a.is_empty() {
            1.0
        } else {
            (hit + tied) as f64 / b.len().max(a.len()) as f64
        };
        overlap += o;
        worst.push((o, q.join(" ")));
    }
    overlap /= queries.len() as f64;
    tie_overlap /= queries.len() as f64;
    worst.sort_by(|a, b| a.0.total_cmp(&b.0));
    let by: HashMap<usize, usize> = queries.iter().fold(HashMap::new(), |mut m, q| {
        *m.entry(q.len()).or_default() += 1;
        m
    });
    println!(
        "queries: {} ({} one-term, {} two-term, OR over name and desc, seed {seed})",
        queries.len(),
        by.get(&1).unwrap_or(&0),
        by.get(&2).unwrap_or(&0)
    );
    println!(
        "top-10 overlap with tantivy: {overlap:.4}; counting ties at the 10th score as equal: {tie_overlap:.4} ({:.1} tantivy hits per query; largest relative score difference at equal rank {max_rel:.2e})",
        hits as f64 / queries.len() as f64
    );
    println!("lowest overlaps: {:?}", &worst[..5.min(worst.len())]);
    slow.sort_by_key(|s| std::cmp::Reverse(s.0));
    println!("slowest sop queries: {:?}", &slow[..5.min(slow.len())]);
    println!(
        "sop query ms: p50 {:.3} p99 {:.3}",
        pct(&mut ts, 0.5),
        pct(&mut ts, 0.99)
    );
    println!(
        "tantivy query ms: p50 {:.3} p99 {:.3}",
        pct(&mut tt, 0.5),
        pct(&mut tt, 0.99)
    );
}
