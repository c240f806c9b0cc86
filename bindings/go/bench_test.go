package sop_test

import (
	"strconv"
	"testing"

	sop "github.com/sop-rs/sop/bindings/go"
)

// Per-call benchmarks (go test -bench . -run ^$): b.N puts in one
// transaction, or gets from a store of 10,000 items. cmd/callcost runs the
// fixed 100,000-item workload of docs/BENCHMARKS.md.

const benchItems = 10_000

func benchDB(b *testing.B, json bool) (*sop.DB, *sop.Tx) {
	b.Helper()
	db, err := sop.Open(b.TempDir()+"/db", sop.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	err = db.Update(func(tx *sop.Tx) error {
		if json {
			s, err := tx.CreateJSONStore("kv", sop.StoreOptions{})
			if err != nil {
				return err
			}
			for i := range benchItems {
				if err := s.Put(i, doc{"value_" + strconv.Itoa(i)}); err != nil {
					return err
				}
			}
			return nil
		}
		s, err := tx.CreateByteStore("kv", sop.StoreOptions{})
		if err != nil {
			return err
		}
		for i := range benchItems {
			if err := s.Put([]byte("key_"+strconv.Itoa(i)), []byte("value_"+strconv.Itoa(i))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	tx, err := db.Begin(sop.ForWriting)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tx.Rollback() })
	return db, tx
}

type doc struct {
	V string `json:"v"`
}

func BenchmarkBytePut(b *testing.B) {
	_, tx := benchDB(b, false)
	s, _ := tx.ByteStore("kv")
	k, v := []byte("new_0000000000"), []byte("value")
	b.ResetTimer()
	for i := range b.N {
		copy(k[4:], strconv.Itoa(i))
		if err := s.Put(k, v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkByteGet(b *testing.B) {
	_, tx := benchDB(b, false)
	s, _ := tx.ByteStore("kv")
	keys := make([][]byte, benchItems)
	for i := range keys {
		keys[i] = []byte("key_" + strconv.Itoa(i))
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Get(keys[i%benchItems]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONPut(b *testing.B) {
	_, tx := benchDB(b, true)
	s, _ := tx.JSONStore("kv")
	b.ResetTimer()
	for i := range b.N {
		if err := s.Put(benchItems+i, doc{"v"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONGet(b *testing.B) {
	_, tx := benchDB(b, true)
	s, _ := tx.JSONStore("kv")
	b.ResetTimer()
	for i := range b.N {
		var d doc
		if err := s.Get(i%benchItems, &d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONGetRaw(b *testing.B) {
	_, tx := benchDB(b, true)
	s, _ := tx.JSONStore("kv")
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.GetJSON(i % benchItems); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRange(b *testing.B) {
	_, tx := benchDB(b, false)
	s, _ := tx.ByteStore("kv")
	b.ResetTimer()
	n := 0
	for n < b.N {
		for range s.Range(nil, nil) {
			n++
			if n == b.N {
				break
			}
		}
	}
}
