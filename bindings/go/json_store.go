package sop

/*
#include "shim.h"
*/
import "C"

import (
	"bytes"
	"encoding/json"
	"sync"
)

// PutMode says what a put does when the key is, or is not, in the store.
type PutMode int32

const (
	// PutUpsert inserts, or replaces the value of an equal key (the first, with
	// duplicates); Put does this.
	PutUpsert PutMode = C.SOP_PUT_UPSERT
	// PutAdd inserts; in a unique store an existing key is left alone (done
	// false); in a store with AllowDuplicates it adds one more item.
	PutAdd PutMode = C.SOP_PUT_ADD
	// PutAddIfAbsent inserts only if no item has the key (in any store).
	PutAddIfAbsent PutMode = C.SOP_PUT_ADD_IF_ABSENT
	// PutUpdate replaces the value of an existing key only.
	PutUpdate PutMode = C.SOP_PUT_UPDATE
)

// Null is the JSON key null. A nil bound of Range means "unbounded"; pass
// Null to bound a range at the key null.
var Null = json.RawMessage("null")

// JSONStore is a store whose keys and values are JSON documents, written from
// Go values with encoding/json (a json.RawMessage is taken as it is). Keys
// without a key spec are primitives (nil, bool, numbers, strings); with a spec
// they are objects (structs, maps). Keys are ordered as docs/FORMAT.md says,
// the same in every language: numbers by exact value (an int64 or uint64 is
// exact beyond 2^53), strings by their UTF-8 bytes.
//
// A JSONStore belongs to its transaction and ends with it; it may be used
// from several goroutines as its Tx may.
type JSONStore struct {
	tx   *Tx
	h    *C.SopStore
	name string
	err  error // the error that ended the last range (guarded by tx.mu)
}

// Name is the store's name.
func (s *JSONStore) Name() string { return s.name }

// Tx is the transaction the store was opened in.
func (s *JSONStore) Tx() *Tx { return s.tx }

// Item is one key and value for PutMany.
type Item struct {
	Key   any
	Value any
}

var encPool = sync.Pool{New: func() any { return new(jsonEnc) }}

// jsonEnc encodes Go values as compact JSON text without HTML escaping (so
// "<" stays "<", as other languages write it).
type jsonEnc struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func getEnc() *jsonEnc {
	e := encPool.Get().(*jsonEnc)
	e.buf.Reset()
	if e.enc == nil {
		e.enc = json.NewEncoder(&e.buf)
		e.enc.SetEscapeHTML(false)
	}
	return e
}

func putEnc(e *jsonEnc) {
	if e.buf.Cap() <= 1<<20 {
		encPool.Put(e)
	}
}

// add appends v's JSON text to the buffer (without the newline the encoder
// writes).
func (e *jsonEnc) add(op, what string, v any) error {
	if err := e.enc.Encode(v); err != nil {
		return newError(op, codeBadArgument, what+" cannot be encoded as JSON: "+err.Error())
	}
	e.buf.Truncate(e.buf.Len() - 1)
	return nil
}

// decodeJSON decodes JSON text into out; numbers going into an `any` become
// json.Number, so no integer loses digits through a float64.
func decodeJSON(data []byte, out any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(out)
}

func (s *JSONStore) put(op string, mode PutMode, key, value any) (bool, error) {
	e := getEnc()
	defer putEnc(e)
	if err := e.add(op, "the key", key); err != nil {
		return false, err
	}
	e.buf.WriteByte(0)
	split := e.buf.Len()
	if err := e.add(op, "the value", value); err != nil {
		return false, err
	}
	e.buf.WriteByte(0)
	b := e.buf.Bytes()
	var done bool
	err := s.tx.call(op, func(*txRes) error {
		r := C.g_json_put(s.h, cstr(b), cstr(b[split:]), C.int32_t(mode))
		done = r.flag != 0
		return result(op, r)
	})
	return done, err
}

// Put stores value under key, replacing the value of an equal key (the first
// one in a store with AllowDuplicates: PutWith(PutAdd, ...) adds another).
func (s *JSONStore) Put(key, value any) error {
	_, err := s.put("json put", PutUpsert, key, value)
	return err
}

// PutWith puts as mode says and reports whether it did: an add or upsert
// inserted, an update replaced.
func (s *JSONStore) PutWith(mode PutMode, key, value any) (bool, error) {
	return s.put("json put", mode, key, value)
}

// PutMany upserts the items in order, in one call; it returns how many were
// inserted (not replaced). On an error the items before the failing one stay
// put in the transaction (roll back to undo them).
func (s *JSONStore) PutMany(items []Item) (uint64, error) {
	return s.PutManyWith(PutUpsert, items)
}

// PutManyWith is PutMany with a put mode; it returns how many items the mode
// reported done.
func (s *JSONStore) PutManyWith(mode PutMode, items []Item) (uint64, error) {
	const op = "json put many"
	e := getEnc()
	defer putEnc(e)
	e.buf.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			e.buf.WriteByte(',')
		}
		e.buf.WriteByte('[')
		if err := e.add(op, "a key", it.Key); err != nil {
			return 0, err
		}
		e.buf.WriteByte(',')
		if err := e.add(op, "a value", it.Value); err != nil {
			return 0, err
		}
		e.buf.WriteByte(']')
	}
	e.buf.WriteString("]\x00")
	b := e.buf.Bytes()
	var n uint64
	err := s.tx.call(op, func(*txRes) error {
		r := C.g_json_put_many(s.h, cstr(b), C.int32_t(mode))
		n = uint64(r.n)
		return result(op, r)
	})
	return n, err
}

// keyText is key's JSON text (for a range bound, which the iterator keeps).
func (s *JSONStore) keyText(op string, key any) ([]byte, error) {
	e := getEnc()
	defer putEnc(e)
	if err := e.add(op, "the key", key); err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

// GetJSON returns the value of key as JSON text, or ErrNotFound.
func (s *JSONStore) GetJSON(key any) (json.RawMessage, error) {
	const op = "json get"
	e := getEnc()
	defer putEnc(e)
	if err := e.add(op, "the key", key); err != nil {
		return nil, err
	}
	e.buf.WriteByte(0)
	k := e.buf.Bytes()
	var out []byte
	err := s.tx.call(op, func(*txRes) error {
		buf := s.tx.scratch()
		r := C.g_json_get(s.h, cstr(k), cbytes(buf), C.size_t(len(buf)))
		if err := result(op, r); err != nil {
			return err
		}
		if r.flag == 0 {
			return newError(op, codeNotFound, "no item with key "+string(k[:len(k)-1])+" in store "+s.name)
		}
		out = takeValue(r, buf, true)
		return nil
	})
	return out, err
}

// Get decodes the value of key into out (a pointer, as for json.Unmarshal;
// numbers into an `any` become json.Number), or returns ErrNotFound.
func (s *JSONStore) Get(key, out any) error {
	v, err := s.GetJSON(key)
	if err != nil {
		return err
	}
	if err := decodeJSON(v, out); err != nil {
		return newError("json get", codeBadArgument, "the value does not decode into the given type: "+err.Error())
	}
	return nil
}

// Delete removes the item with key (the first, with AllowDuplicates) and
// reports whether there was one.
func (s *JSONStore) Delete(key any) (bool, error) {
	const op = "json delete"
	e := getEnc()
	defer putEnc(e)
	if err := e.add(op, "the key", key); err != nil {
		return false, err
	}
	e.buf.WriteByte(0)
	k := e.buf.Bytes()
	var done bool
	err := s.tx.call(op, func(*txRes) error {
		r := C.g_json_remove(s.h, cstr(k))
		done = r.flag != 0
		return result(op, r)
	})
	return done, err
}

// Count is the number of items as the transaction sees them.
func (s *JSONStore) Count() (uint64, error) { return count(s.tx, s.h) }

func count(tx *Tx, h *C.SopStore) (uint64, error) {
	var n uint64
	err := tx.call("count", func(*txRes) error {
		r := C.g_store_count(h)
		n = uint64(r.n)
		return result("count", r)
	})
	return n, err
}
