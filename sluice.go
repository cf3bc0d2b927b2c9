// Package sluice is the Go API of Sluice: build a job from typed streams —
// source → filter/select → key → window → aggregate → sink — and run it on
// all cores.
//
//	env := sluice.NewEnv()
//	clicks := env.FromRows("clicks", schema, rows, sluice.Watermark("ts", 2*time.Second))
//	counts := clicks.
//		Filter(expr.Gt(expr.Col("ms"), expr.Int(0))).
//		KeyBy("page").
//		Window(window.Tumble(10*time.Second)).
//		Aggregate(sluice.Count("views"), sluice.Sum("ms", "total_ms"))
//	counts.Print()
//	err := env.Execute(ctx)
//
// Every stream has a schema of typed columns; a mistake (an unknown column,
// a type that does not fit) is reported by Execute before anything runs.
//
// A job that must survive a crash takes checkpoints, and starts from the
// latest one it finds in the folder:
//
//	stop := make(chan struct{}) // close it to stop with a savepoint
//	err := env.Execute(ctx, sluice.WithCheckpoints("ck", 10*time.Second, sluice.StopWithSavepoint(stop)))
//	var sp *sluice.SavepointError
//	if errors.As(err, &sp) { … } // stopped; the next Execute over "ck" resumes from sp.Path
package sluice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/sluicehq/sluice/connectors/blackhole"
	"github.com/sluicehq/sluice/connectors/print"
	rt "github.com/sluicehq/sluice/runtime"
)

// Env builds and runs one job.
type Env struct {
	g    *rt.Graph
	opt  rt.Options
	sup  *rt.SupervisorOptions
	errs []error
	out  *print.Writer
}

// Option configures an Env: given to NewEnv, or to Execute for the options
// about running the job (WithCheckpoints, WithMetrics).
type Option func(*Env)

// WithParallelism sets the default number of subtasks per operator
// (default GOMAXPROCS).
func WithParallelism(n int) Option { return func(e *Env) { e.opt.Parallelism = n } }

// WithBufferRows bounds each subtask input lane, in rows.
func WithBufferRows(n int) Option { return func(e *Env) { e.opt.BufferRows = n } }

// WithMetrics registers the job's metrics in set (served at /metrics when
// the set is registered with metrics.RegisterSet or written by the caller).
func WithMetrics(set *metrics.Set) Option { return func(e *Env) { e.opt.Metrics = set } }

// WithCheckpoints makes the job take a checkpoint into folder dir every
// interval and run supervised (see runtime.Supervise): it starts from the
// latest complete checkpoint or savepoint in dir (or FromSavepoint),
// restarts from the latest checkpoint when an operator fails (10 times,
// or RestartAttempts), and stops with a savepoint when StopWithSavepoint's
// channel delivers. What it restores and each restart are logged
// (WithLogger, or CheckpointLog).
func WithCheckpoints(dir string, interval time.Duration, opts ...CheckpointOption) Option {
	return func(e *Env) {
		sup := &rt.SupervisorOptions{Dir: dir, Interval: interval, RestartAttempts: 10}
		for _, o := range opts {
			o(sup)
		}
		e.sup = sup
	}
}

// CheckpointOption refines WithCheckpoints.
type CheckpointOption func(*rt.SupervisorOptions)

// FromSavepoint starts the job from the savepoint (or checkpoint) folder
// path instead of the latest checkpoint in the checkpoint folder.
func FromSavepoint(path string) CheckpointOption {
	return func(s *rt.SupervisorOptions) { s.FromSavepoint = path }
}

// CheckpointsIn keeps the checkpoints in store instead of the folder given
// to WithCheckpoints (an S3-compatible bucket: cks3.Open of package
// runtime/cks3). FromSavepoint then also takes a savepoint of store, by the
// path SavepointError gives.
func CheckpointsIn(store rt.CheckpointStore) CheckpointOption {
	return func(s *rt.SupervisorOptions) { s.Store = store }
}

// RestartAttempts sets how many times a failed job is restarted from its
// latest checkpoint before Execute returns the failure (default 10).
func RestartAttempts(n int) CheckpointOption {
	return func(s *rt.SupervisorOptions) { s.RestartAttempts = n }
}

// StopWithSavepoint makes the job take a savepoint and stop when stop
// delivers a value or is closed: Execute then returns a *SavepointError
// naming the savepoint, from which the next Execute over the same folder
// resumes. (Cancelling Execute's context stops at once, without one.)
func StopWithSavepoint(stop <-chan struct{}) CheckpointOption {
	return func(s *rt.SupervisorOptions) { s.StopWithSavepoint = stop }
}

// AllowNonRestoredState lets the job start from a checkpoint of a changed
// job: its operators that do not match start empty.
func AllowNonRestoredState() CheckpointOption {
	return func(s *rt.SupervisorOptions) { s.AllowNonRestoredState = true }
}

// AllowDuplicates lets the job start from a checkpoint older than the
// output its exactly-once sinks have already published (that output is
// published again) instead of refusing to.
func AllowDuplicates() CheckpointOption {
	return func(s *rt.SupervisorOptions) { s.AllowDuplicates = true }
}

// CheckpointLog sends the supervisor's lines (what is restored, restarts,
// warnings about the folder) to logf instead of the job's logger
// (WithLogger), where they go by default.
func CheckpointLog(logf func(format string, args ...any)) CheckpointOption {
	return func(s *rt.SupervisorOptions) { s.Log = logf }
}

// SavepointError is the error of an Execute stopped with a savepoint
// (StopWithSavepoint): Path is the savepoint's folder.
type SavepointError = rt.SavepointError

// ErrStoppedWithSavepoint: errors.Is(err, ErrStoppedWithSavepoint) tells an
// Execute stopped with a savepoint.
var ErrStoppedWithSavepoint = rt.ErrStoppedWithSavepoint

// WithLogger sets the job's logger: operators and sources log through it
// (runtime.Context.Logger adds the attributes job, operator and subtask),
// and so does WithCheckpoints unless CheckpointLog is given. Default: lines
// on standard error (runtime.DefaultLogger).
func WithLogger(l *slog.Logger) Option { return func(e *Env) { e.opt.Logger = l } }

// WithName names the job (the job label of its metrics).
func WithName(name string) Option { return func(e *Env) { e.g.Name = name } }

// WithOutput sets where Print writes (default standard output).
func WithOutput(w io.Writer) Option { return func(e *Env) { e.out = print.NewWriter(w) } }

// NewEnv returns an empty job.
func NewEnv(opts ...Option) *Env {
	e := &Env{g: rt.NewGraph("job")}
	for _, o := range opts {
		o(e)
	}
	if e.opt.Parallelism <= 0 {
		e.opt.Parallelism = runtime.GOMAXPROCS(0)
	}
	if e.out == nil {
		e.out = print.NewWriter(os.Stdout)
	}
	return e
}

// Graph returns the job's dataflow graph.
func (e *Env) Graph() *rt.Graph { return e.g }

// Parallelism is the job's default parallelism.
func (e *Env) Parallelism() int { return e.opt.Parallelism }

func (e *Env) fail(format string, args ...any) {
	e.errs = append(e.errs, fmt.Errorf(format, args...))
}

// Err returns the errors found while building the job, if any.
func (e *Env) Err() error { return errors.Join(e.errs...) }

// Execute runs the job until its sources end or ctx is cancelled, with
// opts applied first. With WithCheckpoints it runs supervised, and returns
// a *SavepointError when it stopped with a savepoint.
func (e *Env) Execute(ctx context.Context, opts ...Option) error {
	for _, o := range opts {
		o(e)
	}
	if err := e.Err(); err != nil {
		return err
	}
	if e.sup != nil {
		sup := *e.sup
		if sup.Log == nil {
			sup.Log = e.logf
		}
		return rt.Supervise(ctx, e.g, e.opt, sup)
	}
	return rt.Run(ctx, e.g, e.opt)
}

// logf logs a line of the supervisor through the job's logger: at level
// Warn when it is a warning, Info otherwise.
func (e *Env) logf(format string, args ...any) {
	l := e.opt.Logger
	if l == nil {
		l = rt.DefaultLogger()
	}
	level := slog.LevelInfo
	if strings.HasPrefix(format, "warning: ") {
		level = slog.LevelWarn
	}
	l.Log(context.Background(), level, fmt.Sprintf(format, args...), rt.LogJob, e.g.Name)
}

// SourceOption configures a source.
type SourceOption func(*sourceConf)

type sourceConf struct {
	par     int
	timeCol string
	delay   time.Duration
	idle    time.Duration
	hasWM   bool
	batch   int
}

// BatchRows makes FromRows emit at most n rows per batch (and so a
// watermark after every n rows).
func BatchRows(n int) SourceOption { return func(c *sourceConf) { c.batch = n } }

// Watermark declares col as the event time, with rows allowed to arrive up
// to maxOutOfOrder behind the latest time seen.
func Watermark(col string, maxOutOfOrder time.Duration) SourceOption {
	return func(c *sourceConf) { c.timeCol, c.delay, c.hasWM = col, maxOutOfOrder, true }
}

// IdleTimeout marks a source partition idle after d without rows, so it
// stops holding back the watermark.
func IdleTimeout(d time.Duration) SourceOption { return func(c *sourceConf) { c.idle = d } }

// SourceParallelism sets the number of source subtasks.
func SourceParallelism(n int) SourceOption { return func(c *sourceConf) { c.par = n } }

// FromSource adds a source made of runtime.Source subtasks. With
// WithCheckpoints, a source that should go on where it was when the job is
// restored implements runtime.CheckpointedSource; one that does not starts
// afresh (a replaying source sends its rows again).
func (e *Env) FromSource(name string, schema *rt.Schema, newSource func() rt.Source, opts ...SourceOption) *Stream {
	c := sourceConf{par: e.opt.Parallelism}
	for _, o := range opts {
		o(&c)
	}
	wm := rt.NoWatermarks
	timeCol := -1
	if c.hasWM {
		timeCol = schema.Index(c.timeCol)
		if timeCol < 0 {
			e.fail("source %q: watermark column %q not found in %s", name, c.timeCol, schema)
		} else if t := schema.Fields[timeCol].Type; t != rt.Timestamp && t != rt.BigInt {
			e.fail("source %q: watermark column %q is %s, want TIMESTAMP(3)", name, c.timeCol, t)
			timeCol = -1
		}
		wm = rt.WatermarkStrategy{TimeColumn: timeCol, MaxOutOfOrderness: c.delay, IdleTimeout: c.idle}
	}
	id := e.g.AddSource(name, schema, c.par, newSource, wm)
	return &Stream{env: e, id: id, schema: schema, par: c.par, timeCol: timeCol}
}

// Print writes every row of s to the Env's output.
func (s *Stream) Print() { s.To("print", print.New(s.env.out, "")) }

// Discard sends s to a blackhole sink counting rows into c (may be nil).
func (s *Stream) Discard(c *blackhole.Counter) { s.To("blackhole", blackhole.New(c)) }
