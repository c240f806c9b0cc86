package sop

/*
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// DefaultMaxRetries is how many times DB.Update and DB.View run a transaction
// again after ErrConflict when Options.MaxRetries is 0.
const DefaultMaxRetries = 20

// Options of Open. The zero value opens (or creates) a Standalone database that
// other processes may open too.
type Options struct {
	// Exclusive: this handle alone uses the folder (others get ErrInUse);
	// commits go through a journal, one fdatasync each.
	Exclusive bool
	// ReadOnly opens without writing anything (read-only media); writing
	// transactions fail with ErrInvalidInput.
	ReadOnly bool
	// MustExist: fail with ErrNotFound instead of creating a new database.
	MustExist bool
	// CacheBytes is the node cache size (0: the engine's default).
	CacheBytes int
	// RedisURL, for a new database, makes it Clustered: its processes
	// coordinate through this Redis ("redis://127.0.0.1:6379/"). An existing
	// database keeps the coordination it was created with.
	RedisURL string
	// MaxRetries bounds the reruns of Update and View after ErrConflict
	// (0: DefaultMaxRetries; negative: no rerun).
	MaxRetries int
}

func (o Options) json() string {
	m := map[string]any{}
	if o.Exclusive {
		m["exclusive"] = true
	}
	if o.ReadOnly {
		m["read_only"] = true
	}
	if o.MustExist {
		m["create"] = false
	}
	if o.CacheBytes > 0 {
		m["cache_bytes"] = o.CacheBytes
	}
	if o.RedisURL != "" {
		m["coordination"] = map[string]string{"redis": o.RedisURL}
	}
	b, _ := json.Marshal(m) // a map of strings, bools and ints always encodes
	return string(b)
}

// DB is an open database. It is safe for concurrent use by many goroutines:
// share one DB and give each goroutine its own transactions.
type DB struct {
	mu         sync.RWMutex // calls hold it shared; Close holds it alone
	h          *C.SopDb     // nil once closed
	cleanup    runtime.Cleanup
	maxRetries int
}

// Open opens the database in the folder path, creating it unless
// opts.MustExist. Close it when done (a DB the collector finds unreachable is
// closed then, but do not rely on that: an exclusive open holds the folder).
func Open(path string, opts Options) (*DB, error) {
	if abiErr != nil {
		return nil, abiErr
	}
	p, err := cText("open", "path", path)
	if err != nil {
		return nil, err
	}
	o, _ := cText("open", "options", opts.json()) // JSON text has no NUL
	r := C.g_open(cstr(p), cstr(o))
	if err := result("open "+path, r); err != nil {
		return nil, err
	}
	db := &DB{h: (*C.SopDb)(r.ptr), maxRetries: opts.MaxRetries}
	if db.maxRetries == 0 {
		db.maxRetries = DefaultMaxRetries
	}
	db.cleanup = runtime.AddCleanup(db, func(h *C.SopDb) { C.sop_close(h) }, db.h)
	return db, nil
}

// Close closes the database. Transactions still alive keep working; the
// database then closes when the last of them ends, and Close reports ErrInUse.
// A second Close returns ErrClosed.
func (db *DB) Close() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.h == nil {
		return newError("close", codeBadHandle, "the database is already closed")
	}
	h := db.h
	db.h = nil
	db.cleanup.Stop()
	return result("close", C.g_close(h))
}

// withDB runs f with the live handle, or fails with ErrClosed.
func (db *DB) withDB(op string, f func(h *C.SopDb) error) error {
	db.mu.RLock()
	defer db.mu.RUnlock()
	if db.h == nil {
		return newError(op, codeBadHandle, "the database is closed")
	}
	return f(db.h)
}

// Begin starts a transaction in mode. End it with Commit or Rollback (a
// deferred Rollback after Commit is harmless: it returns ErrTxDone).
func (db *DB) Begin(mode Mode) (*Tx, error) {
	var tx *Tx
	err := db.withDB("begin", func(h *C.SopDb) error {
		if mode < ForWriting || mode > NoCheck {
			return newError("begin", codeBadArgument, "unknown transaction mode")
		}
		r := C.g_begin(h, C.int32_t(mode))
		if err := result("begin", r); err != nil {
			return err
		}
		tx = newTx(db, (*C.SopTx)(r.ptr), mode)
		return nil
	})
	return tx, err
}

// Update runs fn in a writing transaction and commits it. If fn returns an
// error (or panics) the transaction is rolled back and the error returned. On
// ErrConflict (from fn or from the commit) it runs fn again in a new
// transaction, up to Options.MaxRetries times, so fn must not have effects
// outside the transaction. fn must not call Commit or Rollback.
func (db *DB) Update(fn func(tx *Tx) error) error {
	return db.managed(ForWriting, fn)
}

// View runs fn in a reading transaction (ForReading): fn cannot write (a write
// fails with ErrInvalidInput) and nothing is ever committed. At the end the
// transaction is validated: if what fn read was changed by another commit
// meanwhile, fn runs again, as in Update, so a View that returns nil saw a
// consistent and serializable state.
func (db *DB) View(fn func(tx *Tx) error) error {
	return db.managed(ForReading, fn)
}

func (db *DB) managed(mode Mode, fn func(tx *Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := db.once(mode, fn)
		if err == nil || !errors.Is(err, ErrConflict) || attempt >= db.maxRetries {
			return err
		}
		backoff(attempt)
	}
}

func (db *DB) once(mode Mode, fn func(tx *Tx) error) error {
	tx, err := db.Begin(mode)
	if err != nil {
		return err
	}
	tx.managed = true
	// fn failed or panicked (the panic goes on): undo.
	defer tx.rollbackIfLive()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.end("commit", true)
}

// backoff sleeps a random while, longer after each conflict, so that writers
// that keep colliding drift apart.
func backoff(attempt int) {
	limit := 50 * time.Microsecond << min(attempt, 8) // at most 12.8 ms
	time.Sleep(time.Duration(rand.Int64N(int64(limit))) + time.Microsecond)
}

// TxID identifies a transaction for CommitOutcome.
type TxID struct {
	ID       [16]byte // the transaction's id, big-endian
	SinceSeq uint64   // the sequence of its snapshot
}

// CommitOutcome tells, after a commit failed with ErrOutcomeUnknown, whether
// the transaction id (from Tx.ID) committed after all.
func (db *DB) CommitOutcome(id TxID) (bool, error) {
	var committed bool
	err := db.withDB("commit outcome", func(h *C.SopDb) error {
		r := C.g_commit_outcome(h, (*C.uint8_t)(unsafe.Pointer(&id.ID[0])), C.uint64_t(id.SinceSeq))
		committed = r.flag != 0
		return result("commit outcome", r)
	})
	return committed, err
}

func (db *DB) report(op string, which C.int) (json.RawMessage, error) {
	var out json.RawMessage
	err := db.withDB(op, func(h *C.SopDb) error {
		r := C.g_db_report(h, which)
		if err := result(op, r); err != nil {
			return err
		}
		out = json.RawMessage(takeString(r.ptr))
		return nil
	})
	return out, err
}

// Stats returns the database's statistics as JSON:
// {"head":seq,"stores":[{"name","id","key_type","created_seq","items","nodes","delta_nodes","node_bytes"}...]}.
func (db *DB) Stats() (json.RawMessage, error) { return db.report("stats", C.G_STATS) }

// Recover rolls back what dead processes left (locks, temporary files,
// blobs) and returns what it did as JSON.
func (db *DB) Recover() (json.RawMessage, error) { return db.report("recover", C.G_RECOVER) }

// CheckReport is the result of DB.Check.
type CheckReport struct {
	OK       bool     `json:"ok"`
	Head     uint64   `json:"head"`
	Problems []string `json:"problems"`
	Garbage  []string `json:"garbage"`
	Stores   []struct {
		Name  string `json:"name"`
		Items uint64 `json:"items"`
		Nodes uint64 `json:"nodes"`
		Depth uint64 `json:"depth"`
	} `json:"stores"`
}

// Check verifies the database's integrity (every checksum, the registry, the
// trees). Problems found are in the report, not an error.
func (db *DB) Check() (*CheckReport, error) {
	raw, err := db.report("check", C.G_CHECK)
	if err != nil {
		return nil, err
	}
	var rep CheckReport
	if err := json.Unmarshal(raw, &rep); err != nil {
		return nil, newError("check", codeOther, "unreadable check report: "+err.Error())
	}
	return &rep, nil
}
