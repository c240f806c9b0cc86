package sop_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	sop "github.com/sop-rs/sop/bindings/go"
)

// counterRun has `workers` goroutines, each `rounds` times, in one Update:
// increment the shared counter, increment its own counter, add one item of
// its own. Every handle in dbs is used by some of the goroutines.
func counterRun(t *testing.T, dbs []*sop.DB, workers, rounds int) {
	t.Helper()
	must(t, dbs[0].Update(func(tx *sop.Tx) error {
		s, err := tx.CreateJSONStore("counters", sop.StoreOptions{})
		if err != nil {
			return err
		}
		return s.Put("total", 0)
	}))
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := dbs[w%len(dbs)]
			for r := range rounds {
				err := db.Update(func(tx *sop.Tx) error {
					s, err := tx.JSONStore("counters")
					if err != nil {
						return err
					}
					var total, mine int64
					if err := s.Get("total", &total); err != nil {
						return err
					}
					if err := s.Get(fmt.Sprintf("worker-%d", w), &mine); err != nil && !isNotFound(err) {
						return err
					}
					if err := s.Put("total", total+1); err != nil {
						return err
					}
					if err := s.Put(fmt.Sprintf("worker-%d", w), mine+1); err != nil {
						return err
					}
					return s.Put(fmt.Sprintf("item-%d-%d", w, r), map[string]int{"w": w, "r": r})
				})
				if err != nil {
					errs <- fmt.Errorf("worker %d round %d: %w", w, r, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	must(t, dbs[len(dbs)-1].View(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("counters")
		must(t, err)
		var total int64
		must(t, s.Get("total", &total))
		if total != int64(workers*rounds) {
			t.Fatalf("total %d, want %d", total, workers*rounds)
		}
		for w := range workers {
			var mine int64
			must(t, s.Get(fmt.Sprintf("worker-%d", w), &mine))
			if mine != int64(rounds) {
				t.Fatalf("worker %d counted %d, want %d", w, mine, rounds)
			}
		}
		n, err := s.Count()
		must(t, err)
		if want := uint64(1 + workers + workers*rounds); n != want {
			t.Fatalf("%d items, want %d", n, want)
		}
		items := 0
		for range s.Range("item-", "item-~") {
			items++
		}
		must(t, s.Err())
		if items != workers*rounds {
			t.Fatalf("%d items in range, want %d", items, workers*rounds)
		}
		return nil
	}))
	rep, err := dbs[0].Check()
	must(t, err)
	if !rep.OK {
		t.Fatalf("check: %+v", rep.Problems)
	}
}

func isNotFound(err error) bool {
	e, ok := err.(*sop.Error)
	return ok && e.Code == 7
}

func TestGoroutinesCommittingToOneStoreCountExactly(t *testing.T) {
	db, _ := openTemp(t, sop.Options{MaxRetries: 10000})
	counterRun(t, []*sop.DB{db}, 8, 25)
}

func TestTwoHandlesOnOneFolderCountExactly(t *testing.T) {
	// Two handles on one Standalone folder: as two processes would.
	dir := filepath.Join(t.TempDir(), "db")
	a, err := sop.Open(dir, sop.Options{MaxRetries: 10000})
	must(t, err)
	defer a.Close()
	b, err := sop.Open(dir, sop.Options{MaxRetries: 10000})
	must(t, err)
	defer b.Close()
	counterRun(t, []*sop.DB{a, b}, 6, 20)
}

func TestOneTransactionSharedByGoroutines(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	tx, err := db.Begin(sop.ForWriting)
	must(t, err)
	j, err := tx.CreateJSONStore("j", sop.StoreOptions{})
	must(t, err)
	b, err := tx.CreateByteStore("b", sop.StoreOptions{})
	must(t, err)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if err := j.Put(fmt.Sprintf("%d/%03d", g, i), i); err != nil {
					t.Error(err)
					return
				}
				if err := b.Put(fmt.Appendf(nil, "%d/%03d", g, i), []byte{byte(i)}); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 { // a reader among the writers
					for range j.Range(nil, nil) {
					}
					if err := j.Err(); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	must(t, tx.Commit())
	must(t, db.View(func(tx *sop.Tx) error {
		for _, name := range []string{"j", "b"} {
			info, err := tx.StoreInfo(name)
			must(t, err)
			if info.Count != 1600 {
				t.Fatalf("%s: %d items, want 1600", name, info.Count)
			}
		}
		return nil
	}))
}

func TestReadersAndWritersAtOnce(t *testing.T) {
	db, _ := openTemp(t, sop.Options{MaxRetries: 10000})
	must(t, db.Update(func(tx *sop.Tx) error {
		s, err := tx.CreateByteStore("b", sop.StoreOptions{})
		if err != nil {
			return err
		}
		return s.Put([]byte("sum"), []byte{0})
	}))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				// Two keys always written together: a reader never sees one
				// without the other.
				err := db.Update(func(tx *sop.Tx) error {
					s, err := tx.ByteStore("b")
					if err != nil {
						return err
					}
					k := fmt.Appendf(nil, "pair-%d-%d", w, i)
					if err := s.Put(append(k, 'a'), []byte("x")); err != nil {
						return err
					}
					return s.Put(append(k, 'b'), []byte("y"))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 30 {
				err := db.View(func(tx *sop.Tx) error {
					s, err := tx.ByteStore("b")
					if err != nil {
						return err
					}
					n := 0
					for range s.Range([]byte("pair-"), []byte("pair-~")) {
						n++
					}
					if n%2 != 0 {
						return fmt.Errorf("a reader saw %d pair items: half a commit", n)
					}
					return s.Err()
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
