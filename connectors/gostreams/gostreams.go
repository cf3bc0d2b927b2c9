// Package gostreams connects Sluice jobs with github.com/reugn/go-streams
// (v0.13.0): a go-streams Source or Flow can feed a Sluice job, and a Sluice
// stream can feed a go-streams Flow or Sink.
//
// go-streams moves one element at a time through channels of `any`; the
// adapters convert between those elements and Sluice's typed columnar
// batches at the boundary, so the Sluice side keeps its batched hot path.
package gostreams

import (
	"context"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/flow"
	"github.com/sluicehq/sluice/runtime"
)

// ToRowFunc appends one go-streams element as a row to b (one value per
// column, then b.N++). It returns an error for an element it cannot convert;
// the element is then skipped and reported, and the job goes on.
type ToRowFunc func(elem any, b *runtime.Batch) error

// FromRowFunc converts present row i of b into a go-streams element.
type FromRowFunc func(b *runtime.Batch, i int) any

// SourceOptions configure NewSource.
type SourceOptions struct {
	// Convert turns elements into rows (default: DefaultToRow).
	Convert ToRowFunc
	// OnError is told of every element that could not be converted, with
	// its position in the stream (default: a warning through the job's
	// logger, runtime.Options.Logger). Such elements are skipped and
	// counted in sluice_operator_bad_records_total.
	OnError func(pos int64, elem any, err error)
}

// NewSource returns a factory of Sluice sources reading the elements of a
// go-streams outlet (a Source or a Flow). Run it with a single subtask
// (sluice.SourceParallelism(1)): the outlet is one channel. The source ends
// when the outlet's channel is closed.
func NewSource(outlet streams.Outlet, schema *runtime.Schema, opt SourceOptions) func() runtime.Source {
	if opt.Convert == nil {
		opt.Convert = DefaultToRow
	}
	return func() runtime.Source { return &source{in: outlet.Out(), schema: schema, opt: opt} }
}

type source struct {
	in     <-chan any
	schema *runtime.Schema
	opt    SourceOptions
	b      *runtime.Batch
	pos    int64
	timer  *time.Timer
	ctx    *runtime.Context
}

func (s *source) Open(ctx *runtime.Context) error {
	s.ctx = ctx
	s.b = runtime.NewBatch(s.schema)
	s.timer = time.NewTimer(time.Hour)
	s.timer.Stop()
	return nil
}

func (s *source) Poll(ctx context.Context) (*runtime.Batch, int, error) {
	s.b.Reset()
	// Wait up to 50 ms for the first element, then take what is ready.
	s.timer.Reset(50 * time.Millisecond)
	defer s.timer.Stop()
	for s.b.N < runtime.DefaultBatchRows {
		var elem any
		var ok bool
		if s.b.N == 0 {
			select {
			case elem, ok = <-s.in:
			case <-s.timer.C:
				return nil, 0, nil
			case <-ctx.Done():
				return nil, 0, ctx.Err()
			}
		} else {
			select {
			case elem, ok = <-s.in:
			default:
				return s.b, 0, nil
			}
		}
		if !ok {
			if s.b.N > 0 {
				return s.b, 0, nil
			}
			return nil, 0, io.EOF
		}
		s.add(elem)
	}
	return s.b, 0, nil
}

func (s *source) add(elem any) {
	pos := s.pos
	s.pos++
	n := s.b.N
	if err := s.opt.Convert(elem, s.b); err != nil {
		truncate(s.b, n)
		if s.ctx.Metrics != nil {
			s.ctx.Metrics.BadRecords.Inc()
		}
		err = fmt.Errorf("source %q: element %d: %w", s.ctx.Operator, pos, err)
		if s.opt.OnError != nil {
			s.opt.OnError(pos, elem, err)
		} else {
			s.ctx.Logger().Warn(fmt.Sprintf("%v (skipped)", err))
		}
	}
}

// truncate drops rows appended after n (a failed conversion may have
// appended some columns).
func truncate(b *runtime.Batch, n int) {
	for c := range b.Cols {
		v := &b.Cols[c]
		v.I64 = v.I64[:min(len(v.I64), n)]
		v.F64 = v.F64[:min(len(v.F64), n)]
		v.Str = v.Str[:min(len(v.Str), n)]
		if v.Null != nil {
			v.Null = v.Null[:min(len(v.Null), n)]
		}
	}
	b.N = n
}

func (s *source) Close() error { return nil }

// DefaultToRow converts map[string]any (by column name), []any (by
// position) and []runtime.Value elements. Numbers may be any Go integer or
// float type, TIMESTAMP columns take time.Time or milliseconds, DECIMAL
// columns a number or its exact text ("12.50"), nil is NULL.
func DefaultToRow(elem any, b *runtime.Batch) error {
	s := b.Schema
	switch e := elem.(type) {
	case []runtime.Value:
		if len(e) != s.Len() {
			return fmt.Errorf("has %d values, want %d", len(e), s.Len())
		}
		b.AppendValues(e...)
		return nil
	case map[string]any:
		for c, f := range s.Fields {
			if err := appendAny(&b.Cols[c], f, e[f.Name]); err != nil {
				return err
			}
		}
	case []any:
		if len(e) != s.Len() {
			return fmt.Errorf("has %d values, want %d", len(e), s.Len())
		}
		for c, f := range s.Fields {
			if err := appendAny(&b.Cols[c], f, e[c]); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("cannot convert %T to a row (want map[string]any, []any or []runtime.Value)", elem)
	}
	b.N++
	return nil
}

func appendAny(v *runtime.Vector, f runtime.Field, x any) error {
	if x == nil {
		v.AppendNull()
		return nil
	}
	bad := func() error { return fmt.Errorf("column %q: cannot use %T (%v) as %s", f.Name, x, x, f.Type) }
	switch f.Type {
	case runtime.Varchar:
		switch x := x.(type) {
		case string:
			v.AppendString(x)
		case []byte:
			v.AppendString(string(x))
		case fmt.Stringer:
			v.AppendString(x.String())
		default:
			return bad()
		}
	case runtime.Double:
		f, ok := toFloat(x)
		if !ok {
			return bad()
		}
		v.AppendFloat(f)
	case runtime.Boolean:
		b, ok := x.(bool)
		if !ok {
			return bad()
		}
		if b {
			v.AppendInt(1)
		} else {
			v.AppendInt(0)
		}
	case runtime.Timestamp:
		if t, ok := x.(time.Time); ok {
			v.AppendInt(t.UnixMilli())
			return nil
		}
		fallthrough
	default:
		if f.Type.IsDecimal() {
			return appendDecimal(v, f, x)
		}
		i, ok := toInt(x)
		if !ok {
			return bad()
		}
		if f.Type == runtime.Int && (i < math.MinInt32 || i > math.MaxInt32) {
			return fmt.Errorf("column %q: %d out of range for INT", f.Name, i)
		}
		v.AppendInt(i)
	}
	return nil
}

// appendDecimal appends x, a Go number or decimal text, to DECIMAL column
// v exactly (floats by their shortest decimal form), rounded half away
// from zero to the scale.
func appendDecimal(v *runtime.Vector, f runtime.Field, x any) error {
	p, sc := f.Type.Precision(), f.Type.Scale()
	var d int64
	var err error
	switch y := x.(type) {
	case string:
		d, err = runtime.ParseDecimal(y, p, sc)
	case float32, float64:
		fl, _ := toFloat(y)
		var ok bool
		if d, ok = runtime.FloatToDecimal(fl, p, sc); !ok {
			err = fmt.Errorf("%v does not fit %s", y, f.Type)
		}
	default:
		i, ok := toInt(x)
		if !ok {
			return fmt.Errorf("column %q: cannot use %T (%v) as %s", f.Name, x, x, f.Type)
		}
		var fits bool
		d, fits = runtime.RescaleDecimal(i, 0, sc)
		if !fits || !runtime.DecimalFits(d, p) {
			err = fmt.Errorf("%d does not fit %s", i, f.Type)
		}
	}
	if err != nil {
		return fmt.Errorf("column %q: %w", f.Name, err)
	}
	v.AppendInt(d)
	return nil
}

func toInt(x any) (int64, bool) {
	switch x := x.(type) {
	case int:
		return int64(x), true
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case float64:
		if x != math.Trunc(x) {
			return 0, false
		}
		return int64(x), true
	}
	return 0, false
}

func toFloat(x any) (float64, bool) {
	switch x := x.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	if i, ok := toInt(x); ok {
		return float64(i), true
	}
	return 0, false
}

// Outlet is a go-streams Source fed by a Sluice stream. Connect the Sluice
// side with Sink, the go-streams side with Via; the outlet's channel closes
// when every sink subtask has finished (or the job stopped).
type Outlet struct {
	ch     chan any
	mu     sync.Mutex
	open   int
	closed bool
}

var _ streams.Source = (*Outlet)(nil)

// NewOutlet returns an outlet whose channel buffers buffer elements.
func NewOutlet(buffer int) *Outlet { return &Outlet{ch: make(chan any, buffer)} }

// Out returns the element channel.
func (o *Outlet) Out() <-chan any { return o.ch }

// Via streams the outlet's elements into a go-streams flow and returns it.
func (o *Outlet) Via(f streams.Flow) streams.Flow {
	flow.DoStream(o, f)
	return f
}

// Sink returns a factory of Sluice sink operators that send each row, as
// convert makes it (default: DefaultFromRow), into the outlet.
func (o *Outlet) Sink(convert FromRowFunc) func() runtime.Operator {
	if convert == nil {
		convert = DefaultFromRow
	}
	return func() runtime.Operator {
		o.mu.Lock()
		o.open++
		o.mu.Unlock()
		return &sink{o: o, convert: convert}
	}
}

func (o *Outlet) release() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.open--
	if o.open == 0 && !o.closed {
		o.closed = true
		close(o.ch)
	}
}

type sink struct {
	runtime.Base
	o        *Outlet
	convert  FromRowFunc
	done     <-chan struct{}
	released bool
}

func (s *sink) Open(ctx *runtime.Context) error {
	s.done = ctx.Done()
	return nil
}

func (s *sink) ProcessBatch(_ int, b *runtime.Batch, _ runtime.Output) error {
	for i := 0; i < b.Len(); i++ {
		select {
		case s.o.ch <- s.convert(b, i):
		case <-s.done:
			return context.Canceled
		}
	}
	return nil
}

func (s *sink) Finish(runtime.Output) error {
	s.release()
	return nil
}

func (s *sink) Close() error {
	s.release()
	return nil
}

func (s *sink) release() {
	if !s.released {
		s.released = true
		s.o.release()
	}
}

// DefaultFromRow converts a row to map[string]any keyed by column name:
// int64 for integers, float64, string, bool, time.Time (UTC) for
// TIMESTAMP, the exact decimal text (a string, "384087.632") for DECIMAL,
// nil for NULL.
func DefaultFromRow(b *runtime.Batch, i int) any {
	r := b.Row(i)
	m := make(map[string]any, len(b.Cols))
	for c, f := range b.Schema.Fields {
		v := &b.Cols[c]
		if v.IsNull(r) {
			m[f.Name] = nil
			continue
		}
		switch f.Type {
		case runtime.Varchar:
			m[f.Name] = v.Str[r]
		case runtime.Double:
			m[f.Name] = v.F64[r]
		case runtime.Boolean:
			m[f.Name] = v.I64[r] != 0
		case runtime.Timestamp:
			m[f.Name] = time.UnixMilli(v.I64[r]).UTC()
		default:
			if f.Type.IsDecimal() {
				m[f.Name] = runtime.FormatDecimal(v.I64[r], f.Type.Scale())
				continue
			}
			m[f.Name] = v.I64[r]
		}
	}
	return m
}
