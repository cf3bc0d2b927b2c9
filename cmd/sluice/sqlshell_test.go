package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clicksDDL is a bounded datagen table: ids 1…10, pages p = id % 3.
const clicksDDL = `CREATE TABLE clicks (
  id INT,
  ts TIMESTAMP(3),
  WATERMARK FOR ts AS ts
) WITH (
  'connector' = 'datagen', 'number-of-rows' = '10',
  'fields.id.kind' = 'sequence', 'fields.id.start' = '1', 'fields.id.end' = '10',
  'fields.ts.kind' = 'sequence', 'fields.ts.start' = '2026-01-01T00:00:00Z', 'fields.ts.step' = '1 s'
);
`

// sqlShell runs sluice sql with stdin and returns its exit code, stdout
// and stderr.
func sqlShell(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"sql", "--parallelism", "1"}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func TestSQLShellPipedSelectPrintsRows(t *testing.T) {
	code, out, stderr := sqlShell(t, clicksDDL+"SELECT id, id % 3 AS p FROM clicks WHERE id > 6;\n")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	want := "id\tp\n7\t1\n8\t2\n9\t0\n10\t1\n"
	if out != want {
		t.Fatalf("stdout:\n%q\nwant:\n%q", out, want)
	}
}

// applyChangelog applies "op\tkey\tvalue" lines to a map, checking that a
// retraction retracts the current value.
func applyChangelog(t *testing.T, lines []string) map[string]string {
	t.Helper()
	state := map[string]string{}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			t.Fatalf("changelog line %q: want op, key, value", l)
		}
		switch f[0] {
		case "+I", "+U":
			if _, ok := state[f[1]]; ok {
				t.Fatalf("%q adds key %s that has a value", l, f[1])
			}
			state[f[1]] = f[2]
		case "-U", "-D":
			if state[f[1]] != f[2] {
				t.Fatalf("%q retracts %s, but the value is %q", l, f[2], state[f[1]])
			}
			delete(state, f[1])
		default:
			t.Fatalf("changelog line %q: unknown op", l)
		}
	}
	return state
}

func TestSQLShellPipedGroupByPrintsAChangelog(t *testing.T) {
	code, out, stderr := sqlShell(t, clicksDDL+"SELECT id % 3 AS p, COUNT(*) AS n FROM clicks GROUP BY id % 3;\n")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if lines[0] != "op\tp\tn" {
		t.Fatalf("header %q, want op, p, n", lines[0])
	}
	got := applyChangelog(t, lines[1:])
	want := map[string]string{"0": "3", "1": "4", "2": "3"}
	if len(got) != len(want) || got["0"] != "3" || got["1"] != "4" || got["2"] != "3" {
		t.Fatalf("final counts %v, want %v\n%s", got, want, out)
	}
}

func TestSQLShellPipedWindowAppendsRows(t *testing.T) {
	code, out, stderr := sqlShell(t, clicksDDL+
		"SELECT TUMBLE_START(ts, INTERVAL '5' SECOND) AS w, COUNT(*) AS n FROM clicks GROUP BY TUMBLE(ts, INTERVAL '5' SECOND);\n")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	want := "w\tn\n2026-01-01 00:00:00.000\t5\n2026-01-01 00:00:05.000\t5\n"
	if out != want {
		t.Fatalf("stdout:\n%q\nwant:\n%q", out, want)
	}
}

func TestSQLShellErrorNamesLineAndColumnAndGoesOn(t *testing.T) {
	code, out, stderr := sqlShell(t, clicksDDL+"SELECT idd\n  FROM clicks;\nSHOW TABLES;\n")
	if code != 1 {
		t.Fatalf("exit %d, want 1 (a statement failed)\n%s", code, stderr)
	}
	if !strings.Contains(stderr, `<stdin>:10:8: unknown column "idd" (did you mean "id"?)`) {
		t.Fatalf("stderr does not place the error at line 10, column 8:\n%s", stderr)
	}
	if out != "clicks\n" {
		t.Fatalf("SHOW TABLES after the error printed %q, want clicks", out)
	}
}

func TestSQLShellDescribeExplainAndSettings(t *testing.T) {
	code, out, stderr := sqlShell(t, clicksDDL+`DESCRIBE clicks;
EXPLAIN SELECT id FROM clicks WHERE id > 3;
SET 'table.exec.state.ttl' = '1 h';
SET;
RESET;
SET;
SHOW CONNECTORS;
`)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, want := range []string{
		"Table clicks", "id      INT           NULL", "ts      TIMESTAMP(3)  NULL", "'connector' = 'datagen'", // DESCRIBE
		`source "clicks", parallelism 1`, `operator "sink collect", parallelism 1`, // EXPLAIN
		"'table.exec.state.ttl' = '1 h'",                      // SET lists it
		"datagen       yes    no", "upsert-kafka  yes    yes", // SHOW CONNECTORS
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Count(out, "'table.exec.state.ttl' = '1 h'") != 1 {
		t.Errorf("RESET left the setting:\n%s", out)
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestSQLShellInsertRunsAsAJobAndEOFWaitsForIt(t *testing.T) {
	code, out, stderr := sqlShell(t, clicksDDL+`CREATE TABLE out (id INT) WITH ('connector' = 'print');
INSERT INTO out SELECT id FROM clicks WHERE id <= 3;
`)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if out != "+I[1]\n+I[2]\n+I[3]\n" {
		t.Fatalf("the job printed %q, want its three rows", out)
	}
	if !strings.Contains(stderr, "[job 1] submitted: INSERT INTO out SELECT id FROM clicks WHERE id <= 3") ||
		!strings.Contains(stderr, "[job 1] finished") {
		t.Fatalf("stderr lacks the job's submitted and finished lines:\n%s", stderr)
	}
}

func TestSQLShellCatalogKeepsTablesForTheNextSession(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cat")
	if code, _, stderr := sqlShell(t, clicksDDL, "--catalog", dir); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	code, out, stderr := sqlShell(t, "SHOW TABLES;\nSELECT COUNT(*) AS n FROM clicks GROUP BY TUMBLE(ts, INTERVAL '1' HOUR);", "--catalog", dir)
	if code != 0 || out != "clicks\nn\n10\n" {
		t.Fatalf("exit %d, stdout %q (want the table and its count)\n%s", code, out, stderr)
	}
}

func TestSQLShellPipedCtrlCCancelsTheQueryOnly(t *testing.T) {
	cmd := exec.Command(binary, "sql", "--parallelism", "1")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	stdin.Write([]byte("CREATE TABLE s (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '200', 'fields.id.kind' = 'sequence');\n" +
		"SELECT id FROM s;\n"))
	waitFor(t, &out, "\n5\n", 10*time.Second)
	cmd.Process.Signal(syscall.SIGINT)
	waitFor(t, &errb, "query cancelled after", 10*time.Second)
	stdin.Write([]byte("SHOW TABLES;\n"))
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("sluice sql: %v\n%s", err, errb.String())
	}
	if !strings.HasSuffix(out.String(), "\ns\n") {
		t.Fatalf("SHOW TABLES after Ctrl-C did not run: %q", out.String())
	}
}

// waitFor polls b until it contains s.
func waitFor(t *testing.T, b interface{ String() string }, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %v; got:\n%s", s, within, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunDashReadsTheJobFromStdin(t *testing.T) {
	cmd := exec.Command(binary, "run", "-", "--parallelism", "1")
	cmd.Stdin = strings.NewReader(clicksDDL + "SELECT id FROM clicks WHERE id > 8;\n")
	if rows := resultRows(t, cmd); strings.Join(rows, " ") != "10 9" {
		t.Fatalf("rows %q, want 9 and 10", rows)
	}
	cmd = exec.Command(binary, "explain", "-", "--parallelism", "1")
	cmd.Stdin = strings.NewReader(clicksDDL + "SELECT id FROM clicks;\n")
	if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), `source "clicks", parallelism 1`) {
		t.Fatalf("explain -: %v\n%s", err, out)
	}
	cmd = exec.Command(binary, "run", "-")
	cmd.Stdin = strings.NewReader(clicksDDL + "SELECT idd FROM clicks;\n")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `<stdin>:10:8: unknown column "idd" (did you mean "id"?)`) {
		t.Fatalf("err %v, output %s; want <stdin>:10:8 and did you mean", err, out)
	}
}

func TestSQLShellJobsCanBeListedAndStoppedAndSIGTERMEndsTheShell(t *testing.T) {
	cmd := exec.Command(binary, "sql", "--parallelism", "1")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	stdin.Write([]byte("CREATE TABLE s (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '100');\n" +
		"CREATE TABLE sink (id BIGINT) WITH ('connector' = 'blackhole');\n" +
		"INSERT INTO sink SELECT id FROM s;\nINSERT INTO sink SELECT id + 1 FROM s;\nSHOW JOBS;\nSTOP JOB 1;\nSHOW JOBS;\n"))
	waitFor(t, &errb, "[job 1] stopped", 10*time.Second)
	// The second SHOW JOBS: job 1 stopped, job 2 still running. The shell
	// writes the table a cell at a time, so wait for job 2's whole line:
	// seeing job 1's says nothing of what is still to come.
	second := regexp.MustCompile(`(?m)^1 +stopped .*\n2 +(.*)\n`)
	for deadline := time.Now().Add(10 * time.Second); second.FindStringSubmatch(out.String()) == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no SHOW JOBS with job 1 stopped within 10 s; got:\n%s", out.String())
		}
	}
	if m := second.FindStringSubmatch(out.String()); !strings.HasPrefix(m[1], "running ") {
		t.Fatalf("SHOW JOBS after STOP JOB 1:\n%s", out.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sluice sql after SIGTERM: %v\n%s", err, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("sluice sql did not end on SIGTERM with a job running and its input open:\n%s", errb.String())
	}
	if !strings.Contains(errb.String(), "[job 2] stopped") {
		t.Fatalf("job 2 was not stopped:\n%s", errb.String())
	}
}

func TestSQLShellHelpListsItsFlags(t *testing.T) {
	out, err := exec.Command(binary, "sql", "-h").Output()
	if err != nil {
		t.Fatalf("sluice sql -h: %v", err)
	}
	for _, want := range []string{"Usage: sluice sql [flags]", "--catalog DIR", "--store-dir", "--parallelism", "sluice sql < job.sql"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("sluice sql -h lacks %q:\n%s", want, out)
		}
	}
}

func TestSQLShellSetParallelismAppliesToLaterQueries(t *testing.T) {
	code, out, stderr := sqlShell(t, clicksDDL+`SET 'parallelism' = '3';
EXPLAIN SELECT id + 1 AS x FROM clicks;
SET;
RESET 'parallelism';
EXPLAIN SELECT id + 1 AS x FROM clicks;
SET 'parallelism' = '0';
`)
	if code != 1 {
		t.Fatalf("exit %d, want 1 for the bad SET\n%s", code, stderr)
	}
	if !strings.Contains(out, `source "clicks", parallelism 3`) || !strings.Contains(out, "'parallelism' = '3'") ||
		!strings.Contains(out, `source "clicks", parallelism 1`) {
		t.Fatalf("SET 'parallelism' did not apply to the first EXPLAIN only:\n%s", out)
	}
	if !strings.Contains(stderr, `<stdin>:15:1: SET 'parallelism': "0" is not a number of subtasks from 1 to 128`) {
		t.Fatalf("stderr:\n%s", stderr)
	}
}

func TestSQLShellUnknownStatementSaysDidYouMean(t *testing.T) {
	code, _, stderr := sqlShell(t, "SHOW CONECTORS;\n  EXPLAN SELECT id FROM t;\nSHOW TABLES;\n")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	for _, want := range []string{
		"<stdin>:1:6: unknown SHOW CONECTORS (did you mean SHOW CONNECTORS?)",
		"<stdin>:2:3: unknown statement EXPLAN (did you mean EXPLAIN?)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Count(stderr, "error:") != 2 {
		t.Errorf("want two errors (SHOW TABLES is fine):\n%s", stderr)
	}
}

func TestSQLShellStoreTablesUseTheEmbeddedStore(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := sqlShell(t, clicksDDL+`CREATE TABLE ev (id INT) WITH ('connector' = 'store', 'stream' = 'ev', 'stream.create-shards' = '1');
INSERT INTO ev SELECT id FROM clicks;
`, "--store-dir", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	code, out, stderr := sqlShell(t, `CREATE TABLE ev (id INT) WITH ('connector' = 'store', 'stream' = 'ev', 'scan.bounded.mode' = 'latest');
SELECT id FROM ev WHERE id > 7;
`, "--store-dir", dir)
	if code != 0 || out != "id\n8\n9\n10\n" {
		t.Fatalf("exit %d, stdout %q: want the rows the first session wrote\n%s", code, out, stderr)
	}
}
