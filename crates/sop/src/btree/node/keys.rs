//! Byte-level helpers for keys: comparison, the eight-byte search prefixes, the
//! common prefix a leaf skips, and prefetching.

use super::ItemId;
use std::cmp::Ordering;

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

#[inline]
pub(super) fn key_prefix(key: &[u8]) -> u64 {
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
pub(super) fn prefetch_all<T>(xs: &[T]) {
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

pub(super) fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// The longest common prefix a leaf skips.
pub(super) const MAX_SKIP: usize = 16;

/// The common prefix `a` and `b` give a leaf: its length, at most `MAX_SKIP`.
pub(super) fn skip_of(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .take(MAX_SKIP)
        .take_while(|(x, y)| x == y)
        .count()
}

/// A key's first sixteen bytes, big-endian, zero-padded.
#[inline]
pub(super) fn head16(key: &[u8]) -> u128 {
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
pub(super) fn skip_mask(skip: usize) -> u128 {
    if skip == 0 {
        0
    } else {
        !0u128 << (128 - 8 * skip)
    }
}
