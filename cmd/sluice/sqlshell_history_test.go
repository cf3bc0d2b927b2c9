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
