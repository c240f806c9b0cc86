// Package sop is the Go binding of SOP, an embedded ACID ordered key-value
// engine: databases in a folder, shared by processes on one host (Standalone)
// or on many (Clustered, coordinated through Redis), with optimistic
// serializable transactions.
//
// The binding calls SOP's C ABI (crates/sop-ffi, docs/BINDINGS.md) through cgo
// and links its static library libsop_ffi.a, built with
//
//	cargo build -p sop-ffi --release   # or without --release: target/debug
//
// cgo looks for it in <repo>/target/release, then <repo>/target/debug; point
// it elsewhere (another CARGO_TARGET_DIR) with CGO_LDFLAGS="-L<dir>". Go 1.24
// or newer and a C compiler are needed.
//
// # Use
//
//	db, err := sop.Open("my-data", sop.Options{})
//	if err != nil { ... }
//	defer db.Close()
//	err = db.Update(func(tx *sop.Tx) error {
//		users, err := tx.CreateJSONStoreIfNotExists("users", sop.StoreOptions{})
//		if err != nil {
//			return err
//		}
//		return users.Put("ada", map[string]any{"name": "Ada Lovelace"})
//	})
//	err = db.View(func(tx *sop.Tx) error {
//		users, err := tx.JSONStore("users")
//		if err != nil {
//			return err
//		}
//		for k, v := range users.Range("a", "b") {
//			fmt.Println(string(k), string(v))
//		}
//		return users.Err()
//	})
//
// DB.Update runs a writing transaction and commits it, running it again on
// ErrConflict (up to Options.MaxRetries); DB.View runs a reading one that can
// never write. DB.Begin, Tx.Commit and Tx.Rollback do the same by hand.
//
// # Errors
//
// Every error is an *Error (the operation, the C ABI code and the engine's
// message) that matches a sentinel with errors.Is: ErrConflict (run again),
// ErrOutcomeUnknown (ask DB.CommitOutcome), ErrNotFound, ErrExists,
// ErrInvalidInput, ErrCorrupt, ErrFenced, ErrPoisoned, ErrInUse, ErrIO,
// ErrDiskFull, ErrUnavailable, ErrUnsupported, ErrClosed (use after Close),
// ErrTxDone (use after Commit or Rollback), ErrInternal.
//
// # Goroutines
//
// A DB is safe for concurrent use: share one among goroutines, each with its
// own transactions (commits of different goroutines run in parallel and
// conflict only on the same keys). A Tx and the stores opened in it may also
// be shared, but their calls are serialized, one at a time; a range loop holds
// the transaction only while it fetches the next item. Everything a
// transaction opened ends with it: after Commit or Rollback its stores return
// ErrTxDone.
//
// # Keys across languages
//
// JSON keys are ordered the same way in every language (docs/FORMAT.md): by
// type, then numbers by exact value (an int64 or uint64 beyond 2^53 keeps
// every digit; a float64 is written with the shortest digits that round-trip),
// strings by their UTF-8 bytes, as given (no Unicode normalisation). Decoding
// into `any` gives json.Number for numbers, so no integer is rounded through
// float64.
package sop
