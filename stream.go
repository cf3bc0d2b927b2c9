package sluice

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/calc"
	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/operators/window"
	rt "github.com/sluicehq/sluice/runtime"
)

// Stream is a typed stream of rows: the output of a source or operator.
type Stream struct {
	env     *Env
	id      rt.NodeID
	port    int
	schema  *rt.Schema
	par     int
	timeCol int // event-time column, -1 if none
}

// Schema returns the stream's columns.
func (s *Stream) Schema() *rt.Schema { return s.schema }

// Parallelism is the number of subtasks producing the stream.
func (s *Stream) Parallelism() int { return s.par }

func (s *Stream) broken() *Stream {
	return &Stream{env: s.env, id: -1, schema: s.schema, par: s.par, timeCol: -1}
}

// connect adds an operator fed by s over the given partitioning.
func (s *Stream) connect(name string, schema *rt.Schema, par int, part rt.Partitioning, keys []int, newOp func() rt.Operator) rt.NodeID {
	id := s.env.g.AddOperator(name, schema, par, 1, newOp)
	if s.id >= 0 {
		s.env.g.ConnectPort(s.id, s.port, id, 0, part, keys...)
	}
	return id
}

// Filter keeps the rows for which pred is TRUE.
func (s *Stream) Filter(pred expr.Expr) *Stream {
	newOp, out, err := calc.New(s.schema, pred, nil, nil)
	if err != nil {
		s.env.fail("filter %s: %w", pred, err)
		return s.broken()
	}
	id := s.connect("filter", out, s.par, rt.Forward, nil, newOp)
	return &Stream{env: s.env, id: id, schema: out, par: s.par, timeCol: s.timeCol}
}

// Column is one output column of Select.
type Column struct {
	Name string
	Expr expr.Expr
}

// As names an expression for Select.
func As(e expr.Expr, name string) Column { return Column{Name: name, Expr: e} }

// Select computes new columns from each row. A plain column reference keeps
// the event time of the stream.
func (s *Stream) Select(cols ...Column) *Stream {
	exprs := make([]expr.Expr, len(cols))
	names := make([]string, len(cols))
	timeCol := -1
	for i, c := range cols {
		exprs[i], names[i] = c.Expr, c.Name
		if s.timeCol >= 0 && strings.EqualFold(c.Expr.String(), s.schema.Fields[s.timeCol].Name) {
			timeCol = i
		}
	}
	newOp, out, err := calc.New(s.schema, nil, exprs, names)
	if err != nil {
		s.env.fail("select: %w", err)
		return s.broken()
	}
	id := s.connect("select", out, s.par, rt.Forward, nil, newOp)
	return &Stream{env: s.env, id: id, schema: out, par: s.par, timeCol: timeCol}
}

// To sends the stream to a sink made of operators from newSink, one per
// subtask, running in the stream's subtasks.
func (s *Stream) To(name string, newSink func() rt.Operator) {
	s.connect(name, s.schema, s.par, rt.Forward, nil, newSink)
}

// Rebalance spreads the stream's batches round-robin over n subtasks of
// whatever follows (0: the job's parallelism).
func (s *Stream) Rebalance(n int) *Stream {
	if n <= 0 {
		n = s.env.opt.Parallelism
	}
	id := s.connect("rebalance", s.schema, n, rt.Rebalance, nil, func() rt.Operator { return passThrough{} })
	return &Stream{env: s.env, id: id, schema: s.schema, par: n, timeCol: s.timeCol}
}

type passThrough struct{ rt.Base }

func (passThrough) ProcessBatch(_ int, b *rt.Batch, out rt.Output) error { return out.Emit(b) }

// KeyedStream is a stream partitioned by key columns: rows with equal keys
// meet in the same subtask.
type KeyedStream struct {
	s    *Stream
	keys []int
}

// KeyBy partitions the stream by the named columns.
func (s *Stream) KeyBy(cols ...string) *KeyedStream {
	k := &KeyedStream{s: s}
	for _, c := range cols {
		i := s.schema.Index(c)
		if i < 0 {
			s.env.fail("key by %q: no such column in %s", c, s.schema)
			continue
		}
		k.keys = append(k.keys, i)
	}
	return k
}

// WindowedStream is a keyed (or global) stream cut into event-time windows.
type WindowedStream struct {
	s        *Stream
	keys     []int
	assigner window.Assigner
	lateness time.Duration
	lateOut  bool
	global   bool
	maxKeys  int
}

// MaxKeys bounds the (key, window) groups each subtask may hold; going over
// fails the job with an error wrapping state.ErrStateLimit (0: no limit).
func (w *WindowedStream) MaxKeys(n int) *WindowedStream {
	w.maxKeys = n
	return w
}

// Window groups the keyed stream into windows.
func (k *KeyedStream) Window(a window.Assigner) *WindowedStream {
	return &WindowedStream{s: k.s, keys: k.keys, assigner: a}
}

// WindowAll groups the whole stream into windows, in one subtask.
func (s *Stream) WindowAll(a window.Assigner) *WindowedStream {
	return &WindowedStream{s: s, assigner: a, global: true}
}

// AllowedLateness keeps fired windows open for late rows, re-firing them.
func (w *WindowedStream) AllowedLateness(d time.Duration) *WindowedStream {
	w.lateness = d
	return w
}

// SideOutputLateRows keeps rows too late for any window for
// (*WindowResult).LateRows instead of dropping them.
func (w *WindowedStream) SideOutputLateRows() *WindowedStream {
	w.lateOut = true
	return w
}

// AggSpec is an aggregate of Aggregate.
type AggSpec struct {
	fn   agg.Func
	col  string
	name string
}

// Count is COUNT(*).
func Count(name string) AggSpec { return AggSpec{fn: agg.Count, name: name} }

// CountOf is COUNT(col): the non-NULL values.
func CountOf(col, name string) AggSpec { return AggSpec{fn: agg.Count, col: col, name: name} }

// CountDistinct is COUNT(DISTINCT col).
func CountDistinct(col, name string) AggSpec {
	return AggSpec{fn: agg.CountDistinct, col: col, name: name}
}

// Sum is SUM(col).
func Sum(col, name string) AggSpec { return AggSpec{fn: agg.Sum, col: col, name: name} }

// Min is MIN(col).
func Min(col, name string) AggSpec { return AggSpec{fn: agg.Min, col: col, name: name} }

// Max is MAX(col).
func Max(col, name string) AggSpec { return AggSpec{fn: agg.Max, col: col, name: name} }

// Avg is AVG(col): of the column's type for INT and BIGINT (the sum divided
// by the count, truncated toward zero, as Flink's), DOUBLE for DOUBLE, an
// exact DECIMAL(18, max(6, s)) for DECIMAL(p, s).
func Avg(col, name string) AggSpec { return AggSpec{fn: agg.Avg, col: col, name: name} }

// WindowResult is the stream of window results: key columns, window_start,
// window_end and the aggregates.
type WindowResult struct {
	*Stream
	in *Stream
}

// Aggregate computes the aggregates per key and window.
func (w *WindowedStream) Aggregate(aggs ...AggSpec) *WindowResult {
	s := w.s
	if s.timeCol < 0 {
		s.env.fail("window %s: the stream has no event time (declare it with sluice.Watermark on the source)", w.assigner)
		return &WindowResult{Stream: s.broken(), in: s}
	}
	specs := make([]agg.Spec, len(aggs))
	for i, a := range aggs {
		col := -1
		if a.col != "" {
			col = s.schema.Index(a.col)
			if col < 0 {
				s.env.fail("%s(%s): no such column in %s", a.fn, a.col, s.schema)
				return &WindowResult{Stream: s.broken(), in: s}
			}
		}
		specs[i] = agg.Spec{Func: a.fn, Col: col, Name: a.name}
	}
	spec := window.Spec{In: s.schema, KeyCols: w.keys, TimeCol: s.timeCol, Window: w.assigner, Aggs: specs,
		AllowedLateness: w.lateness, LateOutput: w.lateOut, MaxGroups: w.maxKeys}
	newOp, out, err := window.New(spec)
	if err != nil {
		s.env.fail("window %s: %w", w.assigner, err)
		return &WindowResult{Stream: s.broken(), in: s}
	}
	par, part := s.env.opt.Parallelism, rt.Keyed
	if w.global || len(w.keys) == 0 {
		par, part = 1, rt.Global
	}
	name := fmt.Sprintf("window %s", w.assigner)
	id := s.connect(name, out, par, part, w.keys, newOp)
	if w.lateOut {
		s.env.g.Node(id).SideSchemas = []*rt.Schema{s.schema}
	}
	// The result's event time is the window end minus one millisecond,
	// carried as window_end: later windows may use it.
	return &WindowResult{Stream: &Stream{env: s.env, id: id, schema: out, par: par, timeCol: len(w.keys) + 1}, in: s}
}

// LateRows returns the rows that arrived too late for any window (only when
// SideOutputLateRows was set).
func (r *WindowResult) LateRows() *Stream {
	if r.id < 0 {
		return r.Stream
	}
	n := r.env.g.Node(r.id)
	if len(n.SideSchemas) == 0 {
		r.env.fail("LateRows: call SideOutputLateRows on the windowed stream first")
		return r.broken()
	}
	return &Stream{env: r.env, id: r.id, port: 1, schema: r.in.schema, par: n.Parallelism, timeCol: r.in.timeCol}
}
