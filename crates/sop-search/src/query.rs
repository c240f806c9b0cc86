//! The query language and its parser.
//!
//! A query is a list of clauses separated by white space:
//!
//! - `word` — a term, searched in every field of the index (each field's boost
//!   applies); it is tokenized like the documents (a word that tokenizes to
//!   several tokens, e.g. `foo-bar`, becomes a phrase; a stop word is dropped);
//! - `"a phrase"` — the words at consecutive positions (stop words keep their
//!   place, so `"end of line"` matches "end of line" with `of` a stop word);
//! - `pre*` — every term starting with `pre` (lower-cased, not stemmed);
//! - `field:word`, `field:"a phrase"`, `field:pre*` — in one field only;
//! - `+clause` must match, `-clause` must not match; `clause^2.5` multiplies its
//!   score.
//!
//! Unmarked clauses are OR (should) by default, as in Lucene and Tantivy: a
//! document matches if it matches any of them, and scores the sum of what it
//! matched. With `default_and` they are all required instead. If any clause is
//! `+`, documents must match every `+` clause and the unmarked ones only add score.
//! A query with no clause, an unterminated quote, a field the index does not have,
//! or a bad boost is an error (`SearchError::BadQuery`).

use crate::error::{Result, SearchError};
use crate::tokenizer::Tokenizer;

/// How a clause takes part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Occur {
    Should,
    Must,
    MustNot,
}

/// What a clause matches.
#[derive(Clone, Debug, PartialEq)]
pub enum Atom {
    /// One term (already normalized).
    Term(String),
    /// Terms with their positions relative to the first.
    Phrase(Vec<(u32, String)>),
    /// Every term starting with this.
    Prefix(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    pub occur: Occur,
    /// `None`: every field of the index.
    pub field: Option<String>,
    pub atom: Atom,
    pub boost: f64,
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Query {
    pub clauses: Vec<Clause>,
}

fn bad(pos: usize, msg: impl Into<String>) -> SearchError {
    SearchError::BadQuery {
        pos,
        msg: msg.into(),
    }
}

/// Parse `text` against an index's fields and tokenizer.
pub fn parse(text: &str, fields: &[&str], tok: &Tokenizer, default_and: bool) -> Result<Query> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut clauses = Vec::new();
    let mut any = false;
    while i < b.len() {
        if b[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        any = true;
        let mut occur = if default_and {
            Occur::Must
        } else {
            Occur::Should
        };
        if b[i] == b'+' || b[i] == b'-' {
            occur = if b[i] == b'+' {
                Occur::Must
            } else {
                Occur::MustNot
            };
            i += 1;
            if i >= b.len() || b[i].is_ascii_whitespace() {
                return Err(bad(start, "'+' or '-' must be followed by a term"));
            }
        }
        // An optional `field:` (a name without quotes or spaces before a colon).
        let mut field = None;
        if b[i] != b'"' {
            let mut j = i;
            while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'"' && b[j] != b':' {
                j += 1;
            }
            if j < b.len() && b[j] == b':' {
                let name = &text[i..j];
                if name.is_empty() {
                    return Err(bad(i, "empty field name"));
                }
                if !fields.contains(&name) {
                    return Err(bad(i, format!("unknown field {name:?}")));
                }
                field = Some(name.to_string());
                i = j + 1;
                if i >= b.len() || b[i].is_ascii_whitespace() {
                    return Err(bad(i, format!("nothing after '{name}:'")));
                }
            }
        }
        let atom_start = i;
        let atom: Option<Atom>;
        if b[i] == b'"' {
            let close = text[i + 1..]
                .find('"')
                .map(|p| i + 1 + p)
                .ok_or_else(|| bad(i, "unterminated quote"))?;
            let toks = tok.tokens(&text[i + 1..close]);
            atom = phrase_atom(toks);
            i = close + 1;
        } else {
            let mut j = i;
            while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'^' && b[j] != b'"' {
                j += 1;
            }
            let word = &text[i..j];
            if word.is_empty() {
                return Err(bad(i, "expected a term"));
            }
            if let Some(p) = word.strip_suffix('*') {
                if p.is_empty() || p.contains('*') {
                    return Err(bad(
                        atom_start,
                        "a prefix needs at least one character before '*'",
                    ));
                }
                let words: Vec<&str> =
                    unicode_segmentation::UnicodeSegmentation::unicode_words(p).collect();
                if words.len() != 1 || words[0].len() != p.len() {
                    return Err(bad(atom_start, format!("a prefix must be one word: {p:?}")));
                }
                let pre = if tok.config().lowercase {
                    p.to_lowercase()
                } else {
                    p.to_string()
                };
                atom = Some(Atom::Prefix(pre));
            } else {
                if word.contains('*') {
                    return Err(bad(atom_start, "'*' is allowed only at the end of a term"));
                }
                atom = phrase_atom(tok.tokens(word));
            }
            i = j;
        }
        let mut boost = 1.0;
        if i < b.len() && b[i] == b'^' {
            let mut j = i + 1;
            while j < b.len() && !b[j].is_ascii_whitespace() {
                j += 1;
            }
            let s = &text[i + 1..j];
            boost = s
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v > 0.0)
                .ok_or_else(|| bad(i, format!("bad boost {s:?}: a positive number")))?;
            i = j;
        }
        if i < b.len() && !b[i].is_ascii_whitespace() {
            return Err(bad(i, "expected white space after a clause"));
        }
        if let Some(atom) = atom {
            clauses.push(Clause {
                occur,
                field,
                atom,
                boost,
            });
        }
    }
    if !any {
        return Err(bad(0, "empty query"));
    }
    Ok(Query { clauses })
}

fn phrase_atom(toks: Vec<crate::tokenizer::Token>) -> Option<Atom> {
    match toks.len() {
        0 => None,
        1 => toks.into_iter().next().map(|t| Atom::Term(t.term)),
        _ => {
            let p0 = toks[0].position;
            Some(Atom::Phrase(
                toks.into_iter()
                    .map(|t| (t.position - p0, t.term))
                    .collect(),
            ))
        }
    }
}
