//! `PayloadFilter`: a condition on a JSON payload, written as JSON (what the CLI's
//! `--filter` takes and hybrid search applies to both hit lists).
//!
//! A filter is a JSON object; a payload passes if it passes every member. A
//! member's name is a payload member (or, starting with `/`, a JSON pointer);
//! its value is either a JSON value the payload's must equal, or an object of
//! operators: `{"$in": [..]}`, `{"$ne": v}`, `{"$gt": n}`, `{"$gte": n}`,
//! `{"$lt": n}`, `{"$lte": n}` (numbers or strings compared as such),
//! `{"$exists": bool}`. `{"lang": "en", "year": {"$gte": 2020}}` keeps English
//! payloads from 2020 on.

use serde_json::Value;

use crate::error::{Result, SearchError};

#[derive(Clone, Debug, PartialEq)]
enum Cond {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    Cmp(std::cmp::Ordering, bool, Value),
    Exists(bool),
}

/// A parsed filter (see the module documentation).
#[derive(Clone, Debug, PartialEq)]
pub struct PayloadFilter {
    conds: Vec<(String, Cond)>,
}

fn bad(msg: String) -> SearchError {
    SearchError::InvalidConfig(format!("filter: {msg}"))
}

impl PayloadFilter {
    /// Parse a filter from its JSON form.
    pub fn from_json(v: &Value) -> Result<PayloadFilter> {
        let obj = v
            .as_object()
            .ok_or_else(|| bad(format!("a JSON object of field: condition, not {v}")))?;
        let mut conds = Vec::new();
        for (name, c) in obj {
            if name.is_empty() {
                return Err(bad("an empty field name".into()));
            }
            match c {
                Value::Object(ops) if ops.keys().any(|k| k.starts_with('$')) => {
                    for (op, arg) in ops {
                        use std::cmp::Ordering::*;
                        let cond = match op.as_str() {
                            "$eq" => Cond::Eq(arg.clone()),
                            "$ne" => Cond::Ne(arg.clone()),
                            "$in" => Cond::In(
                                arg.as_array()
                                    .ok_or_else(|| bad(format!("{name}: $in takes an array")))?
                                    .clone(),
                            ),
                            "$gt" | "$gte" | "$lt" | "$lte" => {
                                if !(arg.is_number() || arg.is_string()) {
                                    return Err(bad(format!(
                                        "{name}: {op} takes a number or a string"
                                    )));
                                }
                                let ord = if op.starts_with("$g") { Greater } else { Less };
                                Cond::Cmp(ord, op.ends_with('e'), arg.clone())
                            }
                            "$exists" => Cond::Exists(arg.as_bool().ok_or_else(|| {
                                bad(format!("{name}: $exists takes true or false"))
                            })?),
                            _ => return Err(bad(format!("{name}: unknown operator {op}"))),
                        };
                        conds.push((name.clone(), cond));
                    }
                }
                _ => conds.push((name.clone(), Cond::Eq(c.clone()))),
            }
        }
        Ok(PayloadFilter { conds })
    }

    /// Parse a filter from JSON text.
    pub fn parse(text: &str) -> Result<PayloadFilter> {
        let v: Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not JSON ({e}): {text}")))?;
        PayloadFilter::from_json(&v)
    }

    /// Whether `payload` passes.
    pub fn matches(&self, payload: &Value) -> bool {
        self.conds.iter().all(|(name, c)| {
            let v = if name.starts_with('/') {
                payload.pointer(name)
            } else {
                payload.get(name)
            };
            match c {
                Cond::Eq(x) => v == Some(x),
                Cond::Ne(x) => v != Some(x),
                Cond::In(xs) => v.is_some_and(|v| xs.contains(v)),
                Cond::Exists(e) => v.is_some() == *e,
                Cond::Cmp(ord, or_eq, x) => v
                    .and_then(|v| compare(v, x))
                    .is_some_and(|o| o == *ord || (*or_eq && o == std::cmp::Ordering::Equal)),
            }
        })
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_by_equality_and_operators() {
        let f = PayloadFilter::parse(
            r#"{"lang":"en","year":{"$gte":2020,"$lt":2024},"/meta/tag":{"$in":["a","b"]}}"#,
        )
        .unwrap();
        let p = json!({"lang":"en","year":2021,"meta":{"tag":"b"}});
        assert!(f.matches(&p));
        assert!(!f.matches(&json!({"lang":"en","year":2024,"meta":{"tag":"b"}})));
        assert!(!f.matches(&json!({"lang":"de","year":2021,"meta":{"tag":"b"}})));
        assert!(!f.matches(&json!({"lang":"en","year":"2021","meta":{"tag":"b"}})));
        assert!(!f.matches(&json!({"lang":"en","year":2021})));
        let f = PayloadFilter::parse(r#"{"x":{"$exists":false},"y":{"$ne":1}}"#).unwrap();
        assert!(f.matches(&json!({"y":2})));
        assert!(!f.matches(&json!({"x":0})));
        assert!(f.matches(&json!(null)));
        for bad in [
            "[1]",
            "{\"a\":{\"$in\":1}}",
            "{\"a\":{\"$zz\":1}}",
            "{\"a\":{\"$gt\":[]}}",
            "nope",
        ] {
            assert!(PayloadFilter::parse(bad).is_err(), "{bad}");
        }
    }
}
