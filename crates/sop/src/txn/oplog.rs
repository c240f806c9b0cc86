//! The op log: every operation a transaction ran, in order, with a hash of its
//! result, for the in-flight merge to replay at commit (`commit::replay`).
//!
//! Puts, removes and gets are nearly every entry of a big transaction, so they
//! are encoded into one byte buffer with their keys and values inline: no
//! allocation or reference count per op, and about a third of the memory a
//! vector of ops took. A write's `true` or `false` takes one byte, not a hash.
//! Every other op is kept as it is in `other`, a marker in the buffer giving its
//! place.
//!
//! Entry layout (integers as LEB128 varints):
//! ```text
//! 01 h mode klen vlen key value result    put
//! 02 h klen key result                    remove
//! 03 h klen key result                    get
//! 04                                      the next op of `other`
//! result: 00 false | 01 true | 02 hash (u64 LE)
//! ```

use super::ops::{Op, OpOut, PutMode};
use crate::codec::wire::{put_varint, Reader};

const PUT: u8 = 1;
const REMOVE: u8 = 2;
const GET: u8 = 3;
const OTHER: u8 = 4;

const FALSE: u8 = 0;
const TRUE: u8 = 1;
const HASH: u8 = 2;

#[derive(Default)]
pub(crate) struct OpLog {
    bytes: Vec<u8>,
    other: Vec<(Op<'static>, u64)>,
    /// The last entry logged is the last of `other` (cursor steps fold into it).
    last_other: bool,
}

/// One entry read back: a put, remove or get borrowing from the log, or an op
/// kept as it is.
pub(crate) enum Entry<'a> {
    Decoded(Op<'a>),
    Kept(&'a Op<'static>),
}

impl<'a> Entry<'a> {
    pub fn op(&self) -> &Op<'a> {
        match self {
            Entry::Decoded(op) => op,
            Entry::Kept(op) => op,
        }
    }
}

fn mode_byte(m: PutMode) -> u8 {
    match m {
        PutMode::Add => 0,
        PutMode::AddIfAbsent => 1,
        PutMode::Update => 2,
        PutMode::Upsert => 3,
    }
}

fn byte_mode(b: u8) -> PutMode {
    match b {
        0 => PutMode::Add,
        1 => PutMode::AddIfAbsent,
        2 => PutMode::Update,
        _ => PutMode::Upsert,
    }
}

/// An op's result as the log keeps it: a write's `true` or `false`, or the
/// hash of anything else (`OpOut::hash`, or the hash of a deterministic error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Bool(bool),
    Hash(u64),
}

impl Outcome {
    pub fn of(out: &OpOut) -> Outcome {
        match out {
            OpOut::Bool(b) => Outcome::Bool(*b),
            other => Outcome::Hash(other.hash()),
        }
    }
    /// The hash replay compares: `OpOut::hash` of the same result.
    pub fn hash(self) -> u64 {
        match self {
            Outcome::Bool(b) => OpOut::Bool(b).hash(),
            Outcome::Hash(h) => h,
        }
    }
}

/// Append `v` as a varint; one push when it is below 128 (handles, key lengths).
#[inline]
fn varint(b: &mut Vec<u8>, v: usize) {
    if v < 0x80 {
        b.push(v as u8);
    } else {
        put_varint(b, v as u64);
    }
}

impl OpLog {
    /// Append `op`, with its result.
    #[inline]
    pub fn push(&mut self, op: Op<'_>, out: Outcome) {
        let b = &mut self.bytes;
        match op {
            Op::Put {
                h,
                mode,
                key,
                value,
            } => {
                b.reserve(32 + key.len() + value.len());
                if h < 0x80 && key.len() < 0x80 && value.len() < 0x80 {
                    // The usual small header in one write.
                    b.extend_from_slice(&[
                        PUT,
                        h as u8,
                        mode_byte(mode),
                        key.len() as u8,
                        value.len() as u8,
                    ]);
                } else {
                    b.push(PUT);
                    varint(b, h as usize);
                    b.push(mode_byte(mode));
                    varint(b, key.len());
                    varint(b, value.len());
                }
                b.extend_from_slice(key);
                b.extend_from_slice(value);
            }
            Op::Remove { h, key } | Op::Get { h, key } => {
                b.reserve(16 + key.len());
                b.push(if matches!(op, Op::Remove { .. }) {
                    REMOVE
                } else {
                    GET
                });
                varint(b, h as usize);
                varint(b, key.len());
                b.extend_from_slice(key);
            }
            other => {
                b.push(OTHER);
                let op = other
                    .into_owned()
                    .expect("only puts, removes and gets borrow");
                self.other.push((op, out.hash()));
                self.last_other = true;
                return;
            }
        }
        match out {
            Outcome::Bool(false) => b.push(FALSE),
            Outcome::Bool(true) => b.push(TRUE),
            Outcome::Hash(h) => {
                b.push(HASH);
                b.extend_from_slice(&h.to_le_bytes());
            }
        }
        self.last_other = false;
    }

    /// The last entry, if it is an op kept as it is (to fold cursor steps into).
    pub fn last_kept_mut(&mut self) -> Option<&mut (Op<'static>, u64)> {
        if self.last_other {
            self.other.last_mut()
        } else {
            None
        }
    }

    /// Bytes of memory the log holds (its buffer, and about 64 bytes a kept op).
    pub fn mem_size(&self) -> usize {
        self.bytes.len() + self.other.len() * 64
    }

    /// Every entry in order, with the hash of its result.
    pub fn entries(&self) -> Entries<'_> {
        Entries {
            r: Reader::new(&self.bytes),
            other: self.other.iter(),
        }
    }
}

pub(crate) struct Entries<'a> {
    r: Reader<'a>,
    other: std::slice::Iter<'a, (Op<'static>, u64)>,
}

impl<'a> Entries<'a> {
    /// The log was written by `OpLog::push` in this process: it is well formed.
    fn read(&mut self) -> Option<(Entry<'a>, u64)> {
        const OK: &str = "the op log is written by this process";
        let r = &mut self.r;
        if r.is_empty() {
            return None;
        }
        let tag = r.u8().expect(OK);
        let op = match tag {
            PUT => {
                let h = r.varint().expect(OK) as u32;
                let mode = byte_mode(r.u8().expect(OK));
                let klen = r.varint().expect(OK) as usize;
                let vlen = r.varint().expect(OK) as usize;
                let key = r.take(klen).expect(OK);
                let value = r.take(vlen).expect(OK);
                Op::Put {
                    h,
                    mode,
                    key,
                    value,
                }
            }
            REMOVE | GET => {
                let h = r.varint().expect(OK) as u32;
                let klen = r.varint().expect(OK) as usize;
                let key = r.take(klen).expect(OK);
                if tag == REMOVE {
                    Op::Remove { h, key }
                } else {
                    Op::Get { h, key }
                }
            }
            _ => {
                let (op, h) = self.other.next().expect(OK);
                return Some((Entry::Kept(op), *h));
            }
        };
        let out = match r.u8().expect(OK) {
            FALSE => Outcome::Bool(false),
            TRUE => Outcome::Bool(true),
            _ => Outcome::Hash(r.u64().expect(OK)),
        };
        Some((Entry::Decoded(op), out.hash()))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = (Entry<'a>, u64);
    fn next(&mut self) -> Option<Self::Item> {
        self.read()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::ops::Move;

    /// Entries read back are the ops pushed, in order, with their hashes.
    #[test]
    fn entries_come_back_in_order() {
        let mut log = OpLog::default();
        let big = vec![7u8; 300];
        let t = OpOut::Bool(true).hash();
        let f = OpOut::Bool(false).hash();
        let (tt, ff) = (Outcome::Bool(true), Outcome::Bool(false));
        log.push(
            Op::Put {
                h: 3,
                mode: PutMode::AddIfAbsent,
                key: b"k1",
                value: &big,
            },
            tt,
        );
        log.push(Op::Count { h: 1 }, Outcome::Hash(99));
        log.push(Op::Remove { h: 200, key: b"" }, ff);
        log.push(
            Op::Get { h: 0, key: b"k2" },
            Outcome::Hash(0x1234_5678_9abc_def0),
        );
        log.push(
            Op::Move {
                c: 2,
                mv: Move::Next,
            },
            Outcome::Hash(5),
        );
        assert!(log.last_kept_mut().is_some());
        log.push(
            Op::Put {
                h: 0,
                mode: PutMode::Upsert,
                key: b"k3",
                value: b"",
            },
            Outcome::Hash(42),
        );
        assert!(log.last_kept_mut().is_none());
        let got: Vec<String> = log
            .entries()
            .map(|(e, h)| format!("{:?} {h}", e.op()))
            .collect();
        let want = [
            format!(
                "{:?} {t}",
                Op::Put {
                    h: 3,
                    mode: PutMode::AddIfAbsent,
                    key: b"k1",
                    value: &big
                }
            ),
            "Count { h: 1 } 99".to_string(),
            format!("Remove {{ h: 200, key: [] }} {f}"),
            format!(
                "Get {{ h: 0, key: [107, 50] }} {}",
                0x1234_5678_9abc_def0u64
            ),
            "Move { c: 2, mv: Next } 5".to_string(),
            format!(
                "{:?} 42",
                Op::Put {
                    h: 0,
                    mode: PutMode::Upsert,
                    key: b"k3",
                    value: b""
                }
            ),
        ];
        assert_eq!(got, want);
    }
}
