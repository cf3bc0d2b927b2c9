package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSQLShellHistoryRecallsStatementsThatRunAgain: a statement typed over
// several lines with a "--" comment goes into the history as one line that
// runs again when recalled (Up, Enter): the comment dropped, not left to
// swallow the rest of the line, and the ';' kept; quoted text stays as
// typed.
func TestSQLShellHistoryRecallsStatementsThatRunAgain(t *testing.T) {
	state := t.TempDir()
	s := startPtyShell(t, "HOME="+t.TempDir(), "XDG_STATE_HOME="+state)
	s.expect(`sluice> `)
	s.typ("CREATE TABLE spaced (k BIGINT) WITH ('connector' = 'datagen', -- a comment\r'rows-per-second' = '1');\r")
	s.expect(`OK`)
	s.expect(`sluice> `)
	s.typ("SHOW -- the tables\rTABLES;\r")
	s.expect(`\nspaced\r?\n`)
	s.expect(`sluice> `)
	s.typ("\x1b[A\r") // Up, Enter: SHOW TABLES again
	s.expect(`\nspaced\r?\n`)
	s.expect(`sluice> `)
	s.typ("\x04")
	s.cmd.Wait()
	hist, err := os.ReadFile(filepath.Join(state, "sluice", "history"))
	if err != nil {
		t.Fatal(err)
	}
	want := "CREATE TABLE spaced (k BIGINT) WITH ('connector' = 'datagen', 'rows-per-second' = '1');\nSHOW TABLES;\n"
	if !strings.HasPrefix(string(hist), want) {
		t.Fatalf("history %q, want it to start with %q", hist, want)
	}
}

// TestSQLShellUnknownSetOptionSuggestsTheShellsToo: SET or RESET of a
// misspelled option names the nearest of all the shell takes — its own
// 'parallelism' included, which the session's message left out — at the
// option's line:column.
func TestSQLShellUnknownSetOptionSuggestsTheShellsToo(t *testing.T) {
	code, _, stderr := sqlShell(t, "SET 'paralelism' = '2';\n  RESET 'paralellism';\nSET 'table.exec.state.tl' = '1 h';\nSET 'PARALLELISM' = '1';\n")
	if code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, stderr)
	}
	for _, want := range []string{
		"<stdin>:1:5: SET: unknown option 'paralelism' (did you mean 'parallelism'?); options: parallelism, sluice.state.max-keys, table.exec.state.ttl",
		"<stdin>:2:9: RESET: unknown option 'paralellism' (did you mean 'parallelism'?)",
		"<stdin>:3:5: SET: unknown option 'table.exec.state.tl' (did you mean 'table.exec.state.ttl'?)",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if n := strings.Count(stderr, "error:"); n != 3 {
		t.Errorf("%d errors, want 3 (SET 'PARALLELISM' is fine):\n%s", n, stderr)
	}
}

// TestSQLShellStopJobWithoutANumberSaysSo: STOP JOB with something other
// than a job's number says what it wants, instead of a parser error that
// lists statements without STOP.
func TestSQLShellStopJobWithoutANumberSaysSo(t *testing.T) {
	code, _, stderr := sqlShell(t, "STOP JOB x;\nSTOP;\n")
	if code != 1 || strings.Count(stderr, "STOP JOB wants a job's number, e.g. STOP JOB 1 (SHOW JOBS lists them)") != 2 {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
}
