package shell

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/chzyer/readline"
)

// historyFile is where the shell keeps its history: under $XDG_STATE_HOME
// when set, else ~/.sluice_history ("" when there is no home).
func historyFile() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		dir := filepath.Join(d, "sluice")
		if os.MkdirAll(dir, 0o700) == nil {
			return filepath.Join(dir, "history")
		}
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".sluice_history")
}

// lineReader gives the shell its input, a line at a time.
type lineReader interface {
	// readLine returns the next line without its newline; errInterrupt
	// for Ctrl-C at the prompt, io.EOF at the end.
	readLine(continued bool) (string, error)
	// save records a statement in the history.
	save(stmt string)
	close()
}

var errInterrupt = errors.New("interrupt")

type termReader struct{ rl *readline.Instance }

func (t *termReader) readLine(continued bool) (string, error) {
	if continued {
		t.rl.SetPrompt("     -> ")
	} else {
		t.rl.SetPrompt("sluice> ")
	}
	line, err := t.rl.Readline()
	if errors.Is(err, readline.ErrInterrupt) {
		return "", errInterrupt
	}
	return line, err
}

func (t *termReader) save(stmt string) {
	if e := historyEntry(stmt); e != ";" {
		t.rl.SaveHistory(e)
	}
}

// historyEntry is stmt as one line of history that runs again as it is
// when recalled: without comments (a "--" comment would swallow what
// followed it on the line), whitespace outside quotes collapsed, quoted
// text kept, ending with ';'.
func historyEntry(stmt string) string {
	s := stripComments(stmt)
	var b strings.Builder
	var quote byte
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote == 0 && (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '\'' || c == '"' || c == '`'):
			quote = c
		}
		b.WriteByte(c)
	}
	if !strings.HasSuffix(b.String(), ";") {
		b.WriteByte(';')
	}
	return b.String()
}

func (t *termReader) close() { t.rl.Close() }

// pipeReader reads piped input on a goroutine of its own, so that a
// signal ends the shell while a read blocks (closing a blocking pipe does
// not interrupt a read).
type pipeReader struct {
	lines chan lineOrErr
	stop  chan struct{}
	once  sync.Once
}

type lineOrErr struct {
	line string
	err  error
}

func newPipeReader(r io.Reader) *pipeReader {
	p := &pipeReader{lines: make(chan lineOrErr), stop: make(chan struct{})}
	go func() { // ends at EOF, or blocked on a read when the process exits
		br := bufio.NewReader(r)
		for {
			line, err := br.ReadString('\n')
			if err == io.EOF && line != "" {
				err = nil
			}
			select {
			case p.lines <- lineOrErr{strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), err}:
			case <-p.stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

func (p *pipeReader) readLine(bool) (string, error) {
	select {
	case l := <-p.lines:
		return l.line, l.err
	case <-p.stop:
		return "", io.EOF
	}
}

func (p *pipeReader) save(string) {}

func (p *pipeReader) close() { p.once.Do(func() { close(p.stop) }) }
