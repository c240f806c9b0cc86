// The interop test's Go process (tests/interop/driver.py starts it).
//
//	interop write DB GROUP ITEMS INCREMENTS COUNTERS START_FILE EDGE_FILE
//	interop read DB OUT_FILE RAW_FILE
//
// write: opens the folder, says "ready", waits for START_FILE, writes the fixed
// set of awkward keys (EDGE_FILE, JSON lines {"key":…,"value":…}, passed as
// the exact text), then adds ITEMS items of its own (GROUP) in transactions of
// 100, and after each batch adds one to a shared counter (read, add one, write
// back; DB.Update runs it again on a conflict) until it has done INCREMENTS
// increments, round-robin over the COUNTERS counters. read: one read
// transaction over the whole store; one canonical line per item to OUT_FILE
// and the text as the library returned it, {"key":…,"value":…}, to RAW_FILE.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	sop "github.com/sop-rs/sop/bindings/go"
)

const (
	storeName = "interop"
	batch     = 100
)

type key struct {
	Group string `json:"group"`
	N     int    `json:"n"`
	Name  string `json:"name"`
}

type nested struct {
	Sq  int `json:"sq"`
	Neg int `json:"neg"`
}

type value struct {
	Lang   string  `json:"lang"`
	I      int     `json:"i"`
	Tenth  float64 `json:"tenth"`
	Big    int64   `json:"big"`
	Tags   []any   `json:"tags"`
	Nested nested  `json:"nested"`
}

func item(group string, i int) sop.Item {
	var tag any = "x"
	if i%3 == 0 {
		tag = nil
	}
	return sop.Item{
		Key: key{group, i, fmt.Sprintf("%s-%04d", group, i)},
		Value: value{
			Lang: group, I: i, Tenth: float64(i) * 0.1, Big: 1<<62 + int64(i),
			Tags: []any{group, tag}, Nested: nested{i * i, -i},
		},
	}
}

type counter struct {
	Count int64 `json:"count"`
}

func counterKey(k int) key { return key{"counter", k, fmt.Sprintf("c%d", k)} }

func edgeItems(path string) ([]sop.Item, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var items []sop.Item
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var kv struct {
			Key   json.RawMessage `json:"key"`
			Value json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(line, &kv); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		items = append(items, sop.Item{Key: kv.Key, Value: kv.Value})
	}
	return items, nil
}

func write(path, group string, items, increments, counters int, start, edgeFile string) error {
	edge, err := edgeItems(edgeFile)
	if err != nil {
		return err
	}
	db, err := sop.Open(path, sop.Options{MaxRetries: 500})
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Println("ready")
	for {
		if _, err := os.Stat(start); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	attempts := 0
	err = db.Update(func(tx *sop.Tx) error {
		attempts++
		s, err := tx.JSONStore(storeName)
		if err != nil {
			return err
		}
		n, err := s.PutManyWith(sop.PutAdd, edge)
		if err != nil {
			return err
		}
		if n != uint64(len(edge)) {
			return fmt.Errorf("the fixed set: %d of %d items added", n, len(edge))
		}
		// Keys equal to two of the set's (docs/FORMAT.md: -0 = 0, 1.0 = 1): not added.
		for _, k := range []string{`{"group":"edge","n":0,"name":"neg-zero"}`, `{"name":"one","n":1,"group":"edge"}`} {
			added, err := s.PutWith(sop.PutAdd, json.RawMessage(k), "duplicate")
			if err != nil {
				return err
			}
			if added {
				return fmt.Errorf("the key %s was added beside an equal one", k)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	done, batches := 0, (items+batch-1)/batch
	for b := 0; b < batches; b++ {
		err := db.Update(func(tx *sop.Tx) error {
			attempts++
			s, err := tx.JSONStore(storeName)
			if err != nil {
				return err
			}
			var its []sop.Item
			for i := b * batch; i < min((b+1)*batch, items); i++ {
				its = append(its, item(group, i))
			}
			_, err = s.PutMany(its)
			return err
		})
		if err != nil {
			return err
		}
		for ; done < increments*(b+1)/batches; done++ {
			k := counterKey(done % counters)
			err := db.Update(func(tx *sop.Tx) error {
				attempts++
				s, err := tx.JSONStore(storeName)
				if err != nil {
					return err
				}
				var c counter
				if err := s.Get(k, &c); err != nil {
					return err
				}
				c.Count++
				return s.Put(k, c)
			})
			if err != nil {
				return err
			}
		}
	}
	txs := 1 + batches + increments
	fmt.Printf("go: %d items and the %d of the fixed set, %d increments, %d transactions, %d conflicts retried\n",
		items, len(edge), increments, txs, attempts-txs)
	return nil
}

func read(path, out, raw string) error {
	db, err := sop.Open(path, sop.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	var canon, text bytes.Buffer
	err = db.View(func(tx *sop.Tx) error {
		canon.Reset()
		text.Reset()
		s, err := tx.JSONStore(storeName)
		if err != nil {
			return err
		}
		for k, v := range s.Range(nil, nil) {
			ck, err := canonical(k)
			if err != nil {
				return err
			}
			cv, err := canonical(v)
			if err != nil {
				return err
			}
			fmt.Fprintf(&canon, "%s\t%s\n", ck, cv)
			fmt.Fprintf(&text, "{\"key\":%s,\"value\":%s}\n", k, v)
		}
		return s.Err()
	})
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, canon.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(raw, text.Bytes(), 0o644)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return n
}

func main() {
	a := os.Args
	var err error
	switch {
	case len(a) == 9 && a[1] == "write":
		err = write(a[2], a[3], atoi(a[4]), atoi(a[5]), atoi(a[6]), a[7], a[8])
	case len(a) == 5 && a[1] == "read":
		err = read(a[2], a[3], a[4])
	default:
		err = fmt.Errorf("usage: interop write DB GROUP ITEMS INCREMENTS COUNTERS START_FILE EDGE_FILE | read DB OUT_FILE RAW_FILE")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go:", err)
		os.Exit(1)
	}
}
