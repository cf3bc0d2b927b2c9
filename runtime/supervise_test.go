package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// logLines collects a supervisor's log lines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logLines) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.ContainsFunc(l.lines, func(line string) bool { return strings.Contains(line, s) })
}

// TestSuperviseStopsWithSavepointAndResumesFromLatest: the trigger stops
// the job with a savepoint; the next Supervise over the same folder starts
// from it by itself, and the job's output is every row exactly once.
func TestSuperviseStopsWithSavepointAndResumesFromLatest(t *testing.T) {
	j := newCkJob(6000, 2, -1)
	dir := t.TempDir()
	stop := make(chan struct{})
	time.AfterFunc(60*time.Millisecond, func() { close(stop) })
	var first logLines
	err := Supervise(context.Background(), j.g, Options{Parallelism: 2},
		SupervisorOptions{Dir: dir, Interval: time.Hour, StopWithSavepoint: stop, Log: first.logf})
	var se *SavepointError
	if !errors.As(err, &se) || !errors.Is(err, ErrStoppedWithSavepoint) {
		t.Fatalf("Supervise: %v, want a stop with a savepoint", err)
	}
	if !first.has("no complete checkpoint in " + dir) {
		t.Fatalf("first run's log %q: want that it starts from the beginning", first.lines)
	}
	var second logLines
	if err := Supervise(context.Background(), j.g, Options{Parallelism: 2},
		SupervisorOptions{Dir: dir, Interval: 20 * time.Millisecond, Log: second.logf}); err != nil {
		t.Fatal(err)
	}
	if !second.has("restoring savepoint") || !second.has(se.Path) {
		t.Fatalf("second run's log %q: want the savepoint %s restored", second.lines, se.Path)
	}
	j.check(t)
}

// TestSuperviseRestartsFromLatestCheckpoint: an operator fails part-way;
// the supervisor restarts the job from its latest checkpoint and the
// output is exact.
func TestSuperviseRestartsFromLatestCheckpoint(t *testing.T) {
	j := newCkJob(12000, 2, 4000)
	var logs logLines
	err := Supervise(context.Background(), j.g, Options{Parallelism: 2},
		SupervisorOptions{Dir: t.TempDir(), Interval: 10 * time.Millisecond, RestartAttempts: 3, Log: logs.logf})
	if err != nil {
		t.Fatal(err)
	}
	if j.armed.Load() {
		t.Fatal("the failure was never injected")
	}
	if !logs.has("restoring checkpoint") {
		t.Fatalf("log %q: want a restart from a checkpoint", logs.lines)
	}
	j.check(t)
}

// TestSuperviseFromSavepointOfAnotherFolder: FromSavepoint wins over the
// latest checkpoint of Dir; a missing one is an error naming it.
func TestSuperviseFromSavepointOfAnotherFolder(t *testing.T) {
	j := newCkJob(6000, 2, -1)
	stop := make(chan struct{})
	close(stop)
	err := Supervise(context.Background(), j.g, Options{Parallelism: 2},
		SupervisorOptions{Dir: t.TempDir(), Interval: time.Hour, StopWithSavepoint: stop})
	var se *SavepointError
	if !errors.As(err, &se) {
		t.Fatalf("Supervise: %v, want a stop with a savepoint", err)
	}
	var logs logLines
	if err := Supervise(context.Background(), j.g, Options{Parallelism: 2},
		SupervisorOptions{Dir: t.TempDir(), Interval: time.Hour, FromSavepoint: se.Path, Log: logs.logf}); err != nil {
		t.Fatal(err)
	}
	if !logs.has("restoring savepoint") {
		t.Fatalf("log %q: want the savepoint restored", logs.lines)
	}
	j.check(t)
	missing := se.Path + "-missing"
	err = Supervise(context.Background(), j.g, Options{Parallelism: 2},
		SupervisorOptions{Dir: t.TempDir(), Interval: time.Hour, FromSavepoint: missing})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("from a missing savepoint: %v, want an error naming %s", err, missing)
	}
	if err := Supervise(context.Background(), j.g, Options{}, SupervisorOptions{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "interval") {
		t.Fatalf("without an interval: %v", err)
	}
}

// stuck holds up its first batch until the run is cancelled, so that no
// barrier gets past it.
type stuck struct {
	Base
	ctx     *Context
	entered chan<- struct{}
}

func (s *stuck) Open(ctx *Context) error { s.ctx = ctx; return nil }
func (s *stuck) ProcessBatch(int, *Batch, Output) error {
	close(s.entered)
	<-s.ctx.Done()
	return nil
}

// TestSuperviseGivesUpASavepointThatTakesTooLong: a savepoint that cannot
// complete stops the job without one after SavepointTimeout, saying so.
func TestSuperviseGivesUpASavepointThatTakesTooLong(t *testing.T) {
	g := NewGraph("stuck")
	src := g.AddSource("src", ckSchema, 1, func() Source { return &countSource{n: 1 << 40, sleep: time.Millisecond} }, WatermarkStrategy{TimeColumn: 2})
	entered := make(chan struct{})
	g.Connect(src, g.AddOperator("stuck", ckSchema, 1, 1, func() Operator { return &stuck{entered: entered} }), Forward)
	stop := make(chan struct{})
	go func() {
		<-entered // the operator holds a batch: no barrier gets past it
		close(stop)
	}()
	var logs logLines
	start := time.Now()
	err := Supervise(context.Background(), g, Options{Parallelism: 1},
		SupervisorOptions{Dir: t.TempDir(), Interval: time.Hour, StopWithSavepoint: stop, SavepointTimeout: 300 * time.Millisecond, Log: logs.logf})
	if !errors.Is(err, ErrSavepointTimeout) || errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "took longer than 300ms") {
		t.Fatalf("Supervise: %v, want a stop without a savepoint after 300ms", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("stopped after %v", el)
	}
	if !logs.has("stopping without one") {
		t.Fatalf("log %q: want that the savepoint was given up", logs.lines)
	}
}
