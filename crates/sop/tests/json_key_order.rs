//! JSON keys: the byte encoding orders exactly like the reference comparison, keys
//! equal under a spec encode equal, and each rule / error of docs/FORMAT.md
//! ("JSON key order") holds.

use proptest::prelude::*;
use serde_json::{json, Number, Value};
use sop::{compare_json_keys, encode_json_key, IndexField, IndexSpec, SortOrder};
use std::cmp::Ordering;

fn lit(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{s:?} is not JSON: {e}"))
}

fn spec(fields: &[(&str, SortOrder)]) -> IndexSpec {
    IndexSpec {
        fields: fields
            .iter()
            .map(|(f, o)| IndexField {
                field: f.to_string(),
                order: *o,
            })
            .collect(),
    }
}

use SortOrder::{Asc, Desc};

/// Compare, check the encodings agree, and return the order.
fn cmp(a: &Value, b: &Value, spec: Option<&IndexSpec>) -> Ordering {
    let o = compare_json_keys(a, b, spec).unwrap_or_else(|e| panic!("compare {a} {b}: {e}"));
    let (ea, eb) = (
        encode_json_key(a, spec).unwrap(),
        encode_json_key(b, spec).unwrap(),
    );
    assert_eq!(o, ea.cmp(&eb), "{a} vs {b}: bytes {ea:02x?} vs {eb:02x?}");
    assert_eq!(compare_json_keys(b, a, spec).unwrap(), o.reverse());
    o
}

/// Every adjacent pair is strictly increasing, and every pair compares by position.
fn assert_increasing(keys: &[Value], spec: Option<&IndexSpec>) {
    for (i, a) in keys.iter().enumerate() {
        for (j, b) in keys.iter().enumerate() {
            assert_eq!(cmp(a, b, spec), i.cmp(&j), "{a} vs {b}");
        }
    }
}

fn assert_equal(a: &Value, b: &Value, spec: Option<&IndexSpec>) {
    assert_eq!(cmp(a, b, spec), Ordering::Equal, "{a} vs {b}");
    assert_eq!(
        encode_json_key(a, spec).unwrap(),
        encode_json_key(b, spec).unwrap()
    );
}

fn err(key: &Value, spec: Option<&IndexSpec>) -> String {
    let e = encode_json_key(key, spec)
        .expect_err("encode should fail")
        .to_string();
    let e2 = compare_json_keys(key, &json!(null), spec)
        .expect_err("compare should fail")
        .to_string();
    let e3 = compare_json_keys(&json!({}), key, spec)
        .expect_err("compare should fail")
        .to_string();
    assert!(e == e2 || e == e3, "{e} / {e2} / {e3}");
    e
}

// ---------------------------------------------------------------- rule tests

#[test]
fn type_order_without_spec() {
    let keys: Vec<Value> = [
        "null",
        "false",
        "true",
        "-1e308",
        "-18446744073709551615",
        "-1",
        "-0.5",
        "0",
        "5e-324",
        "1",
        "18446744073709551615",
        "1.7e308",
        "\"\"",
        "\"\\u0000\"",
        "\"a\"",
    ]
    .iter()
    .map(|s| lit(s))
    .collect::<Vec<_>>();
    // "-18446744073709551615" is out of the integer range, so check it is refused and
    // leave it out.
    assert!(err(&keys[4], None).contains("out of range"));
    let keys: Vec<Value> = keys
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != 4)
        .map(|(_, v)| v)
        .collect();
    assert_increasing(&keys, None);
}

#[test]
fn type_order_as_field_values() {
    let s = spec(&[("v", Asc)]);
    let keys: Vec<Value> = vec![
        json!({}),
        json!({"v": null}),
        json!({"v": false}),
        json!({"v": true}),
        json!({"v": -3}),
        json!({"v": 0}),
        json!({"v": 2.5}),
        json!({"v": ""}),
        json!({"v": "zzz"}),
        json!({"v": []}),
        json!({"v": [null]}),
        json!({"v": [[]]}),
        json!({"v": {}}),
        json!({"v": {"": null}}),
    ];
    assert_increasing(&keys, Some(&s));
    // Descending reverses the whole list, "missing" included.
    let d = spec(&[("v", Desc)]);
    let rev: Vec<Value> = keys.iter().rev().cloned().collect();
    assert_increasing(&rev, Some(&d));
}

#[test]
fn numbers_compare_by_value() {
    for group in [
        &["1", "1.0", "1e0", "10e-1", "0.1e1", "1.000E+0"][..],
        &["0", "-0", "0.0", "-0.0", "0e10", "-0e-10"],
        &[
            "9007199254740992",
            "9007199254740992.0",
            "9.007199254740992e15",
        ],
        &[
            "18446744073709551616.0",
            "1.8446744073709552e19",
            "18446744073709552000.0",
        ],
        &[
            "0.1",
            "1e-1",
            "0.10000000000000001",
            "0.1000000000000000055511151231257827021181583404541015625",
        ],
        &["1e20", "100000000000000000000.0"],
    ] {
        for a in group {
            for b in group {
                assert_equal(&lit(a), &lit(b), None);
            }
        }
    }
    let ordered: Vec<Value> = [
        "-1.8446744073709552e19",
        "-9223372036854775808",
        "-9223372036854775807",
        "-9007199254740993",
        "-9007199254740992.0",
        "-1",
        "-0.9999999999999999",
        "-5e-324",
        "0",
        "5e-324",
        "2.2250738585072014e-308",
        "0.1",
        "0.30000000000000004",
        "1",
        "1.0000000000000002",
        "9007199254740991",
        "9007199254740992.0",
        "9007199254740993",
        "9007199254740994.0",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709549568.0",
        "18446744073709551614",
        "18446744073709551615",
        "1.8446744073709552e19",
        "1e300",
        "1.7976931348623157e308",
    ]
    .iter()
    .map(|s| lit(s))
    .collect();
    assert_increasing(&ordered, None);
}

#[test]
fn number_errors() {
    for (s, what) in [
        ("18446744073709551616", "out of range"),
        ("-9223372036854775809", "out of range"),
        ("123456789012345678901234567890", "out of range"),
        ("1e400", "range of f64"),
        ("-1e400", "range of f64"),
        ("0.100000000000000001", "cannot be represented exactly"),
        ("9007199254740993.5", "cannot be represented exactly"),
        ("18446744073709551617.0", "cannot be represented exactly"),
        (
            "1.8446744073709551615e19",
            "write the integer 18446744073709551615",
        ),
        ("9007199254740993.0", "write the integer 9007199254740993"),
        ("1e-400", "cannot be represented exactly"),
    ] {
        let v = lit(s);
        let e = err(&v, None);
        // The message names the literal as serde_json keeps it ("1e400" -> "1e+400").
        assert!(
            e.contains(what) && e.contains(v.as_number().unwrap().as_str()),
            "{s}: {e}"
        );
        // Inside a spec field, at any depth.
        let s1 = spec(&[("a", Asc)]);
        let doc = lit(&format!(r#"{{"a": [1, {{"x": {s}}}]}}"#));
        assert!(err(&doc, Some(&s1)).contains(what));
    }
    // Numbers that do not take part in the order are not checked.
    let s1 = spec(&[("a", Asc)]);
    let doc = lit(r#"{"a": 1, "b": 18446744073709551616}"#);
    assert_equal(&doc, &json!({"a": 1.0}), Some(&s1));
    // Invalid literal smuggled in through the unchecked constructor.
    let bad = Value::Number(Number::from_string_unchecked("0x10".into()));
    assert!(err(&bad, None).contains("not valid JSON number syntax"));
}

#[test]
fn strings_by_code_point() {
    let keys: Vec<Value> = [
        "", "\0", "\0\0", "\u{1}", "A", "a", "a\0", "ab", "\u{7f}", "é", "\u{ffff}", "😀", "😀\0",
    ]
    .iter()
    .map(|s| json!(s))
    .collect();
    assert_increasing(&keys, None);
}

#[test]
fn arrays_and_objects() {
    let s = spec(&[("v", Asc)]);
    let wrap = |v: Value| json!({ "v": v });
    let arrays: Vec<Value> = [
        json!([]),
        json!([null]),
        json!([null, null]),
        json!([false]),
        json!([1]),
        json!([1, 2]),
        json!([1, 3]),
        json!([1.5]),
        json!([2]),
        json!(["a"]),
        json!([[]]),
        json!([[1]]),
        json!([{}]),
    ]
    .into_iter()
    .map(wrap)
    .collect();
    assert_increasing(&arrays, Some(&s));
    let objects: Vec<Value> = [
        json!({}),
        json!({"": 5}),
        json!({"a": null}),
        json!({"a": 1}),
        json!({"a": 1, "b": 0}),
        json!({"a": 1, "c": 0}),
        json!({"a": 2}),
        json!({"a\u{0}": 0}),
        json!({"b": 0}),
        json!({"b": {"a": []}}),
        json!({"b": {"b": null}}),
    ]
    .into_iter()
    .map(wrap)
    .collect();
    assert_increasing(&objects, Some(&s));
    // Member order in the text does not matter; values compare numerically.
    assert_equal(
        &wrap(lit(r#"{"b": 1, "a": [2.0]}"#)),
        &wrap(lit(r#"{"a": [2], "b": 1e0}"#)),
        Some(&s),
    );
}

#[test]
fn missing_fields_and_ignored_fields() {
    let s = spec(&[("last", Asc), ("first", Asc)]);
    assert_increasing(
        &[
            json!({"first": "z"}),
            json!({"last": null}),
            json!({"last": null, "first": null}),
            json!({"last": "a"}),
            json!({"last": "a", "first": "b"}),
            json!({"last": "b", "first": "a"}),
        ],
        Some(&s),
    );
    assert_equal(
        &json!({"last": "a", "age": 3}),
        &json!({"last": "a", "age": [true]}),
        Some(&s),
    );
    assert_equal(&json!({}), &json!({"other": 1}), Some(&s));
}

#[test]
fn descending_fields_stay_self_delimiting() {
    // The desc field is a prefix-sharing string/array; the next field must not leak
    // into its comparison.
    let s = spec(&[("a", Desc), ("b", Asc)]);
    assert_increasing(
        &[
            json!({"a": [1, 2], "b": 0}),
            json!({"a": [1], "b": 0}),
            json!({"a": [1], "b": 5}),
            json!({"a": "ab", "b": 9}),
            json!({"a": "a\u{0}", "b": 9}),
            json!({"a": "a", "b": 0}),
            json!({"a": "a", "b": 1}),
            json!({"a": "", "b": 0}),
            json!({"a": 1, "b": 0}),
            json!({"b": -1}),
            json!({"b": 0}),
        ],
        Some(&s),
    );
    // Descending then descending, then ascending.
    let s = spec(&[("a", Desc), ("b", Desc), ("c", Asc)]);
    assert_increasing(
        &[
            json!({"a": "x", "b": "yy", "c": 0}),
            json!({"a": "x", "b": "y", "c": 0}),
            json!({"a": "x", "b": "y", "c": 1}),
            json!({"a": "x", "c": 0}),
            json!({"b": "z"}),
        ],
        Some(&s),
    );
}

#[test]
fn key_shape_errors() {
    let s = spec(&[("a", Asc)]);
    assert!(err(&json!({"a": 1}), None).contains("without an index spec"));
    assert!(err(&json!([1]), None).contains("is an array"));
    for prim in [
        json!(null),
        json!(true),
        json!(1),
        json!("a"),
        json!([{"a": 1}]),
    ] {
        assert!(
            err(&prim, Some(&s)).contains("takes only object keys"),
            "{prim}"
        );
    }
}

#[test]
fn spec_parse_and_validate() {
    let s = IndexSpec::parse(
        r#"[{"field":"last","order":"asc"},{"field":"age","order":"desc"},{"field":"x"}]"#,
    )
    .unwrap();
    assert_eq!(s, spec(&[("last", Asc), ("age", Desc), ("x", Asc)]));
    assert_eq!(
        serde_json::to_string(&s).unwrap(),
        r#"[{"field":"last","order":"asc"},{"field":"age","order":"desc"},{"field":"x","order":"asc"}]"#
    );
    for (bad, what) in [
        ("[]", "no fields"),
        (r#"[{"field":"","order":"asc"}]"#, "empty name"),
        (
            r#"[{"field":"a"},{"field":"b"},{"field":"a","order":"desc"}]"#,
            "listed twice",
        ),
        (r#"[{"field":"a","order":"up"}]"#, "invalid index spec"),
        (r#"[{"feild":"a"}]"#, "invalid index spec"),
        (r#"{"fields":[{"field":"a"}]}"#, "invalid index spec"),
        ("not json", "invalid index spec"),
    ] {
        let e = IndexSpec::parse(bad).expect_err(bad).to_string();
        assert!(e.contains(what), "{bad}: {e}");
    }
    // A spec built by hand is validated when used.
    let dup = spec(&[("a", Asc), ("a", Desc)]);
    assert!(encode_json_key(&json!({"a": 1}), Some(&dup))
        .unwrap_err()
        .to_string()
        .contains("listed twice"));
    assert!(compare_json_keys(&json!({}), &json!({}), Some(&spec(&[]))).is_err());
}

// ---------------------------------------------------------------- properties

const FIELDS: [&str; 5] = ["a", "b", "c", "d", "x"];

/// Number literals: small and huge integers, floats of every magnitude (random
/// bits), alternative spellings, and now and then one that is not a valid key.
fn number_literal() -> impl Strategy<Value = String> {
    let finite = any::<u64>()
        .prop_map(f64::from_bits)
        .prop_filter("finite", |f| f.is_finite());
    prop_oneof![
        4 => (-3i64..=3).prop_map(|i| i.to_string()),
        2 => any::<i64>().prop_map(|i| i.to_string()),
        2 => any::<u64>().prop_map(|u| u.to_string()),
        1 => (0u64..4).prop_map(|d| (u64::MAX - d).to_string()),
        1 => (-4i64..4).prop_map(|d| ((1i64 << 53) + d).to_string()),
        1 => (-4i64..4).prop_map(|d| (i64::MIN + 4 + d).to_string()),
        3 => finite.clone().prop_map(|f| Number::from_f64(f).unwrap().to_string()),
        1 => (-4i64..4).prop_map(|d| format!("{:?}", ((1i64 << 53) + d) as f64)),
        1 => (-3i32..=3, 0u32..70).prop_map(|(m, e)| format!("{:e}", m as f64 * 2f64.powi(e as i32))),
        2 => (-3i32..=3).prop_map(|i| format!("{}", i as f64 / 2.0)),
        1 => prop::sample::select(vec!["-0", "-0.0", "0e5", "1.0", "1e0", "10e-1", "2.5", "-2.50", "1e20"])
            .prop_map(String::from),
        1 => finite.prop_map(|f| format!("{f:.1100e}")),
        1 => prop::sample::select(vec!["18446744073709551616", "1e400", "0.100000000000000001"])
            .prop_map(String::from),
    ]
}

fn string_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(vec!['\0', 'a', 'b', 'é', '\u{ffff}', '😀']), 0..4)
            .prop_map(|v| v.into_iter().collect()),
        1 => any::<String>(),
    ]
}

fn primitive() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        4 => number_literal().prop_map(|s| lit(&s)),
        3 => string_value().prop_map(Value::String),
    ]
}

fn any_value() -> impl Strategy<Value = Value> {
    primitive().prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["", "a", "a\0", "b", "é"]),
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

fn document() -> impl Strategy<Value = Value> {
    prop::collection::vec(proptest::option::of(any_value()), FIELDS.len()).prop_map(|vals| {
        Value::Object(
            FIELDS
                .iter()
                .zip(vals)
                .filter_map(|(f, v)| v.map(|v| (f.to_string(), v)))
                .collect(),
        )
    })
}

fn index_spec() -> impl Strategy<Value = IndexSpec> {
    (
        Just(FIELDS[..4].to_vec()).prop_shuffle(),
        1usize..=4,
        prop::collection::vec(any::<bool>(), 4),
    )
        .prop_map(|(names, n, desc)| IndexSpec {
            fields: names[..n]
                .iter()
                .zip(desc)
                .map(|(f, d)| IndexField {
                    field: f.to_string(),
                    order: if d { Desc } else { Asc },
                })
                .collect(),
        })
}

/// compare and encode agree: same order when both succeed, and compare fails exactly
/// when one of the encodings fails.
fn check_agree(a: &Value, b: &Value, spec: Option<&IndexSpec>) -> Result<(), TestCaseError> {
    let c = compare_json_keys(a, b, spec);
    let (ea, eb) = (encode_json_key(a, spec), encode_json_key(b, spec));
    match (c, ea, eb) {
        (Ok(o), Ok(ea), Ok(eb)) => {
            prop_assert_eq!(o, ea.cmp(&eb), "{} vs {}: {:02x?} vs {:02x?}", a, b, ea, eb);
            prop_assert_eq!(compare_json_keys(b, a, spec).unwrap(), o.reverse());
            prop_assert_eq!(o == Ordering::Equal, ea == eb);
        }
        (Err(_), ea, eb) => prop_assert!(
            ea.is_err() || eb.is_err(),
            "compare failed, encodings did not"
        ),
        (Ok(_), ea, eb) => prop_assert!(
            false,
            "compare succeeded, encodings: {:?} {:?}",
            ea.err(),
            eb.err()
        ),
    }
    Ok(())
}

/// Another spelling of the same number: move the decimal point or add an exponent.
/// (Integers beyond 2^53 are kept: written with an exponent they would denote an f64.)
fn respell(s: &str, how: u8) -> String {
    if !s.contains(['.', 'e', 'E']) && s.parse::<i128>().unwrap().abs() > 1 << 53 {
        return s.to_string();
    }
    let (m, e) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i64>().unwrap()),
        None => (s, 0),
    };
    let dot = m.contains('.');
    match how % 3 {
        0 => format!("{m}e{e}"),
        1 if dot => format!("{m}000E{e:+}"),
        1 => format!("{m}.0E{e:+}"),
        _ if dot => format!("{m}0e{e}"),
        _ if m == "0" || m == "-0" => format!("{m}.00e{e}"),
        _ => format!("{m}00e{}", e - 2),
    }
}

fn respell_all(v: &Value, how: u8) -> Value {
    match v {
        Value::Number(n) => lit(&respell(n.as_str(), how)),
        Value::Array(a) => Value::Array(a.iter().map(|x| respell_all(x, how)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), respell_all(x, how)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Independent oracle for integer vs float: exact arithmetic on the float's
/// mantissa and exponent.
fn oracle_int_float(i: i128, f: f64) -> Ordering {
    if f == 0.0 {
        return i.cmp(&0);
    }
    let bits = f.to_bits();
    let biased = ((bits >> 52) & 0x7FF) as i32;
    let mut m = (bits & ((1 << 52) - 1)) as i128;
    if biased != 0 {
        m |= 1 << 52;
    }
    let e = if biased == 0 { -1074 } else { biased - 1075 };
    let m = if f < 0.0 { -m } else { m };
    if e >= 0 {
        if e >= 64 {
            return if f > 0.0 {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        i.cmp(&(m << e))
    } else if -e <= 60 {
        (i << -e).cmp(&m)
    } else if i != 0 {
        i.cmp(&0) // |f| < 1
    } else {
        0.0f64.partial_cmp(&f).unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn prop_spec_order_matches_bytes(a in document(), b in document(), s in index_spec()) {
        check_agree(&a, &b, Some(&s))?;
    }

    /// The second document differs from the first in one field only, so earlier
    /// fields tie and later fields decide.
    #[test]
    fn prop_spec_order_related_docs(
        a in document(), s in index_spec(), field in 0..FIELDS.len(), v in proptest::option::of(any_value()),
    ) {
        let mut b = a.clone();
        let obj = b.as_object_mut().unwrap();
        match v {
            Some(v) => obj.insert(FIELDS[field].to_string(), v),
            None => obj.remove(FIELDS[field]),
        };
        check_agree(&a, &b, Some(&s))?;
    }

    #[test]
    fn prop_primitive_order_matches_bytes(a in primitive(), b in primitive()) {
        check_agree(&a, &b, None)?;
    }

    #[test]
    fn prop_equal_under_spec_encode_equal(
        a in document(), s in index_spec(), noise in any_value(), how in any::<u8>(),
    ) {
        // Keep only valid documents.
        prop_assume!(encode_json_key(&a, Some(&s)).is_ok());
        let mut b = respell_all(&a, how);
        let obj = b.as_object_mut().unwrap();
        for f in FIELDS {
            if !s.fields.iter().any(|x| x.field == f) {
                obj.insert(f.to_string(), noise.clone());
            }
        }
        prop_assert_eq!(compare_json_keys(&a, &b, Some(&s)).unwrap(), Ordering::Equal, "{} vs {}", a, b);
        prop_assert_eq!(encode_json_key(&a, Some(&s)).unwrap(), encode_json_key(&b, Some(&s)).unwrap());
    }

    #[test]
    fn prop_numbers_against_oracle(i in prop_oneof![any::<i64>().prop_map(i128::from), any::<u64>().prop_map(i128::from), -3i128..3],
                                   f in prop_oneof![
                                       any::<u64>().prop_map(f64::from_bits).prop_filter("finite", |f| f.is_finite()),
                                       any::<i64>().prop_map(|x| x as f64),
                                       any::<u64>().prop_map(|x| x as f64),
                                       (-6i32..6).prop_map(|x| x as f64 / 4.0),
                                   ]) {
        let a = Value::Number(Number::from_i128(i).unwrap());
        let b = Value::Number(Number::from_f64(f).unwrap());
        prop_assert_eq!(compare_json_keys(&a, &b, None).unwrap(), oracle_int_float(i, f), "{} vs {}", a, b);
        check_agree(&a, &b, None)?;
        // Float vs float agrees with f64's order; the exact spelling denotes the same f64.
        let g = Value::Number(Number::from_f64(i as f64).unwrap());
        prop_assert_eq!(compare_json_keys(&g, &b, None).unwrap(), (i as f64).partial_cmp(&f).unwrap());
        let exact = lit(&format!("{f:.1100e}"));
        prop_assert_eq!(encode_json_key(&exact, None).unwrap(), encode_json_key(&b, None).unwrap());
    }

    #[test]
    fn prop_short_decimals_are_accepted(neg in any::<bool>(), digits in 1u64..999_999_999_999_999, exp in -290i32..290) {
        // Up to 15 significant digits always round-trip through f64 in the normal range.
        let s = format!("{}{digits}e{exp}", if neg { "-" } else { "" });
        prop_assert!(encode_json_key(&lit(&s), None).is_ok(), "{} refused", s);
    }
}
