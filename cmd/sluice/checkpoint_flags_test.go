package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckpointFlagsNeedCheckpointDir: the flags that only mean something
// with checkpoints are refused without --checkpoint-dir (exit 2, naming
// the flag) instead of being ignored while the job runs.
func TestCheckpointFlagsNeedCheckpointDir(t *testing.T) {
	job := filepath.Join(t.TempDir(), "job.sql")
	os.WriteFile(job, []byte(`CREATE TABLE t (k BIGINT) WITH ('connector' = 'datagen', 'number-of-rows' = '10');
CREATE TABLE out WITH ('connector' = 'blackhole');
INSERT INTO out SELECT k FROM t;
`), 0o644)
	for _, args := range [][]string{
		{"--checkpoint-interval", "1s"},
		{"--restart-attempts", "3"},
		{"--allow-non-restored-state"},
		{"--from-savepoint", "ck/savepoint-000001"},
	} {
		out, errOut, code := sluiceExit(t, append([]string{"run", job}, args...)...)
		want := args[0] + " needs --checkpoint-dir"
		if code != 2 || out != "" || !strings.Contains(errOut, want) {
			t.Errorf("sluice run job.sql %s: exit %d, stdout %q, stderr %q; want exit 2 saying %q", strings.Join(args, " "), code, out, errOut, want)
		}
	}
	// With --checkpoint-dir they are taken, and --allow-duplicates means
	// something without it.
	dir := filepath.Join(t.TempDir(), "ck")
	for _, args := range [][]string{
		{"--checkpoint-dir", dir, "--checkpoint-interval", "1s", "--restart-attempts", "3", "--allow-non-restored-state"},
		{"--allow-duplicates"},
	} {
		if _, errOut, code := sluiceExit(t, append([]string{"run", job}, args...)...); code != 0 {
			t.Errorf("sluice run job.sql %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
	}
}
