// Package window implements event-time group windows — tumbling, hopping
// (sliding), cumulating and session — with incremental aggregates, and the
// assignment of rows to windows of the window table-valued functions
// (NewAssign).
//
// A window [start, end) fires when the watermark reaches end-1, emitting one
// row per key: the key columns, window_start, window_end and the aggregates.
// With allowed lateness a fired window keeps its state until the watermark
// passes end-1+lateness, and rows arriving meanwhile update it and re-fire
// the updated groups. Rows later than that are dropped and counted, or sent
// to side output port 1 when asked.
//
// With Spec.ProcTime the same windows are processing-time windows: they
// fire by the operator's clock instead of the watermark, and no row is late
// (see proctime.go).
package window

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/state"
)

// Kind is the kind of window.
type Kind uint8

// Window kinds.
const (
	Tumbling Kind = iota + 1
	Hopping
	Session
	Cumulating // see Cumulate
)

func (k Kind) String() string { return [...]string{"", "TUMBLE", "HOP", "SESSION", "CUMULATE"}[k] }

// Assigner says which windows a row belongs to. Times in milliseconds.
type Assigner struct {
	Kind   Kind
	Size   int64 // tumbling, hopping; cumulating: the largest window
	Slide  int64 // hopping; cumulating: the step
	Gap    int64 // session
	Offset int64 // tumbling, hopping, cumulating: windows start at Offset + k×Slide (cumulating: k×Size)
}

// Tumble returns tumbling windows of the given size.
func Tumble(size time.Duration) Assigner {
	return Assigner{Kind: Tumbling, Size: size.Milliseconds(), Slide: size.Milliseconds()}
}

// Hop returns hopping windows of the given size starting every slide.
func Hop(slide, size time.Duration) Assigner {
	return Assigner{Kind: Hopping, Size: size.Milliseconds(), Slide: slide.Milliseconds()}
}

// SessionGap returns session windows closed by a gap of inactivity.
func SessionGap(gap time.Duration) Assigner {
	return Assigner{Kind: Session, Gap: gap.Milliseconds()}
}

func (a Assigner) String() string {
	switch a.Kind {
	case Tumbling:
		return fmt.Sprintf("TUMBLE(%s)", time.Duration(a.Size)*time.Millisecond)
	case Hopping:
		return fmt.Sprintf("HOP(slide %s, size %s)", time.Duration(a.Slide)*time.Millisecond, time.Duration(a.Size)*time.Millisecond)
	case Cumulating:
		return fmt.Sprintf("CUMULATE(step %s, size %s)", time.Duration(a.Slide)*time.Millisecond, time.Duration(a.Size)*time.Millisecond)
	case Session:
		return fmt.Sprintf("SESSION(gap %s)", time.Duration(a.Gap)*time.Millisecond)
	}
	return "?"
}

func (a Assigner) validate() error {
	switch a.Kind {
	case Tumbling:
		if a.Size <= 0 {
			return fmt.Errorf("tumbling window size must be positive, got %dms", a.Size)
		}
	case Hopping:
		if a.Size <= 0 || a.Slide <= 0 {
			return fmt.Errorf("hopping window size and slide must be positive, got size %dms slide %dms", a.Size, a.Slide)
		}
		if a.Size%a.Slide != 0 {
			return fmt.Errorf("hopping window size (%dms) must be a multiple of its slide (%dms)", a.Size, a.Slide)
		}
	case Cumulating:
		if a.Size <= 0 || a.Slide <= 0 {
			return fmt.Errorf("cumulating window step and size must be positive, got step %dms size %dms", a.Slide, a.Size)
		}
		if a.Size%a.Slide != 0 {
			return fmt.Errorf("cumulating window size (%dms) must be a multiple of its step (%dms)", a.Size, a.Slide)
		}
	case Session:
		if a.Gap <= 0 {
			return fmt.Errorf("session gap must be positive, got %dms", a.Gap)
		}
	default:
		return fmt.Errorf("unknown window kind %d", a.Kind)
	}
	return nil
}

// Spec configures a window aggregation.
type Spec struct {
	In      *runtime.Schema
	KeyCols []int // grouping keys (rows arrive keyed by them); none = one global group
	TimeCol int   // event-time column (TIMESTAMP or BIGINT ms)
	Window  Assigner
	Aggs    []agg.Spec
	// AllowedLateness keeps fired windows open for late rows, re-firing.
	AllowedLateness time.Duration
	// LateOutput sends rows too late for any window to side output port 1
	// (with the input schema) instead of dropping them.
	LateOutput bool
	// StartName and EndName name the window bound columns
	// (default window_start, window_end).
	StartName, EndName string
	// MaxGroups bounds the state of one subtask: the (key, window) groups,
	// or open sessions, it may hold at once (0: no limit); for hopping and
	// cumulating windows kept in slices (sliced.go), the (key, slice)
	// groups. Going over fails
	// the job with an error wrapping state.ErrStateLimit rather than letting
	// memory grow without bound.
	MaxGroups int
	// ProcTime makes the windows processing-time windows (see proctime.go):
	// TimeCol holds the processing time computed upstream (PROCTIME()),
	// windows fire when the operator's clock passes their end, never on
	// watermarks, and no row is late. AllowedLateness and LateOutput must
	// not be set.
	ProcTime bool
	// Clock returns the processing time in milliseconds for ProcTime
	// windows (nil: the wall clock, which testing/synctest controls). The
	// runtime's timers follow the wall clock, so a test with another clock
	// calls OnProcessingTime itself.
	Clock func() int64
	// panes keeps hopping and cumulating windows on one pane per window
	// instead of slices (for tests, as the reference).
	panes bool
}

// New checks spec and returns a factory of operators (one per subtask) and
// the output schema: key columns, window start, window end, aggregates.
func New(spec Spec) (newOp func() runtime.Operator, out *runtime.Schema, err error) {
	if err := spec.Window.validate(); err != nil {
		return nil, nil, err
	}
	if spec.Window.Kind == Tumbling {
		// A tumbling window slides by its size, whatever an Assigner
		// written out by hand says.
		spec.Window.Slide = spec.Window.Size
	}
	if spec.AllowedLateness < 0 {
		return nil, nil, fmt.Errorf("window: allowed lateness must not be negative, got %s", spec.AllowedLateness)
	}
	if spec.ProcTime && (spec.AllowedLateness != 0 || spec.LateOutput) {
		return nil, nil, fmt.Errorf("window: processing-time windows have no late rows: allowed lateness (%s) and late output (%v) must not be set", spec.AllowedLateness, spec.LateOutput)
	}
	in := spec.In
	if in == nil {
		return nil, nil, fmt.Errorf("window: no input schema")
	}
	if spec.TimeCol < 0 || spec.TimeCol >= in.Len() {
		return nil, nil, fmt.Errorf("window: time column %d out of range", spec.TimeCol)
	}
	if t := in.Fields[spec.TimeCol].Type; t != runtime.Timestamp && t != runtime.BigInt {
		return nil, nil, fmt.Errorf("window: time column %q is %s, want TIMESTAMP(3)", in.Fields[spec.TimeCol].Name, t)
	}
	layout, err := agg.NewLayout(in, spec.Aggs)
	if err != nil {
		return nil, nil, err
	}
	var fields []runtime.Field
	for _, c := range spec.KeyCols {
		if c < 0 || c >= in.Len() {
			return nil, nil, fmt.Errorf("window: key column %d out of range", c)
		}
		fields = append(fields, in.Fields[c])
	}
	startName, endName := spec.StartName, spec.EndName
	if startName == "" {
		startName = "window_start"
	}
	if endName == "" {
		endName = "window_end"
	}
	fields = append(fields, runtime.Field{Name: startName, Type: runtime.Timestamp}, runtime.Field{Name: endName, Type: runtime.Timestamp})
	fields = append(fields, layout.Fields()...)
	out = runtime.NewSchema(fields...)
	lateness := spec.AllowedLateness.Milliseconds()
	if spec.Window.Kind == Session {
		return func() runtime.Operator {
			return &sessionOp{common: newCommon(spec, layout, out, lateness)}
		}, out, nil
	}
	if sliceable(spec) {
		return func() runtime.Operator { return newSlicedOp(newCommon(spec, layout, out, lateness)) }, out, nil
	}
	return func() runtime.Operator {
		return &alignedOp{common: newCommon(spec, layout, out, lateness), panes: make(map[int64]*pane)}
	}, out, nil
}

// common is what both window operators share.
type common struct {
	runtime.Base
	spec     Spec
	layout   *agg.Layout
	out      *runtime.Schema
	lateness int64
	nk       int // number of key columns
	ctx      *runtime.Context
	wm       int64
	outb     *runtime.Batch
	late     *runtime.Batch // late rows for the side output
	rows     []int32
	groups   []int32
	lateLog  runtime.LateLog
	// Processing-time windows: wm is the clock time up to which windows
	// have fired, armed the earliest processing-time timer registered and
	// not yet called back, ptime the time column with rows behind wm moved
	// to wm+1.
	armed int64
	ptime runtime.Vector
	// sliced: hopping or cumulating windows kept in slices (sliced.go).
	sliced bool
}

func newCommon(spec Spec, layout *agg.Layout, out *runtime.Schema, lateness int64) common {
	return common{spec: spec, layout: layout, out: out, lateness: lateness, nk: len(spec.KeyCols), wm: runtime.MinWatermark, armed: noArm}
}

func (c *common) Open(ctx *runtime.Context) error {
	c.ctx = ctx
	c.outb = runtime.NewBatch(c.out)
	return nil
}

// Close returns the operator's batches to their pools.
func (c *common) Close() error {
	c.lateLog.Close(c.ctx)
	if c.outb != nil {
		c.outb.Release()
		c.outb = nil
	}
	if c.late != nil {
		c.late.Release()
		c.late = nil
	}
	return nil
}

// emitRow appends one result row and flushes a full batch.
func (c *common) emitRow(table *agg.Table, accs *agg.Accs, key, acc int32, start, end int64, out runtime.Output) error {
	if err := accs.Check(acc); err != nil {
		return fmt.Errorf("%w, in the window [%s, %s) of the group %s", err, runtime.TimeValue(start), runtime.TimeValue(end), table.KeyString(key))
	}
	b := c.outb
	table.Key(key, b, 0)
	b.Cols[c.nk].AppendInt(start)
	b.Cols[c.nk+1].AppendInt(end)
	accs.Emit(acc, b, c.nk+2)
	b.N++
	if b.N >= runtime.DefaultBatchRows {
		return c.flush(out)
	}
	return nil
}

// emitRange appends the results of groups from…to-1 (key ids of keys that
// are also accumulator ids of accs), all of window [start, end), to the
// output batch at once, flushing it when full. It reports false, having
// appended nothing, when accs cannot emit the range in bulk
// (agg.Accs.EmitRange); the caller then emits those groups row by row.
func (c *common) emitRange(keys *agg.Table, accs *agg.Accs, from, to int32, start, end int64, out runtime.Output) (bool, error) {
	b := c.outb
	if !accs.EmitRange(from, to, b, c.nk+2) {
		return false, nil
	}
	keys.KeysRange(from, to, b, 0)
	for i, x := range [2]int64{start, end} {
		v := &b.Cols[c.nk+i]
		for range to - from {
			v.AppendInt(x)
		}
	}
	b.N += int(to - from)
	if b.N >= runtime.DefaultBatchRows {
		return true, c.flush(out)
	}
	return true, nil
}

func (c *common) flush(out runtime.Output) error {
	if c.outb.N == 0 {
		return nil
	}
	err := out.Emit(c.outb)
	c.outb.Reset()
	return err
}

// dropLate routes physical rows of b that are too late.
func (c *common) dropLate(b *runtime.Batch, rows []int32) {
	if len(rows) == 0 {
		return
	}
	if c.spec.LateOutput && c.ctx != nil && c.ctx.SideOutput(1) != nil {
		if c.late == nil {
			c.late = runtime.NewBatch(c.spec.In)
		}
		for _, r := range rows {
			c.late.AppendRow(b, int(r))
		}
		return
	}
	if c.ctx != nil && c.ctx.Metrics != nil {
		c.ctx.Metrics.LateRowsDropped.Add(len(rows))
	}
	latest := runtime.MinWatermark
	tv := &b.Cols[c.spec.TimeCol]
	for i := len(rows) - 1; i >= 0; i-- {
		if r := int(rows[i]); !tv.IsNull(r) {
			latest = tv.I64[r]
			break
		}
	}
	c.lateLog.Dropped(c.ctx, len(rows), latest, c.wm)
}

func (c *common) flushLate() error {
	if c.late == nil || c.late.N == 0 {
		return nil
	}
	err := c.ctx.SideOutput(1).Emit(c.late)
	c.late.Reset()
	return err
}

// account records the number of groups held and enforces MaxGroups.
func (c *common) account(n int) error {
	if c.ctx != nil && c.ctx.Metrics != nil {
		c.ctx.Metrics.SetStateKeys(n)
	}
	if c.spec.MaxGroups > 0 && n > c.spec.MaxGroups {
		return fmt.Errorf("%w: %s holds %d groups (key × window), over its limit of %d", state.ErrStateLimit, c.spec.Window, n, c.spec.MaxGroups)
	}
	return nil
}

// floorMod is x mod m rounded towards negative infinity.
func floorMod(x, m int64) int64 {
	r := x % m
	if r < 0 {
		r += m
	}
	return r
}

// Describe says what the operator computes and keeps, for plans.
func (c *common) Describe() string {
	in := c.spec.In
	var keys []string
	for _, k := range c.spec.KeyCols {
		keys = append(keys, in.Fields[k].Name)
	}
	var aggs []string
	for i, a := range c.spec.Aggs {
		arg := "*"
		if a.Col >= 0 {
			arg = in.Fields[a.Col].Name
		}
		fn := a.Func.String()
		if a.Func == agg.CountDistinct {
			fn, arg = "COUNT", "DISTINCT "+arg
		}
		text, name := fmt.Sprintf("%s(%s)", fn, arg), c.out.Fields[len(keys)+2+i].Name
		if !strings.EqualFold(text, name) {
			text += " AS " + name
		}
		aggs = append(aggs, text)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "window: %s on %s", c.spec.Window, in.Fields[c.spec.TimeCol].Name)
	if c.spec.ProcTime {
		b.WriteString(" (processing time)")
	}
	if len(keys) > 0 {
		fmt.Fprintf(&b, ", keys %s", strings.Join(keys, ", "))
	}
	fmt.Fprintf(&b, "\naggregates: %s\n", strings.Join(aggs, ", "))
	by := "the watermark"
	if c.spec.ProcTime {
		by = "the operator's processing-time clock"
	}
	switch {
	case c.sliced:
		fmt.Fprintf(&b, "state: one slice per %s of event time (a key table shared by the slices, flat accumulators per slice); a window fires when %s passes its end, combining its slices, and a slice is freed with the last window holding it", map[Kind]string{Hopping: "slide", Cumulating: "step"}[c.spec.Window.Kind], by)
	case c.spec.Window.Kind == Session:
		fmt.Fprintf(&b, "state: open sessions per key with their accumulators; a session fires and is freed when %s passes its end", by)
	default:
		fmt.Fprintf(&b, "state: one pane per open window (a key table and flat accumulators); a window fires and is freed when %s passes its end", by)
	}
	if c.lateness > 0 {
		fmt.Fprintf(&b, " + %v allowed lateness", time.Duration(c.lateness)*time.Millisecond)
	}
	if c.spec.MaxGroups > 0 {
		fmt.Fprintf(&b, "; at most %d groups per subtask", c.spec.MaxGroups)
	}
	if c.spec.ProcTime {
		b.WriteString("\nlate rows: none (a row whose window has fired counts in the next one)")
	} else if c.spec.LateOutput {
		b.WriteString("\nlate rows: to side output 1")
	} else {
		b.WriteString("\nlate rows: dropped and counted")
	}
	return b.String()
}
