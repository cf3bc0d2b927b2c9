package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ctxProbe is a sink operator that starts a goroutine through the group at
// Open; the goroutine runs body.
type ctxProbe struct {
	Base
	body func(c *Context, ctx context.Context) error
}

func (p *ctxProbe) Open(c *Context) error {
	c.Go(func(ctx context.Context) error { return p.body(c, ctx) })
	return nil
}

func (p *ctxProbe) ProcessBatch(int, *Batch, Output) error { return nil }

func probeGraph(par int, body func(c *Context, ctx context.Context) error) *Graph {
	g := NewGraph("probe-job")
	src := g.AddSource("src", kvSchema, par, func() Source { return &sliceSource{schema: kvSchema, batches: kvRows(par, 2, 10)} }, NoWatermarks)
	p := g.AddOperator("probe", kvSchema, par, 1, func() Operator { return &ctxProbe{body: body} })
	g.Connect(src, p, Rebalance)
	return g
}

func TestContextIsCancelledWhenTheJobStops(t *testing.T) {
	var cancelled atomic.Int32
	g := probeGraph(2, func(_ *Context, ctx context.Context) error {
		<-ctx.Done()
		cancelled.Add(1)
		return ctx.Err()
	})
	// A bounded job: the context ends with the job, after the rows.
	if err := Run(context.Background(), g, Options{}); err != nil {
		t.Fatalf("bounded run: %v", err)
	}
	if n := cancelled.Load(); n != 2 {
		t.Fatalf("%d goroutines saw the context cancelled at the end, want 2", n)
	}
	// An endless job cancelled from outside.
	cancelled.Store(0)
	g2 := NewGraph("endless")
	src := g2.AddSource("src", kvSchema, 1, func() Source { return &endless{} }, NoWatermarks)
	started := make(chan struct{}, 1)
	p := g2.AddOperator("probe", kvSchema, 1, 1, func() Operator {
		return &ctxProbe{body: func(c *Context, ctx context.Context) error {
			started <- struct{}{}
			<-c.Ctx().Done()
			if c.Done() != c.Ctx().Done() {
				return errors.New("Done is not Ctx().Done()")
			}
			cancelled.Add(1)
			return ctx.Err()
		}}
	})
	g2.Connect(src, p, Forward)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, g2, Options{}) }()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the goroutine did not start")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
	if cancelled.Load() != 1 {
		t.Fatal("the goroutine did not see the context cancelled before Run returned")
	}
}

func TestRunWaitsForGoroutinesOfTheGroup(t *testing.T) {
	var finished atomic.Bool
	g := probeGraph(1, func(_ *Context, ctx context.Context) error {
		<-ctx.Done()
		// Work that goes on after the job's end, e.g. a last flush.
		time.Sleep(200 * time.Millisecond)
		finished.Store(true)
		return nil
	})
	if err := Run(context.Background(), g, Options{}); err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Fatal("Run returned before the goroutine of the group ended")
	}
}

// TestGoroutineIgnoringCancellationDoesNotHangRun: a goroutine of the
// group that ignores the end of the job holds Run only for StopTimeout;
// Run then fails naming the operator and subtask that started it.
func TestGoroutineIgnoringCancellationDoesNotHangRun(t *testing.T) {
	release, exited := make(chan struct{}), make(chan struct{})
	defer func() { close(release); <-exited }()
	started := make(chan struct{}, 2)
	g := NewGraph("stuck-job")
	src := g.AddSource("src", kvSchema, 1, func() Source { return &endless{} }, NoWatermarks)
	p := g.AddOperator("poller", kvSchema, 2, 1, func() Operator {
		return &ctxProbe{body: func(c *Context, ctx context.Context) error {
			started <- struct{}{}
			if c.Subtask == 1 {
				defer close(exited)
				<-release // ignores ctx
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		}}
	})
	g.Connect(src, p, Rebalance)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, g, Options{StopTimeout: 300 * time.Millisecond}) }()
	for range 2 {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("the goroutines did not start")
		}
	}
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run hangs on a goroutine that ignores the end of the job")
	}
	var se *StuckGoroutinesError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &se) {
		t.Fatalf("got %v, want context.Canceled and a *StuckGoroutinesError", err)
	}
	if len(se.Subtasks) != 1 || se.Subtasks[0] != `operator "poller" (subtask 1)` ||
		!strings.Contains(err.Error(), `still running 300ms after the job stopped`) {
		t.Fatalf("got %q, want it to name operator poller subtask 1 only", err)
	}
}

func TestGoroutineErrorFailsTheJobNamingOperatorAndSubtask(t *testing.T) {
	g := NewGraph("t")
	src := g.AddSource("src", kvSchema, 2, func() Source { return &endless{} }, NoWatermarks)
	p := g.AddOperator("flusher", kvSchema, 2, 1, func() Operator {
		return &ctxProbe{body: func(c *Context, ctx context.Context) error {
			if c.Subtask == 1 {
				return errors.New("disk full")
			}
			<-ctx.Done()
			return ctx.Err()
		}}
	})
	g.Connect(src, p, Forward)
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), g, Options{}) }()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the endless job did not fail")
	}
	var oe *OperatorError
	if !errors.As(err, &oe) || oe.Operator != "flusher" || oe.Subtask != 1 {
		t.Fatalf("got %v, want the error of operator flusher subtask 1", err)
	}
	if want := `operator "flusher" (subtask 1): disk full`; err.Error() != want {
		t.Fatalf("got %q, want %q", err, want)
	}
}

func TestGoroutinePanicFailsTheJob(t *testing.T) {
	g := probeGraph(1, func(*Context, context.Context) error {
		var m map[int]int
		m[1]++ //lint:ignore SA5000 the panic is what the test is about
		return nil
	})
	err := Run(context.Background(), g, Options{})
	var oe *OperatorError
	if !errors.As(err, &oe) || oe.Operator != "probe" || !strings.Contains(err.Error(), "panic: assignment to entry in nil map") {
		t.Fatalf("got %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the subtasks' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

func TestLogLinesCarryJobOperatorAndSubtask(t *testing.T) {
	var out syncBuffer
	g := probeGraph(2, func(c *Context, _ context.Context) error {
		c.Logger().Warn("hello", "rows", 3)
		return nil
	})
	if err := Run(context.Background(), g, Options{Logger: slog.New(slog.NewJSONHandler(&out, nil))}); err != nil {
		t.Fatal(err)
	}
	seen := map[float64]bool{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec struct {
			Msg      string
			Job      string  `json:"job"`
			Operator string  `json:"operator"`
			Subtask  float64 `json:"subtask"`
			Rows     float64 `json:"rows"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if rec.Msg != "hello" || rec.Job != "probe-job" || rec.Operator != "probe" || rec.Rows != 3 {
			t.Fatalf("line %q lacks the job, operator or attributes", line)
		}
		seen[rec.Subtask] = true
	}
	if !seen[0] || !seen[1] || len(seen) != 2 {
		t.Fatalf("subtasks logged: %v, want 0 and 1:\n%s", seen, out.String())
	}
}

func TestLineHandlerWritesSluiceLines(t *testing.T) {
	var out bytes.Buffer
	l := slog.New(NewLineHandler(&out, nil))
	l = subtaskLogger(l, "j", "op", 2)
	l.Warn("table t: in.jsonl:3: bad JSON (skipped)")
	l.With("stream", "clicks").WithGroup("retry").Info("backing off", "wait", "1s", "why", "throttled call")
	l.Debug("not shown")
	want := "sluice: table t: in.jsonl:3: bad JSON (skipped)\n" +
		"sluice: backing off stream=clicks retry.wait=1s retry.why=\"throttled call\"\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestStuckGoroutinesAreNotRestarted: a job that failed and left a
// goroutine running that ignores its context is not restarted — each
// restart would leave one more behind.
func TestStuckGoroutinesAreNotRestarted(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var runs atomic.Int32
	g := NewGraph("stuck-restart")
	src := g.AddSource("src", kvSchema, 1, func() Source { return &endless{} }, NoWatermarks)
	p := g.AddOperator("poller", kvSchema, 2, 1, func() Operator {
		return &ctxProbe{body: func(c *Context, ctx context.Context) error {
			if c.Subtask == 1 {
				runs.Add(1)
				<-release // ignores ctx
				return nil
			}
			return errors.New("the poller failed")
		}}
	})
	g.Connect(src, p, Rebalance)
	opt := Options{StopTimeout: 200 * time.Millisecond,
		Checkpoints: &CheckpointOptions{Dir: t.TempDir(), Interval: time.Hour}}
	err := RunWithRestarts(context.Background(), g, opt, RestartOptions{Attempts: 5, MinBackoff: time.Millisecond})
	var se *StuckGoroutinesError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "the poller failed") {
		t.Fatalf("got %v, want the failure and a *StuckGoroutinesError", err)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("the job ran %d times, want 1: no restart over a stuck goroutine", n)
	}
}
