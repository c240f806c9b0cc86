//! JSON text as callers hand it over (`sop::parse_json`): a key object
//! with a duplicate member is refused (keys must be unambiguous), a lone UTF-16
//! surrogate is named as such, and a key too long for a node says so.

use serde_json::json;
use sop::parse_json;
use sop::{Database, DbOptions, Error, ErrorKind, StoreOptions, TxMode};

#[test]
fn a_duplicate_member_is_refused_at_any_depth() {
    for text in [
        r#"{"a":1,"a":2}"#,
        r#"{"last":"Li","born":1,"last":"Wu"}"#,
        r#"[{"x":{"k":1,"k":1}}]"#,
        r#"{"a":1,"\u0061":2}"#,
    ] {
        let e = parse_json(text).expect_err(text).to_string();
        assert!(e.contains("duplicate member"), "{text}: {e}");
        assert!(
            e.contains("\"a\"") || e.contains("\"k\"") || e.contains("\"last\""),
            "{text}: {e}"
        );
    }
    // Equal names in different objects, and numbers of any precision, are fine.
    let v =
        parse_json(r#"{"a":{"a":1},"b":[{"a":2},{"a":3}],"n":1.500000000000000000001}"#).unwrap();
    assert_eq!(v["b"][1]["a"], json!(3));
    assert_eq!(v["n"].to_string(), "1.500000000000000000001");
}

#[test]
fn a_lone_surrogate_is_named() {
    for text in [
        r#""\ud800""#,
        r#""a\ud800b""#,
        r#"{"k":"\udc00"}"#,
        r#""\uD83D\u0041""#,
    ] {
        let e = parse_json(text).expect_err(text).to_string();
        assert!(e.contains("lone UTF-16 surrogate"), "{text}: {e}");
        assert!(!e.contains("end of hex escape"), "{text}: {e}");
    }
    // A pair is one character.
    assert_eq!(parse_json(r#""\ud83d\ude00""#).unwrap(), json!("😀"));
    // Other errors keep serde_json's words.
    let e = parse_json(r#""\u12""#).unwrap_err().to_string();
    assert!(!e.contains("surrogate"), "{e}");
}

#[test]
fn a_key_too_long_says_so() {
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
    let s = tx
        .create_json_store("s", StoreOptions::default(), None)
        .unwrap();
    let e = s.add(&json!("x".repeat(40_000)), &json!(1)).unwrap_err();
    assert!(matches!(e, Error::KeyTooLong { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let text = e.to_string();
    assert!(text.contains("too long"), "{text}");
    assert!(!text.contains("invalid option"), "{text}");
}
