package window

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// kvSchema is the input of most tests: a BIGINT key, the event time and a
// nullable BIGINT value.
var kvSchema = runtime.NewSchema(
	runtime.Field{Name: "k", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp, Nullable: true},
	runtime.Field{Name: "v", Type: runtime.BigInt, Nullable: true},
)

// kvSpec groups kvSchema rows by k, counting rows and summing v.
func kvSpec(w Assigner) Spec {
	return Spec{
		In: kvSchema, KeyCols: []int{0}, TimeCol: 1, Window: w,
		Aggs: []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Sum, Col: 2, Name: "s"}},
	}
}

// kv is one kvSchema row.
func kv(k, ts, v int64) []runtime.Value {
	return []runtime.Value{runtime.IntValue(k), runtime.TimeValue(ts), runtime.IntValue(v)}
}

var null = runtime.Value{Null: true}

// fmtValue prints a value unambiguously: integers and timestamps as
// numbers, doubles in shortest form, strings quoted.
func fmtValue(v runtime.Value) string {
	if v.Null {
		return "NULL"
	}
	switch v.Type.Physical() {
	case runtime.PhysFloat:
		return strconv.FormatFloat(v.F, 'g', -1, 64)
	case runtime.PhysString:
		return strconv.Quote(v.S)
	}
	return strconv.FormatInt(v.I, 10)
}

func fmtRow(vals []runtime.Value) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = fmtValue(v)
	}
	return strings.Join(parts, ",")
}

// tb is what the helpers need of *testing.T, *testing.B and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// checkBatch reports whether b is well formed for schema s.
func checkBatch(s *runtime.Schema, b *runtime.Batch) error {
	if b.Schema != s {
		return fmt.Errorf("batch schema %v, want %v", b.Schema, s)
	}
	for c := range b.Cols {
		v := &b.Cols[c]
		if v.Type != s.Fields[c].Type {
			return fmt.Errorf("column %d has type %v, want %v", c, v.Type, s.Fields[c].Type)
		}
		if v.Len() != b.N || v.Null != nil && len(v.Null) != b.N {
			return fmt.Errorf("column %d has %d values and %d null flags for %d rows", c, v.Len(), len(v.Null), b.N)
		}
		if v.Null != nil && !s.Fields[c].Nullable && slices.Contains(v.Null, true) {
			return fmt.Errorf("column %s is NOT NULL but holds a NULL", s.Fields[c].Name)
		}
	}
	return nil
}

// rowCollector is an Output that formats every row it receives.
type rowCollector struct {
	t      tb
	schema *runtime.Schema
	rows   []string
}

func (c *rowCollector) Emit(b *runtime.Batch) error {
	if err := checkBatch(c.schema, b); err != nil {
		c.t.Fatalf("emitted batch: %v", err)
	}
	for i := 0; i < b.Len(); i++ {
		c.rows = append(c.rows, fmtRow(b.Values(i)))
	}
	return nil
}

// harness drives one window operator directly, the way a subtask does.
type harness struct {
	t       tb
	op      runtime.Operator
	in      *runtime.Schema
	out     rowCollector
	dropped *metrics.Counter
	ctx     *runtime.Context
}

func newHarness(t tb, spec Spec) *harness {
	t.Helper()
	newOp, out, err := New(spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	set := metrics.NewSet()
	h := &harness{t: t, op: newOp(), in: spec.In, out: rowCollector{t: t, schema: out}}
	h.dropped = set.NewCounter("late_rows_dropped")
	h.ctx = &runtime.Context{Job: "test", Operator: "window", Parallelism: 1, Metrics: &runtime.OperatorMetrics{
		RowsIn: set.NewCounter("rows_in"), RowsOut: set.NewCounter("rows_out"),
		BatchesIn: set.NewCounter("batches_in"), LateRowsDropped: h.dropped,
	}}
	if err := h.op.Open(h.ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { h.op.Close() })
	return h
}

// batch sends the rows as one batch.
func (h *harness) batch(rows ...[]runtime.Value) {
	h.t.Helper()
	b := runtime.NewBatch(h.in)
	defer b.Release()
	for _, r := range rows {
		b.AppendValues(r...)
	}
	if err := h.op.ProcessBatch(0, b, &h.out); err != nil {
		h.t.Fatalf("ProcessBatch: %v", err)
	}
}

func (h *harness) watermark(wm int64) {
	h.t.Helper()
	if err := h.op.ProcessWatermark(wm, &h.out); err != nil {
		h.t.Fatalf("ProcessWatermark(%d): %v", wm, err)
	}
}

// finish sends the final watermark and ends the input.
func (h *harness) finish() {
	h.t.Helper()
	h.watermark(runtime.MaxWatermark)
	if err := h.op.Finish(&h.out); err != nil {
		h.t.Fatalf("Finish: %v", err)
	}
}

// take returns the rows emitted since the last take, sorted.
func (h *harness) take() []string {
	rows := h.out.rows
	h.out.rows = nil
	slices.Sort(rows)
	return rows
}

// expect fails unless the rows emitted since the last take are want (in any
// order).
func (h *harness) expect(what string, want ...string) {
	h.t.Helper()
	got := h.take()
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		h.t.Fatalf("%s:\ngot  %q\nwant %q", what, got, want)
	}
}

func (h *harness) expectDropped(want uint64) {
	h.t.Helper()
	if got := h.dropped.Get(); got != want {
		h.t.Fatalf("late rows dropped: got %d, want %d", got, want)
	}
}
