//! The query language end to end: boolean clauses, phrases, prefixes, fields and
//! boosts, default AND, snippets, string ids, and errors for bad queries.

use sop::{Database, DbOptions, TxMode};
use sop_search::{DocId, IndexConfig, SearchError, SearchOptions, TextIndex, TokenizerConfig};

fn ids(h: &[sop_search::Hit]) -> Vec<String> {
    let mut v: Vec<String> = h.iter().map(|h| h.id.to_string()).collect();
    v.sort();
    v
}

fn setup() -> (tempfile::TempDir, Database, TextIndex) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(
        dir.path(),
        DbOptions {
            recovery_interval: None,
            ..Default::default()
        },
    )
    .unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let mut cfg = IndexConfig::new(&["title", "body"]);
    cfg.tokenizer = TokenizerConfig::english();
    let index = TextIndex::create(&tx, "ix", cfg).unwrap();
    let docs = [
        (
            "vim",
            "Vim editor",
            "Vi IMproved, a highly configurable text editor for programmers",
        ),
        (
            "emacs",
            "GNU Emacs",
            "The extensible, customizable text editor and more",
        ),
        (
            "nano",
            "nano",
            "Small and friendly text editor inspired by Pico",
        ),
        (
            "gcc",
            "GNU C compiler",
            "The GNU compiler collection for C and C++ programs",
        ),
        (
            "rustc",
            "Rust compiler",
            "Compiler for the Rust programming language",
        ),
        (
            "ed",
            "ed",
            "The classic UNIX line editor; end of line handling",
        ),
    ];
    for (id, t, b) in docs {
        index.add(&tx, id, &[("title", t), ("body", b)]).unwrap();
    }
    tx.commit().unwrap();
    (dir, db, index)
}

#[test]
fn boolean_phrase_prefix_field_boost() {
    let (_d, db, index) = setup();
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s = |q: &str| {
        index
            .search(
                &tx,
                q,
                &SearchOptions {
                    k: 100,
                    default_and: false,
                },
            )
            .unwrap()
    };
    let and = |q: &str| {
        index
            .search(
                &tx,
                q,
                &SearchOptions {
                    k: 100,
                    default_and: true,
                },
            )
            .unwrap()
    };
    // OR by default; stemming: "editors" finds "editor".
    assert_eq!(
        ids(&s("editors compiler")),
        ["ed", "emacs", "gcc", "nano", "rustc", "vim"]
    );
    assert_eq!(ids(&and("text editor")), ["emacs", "nano", "vim"]);
    assert_eq!(ids(&s("+text +editor -gnu")), ["nano", "vim"]);
    assert_eq!(ids(&s("+compiler rust")), ["gcc", "rustc"]);
    assert_eq!(s("+compiler rust")[0].id, DocId::from("rustc"));
    // Phrases use positions; a stop word keeps its place.
    assert_eq!(ids(&s("\"text editor\"")), ["emacs", "nano", "vim"]);
    assert_eq!(ids(&s("\"editor text\"")), Vec::<String>::new());
    assert_eq!(ids(&s("\"end of line\"")), ["ed"]);
    assert_eq!(ids(&s("\"end line\"")), Vec::<String>::new());
    // Prefixes range over the terms.
    assert_eq!(ids(&s("progr*")), ["gcc", "rustc", "vim"]);
    assert_eq!(ids(&s("title:comp*")), ["gcc", "rustc"]);
    // Fields and boosts.
    assert_eq!(ids(&s("title:editor")), ["vim"]);
    let plain = s("gnu");
    let boosted = s("title:gnu^3 body:gnu");
    assert_eq!(ids(&plain), ids(&boosted));
    let score =
        |h: &[sop_search::Hit], id: &str| h.iter().find(|x| x.id == id.into()).unwrap().score;
    assert!(score(&boosted, "emacs") > score(&plain, "emacs"));
    // Only stop words: no clause left, no hits.
    assert!(s("the and").is_empty());
    // Top-k is ordered by score.
    let top = index
        .search(
            &tx,
            "editor",
            &SearchOptions {
                k: 2,
                default_and: false,
            },
        )
        .unwrap();
    assert_eq!(top.len(), 2);
    assert!(top[0].score >= top[1].score);
}

#[test]
fn snippets_mark_the_matches() {
    let (_d, _db, index) = setup();
    let q = index.parse("editor progr*", false).unwrap();
    let text = "Vi IMproved, a highly configurable text editor for programmers";
    let sn = index.snippet(&q, text, 200);
    assert_eq!(
        sn.marked("[", "]"),
        "Vi IMproved, a highly configurable text [editor] for [programmers]"
    );
    let long = format!(
        "{} the editor is here {}",
        "filler ".repeat(50),
        "tail ".repeat(50)
    );
    let sn = index.snippet(&q, &long, 40);
    assert!(sn.fragment.len() <= 40, "{:?}", sn.fragment);
    assert!(
        sn.marked("<b>", "</b>").contains("<b>editor</b>"),
        "{:?}",
        sn
    );
}

#[test]
fn bad_queries_are_errors() {
    let (_d, db, index) = setup();
    let tx = db.begin(TxMode::NoCheck).unwrap();
    for q in [
        "",
        "   ",
        "\"unterminated",
        "nosuch:word",
        ":word",
        "title:",
        "+",
        "- x",
        "word^",
        "word^-1",
        "word^abc",
        "*",
        "a*b",
        "x**",
        "title:\"a\"b",
        "foo^2bar",
    ] {
        match index.search(&tx, q, &SearchOptions::default()) {
            Err(SearchError::BadQuery { .. }) => {}
            other => panic!("{q:?}: {other:?}"),
        }
    }
    // Bad writes are errors too, and change nothing.
    let tx = db.begin(TxMode::ForWriting).unwrap();
    assert!(matches!(
        index.add(&tx, "x", &[("nosuch", "a")]),
        Err(SearchError::UnknownField(_))
    ));
    assert!(matches!(
        index.add(&tx, "", &[("body", "a")]),
        Err(SearchError::InvalidDocId(_))
    ));
    assert!(matches!(
        index.add(&tx, "x", &[("body", "a"), ("body", "b")]),
        Err(SearchError::InvalidConfig(_))
    ));
    assert!(!index.contains(&tx, "x").unwrap());
    assert!(matches!(
        TextIndex::create(&tx, "bad", IndexConfig::new(&[])),
        Err(SearchError::InvalidConfig(_))
    ));
    assert!(TextIndex::open(&tx, "nosuch").is_err());
}

#[test]
fn the_configuration_is_stored_with_the_index() {
    let (_d, db, _index) = setup();
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let again = TextIndex::open(&tx, "ix").unwrap();
    assert!(again.config().tokenizer.stem_english);
    // Stemmed by the stored configuration: "programming" finds "programs".
    let h = again
        .search(&tx, "programming", &SearchOptions::default())
        .unwrap();
    assert_eq!(ids(&h), ["gcc", "rustc"]);
}

/// A JSON store and its index written in one transaction: the index reads the
/// documents' fields (a member and a JSON pointer).
#[test]
fn json_store_documents_indexed_in_the_same_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(
        dir.path(),
        DbOptions {
            recovery_interval: None,
            ..Default::default()
        },
    )
    .unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let store = tx
        .create_json_store("pkgs", Default::default(), None)
        .unwrap();
    let index = TextIndex::create(&tx, "pkgs", IndexConfig::new(&["name", "/meta/tags"])).unwrap();
    let docs = [
        serde_json::json!({"name": "vim editor", "meta": {"tags": ["editor", "console"]}}),
        serde_json::json!({"name": "gimp", "meta": {"tags": ["graphics"]}, "size": 3}),
        serde_json::json!({"name": 42}),
    ];
    for (i, d) in docs.iter().enumerate() {
        let key = serde_json::json!(i);
        store.add(&key, d).unwrap();
        index.add_json(&tx, i as u64, d).unwrap();
    }
    tx.commit().unwrap();
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let s = |q: &str| ids(&index.search(&tx, q, &SearchOptions::default()).unwrap());
    assert_eq!(s("editor"), ["0"]);
    assert_eq!(s("/meta/tags:graphics"), ["1"]);
    assert_eq!(s("name:console"), Vec::<String>::new());
    assert_eq!(index.stats(&tx).unwrap().docs, 3);
    assert_eq!(index.json_fields(&docs[2]), vec![]);
}

/// Random queries and snippet sizes (ASCII operators, multi-byte letters, spaces):
/// a result or an error, never a panic.
#[test]
fn random_input_never_panics() {
    let (_d, db, index) = setup();
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let alphabet: Vec<char> = "ab +-\"*^:.,'é漢🙂\t0title body^2".chars().collect();
    let mut rng = fastrand::Rng::with_seed(26);
    let (mut ok, mut err) = (0, 0);
    for _ in 0..3000 {
        let n = rng.usize(0..14);
        let q: String = (0..n)
            .map(|_| alphabet[rng.usize(0..alphabet.len())])
            .collect();
        match index.search(&tx, &q, &SearchOptions::default()) {
            Ok(_) => ok += 1,
            Err(SearchError::BadQuery { .. }) => err += 1,
            Err(e) => panic!("{q:?}: {e}"),
        }
        if let Ok(parsed) = index.parse(&q, false) {
            let sn = index.snippet(&parsed, &q, rng.usize(0..20));
            for (s, e) in &sn.highlights {
                assert!(s < e && *e <= sn.fragment.len());
            }
        }
    }
    assert!(ok > 100 && err > 100, "{ok} {err}");
}

/// The bytes of docs/FORMAT.md's "Text index" example, read through raw stores
/// as another language would.
#[test]
fn format_example_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(
        dir.path(),
        DbOptions {
            recovery_interval: None,
            ..Default::default()
        },
    )
    .unwrap();
    let tx = db.begin(TxMode::ForWriting).unwrap();
    let index = TextIndex::create(&tx, "ix", IndexConfig::new(&["body"])).unwrap();
    index
        .add(&tx, 7u64, &[("body", "x editor y z editor")])
        .unwrap();
    tx.commit().unwrap();
    let tx = db.begin(TxMode::NoCheck).unwrap();
    let postings = tx.open_raw_store("ix.text.postings").unwrap();
    let key = [
        0x62, 0x6F, 0x64, 0x79, 0x00, 0x65, 0x64, 0x69, 0x74, 0x6F, 0x72, 0x00, 0x01, 0, 0, 0, 0,
        0, 0, 0, 0x07,
    ];
    assert_eq!(
        postings.get(&key).unwrap().unwrap().as_ref(),
        [0x05, 0x02, 0x01, 0x03]
    );
    let docs = tx.open_raw_store("ix.text.docs").unwrap();
    let d = docs.get(&key[12..]).unwrap().unwrap();
    // 01 | 1 field | len 5 | 4 terms | "editor" "x" "y" "z"
    assert_eq!(d.as_ref(), b"\x01\x01\x05\x04\x06editor\x01x\x01y\x01z");
    let stats = tx.open_raw_store("ix.text.stats").unwrap();
    let mut vals = vec![];
    stats
        .scan(
            std::ops::Bound::Unbounded,
            std::ops::Bound::Unbounded,
            false,
            |k, v| {
                assert_eq!(k.len(), 16);
                vals.push(v.to_vec());
                true
            },
        )
        .unwrap();
    assert_eq!(
        vals,
        vec![[1i64.to_be_bytes(), 5i64.to_be_bytes()].concat()]
    );
    let meta = tx.open_raw_store("ix.text.meta").unwrap();
    let cfg: serde_json::Value =
        serde_json::from_slice(&meta.get(b"config").unwrap().unwrap()).unwrap();
    assert_eq!(cfg["fields"][0]["name"], "body");
    assert_eq!(cfg["k1"], 1.2);
}
