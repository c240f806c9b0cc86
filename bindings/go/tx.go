package sop

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"runtime"
	"sync"
	"unsafe"
)

// Mode is a transaction's mode.
type Mode int32

const (
	// ForWriting reads and writes; serializable, validated and merged at commit.
	ForWriting Mode = C.SOP_TX_FOR_WRITING
	// ForReading only reads; its commit fails with ErrConflict if anything it
	// read changed after its snapshot.
	ForReading Mode = C.SOP_TX_FOR_READING
	// NoCheck only reads, from a consistent snapshot, with nothing checked at
	// commit.
	NoCheck Mode = C.SOP_TX_NO_CHECK
)

// txRes are the C handles of a live transaction: what its cleanup releases if
// the Tx becomes unreachable before it ended.
type txRes struct {
	tx      *C.SopTx
	stores  []*C.SopStore
	cursors map[*C.SopCursor]struct{}
}

func (r *txRes) free() {
	for c := range r.cursors {
		C.sop_cursor_free(c)
	}
	for _, s := range r.stores {
		C.sop_store_close(s)
	}
	C.sop_tx_free(r.tx) // rolls back a transaction that has not ended
}

// Tx is a transaction, begun with DB.Begin or given to the function of
// DB.Update or DB.View. A Tx and its stores may be used from several
// goroutines, but their calls are serialized (one at a time, in no particular
// order): for parallel work give each goroutine its own transaction.
type Tx struct {
	mu      sync.Mutex
	db      *DB
	mode    Mode
	res     *txRes // nil once the transaction ended
	id      TxID
	managed bool   // run by Update or View: no Commit or Rollback by hand
	iterErr error  // the first error that cut a range short: commit refuses
	buf     []byte // scratch for values coming back from C (see scratch)
	cleanup runtime.Cleanup
}

const scratchSize = 4096

// scratch is the buffer gets copy small values into (allocated on the first
// get); the caller holds tx.mu.
func (tx *Tx) scratch() []byte {
	if tx.buf == nil {
		tx.buf = make([]byte, scratchSize)
	}
	return tx.buf
}

func newTx(db *DB, h *C.SopTx, mode Mode) *Tx {
	tx := &Tx{db: db, mode: mode, res: &txRes{tx: h}}
	// The id works at any time; keep it for CommitOutcome after the end.
	r := C.g_tx_id(h, (*C.uint8_t)(unsafe.Pointer(&tx.id.ID[0])))
	if r.rc == C.SOP_OK {
		tx.id.SinceSeq = uint64(r.n)
	} else {
		_ = result("tx id", r) // frees the message; the id stays zero
	}
	tx.cleanup = runtime.AddCleanup(tx, (*txRes).free, tx.res)
	return tx
}

// Mode is the transaction's mode.
func (tx *Tx) Mode() Mode { return tx.mode }

// ID identifies the transaction for DB.CommitOutcome (after ErrOutcomeUnknown).
func (tx *Tx) ID() TxID { return tx.id }

// DB is the database the transaction belongs to.
func (tx *Tx) DB() *DB { return tx.db }

// call runs f while holding the transaction, or fails with ErrTxDone once it
// has ended.
func (tx *Tx) call(op string, f func(r *txRes) error) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.res == nil {
		return newError(op, codeTxEnded, "the transaction was already committed or rolled back")
	}
	return f(tx.res)
}

// Commit commits the transaction: durable when it returns nil. The transaction
// has ended afterwards, whatever the result. ErrConflict: nothing was
// committed, run it again. ErrOutcomeUnknown: ask DB.CommitOutcome(tx.ID()).
// A transaction in which a range iteration stopped on an error does not
// commit: Commit rolls it back and returns that error.
func (tx *Tx) Commit() error {
	if tx.managed {
		return newError("commit", codeBadArgument, "DB.Update and DB.View commit by themselves: return from the function instead")
	}
	return tx.end("commit", true)
}

// Rollback discards the transaction's changes. Rolling back a transaction that
// already ended returns ErrTxDone, so `defer tx.Rollback()` after Begin is the
// usual pattern.
func (tx *Tx) Rollback() error {
	if tx.managed {
		return newError("rollback", codeBadArgument, "DB.Update and DB.View roll back by themselves: return an error from the function instead")
	}
	return tx.end("rollback", false)
}

func (tx *Tx) rollbackIfLive() { _ = tx.end("rollback", false) }

func (tx *Tx) end(op string, commit bool) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	res := tx.res
	if res == nil {
		return newError(op, codeTxEnded, "the transaction was already committed or rolled back")
	}
	var err error
	switch {
	case commit && tx.iterErr != nil:
		C.sop_tx_rollback(res.tx)
		code := codeOther
		if e, ok := tx.iterErr.(*Error); ok {
			code = e.Code
		}
		err = newError(op, code, "not committed (rolled back): a range read of this transaction failed: "+tx.iterErr.Error())
	case commit:
		err = result(op, C.g_commit(res.tx))
	default:
		err = result(op, C.g_rollback(res.tx))
	}
	tx.res = nil
	tx.cleanup.Stop()
	res.free()
	return err
}

// StoreOptions are a new store's options, fixed at creation. The zero value is
// the engine's defaults: unique keys, primitive JSON keys.
type StoreOptions struct {
	// KeySpec (JSON stores): how object keys are ordered, "last,age:desc" or
	// its JSON form `[{"field":"last","order":"asc"},...]`. Empty: keys are
	// primitives (null, bool, number, string).
	KeySpec string
	// KeyType (byte stores): the name of the keys' encoding saved with the
	// store; empty is "raw-bytes" (keys compared as given).
	KeyType string
	// AllowDuplicates keeps several items with equal keys (in insertion order).
	AllowDuplicates bool
	// SlotLength is the maximum items per node (0: the engine's default).
	SlotLength int
	// Values is where values are kept: "auto" (default), "inline", "separate"
	// or "big".
	Values string
	// Description is free text saved with the store.
	Description string
}

func (o StoreOptions) json() string {
	m := map[string]any{"unique": !o.AllowDuplicates}
	if o.SlotLength > 0 {
		m["slot_length"] = o.SlotLength
	}
	if o.Values != "" {
		m["values"] = o.Values
	}
	if o.Description != "" {
		m["description"] = o.Description
	}
	b, _ := json.Marshal(m)
	return string(b)
}

const (
	kindJSON = 1
	kindRaw  = 2
)

func (tx *Tx) createStore(op string, kind C.int, name, specOrType string, opts StoreOptions) (*C.SopStore, error) {
	n, err := cText(op, "store name", name)
	if err != nil {
		return nil, err
	}
	var spec []byte
	if specOrType != "" {
		if spec, err = cText(op, "key spec", specOrType); err != nil {
			return nil, err
		}
	}
	o, err := cText(op, "store options", opts.json())
	if err != nil {
		return nil, err
	}
	var h *C.SopStore
	err = tx.call(op, func(res *txRes) error {
		r := C.g_store_create(res.tx, kind, cstr(n), cstr(spec), cstr(o))
		if err := result(op+" "+name, r); err != nil {
			return err
		}
		h = (*C.SopStore)(r.ptr)
		res.stores = append(res.stores, h)
		return nil
	})
	return h, err
}

func (tx *Tx) openStore(op string, kind C.int, name string) (*C.SopStore, error) {
	n, err := cText(op, "store name", name)
	if err != nil {
		return nil, err
	}
	var h *C.SopStore
	err = tx.call(op, func(res *txRes) error {
		r := C.g_store_open(res.tx, kind, cstr(n))
		if err := result(op+" "+name, r); err != nil {
			return err
		}
		h = (*C.SopStore)(r.ptr)
		res.stores = append(res.stores, h)
		return nil
	})
	return h, err
}

// CreateJSONStore creates the JSON store name (ErrExists if there is one).
func (tx *Tx) CreateJSONStore(name string, opts StoreOptions) (*JSONStore, error) {
	if opts.KeyType != "" {
		return nil, newError("create json store", codeBadArgument, "KeyType is for byte stores; JSON stores order keys by KeySpec")
	}
	h, err := tx.createStore("create json store", kindJSON, name, opts.KeySpec, opts)
	if err != nil {
		return nil, err
	}
	return &JSONStore{tx: tx, h: h, name: name}, nil
}

// JSONStore opens the existing JSON store name (ErrNotFound if there is none).
func (tx *Tx) JSONStore(name string) (*JSONStore, error) {
	h, err := tx.openStore("open json store", kindJSON, name)
	if err != nil {
		return nil, err
	}
	return &JSONStore{tx: tx, h: h, name: name}, nil
}

// CreateJSONStoreIfNotExists opens the JSON store name, creating it with opts
// if it does not exist.
func (tx *Tx) CreateJSONStoreIfNotExists(name string, opts StoreOptions) (*JSONStore, error) {
	s, err := tx.JSONStore(name)
	if isCode(err, codeNotFound) {
		return tx.CreateJSONStore(name, opts)
	}
	return s, err
}

// CreateByteStore creates the byte store name, whose keys are compared as
// bytes (ErrExists if there is one).
func (tx *Tx) CreateByteStore(name string, opts StoreOptions) (*ByteStore, error) {
	if opts.KeySpec != "" {
		return nil, newError("create byte store", codeBadArgument, "KeySpec is for JSON stores; byte stores compare keys as bytes")
	}
	h, err := tx.createStore("create byte store", kindRaw, name, opts.KeyType, opts)
	if err != nil {
		return nil, err
	}
	return &ByteStore{tx: tx, h: h, name: name}, nil
}

// ByteStore opens the existing store name at the byte level (ErrNotFound if
// there is none). A JSON store opened so shows its item frames
// (docs/FORMAT.md).
func (tx *Tx) ByteStore(name string) (*ByteStore, error) {
	h, err := tx.openStore("open byte store", kindRaw, name)
	if err != nil {
		return nil, err
	}
	return &ByteStore{tx: tx, h: h, name: name}, nil
}

// CreateByteStoreIfNotExists opens the store name, creating a byte store with
// opts if it does not exist.
func (tx *Tx) CreateByteStoreIfNotExists(name string, opts StoreOptions) (*ByteStore, error) {
	s, err := tx.ByteStore(name)
	if isCode(err, codeNotFound) {
		return tx.CreateByteStore(name, opts)
	}
	return s, err
}

func isCode(err error, code int) bool {
	e, ok := err.(*Error)
	return ok && e.Code == code
}

// Stores returns the names of all stores the transaction sees, sorted.
func (tx *Tx) Stores() ([]string, error) {
	var names []string
	err := tx.call("list stores", func(res *txRes) error {
		r := C.g_list_stores(res.tx)
		if err := result("list stores", r); err != nil {
			return err
		}
		return decodeReport("list stores", takeString(r.ptr), &names)
	})
	return names, err
}

// DropStore removes the store name and everything in it (with the commit).
func (tx *Tx) DropStore(name string) error {
	n, err := cText("drop store", "store name", name)
	if err != nil {
		return err
	}
	return tx.call("drop store", func(res *txRes) error {
		return result("drop store "+name, C.g_drop_store(res.tx, cstr(n)))
	})
}

// StoreInfo is a store's saved info and item count.
type StoreInfo struct {
	Name    string          `json:"name"`
	ID      json.Number     `json:"id"`
	KeyType string          `json:"key_type"`
	KeySpec json.RawMessage `json:"key_spec"`
	Options struct {
		SlotLength  int    `json:"slot_length"`
		Unique      bool   `json:"unique"`
		Values      string `json:"values"`
		Description string `json:"description"`
	} `json:"options"`
	Count uint64 `json:"count"`
}

// StoreInfo returns the saved info of the store name (ErrNotFound if none).
func (tx *Tx) StoreInfo(name string) (*StoreInfo, error) {
	n, err := cText("store info", "store name", name)
	if err != nil {
		return nil, err
	}
	var info StoreInfo
	err = tx.call("store info", func(res *txRes) error {
		r := C.g_store_info(res.tx, cstr(n))
		if err := result("store info "+name, r); err != nil {
			return err
		}
		return decodeReport("store info", takeString(r.ptr), &info)
	})
	if err != nil {
		return nil, err
	}
	return &info, nil
}

func decodeReport(op, text string, v any) error {
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return newError(op, codeOther, "unreadable answer from the library: "+err.Error())
	}
	return nil
}
