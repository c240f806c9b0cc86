package sop

/*
#include "shim.h"
*/
import "C"

// ByteStore is a store whose keys and values are bytes; keys are compared as
// bytes (shorter first on a common prefix). Slices passed in are copied by the
// library and may be reused after the call; slices returned are the caller's.
//
// A ByteStore belongs to its transaction and ends with it; it may be used from
// several goroutines as its Tx may.
type ByteStore struct {
	tx   *Tx
	h    *C.SopStore
	name string
	err  error // the error that ended the last range (guarded by tx.mu)
}

// Name is the store's name.
func (s *ByteStore) Name() string { return s.name }

// Tx is the transaction the store was opened in.
func (s *ByteStore) Tx() *Tx { return s.tx }

// ByteItem is one key and value for ByteStore.PutMany.
type ByteItem struct {
	Key   []byte
	Value []byte
}

func (s *ByteStore) put(mode PutMode, key, value []byte) (bool, error) {
	const op = "put"
	var done bool
	err := s.tx.call(op, func(*txRes) error {
		r := C.g_raw_put(s.h, cbytes(key), C.size_t(len(key)), cbytes(value), C.size_t(len(value)), C.int32_t(mode))
		done = r.flag != 0
		return result(op, r)
	})
	return done, err
}

// Put stores value under key, replacing the value of an equal key (the first
// one in a store with AllowDuplicates: PutWith(PutAdd, ...) adds another).
func (s *ByteStore) Put(key, value []byte) error {
	_, err := s.put(PutUpsert, key, value)
	return err
}

// PutWith puts as mode says and reports whether it did.
func (s *ByteStore) PutWith(mode PutMode, key, value []byte) (bool, error) {
	return s.put(mode, key, value)
}

// PutMany upserts the items in order, in one call; it returns how many were
// inserted. On an error the items before the failing one stay put in the
// transaction.
func (s *ByteStore) PutMany(items []ByteItem) (uint64, error) {
	return s.PutManyWith(PutUpsert, items)
}

// PutManyWith is PutMany with a put mode.
func (s *ByteStore) PutManyWith(mode PutMode, items []ByteItem) (uint64, error) {
	const op = "put many"
	size := 0
	for _, it := range items {
		size += len(it.Key) + len(it.Value)
	}
	// One buffer of key0 value0 key1 value1 ... and their lengths: the C side
	// builds the pointer arrays (no Go pointer may be stored in memory C reads).
	data := make([]byte, 0, size)
	lens := make([]C.size_t, 0, 2*len(items))
	for _, it := range items {
		data = append(data, it.Key...)
		data = append(data, it.Value...)
		lens = append(lens, C.size_t(len(it.Key)), C.size_t(len(it.Value)))
	}
	var lp *C.size_t
	if len(lens) > 0 {
		lp = &lens[0]
	}
	var n uint64
	err := s.tx.call(op, func(*txRes) error {
		r := C.g_raw_put_many(s.h, cbytes(data), lp, C.size_t(len(items)), C.int32_t(mode))
		n = uint64(r.n)
		return result(op, r)
	})
	return n, err
}

// Get returns a copy of the value of key, or ErrNotFound.
func (s *ByteStore) Get(key []byte) ([]byte, error) {
	const op = "get"
	var out []byte
	err := s.tx.call(op, func(*txRes) error {
		buf := s.tx.scratch()
		r := C.g_raw_get(s.h, cbytes(key), C.size_t(len(key)), cbytes(buf), C.size_t(len(buf)))
		if err := result(op, r); err != nil {
			return err
		}
		if r.flag == 0 {
			return newError(op, codeNotFound, "no item with that key in store "+s.name)
		}
		out = takeValue(r, buf, false)
		return nil
	})
	return out, err
}

// Delete removes the item with key (the first, with AllowDuplicates) and
// reports whether there was one.
func (s *ByteStore) Delete(key []byte) (bool, error) {
	const op = "delete"
	var done bool
	err := s.tx.call(op, func(*txRes) error {
		r := C.g_raw_remove(s.h, cbytes(key), C.size_t(len(key)))
		done = r.flag != 0
		return result(op, r)
	})
	return done, err
}

// Count is the number of items as the transaction sees them.
func (s *ByteStore) Count() (uint64, error) { return count(s.tx, s.h) }
