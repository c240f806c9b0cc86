//! Byte-level helpers for keys: comparison, the eight-byte search prefixes, the
//! common prefix a leaf skips, and prefetching.

use super::ItemId;
use std::cmp::Ordering;

/// Lexicographic byte comparison, eight bytes at a time (keys are short; this
/// beats a call to memcmp). The last bytes of the common part are compared as
/// one word that overlaps bytes already found equal, not one byte at a time.
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
    if i < n {
        // Bytes i..n are left; the window n-8..n (or, shorter keys, their
        // prefixes) overlaps only bytes found equal.
        let (x, y) = if n >= 8 {
            (
                u64::from_be_bytes(a[n - 8..n].try_into().unwrap()),
                u64::from_be_bytes(b[n - 8..n].try_into().unwrap()),
            )
        } else {
            (key_prefix(&a[..n]), key_prefix(&b[..n]))
        };
        if x != y {
            return x.cmp(&y);
        }
    }
    a.len().cmp(&b.len())
}

#[inline]
pub fn cmp_item(akey: &[u8], aid: ItemId, bkey: &[u8], bid: ItemId) -> Ordering {
    cmp_bytes(akey, bkey).then(aid.cmp(&bid))
}

/// A key's first eight bytes, big-endian, zero-padded. Short keys are read with
/// two overlapping loads rather than a copy (a call to memcpy for a few bytes
/// cost more than the rest of a leaf search).
#[inline]
pub(super) fn key_prefix(key: &[u8]) -> u64 {
    let n = key.len();
    if let Some(b) = key.first_chunk::<8>() {
        return u64::from_be_bytes(*b);
    }
    if n >= 4 {
        // Bytes 0..4 and n-4..n: together every byte, the overlap agreeing.
        let hi = u32::from_be_bytes([key[0], key[1], key[2], key[3]]) as u64;
        let lo = u32::from_be_bytes([key[n - 4], key[n - 3], key[n - 2], key[n - 1]]) as u64;
        return hi << 32 | lo << (8 * (8 - n));
    }
    if n == 0 {
        return 0;
    }
    // One to three bytes: the first, the middle and the last cover them all.
    (key[0] as u64) << 56
        | (key[n / 2] as u64) << (56 - 8 * (n / 2))
        | (key[n - 1] as u64) << (56 - 8 * (n - 1))
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

/// How many of `prefixes` (sorted) are below `p`: a branch-free binary search.
#[inline]
pub(super) fn count_below(prefixes: &[u64], p: u64) -> usize {
    let (mut base, mut size) = (0usize, prefixes.len());
    while size > 1 {
        let half = size / 2;
        let mid = base + half;
        base = if prefixes[mid - 1] < p { mid } else { base };
        size -= half;
    }
    base + usize::from(size == 1 && prefixes[base] < p)
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
    if key.len() > 8 {
        return (key_prefix(key) as u128) << 64 | key_prefix(&key[8..]) as u128;
    }
    (key_prefix(key) as u128) << 64
}

/// Where `key` stands against a node whose keys all start with the `skip` bytes
/// of `common` (`head16` masked to them): `Ok(its search prefix)`, the eight
/// bytes after those, when it starts with them too; else `Err(Less)` or
/// `Err(Greater)`: it sorts before, or after, every key of the node. A skipped
/// prefix of at most eight bytes, the usual case, is compared as one word.
#[inline(always)]
pub(super) fn prefix_after(key: &[u8], skip: usize, common: u128) -> Result<u64, Ordering> {
    if skip == 0 {
        return Ok(key_prefix(key));
    }
    let head = if skip <= 8 {
        let mask = !0u64 << (64 - 8 * skip);
        (key_prefix(key) & mask).cmp(&((common >> 64) as u64))
    } else {
        (head16(key) & skip_mask(skip)).cmp(&common)
    };
    match head {
        Ordering::Equal if key.len() >= skip => Ok(key_prefix(&key[skip..])),
        // Equal heads with a shorter key: the key is a prefix of the common one.
        Ordering::Equal | Ordering::Less => Err(Ordering::Less),
        Ordering::Greater => Err(Ordering::Greater),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `cmp_bytes` agrees with the slices' own order, for every pair of
    /// lengths up to 20 and a difference at any position.
    #[test]
    fn cmp_bytes_matches_slice_order() {
        let base: Vec<u8> = (0..20u8)
            .map(|b| b.wrapping_mul(53).wrapping_add(7))
            .collect();
        for la in 0..=20 {
            for lb in 0..=20 {
                for at in 0..la.max(lb) {
                    for delta in [0u8, 1, 255] {
                        let a = &base[..la];
                        let mut b = base[..lb].to_vec();
                        if at < lb {
                            b[at] = b[at].wrapping_add(delta);
                        }
                        assert_eq!(cmp_bytes(a, &b), a.cmp(&b[..]), "{a:?} {b:?}");
                        assert_eq!(cmp_bytes(&b, a), b[..].cmp(a), "{b:?} {a:?}");
                    }
                }
            }
        }
    }

    /// The prefixes read with overlapping loads equal the zero-padded copies.
    #[test]
    fn prefixes_match_padded_copies() {
        let bytes: Vec<u8> = (1..=20u8).map(|b| b.wrapping_mul(37)).collect();
        for n in 0..=bytes.len() {
            let key = &bytes[..n];
            let mut b8 = [0u8; 8];
            b8[..n.min(8)].copy_from_slice(&key[..n.min(8)]);
            assert_eq!(key_prefix(key), u64::from_be_bytes(b8), "{n}");
            let mut b16 = [0u8; 16];
            b16[..n.min(16)].copy_from_slice(&key[..n.min(16)]);
            assert_eq!(head16(key), u128::from_be_bytes(b16), "{n}");
        }
    }
}
