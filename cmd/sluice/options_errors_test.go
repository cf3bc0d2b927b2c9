package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// explainErr runs sluice explain on a job file holding job and returns its
// standard error, failing the test when explain succeeds.
func explainErr(t *testing.T, job string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "job.sql")
	if err := os.WriteFile(path, []byte(job), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "explain", path)
	cmd.Dir = filepath.Dir(path)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("explain accepted the job:\n%s\n%s", job, out)
	}
	return strings.TrimSpace(strings.ReplaceAll(string(out), path, "job.sql"))
}

// TestBadOptionValueIsPlacedAtTheOption: a value a connector refuses is
// reported at the option's line:column in its CREATE TABLE, for a source
// and for a sink, not at the place the table is used.
func TestBadOptionValueIsPlacedAtTheOption(t *testing.T) {
	for _, c := range []struct{ name, job, want string }{
		{"source", `CREATE TABLE s (a INT) WITH ('connector' = 'datagen',
  'number-of-rows' = '-5');
CREATE TABLE o WITH ('connector' = 'print');
INSERT INTO o SELECT a FROM s;
`, `sluice: job.sql:2:3: table s: option "number-of-rows": "-5" must be at least 0`},
		{"sink", `CREATE TABLE s (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '5');
CREATE TABLE o WITH ('connector' = 'print', 'standard-error' = 'maybe');
INSERT INTO o SELECT a FROM s;
`, `sluice: job.sql:2:45: table o: option "standard-error": "maybe" is not true or false`},
		{"checked by the connector", `CREATE TABLE s (a INT) WITH ('connector' = 'datagen', 'number-of-rows' = '5',
  'fields.a.min' = '10', 'fields.a.max' = '3');
CREATE TABLE o WITH ('connector' = 'print');
INSERT INTO o SELECT a FROM s;
`, `sluice: job.sql:2:3: table s: option "fields.a.min": min 10 is greater than max 3`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := explainErr(t, c.job); got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}
