package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// ptyShell is sluice sql on a terminal: what the test types goes to its
// input, and its output collects in out.
type ptyShell struct {
	t   *testing.T
	cmd *exec.Cmd
	tty *os.File
	out lockedBuffer
	// mark is where in out the next expect starts looking.
	mark int
}

func startPtyShell(t *testing.T, env ...string) *ptyShell {
	t.Helper()
	cmd := exec.Command(binary, "sql", "--parallelism", "1")
	cmd.Env = append(os.Environ(), env...)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 20, Cols: 100})
	if err != nil {
		t.Fatal(err)
	}
	s := &ptyShell{t: t, cmd: cmd, tty: tty}
	go io.Copy(&s.out, tty) // ends when the terminal closes
	t.Cleanup(func() {
		cmd.Process.Kill()
		tty.Close()
	})
	return s
}

func (s *ptyShell) typ(text string) {
	s.t.Helper()
	if _, err := s.tty.Write([]byte(text)); err != nil {
		s.t.Fatal(err)
	}
}

// expect waits until the output after the mark matches re, and moves the
// mark past the match; it returns the submatches.
func (s *ptyShell) expect(re string) []string {
	s.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for {
		all := s.out.String()
		if loc := rx.FindStringSubmatchIndex(all[s.mark:]); loc != nil {
			m := rx.FindStringSubmatch(all[s.mark:])
			s.mark += loc[1]
			return m
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %q on the terminal within 20 s; after the mark:\n%q", re, all[s.mark:])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSQLShellOnATerminal(t *testing.T) {
	state := t.TempDir()
	s := startPtyShell(t, "HOME="+t.TempDir(), "XDG_STATE_HOME="+state)
	s.expect(`sluice> `)

	// A statement over two lines: the second prompt says it continues.
	s.typ("CREATE TABLE live (id BIGINT) WITH ('connector' = 'datagen',\r")
	s.expect(`-> `)
	s.typ("'rows-per-second' = '40', 'fields.id.kind' = 'sequence');\r")
	s.expect(`OK`)

	// A GROUP BY shows a live table whose counts update in place.
	s.typ("SELECT id % 3 AS k, COUNT(*) AS n FROM live GROUP BY id % 3;\r")
	s.expect(`k \| n`)
	first, _ := strconv.Atoi(s.expect(`\n1 \| (\d+)`)[1])
	for {
		m := s.expect(`\n1 \| (\d+)`)
		if n, _ := strconv.Atoi(m[1]); n >= first+3 {
			break
		}
	}
	s.expect(`3 rows · \d+ received · \d+ rows/s`)
	if out := s.out.String(); !regexp.MustCompile(`\x1b\[\d+A\r\x1b\[Jk \| n`).MatchString(out) {
		t.Fatalf("the table is not redrawn in place (no cursor-up and clear): %q", out)
	}

	// Ctrl-C cancels the query, not the shell.
	s.typ("\x03")
	s.expect(`cancelled`)
	s.expect(`sluice> `)

	s.typ("SHOW TABLES;\r")
	s.expect(`\nlive\r?\n`)
	s.typ("DESCRIBE live;\r")
	s.expect(`'connector' = 'datagen'`)
	s.expect(`sluice> `)

	// Ctrl-C at the prompt clears the line: the half-typed text is not run.
	s.typ("DROP TABLE live")
	s.typ("\x03")
	s.expect(`sluice> `)
	s.typ("SHOW TABLES;\r")
	s.expect(`\nlive\r?\n`)
	s.expect(`sluice> `)

	// Ctrl-D leaves, with exit status 0.
	s.typ("\x04")
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sluice sql after Ctrl-D: %v\n%q", err, s.out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("sluice sql did not exit after Ctrl-D:\n%q", s.out.String())
	}
	hist, err := os.ReadFile(filepath.Join(state, "sluice", "history"))
	if err != nil || !strings.Contains(string(hist), "DESCRIBE live") ||
		!strings.Contains(string(hist), "CREATE TABLE live (id BIGINT) WITH ('connector' = 'datagen', 'rows-per-second'") {
		t.Fatalf("history %q (err %v): want the statements, each on one line", hist, err)
	}
}
