package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStateTTLFlagAndGroupByWarning checks the CLI side of state limits:
// a windowless GROUP BY with neither a TTL nor a key cap warns at start
// with its position,
// explain shows the TTL and key limit, --state-ttl bounds the state (and
// wins over the file), SET 'sluice.state.max-keys' fails a job that goes
// over it with the state-limit error naming the operator, and a bad
// --state-ttl names the flag.
func TestStateTTLFlagAndGroupByWarning(t *testing.T) {
	dir := t.TempDir()
	job := filepath.Join(dir, "job.sql")
	os.WriteFile(job, []byte(`CREATE TABLE keys (k BIGINT)
WITH ('connector' = 'datagen', 'number-of-rows' = '20', 'rows-per-second' = '10',
      'fields.k.kind' = 'sequence', 'fields.k.start' = '0', 'fields.k.end' = '19');
CREATE TABLE out WITH ('connector' = 'blackhole');
SET 'sluice.state.max-keys' = '8';
  INSERT INTO out SELECT k, COUNT(*) AS n FROM keys GROUP BY k;
`), 0o644)
	run := func(args ...string) (stdout, stderr string, err error) {
		t.Helper()
		var o, e strings.Builder
		cmd := exec.Command(binary, args...)
		cmd.Stdout, cmd.Stderr = &o, &e
		err = cmd.Run()
		return o.String(), e.String(), err
	}
	// The key cap bounds the state: no warning. Without it, one warning.
	out, errOut, err := run("explain", job, "--parallelism", "1")
	if err != nil || strings.Contains(errOut, "warning") {
		t.Fatalf("explain with a key cap: %v\nstderr: %s", err, errOut)
	}
	src, _ := os.ReadFile(job)
	unbounded := filepath.Join(dir, "unbounded.sql")
	os.WriteFile(unbounded, []byte(strings.Replace(string(src), "SET 'sluice.state.max-keys' = '8';\n", "", 1)), 0o644)
	warning := unbounded + ":5:3: warning: GROUP BY without a window keeps the state of every key forever"
	if _, errOut, err := run("explain", unbounded, "--parallelism", "1"); err != nil || !strings.Contains(errOut, "sluice: "+warning) ||
		strings.Count(errOut, "warning") != 1 {
		t.Fatalf("explain with neither a TTL nor a key cap: %v\nstderr: %s", err, errOut)
	}
	if !strings.Contains(out, "no TTL: kept forever; at most 8 keys per subtask ('sluice.state.max-keys')") {
		t.Fatalf("explain:\n%s", out)
	}
	out, errOut, err = run("explain", job, "--parallelism", "1", "--state-ttl", "1 h")
	if err != nil || strings.Contains(errOut, "warning") ||
		!strings.Contains(out, "settings: 'sluice.state.max-keys' = '8' (line 5); 'table.exec.state.ttl' = '1h0m0s' (--state-ttl, over the file)") ||
		!strings.Contains(out, "TTL 1h0m0s in processing time") {
		t.Fatalf("explain --state-ttl: %v\nstdout:\n%s\nstderr: %s", err, out, errOut)
	}
	// 20 keys over a limit of 8: the job fails, naming the operator...
	_, errOut, err = run("run", job, "--parallelism", "1")
	if err == nil || !strings.Contains(errOut, `operator "group aggregate" (subtask 0): state limit exceeded: GROUP BY holds 9 groups`) {
		t.Fatalf("run over the limit: %v\nstderr: %s", err, errOut)
	}
	// ... unless keys idle for 100 ms are dropped.
	if _, errOut, err = run("run", job, "--parallelism", "1", "--state-ttl", "100 ms"); err != nil {
		t.Fatalf("run --state-ttl 100ms: %v\nstderr: %s", err, errOut)
	}
	if _, errOut, err = run("run", job, "--state-ttl", "1 hx"); err == nil || !strings.Contains(errOut, `--state-ttl "1 hx": "1 hx" is not a duration`) {
		t.Fatalf("bad --state-ttl: %v\nstderr: %s", err, errOut)
	}
}
