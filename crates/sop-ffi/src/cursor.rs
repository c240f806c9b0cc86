//! Cursors over a range of a store, in either direction.

use crate::args::{self, new_bytes, out, put};
use crate::error::{call, FfiError, FfiResult, SOP_ERR_CORRUPT};
use crate::handles::{
    add_cursor, extend_cursor, get_cursor, get_store, take_cursor, CursorState, SopCursor,
    SopStore, StoreKind,
};
use std::ops::Bound;

/// Cursor flag: the cursor's direction is descending (`first` is the highest key
/// in range, `next` moves down).
pub const SOP_CURSOR_DESC: u32 = 1;
/// Cursor flag: the lower bound itself is out of range.
pub const SOP_CURSOR_LO_EXCLUSIVE: u32 = 2;
/// Cursor flag: the upper bound itself is out of range.
pub const SOP_CURSOR_HI_EXCLUSIVE: u32 = 4;

impl CursorState {
    fn below_lo(&self, k: &[u8]) -> bool {
        match &self.lo {
            Bound::Unbounded => false,
            Bound::Included(lo) => k < &lo[..],
            Bound::Excluded(lo) => k <= &lo[..],
        }
    }
    fn above_hi(&self, k: &[u8]) -> bool {
        match &self.hi {
            Bound::Unbounded => false,
            Bound::Included(hi) => k > &hi[..],
            Bound::Excluded(hi) => k >= &hi[..],
        }
    }
    /// After a move up that `landed`: skip items below the lower bound, stop
    /// above the upper one.
    fn settle_up(&mut self, mut landed: bool) -> FfiResult<bool> {
        while landed {
            let k = self
                .raw
                .key()
                .ok_or_else(|| FfiError::arg("cursor lost its item"))?;
            if self.above_hi(k) {
                landed = false;
            } else if self.below_lo(k) {
                landed = self.raw.next()?;
            } else {
                break;
            }
        }
        self.on_item = landed;
        Ok(landed)
    }
    /// After a move down: the mirror image of `settle_up`.
    fn settle_down(&mut self, mut landed: bool) -> FfiResult<bool> {
        while landed {
            let k = self
                .raw
                .key()
                .ok_or_else(|| FfiError::arg("cursor lost its item"))?;
            if self.below_lo(k) {
                landed = false;
            } else if self.above_hi(k) {
                landed = self.raw.prev()?;
            } else {
                break;
            }
        }
        self.on_item = landed;
        Ok(landed)
    }
    fn first(&mut self) -> FfiResult<bool> {
        if !self.desc {
            let landed = match &self.lo {
                Bound::Unbounded => self.raw.first()?,
                Bound::Included(k) | Bound::Excluded(k) => self.raw.seek_ge(&k.clone())?,
            };
            self.settle_up(landed)
        } else {
            let landed = match &self.hi {
                Bound::Unbounded => self.raw.last()?,
                Bound::Included(k) | Bound::Excluded(k) => self.raw.seek_le(&k.clone())?,
            };
            self.settle_down(landed)
        }
    }
    fn seek(&mut self, key: &[u8]) -> FfiResult<bool> {
        if !self.desc {
            if self.below_lo(key) {
                return self.first();
            }
            let landed = self.raw.seek_ge(key)?;
            self.settle_up(landed)
        } else {
            if self.above_hi(key) {
                return self.first();
            }
            let landed = self.raw.seek_le(key)?;
            self.settle_down(landed)
        }
    }
    fn step(&mut self, forward: bool) -> FfiResult<bool> {
        if !self.on_item {
            return Ok(false);
        }
        if forward != self.desc {
            let landed = self.raw.next()?;
            self.settle_up(landed)
        } else {
            let landed = self.raw.prev()?;
            self.settle_down(landed)
        }
    }
    fn key_bytes(&self) -> FfiResult<Vec<u8>> {
        if !self.on_item {
            return Err(FfiError::arg("the cursor is not on an item"));
        }
        if self.json {
            Ok(frame(&self.item_value()?)?.0.to_vec())
        } else {
            Ok(self
                .raw
                .key()
                .ok_or_else(|| FfiError::arg("the cursor is not on an item"))?
                .to_vec())
        }
    }
    fn item_value(&self) -> FfiResult<Vec<u8>> {
        if !self.on_item {
            return Err(FfiError::arg("the cursor is not on an item"));
        }
        Ok(self
            .raw
            .value()?
            .ok_or_else(|| FfiError::arg("the cursor is not on an item"))?
            .to_vec())
    }
    fn value_bytes(&self) -> FfiResult<Vec<u8>> {
        let v = self.item_value()?;
        if self.json {
            Ok(frame(&v)?.1.to_vec())
        } else {
            Ok(v)
        }
    }
}

/// A JSON store item frame (docs/FORMAT.md, "JSON stores"): the key document's
/// length as an unsigned LEB128 varint, the key's JSON text, the value's JSON text.
fn frame(b: &[u8]) -> FfiResult<(&[u8], &[u8])> {
    let bad = || FfiError::new(SOP_ERR_CORRUPT, "a JSON store item frame is malformed");
    let (mut len, mut shift, mut i) = (0u64, 0u32, 0usize);
    loop {
        let byte = *b.get(i).ok_or_else(bad)?;
        i += 1;
        if shift >= 64 {
            return Err(bad());
        }
        len |= u64::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            break;
        }
    }
    let end = usize::try_from(len)
        .ok()
        .and_then(|l| i.checked_add(l))
        .filter(|&e| e <= b.len())
        .ok_or_else(bad)?;
    Ok((&b[i..end], &b[end..]))
}

/// Open a cursor over the store's items with keys between `lo` and `hi`
/// (inclusive unless `SOP_CURSOR_LO_EXCLUSIVE`/`SOP_CURSOR_HI_EXCLUSIVE`; a null
/// bound is unbounded), in the direction `SOP_CURSOR_DESC` gives (ascending
/// otherwise). For a JSON store the bounds are JSON text (`lo_len`/`hi_len` bytes,
/// UTF-8) compared in the store's key order; for a byte store, key bytes. The
/// cursor is not on an item until `sop_cursor_first` or `sop_cursor_seek`.
///
/// Ownership: the bounds are copied; the cursor handle is the caller's, released
/// with `sop_cursor_free`. Threads: as its transaction. Errors:
/// `SOP_ERR_BAD_HANDLE`, `SOP_ERR_TX_ENDED`, `SOP_ERR_BAD_ARGUMENT` (null with a
/// length, unknown flags, non-UTF-8 JSON bound), `SOP_ERR_INVALID_INPUT` (a JSON
/// bound that is not JSON or does not fit the key spec).
///
/// # Safety
/// `lo`/`hi` are null or point to `lo_len`/`hi_len` readable bytes; `out_cursor`
/// is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_cursor_open(
    store: *mut SopStore,
    lo: *const u8,
    lo_len: usize,
    hi: *const u8,
    hi_len: usize,
    flags: u32,
    out_cursor: *mut *mut SopCursor,
) -> i32 {
    call(|| {
        let o = out(out_cursor, "out_cursor")?;
        if flags & !(SOP_CURSOR_DESC | SOP_CURSOR_LO_EXCLUSIVE | SOP_CURSOR_HI_EXCLUSIVE) != 0 {
            return Err(FfiError::arg(format!("unknown cursor flags {flags:#x}")));
        }
        let lo = if lo.is_null() {
            None
        } else {
            Some(unsafe { args::bytes(lo, lo_len, "lo") }?)
        };
        let hi = if hi.is_null() {
            None
        } else {
            Some(unsafe { args::bytes(hi, hi_len, "hi") }?)
        };
        let s = get_store(store)?;
        let mut g = s.tx.slot.lock();
        let state = (|| -> FfiResult<CursorState> {
            let k = g.store(s.key)?;
            let (raw, json) = match k {
                StoreKind::Json(j) => (j.raw(), Some(j)),
                StoreKind::Raw(r) => (*r, None),
            };
            let bound = |b: Option<&[u8]>, excl: bool, what: &str| -> FfiResult<Bound<Vec<u8>>> {
                let Some(b) = b else {
                    return Ok(Bound::Unbounded);
                };
                let b = match json {
                    Some(j) => {
                        let t = std::str::from_utf8(b).map_err(|e| {
                            FfiError::arg(format!("{what} is not valid UTF-8: {e}"))
                        })?;
                        j.key_bytes(&sop::parse_json(t)?)?
                    }
                    None => b.to_vec(),
                };
                Ok(if excl {
                    Bound::Excluded(b)
                } else {
                    Bound::Included(b)
                })
            };
            let lo = bound(lo, flags & SOP_CURSOR_LO_EXCLUSIVE != 0, "lo")?;
            let hi = bound(hi, flags & SOP_CURSOR_HI_EXCLUSIVE != 0, "hi")?;
            // SAFETY: the cursor goes into its transaction's slot (below).
            let raw = unsafe { extend_cursor(raw.cursor()?) };
            Ok(CursorState {
                raw,
                json: json.is_some(),
                spec: json.and_then(|j| j.spec().cloned()),
                lo,
                hi,
                desc: flags & SOP_CURSOR_DESC != 0,
                on_item: false,
            })
        })()?;
        let key = g.next_key();
        g.cursors.insert(key, state);
        drop(g);
        let h = add_cursor(SopCursor {
            tx: s.tx.clone(),
            key,
        });
        unsafe { put(o, h) };
        Ok(())
    })
}

unsafe fn moved(
    cursor: *mut SopCursor,
    out_valid: *mut i32,
    f: impl FnOnce(&mut CursorState) -> FfiResult<bool>,
) -> i32 {
    call(|| {
        let o = out(out_valid, "out_valid")?;
        let v = get_cursor(cursor)?.with(f)?;
        unsafe { put(o, i32::from(v)) };
        Ok(())
    })
}

/// Move to the first item in range in the cursor's direction (the lowest key, or
/// the highest if descending). `*out_valid` is 1 if the cursor is on an item, 0
/// if the range is empty. Errors: `SOP_ERR_BAD_HANDLE`, `SOP_ERR_TX_ENDED`,
/// `SOP_ERR_BAD_ARGUMENT`, `SOP_ERR_IO`, `SOP_ERR_CORRUPT`. Threads: as its
/// transaction.
///
/// # Safety
/// `out_valid` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_cursor_first(cursor: *mut SopCursor, out_valid: *mut i32) -> i32 {
    unsafe { moved(cursor, out_valid, CursorState::first) }
}

/// Move to the first item in range at or after `key` in the cursor's direction
/// (ascending: the first key >= `key`; descending: the last key <= `key`). For a
/// JSON store `key` is JSON text. `*out_valid` as `sop_cursor_first`. Errors as
/// `sop_cursor_first`, and `SOP_ERR_INVALID_INPUT` for a JSON key that is not
/// JSON or does not fit the key spec.
///
/// # Safety
/// `key` points to `key_len` readable bytes (or is null with 0); `out_valid` is
/// null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_cursor_seek(
    cursor: *mut SopCursor,
    key: *const u8,
    key_len: usize,
    out_valid: *mut i32,
) -> i32 {
    call(|| {
        let o = out(out_valid, "out_valid")?;
        let key = unsafe { args::bytes(key, key_len, "key") }?;
        let c = get_cursor(cursor)?;
        let v = c.with(|st| {
            let k = if st.json {
                let t = std::str::from_utf8(key)
                    .map_err(|e| FfiError::arg(format!("key is not valid UTF-8: {e}")))?;
                let v = sop::parse_json(t)?;
                sop::encode_json_key(&v, st.spec.as_ref()).map_err(sop::Error::Codec)?
            } else {
                key.to_vec()
            };
            st.seek(&k)
        })?;
        unsafe { put(o, i32::from(v)) };
        Ok(())
    })
}

/// Move one item on in the cursor's direction; `*out_valid` is 0 once it leaves
/// the range (or if it was not on an item). Errors as `sop_cursor_first`.
///
/// # Safety
/// `out_valid` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_cursor_next(cursor: *mut SopCursor, out_valid: *mut i32) -> i32 {
    unsafe { moved(cursor, out_valid, |c| c.step(true)) }
}

/// Move one item back, against the cursor's direction; `*out_valid` is 0 once it
/// leaves the range (or if it was not on an item). Errors as `sop_cursor_first`.
///
/// # Safety
/// `out_valid` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_cursor_prev(cursor: *mut SopCursor, out_valid: *mut i32) -> i32 {
    unsafe { moved(cursor, out_valid, |c| c.step(false)) }
}

unsafe fn item_out(
    cursor: *mut SopCursor,
    out_ptr: *mut *mut u8,
    out_len: *mut usize,
    f: impl FnOnce(&mut CursorState) -> FfiResult<Vec<u8>>,
) -> i32 {
    call(|| {
        let op = out(out_ptr, "out_ptr")?;
        let ol = out(out_len, "out_len")?;
        let b = get_cursor(cursor)?.with(f)?;
        let (p, n) = new_bytes(&b);
        unsafe {
            put(op, p);
            put(ol, n);
        }
        Ok(())
    })
}

/// The current item's key: bytes for a byte store, the key document's JSON text
/// for a JSON store. A copy in `*out_ptr`/`*out_len`, followed by a NUL not
/// counted in the length; free it with `sop_bytes_free(ptr, len)`. Errors:
/// `SOP_ERR_BAD_ARGUMENT` (not on an item), `SOP_ERR_BAD_HANDLE`,
/// `SOP_ERR_TX_ENDED`, `SOP_ERR_CORRUPT`.
///
/// # Safety
/// The out-pointers are null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_cursor_key(
    cursor: *mut SopCursor,
    out_ptr: *mut *mut u8,
    out_len: *mut usize,
) -> i32 {
    unsafe { item_out(cursor, out_ptr, out_len, |c| c.key_bytes()) }
}

/// The current item's value: bytes, or the value document's JSON text for a JSON
/// store; as `sop_cursor_key` otherwise (also `SOP_ERR_IO` reading a big value).
///
/// # Safety
/// The out-pointers are null or writable.
#[no_mangle]
pub unsafe extern "C" fn sop_cursor_value(
    cursor: *mut SopCursor,
    out_ptr: *mut *mut u8,
    out_len: *mut usize,
) -> i32 {
    unsafe { item_out(cursor, out_ptr, out_len, |c| c.value_bytes()) }
}

/// Release a cursor handle. Errors: `SOP_ERR_BAD_HANDLE` (null or freed before).
/// Any thread.
///
/// # Safety
/// `cursor` is any pointer value (looked up, never dereferenced).
#[no_mangle]
pub unsafe extern "C" fn sop_cursor_free(cursor: *mut SopCursor) -> i32 {
    call(|| {
        take_cursor(cursor)?;
        Ok(())
    })
}
