package sop_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	sop "github.com/sop-rs/sop/bindings/go"
)

// keysInOrder are primitive keys where languages disagree, in the order
// docs/FORMAT.md defines: null < false < true < numbers by exact value <
// strings by UTF-8 bytes (as given: NFC and NFD forms are different keys).
var keysInOrder = []any{
	nil,
	false,
	true,
	int64(math.MinInt64),
	int64(-9007199254740993), // -(2^53 + 1): not a float64
	-2.5,
	int64(-1),
	0,
	1e-7,
	0.1,
	int64(1),
	3.14159,
	int64(9007199254740992), // 2^53
	int64(9007199254740993), // 2^53 + 1
	int64(math.MaxInt64),
	uint64(math.MaxUint64),
	1.5e300,
	"",
	"<tag>&",
	"a",
	"e\u0301", // é, decomposed (NFD)
	"null value",
	"\u00e9", // é, composed (NFC)
	"\uffff",
	"😀",
}

// valueFor is the value stored under key number i: nested objects, arrays,
// numbers that do not fit a float64, and null.
func valueFor(i int) json.RawMessage {
	switch i % 4 {
	case 0:
		return json.RawMessage(`{"nested":{"b":[1,{"c":null}],"a":"x"},"i":` + jsonInt(i) + `}`)
	case 1:
		return json.RawMessage(`null`)
	case 2:
		return json.RawMessage(`[18446744073709551615,-9223372036854775808,1.50,"é"]`)
	default:
		return json.RawMessage(`"` + strings.Repeat("v", i) + `"`)
	}
}

var negZeroValue = json.RawMessage(`"put with the key -0"`)

func jsonInt(i int) string { b, _ := json.Marshal(i); return string(b) }

func jsonText(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	must(t, e.Encode(v))
	return strings.TrimSuffix(b.String(), "\n")
}

type exportLine struct {
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
}

func parseExport(t *testing.T, out []byte) []exportLine {
	t.Helper()
	var lines []exportLine
	for _, l := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var e exportLine
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("export line %q: %v", l, err)
		}
		lines = append(lines, e)
	}
	return lines
}

func TestGoWritesTheCLIReads(t *testing.T) {
	db, dir := openTemp(t, sop.Options{})
	// Written in reverse order: the store orders them.
	must(t, db.Update(func(tx *sop.Tx) error {
		s, err := tx.CreateJSONStore("keys", sop.StoreOptions{})
		if err != nil {
			return err
		}
		for i := len(keysInOrder) - 1; i >= 0; i-- {
			if err := s.Put(keysInOrder[i], valueFor(i)); err != nil {
				return err
			}
		}
		// Negative zero is the key 0: it replaces 0's value.
		return s.Put(math.Copysign(0, -1), negZeroValue)
	}))
	must(t, db.Close())

	lines := parseExport(t, runCLI(t, dir, "export", "keys"))
	if len(lines) != len(keysInOrder) {
		t.Fatalf("the CLI exported %d items, want %d", len(lines), len(keysInOrder))
	}
	for i, l := range lines {
		want := valueFor(i)
		if keysInOrder[i] == 0 {
			want = negZeroValue
		}
		wantKey := jsonText(t, keysInOrder[i])
		if keysInOrder[i] == 0 {
			// The item keeps the key text it was added with, or takes the
			// replacing one: both are the key 0.
			if string(l.Key) != "0" && string(l.Key) != "-0" {
				t.Fatalf("item %d: key %s, want 0 or -0", i, l.Key)
			}
		} else if string(l.Key) != wantKey {
			t.Fatalf("item %d: the CLI has key %s, Go wrote %s", i, l.Key, wantKey)
		}
		if string(l.Value) != string(want) {
			t.Fatalf("item %d (%s): the CLI has value %s, Go wrote %s", i, l.Key, l.Value, want)
		}
	}

	// A range with integer bounds beyond 2^53, through the CLI.
	got := parseExport(t, runCLI(t, dir, "scan", "keys", "--from", "9007199254740993", "--to", "18446744073709551615"))
	var keys []string
	for _, l := range got {
		keys = append(keys, string(l.Key))
	}
	if want := []string{"9007199254740993", "9223372036854775807", "18446744073709551615"}; !slices.Equal(keys, want) {
		t.Fatalf("CLI scan of the big integers: %v, want %v", keys, want)
	}
	var item exportLine
	must(t, json.Unmarshal(runCLI(t, dir, "--json", "get", "keys", "-9007199254740993"), &item))
	if string(item.Value) != string(valueFor(4)) {
		t.Fatalf("CLI get -9007199254740993: %s", item.Value)
	}
	runCLI(t, dir, "check") // exit 0: no fault
}

func TestTheCLIWritesGoReads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	runCLI(t, dir, "init")
	runCLI(t, dir, "store", "create", "keys", "--unique")
	runCLI(t, dir, "store", "create", "people", "--unique", "--key-spec", "last,age:desc")

	// The keys in a scrambled order, as JSON lines for `sop import`.
	var jsonl bytes.Buffer
	for _, i := range scrambled(len(keysInOrder)) {
		line := `{"key":` + jsonText(t, keysInOrder[i]) + `,"value":` + string(valueFor(i)) + "}\n"
		jsonl.WriteString(line)
	}
	file := filepath.Join(t.TempDir(), "keys.jsonl")
	must(t, os.WriteFile(file, jsonl.Bytes(), 0o644))
	runCLI(t, dir, "import", "keys", file, "--batch", "7")
	runCLI(t, dir, "put", "people", `{"last":"Lovelace","age":36,"born":1815}`, `{"first":"Ada"}`)
	runCLI(t, dir, "put", "people", `{"last":"Lovelace","age":60}`, `{"first":"Byron"}`)
	runCLI(t, dir, "put", "people", `{"last":"Hopper","age":85}`, `{"first":"Grace","tags":["navy"]}`)

	db, err := sop.Open(dir, sop.Options{MustExist: true})
	must(t, err)
	defer db.Close()
	must(t, db.View(func(tx *sop.Tx) error {
		s, err := tx.JSONStore("keys")
		must(t, err)
		i := 0
		for k, v := range s.Range(nil, nil) {
			if want := jsonText(t, keysInOrder[i]); string(k) != want {
				t.Fatalf("item %d: Go reads key %s, the CLI imported %s", i, k, want)
			}
			if string(v) != string(valueFor(i)) {
				t.Fatalf("item %d: Go reads value %s, the CLI imported %s", i, v, valueFor(i))
			}
			i++
		}
		must(t, s.Err())
		if i != len(keysInOrder) {
			t.Fatalf("Go read %d items, the CLI imported %d", i, len(keysInOrder))
		}
		// Integers beyond 2^53 come back exact, as int64, uint64 or json.Number.
		var ints []int64
		for k := range sop.RangeOf[int64, json.RawMessage](s, int64(9007199254740992), int64(math.MaxInt64)) {
			ints = append(ints, k)
		}
		must(t, s.Err())
		if want := []int64{9007199254740992, 9007199254740993, math.MaxInt64}; !slices.Equal(ints, want) {
			t.Fatalf("int64 keys %v, want %v", ints, want)
		}
		var nested any
		must(t, s.Get(int64(math.MaxInt64), &nested))
		arr := nested.([]any)
		if arr[0] != json.Number("18446744073709551615") || arr[1] != json.Number("-9223372036854775808") || arr[2] != json.Number("1.50") {
			t.Fatalf("numbers in a value decoded as %#v", arr)
		}
		var null any = "not null"
		must(t, s.Get(false, &null))
		if null != nil {
			t.Fatalf("a null value decoded as %#v", null)
		}
		// A float key is the same key whatever its spelling.
		raw, err := s.GetJSON(json.RawMessage("1.0e-7"))
		must(t, err)
		if string(raw) != string(valueFor(8)) {
			t.Fatalf("1.0e-7 = %s", raw)
		}

		p, err := tx.JSONStore("people")
		must(t, err)
		var order []string
		for k, v := range sop.RangeOf[map[string]any, person](p, nil, nil) {
			order = append(order, k["last"].(string)+"/"+string(k["age"].(json.Number))+"/"+v.First)
		}
		must(t, p.Err())
		if want := []string{"Hopper/85/Grace", "Lovelace/60/Byron", "Lovelace/36/Ada"}; !slices.Equal(order, want) {
			t.Fatalf("people %v, want %v", order, want)
		}
		// The key keeps its members outside the spec.
		raw, err = p.GetJSON(personKey{"Lovelace", 36})
		must(t, err)
		if string(raw) != `{"first":"Ada"}` {
			t.Fatalf("Ada = %s", raw)
		}
		return nil
	}))

	// And back: Go adds, the CLI sees it.
	must(t, db.Update(func(tx *sop.Tx) error {
		p, err := tx.JSONStore("people")
		must(t, err)
		return p.Put(personKey{"Turing", 41}, person{First: "Alan"})
	}))
	must(t, db.Close())
	lines := parseExport(t, runCLI(t, dir, "scan", "people", "--from", `{"last":"T"}`))
	if len(lines) != 1 || string(lines[0].Key) != `{"last":"Turing","age":41}` || string(lines[0].Value) != `{"first":"Alan"}` {
		t.Fatalf("the CLI reads %+v", lines)
	}
}

// scrambled is a fixed permutation of 0..n-1 (a multiplier prime to n).
func scrambled(n int) []int {
	out := make([]int, n)
	for i := range n {
		out[i] = (i*7 + 3) % n
	}
	return out
}
