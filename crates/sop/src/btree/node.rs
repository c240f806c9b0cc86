//! B+tree nodes in memory and their byte format.
//!
//! A leaf is a slotted page: item records live in an arena in any order and a
//! sorted vector of `u32` offsets gives their order, so an insert moves four bytes
//! per later item instead of whole entries. Items are ordered by (key bytes, item id).

use crate::codec::wire::{put_u128, put_u32, put_u64, put_varint, Reader};
use crate::error::CodecError;
use std::cmp::Ordering;

mod delta;
pub use delta::{decode_changes, image_values, Change, KIND_DELTA};

pub type NodeId = u64;
pub type ItemId = u128;

/// Largest key, in bytes.
pub const MAX_KEY_LEN: usize = 32 * 1024;

const TAG_INLINE: u8 = 0;
const TAG_SEGMENT: u8 = 1;
const TAG_FILE: u8 = 2;
const TAG_PENDING: u8 = 3;

const KIND_LEAF: u8 = 1;
const KIND_INTERNAL: u8 = 2;

/// Where an item's value lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueRef<'a> {
    /// Inside the leaf.
    Inline(&'a [u8]),
    /// A separate blob inside commit segment `seq` (0 on disk = the node's own segment).
    Segment {
        seq: u64,
        off: u64,
        len: u32,
        checksum: u64,
    },
    /// Its own file `blob` (big values, written at the time of the add).
    File { blob: u128, len: u64, checksum: u64 },
    /// Staged in the writing transaction's memory (index into its pending values).
    Pending(u32),
}

impl ValueRef<'_> {
    /// A hash identifying this value for read validation: equal hashes mean the
    /// same value bytes (inline and separate values: their xxh3-64) or the same
    /// immutable blob (big values).
    pub fn identity_hash(&self) -> u64 {
        use xxhash_rust::xxh3::xxh3_64;
        match *self {
            ValueRef::Inline(b) => xxh3_64(b),
            // By content, like inline values, so a value moved by compaction keeps its identity.
            ValueRef::Segment { checksum, .. } => checksum,
            ValueRef::File { checksum, len, .. } => checksum ^ len,
            ValueRef::Pending(i) => 0x9e37_79b9_7f4a_7c15 ^ i as u64,
        }
    }
}

fn encode_value(out: &mut Vec<u8>, v: &ValueRef<'_>) {
    match *v {
        ValueRef::Inline(b) => {
            out.push(TAG_INLINE);
            put_varint(out, b.len() as u64);
            out.extend_from_slice(b);
        }
        ValueRef::Segment {
            seq,
            off,
            len,
            checksum,
        } => {
            out.push(TAG_SEGMENT);
            put_u64(out, seq);
            put_u64(out, off);
            put_u32(out, len);
            put_u64(out, checksum);
        }
        ValueRef::File {
            blob,
            len,
            checksum,
        } => {
            out.push(TAG_FILE);
            put_u128(out, blob);
            put_u64(out, len);
            put_u64(out, checksum);
        }
        ValueRef::Pending(i) => {
            out.push(TAG_PENDING);
            put_u32(out, i);
        }
    }
}

/// One decoded item record.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    pub key: &'a [u8],
    pub id: ItemId,
    pub value: ValueRef<'a>,
}

fn decode_record<'a>(r: &mut Reader<'a>, allow_pending: bool) -> Result<Item<'a>, CodecError> {
    let klen = r.len_prefix()?;
    if klen > MAX_KEY_LEN {
        return Err(CodecError::new(format!(
            "key length {klen} exceeds the maximum"
        )));
    }
    let key = r.take(klen)?;
    let id = r.u128()?;
    let value = decode_value(r, allow_pending)?;
    Ok(Item { key, id, value })
}

#[inline]
fn decode_value<'a>(r: &mut Reader<'a>, allow_pending: bool) -> Result<ValueRef<'a>, CodecError> {
    Ok(match r.u8()? {
        TAG_INLINE => ValueRef::Inline(r.bytes()?),
        TAG_SEGMENT => ValueRef::Segment {
            seq: r.u64()?,
            off: r.u64()?,
            len: r.u32()?,
            checksum: r.u64()?,
        },
        TAG_FILE => ValueRef::File {
            blob: r.u128()?,
            len: r.u64()?,
            checksum: r.u64()?,
        },
        TAG_PENDING if allow_pending => ValueRef::Pending(r.u32()?),
        t => return Err(CodecError::new(format!("unknown value tag {t}"))),
    })
}

/// Lexicographic byte comparison, eight bytes at a time (keys are short; this
/// beats a call to memcmp).
#[inline]
pub fn cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_be_bytes(a[i..i + 8].try_into().unwrap());
        let y = u64::from_be_bytes(b[i..i + 8].try_into().unwrap());
        if x != y {
            return x.cmp(&y);
        }
        i += 8;
    }
    while i < n {
        if a[i] != b[i] {
            return a[i].cmp(&b[i]);
        }
        i += 1;
    }
    a.len().cmp(&b.len())
}

#[inline]
pub fn cmp_item(akey: &[u8], aid: ItemId, bkey: &[u8], bid: ItemId) -> Ordering {
    cmp_bytes(akey, bkey).then(aid.cmp(&bid))
}

/// One item of a leaf: its key's prefix and where its key sits in the arena (the
/// record starts just before it, at the key-length varint). A leaf keeps the two
/// halves in separate arrays (`Leaf::prefixes`, `Leaf::locs`), so a search scans
/// eight bytes per item.
#[derive(Clone, Copy, Debug)]
struct SlotRef {
    /// The key's first eight bytes, big-endian, zero-padded: most comparisons
    /// during a search end here without touching the arena.
    prefix: u64,
    loc: Loc,
}

#[derive(Clone, Copy, Debug)]
struct Loc {
    key_off: u32,
    key_len: u32,
}

#[inline]
fn key_prefix(key: &[u8]) -> u64 {
    if let Some(b) = key.first_chunk::<8>() {
        return u64::from_be_bytes(*b);
    }
    let mut b = [0u8; 8];
    let n = key.len().min(8);
    b[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(b)
}

/// Ask the CPU to bring every cache line of `xs` into its cache (no effect on the
/// result; a no-op off x86_64).
#[inline(always)]
fn prefetch_all<T>(xs: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(xs);
        let p = xs.as_ptr() as *const i8;
        let mut off = 0;
        while off < bytes {
            // SAFETY: prefetching is a hint; the address lies inside `xs`.
            unsafe { _mm_prefetch(p.add(off), _MM_HINT_T0) };
            off += 64;
        }
    }
}

fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// A leaf: items in (key, id) order.
#[derive(Default, Debug)]
pub struct Leaf {
    arena: Vec<u8>,
    /// Per item in order, the first eight bytes of its key after the leaf's
    /// common prefix (`key_prefix(&key[skip..])`).
    prefixes: Vec<u64>,
    /// Per item in order, where its key is in `arena`.
    locs: Vec<Loc>,
    dead: usize,
    /// Every key starts with the same `skip` bytes (at most `MAX_SKIP`; 0 when
    /// empty), kept big-endian in `common` (zero beyond `skip`). Keys such as
    /// `user/000123` share most of their first eight bytes within a leaf;
    /// skipping what they share keeps the prefixes distinct.
    skip: usize,
    common: u128,
}

/// The longest common prefix a leaf skips.
const MAX_SKIP: usize = 16;

/// The common prefix `a` and `b` give a leaf: its length, at most `MAX_SKIP`.
fn skip_of(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .take(MAX_SKIP)
        .take_while(|(x, y)| x == y)
        .count()
}

/// A key's first sixteen bytes, big-endian, zero-padded.
#[inline]
fn head16(key: &[u8]) -> u128 {
    if let Some(b) = key.first_chunk::<16>() {
        return u128::from_be_bytes(*b);
    }
    let mut b = [0u8; 16];
    let n = key.len().min(16);
    b[..n].copy_from_slice(&key[..n]);
    u128::from_be_bytes(b)
}

/// The bits of `head16` that the first `skip` bytes occupy.
#[inline]
fn skip_mask(skip: usize) -> u128 {
    if skip == 0 {
        0
    } else {
        !0u128 << (128 - 8 * skip)
    }
}

/// A leaf is cloned to be changed (copy-on-write): the copy gets room for a few
/// more records, so the write that follows does not reallocate (and copy) it again.
impl Clone for Leaf {
    fn clone(&self) -> Leaf {
        let mut arena = Vec::with_capacity(self.arena.len() + self.arena.len() / 8 + 512);
        arena.extend_from_slice(&self.arena);
        let mut prefixes = Vec::with_capacity(self.len() + 4);
        prefixes.extend_from_slice(&self.prefixes);
        let mut locs = Vec::with_capacity(self.len() + 4);
        locs.extend_from_slice(&self.locs);
        Leaf {
            arena,
            prefixes,
            locs,
            dead: self.dead,
            skip: self.skip,
            common: self.common,
        }
    }
}

impl Leaf {
    pub fn len(&self) -> usize {
        self.locs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.locs.is_empty()
    }
    /// Approximate bytes of memory held.
    pub fn mem_size(&self) -> usize {
        self.arena.capacity() + self.prefixes.capacity() * 8 + self.locs.capacity() * 8 + 64
    }
    #[inline]
    fn push_slot(&mut self, s: SlotRef) {
        self.prefixes.push(s.prefix);
        self.locs.push(s.loc);
    }
    pub fn item(&self, i: usize) -> Item<'_> {
        let s = self.locs[i];
        // The slot locates the key; the item id and the value follow it.
        let key_end = (s.key_off + s.key_len) as usize;
        Item {
            key: &self.arena[s.key_off as usize..key_end],
            id: self.slot_id(s),
            value: self.value_at(key_end + 16),
        }
    }
    /// The value whose tag is at arena offset `at`.
    #[inline]
    fn value_at(&self, at: usize) -> ValueRef<'_> {
        // Fast path: an inline value whose length takes one or two varint bytes.
        let (len, start) = match self.arena.get(at..at + 3) {
            Some(&[TAG_INLINE, a, _]) if a < 0x80 => (a as usize, at + 2),
            Some(&[TAG_INLINE, a, b]) if b < 0x80 => {
                ((a & 0x7f) as usize | (b as usize) << 7, at + 3)
            }
            _ => (0, 0),
        };
        if start != 0 {
            if let Some(v) = self.arena.get(start..start + len) {
                return ValueRef::Inline(v);
            }
        }
        let mut r = Reader::new(&self.arena);
        r.pos = at;
        // Records in the arena were validated when written or decoded.
        decode_value(&mut r, true).expect("leaf arena holds valid records")
    }
    #[inline]
    pub fn key(&self, i: usize) -> &[u8] {
        self.slot_key(self.locs[i])
    }
    /// Whether item `i` has key `key`; the key's length and first eight bytes,
    /// kept in the slot, usually decide without reading the record.
    #[inline]
    pub fn key_is(&self, i: usize, key: &[u8]) -> bool {
        let s = self.locs[i];
        s.key_len as usize == key.len()
            && key.len() >= self.skip
            && self.prefixes[i] == key_prefix(&key[self.skip..])
            && self.key(i) == key
    }
    pub fn id(&self, i: usize) -> ItemId {
        self.slot_id(self.locs[i])
    }
    /// The item id stored right after the key.
    fn slot_id(&self, s: Loc) -> ItemId {
        let at = (s.key_off + s.key_len) as usize;
        u128::from_le_bytes(self.arena[at..at + 16].try_into().unwrap())
    }
    /// Ask the CPU to fetch the first line of up to `n` records from item `from` on
    /// (downwards if `desc`), so that a scan waits for them together rather than
    /// for one after the other. No effect on the leaf.
    pub fn prefetch_records(&self, from: usize, desc: bool, n: usize) {
        if n == 0 {
            return;
        }
        let range = if desc {
            from.saturating_sub(n - 1)..(from + 1).min(self.len())
        } else {
            from..(from + n).min(self.len())
        };
        for s in &self.locs[range] {
            if let Some(b) = self.arena.get(s.key_off as usize..) {
                prefetch_all(&b[..b.len().min(1)]);
            }
        }
    }
    /// First position whose (key, id) is >= (key, id).
    pub fn lower_bound(&self, key: &[u8], id: ItemId) -> usize {
        let p = match self.key_prefix_in(key) {
            Ok(p) => p,
            Err(at) => return at,
        };
        self.search(p, |s| {
            cmp_bytes(self.slot_key(s), key).then(self.slot_id(s).cmp(&id)) == Ordering::Less
        })
    }
    /// First position whose key is >= `key` (any id).
    pub fn lower_bound_key(&self, key: &[u8]) -> usize {
        let p = match self.key_prefix_in(key) {
            Ok(p) => p,
            Err(at) => return at,
        };
        self.search(p, |s| cmp_bytes(self.slot_key(s), key) == Ordering::Less)
    }
    /// First position whose key is > `key`.
    pub fn upper_bound_key(&self, key: &[u8]) -> usize {
        let p = match self.key_prefix_in(key) {
            Ok(p) => p,
            Err(at) => return at,
        };
        self.search(p, |s| cmp_bytes(self.slot_key(s), key) != Ordering::Greater)
    }
    /// `key`'s search prefix in this leaf, or, when `key` does not start with the
    /// leaf's common prefix, where it goes: before every item or after all.
    #[inline]
    fn key_prefix_in(&self, key: &[u8]) -> Result<u64, usize> {
        if self.skip == 0 {
            return Ok(key_prefix(key));
        }
        let head = head16(key) & skip_mask(self.skip);
        if head == self.common && key.len() >= self.skip {
            return Ok(key_prefix(&key[self.skip..]));
        }
        // Equal heads with a shorter key: the key is a prefix of the common one.
        if head <= self.common {
            Err(0)
        } else {
            Err(self.len())
        }
    }
    /// Shrink `skip` so that `key` shares the common prefix too, recomputing the
    /// prefixes if it changes.
    #[inline]
    fn admit(&mut self, key: &[u8]) {
        if self.skip == 0 {
            return;
        }
        if head16(key) & skip_mask(self.skip) == self.common && key.len() >= self.skip {
            return;
        }
        let common = self.common.to_be_bytes();
        self.set_skip(skip_of(&common[..self.skip], key), key);
    }
    /// Make the common prefix as long as the keys allow (the first and last keys
    /// bound every other), recomputing the prefixes if it changes.
    fn fit_skip(&mut self) {
        if let (Some(&a), Some(&b)) = (self.locs.first(), self.locs.last()) {
            let (a, b) = (self.slot_key(a), self.slot_key(b));
            let skip = skip_of(a, b);
            if skip != self.skip {
                let a = a.to_vec();
                self.set_skip(skip, &a);
            }
        }
    }
    /// Skip the first `skip` bytes, which every key shares with `key`.
    fn set_skip(&mut self, skip: usize, key: &[u8]) {
        self.skip = skip;
        self.common = head16(key) & skip_mask(skip);
        for i in 0..self.locs.len() {
            let k = self.slot_key(self.locs[i]);
            self.prefixes[i] = key_prefix(&k[skip..]);
        }
    }
    #[inline]
    fn slot_key(&self, s: Loc) -> &[u8] {
        &self.arena[s.key_off as usize..(s.key_off + s.key_len) as usize]
    }
    /// The first position whose slot is not "before" the target: slots with a key
    /// prefix below `p` are before it, slots with a greater prefix are not, and
    /// `before` decides among those whose prefix equals `p` (it must be monotone
    /// over them, as the slots are sorted).
    ///
    /// A branch-free binary search over the prefix array, after asking the CPU to
    /// fetch every cache line of that array and of the slot array at once (up to
    /// 128 items): a leaf not in the CPU cache
    /// then costs about one memory latency (the lines arrive together) rather than
    /// one per probe, and one in cache costs a few instructions per probe instead of
    /// a pass over every prefix.
    #[inline]
    fn search(&self, p: u64, before: impl Fn(Loc) -> bool) -> usize {
        let prefixes = &self.prefixes[..];
        if prefixes.len() <= 128 {
            // The slot the search picks is read next: fetch the slots alongside.
            prefetch_all(prefixes);
            prefetch_all(&self.locs[..]);
        }
        let (mut base, mut size) = (0usize, prefixes.len());
        while size > 1 {
            let half = size / 2;
            let mid = base + half;
            base = if prefixes[mid - 1] < p { mid } else { base };
            size -= half;
        }
        let first = base + usize::from(size == 1 && prefixes[base] < p);
        let ties = prefixes[first..].iter().take_while(|&&x| x == p).count();
        first + self.locs[first..first + ties].partition_point(|&s| before(s))
    }
    fn push_record(&mut self, key: &[u8], id: ItemId, value: &ValueRef<'_>) -> SlotRef {
        put_varint(&mut self.arena, key.len() as u64);
        let key_off = self.arena.len() as u32;
        self.arena.extend_from_slice(key);
        put_u128(&mut self.arena, id);
        encode_value(&mut self.arena, value);
        SlotRef {
            prefix: key_prefix(key.get(self.skip..).unwrap_or_default()),
            loc: Loc {
                key_off,
                key_len: key.len() as u32,
            },
        }
    }
    /// The byte range of slot `s`'s record in the arena (records there were
    /// validated when written or decoded, so only the value's length is read).
    #[inline]
    fn span(&self, s: Loc) -> (usize, usize) {
        let start = s.key_off as usize - varint_len(s.key_len as u64);
        let at = (s.key_off + s.key_len) as usize + 16;
        let end = match self.arena[at] {
            // Most inline values are shorter than 128 bytes: a one-byte length.
            TAG_INLINE if self.arena[at + 1] < 0x80 => at + 2 + self.arena[at + 1] as usize,
            TAG_INLINE => {
                let mut r = Reader::new(&self.arena);
                r.pos = at + 1;
                let n = r.varint().expect("leaf arena holds valid records") as usize;
                r.pos + n
            }
            TAG_SEGMENT => at + 1 + 28,
            TAG_FILE => at + 1 + 32,
            _ => at + 1 + 4,
        };
        (start, end)
    }
    fn record_len(&self, i: usize) -> usize {
        let (start, end) = self.span(self.locs[i]);
        end - start
    }
    /// Copy slot `s`'s record to the end of `arena`; the slot for the copy.
    #[inline]
    fn copy_record(&self, s: Loc, arena: &mut Vec<u8>) -> Loc {
        let (start, end) = self.span(s);
        let base = arena.len();
        arena.extend_from_slice(&self.arena[start..end]);
        Loc {
            key_off: (base + (s.key_off as usize - start)) as u32,
            ..s
        }
    }
    /// Append a copy of `other`'s item `i` (record and slot).
    #[inline]
    fn push_copy(&mut self, other: &Leaf, i: usize) {
        let loc = other.copy_record(other.locs[i], &mut self.arena);
        let prefix = if other.skip == self.skip {
            other.prefixes[i]
        } else {
            key_prefix(&other.key(i)[self.skip..])
        };
        self.prefixes.push(prefix);
        self.locs.push(loc);
    }
    /// Bytes of the records of items `from..to`.
    fn bytes_of(&self, from: usize, to: usize) -> usize {
        self.locs[from..to]
            .iter()
            .map(|&s| {
                let (a, b) = self.span(s);
                b - a
            })
            .sum()
    }
    pub fn insert(&mut self, pos: usize, key: &[u8], id: ItemId, value: &ValueRef<'_>) {
        self.admit(key);
        let s = self.push_record(key, id, value);
        self.prefixes.insert(pos, s.prefix);
        self.locs.insert(pos, s.loc);
    }
    pub fn push(&mut self, key: &[u8], id: ItemId, value: &ValueRef<'_>) {
        self.admit(key);
        let s = self.push_record(key, id, value);
        self.push_slot(s);
    }
    pub fn remove(&mut self, pos: usize) {
        self.dead += self.record_len(pos);
        self.prefixes.remove(pos);
        self.locs.remove(pos);
        self.maybe_compact();
    }
    /// Replace the value of the item at `pos` (key and id unchanged).
    pub fn set_value(&mut self, pos: usize, value: &ValueRef<'_>) {
        let (key, id) = (self.key(pos).to_vec(), self.id(pos));
        self.dead += self.record_len(pos);
        let slot = self.push_record(&key, id, value);
        self.locs[pos] = slot.loc;
        self.maybe_compact();
    }
    fn maybe_compact(&mut self) {
        if self.dead > 4096 && self.dead * 2 > self.arena.len() {
            *self = self.slice(0, self.len());
        }
    }
    /// A new leaf holding items `from..to`, with room for `extra` more bytes of records.
    fn slice_with(&self, from: usize, to: usize, extra: usize) -> Leaf {
        let (skip, common) = if to > from {
            let skip = skip_of(self.key(from), self.key(to - 1));
            (skip, head16(self.key(from)) & skip_mask(skip))
        } else {
            (0, 0)
        };
        // Room by the live bytes' share, not by measuring each record.
        let live = self.arena.len() - self.dead;
        let guess = live / self.len().max(1) * (to - from) + 64;
        let mut out = Leaf {
            arena: Vec::with_capacity(guess + extra),
            prefixes: Vec::with_capacity(to - from),
            locs: Vec::with_capacity(to - from),
            dead: 0,
            skip,
            common,
        };
        out.copy_items(self, from, to);
        out
    }
    /// Append copies of `other`'s items `from..to`. Records that follow each other
    /// in `other`'s arena (a leaf filled in key order, or one decoded) are copied
    /// as one run.
    fn copy_items(&mut self, other: &Leaf, from: usize, to: usize) {
        let same_skip = other.skip == self.skip;
        // The run being gathered: its source range, and where it goes.
        let (mut run_start, mut run_end) = (0usize, 0usize);
        let mut shift = 0isize;
        for i in from..to {
            let s = other.locs[i];
            let (start, end) = other.span(s);
            if start != run_end || run_end == run_start {
                self.arena
                    .extend_from_slice(&other.arena[run_start..run_end]);
                run_start = start;
                shift = self.arena.len() as isize - start as isize;
            }
            run_end = end;
            self.locs.push(Loc {
                key_off: (s.key_off as isize + shift) as u32,
                key_len: s.key_len,
            });
            self.prefixes.push(if same_skip {
                other.prefixes[i]
            } else {
                key_prefix(&other.slot_key(s)[self.skip..])
            });
        }
        self.arena
            .extend_from_slice(&other.arena[run_start..run_end]);
    }
    /// A new leaf holding items `from..to`.
    pub fn slice(&self, from: usize, to: usize) -> Leaf {
        self.slice_with(from, to, 0)
    }
    /// Split off items `at..` into a new leaf, which gets room to grow back to the
    /// size of the whole. The lower part stays in place (its records do not
    /// move; the upper part's become dead bytes), unless that leaves it mostly dead.
    pub fn split_off(&mut self, at: usize) -> Leaf {
        let live = self.arena.len() - self.dead;
        let right = self.slice_with(at, self.len(), live / 2);
        if (self.dead + right.arena.len()) * 2 > self.arena.len() {
            let mut left = self.slice_with(0, at, live / 2);
            left.prefixes.reserve(self.len() - at);
            left.locs.reserve(self.len() - at);
            *self = left;
        } else {
            self.dead += right.arena.len();
            self.prefixes.truncate(at);
            self.locs.truncate(at);
            self.fit_skip();
        }
        right
    }
    /// Append all items of `other` (which must all sort after ours).
    pub fn append(&mut self, other: &Leaf) {
        self.append_range(other, 0, other.len());
    }
    /// Append `other`'s items `from..to` (which must all sort after ours).
    pub fn append_range(&mut self, other: &Leaf, from: usize, to: usize) {
        if to > from {
            self.admit_range(other, from, to);
        }
        let live = other.arena.len() - other.dead;
        self.arena
            .reserve(live / other.len().max(1) * (to - from) + 64);
        self.prefixes.reserve(to - from);
        self.locs.reserve(to - from);
        self.copy_items(other, from, to);
    }
    /// Keep only the first `at` items (their records stay in place; the others'
    /// become dead bytes).
    pub fn truncate(&mut self, at: usize) {
        if at >= self.len() {
            return;
        }
        self.dead += self.bytes_of(at, self.len());
        self.prefixes.truncate(at);
        self.locs.truncate(at);
        if at == 0 {
            self.skip = 0;
            self.common = 0;
        }
        self.fit_skip();
        self.maybe_compact();
    }
    /// Move the first `n` items of `right` to the end of `self`.
    pub fn take_front(&mut self, right: &mut Leaf, n: usize) {
        if n > 0 {
            self.admit_range(right, 0, n);
        }
        self.copy_items(right, 0, n);
        *right = right.slice(n, right.len());
    }
    /// Make room in the common prefix for `other`'s items `from..to` (to > from):
    /// the first and last of them bound the others. An empty leaf takes theirs.
    fn admit_range(&mut self, other: &Leaf, from: usize, to: usize) {
        if self.is_empty() {
            self.skip = skip_of(other.key(from), other.key(to - 1));
            self.common = head16(other.key(from)) & skip_mask(self.skip);
            return;
        }
        self.admit(other.key(from));
        self.admit(other.key(to - 1));
    }
    /// Move the last `n` items of `left` to the front of `self`.
    pub fn take_back(&mut self, left: &mut Leaf, n: usize) {
        let mut merged = left.slice(left.len() - n, left.len());
        merged.append(self);
        *self = merged;
        *left = left.slice(0, left.len() - n);
    }
    /// Make this leaf fit for the node cache without copying it, if it nearly is:
    /// no `Pending` value, at most an eighth of its arena dead, and its records in
    /// item order but for a few (a leaf cloned from a compact one that took a few
    /// writes). Then its spare capacity, if more than a little, is released and it
    /// returns true; otherwise it
    /// is left as it is (use `compacted`). Scans read records in item order, so a
    /// leaf whose records are scattered (a bulk load inserts in any order) is worth
    /// the copy. `may_pend`: whether it can hold `Pending` values at all (false
    /// spares reading every record).
    pub fn settle(&mut self, may_pend: bool) -> bool {
        const MAX_BREAKS: usize = 4;
        if self.dead * 8 > self.arena.len() {
            return false;
        }
        let mut breaks = 0;
        let mut prev = 0u32;
        for &s in &self.locs {
            if may_pend && self.arena[(s.key_off + s.key_len) as usize + 16] == TAG_PENDING {
                return false;
            }
            if s.key_off < prev {
                breaks += 1;
                if breaks > MAX_BREAKS {
                    return false;
                }
            }
            prev = s.key_off;
        }
        // Shrinking copies the leaf; a little spare room costs less.
        if self.arena.capacity() > self.arena.len() + self.arena.len() / 4 + 1024 {
            self.arena.shrink_to_fit();
        }
        if self.locs.capacity() > self.locs.len() + 8 {
            self.prefixes.shrink_to_fit();
            self.locs.shrink_to_fit();
        }
        true
    }
    /// A compact copy: records in item order, no dead bytes, no spare capacity, each
    /// `Pending` value replaced by `resolve`'s answer (`None` if one has none). A leaf a
    /// writer changed carries room to grow and its records in insertion order; this is
    /// the dense form a reader would get by decoding it, for the node cache.
    pub fn compacted(
        &self,
        resolve: &mut dyn FnMut(u32) -> Option<ValueRef<'static>>,
    ) -> Option<Leaf> {
        let mut out = Leaf {
            arena: Vec::with_capacity(self.bytes_of(0, self.len())),
            prefixes: Vec::with_capacity(self.len()),
            locs: Vec::with_capacity(self.len()),
            dead: 0,
            skip: self.skip,
            common: self.common,
        };
        for (i, &s) in self.locs.iter().enumerate() {
            let at = (s.key_off + s.key_len) as usize + 16;
            if self.arena[at] != TAG_PENDING {
                out.push_copy(self, i);
                continue;
            }
            let mut r = Reader::new(&self.arena);
            r.pos = at + 1;
            let p = r.u32().expect("leaf arena holds valid records");
            let v = resolve(p)?;
            let (key, id) = (self.slot_key(s), self.slot_id(s));
            let slot = out.push_record(key, id, &v);
            out.push_slot(slot);
        }
        Some(out)
    }
    /// Encode for disk. `resolve` turns each `Pending` value into its final
    /// reference (a segment offset in the record being written).
    pub fn encode_with(
        &self,
        out: &mut Vec<u8>,
        resolve: &mut dyn FnMut(u32) -> ValueRef<'static>,
    ) {
        out.push(KIND_LEAF);
        put_varint(out, self.len() as u64);
        out.reserve(self.arena.len() - self.dead);
        for &s in &self.locs {
            // A record is stored as it is encoded, except a pending value.
            let at = (s.key_off + s.key_len) as usize + 16;
            if self.arena[at] != TAG_PENDING {
                self.copy_record(s, out);
                continue;
            }
            let (start, _) = self.span(s);
            out.extend_from_slice(&self.arena[start..at]);
            let mut r = Reader::new(&self.arena);
            r.pos = at + 1;
            let p = r.u32().expect("leaf arena holds valid records");
            encode_value(out, &resolve(p));
        }
    }
}

/// A separator: the smallest (key, id) of the subtree to its right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sep {
    /// The key's first eight bytes (see `key_prefix`): searches compare it first.
    prefix: u64,
    pub key: Box<[u8]>,
    pub id: ItemId,
}

impl Sep {
    pub fn new(key: &[u8], id: ItemId) -> Sep {
        Sep {
            prefix: key_prefix(key),
            key: key.into(),
            id,
        }
    }
}

/// An internal node: `children.len() == seps.len() + 1`; child `i` holds items in
/// `[seps[i-1], seps[i])`. The separators' key prefixes are also kept in an array
/// of their own (eight bytes a separator), which the searches binary-search: the
/// upper levels of a tree stay in the CPU cache, and a node that is not costs
/// about one memory latency (its prefix lines are fetched together) instead of one
/// per probe. So the separators are private: every change goes through a method
/// that keeps the array in step.
#[derive(Clone, Default, Debug)]
pub struct Internal {
    seps: Vec<Sep>,
    prefixes: Vec<u64>,
    pub children: Vec<NodeId>,
}

impl Internal {
    pub fn new(seps: Vec<Sep>, children: Vec<NodeId>) -> Internal {
        let mut n = Internal {
            seps,
            prefixes: Vec::new(),
            children,
        };
        n.reindex();
        n
    }
    fn reindex(&mut self) {
        self.prefixes.clear();
        self.prefixes.extend(self.seps.iter().map(|s| s.prefix));
    }
    pub fn seps(&self) -> &[Sep] {
        &self.seps
    }
    /// Insert `sep` at `c` and `child` after it (at `c + 1`): a split child's right half.
    pub fn insert_child(&mut self, c: usize, sep: Sep, child: NodeId) {
        self.prefixes.insert(c, sep.prefix);
        self.seps.insert(c, sep);
        self.children.insert(c + 1, child);
    }
    /// Remove child `c + 1` and the separator before it (`c`): a merged sibling.
    pub fn remove_child(&mut self, c: usize) {
        self.seps.remove(c);
        self.prefixes.remove(c);
        self.children.remove(c + 1);
    }
    pub fn set_sep(&mut self, i: usize, sep: Sep) {
        self.prefixes[i] = sep.prefix;
        self.seps[i] = sep;
    }
    /// Split off children `mid..` (and the separators between them) into a new
    /// node; the separator that parted them, for the parent.
    pub fn split_off(&mut self, mid: usize) -> (Sep, Internal) {
        let rc = self.children.split_off(mid);
        let mut rs = self.seps.split_off(mid - 1);
        let sep = rs.remove(0);
        self.prefixes.truncate(mid - 1);
        (sep, Internal::new(rs, rc))
    }
    /// Append `sep` and all of `right` (whose items sort after it).
    pub fn append(&mut self, sep: Sep, right: &mut Internal) {
        self.seps.push(sep);
        self.seps.append(&mut right.seps);
        self.children.append(&mut right.children);
        right.prefixes.clear();
        self.reindex();
    }
    /// Move the first `k` children of `right` to the end of `self`; `sep` (the
    /// separator between the two) comes down, and becomes the new one between them.
    pub fn take_front(&mut self, right: &mut Internal, k: usize, sep: &mut Sep) {
        for _ in 0..k {
            self.seps.push(std::mem::replace(sep, right.seps.remove(0)));
            self.children.push(right.children.remove(0));
        }
        self.reindex();
        right.reindex();
    }
    /// Move the last `k` children of `left` to the front of `self`, `sep` as in
    /// `take_front`.
    pub fn take_back(&mut self, left: &mut Internal, k: usize, sep: &mut Sep) {
        for _ in 0..k {
            let last = left.seps.pop().expect("k is at most the separators");
            self.seps.insert(0, std::mem::replace(sep, last));
            self.children
                .insert(0, left.children.pop().expect("a child per separator"));
        }
        self.reindex();
        left.reindex();
    }
    /// The child whose range contains (key, id).
    #[inline]
    pub fn child_for(&self, key: &[u8], id: ItemId) -> usize {
        self.search(key, |s| {
            cmp_bytes(&s.key, key).then(s.id.cmp(&id)) != Ordering::Greater
        })
    }
    /// The leftmost child that may contain an item with key >= `key`.
    #[inline]
    pub fn child_for_key_lower(&self, key: &[u8]) -> usize {
        self.search(key, |s| cmp_bytes(&s.key, key) == Ordering::Less)
    }
    /// The rightmost child that may contain an item with key <= `key`.
    #[inline]
    pub fn child_for_key_upper(&self, key: &[u8]) -> usize {
        self.search(key, |s| cmp_bytes(&s.key, key) != Ordering::Greater)
    }
    pub fn mem_size(&self) -> usize {
        self.seps.iter().map(|s| s.key.len() + 48).sum::<usize>() + self.children.len() * 8 + 88
    }
    /// The number of separators before the target: those whose prefix is below
    /// the key's (found by a branch-free binary search over the prefix array, its
    /// lines fetched first), then, among those whose prefix equals the key's, the
    /// ones `before` accepts (monotone).
    #[inline]
    fn search(&self, key: &[u8], before: impl Fn(&Sep) -> bool) -> usize {
        let p = key_prefix(key);
        let prefixes = &self.prefixes[..];
        if prefixes.len() <= 128 {
            prefetch_all(prefixes);
        }
        let (mut base, mut size) = (0usize, prefixes.len());
        while size > 1 {
            let half = size / 2;
            let mid = base + half;
            base = if prefixes[mid - 1] < p { mid } else { base };
            size -= half;
        }
        let first = base + usize::from(size == 1 && prefixes[base] < p);
        let ties = prefixes[first..].iter().take_while(|&&x| x == p).count();
        first + self.seps[first..first + ties].partition_point(before)
    }
}

#[derive(Clone, Debug)]
pub enum Node {
    Leaf(Leaf),
    Internal(Internal),
}

impl Node {
    pub fn mem_size(&self) -> usize {
        match self {
            Node::Leaf(l) => l.mem_size(),
            Node::Internal(n) => n.mem_size(),
        }
    }
    pub fn encode_with(
        &self,
        out: &mut Vec<u8>,
        resolve: &mut dyn FnMut(u32) -> ValueRef<'static>,
    ) {
        match self {
            Node::Leaf(l) => l.encode_with(out, resolve),
            Node::Internal(n) => {
                out.push(KIND_INTERNAL);
                put_varint(out, n.children.len() as u64);
                for c in &n.children {
                    put_u64(out, *c);
                }
                for s in &n.seps {
                    put_varint(out, s.key.len() as u64);
                    out.extend_from_slice(&s.key);
                    put_u128(out, s.id);
                }
            }
        }
    }
    /// Encode a node that holds no pending values.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_with(&mut out, &mut |_| ValueRef::Inline(&[]));
        out
    }

    /// Decode a node read from commit segment `seq`; segment value references with
    /// sequence 0 are resolved to `seq`. Never panics on arbitrary bytes.
    pub fn decode(bytes: &[u8], seq: u64) -> Result<Node, CodecError> {
        let mut r = Reader::new(bytes);
        let node = match r.u8()? {
            KIND_LEAF => {
                let n = r.count(19)?;
                let mut leaf = Leaf {
                    arena: Vec::with_capacity(r.remaining()),
                    prefixes: Vec::with_capacity(n),
                    locs: Vec::with_capacity(n),
                    dead: 0,
                    skip: 0,
                    common: 0,
                };
                let mut prev: Option<(&[u8], ItemId)> = None;
                for _ in 0..n {
                    let it = decode_record(&mut r, false)?;
                    if let Some((pk, pid)) = prev {
                        if cmp_item(pk, pid, it.key, it.id) != Ordering::Less {
                            return Err(CodecError::new("leaf items out of order"));
                        }
                    }
                    prev = Some((it.key, it.id));
                    let v = match it.value {
                        ValueRef::Segment {
                            seq: 0,
                            off,
                            len,
                            checksum,
                        } => ValueRef::Segment {
                            seq,
                            off,
                            len,
                            checksum,
                        },
                        v => v,
                    };
                    leaf.push(it.key, it.id, &v);
                }
                leaf.fit_skip();
                Node::Leaf(leaf)
            }
            KIND_INTERNAL => {
                let n = r.count(8)?;
                if n < 2 {
                    return Err(CodecError::new(
                        "internal node with fewer than two children",
                    ));
                }
                let mut children = Vec::with_capacity(n);
                for _ in 0..n {
                    children.push(r.u64()?);
                }
                let mut seps: Vec<Sep> = Vec::with_capacity(n - 1);
                for _ in 0..n - 1 {
                    let klen = r.len_prefix()?;
                    if klen > MAX_KEY_LEN {
                        return Err(CodecError::new("separator key too long"));
                    }
                    let key = r.take(klen)?;
                    let id = r.u128()?;
                    let s = Sep::new(key, id);
                    if let Some(p) = seps.last() {
                        if cmp_item(&p.key, p.id, &s.key, s.id) != Ordering::Less {
                            return Err(CodecError::new("separators out of order"));
                        }
                    }
                    seps.push(s);
                }
                Node::Internal(Internal::new(seps, children))
            }
            KIND_DELTA => {
                return Err(CodecError::new(
                    "a leaf delta where a full node image was expected",
                ))
            }
            k => return Err(CodecError::new(format!("unknown node kind {k}"))),
        };
        if !r.is_empty() {
            return Err(CodecError::new("trailing bytes after node"));
        }
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks every search of `leaf` (holding exactly `items`, sorted) against a
    /// plain scan, for present, absent, shorter and longer keys.
    pub(crate) fn check_searches(leaf: &Leaf, items: &[(Vec<u8>, ItemId)], what: &str) {
        assert_eq!(leaf.len(), items.len(), "{what}");
        for (i, (k, id)) in items.iter().enumerate() {
            assert_eq!((leaf.key(i), leaf.id(i)), (&k[..], *id), "{what}");
            assert!(leaf.key_is(i, k), "{what}");
        }
        let mut probes: Vec<(Vec<u8>, ItemId)> = items.to_vec();
        probes.extend(items.iter().map(|(k, id)| (k.clone(), id + 1)));
        probes.extend(items.iter().map(|(k, _)| {
            let mut k = k.clone();
            k.push(0);
            (k, 0)
        }));
        probes.extend(items.iter().map(|(k, _)| (k[..k.len() / 2].to_vec(), 0)));
        probes.extend([
            (vec![], 0),
            (vec![0xff; 40], 0),
            (b"common/".to_vec(), 0),
            (b"common/prefix/0".to_vec(), 0),
            (b"common/prefix/9".to_vec(), 0),
            (b"common/q".to_vec(), 0),
            (b"common/o".to_vec(), 0),
        ]);
        for (k, id) in &probes {
            let lb = items
                .iter()
                .filter(|(ik, iid)| (ik, *iid) < (k, *id))
                .count();
            assert_eq!(leaf.lower_bound(k, *id), lb, "{what} {k:?}");
            let lbk = items.iter().filter(|(ik, _)| ik < k).count();
            assert_eq!(leaf.lower_bound_key(k), lbk, "{what} {k:?}");
            let ubk = items.iter().filter(|(ik, _)| ik <= k).count();
            assert_eq!(leaf.upper_bound_key(k), ubk, "{what} {k:?}");
            if let Some(i) = items.iter().position(|(ik, _)| ik == k) {
                assert!(leaf.key_is(i, k), "{what}");
            }
        }
    }

    fn leaf_of(items: &[(Vec<u8>, ItemId)]) -> Leaf {
        let mut leaf = Leaf::default();
        for (k, id) in items {
            leaf.push(k, *id, &ValueRef::Inline(b"v"));
        }
        leaf
    }

    /// The searches agree with a plain scan, for leaves below and above the
    /// search window, keys sharing long prefixes (which the leaf skips),
    /// duplicates and absent keys, however the leaf was built: pushed in order,
    /// inserted in random order, decoded, sliced, split, appended, or moved
    /// between siblings (each of which may change the skipped common prefix).
    #[test]
    fn leaf_searches_match_a_linear_scan() {
        let mut rng = fastrand::Rng::with_seed(11);
        for n in [0usize, 1, 2, 7, 63, 64, 65, 200, 1000] {
            for shape in 0..4 {
                let mut items: Vec<(Vec<u8>, ItemId)> = (0..n)
                    .map(|i| {
                        let key = match shape {
                            // Distinct eight-byte prefixes.
                            0 => rng.u64(..).to_be_bytes().to_vec(),
                            // One long shared prefix: every search is a tie
                            // unless the leaf skips it.
                            1 => format!("common/prefix/{:06}", rng.u32(..5000)).into_bytes(),
                            // Shared prefixes of varying length.
                            2 => format!("common/{}", rng.u32(..100_000)).into_bytes(),
                            // Short keys, many duplicates.
                            _ => vec![rng.u8(..4); rng.usize(0..3)],
                        };
                        (key, i as ItemId * 3)
                    })
                    .collect();
                items.sort();
                items.dedup();
                let what = format!("n {n} shape {shape}");
                let leaf = leaf_of(&items);
                check_searches(&leaf, &items, &format!("{what} pushed"));

                let mut shuffled = items.clone();
                rng.shuffle(&mut shuffled);
                let mut ins = Leaf::default();
                let mut sofar: Vec<(Vec<u8>, ItemId)> = Vec::new();
                for (k, id) in &shuffled {
                    let pos = ins.lower_bound(k, *id);
                    ins.insert(pos, k, *id, &ValueRef::Inline(b"v"));
                    let at = sofar.partition_point(|x| x < &(k.clone(), *id));
                    sofar.insert(at, (k.clone(), *id));
                }
                check_searches(&ins, &items, &format!("{what} inserted"));

                let Node::Leaf(dec) =
                    Node::decode(&Node::Leaf(leaf.slice(0, leaf.len())).encode(), 1).unwrap()
                else {
                    panic!("not a leaf")
                };
                check_searches(&dec, &items, &format!("{what} decoded"));

                if items.len() >= 4 {
                    let at = items.len() / 3;
                    let mut left = leaf.clone();
                    let right = left.split_off(at);
                    check_searches(&left, &items[..at], &format!("{what} split left"));
                    check_searches(&right, &items[at..], &format!("{what} split right"));
                    // Moving items between siblings and merging them back.
                    let mut l2 = left.clone();
                    let mut r2 = right.clone();
                    l2.take_front(&mut r2, 2);
                    check_searches(&l2, &items[..at + 2], &format!("{what} take_front"));
                    check_searches(&r2, &items[at + 2..], &format!("{what} take_front right"));
                    let mut r3 = right.clone();
                    let mut l3 = left.clone();
                    r3.take_back(&mut l3, 1);
                    check_searches(&r3, &items[at - 1..], &format!("{what} take_back"));
                    check_searches(&l3, &items[..at - 1], &format!("{what} take_back left"));
                    let mut merged = left.clone();
                    merged.append(&right);
                    check_searches(&merged, &items, &format!("{what} appended"));
                    let mut from_empty = Leaf::default();
                    from_empty.append(&right);
                    check_searches(
                        &from_empty,
                        &items[at..],
                        &format!("{what} appended to empty"),
                    );
                    // Leaves of two neighbouring items skip a long common prefix;
                    // items from farther away must shorten it.
                    let pair = |from: usize| match Node::decode(
                        &Node::Leaf(leaf.slice(from, from + 2)).encode(),
                        1,
                    ) {
                        Ok(Node::Leaf(l)) => l,
                        _ => panic!("not a leaf"),
                    };
                    let mut grown = pair(at);
                    let mut rest: Vec<&(Vec<u8>, ItemId)> =
                        items[..at].iter().chain(&items[at + 2..]).collect();
                    rng.shuffle(&mut rest);
                    for (k, id) in rest {
                        let pos = grown.lower_bound(k, *id);
                        grown.insert(pos, k, *id, &ValueRef::Inline(b"v"));
                    }
                    check_searches(&grown, &items, &format!("{what} inserted around a pair"));
                    let mut l4 = pair(at - 2);
                    let mut r4 = right.clone();
                    l4.take_front(&mut r4, right.len());
                    check_searches(&l4, &items[at - 2..], &format!("{what} take_front all"));
                    let mut r5 = pair(at);
                    let mut l5 = left.clone();
                    r5.take_back(&mut l5, left.len());
                    check_searches(&r5, &items[..at + 2], &format!("{what} take_back all"));
                    let mut l6 = pair(at - 2);
                    l6.append(&right);
                    check_searches(&l6, &items[at - 2..], &format!("{what} appended to a pair"));
                    // Removing items keeps the rest searchable.
                    let mut rem = leaf.clone();
                    rem.remove(0);
                    rem.remove(rem.len() - 1);
                    check_searches(&rem, &items[1..items.len() - 1], &format!("{what} removed"));
                }
            }
        }
    }

    /// A compact leaf cloned and given a few writes is cached as it is (no more than
    /// a little spare room kept, its items and searches unchanged); one whose records are scattered,
    /// or that holds a pending value, is not.
    #[test]
    fn settle_takes_nearly_compact_leaves_only() {
        let items: Vec<(Vec<u8>, ItemId)> = (0..60u32)
            .map(|i| (format!("k{:04}", i * 2).into_bytes(), 1))
            .collect();
        let compact = leaf_of(&items).slice(0, items.len());
        let mut written = compact.clone();
        let mut all = items.clone();
        for k in ["k0001", "k0051"] {
            let pos = written.lower_bound(k.as_bytes(), 1);
            written.insert(pos, k.as_bytes(), 1, &ValueRef::Inline(b"v"));
            all.push((k.as_bytes().to_vec(), 1));
        }
        all.sort();
        assert!(written.settle(true));
        // At most a little spare room is kept (shrinking would copy the leaf).
        assert!(written.arena.capacity() <= written.arena.len() * 5 / 4 + 1024);
        assert!(written.locs.capacity() <= written.locs.len() + 8);
        check_searches(&written, &all, "settled");
        for i in 0..written.len() {
            assert_eq!(written.item(i).value, ValueRef::Inline(b"v"));
        }

        // Inserted in an order far from the keys': the copy is worth making.
        let mut scattered = Leaf::default();
        for (k, id) in items.iter().rev() {
            scattered.insert(0, k, *id, &ValueRef::Inline(b"v"));
        }
        check_searches(&scattered, &items, "scattered");
        assert!(!scattered.settle(false));

        let mut pending = compact.clone();
        pending.insert(1, b"k0001", 1, &ValueRef::Pending(0));
        assert!(!pending.settle(true));
    }

    /// The searches of internal nodes agree with a plain scan of the separators,
    /// with separators sharing their eight-byte prefixes, duplicates of a key with
    /// different item ids, and after every kind of change to the node.
    #[test]
    fn internal_searches_match_a_linear_scan() {
        fn check(node: &Internal, seps: &[(Vec<u8>, ItemId)]) {
            let got: Vec<(Vec<u8>, ItemId)> =
                node.seps().iter().map(|s| (s.key.to_vec(), s.id)).collect();
            assert_eq!(got, seps);
            assert_eq!(node.children.len(), seps.len() + 1);
            let mut probes = seps.to_vec();
            probes.extend(seps.iter().map(|(k, id)| (k.clone(), id + 1)));
            probes.extend(seps.iter().map(|(k, id)| (k.clone(), id.saturating_sub(1))));
            probes.extend(seps.iter().map(|(k, _)| (k[..k.len() / 2].to_vec(), 0)));
            probes.extend([(vec![], 0), (vec![0xff; 30], 0), (b"common/".to_vec(), 5)]);
            for (k, id) in &probes {
                let item = seps
                    .iter()
                    .filter(|(sk, sid)| (sk, *sid) <= (k, *id))
                    .count();
                let lower = seps.iter().filter(|(sk, _)| sk < k).count();
                let upper = seps.iter().filter(|(sk, _)| sk <= k).count();
                assert_eq!(node.child_for(k, *id), item);
                assert_eq!(node.child_for_key_lower(k), lower);
                assert_eq!(node.child_for_key_upper(k), upper);
            }
        }
        let mut rng = fastrand::Rng::with_seed(12);
        for n in [1usize, 2, 7, 64, 200] {
            for shape in 0..3 {
                let mut seps: Vec<(Vec<u8>, ItemId)> = (0..n)
                    .map(|i| {
                        let key = match shape {
                            0 => rng.u64(..).to_be_bytes().to_vec(),
                            1 => format!("common/prefix/{:04}", rng.u32(..300)).into_bytes(),
                            _ => vec![rng.u8(..3); rng.usize(0..10)],
                        };
                        (key, rng.u128(..8) + i as ItemId)
                    })
                    .collect();
                seps.sort();
                seps.dedup();
                let mk =
                    |s: &[(Vec<u8>, ItemId)]| s.iter().map(|(k, id)| Sep::new(k, *id)).collect();
                let mut node = Internal::new(mk(&seps), (0..=seps.len() as NodeId).collect());
                check(&node, &seps);
                if seps.len() < 4 {
                    continue;
                }
                // Split, then put back together.
                let mid = seps.len() / 2;
                let (sep, mut right) = node.split_off(mid);
                check(&node, &seps[..mid - 1]);
                check(&right, &seps[mid..]);
                node.append(sep, &mut right);
                check(&node, &seps);
                // Remove a child and insert it again; change a separator.
                let (k, id) = seps[1].clone();
                node.remove_child(1);
                let mut less = seps.clone();
                less.remove(1);
                check(&node, &less);
                node.insert_child(1, Sep::new(&k, id), 99);
                check(&node, &seps);
                let (k2, id2) = seps[2].clone();
                node.set_sep(2, Sep::new(&k2, id2));
                check(&node, &seps);
                // Move children between siblings both ways.
                let (mut sep, mut right) = node.split_off(mid);
                node.take_front(&mut right, 1, &mut sep);
                check(&node, &seps[..mid]);
                check(&right, &seps[mid + 1..]);
                right.take_back(&mut node, 2, &mut sep);
                check(&node, &seps[..mid - 2]);
                check(&right, &seps[mid - 1..]);
            }
        }
    }

    /// A compacted leaf holds the same items in the same order, packed, with its
    /// pending values resolved; it is `None` if one of them cannot be.
    #[test]
    fn leaf_compacted_keeps_items_and_resolves_pending_values() {
        let mut l = Leaf::default();
        for i in (0..50u32).rev() {
            let k = format!("k{i:03}");
            let v = if i % 5 == 0 {
                ValueRef::Pending(i)
            } else {
                ValueRef::Inline(k.as_bytes())
            };
            let pos = l.lower_bound(k.as_bytes(), 1);
            l.insert(pos, k.as_bytes(), 1, &v);
        }
        l.remove(3);
        l.set_value(4, &ValueRef::Inline(b"changed"));
        let resolved = |p: u32| ValueRef::Segment {
            seq: 9,
            off: p as u64,
            len: 1,
            checksum: 2,
        };
        let c = l.compacted(&mut |p| Some(resolved(p))).unwrap();
        assert_eq!(c.len(), l.len());
        assert_eq!(c.dead, 0);
        assert_eq!(c.arena.len(), c.bytes_of(0, c.len()));
        for i in 0..l.len() {
            let (a, b) = (l.item(i), c.item(i));
            assert_eq!((a.key, a.id), (b.key, b.id));
            match a.value {
                ValueRef::Pending(p) => assert_eq!(b.value, resolved(p)),
                v => assert_eq!(b.value, v),
            }
        }
        // Records are in item order in the arena.
        assert!((1..c.len()).all(|i| c.locs[i - 1].key_off < c.locs[i].key_off));
        assert!(l
            .compacted(&mut |p| (p != 10).then(|| resolved(p)))
            .is_none());
    }

    #[test]
    fn leaf_insert_remove_encode_round_trip() {
        let mut l = Leaf::default();
        for i in (0..200u32).rev() {
            let k = format!("k{i:05}");
            let pos = l.lower_bound(k.as_bytes(), 1);
            l.insert(
                pos,
                k.as_bytes(),
                1,
                &ValueRef::Inline(format!("v{i}").as_bytes()),
            );
        }
        for i in 0..199 {
            assert!(l.key(i) < l.key(i + 1));
        }
        l.remove(5);
        l.set_value(
            0,
            &ValueRef::Segment {
                seq: 0,
                off: 7,
                len: 3,
                checksum: 9,
            },
        );
        let bytes = Node::Leaf(l.clone()).encode();
        let Node::Leaf(back) = Node::decode(&bytes, 42).unwrap() else {
            panic!()
        };
        assert_eq!(back.len(), 199);
        assert_eq!(
            back.item(0).value,
            ValueRef::Segment {
                seq: 42,
                off: 7,
                len: 3,
                checksum: 9
            }
        );
        assert_eq!(back.item(10).key, l.item(10).key);
        let right = {
            let mut b = back.clone();
            b.split_off(100)
        };
        assert_eq!(right.len(), 99);
    }

    #[test]
    fn decode_rejects_garbage() {
        for bytes in [
            &[][..],
            &[9],
            &[1, 5],
            &[2, 1, 0, 0, 0, 0, 0, 0, 0, 0],
            &[1, 1, 1, b'a', 0],
        ] {
            assert!(Node::decode(bytes, 1).is_err());
        }
        let mut l = Leaf::default();
        l.push(b"b", 1, &ValueRef::Inline(b"x"));
        l.push(b"a", 1, &ValueRef::Inline(b"x"));
        assert!(
            Node::decode(&Node::Leaf(l).encode(), 1).is_err(),
            "out-of-order items are rejected"
        );
    }
}
