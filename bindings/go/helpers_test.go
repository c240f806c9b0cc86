package sop_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	sop "github.com/sop-rs/sop/bindings/go"
)

// openTemp opens a new database in a temporary folder, closed at the end of
// the test.
func openTemp(t *testing.T, opts sop.Options) (*sop.DB, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "db")
	db, err := sop.Open(dir, opts)
	if err != nil {
		t.Fatalf("open %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails unless err matches target with errors.Is.
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want one matching %v", err, target)
	}
}

// cli is the `sop` command-line tool the workspace build made: $SOP_CLI, or
// $CARGO_TARGET_DIR/debug/sop, or <repo>/target/debug/sop. Missing is a
// failure, not a skip.
func cli(t *testing.T) string {
	t.Helper()
	var candidates []string
	if p := os.Getenv("SOP_CLI"); p != "" {
		candidates = append(candidates, p)
	}
	if d := os.Getenv("CARGO_TARGET_DIR"); d != "" {
		candidates = append(candidates, filepath.Join(d, "debug", "sop"))
	}
	candidates = append(candidates, filepath.Join("..", "..", "target", "debug", "sop"))
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			abs, err := filepath.Abs(p)
			must(t, err)
			return abs
		}
	}
	t.Fatalf("the sop CLI is not built (looked at %v): run `cargo build -p sop-cli` or set SOP_CLI", candidates)
	return ""
}

// runCLI runs the sop CLI on the database folder and returns its stdout.
func runCLI(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(cli(t), append([]string{"--db", dir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sop %v: %v\nstdout: %s\nstderr: %s", args, err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes()
}

// redisURL is the test Redis that scripts/test.sh (scripts/redis-env.sh)
// starts. Missing is a failure, not a skip.
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("SOP_TEST_REDIS_URL")
	if u == "" {
		t.Fatal("SOP_TEST_REDIS_URL is not set: run through scripts/go-test.sh, which starts a Redis")
	}
	return u
}
