//! Checks of JSON text that serde_json does not make, or words poorly, for
//! [`parse_json`](crate::json::parse_json): unique member names, and lone UTF-16
//! surrogates in `\u` escapes.

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// Walks a document and fails on an object with two members of one name.
struct UniqueMembers;

impl<'de> Deserialize<'de> for UniqueMembers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueMembers)
    }
}

impl<'de> Visitor<'de> for UniqueMembers {
    type Value = UniqueMembers;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON document")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if seen.contains(&name) {
                return Err(A::Error::custom(format!(
                    "duplicate member {name:?} in an object (member names must be unique)"
                )));
            }
            map.next_value::<UniqueMembers>()?;
            seen.insert(name);
        }
        Ok(UniqueMembers)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<UniqueMembers>()?.is_some() {}
        Ok(UniqueMembers)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(UniqueMembers)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(UniqueMembers)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(UniqueMembers)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(UniqueMembers)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(UniqueMembers)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(UniqueMembers)
    }
}

/// An error if an object in `text` (valid JSON) has two members of one name.
pub(crate) fn check_unique_members(text: &str) -> Result<(), String> {
    serde_json::from_str::<UniqueMembers>(text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// If `text` holds a `\u` escape of half a UTF-16 surrogate pair without its
/// other half, the words for it (with the column of the escape).
pub(crate) fn lone_surrogate(text: &str) -> Option<String> {
    let b = text.as_bytes();
    let unit_at = |i: usize| -> Option<u16> {
        let h = b.get(i..i + 6)?;
        if h[0] != b'\\' || h[1] != b'u' {
            return None;
        }
        u16::from_str_radix(std::str::from_utf8(&h[2..]).ok()?, 16).ok()
    };
    let (mut i, mut in_string) = (0, false);
    while i < b.len() {
        match b[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                if let Some(u) = unit_at(i) {
                    let high = (0xd800..0xdc00).contains(&u);
                    let low = (0xdc00..0xe000).contains(&u);
                    let paired =
                        high && unit_at(i + 6).is_some_and(|n| (0xdc00..0xe000).contains(&n));
                    if (high && !paired) || low {
                        let col = text[..i].chars().count() + 1;
                        return Some(format!(
                            "\\u{u:04x} at column {col} is a lone UTF-16 surrogate, not a character \
                             (a character beyond U+FFFF is a pair of escapes, e.g. \\ud83d\\ude00)"
                        ));
                    }
                    i += if paired { 12 } else { 6 };
                    continue;
                }
                i += 2;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}
