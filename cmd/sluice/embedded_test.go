package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunSQLWithEmbeddedStore: one job writes generated rows into a stream
// of the embedded store (`--store-dir`), a second job — another process —
// reads the stream back with a bounded read and counts per key and window.
func TestRunSQLWithEmbeddedStore(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	write := filepath.Join(dir, "write.sql")
	os.WriteFile(write, []byte(`
CREATE TABLE src (k BIGINT, ts TIMESTAMP(3))
WITH ('connector' = 'datagen', 'number-of-rows' = '5000',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '4',
      'fields.ts.kind' = 'sequence', 'fields.ts.step' = '1ms');
CREATE TABLE events (k BIGINT, ts TIMESTAMP(3))
WITH ('connector' = 'store', 'stream' = 'events', 'stream.create-shards' = '3', 'partition-key' = 'k');
INSERT INTO events SELECT k, ts FROM src;
`), 0o644)
	read := filepath.Join(dir, "read.sql")
	os.WriteFile(read, []byte(`
CREATE TABLE events (k BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND)
WITH ('connector' = 'store', 'stream' = 'events', 'scan.bounded.mode' = 'latest');
CREATE TABLE out WITH ('connector' = 'print');
INSERT INTO out SELECT k, TUMBLE_START(ts, INTERVAL '1' SECOND) AS ws, COUNT(*) AS n
FROM events GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND);
`), 0o644)
	if out, err := exec.Command(binary, "run", write, "--store-dir", store).CombinedOutput(); err != nil {
		t.Fatalf("write job: %v\n%s", err, out)
	}
	rows := resultRows(t, exec.Command(binary, "run", read, "--store-dir", store, "--parallelism", "2"))
	if len(rows) != 25 || rows[0] != "0, 2026-01-01 00:00:00.000, 200" || rows[24] != "4, 2026-01-01 00:00:04.000, 200" {
		t.Fatalf("rows:\n%s", strings.Join(rows, "\n"))
	}
	// Without --store-dir, a table without an endpoint says what to do.
	out, err := exec.Command(binary, "run", read).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--store-dir") {
		t.Fatalf("without a store: %v\n%s", err, out)
	}
}

// TestLiveDemoStopsOnSIGTERM: the live clickstream-store job writes and reads the embedded
// store at once, prints windows as they close, and stops cleanly.
func TestLiveDemoStopsOnSIGTERM(t *testing.T) {
	cmd := exec.Command(binary, "run", "clickstream-store", "--events", "-1", "--rows-per-second", "200000")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if resultLine.FindStringSubmatch(l) == nil {
			t.Fatalf("unexpected line %q", l)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no window within 20 s\n%s", stderr.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not stop within 10 s of SIGTERM")
	}
}
