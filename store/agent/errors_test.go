package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/store/client"
)

// syncBuffer is the agent's progress output, read by a test while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunFailsFastWhenTheStreamDoesNotExist: Run returns ErrStreamNotFound at
// once, naming the stream, instead of retrying PutRecords forever.
func TestRunFailsFastWhenTheStreamDoesNotExist(t *testing.T) {
	url, _ := startStore(t)
	var log syncBuffer
	a, err := New(Config{Client: client.New(url, nil), Stream: "missing", Files: []string{filepath.Join(t.TempDir(), "app.log")},
		Progress: &log, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	err = a.Run(ctx)
	if !errors.Is(err, ErrStreamNotFound) || !strings.Contains(err.Error(), `stream "missing"`) {
		t.Fatalf("Run = %v, want ErrStreamNotFound naming the stream", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Run took %v to fail", d)
	}
}

// TestMissingFileIsWaitedForAndReadFromItsStart: an agent over a file that
// does not exist yet says so, waits for it, and sends its lines from its
// start once it appears (TestTailerReportsAMissingFileOnce checks that the
// report is not repeated at every poll).
func TestMissingFileIsWaitedForAndReadFromItsStart(t *testing.T) {
	_, c := startStore(t)
	path := filepath.Join(t.TempDir(), "later.log")
	var log syncBuffer
	_, stop := startAgent(t, Config{Client: c, Files: []string{path}, Progress: &log, ProgressInterval: time.Hour})
	defer stop()
	waitFor(t, func() bool { return strings.Contains(log.String(), "does not exist yet") })
	appendLines(t, path, `{"n":1}`, `{"n":2}`)
	got := readStream(t, c, 2)
	if strings.Join(got, " ") != `{"n":1} {"n":2}` {
		t.Fatalf("read %q", got)
	}
	waitFor(t, func() bool { return strings.Contains(log.String(), path+" is readable now: tailing it") })
	s := log.String()
	if n := strings.Count(s, path+" does not exist yet: waiting for it (its lines will be read from its start)"); n != 1 {
		t.Fatalf("the missing file is reported %d times, want once:\n%s", n, s)
	}
}

// TestRepeatedSendFailuresAreReportedOnceWithOnePrefix: a store that cannot
// be reached is reported once per retryLogInterval, and the operation is
// named once ("PutRecords: Post …", not "PutRecords: PutRecords: …").
func TestRepeatedSendFailuresAreReportedOnceWithOnePrefix(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close() // nothing listens there any more: every call is refused
	path := filepath.Join(t.TempDir(), "app.log")
	appendLines(t, path, `{"n":1}`)
	var log syncBuffer
	a, err := New(Config{Client: client.New(closed, nil), Stream: "s", Files: []string{path}, FromStart: true, Progress: &log,
		ProgressInterval: time.Hour, PollInterval: 5 * time.Millisecond, FlushInterval: 5 * time.Millisecond,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, ShutdownTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitFor(t, func() bool { return a.Stats.Retried.Load() >= 20 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("agent did not stop")
	}
	s := log.String()
	if strings.Contains(s, "PutRecords: PutRecords") || strings.Contains(s, "ListShards: ListShards") || strings.Contains(s, "agent: sluice agent") {
		t.Fatalf("a doubled prefix:\n%s", s)
	}
	if n := strings.Count(s, "sluice agent: PutRecords: Post "); n != 1 {
		t.Fatalf("the failure is reported %d times over %d retries, want once:\n%s", n, a.Stats.Retried.Load(), s)
	}
	if !strings.Contains(s, "sluice agent: cannot check stream s: ListShards: Post ") {
		t.Fatalf("no word about the unreachable store:\n%s", s)
	}
}

// TestTailerReportsAMissingFileOnce: over 200 polls of a path that does not
// exist, the tailer reports it once; when the file appears, it says so once
// and reads it from its start. (In a synctest bubble: the polls take no
// real time.)
func TestTailerReportsAMissingFileOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "later.log")
		// The tailer sees the file through the file system, which the race
		// detector does not count as synchronisation: a lock guards what it
		// reports.
		var mu sync.Mutex
		var warnings []string
		tl := &tailer{path: path, poll: 5 * time.Millisecond, warn: func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			warnings = append(warnings, fmt.Sprintf(format, args...))
		}}
		reported := func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(warnings) }
		var lines []string
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			tl.run(ctx, context.Background(), func(l []byte) bool { lines = append(lines, string(l)); return true })
		}()
		time.Sleep(time.Second) // 200 polls
		synctest.Wait()
		if got, want := reported(), []string{path + " does not exist yet: waiting for it (its lines will be read from its start)"}; !slices.Equal(got, want) {
			t.Fatalf("warnings %q, want %q", got, want)
		}
		if err := os.WriteFile(path, []byte("a\nb\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		cancel()
		<-done
		if want := []string{"a", "b"}; !slices.Equal(lines, want) {
			t.Fatalf("lines %q, want %q", lines, want)
		}
		if got := reported(); len(got) != 2 || got[1] != path+" is readable now: tailing it" {
			t.Fatalf("warnings %q", got)
		}
	})
}
