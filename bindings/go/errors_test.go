package sop_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sop "github.com/sop-rs/sop/bindings/go"
)

func TestErrorsMatchTheirSentinels(t *testing.T) {
	db, dir := openTemp(t, sop.Options{})
	must(t, db.Update(func(tx *sop.Tx) error {
		_, err := tx.CreateJSONStore("plain", sop.StoreOptions{})
		must(t, err)
		_, err = tx.CreateJSONStore("spec", sop.StoreOptions{KeySpec: "last"})
		return err
	}))

	// Not found: a missing folder with MustExist, a missing store, a missing key.
	_, err := sop.Open(filepath.Join(t.TempDir(), "none"), sop.Options{MustExist: true})
	wantErr(t, err, sop.ErrNotFound)
	must(t, db.View(func(tx *sop.Tx) error {
		_, err := tx.JSONStore("missing")
		wantErr(t, err, sop.ErrNotFound)
		s, err := tx.JSONStore("plain")
		must(t, err)
		var v any
		wantErr(t, s.Get("missing", &v), sop.ErrNotFound)
		return nil
	}))

	must(t, db.Update(func(tx *sop.Tx) error {
		// Exists.
		_, err := tx.CreateJSONStore("plain", sop.StoreOptions{})
		wantErr(t, err, sop.ErrExists)
		plain, err := tx.JSONStore("plain")
		must(t, err)
		spec, err := tx.JSONStore("spec")
		must(t, err)
		// Invalid input: keys that do not fit, numbers no key can hold, bad
		// JSON, bad Go values, text with NUL, a byte store as JSON.
		wantErr(t, plain.Put([]int{1, 2}, 1), sop.ErrInvalidInput)
		wantErr(t, plain.Put(map[string]int{"a": 1}, 1), sop.ErrInvalidInput)
		wantErr(t, spec.Put("not an object", 1), sop.ErrInvalidInput)
		wantErr(t, plain.Put(json.RawMessage("18446744073709551616"), 1), sop.ErrInvalidInput)
		wantErr(t, plain.Put(json.RawMessage("9007199254740993.0"), 1), sop.ErrInvalidInput)
		wantErr(t, plain.Put(json.RawMessage("{bad"), 1), sop.ErrInvalidInput)
		wantErr(t, plain.Put("k", make(chan int)), sop.ErrInvalidInput)
		_, err = tx.CreateJSONStore("nul\x00name", sop.StoreOptions{})
		wantErr(t, err, sop.ErrInvalidInput)
		_, err = tx.CreateJSONStore("bad-spec", sop.StoreOptions{KeySpec: "a:sideways"})
		wantErr(t, err, sop.ErrInvalidInput)
		_, err = tx.CreateByteStore("b", sop.StoreOptions{KeySpec: "a"})
		wantErr(t, err, sop.ErrInvalidInput)
		_, err = tx.CreateJSONStore("bad-slots", sop.StoreOptions{SlotLength: 1})
		wantErr(t, err, sop.ErrInvalidInput)
		return nil
	}))

	// A write in View: the engine refuses it.
	err = db.View(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("plain")
		must(t, err)
		return s.Put("k", 1)
	})
	wantErr(t, err, sop.ErrInvalidInput)

	// In use: the folder opened exclusively by another handle.
	must(t, db.Close())
	ex, err := sop.Open(dir, sop.Options{Exclusive: true})
	must(t, err)
	_, err = sop.Open(dir, sop.Options{})
	wantErr(t, err, sop.ErrInUse)
	must(t, ex.Close())

	// errors.As gives the code and the engine's message.
	var se *sop.Error
	if !errors.As(err, &se) || se.Code != 9 || se.Message == "" || !strings.Contains(se.Error(), se.Message) {
		t.Fatalf("errors.As: %#v", se)
	}
}

func TestConflictIsReportedAndUpdateRunsAgain(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	must(t, db.Update(func(tx *sop.Tx) error {
		s, err := tx.CreateJSONStore("c", sop.StoreOptions{})
		must(t, err)
		return s.Put("n", 0)
	}))
	incr := func(tx *sop.Tx) error {
		s, err := tx.JSONStore("c")
		if err != nil {
			return err
		}
		var n int
		if err := s.Get("n", &n); err != nil {
			return err
		}
		return s.Put("n", n+1)
	}

	// Two explicit transactions read and write the same key: the second
	// commit conflicts.
	a, err := db.Begin(sop.ForWriting)
	must(t, err)
	b, err := db.Begin(sop.ForWriting)
	must(t, err)
	must(t, incr(a))
	must(t, incr(b))
	must(t, a.Commit())
	err = b.Commit()
	wantErr(t, err, sop.ErrConflict)
	wantErr(t, b.Rollback(), sop.ErrTxDone) // the failed commit ended it

	// Update runs its function again after a conflict: the first run is
	// overtaken by another commit of the same key.
	runs := 0
	must(t, db.Update(func(tx *sop.Tx) error {
		runs++
		if err := incr(tx); err != nil {
			return err
		}
		if runs == 1 {
			must(t, db.Update(incr))
		}
		return nil
	}))
	if runs != 2 {
		t.Fatalf("Update ran its function %d times, want 2", runs)
	}

	must(t, db.View(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("c")
		must(t, err)
		var n int
		must(t, s.Get("n", &n))
		if n != 3 { // a, the inner Update, the second run of the outer one
			t.Fatalf("n = %d, want 3", n)
		}
		return nil
	}))
}

func TestUpdateGivesUpAfterMaxRetries(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := sop.Open(dir, sop.Options{MaxRetries: -1})
	must(t, err)
	defer db.Close()
	other, err := sop.Open(dir, sop.Options{})
	must(t, err)
	defer other.Close()
	must(t, db.Update(func(tx *sop.Tx) error {
		s, err := tx.CreateJSONStore("c", sop.StoreOptions{})
		must(t, err)
		return s.Put("n", 0)
	}))
	runs := 0
	err = db.Update(func(tx *sop.Tx) error {
		runs++
		s, err := tx.JSONStore("c")
		must(t, err)
		var n int
		must(t, s.Get("n", &n))
		must(t, other.Update(func(tx *sop.Tx) error {
			s, err := tx.JSONStore("c")
			must(t, err)
			return s.Put("n", 100)
		}))
		return s.Put("n", n+1)
	})
	wantErr(t, err, sop.ErrConflict)
	if runs != 1 {
		t.Fatalf("%d runs with MaxRetries -1", runs)
	}
}

func TestUpdateRollsBackOnErrorAndPanic(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	boom := errors.New("boom")
	err := db.Update(func(tx *sop.Tx) error {
		s, err := tx.CreateJSONStore("s", sop.StoreOptions{})
		must(t, err)
		must(t, s.Put("k", 1))
		return boom
	})
	if err != boom {
		t.Fatalf("Update returned %v, want the function's own error", err)
	}
	func() {
		defer func() {
			if p := recover(); p != "panic in Update" {
				t.Fatalf("recovered %v", p)
			}
		}()
		_ = db.Update(func(tx *sop.Tx) error {
			_, err := tx.CreateJSONStore("s", sop.StoreOptions{})
			must(t, err)
			panic("panic in Update")
		})
	}()
	must(t, db.View(func(tx *sop.Tx) error {
		names, err := tx.Stores()
		must(t, err)
		if len(names) != 0 {
			t.Fatalf("stores %v after two failed Updates", names)
		}
		return nil
	}))
}

func TestCorruptDataIsErrCorrupt(t *testing.T) {
	db, dir := openTemp(t, sop.Options{})
	must(t, db.Update(func(tx *sop.Tx) error {
		s, err := tx.CreateByteStore("s", sop.StoreOptions{})
		must(t, err)
		for i := range 200 {
			must(t, s.Put([]byte{byte(i)}, make([]byte, 100)))
		}
		return nil
	}))
	must(t, db.Close())
	// Flip a byte in the middle of every commit record: checksums catch it.
	n := 0
	must(t, filepath.WalkDir(filepath.Join(dir, "log"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rec") {
			return err
		}
		b, err := os.ReadFile(p)
		must(t, err)
		b[len(b)/2] ^= 0xff
		n++
		return os.WriteFile(p, b, 0o644)
	}))
	if n == 0 {
		t.Fatal("no commit record found to damage")
	}
	db2, err := sop.Open(dir, sop.Options{})
	if err == nil {
		defer db2.Close()
		err = db2.View(func(tx *sop.Tx) error {
			s, err := tx.ByteStore("s")
			if err != nil {
				return err
			}
			for range s.Range(nil, nil) {
			}
			return s.Err()
		})
	}
	wantErr(t, err, sop.ErrCorrupt)
}

func TestEveryCodeMapsToOneSentinel(t *testing.T) {
	sentinels := map[int]error{
		1: sop.ErrConflict, 2: sop.ErrOutcomeUnknown, 3: sop.ErrPoisoned, 4: sop.ErrFenced,
		5: sop.ErrCorrupt, 6: sop.ErrInvalidInput, 7: sop.ErrNotFound, 8: sop.ErrExists,
		9: sop.ErrInUse, 10: sop.ErrDiskFull, 11: sop.ErrIO, 12: sop.ErrUnavailable,
		13: sop.ErrUnsupported, 14: sop.ErrInternal, 20: sop.ErrInvalidInput,
		21: sop.ErrClosed, 22: sop.ErrTxDone, 23: sop.ErrInternal, 99: sop.ErrInternal,
	}
	all := []error{sop.ErrConflict, sop.ErrOutcomeUnknown, sop.ErrPoisoned, sop.ErrFenced,
		sop.ErrCorrupt, sop.ErrInvalidInput, sop.ErrNotFound, sop.ErrExists, sop.ErrInUse,
		sop.ErrDiskFull, sop.ErrIO, sop.ErrUnavailable, sop.ErrUnsupported, sop.ErrClosed,
		sop.ErrTxDone, sop.ErrInternal}
	for code, want := range sentinels {
		err := error(&sop.Error{Op: "x", Code: code, Message: "m"})
		for _, s := range all {
			if errors.Is(err, s) != (s == want) {
				t.Errorf("code %d: errors.Is(%v) = %v", code, s, errors.Is(err, s))
			}
		}
	}
}
