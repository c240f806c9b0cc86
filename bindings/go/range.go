package sop

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"iter"
	"unsafe"
)

// ScanOptions modify a range: its direction and whether its bounds are in it.
type ScanOptions struct {
	Desc        bool // from the highest key down
	ExcludeFrom bool // the lower bound itself is out of the range
	ExcludeTo   bool // the upper bound itself is out of the range
}

func (o ScanOptions) flags() C.uint32_t {
	var f C.uint32_t
	if o.Desc {
		f |= C.SOP_CURSOR_DESC
	}
	if o.ExcludeFrom {
		f |= C.SOP_CURSOR_LO_EXCLUSIVE
	}
	if o.ExcludeTo {
		f |= C.SOP_CURSOR_HI_EXCLUSIVE
	}
	return f
}

// emptyKey backs a non-nil empty bound, which C must see as a bound (the
// empty key), not as NULL (unbounded).
var emptyKey [1]byte

func boundPtr(b []byte) *C.uint8_t {
	if b == nil {
		return nil
	}
	if len(b) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(&emptyKey[0]))
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// scan walks a cursor over [lo, hi] (nil: unbounded), yielding copies of each
// key and value. Every step is one cgo call made while holding the
// transaction; yield runs without it, so the loop body may use the
// transaction. The error that stops a walk is stored in *errp (under the
// transaction's lock) and remembered by the transaction, which then refuses
// to commit.
func (tx *Tx) scan(h *C.SopStore, lo, hi []byte, o ScanOptions, errp *error, yield func(k, v []byte) bool) {
	const op = "range"
	var cur *C.SopCursor
	fail := func(err error) { tx.scanFailed(errp, err) }
	err := tx.call(op, func(res *txRes) error {
		*errp = nil
		r := C.g_cursor_open(h, boundPtr(lo), C.size_t(len(lo)), boundPtr(hi), C.size_t(len(hi)), o.flags())
		if err := result(op, r); err != nil {
			return err
		}
		cur = (*C.SopCursor)(r.ptr)
		if res.cursors == nil {
			res.cursors = map[*C.SopCursor]struct{}{}
		}
		res.cursors[cur] = struct{}{}
		return nil
	})
	if err != nil {
		fail(err)
		return
	}
	defer func() {
		tx.mu.Lock()
		defer tx.mu.Unlock()
		// The transaction's end frees its cursors; free it here otherwise.
		if tx.res != nil {
			if _, ok := tx.res.cursors[cur]; ok {
				delete(tx.res.cursors, cur)
				C.sop_cursor_free(cur)
			}
		}
	}()
	step := C.int(C.G_FIRST)
	for {
		var k, v []byte
		valid := false
		err := tx.call(op, func(*txRes) error {
			r := C.g_cursor_step(cur, step)
			if err := result(op, r); err != nil {
				return err
			}
			if r.flag == 0 {
				return nil
			}
			valid = true
			k = C.GoBytes(r.ptr, C.int(r.len))
			v = C.GoBytes(r.ptr2, C.int(r.len2))
			C.g_bytes_free2(r.ptr, r.len, r.ptr2, r.len2)
			return nil
		})
		if err != nil {
			fail(err)
			return
		}
		if !valid || !yield(k, v) {
			return
		}
		step = C.G_NEXT
	}
}

// lastErr reads a store's range error under the transaction's lock.
func (tx *Tx) lastErr(errp *error) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return *errp
}

// Range iterates over the items with from <= key <= to in key order, as JSON
// text; a nil bound is unbounded (Null bounds at the key null):
//
//	for k, v := range store.Range(nil, nil) { ... }
//	if err := store.Err(); err != nil { ... }
//
// An error stops the loop early: Err returns it, and the transaction will not
// commit.
func (s *JSONStore) Range(from, to any) iter.Seq2[json.RawMessage, json.RawMessage] {
	return s.Scan(from, to, ScanOptions{})
}

// Scan is Range with options: descending, or bounds excluded. from is always
// the lower bound and to the upper one.
func (s *JSONStore) Scan(from, to any, o ScanOptions) iter.Seq2[json.RawMessage, json.RawMessage] {
	return func(yield func(json.RawMessage, json.RawMessage) bool) {
		var lo, hi []byte
		var err error
		if from != nil {
			if lo, err = s.keyText("range", from); err != nil {
				s.tx.scanFailed(&s.err, err)
				return
			}
		}
		if to != nil {
			if hi, err = s.keyText("range", to); err != nil {
				s.tx.scanFailed(&s.err, err)
				return
			}
		}
		s.tx.scan(s.h, lo, hi, o, &s.err, func(k, v []byte) bool {
			return yield(json.RawMessage(k), json.RawMessage(v))
		})
	}
}

// scanFailed records the error that ended a range: for the store's Err, and
// for the transaction, which then refuses to commit.
func (tx *Tx) scanFailed(errp *error, err error) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	*errp = err
	if tx.iterErr == nil && tx.res != nil {
		tx.iterErr = err
	}
}

// Err returns the error that stopped the last range over this store early,
// or nil if it ended normally (at the end of the range, or by break).
func (s *JSONStore) Err() error { return s.tx.lastErr(&s.err) }

// RangeOf is JSONStore.Range with keys and values decoded into K and V by
// encoding/json (numbers going into an `any` become json.Number). A key or
// value that does not decode ends the loop as any error does: store.Err()
// returns it and the transaction will not commit.
func RangeOf[K, V any](s *JSONStore, from, to any) iter.Seq2[K, V] {
	return ScanOf[K, V](s, from, to, ScanOptions{})
}

// ScanOf is JSONStore.Scan with keys and values decoded into K and V.
func ScanOf[K, V any](s *JSONStore, from, to any, o ScanOptions) iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		for kt, vt := range s.Scan(from, to, o) {
			var k K
			var v V
			if err := decodeJSON(kt, &k); err != nil {
				s.tx.scanFailed(&s.err, newError("range", codeBadArgument, "key "+string(kt)+" does not decode: "+err.Error()))
				return
			}
			if err := decodeJSON(vt, &v); err != nil {
				s.tx.scanFailed(&s.err, newError("range", codeBadArgument, "value of key "+string(kt)+" does not decode: "+err.Error()))
				return
			}
			if !yield(k, v) {
				return
			}
		}
	}
}

// Range iterates over the items with from <= key <= to in byte order; a nil
// bound is unbounded (an empty, non-nil slice is the empty key). An error
// stops the loop early: Err returns it, and the transaction will not commit.
func (s *ByteStore) Range(from, to []byte) iter.Seq2[[]byte, []byte] {
	return s.Scan(from, to, ScanOptions{})
}

// Scan is Range with options: descending, or bounds excluded.
func (s *ByteStore) Scan(from, to []byte, o ScanOptions) iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		s.tx.scan(s.h, from, to, o, &s.err, yield)
	}
}

// Err returns the error that stopped the last range over this store early,
// or nil.
func (s *ByteStore) Err() error { return s.tx.lastErr(&s.err) }
