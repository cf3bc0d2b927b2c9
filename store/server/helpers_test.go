package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// lines collects what a Server reports through Options.Logf.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (ls *lines) logf(format string, args ...any) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.l = append(ls.l, fmt.Sprintf(format, args...))
}

// with is the lines that hold every one of parts.
func (ls *lines) with(parts ...string) []string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var out []string
next:
	for _, ln := range ls.l {
		for _, p := range parts {
			if !strings.Contains(ln, p) {
				continue next
			}
		}
		out = append(out, ln)
	}
	return out
}

func (ls *lines) String() string {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return strings.Join(ls.l, "\n")
}

// all is a copy of the lines so far.
func (ls *lines) all() []string { return ls.with() }

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

// serveSigned serves a store over HTTP that takes requests signed with
// the keys of creds (region us-east-1), closed when t ends.
func serveSigned(t *testing.T, creds map[string]string) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(t.TempDir(), Options{Credentials: creds, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts
}

// The iterator key is a secret: only the store's user may read it.
func TestIteratorKeyIsReadableByItsOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir, Options{Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Fatalf("iterator key mode %v, want 0600", perm)
	}
}
