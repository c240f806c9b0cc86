//! The README's "Search" examples, as written there (the folder aside, and
//! `println!` collected instead of printed).

use sop::{Database, DbOptions, TxMode};
use sop_search::{IndexConfig, TextIndex, TokenizerConfig};

type R<T> = Result<T, Box<dyn std::error::Error>>;

fn text_example(path: &std::path::Path, out: &mut Vec<String>) -> R<Database> {
    let db = Database::open(path, DbOptions::default())?;
    let tx = db.begin(TxMode::ForWriting)?;
    let mut cfg = IndexConfig::new(&["title", "body"]);
    cfg.fields[0].boost = 2.0;
    cfg.tokenizer = TokenizerConfig::english(); // lower-case, Snowball stemming, stop words
    let index = TextIndex::create(&tx, "articles", cfg)?; // later: TextIndex::open(&tx, "articles")
    let articles = tx.create_store::<u64, String>("articles", Default::default())?;
    let body = "Nodes are immutable blobs in a folder";
    articles.add(&1, &body.to_string())?; // the data ...
    index.add(&tx, 1u64, &[("title", "B-trees"), ("body", body)])?; // ... and its index entries
    tx.commit()?; // commit together

    let tx = db.begin(TxMode::NoCheck)?; // search outside write transactions
    let q = index.parse("+immutable blob*", false)?;
    for hit in index.search_query(&tx, &q, 10)? {
        let text = tx
            .open_store::<u64, String>("articles")?
            .get(&1)?
            .unwrap_or_default();
        out.push(format!(
            "{} {:.3} {}",
            hit.id,
            hit.score,
            index.snippet(&q, &text, 120).marked("<b>", "</b>")
        ));
    }
    drop(tx);
    Ok(db)
}

fn vector_example(db: &Database) -> R<Vec<sop_search::VectorHit>> {
    use sop_search::{Metric, VectorConfig, VectorStore};

    let tx = db.begin(TxMode::ForWriting)?;
    let vs = VectorStore::create(&tx, "emb", VectorConfig::new(3, Metric::Cosine))?;
    vs.upsert(
        &tx,
        1u64,
        &[0.1, 0.9, 0.0],
        &serde_json::json!({"lang": "en"}),
    )?;
    vs.rebuild(&tx, 256, 10, 1)?; // k-means: 256 lists (again after much drift)
    tx.commit()?;
    let tx = db.begin(TxMode::NoCheck)?;
    let en = |p: &serde_json::Value| p["lang"] == "en";
    let hits = vs.search(&tx, &[0.1, 0.8, 0.1], 10, 8, Some(&en))?; // top 10, probe 8 lists
    Ok(hits)
}

#[test]
fn the_readme_search_examples_run() {
    let readme = include_str!("../../../README.md");
    for line in [
        r#"let index = TextIndex::create(&tx, "articles", cfg)?;"#,
        r#"index.add(&tx, 1u64, &[("title", "B-trees"), ("body", body)])?;"#,
        r#"let q = index.parse("+immutable blob*", false)?;"#,
        r#"for hit in index.search_query(&tx, &q, 10)? {"#,
        r#"vs.upsert(&tx, 1u64, &[0.1, 0.9, 0.0], &serde_json::json!({"lang": "en"}))?;"#,
        r#"let hits = vs.search(&tx, &[0.1, 0.8, 0.1], 10, 8, Some(&en))?;"#,
    ] {
        assert!(
            readme.contains(line),
            "the README no longer has {line:?}: update both"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![];
    let db = text_example(dir.path(), &mut out).unwrap();
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].starts_with("1 "), "{out:?}");
    assert!(
        out[0].ends_with("Nodes are <b>immutable</b> <b>blobs</b> in a folder"),
        "{out:?}"
    );
    let hits = vector_example(&db).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id, 1u64.into());
}
