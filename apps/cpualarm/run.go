package cpualarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/connectors/alarm"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/sql"
)

// AlarmName is the name of the job's alarm.
const AlarmName = "HighCPU"

// RunOptions configure Run.
type RunOptions struct {
	// Name names the job ("demo", "cpualarm").
	Name string
	// Parallelism: subtasks per operator (0: GOMAXPROCS).
	Parallelism int
	// Out receives the printed notifications (default standard output).
	Out io.Writer
	// Status receives a status line every second — rows/s into the
	// alarm, its watermark lag, the hosts in ALARM — written over itself
	// when Terminal, else one every 10 s; nil: none. Errors at the end of
	// the job go there too (default standard error).
	Status   io.Writer
	Terminal bool
	// Started, when set, is told of the job as it starts, with its
	// metrics set, and the function it returns of how the run ended.
	Started func(g *runtime.Graph, set *metrics.Set) (ended func(error))
}

// Run compiles the job of c and runs it until ctx ends (the end of ctx is
// not an error), then delivers the notifications still queued (for at
// most 10 s).
func Run(ctx context.Context, c Config, o RunOptions) error {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	errOut := o.Status
	if errOut == nil {
		errOut = os.Stderr
	}
	set := metrics.NewSet()
	metrics.RegisterSet(set)
	defer metrics.UnregisterSet(set, true)
	plan, err := sql.Compile(SQL(c), sql.Options{File: o.Name + ".sql", Parallelism: o.Parallelism, Out: o.Out,
		Metrics: set})
	if err != nil {
		return err
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := plan.Close(dctx); err != nil {
			fmt.Fprintln(errOut, "sluice:", err)
		}
	}()
	quit := make(chan struct{})
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		if o.Status != nil {
			newStatus(plan.Graph, set).loop(o.Status, o.Terminal, quit)
		}
	}()
	ended := func(error) {}
	if o.Started != nil {
		ended = o.Started(plan.Graph, set)
	}
	err = runtime.Run(ctx, plan.Graph, runtime.Options{Parallelism: o.Parallelism, Metrics: set})
	ended(err)
	close(quit)
	<-statusDone
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

// alarmSink is the planner's name of the sink into the alarm table.
const alarmSink = "sink high_cpu"

// status reads the job's counters from its metrics set.
type status struct {
	set *metrics.Set
	// window is the operator feeding the alarm (the per-host average).
	window string
	last   uint64
	lastAt time.Time
}

func newStatus(g *runtime.Graph, set *metrics.Set) *status {
	s := &status{set: set, lastAt: time.Now()}
	for _, e := range g.Edges {
		if g.Node(e.To).Name == alarmSink {
			s.window = g.Node(e.From).Name
		}
	}
	return s
}

// line returns the status line at now: rows/s into the alarm since the
// last line, the alarm's watermark lag and the hosts in ALARM.
func (s *status) line(now time.Time) string {
	st := runtime.Stats(s.set)
	win, _ := st.Operator(s.window)
	sink, _ := st.Operator(alarmSink)
	rate := float64(win.RowsIn-s.last) / now.Sub(s.lastAt).Seconds()
	s.last, s.lastAt = win.RowsIn, now
	return fmt.Sprintf("%.0f rows/s into the alarm · watermark lag %.1f s · %d host(s) in ALARM",
		rate, sink.WatermarkLag.Seconds(), alarm.Instances(s.set, AlarmName, "ALARM"))
}

// loop writes a status line every second until quit: over itself on a
// terminal, else every tenth.
func (s *status) loop(w io.Writer, tty bool, quit <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-quit:
			if tty {
				fmt.Fprint(w, "\r\033[K")
			}
			return
		case <-tick.C:
		}
		line := s.line(time.Now())
		switch {
		case tty:
			fmt.Fprintf(w, "\r\033[K%s", line)
		case n%10 == 0:
			fmt.Fprintln(w, line)
		}
	}
}
