//! `sop index text|vector` and `sop search` / `sop vector search`: a text index
//! built from a JSON store, queried with items shown, rebuilt after the store
//! changed; a vector index loaded from a field of the store and from JSON lines,
//! searched exactly (brute force over the test's own vectors) and with a filter;
//! hybrid search; bad input refused and changing nothing.

mod support;

use serde_json::json;
use support::{exits, ok, ok_bytes, ok_json};

#[test]
fn index_a_store_search_it_and_rebuild_after_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    ok(&db, &["store", "create", "docs", "--unique"]);
    let docs = [
        ("a", "Rust B-trees", "immutable nodes in a folder"),
        ("b", "Go original", "the folder and Redis"),
        ("c", "Indexes", "BM25 text search on trees"),
    ];
    for (k, t, b) in docs {
        let v = json!({"title": t, "body": b}).to_string();
        ok(&db, &["put", "docs", &format!("\"{k}\""), &v]);
    }
    let made = ok_json(
        &db,
        &[
            "index", "text", "create", "docs", "--field", "title", "--field", "body", "--stem",
        ],
    );
    assert_eq!(made["indexed"], json!(3));
    let got = ok_json(&db, &["search", "docs", "folder"]);
    let ids: Vec<_> = got["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].clone())
        .collect();
    assert_eq!(ids.len(), 2, "{got}");
    assert!(
        ids.contains(&json!("a")) && ids.contains(&json!("b")),
        "{got}"
    );
    let body = got["hits"][0]["value"]["body"].as_str().unwrap();
    assert!(body.contains("folder"), "the hit's item: {got}");
    // Stemming: "tree" finds "trees"; +must narrows; --all requires every word.
    let got = ok_json(&db, &["search", "docs", "tree +rust"]);
    assert_eq!(got["hits"].as_array().unwrap().len(), 1, "{got}");
    assert_eq!(got["hits"][0]["id"], json!("a"));
    let got = ok_json(&db, &["search", "docs", "folder redis", "--all"]);
    assert_eq!(got["hits"].as_array().unwrap().len(), 1);
    assert_eq!(got["hits"][0]["id"], json!("b"));

    // A change through another tool is indexed by the next build.
    ok(
        &db,
        &[
            "put",
            "docs",
            "\"b\"",
            r#"{"title":"Go original","body":"no more"}"#,
        ],
    );
    ok(
        &db,
        &[
            "put",
            "docs",
            "\"d\"",
            r#"{"title":"Folders","body":"a folder"}"#,
        ],
    );
    let built = ok_json(&db, &["index", "text", "build", "docs", "--batch", "2"]);
    assert_eq!(built["indexed"], json!(4));
    let got = ok_json(&db, &["search", "docs", "redis"]);
    assert_eq!(got["hits"], json!([]));
    let st = ok_json(&db, &["index", "text", "stats", "docs"]);
    assert_eq!(st["docs"], json!(4));

    // Bad input: exit 2 with the reason; a missing index: exit 1, named.
    exits(
        &db,
        &["search", "docs", "\"unclosed"],
        2,
        "unterminated quote",
    );
    exits(
        &db,
        &["search", "nope", "x"],
        1,
        "no text index named \"nope\"",
    );
    exits(
        &db,
        &[
            "index", "text", "create", "docs", "--name", "bad", "--field", "a b",
        ],
        2,
        "white space",
    );
    ok(&db, &["store", "create", "dups"]);
    exits(
        &db,
        &["index", "text", "create", "dups", "--field", "a"],
        2,
        "allows duplicate keys",
    );
    ok(&db, &["index", "text", "drop", "docs"]);
    exits(&db, &["search", "docs", "x"], 1, "no text index");
    // The data stays; the index's stores are gone.
    let stores = ok_json(&db, &["store", "list"]);
    let names: Vec<&str> = stores
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["docs", "dups"]);
    assert_eq!(stores[0]["items"], json!(4));
}

/// Deterministic pseudo-random numbers in [0, 1).
fn lcg(state: &mut u64) -> f32 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ((*state >> 40) as f32) / (1u64 << 24) as f32
}

/// The `k` ids nearest to `q` by L2 among `items` that pass `keep`.
fn nearest(items: &[(String, Vec<f32>, &str)], q: &[f32], k: usize, keep: &str) -> Vec<String> {
    let mut d: Vec<(f64, &String)> = items
        .iter()
        .filter(|(_, _, lang)| keep.is_empty() || *lang == keep)
        .map(|(id, v, _)| {
            let s: f64 = v.iter().zip(q).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
            (s, id)
        })
        .collect();
    d.sort_by(|a, b| a.0.total_cmp(&b.0));
    d.into_iter().take(k).map(|x| x.1.clone()).collect()
}

fn hit_ids(got: &serde_json::Value) -> Vec<String> {
    got["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn vector_index_from_a_store_and_json_lines_with_filters_and_hybrid_search() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    ok(&db, &["init"]);
    ok(&db, &["store", "create", "vecs", "--unique"]);
    let mut st = 26u64;
    let mut items = Vec::new();
    let mut lines = String::new();
    for i in 0..60 {
        let v: Vec<f32> = (0..4).map(|_| lcg(&mut st) * 4.0 - 2.0).collect();
        let lang = if i % 2 == 0 { "en" } else { "de" };
        let id = format!("k{i:02}");
        let title = if i % 3 == 0 {
            "red apple"
        } else {
            "green pear"
        };
        let item = json!({"emb": v, "lang": lang, "title": title});
        lines.push_str(&json!({"id": id, "vector": v, "payload": {"lang": lang}}).to_string());
        lines.push('\n');
        ok_bytes(
            &db,
            &["put", "vecs", &format!("\"{id}\""), &item.to_string()],
            None,
        );
        items.push((id, v, lang));
    }
    let made = ok_json(
        &db,
        &[
            "index", "vector", "create", "vecs", "--dim", "4", "--metric", "l2", "--field", "emb",
        ],
    );
    assert_eq!(made["loaded"], json!(60), "{made}");
    assert_eq!(made["lists"], json!(8), "{made}");
    let q = [0.5f32, -0.25, 1.0, 0.0];
    let qs = json!(q).to_string();
    // Every list probed: exactly the brute force.
    let all = ["--nprobe", "100"];
    let got = ok_json(
        &db,
        &[
            &["vector", "search", "vecs", "--vector", &qs, "-k", "5"][..],
            &all,
        ]
        .concat(),
    );
    assert_eq!(hit_ids(&got), nearest(&items, &q, 5, ""), "{got}");
    let p = &got["hits"][0]["payload"];
    assert!(p.get("emb").is_none() && p.get("lang").is_some(), "{p}");
    let got = ok_json(
        &db,
        &[
            &["vector", "search", "vecs", "--vector", &qs, "-k", "5"][..],
            &all,
            &["--filter", r#"{"lang":"en"}"#],
        ]
        .concat(),
    );
    assert_eq!(hit_ids(&got), nearest(&items, &q, 5, "en"), "{got}");
    let st = ok_json(&db, &["index", "vector", "stats", "vecs"]);
    assert_eq!(st["vectors"], json!(60));

    // Hybrid: text hits and vector hits fused, both filtered by the payload.
    ok(
        &db,
        &["index", "text", "create", "vecs", "--field", "title"],
    );
    let got = ok_json(
        &db,
        &[
            "search",
            "vecs",
            "apple",
            "--vector",
            &qs,
            "--filter",
            r#"{"lang":"en"}"#,
            "-k",
            "30",
            "--nprobe",
            "100",
        ],
    );
    let hits = got["hits"].as_array().unwrap();
    assert!(!hits.is_empty(), "{got}");
    for h in hits {
        assert_eq!(h["payload"]["lang"], json!("en"), "{got}");
        assert_eq!(h["value"]["lang"], json!("en"), "{got}");
    }
    // Apples in English: i % 6 == 0, ten of them, all in the text list.
    let text_ranked = hits.iter().filter(|h| !h["text_rank"].is_null()).count();
    assert_eq!(text_ranked, 10, "{got}");
    let both = &hits[0];
    assert!(
        !both["text_rank"].is_null() && !both["vector_rank"].is_null(),
        "the best fused hit is in both lists: {got}"
    );

    // JSON lines into an index of its own; a bad line changes nothing.
    ok(
        &db,
        &[
            "index",
            "vector",
            "create",
            "lines",
            "--dim",
            "4",
            "--quantize",
        ],
    );
    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, &lines).unwrap();
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, format!("{lines}{{\"id\":\"x\",\"vector\":[1,2]}}\n")).unwrap();
    exits(
        &db,
        &[
            "index",
            "vector",
            "load",
            "lines",
            "--file",
            bad.to_str().unwrap(),
        ],
        2,
        "line 61: \"vector\" is not an array of 4 numbers",
    );
    assert_eq!(
        ok_json(&db, &["index", "vector", "stats", "lines"])["vectors"],
        json!(0)
    );
    let loaded = ok_json(
        &db,
        &[
            "index",
            "vector",
            "load",
            "lines",
            "--file",
            good.to_str().unwrap(),
        ],
    );
    assert_eq!(loaded["loaded"], json!(60));
    // Cosine: the nearest by angle, here checked against the store's own order.
    let got = ok_json(
        &db,
        &[
            &["vector", "search", "lines", "--vector", &qs, "-k", "3"][..],
            &all,
        ]
        .concat(),
    );
    assert_eq!(hit_ids(&got).len(), 3);
    assert_eq!(got["hits"][0]["payload"].as_object().unwrap().len(), 1);

    // Bad input: exit 2 and why; a missing index: exit 1.
    exits(
        &db,
        &["vector", "search", "vecs", "--vector", "[1,2]"],
        2,
        "the store has 4",
    );
    exits(
        &db,
        &[
            "vector",
            "search",
            "vecs",
            "--vector",
            &qs,
            "--filter",
            "{\"a\":{\"$zz\":1}}",
        ],
        2,
        "unknown operator",
    );
    exits(
        &db,
        &["vector", "search", "vecs", "--vector", "x"],
        2,
        "not JSON",
    );
    exits(
        &db,
        &["vector", "search", "nope", "--vector", &qs],
        1,
        "no vector index named \"nope\"",
    );
    exits(
        &db,
        &[
            "index", "vector", "create", "z", "--dim", "4", "--metric", "hamming",
        ],
        2,
        "cosine, dot or l2",
    );
    ok(&db, &["index", "vector", "drop", "lines"]);
    exits(
        &db,
        &["vector", "search", "lines", "--vector", &qs],
        1,
        "no vector index",
    );
}
