package window

import (
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
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

// fmtRow prints a row unambiguously (rttest.Quote), comma-separated.
func fmtRow(vals []runtime.Value) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = rttest.Quote(v)
	}
	return strings.Join(parts, ",")
}

// tb is what the helpers need of *testing.T, *testing.B and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// harness drives one window operator directly, the way a subtask does. Its
// output checks every batch with rttest.CheckBatch against the output
// schema.
type harness struct {
	t   tb
	op  runtime.Operator
	in  *runtime.Schema
	out *rttest.Collector
	ctx *runtime.Context
}

func newHarness(t tb, spec Spec) *harness {
	t.Helper()
	newOp, out, err := New(spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h := &harness{t: t, op: newOp(), in: spec.In, ctx: rttest.NewContext("window", 0, 1)}
	h.out, _ = rttest.NewCollector(out)
	if err := h.op.Open(h.ctx); err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { h.op.Close() })
	return h
}

// batch sends the rows as one batch.
func (h *harness) batch(rows ...[]runtime.Value) {
	h.t.Helper()
	b := rttest.NewBatch(h.in, rows...)
	defer b.Release()
	if err := h.op.ProcessBatch(0, b, h.out); err != nil {
		h.t.Fatalf("ProcessBatch: %v", err)
	}
}

func (h *harness) watermark(wm int64) {
	h.t.Helper()
	if err := h.op.ProcessWatermark(wm, h.out); err != nil {
		h.t.Fatalf("ProcessWatermark(%d): %v", wm, err)
	}
}

// finish sends the final watermark and ends the input.
func (h *harness) finish() {
	h.t.Helper()
	h.watermark(runtime.MaxWatermark)
	if err := h.op.Finish(h.out); err != nil {
		h.t.Fatalf("Finish: %v", err)
	}
}

// rows returns the rows emitted since the last take, formatted by fmtRow,
// in the order they came.
func (h *harness) rows() []string {
	var out []string
	for _, r := range h.out.Rows() {
		out = append(out, fmtRow(r))
	}
	return out
}

// take returns the rows emitted since the last take, sorted.
func (h *harness) take() []string {
	rows := h.rows()
	h.out.Reset()
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
	if got := h.ctx.Metrics.LateRowsDropped.Get(); got != want {
		h.t.Fatalf("late rows dropped: got %d, want %d", got, want)
	}
}
