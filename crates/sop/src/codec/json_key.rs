//! JSON keys: `serde_json::Value` keys turned into bytes whose memcmp order is the
//! order described in docs/FORMAT.md, section "JSON key order".
//!
//! Without an [`IndexSpec`] a key is a single primitive (null, bool, number, string).
//! With a spec a key is an object, ordered by the tuple of the spec's fields, each
//! ascending or descending; other members of the object do not take part.
//!
//! [`compare_json_keys`] is the reference order, written directly on the values;
//! [`encode_json_key`] produces bytes that compare the same way.

use crate::codec::key::escape_bytes;
use crate::error::CodecError;
use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

/// The key type saved with every JSON store (`StoreInfo::key_type`).
pub const JSON_KEY_TYPE: &str = "json";

/// Direction of one index field.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Ascending.
    #[default]
    Asc,
    /// Descending.
    Desc,
}

/// One field of an index: a top-level member name of the key object and a direction.
/// JSON: `{"field":"last","order":"asc"}`; `order` defaults to `"asc"` when omitted.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexField {
    /// The top-level member name.
    pub field: String,
    /// The direction.
    #[serde(default)]
    pub order: SortOrder,
}

/// The order of object keys: the listed fields, most significant first.
/// Serialized as the bare JSON array of [`IndexField`]s.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct IndexSpec {
    /// The fields, most significant first.
    pub fields: Vec<IndexField>,
}

impl IndexSpec {
    /// Parse a spec from its JSON text (e.g. `[{"field":"last","order":"asc"}]`) and
    /// validate it.
    pub fn parse(json: &str) -> Result<Self, CodecError> {
        let spec: IndexSpec = serde_json::from_str(json)
            .map_err(|e| CodecError::new(format!("invalid index spec {json:?}: {e}")))?;
        spec.validate()?;
        Ok(spec)
    }

    /// Parse the short form of a spec, `field[:asc|:desc],...` (e.g.
    /// `last,first:desc`), and validate it. Errors name `text` as given.
    pub fn parse_short(text: &str) -> Result<Self, CodecError> {
        let mut fields = Vec::new();
        for part in text.trim().split(',') {
            let (field, order) = match part.rsplit_once(':') {
                Some((f, "asc")) => (f, SortOrder::Asc),
                Some((f, "desc")) => (f, SortOrder::Desc),
                Some((_, o)) => {
                    return Err(CodecError::new(format!(
                        "invalid key spec {text:?}: order {o:?} is neither asc nor desc"
                    )))
                }
                None => (part, SortOrder::Asc),
            };
            fields.push(IndexField {
                field: field.trim().to_string(),
                order,
            });
        }
        let spec = IndexSpec { fields };
        spec.validate()
            .map_err(|e| CodecError::new(format!("{e} (in {text:?})")))?;
        Ok(spec)
    }

    /// At least one field, every field name non-empty, no name listed twice.
    pub fn validate(&self) -> Result<(), CodecError> {
        if self.fields.is_empty() {
            return Err(CodecError::new("invalid index spec: it lists no fields"));
        }
        for (i, f) in self.fields.iter().enumerate() {
            if f.field.is_empty() {
                return Err(CodecError::new(format!(
                    "invalid index spec: field #{} has an empty name",
                    i + 1
                )));
            }
            if self.fields[..i].iter().any(|g| g.field == f.field) {
                return Err(CodecError::new(format!(
                    "invalid index spec: field {:?} is listed twice",
                    f.field
                )));
            }
        }
        Ok(())
    }
}

// Type tags. Their order is the order across JSON types. END closes arrays and
// objects and is below every tag that can start an element or an entry.
const END: u8 = 0x00;
const MISSING: u8 = 0x01;
const NULL: u8 = 0x02;
const FALSE: u8 = 0x03;
const TRUE: u8 = 0x04;
const NUM_NEG: u8 = 0x05;
const NUM_ZERO: u8 = 0x06;
const NUM_POS: u8 = 0x07;
const STRING: u8 = 0x08;
const ARRAY: u8 = 0x09;
const OBJECT: u8 = 0x0A;

/// Exponent bias of the number encoding: binary exponents -1074..=1023 become 1..=2098.
const EXP_BIAS: i32 = 1075;

/// Encode a JSON key. Without a spec the key must be a primitive; with a spec it must
/// be an object and only the spec's fields are encoded, in spec order, descending
/// fields with their bytes inverted.
pub fn encode_json_key(key: &Value, spec: Option<&IndexSpec>) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    match spec {
        None => {
            check_primitive(key)?;
            encode_value(key, &mut out)?;
        }
        Some(spec) => {
            let obj = key_object(key, spec)?;
            for f in &spec.fields {
                let start = out.len();
                match obj.get(&f.field) {
                    None => out.push(MISSING),
                    Some(v) => encode_value(v, &mut out)?,
                }
                if f.order == SortOrder::Desc {
                    for b in &mut out[start..] {
                        *b = !*b;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Compare two JSON keys in the order of docs/FORMAT.md ("JSON key order"), directly
/// on the values. `encode_json_key(a).cmp(&encode_json_key(b))` gives the same answer,
/// and both fail on the same inputs.
pub fn compare_json_keys(
    a: &Value,
    b: &Value,
    spec: Option<&IndexSpec>,
) -> Result<Ordering, CodecError> {
    match spec {
        None => {
            check_primitive(a)?;
            check_primitive(b)?;
            check_numbers(a)?;
            check_numbers(b)?;
            compare_values(a, b)
        }
        Some(spec) => {
            let (oa, ob) = (key_object(a, spec)?, key_object(b, spec)?);
            for obj in [oa, ob] {
                for f in &spec.fields {
                    if let Some(v) = obj.get(&f.field) {
                        check_numbers(v)?;
                    }
                }
            }
            for f in &spec.fields {
                let ord = match (oa.get(&f.field), ob.get(&f.field)) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => compare_values(x, y)?,
                };
                let ord = if f.order == SortOrder::Desc {
                    ord.reverse()
                } else {
                    ord
                };
                if ord != Ordering::Equal {
                    return Ok(ord);
                }
            }
            Ok(Ordering::Equal)
        }
    }
}

fn type_word(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_primitive(key: &Value) -> Result<(), CodecError> {
    match key {
        Value::Array(_) | Value::Object(_) => Err(CodecError::new(format!(
            "JSON key is {}, but a store without an index spec takes only primitive keys \
             (null, bool, number, string); give the store an index spec to use object keys",
            type_word(key)
        ))),
        _ => Ok(()),
    }
}

fn key_object<'a>(key: &'a Value, spec: &IndexSpec) -> Result<&'a Map<String, Value>, CodecError> {
    spec.validate()?;
    match key {
        Value::Object(m) => Ok(m),
        _ => Err(CodecError::new(format!(
            "JSON key is {}, but a store with an index spec takes only object keys",
            type_word(key)
        ))),
    }
}

/// Fail on the first number anywhere in `v` that is not a valid key number.
fn check_numbers(v: &Value) -> Result<(), CodecError> {
    match v {
        Value::Number(n) => parse_number(n).map(drop),
        Value::Array(a) => a.iter().try_for_each(check_numbers),
        Value::Object(m) => m.values().try_for_each(check_numbers),
        _ => Ok(()),
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// Entries of an object in ascending order of their member names' UTF-8 bytes.
fn sorted_entries(m: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut e: Vec<_> = m.iter().collect();
    e.sort_by(|x, y| x.0.as_bytes().cmp(y.0.as_bytes()));
    e
}

/// The reference order of two present values (numbers already validated).
fn compare_values(a: &Value, b: &Value) -> Result<Ordering, CodecError> {
    Ok(match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => parse_number(x)?.cmp_exact(&parse_number(y)?),
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = compare_values(p, q)?;
                if o != Ordering::Equal {
                    return Ok(o);
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            let (ex, ey) = (sorted_entries(x), sorted_entries(y));
            for ((kx, vx), (ky, vy)) in ex.iter().zip(&ey) {
                let o = kx.as_bytes().cmp(ky.as_bytes());
                if o != Ordering::Equal {
                    return Ok(o);
                }
                let o = compare_values(vx, vy)?;
                if o != Ordering::Equal {
                    return Ok(o);
                }
            }
            ex.len().cmp(&ey.len())
        }
        _ => rank(a).cmp(&rank(b)),
    })
}

fn encode_value(v: &Value, out: &mut Vec<u8>) -> Result<(), CodecError> {
    match v {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Number(n) => parse_number(n)?.encode(out),
        Value::String(s) => {
            out.push(STRING);
            escape_bytes(s.as_bytes(), out);
        }
        Value::Array(a) => {
            out.push(ARRAY);
            for e in a {
                encode_value(e, out)?;
            }
            out.push(END);
        }
        Value::Object(m) => {
            out.push(OBJECT);
            for (k, e) in sorted_entries(m) {
                out.push(STRING);
                escape_bytes(k.as_bytes(), out);
                encode_value(e, out)?;
            }
            out.push(END);
        }
    }
    Ok(())
}

/// The exact value a key number denotes.
#[derive(Clone, Copy, Debug)]
enum Num {
    /// An integer in `i64::MIN..=u64::MAX`.
    Int(i128),
    /// A finite, non-zero f64 (its exact binary value).
    Float(f64),
}

impl Num {
    fn cmp_exact(&self, other: &Num) -> Ordering {
        match (*self, *other) {
            (Num::Int(x), Num::Int(y)) => x.cmp(&y),
            (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y).expect("key floats are finite"),
            (Num::Int(x), Num::Float(y)) => cmp_int_float(x, y),
            (Num::Float(x), Num::Int(y)) => cmp_int_float(y, x).reverse(),
        }
    }

    /// Sign tag, then for non-zero values the biased binary exponent (u16 BE) and the
    /// 64 fraction bits below the leading one (u64 BE), all 10 inverted if negative.
    fn encode(&self, out: &mut Vec<u8>) {
        let (neg, exp, frac) = match *self {
            Num::Int(0) => return out.push(NUM_ZERO),
            Num::Int(i) => {
                let m = i.unsigned_abs(); // 1..=2^64-1
                let e = 127 - m.leading_zeros(); // 0..=63
                let frac = ((m ^ (1u128 << e)) << (64 - e)) as u64;
                (i < 0, e as i32, frac)
            }
            Num::Float(f) => {
                let bits = f.to_bits();
                let biased = ((bits >> 52) & 0x7FF) as i32;
                let mant = bits & ((1u64 << 52) - 1);
                if biased == 0 && mant == 0 {
                    return out.push(NUM_ZERO);
                }
                let (e, frac) = if biased == 0 {
                    // Subnormal: mant × 2^-1074.
                    let p = 63 - mant.leading_zeros(); // 0..=51
                    (
                        p as i32 - 1074,
                        (u128::from(mant ^ (1u64 << p)) << (64 - p)) as u64,
                    )
                } else {
                    (biased - 1023, mant << 12)
                };
                (f < 0.0, e, frac)
            }
        };
        let mut body = [0u8; 10];
        body[..2].copy_from_slice(&((exp + EXP_BIAS) as u16).to_be_bytes());
        body[2..].copy_from_slice(&frac.to_be_bytes());
        if neg {
            out.push(NUM_NEG);
            out.extend(body.iter().map(|b| !b));
        } else {
            out.push(NUM_POS);
            out.extend_from_slice(&body);
        }
    }
}

/// Exact comparison of an integer with a finite float.
fn cmp_int_float(i: i128, f: f64) -> Ordering {
    const TWO_127: f64 = 170141183460469231731687303715884105728.0;
    if f >= TWO_127 {
        return Ordering::Less;
    }
    if f < -TWO_127 {
        return Ordering::Greater;
    }
    let fl = f.floor();
    match i.cmp(&(fl as i128)) {
        Ordering::Equal if f > fl => Ordering::Less,
        o => o,
    }
}

/// A decimal value `±digits × 10^exp`, normalized: `digits` has no leading or trailing
/// zeros and is empty for zero (whose sign is then irrelevant).
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    neg: bool,
    digits: Vec<u8>,
    exp: i64,
}

impl Decimal {
    /// Parse JSON number syntax: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    /// Also returns whether the literal is integer syntax (no fraction, no exponent).
    fn parse(s: &str) -> Option<(Decimal, bool)> {
        // Exponents are clamped here; any literal that reaches the clamp is far out of
        // the f64 range (or zero), so the clamp never changes the outcome.
        const CLAMP: i64 = 1 << 40;
        let b = s.as_bytes();
        let mut i = 0;
        let neg = b.first() == Some(&b'-');
        if neg {
            i += 1;
        }
        let int_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let int_digits = &b[int_start..i];
        if int_digits.is_empty() || (int_digits.len() > 1 && int_digits[0] == b'0') {
            return None;
        }
        let mut frac_digits: &[u8] = &[];
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            frac_digits = &b[start..i];
            if frac_digits.is_empty() {
                return None;
            }
        }
        let mut exp: i64 = 0;
        let mut has_exp = false;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            has_exp = true;
            i += 1;
            let eneg = match b.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                exp = (exp * 10 + i64::from(b[i] - b'0')).min(CLAMP);
                i += 1;
            }
            if i == start {
                return None;
            }
            if eneg {
                exp = -exp;
            }
        }
        if i != b.len() {
            return None;
        }
        let integer_syntax = frac_digits.is_empty() && !has_exp;
        let digits: Vec<u8> = int_digits
            .iter()
            .chain(frac_digits)
            .map(|d| d - b'0')
            .collect();
        let exp = exp - frac_digits.len() as i64;
        Some((Decimal::new(neg, digits, exp), integer_syntax))
    }

    /// The value as an integer if it is one and lies in `i64::MIN..=u64::MAX`.
    fn to_key_int(&self) -> Option<i128> {
        if self.digits.is_empty() {
            return Some(0);
        }
        // 10^20 > u64::MAX, so more than 20 digits cannot fit.
        if self.exp < 0 || self.digits.len() as i64 + self.exp > 20 {
            return None;
        }
        let mut m: i128 = 0;
        for &d in &self.digits {
            m = m * 10 + i128::from(d);
        }
        for _ in 0..self.exp {
            m *= 10;
        }
        let v = if self.neg { -m } else { m };
        (i128::from(i64::MIN)..=i128::from(u64::MAX))
            .contains(&v)
            .then_some(v)
    }
}

/// Decimal of a Rust float formatting (`{:e}` or `{:.Ne}`); always valid syntax.
fn decimal_of_formatted(s: &str) -> Decimal {
    Decimal::parse(s)
        .expect("Rust float formatting is JSON number syntax")
        .0
}

/// Increment a digit string by one unit in its last place.
fn increment(digits: &[u8]) -> Vec<u8> {
    let mut d = digits.to_vec();
    for x in d.iter_mut().rev() {
        if *x == 9 {
            *x = 0;
        } else {
            *x += 1;
            return d;
        }
    }
    d.insert(0, 1);
    d
}

impl Decimal {
    fn new(neg: bool, mut digits: Vec<u8>, mut exp: i64) -> Decimal {
        let lead = digits.iter().take_while(|&&d| d == 0).count();
        digits.drain(..lead);
        while digits.last() == Some(&0) {
            digits.pop();
            exp += 1;
        }
        if digits.is_empty() {
            exp = 0;
        }
        Decimal {
            neg: neg && !digits.is_empty(),
            digits,
            exp,
        }
    }

    /// The nearest f64 (round half to even), via the standard library's exact parser.
    fn nearest_f64(&self) -> f64 {
        let mut s = String::with_capacity(self.digits.len() + 24);
        if self.neg {
            s.push('-');
        }
        if self.digits.is_empty() {
            s.push('0');
        }
        s.extend(self.digits.iter().map(|&d| char::from(b'0' + d)));
        s.push_str(&format!("e{}", self.exp));
        s.parse().expect("decimal syntax parses as f64")
    }
}

/// Does the non-zero decimal `v` name the finite f64 `f = nearest(v)` exactly?
///
/// Rule (docs/FORMAT.md): with `v = D × 10^X` (D without trailing zeros), `v` must be,
/// among the multiples of `10^X` whose nearest f64 is `f`, one closest to `f`. Every
/// correctly rounded rendering of `f` passes (the shortest round-trip digits of any
/// algorithm, `%.Ne` for any N, the exact expansion); a literal with digits beyond what
/// `f` holds (e.g. `0.100000000000000001`, `9007199254740993.0`) fails.
fn names_f64_exactly(v: &Decimal, f: f64) -> bool {
    if f == 0.0 {
        return false;
    }
    // Fast path: up to 15 significant digits always pass in the normal range, since
    // the digit grid is then far coarser than the f64 spacing.
    if v.digits.len() <= 15 && f.is_normal() {
        return true;
    }
    if *v == decimal_of_formatted(&format!("{f:e}")) {
        return true;
    }
    names_f64_exactly_slow(v, f)
}

/// `names_f64_exactly` without the fast paths.
fn names_f64_exactly_slow(v: &Decimal, f: f64) -> bool {
    // A literal longer than any exact f64 expansion (767 significant digits) is not the
    // closest multiple of its own unit: f itself is a nearer one.
    if v.digits.len() > 800 {
        return false;
    }
    // Exact decimal expansion of f (at most 767 significant digits).
    let exact = decimal_of_formatted(&format!("{f:.800e}"));
    if exact.exp >= v.exp {
        // f is itself a multiple of 10^X: only f is at distance 0.
        return *v == exact;
    }
    // |f| = q × 10^X + r with 0 < r < 10^X (r has k digits in units of 10^exact.exp).
    let k = (v.exp - exact.exp) as usize;
    let n = exact.digits.len();
    let (q, r): (Vec<u8>, Vec<u8>) = if n > k {
        (
            exact.digits[..n - k].to_vec(),
            exact.digits[n - k..].to_vec(),
        )
    } else {
        let mut r = vec![0; k - n];
        r.extend_from_slice(&exact.digits);
        (Vec::new(), r)
    };
    let mut half = vec![0u8; k];
    half[0] = 5;
    let r_vs_half = r.cmp(&half);
    let neg = f < 0.0;
    let lo = Decimal::new(neg, q.clone(), v.exp);
    let hi = Decimal::new(neg, increment(&q), v.exp);
    // The farther neighbour qualifies only if the nearer one names another f64. (That
    // happens at powers of two, where the gap below f is half the gap above; the rule
    // is stated symmetrically all the same.)
    if *v == lo {
        r_vs_half != Ordering::Greater || hi.nearest_f64() != f
    } else if *v == hi {
        r_vs_half != Ordering::Less || lo.nearest_f64() != f
    } else {
        false
    }
}

/// The exact value a JSON number denotes as a key, or why it cannot be a key.
/// See docs/FORMAT.md, "JSON key order", "Numbers".
///
/// Integer syntax (no fraction, no exponent) denotes that integer, which must lie in
/// `i64::MIN..=u64::MAX`. Any other literal denotes an f64, like in JSON parsers
/// generally, and must name it exactly: its decimal value must be the shortest
/// round-trip decimal of the nearest f64, or that f64's exact value.
fn parse_number(n: &Number) -> Result<Num, CodecError> {
    let s = n.as_str();
    let (dec, integer_syntax) = Decimal::parse(s).ok_or_else(|| {
        CodecError::new(format!(
            "JSON key number {s:?} is not valid JSON number syntax"
        ))
    })?;
    if integer_syntax {
        return dec.to_key_int().map(Num::Int).ok_or_else(|| {
            CodecError::new(format!(
                "JSON key integer {s} is out of range: key integers must lie between \
                 -9223372036854775808 and 18446744073709551615"
            ))
        });
    }
    let f: f64 = s
        .parse()
        .map_err(|_| CodecError::new(format!("JSON key number {s:?} does not parse as f64")))?;
    if !f.is_finite() {
        return Err(CodecError::new(format!(
            "JSON key number {s} is beyond the range of f64"
        )));
    }
    if dec.digits.is_empty() || names_f64_exactly(&dec, f) {
        return Ok(if f == 0.0 { Num::Int(0) } else { Num::Float(f) });
    }
    let hint = match dec.to_key_int() {
        Some(i) => format!("; write the integer {i} without a fraction or exponent"),
        None => String::new(),
    };
    Err(CodecError::new(format!(
        "JSON key number {s} cannot be represented exactly: it does not round-trip through \
         f64 (the nearest f64 is {f:e}){hint}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::Strategy;

    fn num(s: &str) -> Result<Num, CodecError> {
        parse_number(&Number::from_string_unchecked(s.to_string()))
    }

    #[test]
    fn decimal_parse() {
        let d = |s| Decimal::parse(s).map(|(d, int)| (d.neg, d.digits, d.exp, int));
        assert_eq!(d("0"), Some((false, vec![], 0, true)));
        assert_eq!(d("-0.000e5"), Some((false, vec![], 0, false)));
        assert_eq!(d("120"), Some((false, vec![1, 2], 1, true)));
        assert_eq!(d("-1.50E-3"), Some((true, vec![1, 5], -4, false)));
        assert_eq!(d("1e+2"), Some((false, vec![1], 2, false)));
        for bad in [
            "", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1x", "NaN", "inf", " 1", "0x10", "1.5.2",
        ] {
            assert_eq!(d(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn number_classes() {
        assert!(matches!(
            num("18446744073709551615"),
            Ok(Num::Int(18446744073709551615))
        ));
        assert!(matches!(
            num("-9223372036854775808"),
            Ok(Num::Int(-9223372036854775808))
        ));
        assert!(num("9007199254740993.0").is_err(), "not an f64");
        assert!(matches!(num("9007199254740992.0"), Ok(Num::Float(_))));
        assert!(num("18446744073709551616").is_err());
        assert!(num("-9223372036854775809").is_err());
        assert!(
            matches!(num("18446744073709551616.0"), Ok(Num::Float(_))),
            "exact f64 value 2^64"
        );
        assert!(
            matches!(num("1.8446744073709552e19"), Ok(Num::Float(_))),
            "shortest decimal of 2^64"
        );
        assert!(num("18446744073709551617.0").is_err());
        assert!(matches!(num("0.1"), Ok(Num::Float(_))));
        assert!(matches!(
            num("0.1000000000000000055511151231257827021181583404541015625"),
            Ok(Num::Float(_))
        ));
        assert!(
            matches!(num("0.10000000000000001"), Ok(Num::Float(_))),
            "%.17g of 0.1"
        );
        assert!(num("0.100000000000000001").is_err());
        assert!(num("0.1000000000000000055511151231257827021181583404541015624").is_err());
        assert!(num("3e-324").is_err(), "5e-324 is nearer");
        // Exactly halfway between two 16-digit decimals: both renderings are accepted.
        assert!(matches!(num("-782290972409312.2"), Ok(Num::Float(_))));
        assert!(matches!(num("-782290972409312.3"), Ok(Num::Float(_))));
        assert!(
            num("-782290972409312.24").is_err(),
            "f is -782290972409312.25"
        );
        assert!(num("1e400").is_err());
        assert!(num("1e-400").is_err());
        assert!(matches!(num("0e-99999999999999999999"), Ok(Num::Int(0))));
        assert!(matches!(num("5e-324"), Ok(Num::Float(_))));
        assert!(num("1x").is_err());
    }

    /// Independent oracle for `names_f64_exactly` in u128 arithmetic, for
    /// f = m × 2^e in [1, 2^20) (so -52 <= e <= -33) and v = d × 10^x with -12 <= x <= 0.
    /// Everything is scaled by 2^52 × 10^12 to integers below 2^113.
    fn oracle(d: u128, x: i32, f: f64) -> bool {
        let bits = f.to_bits();
        let m = u128::from((bits & ((1 << 52) - 1)) | (1 << 52));
        let e = ((bits >> 52) & 0x7FF) as i32 - 1075;
        let p10 = |k: i32| 10u128.pow(k as u32);
        let fs = (m << (e + 52)) * p10(12);
        let unit = p10(x + 12) << 52;
        let vs = d * unit;
        let nearest = |q: u128| {
            Decimal::new(
                false,
                q.to_string().bytes().map(|c| c - b'0').collect(),
                i64::from(x),
            )
            .nearest_f64()
        };
        // Multiples of the unit that round to f, closest to f.
        let lo = fs / unit;
        let mut best: Vec<u128> = Vec::new();
        let mut best_dist = u128::MAX;
        for q in [lo.saturating_sub(1), lo, lo + 1, lo + 2] {
            if nearest(q) != f {
                continue;
            }
            let dist = (q * unit).abs_diff(fs);
            if dist < best_dist {
                best = vec![q * unit];
                best_dist = dist;
            } else if dist == best_dist {
                best.push(q * unit);
            }
        }
        best.contains(&vs)
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(4000))]
        #[test]
        fn names_f64_exactly_matches_oracle(
            m in proptest::prop_oneof![(1u64 << 52)..(1u64 << 53), (1u64 << 52)..(1u64 << 52) + 3],
            e in -52i32..=-33,
            sig in 14i32..=19,
            delta in -2i64..=2,
        ) {
            let f = m as f64 * 2f64.powi(e);
            // A multiple of 10^x near f with about `sig` significant digits (f rounded
            // down, shifted by delta units).
            let x = (f.log10().floor() as i32 + 1 - sig).clamp(-12, 0);
            let scaled = (f * 10f64.powi(-x)) as i128 + i128::from(delta);
            if scaled <= 0 || scaled % 10 == 0 {
                return Ok(()); // not on the grid of its own last digit
            }
            let d = scaled as u128;
            let v = Decimal::new(false, d.to_string().bytes().map(|c| c - b'0').collect(), i64::from(x));
            if v.nearest_f64() != f {
                return Ok(()); // names another f64
            }
            proptest::prop_assert_eq!(names_f64_exactly(&v, f), oracle(d, x, f), "{}e{} for {:e}", d, x, f);
        }

        #[test]
        fn renderings_of_f64_are_accepted(
            bits in proptest::prop_oneof![1u64..0x7FF0_0000_0000_0000, 1u64..1 << 52, 1u64..1000, (1u64..2047).prop_map(|e| e << 52)],
            neg in proptest::bool::ANY,
        ) {
            let f = f64::from_bits(bits) * if neg { -1.0 } else { 1.0 };
            let mut texts = vec![format!("{f:e}"), Number::from_f64(f).unwrap().to_string(), format!("{f:.800e}")];
            texts.extend((0..20).map(|p| format!("{f:.p$e}")));
            for t in texts {
                if t.parse::<f64>().unwrap() != f {
                    continue; // a short rounding that names a neighbour
                }
                let n = num(&t);
                proptest::prop_assert!(n.is_ok(), "{} for {:e}: {:?}", t, f, n);
                let d = Decimal::parse(&t).unwrap().0;
                proptest::prop_assert!(names_f64_exactly_slow(&d, f), "slow path refuses {}", t);
            }
        }
    }

    /// At a power of two the f64 below is twice as close, so the shortest digits
    /// can be the farther of the two nearest decimals of their length: the nearer one
    /// names the f64 below. Such renderings are accepted.
    #[test]
    fn shortest_digits_at_powers_of_two() {
        for t in [
            "7.120236347223045e-307",
            "5.641232424577593e-278",
            "6.083493012144512e-210",
        ] {
            let d = Decimal::parse(t).unwrap().0;
            let f: f64 = t.parse().unwrap();
            assert_eq!(f.to_bits() & ((1 << 52) - 1), 0, "{t} is a power of two");
            assert!(names_f64_exactly_slow(&d, f), "{t}");
            // The next decimal of that length on the same side is farther still.
            let mut e = d.digits.clone();
            *e.last_mut().unwrap() += 1;
            let e = Decimal::new(false, e, d.exp);
            if e.nearest_f64() == f {
                assert!(!names_f64_exactly_slow(&e, f), "{t} + 1 unit");
            }
        }
    }

    #[test]
    fn number_bytes() {
        let enc = |s: &str| {
            let mut v = Vec::new();
            num(s).unwrap().encode(&mut v);
            v
        };
        assert_eq!(enc("0"), [NUM_ZERO]);
        assert_eq!(enc("1"), [NUM_POS, 0x04, 0x33, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc("1"), enc("1.0"));
        assert_eq!(
            enc("-1"),
            [NUM_NEG, 0xFB, 0xCC, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
        );
        assert_eq!(enc("3"), [NUM_POS, 0x04, 0x34, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc("0.5"), [NUM_POS, 0x04, 0x32, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(enc("5e-324"), [NUM_POS, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(enc("9007199254740993") > enc("9007199254740992.0"));
    }
}
