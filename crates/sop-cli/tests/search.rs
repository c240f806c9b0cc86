//! `sop index` and `sop search`: a text index built from a JSON store, queried
//! with items shown, rebuilt after the store changed, and bad input refused.

mod support;

use serde_json::json;
use support::{exits, ok, ok_json};

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
            "index",
            "create",
            "idx",
            "--fields",
            "title,body",
            "--stem",
            "--store",
            "docs",
        ],
    );
    assert_eq!(made["indexed"], json!(3));
    let got = ok_json(&db, &["search", "idx", "folder", "--store", "docs"]);
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
    let got = ok_json(&db, &["search", "idx", "tree +rust"]);
    assert_eq!(
        got["hits"],
        json!([{"id": "a", "score": got["hits"][0]["score"]}])
    );
    let got = ok_json(&db, &["search", "idx", "folder redis", "--all"]);
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
    let built = ok_json(
        &db,
        &["index", "build", "idx", "--store", "docs", "--batch", "2"],
    );
    assert_eq!(built["indexed"], json!(4));
    let got = ok_json(&db, &["search", "idx", "redis"]);
    assert_eq!(got["hits"], json!([]));
    let st = ok_json(&db, &["index", "stats", "idx"]);
    assert_eq!(st["docs"], json!(4));

    // Bad input: exit 2 with the reason; a missing index: exit 1, named.
    exits(
        &db,
        &["search", "idx", "\"unclosed"],
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
        &["index", "create", "bad", "--fields", "a b"],
        2,
        "white space",
    );
    ok(&db, &["store", "create", "dups"]);
    exits(
        &db,
        &["index", "build", "idx", "--store", "dups"],
        2,
        "allows duplicate keys",
    );
    ok(&db, &["index", "drop", "idx"]);
    exits(&db, &["search", "idx", "x"], 1, "no text index");
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
