//! Leaves: a slotted page of item records (see `Leaf`).

use super::keys::*;
use super::*;

/// One item of a leaf: its key's prefix and where its key sits in the arena (the
/// record starts just before it, at the key-length varint). A leaf keeps the two
/// halves in separate arrays (`Leaf::prefixes`, `Leaf::locs`), so a search scans
/// eight bytes per item.
#[derive(Clone, Copy, Debug)]
pub(super) struct SlotRef {
    /// The key's first eight bytes, big-endian, zero-padded: most comparisons
    /// during a search end here without touching the arena.
    pub(super) prefix: u64,
    pub(super) loc: Loc,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Loc {
    pub(super) key_off: u32,
    pub(super) key_len: u32,
}

/// A leaf: items in (key, id) order.
#[derive(Default, Debug)]
pub struct Leaf {
    pub(super) arena: Vec<u8>,
    /// Per item in order, the first eight bytes of its key after the leaf's
    /// common prefix (`key_prefix(&key[skip..])`).
    pub(super) prefixes: Vec<u64>,
    /// Per item in order, where its key is in `arena`.
    pub(super) locs: Vec<Loc>,
    pub(super) dead: usize,
    /// Every key starts with the same `skip` bytes (at most `MAX_SKIP`; 0 when
    /// empty), kept big-endian in `common` (zero beyond `skip`). Keys such as
    /// `user/000123` share most of their first eight bytes within a leaf;
    /// skipping what they share keeps the prefixes distinct.
    pub(super) skip: usize,
    pub(super) common: u128,
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
    pub(super) fn push_slot(&mut self, s: SlotRef) {
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
    /// The blobs of item `i`'s value if it is a big value (in a file of its own,
    /// or a stream's chunks).
    #[inline]
    pub fn big_blobs(&self, i: usize) -> Option<BigBlobs> {
        let s = self.locs[i];
        let at = (s.key_off + s.key_len) as usize + 16;
        if self.arena[at] != TAG_FILE && self.arena[at] != TAG_STREAM {
            return None;
        }
        self.value_at(at).big_blobs()
    }
    /// The value whose tag is at arena offset `at`.
    #[inline]
    pub(super) fn value_at(&self, at: usize) -> ValueRef<'_> {
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
    pub(super) fn slot_id(&self, s: Loc) -> ItemId {
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
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn lower_bound(&self, key: &[u8], id: ItemId) -> usize {
        self.lower_bound_in(key, id, false)
    }
    /// `lower_bound`; `hot`: the leaf was just used (a writer's finger), so its
    /// arrays are not prefetched first.
    #[inline]
    pub fn lower_bound_in(&self, key: &[u8], id: ItemId, hot: bool) -> usize {
        let p = match self.key_prefix_in(key) {
            Ok(p) => p,
            Err(at) => return at,
        };
        self.search(
            p,
            |s| cmp_bytes(self.slot_key(s), key).then(self.slot_id(s).cmp(&id)) == Ordering::Less,
            hot,
        )
    }
    /// First position whose key is >= `key` (any id).
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn lower_bound_key(&self, key: &[u8]) -> usize {
        self.lower_bound_key_in(key, false)
    }
    /// `lower_bound_key`; `hot` as in `lower_bound_in`.
    #[inline]
    pub fn lower_bound_key_in(&self, key: &[u8], hot: bool) -> usize {
        let p = match self.key_prefix_in(key) {
            Ok(p) => p,
            Err(at) => return at,
        };
        self.search(
            p,
            |s| cmp_bytes(self.slot_key(s), key) == Ordering::Less,
            hot,
        )
    }
    /// First position whose key is > `key`.
    pub fn upper_bound_key(&self, key: &[u8]) -> usize {
        let p = match self.key_prefix_in(key) {
            Ok(p) => p,
            Err(at) => return at,
        };
        self.search(
            p,
            |s| cmp_bytes(self.slot_key(s), key) != Ordering::Greater,
            false,
        )
    }
    /// `key`'s search prefix in this leaf, or, when `key` does not start with the
    /// leaf's common prefix, where it goes: before every item or after all.
    #[inline]
    pub(super) fn key_prefix_in(&self, key: &[u8]) -> Result<u64, usize> {
        prefix_after(key, self.skip, self.common).map_err(|o| match o {
            Ordering::Greater => self.len(),
            _ => 0,
        })
    }
    /// Shrink `skip` so that `key` shares the common prefix too, recomputing the
    /// prefixes if it changes.
    #[inline]
    pub(super) fn admit(&mut self, key: &[u8]) {
        if self.skip == 0 {
            return;
        }
        if prefix_after(key, self.skip, self.common).is_ok() {
            return;
        }
        let common = self.common.to_be_bytes();
        self.set_skip(skip_of(&common[..self.skip], key), key);
    }
    /// Make the common prefix as long as the keys allow (the first and last keys
    /// bound every other), recomputing the prefixes if it changes.
    pub(super) fn fit_skip(&mut self) {
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
    pub(super) fn set_skip(&mut self, skip: usize, key: &[u8]) {
        self.skip = skip;
        self.common = head16(key) & skip_mask(skip);
        for i in 0..self.locs.len() {
            let k = self.slot_key(self.locs[i]);
            self.prefixes[i] = key_prefix(&k[skip..]);
        }
    }
    #[inline]
    pub(super) fn slot_key(&self, s: Loc) -> &[u8] {
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
    /// a pass over every prefix. A `hot` leaf (a writer's finger just used it) is
    /// in the CPU cache already, and its search skips the prefetching.
    #[inline]
    pub(super) fn search(&self, p: u64, before: impl Fn(Loc) -> bool, hot: bool) -> usize {
        let prefixes = &self.prefixes[..];
        if !hot && prefixes.len() <= 128 {
            // The slot the search picks is read next: fetch the slots alongside.
            prefetch_all(prefixes);
            prefetch_all(&self.locs[..]);
        }
        // The edges first: a run of inserts (or removals) at one end of a leaf
        // finds its place without searching.
        let (Some(&lo), Some(&hi)) = (prefixes.first(), prefixes.last()) else {
            return 0;
        };
        let first = if p <= lo {
            0
        } else if p > hi {
            return prefixes.len();
        } else {
            count_below(prefixes, p)
        };
        let ties = prefixes[first..].iter().take_while(|&&x| x == p).count();
        first + self.locs[first..first + ties].partition_point(|&s| before(s))
    }
    pub(super) fn push_record(&mut self, key: &[u8], id: ItemId, value: &ValueRef<'_>) -> SlotRef {
        let a = &mut self.arena;
        let key_off;
        match *value {
            // The usual record, written with room made for it once: one-byte
            // lengths, the key, the id, an inline value.
            ValueRef::Inline(v) if key.len() < 0x80 && v.len() < 0x80 => {
                a.reserve(key.len() + v.len() + 19);
                a.push(key.len() as u8);
                key_off = a.len() as u32;
                a.extend_from_slice(key);
                a.extend_from_slice(&id.to_le_bytes());
                a.extend_from_slice(&[TAG_INLINE, v.len() as u8]);
                a.extend_from_slice(v);
            }
            _ => {
                put_varint(a, key.len() as u64);
                key_off = a.len() as u32;
                a.extend_from_slice(key);
                put_u128(a, id);
                encode_value(a, value);
            }
        }
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
    pub(super) fn span(&self, s: Loc) -> (usize, usize) {
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
            TAG_STREAM => at + 1 + 36,
            _ => at + 1 + 4,
        };
        (start, end)
    }
    pub(super) fn record_len(&self, i: usize) -> usize {
        let (start, end) = self.span(self.locs[i]);
        end - start
    }
    /// Copy slot `s`'s record to the end of `arena`; the slot for the copy.
    #[inline]
    pub(super) fn copy_record(&self, s: Loc, arena: &mut Vec<u8>) -> Loc {
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
    pub(super) fn push_copy(&mut self, other: &Leaf, i: usize) {
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
    pub(super) fn bytes_of(&self, from: usize, to: usize) -> usize {
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
    pub(super) fn maybe_compact(&mut self) {
        if self.dead > 4096 && self.dead * 2 > self.arena.len() {
            self.compact_in_place();
        }
    }
    /// Drop the dead bytes by sliding the live records to the front of the arena,
    /// in the order they lie there: no new allocation, and the room freed is there
    /// for the records to come.
    pub(super) fn compact_in_place(&mut self) {
        if self.dead == 0 {
            return;
        }
        // Each item's record start and index, in arena order.
        let mut order: smallvec::SmallVec<[(u32, u32); 128]> = self
            .locs
            .iter()
            .enumerate()
            .map(|(i, &s)| (s.key_off, i as u32))
            .collect();
        order.sort_unstable();
        let mut w = 0usize;
        for (_, i) in order {
            let s = self.locs[i as usize];
            let (start, end) = self.span(s);
            // `w <= start`: the records not moved yet all lie past `end`.
            if start != w {
                self.arena.copy_within(start..end, w);
            }
            self.locs[i as usize].key_off = (w + (s.key_off as usize - start)) as u32;
            w += end - start;
        }
        self.arena.truncate(w);
        self.dead = 0;
    }
    /// A new leaf holding items `from..to`, with room for `extra` more bytes of
    /// records and `extra_items` more items.
    pub(super) fn slice_with(
        &self,
        from: usize,
        to: usize,
        extra: usize,
        extra_items: usize,
    ) -> Leaf {
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
            prefixes: Vec::with_capacity(to - from + extra_items),
            locs: Vec::with_capacity(to - from + extra_items),
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
    pub(super) fn copy_items(&mut self, other: &Leaf, from: usize, to: usize) {
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
        self.slice_with(from, to, 0, 0)
    }
    /// Split off items `at..` into a new leaf, with room for an eighth of the
    /// whole to come (more room was mostly memory never used: a bulk load of
    /// 100,000 keys touched 1.3 MB more; a leaf that does fill grows as a vector
    /// does). The lower part stays in place (its records do not move; the upper
    /// part's become dead bytes), unless that leaves it mostly dead.
    pub fn split_off(&mut self, at: usize) -> Leaf {
        let live = self.arena.len() - self.dead;
        let right = self.slice_with(at, self.len(), live / 8, at);
        if (self.dead + right.arena.len()) * 2 > self.arena.len() {
            *self = self.slice_with(0, at, live / 2, self.len() - at);
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
    pub(super) fn admit_range(&mut self, other: &Leaf, from: usize, to: usize) {
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
        // Shrinking costs a reallocation each (at a commit, one per leaf written:
        // about a quarter of a millisecond per thousand leaves), so only an arena
        // holding more than twice its records is shrunk; the slot arrays (at most
        // a few hundred bytes spare) are left as they are.
        if self.arena.capacity() > 2 * self.arena.len() + 1024 {
            self.arena.shrink_to_fit();
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
    /// `encode_with`, and this leaf made compact from what it wrote: records in
    /// item order, no dead bytes (the arena's memory is reused, not copied), each
    /// `Pending` value replaced by what `resolve` said, a `Segment` of sequence 0,
    /// "the record being written", until `resolve_own_segments` names that record.
    /// The same items, so a leaf staged in a transaction stays valid; a commit
    /// that writes it whole thereby has its compact form, for the node cache,
    /// without building a copy.
    pub fn encode_compacting(
        &mut self,
        out: &mut Vec<u8>,
        resolve: &mut dyn FnMut(u32) -> ValueRef<'static>,
    ) {
        out.push(KIND_LEAF);
        put_varint(out, self.len() as u64);
        let base = out.len();
        out.reserve(self.arena.len() - self.dead);
        for i in 0..self.locs.len() {
            let key_off = self.encode_slot(self.locs[i], out, resolve);
            self.locs[i].key_off = (key_off - base) as u32;
        }
        self.arena.clear();
        self.arena.extend_from_slice(&out[base..]);
        self.dead = 0;
    }
    /// Name record `seq` in every `Segment` value of sequence 0 ("the record being
    /// written", left by `encode_compacting`).
    pub fn resolve_own_segments(&mut self, seq: u64) {
        for s in &self.locs {
            let at = (s.key_off + s.key_len) as usize + 16;
            if self.arena[at] == TAG_SEGMENT && self.arena[at + 1..at + 9] == [0; 8] {
                self.arena[at + 1..at + 9].copy_from_slice(&seq.to_le_bytes());
            }
        }
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
            self.encode_slot(s, out, resolve);
        }
    }
    /// Append slot `s`'s record to `out` as it is stored on disk: as it is in the
    /// arena, but for a pending value, replaced by `resolve`'s reference. Where
    /// its key went in `out`.
    #[inline]
    pub(super) fn encode_slot(
        &self,
        s: Loc,
        out: &mut Vec<u8>,
        resolve: &mut dyn FnMut(u32) -> ValueRef<'static>,
    ) -> usize {
        let at = (s.key_off + s.key_len) as usize + 16;
        if self.arena[at] != TAG_PENDING {
            return self.copy_record(s, out).key_off as usize;
        }
        let (start, _) = self.span(s);
        let key_off = out.len() + (s.key_off as usize - start);
        out.extend_from_slice(&self.arena[start..at]);
        let mut r = Reader::new(&self.arena);
        r.pos = at + 1;
        let p = r.u32().expect("leaf arena holds valid records");
        encode_value(out, &resolve(p));
        key_off
    }
}
