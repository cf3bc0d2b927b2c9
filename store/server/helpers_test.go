package server

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
)

// logLines keeps what a server logs: its logf is an Options.Logf, lines a
// copy of the lines so far.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

// okCaller calls operations of s in process, failing t on an answer other
// than 200.
func okCaller(t *testing.T, s *Server) func(op string, in obj) map[string]any {
	return func(op string, in obj) map[string]any {
		t.Helper()
		status, out := callInProcess(t, s, op, in)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %v", op, status, out)
		}
		return out
	}
}
