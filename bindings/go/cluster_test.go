package sop_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	sop "github.com/sop-rs/sop/bindings/go"
)

// Clustered mode with the real Redis of the test run: two handles on one
// folder coordinate through it, and every count is exact.
func TestClusteredWithRedis(t *testing.T) {
	url := redisURL(t)
	dir := filepath.Join(t.TempDir(), "db")
	a, err := sop.Open(dir, sop.Options{RedisURL: url, MaxRetries: 10000})
	must(t, err)
	defer a.Close()
	conf, err := os.ReadFile(filepath.Join(dir, "sop.json"))
	must(t, err)
	if !strings.Contains(string(conf), "redis") {
		t.Fatalf("sop.json does not say Clustered: %s", conf)
	}
	b, err := sop.Open(dir, sop.Options{MaxRetries: 10000}) // the folder says how
	must(t, err)
	defer b.Close()
	counterRun(t, []*sop.DB{a, b}, 4, 15)
}

// A Clustered database whose Redis cannot be reached: ErrUnavailable.
func TestClusteredWithoutRedisIsUnavailable(t *testing.T) {
	_, err := sop.Open(filepath.Join(t.TempDir(), "db"), sop.Options{RedisURL: "redis://127.0.0.1:1/"})
	wantErr(t, err, sop.ErrUnavailable)
}
