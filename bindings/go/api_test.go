package sop_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	sop "github.com/sop-rs/sop/bindings/go"
)

func TestABIVersionMatchesTheHeader(t *testing.T) {
	if v := sop.ABIVersion(); v != 1 {
		t.Fatalf("ABI version %d, the header of this package says 1", v)
	}
	if sop.LibraryVersion() == "" {
		t.Fatal("empty library version")
	}
}

func TestJSONStorePutGetDeleteRange(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	must(t, db.Update(func(tx *sop.Tx) error {
		s, err := tx.CreateJSONStore("words", sop.StoreOptions{})
		if err != nil {
			return err
		}
		for i, w := range []string{"delta", "alpha", "charlie", "echo", "bravo"} {
			if err := s.Put(w, map[string]any{"n": i, "w": strings.ToUpper(w)}); err != nil {
				return err
			}
		}
		return nil
	}))
	must(t, db.View(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("words")
		must(t, err)
		var v struct {
			N int    `json:"n"`
			W string `json:"w"`
		}
		must(t, s.Get("charlie", &v))
		if v.N != 2 || v.W != "CHARLIE" {
			t.Fatalf("charlie = %+v", v)
		}
		raw, err := s.GetJSON("echo")
		must(t, err)
		if string(raw) != `{"n":3,"w":"ECHO"}` {
			t.Fatalf("echo = %s", raw)
		}
		n, err := s.Count()
		must(t, err)
		if n != 5 {
			t.Fatalf("count %d", n)
		}
		var keys []string
		for k := range s.Range("b", "d") {
			keys = append(keys, string(k))
		}
		must(t, s.Err())
		if want := []string{`"bravo"`, `"charlie"`}; !slices.Equal(keys, want) {
			t.Fatalf("range b..d = %v, want %v", keys, want)
		}
		keys = nil
		for k := range s.Scan("bravo", "delta", sop.ScanOptions{Desc: true, ExcludeTo: true}) {
			keys = append(keys, string(k))
		}
		if want := []string{`"charlie"`, `"bravo"`}; !slices.Equal(keys, want) {
			t.Fatalf("desc scan [bravo, delta) = %v, want %v", keys, want)
		}
		keys = nil
		for k := range s.Scan("alpha", nil, sop.ScanOptions{ExcludeFrom: true}) {
			keys = append(keys, string(k))
			if len(keys) == 2 {
				break
			}
		}
		if want := []string{`"bravo"`, `"charlie"`}; !slices.Equal(keys, want) {
			t.Fatalf("(alpha.. with break after 2 = %v, want %v", keys, want)
		}
		return s.Err()
	}))
	must(t, db.Update(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("words")
		must(t, err)
		done, err := s.Delete("alpha")
		must(t, err)
		if !done {
			t.Fatal("delete alpha: not there")
		}
		done, err = s.Delete("zulu")
		must(t, err)
		if done {
			t.Fatal("delete zulu reported an item")
		}
		return nil
	}))
	must(t, db.View(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("words")
		must(t, err)
		var keys []string
		for k := range sop.RangeOf[string, json.RawMessage](s, nil, nil) {
			keys = append(keys, k)
		}
		if want := []string{"bravo", "charlie", "delta", "echo"}; !slices.Equal(keys, want) {
			t.Fatalf("all keys %v, want %v", keys, want)
		}
		return s.Err()
	}))
}

type person struct {
	First string   `json:"first"`
	Tags  []string `json:"tags,omitempty"`
}

type personKey struct {
	Last string `json:"last"`
	Age  int    `json:"age"`
}

func TestStructKeysWithAKeySpec(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	people := []struct {
		k personKey
		v person
	}{
		{personKey{"Lovelace", 36}, person{First: "Ada"}},
		{personKey{"Hopper", 85}, person{First: "Grace", Tags: []string{"navy"}}},
		{personKey{"Lovelace", 60}, person{First: "Byron"}},
		{personKey{"Turing", 41}, person{First: "Alan"}},
	}
	must(t, db.Update(func(tx *sop.Tx) error {
		s, err := tx.CreateJSONStore("people", sop.StoreOptions{KeySpec: "last,age:desc"})
		if err != nil {
			return err
		}
		for _, p := range people {
			if err := s.Put(p.k, p.v); err != nil {
				return err
			}
		}
		return nil
	}))
	must(t, db.View(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("people")
		must(t, err)
		var got []string
		for k, v := range sop.RangeOf[personKey, person](s, nil, nil) {
			got = append(got, fmt.Sprintf("%s/%d/%s", k.Last, k.Age, v.First))
		}
		must(t, s.Err())
		want := []string{"Hopper/85/Grace", "Lovelace/60/Byron", "Lovelace/36/Ada", "Turing/41/Alan"}
		if !slices.Equal(got, want) {
			t.Fatalf("people in key order %v, want %v", got, want)
		}
		// A bound on the first field only: the missing age sorts first.
		got = nil
		for k := range sop.RangeOf[personKey, person](s, map[string]any{"last": "L"}, map[string]any{"last": "M"}) {
			got = append(got, fmt.Sprint(k.Age))
		}
		if want := []string{"60", "36"}; !slices.Equal(got, want) {
			t.Fatalf("Lovelaces %v, want %v", got, want)
		}
		info, err := tx.StoreInfo("people")
		must(t, err)
		if info.KeyType != "json" || info.Count != 4 || !info.Options.Unique || !strings.Contains(string(info.KeySpec), `"age"`) {
			t.Fatalf("store info %+v (spec %s)", info, info.KeySpec)
		}
		return nil
	}))
}

func TestPutModesAndDuplicates(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	must(t, db.Update(func(tx *sop.Tx) error {
		s, err := tx.CreateJSONStore("u", sop.StoreOptions{})
		must(t, err)
		check := func(what string, got bool, err error, want bool) {
			t.Helper()
			must(t, err)
			if got != want {
				t.Fatalf("%s: done %v, want %v", what, got, want)
			}
		}
		done, err := s.PutWith(sop.PutUpdate, 1, "x")
		check("update of a missing key", done, err, false)
		done, err = s.PutWith(sop.PutAdd, 1, "a")
		check("add", done, err, true)
		done, err = s.PutWith(sop.PutAdd, 1, "b")
		check("add of an existing key in a unique store", done, err, false)
		done, err = s.PutWith(sop.PutAddIfAbsent, 1, "c")
		check("add-if-absent of an existing key", done, err, false)
		done, err = s.PutWith(sop.PutUpdate, 1, "d")
		check("update", done, err, true)
		done, err = s.PutWith(sop.PutUpsert, 1, "e")
		check("upsert replacing", done, err, false)
		done, err = s.PutWith(sop.PutUpsert, 2, "f")
		check("upsert inserting", done, err, true)
		var v string
		must(t, s.Get(1, &v))
		if v != "e" {
			t.Fatalf("1 = %q, want e", v)
		}

		d, err := tx.CreateJSONStore("dups", sop.StoreOptions{AllowDuplicates: true})
		must(t, err)
		for _, v := range []string{"first", "second", "third"} {
			done, err := d.PutWith(sop.PutAdd, "k", v)
			check("add of a duplicate", done, err, true)
		}
		done, err = d.PutWith(sop.PutAddIfAbsent, "k", "fourth")
		check("add-if-absent with duplicates", done, err, false)
		var vals []string
		for _, v := range sop.RangeOf[string, string](d, nil, nil) {
			vals = append(vals, v)
		}
		if want := []string{"first", "second", "third"}; !slices.Equal(vals, want) {
			t.Fatalf("duplicates %v, want %v (insertion order)", vals, want)
		}
		must(t, d.Get("k", &v))
		if v != "first" {
			t.Fatalf("get of a duplicate key = %q, want the first", v)
		}
		return nil
	}))
}

func TestPutMany(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	must(t, db.Update(func(tx *sop.Tx) error {
		j, err := tx.CreateJSONStore("j", sop.StoreOptions{})
		must(t, err)
		items := make([]sop.Item, 0, 1000)
		for i := range 1000 {
			items = append(items, sop.Item{Key: i, Value: map[string]int{"sq": i * i}})
		}
		n, err := j.PutMany(items)
		must(t, err)
		if n != 1000 {
			t.Fatalf("json put many inserted %d", n)
		}
		n, err = j.PutMany(items[:10]) // replaces
		must(t, err)
		if n != 0 {
			t.Fatalf("json put many of existing keys inserted %d", n)
		}
		_, err = j.PutMany([]sop.Item{{Key: 5000, Value: 1}, {Key: []int{1}, Value: 2}})
		wantErr(t, err, sop.ErrInvalidInput)
		if !strings.Contains(err.Error(), "1") {
			t.Fatalf("the error does not name the failing item: %v", err)
		}

		b, err := tx.CreateByteStore("b", sop.StoreOptions{})
		must(t, err)
		var bi []sop.ByteItem
		for i := range 1000 {
			bi = append(bi, sop.ByteItem{Key: fmt.Appendf(nil, "k%04d", i), Value: bytes.Repeat([]byte{byte(i)}, i%7)})
		}
		n, err = b.PutMany(bi)
		must(t, err)
		if n != 1000 {
			t.Fatalf("byte put many inserted %d", n)
		}
		n, err = b.PutMany(nil)
		must(t, err)
		if n != 0 {
			t.Fatalf("an empty batch inserted %d", n)
		}
		return nil
	}))
	must(t, db.View(func(tx *sop.Tx) error {
		j, err := tx.JSONStore("j")
		must(t, err)
		var v map[string]int
		must(t, j.Get(999, &v))
		if v["sq"] != 999*999 {
			t.Fatalf("999 = %v", v)
		}
		// The item before the failing one stayed put, and the transaction
		// committed it.
		raw, err := j.GetJSON(5000)
		must(t, err)
		if string(raw) != "1" {
			t.Fatalf("5000 = %s", raw)
		}
		b, err := tx.ByteStore("b")
		must(t, err)
		i := 0
		for k, v := range b.Range(nil, nil) {
			if string(k) != fmt.Sprintf("k%04d", i) || !bytes.Equal(v, bytes.Repeat([]byte{byte(i)}, i%7)) {
				t.Fatalf("item %d: %q = %v", i, k, v)
			}
			i++
		}
		must(t, b.Err())
		if i != 1000 {
			t.Fatalf("%d byte items", i)
		}
		return nil
	}))
}

func TestByteStore(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	big := bytes.Repeat([]byte("0123456789abcdef"), 1000) // larger than the scratch buffer
	must(t, db.Update(func(tx *sop.Tx) error {
		s, err := tx.CreateByteStore("raw", sop.StoreOptions{})
		must(t, err)
		must(t, s.Put([]byte{}, []byte("empty key")))
		must(t, s.Put([]byte{0}, []byte{}))
		must(t, s.Put([]byte{0, 0}, nil))
		must(t, s.Put([]byte("a"), []byte{1, 2, 3}))
		must(t, s.Put([]byte("ab"), big))
		must(t, s.Put([]byte{0xff, 0x00}, []byte("high")))
		return nil
	}))
	must(t, db.View(func(tx *sop.Tx) error {
		s, err := tx.ByteStore("raw")
		must(t, err)
		v, err := s.Get([]byte("ab"))
		must(t, err)
		if !bytes.Equal(v, big) {
			t.Fatalf("big value: %d bytes back", len(v))
		}
		v, err = s.Get(nil)
		must(t, err)
		if string(v) != "empty key" {
			t.Fatalf("empty key = %q", v)
		}
		v, err = s.Get([]byte{0})
		must(t, err)
		if v == nil || len(v) != 0 {
			t.Fatalf("empty value = %#v", v)
		}
		_, err = s.Get([]byte("zz"))
		wantErr(t, err, sop.ErrNotFound)
		var keys [][]byte
		for k := range s.Range(nil, nil) {
			keys = append(keys, k)
		}
		want := [][]byte{{}, {0}, {0, 0}, []byte("a"), []byte("ab"), {0xff, 0}}
		if !slices.EqualFunc(keys, want, bytes.Equal) {
			t.Fatalf("keys %q, want %q", keys, want)
		}
		// A non-nil empty upper bound is the empty key, not "unbounded".
		keys = nil
		for k := range s.Range(nil, []byte{}) {
			keys = append(keys, k)
		}
		if len(keys) != 1 || len(keys[0]) != 0 {
			t.Fatalf("range up to the empty key: %q", keys)
		}
		keys = nil
		for k := range s.Scan([]byte("a"), nil, sop.ScanOptions{Desc: true}) {
			keys = append(keys, k)
		}
		want = [][]byte{{0xff, 0}, []byte("ab"), []byte("a")}
		if !slices.EqualFunc(keys, want, bytes.Equal) {
			t.Fatalf("desc from a: %q, want %q", keys, want)
		}
		return s.Err()
	}))
}

func TestStoresListInfoAndDrop(t *testing.T) {
	db, _ := openTemp(t, sop.Options{})
	must(t, db.Update(func(tx *sop.Tx) error {
		_, err := tx.CreateJSONStore("b-json", sop.StoreOptions{Description: "some words", SlotLength: 16})
		must(t, err)
		_, err = tx.CreateByteStore("a-bytes", sop.StoreOptions{Values: "separate"})
		must(t, err)
		_, err = tx.CreateByteStoreIfNotExists("a-bytes", sop.StoreOptions{})
		must(t, err)
		return nil
	}))
	must(t, db.View(func(tx *sop.Tx) error {
		names, err := tx.Stores()
		must(t, err)
		if want := []string{"a-bytes", "b-json"}; !slices.Equal(names, want) {
			t.Fatalf("stores %v, want %v", names, want)
		}
		info, err := tx.StoreInfo("b-json")
		must(t, err)
		if info.Options.Description != "some words" || info.Options.SlotLength != 16 {
			t.Fatalf("info %+v", info)
		}
		info, err = tx.StoreInfo("a-bytes")
		must(t, err)
		if info.KeyType != "raw-bytes" || info.Options.Values != "separate" {
			t.Fatalf("info %+v", info)
		}
		_, err = tx.StoreInfo("nope")
		wantErr(t, err, sop.ErrNotFound)
		return nil
	}))
	must(t, db.Update(func(tx *sop.Tx) error { return tx.DropStore("a-bytes") }))
	must(t, db.View(func(tx *sop.Tx) error {
		names, err := tx.Stores()
		must(t, err)
		if !slices.Equal(names, []string{"b-json"}) {
			t.Fatalf("stores after the drop %v", names)
		}
		return nil
	}))
	rep, err := db.Check()
	must(t, err)
	if !rep.OK || len(rep.Problems) != 0 || len(rep.Stores) != 1 {
		t.Fatalf("check %+v", rep)
	}
	stats, err := db.Stats()
	must(t, err)
	if !bytes.Contains(stats, []byte(`"b-json"`)) {
		t.Fatalf("stats %s", stats)
	}
	_, err = db.Recover()
	must(t, err)
}

func TestExplicitTransactions(t *testing.T) {
	db, dir := openTemp(t, sop.Options{})
	tx, err := db.Begin(sop.ForWriting)
	must(t, err)
	s, err := tx.CreateJSONStore("s", sop.StoreOptions{})
	must(t, err)
	must(t, s.Put("kept", true))
	must(t, tx.Commit())

	tx, err = db.Begin(sop.ForWriting)
	must(t, err)
	s, err = tx.JSONStore("s")
	must(t, err)
	must(t, s.Put("discarded", true))
	must(t, tx.Rollback())

	// NoCheck: a snapshot, nothing checked at the end.
	tx, err = db.Begin(sop.NoCheck)
	must(t, err)
	if tx.Mode() != sop.NoCheck {
		t.Fatalf("mode %v", tx.Mode())
	}
	s, err = tx.JSONStore("s")
	must(t, err)
	n, err := s.Count()
	must(t, err)
	if n != 1 {
		t.Fatalf("%d items, want only the committed one", n)
	}
	must(t, tx.Commit())

	// The data is in the folder: another handle sees it.
	must(t, db.Close())
	db2, err := sop.Open(dir, sop.Options{MustExist: true})
	must(t, err)
	defer db2.Close()
	must(t, db2.View(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("s")
		must(t, err)
		var v bool
		must(t, s.Get("kept", &v))
		wantErr(t, s.Get("discarded", &v), sop.ErrNotFound)
		return nil
	}))
}

func TestReadOnlyOpen(t *testing.T) {
	db, dir := openTemp(t, sop.Options{})
	must(t, db.Update(func(tx *sop.Tx) error {
		s, err := tx.CreateJSONStore("s", sop.StoreOptions{})
		if err != nil {
			return err
		}
		return s.Put("k", "v")
	}))
	must(t, db.Close())
	ro, err := sop.Open(dir, sop.Options{ReadOnly: true, MustExist: true, CacheBytes: 1 << 20})
	must(t, err)
	defer ro.Close()
	must(t, ro.View(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("s")
		if err != nil {
			return err
		}
		var v string
		return s.Get("k", &v)
	}))
	wantErr(t, ro.Update(func(*sop.Tx) error { return nil }), sop.ErrInvalidInput)
}
