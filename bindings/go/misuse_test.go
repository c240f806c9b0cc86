package sop_test

import (
	"path/filepath"
	"testing"

	sop "github.com/sop-rs/sop/bindings/go"
)

func TestUseAfterClose(t *testing.T) {
	db, err := sop.Open(filepath.Join(t.TempDir(), "db"), sop.Options{})
	must(t, err)
	must(t, db.Close())
	wantErr(t, db.Close(), sop.ErrClosed)
	_, err = db.Begin(sop.ForWriting)
	wantErr(t, err, sop.ErrClosed)
	wantErr(t, db.Update(func(*sop.Tx) error { t.Fatal("ran on a closed DB"); return nil }), sop.ErrClosed)
	wantErr(t, db.View(func(*sop.Tx) error { t.Fatal("ran on a closed DB"); return nil }), sop.ErrClosed)
	_, err = db.Stats()
	wantErr(t, err, sop.ErrClosed)
	_, err = db.Check()
	wantErr(t, err, sop.ErrClosed)
	_, err = db.CommitOutcome(sop.TxID{})
	wantErr(t, err, sop.ErrClosed)
}

func TestUseAfterTheTransactionEnded(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	tx, err := db.Begin(sop.ForWriting)
	must(t, err)
	j, err := tx.CreateJSONStore("j", sop.StoreOptions{})
	must(t, err)
	b, err := tx.CreateByteStore("b", sop.StoreOptions{})
	must(t, err)
	must(t, j.Put(1, 1))
	must(t, tx.Rollback())

	// Commit after rollback, rollback twice, and every store call.
	wantErr(t, tx.Commit(), sop.ErrTxDone)
	wantErr(t, tx.Rollback(), sop.ErrTxDone)
	wantErr(t, j.Put(2, 2), sop.ErrTxDone)
	var v any
	wantErr(t, j.Get(1, &v), sop.ErrTxDone)
	_, err = j.Delete(1)
	wantErr(t, err, sop.ErrTxDone)
	_, err = j.Count()
	wantErr(t, err, sop.ErrTxDone)
	_, err = j.PutMany([]sop.Item{{Key: 1, Value: 1}})
	wantErr(t, err, sop.ErrTxDone)
	wantErr(t, b.Put([]byte("k"), nil), sop.ErrTxDone)
	_, err = b.Get([]byte("k"))
	wantErr(t, err, sop.ErrTxDone)
	for range j.Range(nil, nil) {
		t.Fatal("a range over an ended transaction yielded")
	}
	wantErr(t, j.Err(), sop.ErrTxDone)
	_, err = tx.JSONStore("j")
	wantErr(t, err, sop.ErrTxDone)
	_, err = tx.Stores()
	wantErr(t, err, sop.ErrTxDone)

	// Commit after commit.
	tx, err = db.Begin(sop.ForWriting)
	must(t, err)
	must(t, tx.Commit())
	wantErr(t, tx.Commit(), sop.ErrTxDone)
}

func TestManagedTransactionsCannotBeEndedByHand(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	err := db.Update(func(tx *sop.Tx) error {
		wantErr(t, tx.Commit(), sop.ErrInvalidInput)
		wantErr(t, tx.Rollback(), sop.ErrInvalidInput)
		_, err := tx.CreateJSONStore("still-live", sop.StoreOptions{})
		return err
	})
	must(t, err)
	must(t, db.View(func(tx *sop.Tx) error {
		_, err := tx.JSONStore("still-live")
		return err
	}))
}

func TestCommitInsideARangeStopsIt(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	tx, err := db.Begin(sop.ForWriting)
	must(t, err)
	s, err := tx.CreateJSONStore("s", sop.StoreOptions{})
	must(t, err)
	for i := range 10 {
		must(t, s.Put(i, i))
	}
	seen := 0
	for range s.Range(nil, nil) {
		seen++
		if seen == 3 {
			must(t, tx.Commit())
		}
	}
	if seen != 3 {
		t.Fatalf("the range went on for %d items after its transaction ended", seen)
	}
	wantErr(t, s.Err(), sop.ErrTxDone)
}

func TestAFailedRangeKeepsTheTransactionFromCommitting(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	must(t, db.Update(func(tx *sop.Tx) error {
		_, err := tx.CreateJSONStore("s", sop.StoreOptions{})
		return err
	}))
	err := db.Update(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("s")
		must(t, err)
		must(t, s.Put("written", 1))
		// An array is no key of a store without a key spec: the range fails.
		for range s.Range([]int{1}, nil) {
			t.Fatal("yielded")
		}
		wantErr(t, s.Err(), sop.ErrInvalidInput)
		return nil // ignoring the range's error
	})
	wantErr(t, err, sop.ErrInvalidInput)
	must(t, db.View(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("s")
		must(t, err)
		n, err := s.Count()
		must(t, err)
		if n != 0 {
			t.Fatalf("%d items: the transaction committed after a failed range", n)
		}
		return nil
	}))
}

func TestCloseWithALiveTransaction(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	db, err := sop.Open(dir, sop.Options{})
	must(t, err)
	tx, err := db.Begin(sop.ForWriting)
	must(t, err)
	wantErr(t, db.Close(), sop.ErrInUse)
	// The transaction keeps working and commits; the database then closes.
	s, err := tx.CreateJSONStore("late", sop.StoreOptions{})
	must(t, err)
	must(t, s.Put("k", "v"))
	must(t, tx.Commit())
	db, err = sop.Open(dir, sop.Options{Exclusive: true}) // no other handle left
	must(t, err)
	defer db.Close()
	must(t, db.View(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("late")
		must(t, err)
		var v string
		return s.Get("k", &v)
	}))
}

func TestRangeOfAWrongTypeEndsTheLoopWithAnError(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	must(t, db.Update(func(tx *sop.Tx) error {
		s, err := tx.CreateJSONStore("s", sop.StoreOptions{})
		must(t, err)
		must(t, s.Put(1, "one"))
		must(t, s.Put("two", "two"))
		return nil
	}))
	err := db.Update(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("s")
		must(t, err)
		var keys []int
		for k := range sop.RangeOf[int, string](s, nil, nil) {
			keys = append(keys, k)
		}
		if len(keys) != 1 || keys[0] != 1 {
			t.Fatalf("keys before the one that does not decode: %v", keys)
		}
		wantErr(t, s.Err(), sop.ErrInvalidInput)
		return s.Put(3, "three")
	})
	wantErr(t, err, sop.ErrInvalidInput)
	must(t, db.View(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("s")
		must(t, err)
		_, err = s.GetJSON(3)
		wantErr(t, err, sop.ErrNotFound)
		return nil
	}))
}
