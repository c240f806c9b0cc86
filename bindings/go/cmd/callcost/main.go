// Command callcost is the Go side of the bindings' call-cost benchmark
// (docs/BENCHMARKS.md, "Cost per call over the C ABI"): N puts in one writing
// transaction, its commit, then N gets in a NoCheck transaction, each on a new
// database, the same work as the Rust example crates/sop-ffi/examples/call_cost.rs.
// A byte store with 24-byte keys (key_ and i in 20 digits) and 150-byte values
// (value_ and i in 20 digits, padded with x); a JSON store with the key i and
// the value {"v":"value_{i}"} (a struct through encoding/json); and the byte
// store filled by one PutMany call. Besides its human lines it prints the
// machine-readable lines scripts/bench-call-cost.sh collects:
// CALLCOST lang=go op=OP n=N ns_wall=W ns_cpu=C (ns per call).
//
//	go run ./cmd/callcost [-count N] DIR
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	sop "github.com/sop-rs/sop/bindings/go"
)

// times are the phases' wall-clock times, and the CPU times of the calling
// thread for the put and get loops (main locks itself to one OS thread), which
// a loaded machine inflates less.
type times struct{ put, putCPU, commit, get, getCPU time.Duration }

// watch is a wall-clock and thread-CPU stopwatch.
type watch struct {
	wall time.Time
	cpu  time.Duration
}

func start() watch { return watch{time.Now(), threadCPU()} }

func (w watch) stop() (time.Duration, time.Duration) {
	return time.Since(w.wall), threadCPU() - w.cpu
}

// threadCPU is the calling thread's time on a CPU (Linux: clock_gettime of
// CLOCK_THREAD_CPUTIME_ID, exact to the call, where /proc/thread-self/schedstat
// lags by up to a scheduler tick).
func threadCPU() time.Duration {
	const clockThreadCPUTimeID = 3 // Linux
	var ts syscall.Timespec
	_, _, errno := syscall.RawSyscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID,
		uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

type doc struct {
	V string `json:"v"`
}

func report(what, kind string, n int, t times) {
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(n) }
	if kind != "" {
		fmt.Printf("CALLCOST lang=go op=%s_put n=%d ns_wall=%.0f ns_cpu=%.0f cpu=thread\n", kind, n, per(t.put), per(t.putCPU))
		fmt.Printf("CALLCOST lang=go op=%s_get n=%d ns_wall=%.0f ns_cpu=%.0f cpu=thread\n", kind, n, per(t.get), per(t.getCPU))
	}
	fmt.Printf("%-28s put %6.0f ns/op (cpu %6.0f)   commit %6.1f ms   get %6.0f ns/op (cpu %6.0f)\n",
		what, per(t.put), per(t.putCPU), float64(t.commit.Nanoseconds())/1e6, per(t.get), per(t.getCPU))
}

// run opens a new database in dir, times fill and its commit, then times read
// in a NoCheck transaction.
func run(dir string, create func(tx *sop.Tx) (any, error), fill func(s any) error,
	open func(tx *sop.Tx) (any, error), read func(s any) error) (times, error) {
	var t times
	db, err := sop.Open(dir, sop.Options{})
	if err != nil {
		return t, err
	}
	defer db.Close()
	tx, err := db.Begin(sop.ForWriting)
	if err != nil {
		return t, err
	}
	s, err := create(tx)
	if err != nil {
		return t, err
	}
	w := start()
	if err := fill(s); err != nil {
		return t, err
	}
	t.put, t.putCPU = w.stop()
	t0 := time.Now()
	if err := tx.Commit(); err != nil {
		return t, err
	}
	t.commit = time.Since(t0)
	tx, err = db.Begin(sop.NoCheck)
	if err != nil {
		return t, err
	}
	defer tx.Rollback()
	if s, err = open(tx); err != nil {
		return t, err
	}
	w = start()
	if err := read(s); err != nil {
		return t, err
	}
	t.get, t.getCPU = w.stop()
	return t, nil
}

func main() {
	runtime.LockOSThread() // one thread for threadCPU
	n := flag.Int("count", 100_000, "items")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: callcost [-count N] DIR (a new folder)")
		os.Exit(2)
	}
	dir := flag.Arg(0)
	keys := make([][]byte, *n)
	vals := make([][]byte, *n)
	for i := range *n {
		keys[i] = fmt.Appendf(nil, "key_%020d", i)
		vals[i] = fmt.Appendf(nil, "value_%020d%s", i, strings.Repeat("x", 124))
	}
	createBytes := func(tx *sop.Tx) (any, error) { return tx.CreateByteStore("kv", sop.StoreOptions{}) }
	openBytes := func(tx *sop.Tx) (any, error) { return tx.ByteStore("kv") }
	readBytes := func(s any) error {
		b := s.(*sop.ByteStore)
		for i, k := range keys {
			v, err := b.Get(k)
			if err != nil {
				return err
			}
			if string(v) != string(vals[i]) {
				return fmt.Errorf("%s: wrong value %q", k, v)
			}
		}
		return nil
	}
	fmt.Printf("%d puts in one transaction, then %d gets (NoCheck), each on a new database in %s\n", *n, *n, dir)

	t, err := run(filepath.Join(dir, "go-bytes"), createBytes, func(s any) error {
		b := s.(*sop.ByteStore)
		for i, k := range keys {
			if err := b.Put(k, vals[i]); err != nil {
				return err
			}
		}
		return nil
	}, openBytes, readBytes)
	check(err)
	report("go, cgo, bytes", "bytes", *n, t)

	t, err = run(filepath.Join(dir, "go-bytes-batch"), createBytes, func(s any) error {
		items := make([]sop.ByteItem, len(keys))
		for i, k := range keys {
			items[i] = sop.ByteItem{Key: k, Value: vals[i]}
		}
		got, err := s.(*sop.ByteStore).PutMany(items)
		if err == nil && got != uint64(len(items)) {
			err = fmt.Errorf("PutMany inserted %d of %d", got, len(items))
		}
		return err
	}, openBytes, readBytes)
	check(err)
	report("go, cgo, bytes, PutMany", "", *n, t)

	t, err = run(filepath.Join(dir, "go-json"), func(tx *sop.Tx) (any, error) {
		return tx.CreateJSONStore("kv", sop.StoreOptions{})
	}, func(s any) error {
		j := s.(*sop.JSONStore)
		for i := range *n {
			if err := j.Put(i, doc{V: "value_" + strconv.Itoa(i)}); err != nil {
				return err
			}
		}
		return nil
	}, func(tx *sop.Tx) (any, error) { return tx.JSONStore("kv") }, func(s any) error {
		j := s.(*sop.JSONStore)
		for i := range *n {
			var d doc
			if err := j.Get(i, &d); err != nil {
				return err
			}
			if d.V != "value_"+strconv.Itoa(i) {
				return fmt.Errorf("%d: wrong value %q", i, d.V)
			}
		}
		return nil
	})
	check(err)
	report("go, cgo, json", "json", *n, t)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "callcost:", err)
		os.Exit(1)
	}
}
