package process

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

var snapIn = runtime.NewSchema(
	runtime.Field{Name: "k", Type: runtime.BigInt},
	runtime.Field{Name: "v", Type: runtime.BigInt},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
)

// later counts rows per key and, for each row, asks for a processing-time
// timer v ms after base; the timer emits the key, the count then and the
// timer's offset.
type later struct {
	base  int64
	count *state.ValueState[int64]
}

func (f *later) Open(ctx *Ctx) error {
	var err error
	f.count, err = state.RegisterValue(ctx.State(), state.Descriptor[int64]{Name: "count"})
	return err
}

func (f *later) ProcessRow(ctx *Ctx, b *runtime.Batch, r int, _ *Emitter) error {
	n, _ := f.count.Value()
	if err := f.count.Update(n + 1); err != nil {
		return err
	}
	ctx.RegisterProcessingTimer(f.base + b.Cols[1].I64[r])
	return nil
}

func (f *later) OnTimer(ctx *Ctx, ts int64, eventTime bool, out *Emitter) error {
	if eventTime {
		return errors.New("unexpected event-time timer")
	}
	n, _ := f.count.Value()
	return out.AppendValues(ctx.Key()[0], runtime.TimeValue(ts-f.base), runtime.IntValue(n), runtime.IntValue(0))
}

// pstep is one input of a process subtask: rows, a watermark (wm set), or
// a processing-time timer round (proc set).
type pstep struct {
	rows     [][]runtime.Value
	wm, proc int64
}

func openProc(t *testing.T, newFunc func() Func) runtime.Operator {
	t.Helper()
	op := New(snapIn, summarySchema, []int{0}, newFunc, state.Options{})()
	if err := op.Open(rttest.NewContext("proc", 0, 1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	return op
}

func runProc(t *testing.T, op runtime.Operator, out runtime.Output, steps []pstep) {
	t.Helper()
	for _, s := range steps {
		var err error
		switch {
		case s.rows != nil:
			b := rttest.NewBatch(snapIn, s.rows...)
			err = op.ProcessBatch(0, b, out)
			b.Release()
		case s.proc != 0:
			err = op.(runtime.ProcessingTimer).OnProcessingTime(s.proc, out)
		default:
			err = op.ProcessWatermark(s.wm, out)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func checkProcRestore(t *testing.T, newFunc func() Func, before, after []pstep) []string {
	t.Helper()
	x1 := openProc(t, newFunc)
	c1, _ := rttest.NewCollector(summarySchema)
	runProc(t, x1, c1, before)
	data, err := x1.(runtime.Snapshotter).SnapshotState(1)
	if err != nil {
		t.Fatal(err)
	}
	kept := bytes.Clone(data)
	c1.Reset()
	runProc(t, x1, c1, after)
	want := c1.Strings()
	if !bytes.Equal(kept, data) {
		t.Fatal("the snapshot changed after SnapshotState returned")
	}
	x2 := openProc(t, newFunc)
	if err := x2.(runtime.Snapshotter).RestoreState(data); err != nil {
		t.Fatal(err)
	}
	c2, _ := rttest.NewCollector(summarySchema)
	runProc(t, x2, c2, after)
	if got := c2.Strings(); !slices.Equal(got, want) {
		t.Fatalf("restored:\ngot  %q\nwant %q", got, want)
	}
	return want
}

func prow(k, v, ts int64) []runtime.Value {
	return []runtime.Value{runtime.IntValue(k), runtime.IntValue(v), runtime.TimeValue(ts)}
}

func TestRestoreKeepsStateAndEventTimers(t *testing.T) {
	before := []pstep{
		{rows: [][]runtime.Value{prow(1, 5, 100), prow(2, 7, 200), prow(1, 1, 1500)}},
		{wm: 1000},
		{rows: [][]runtime.Value{prow(3, 2, 1200), prow(2, 3, 2100), prow(1, 4, 1700), prow(4, 1, 2500)}},
		{rows: [][]runtime.Value{prow(4, -1, 2600)}}, // cancels key 4's window
	}
	after := []pstep{
		{rows: [][]runtime.Value{prow(2, 1, 1999), prow(3, 9, 3100)}},
		{wm: 2000},
		{rows: [][]runtime.Value{prow(1, 8, 2900)}},
		{wm: runtime.MaxWatermark},
	}
	got := checkProcRestore(t, func() Func { return &windowSummary{} }, before, after)
	if len(got) != 6 {
		t.Fatalf("want 6 summaries after the snapshot, got %q", got)
	}
}

func TestRestoreKeepsProcessingTimers(t *testing.T) {
	base := time.Now().Add(time.Hour).UnixMilli()
	newFunc := func() Func { return &later{base: base} }
	before := []pstep{
		{rows: [][]runtime.Value{prow(1, 10, 0), prow(2, 20, 0), prow(1, 30, 0)}},
		{proc: base + 15},
		{rows: [][]runtime.Value{prow(3, 40, 0), prow(2, 20, 0)}},
	}
	after := []pstep{
		{rows: [][]runtime.Value{prow(1, 35, 0)}},
		{proc: base + 30},
		{proc: base + 100},
	}
	if got := checkProcRestore(t, newFunc, before, after); len(got) != 4 {
		t.Fatalf("want 4 timers after the snapshot, got %q", got)
	}
}

func TestProcCorruptAndEmptySnapshots(t *testing.T) {
	newFunc := func() Func { return &windowSummary{} }
	x1 := openProc(t, newFunc)
	runProc(t, x1, &rttest.Discard{}, []pstep{{rows: [][]runtime.Value{prow(1, 5, 100)}}})
	data, _ := x1.(runtime.Snapshotter).SnapshotState(1)
	for _, i := range []int{0, 6, len(data) / 2, len(data) - 1} {
		bad := bytes.Clone(data)
		bad[i] ^= 0x04
		x2 := openProc(t, newFunc)
		err := x2.(runtime.Snapshotter).RestoreState(bad)
		if !errors.Is(err, state.ErrCorruptSnapshot) || !strings.Contains(err.Error(), `keyed process function operator "proc"`) {
			t.Fatalf("byte %d flipped: got %v", i, err)
		}
	}
	empty, _ := openProc(t, newFunc).(runtime.Snapshotter).SnapshotState(1)
	for _, d := range [][]byte{nil, empty} {
		x := openProc(t, newFunc)
		if err := x.(runtime.Snapshotter).RestoreState(d); err != nil {
			t.Fatal(err)
		}
		c, _ := rttest.NewCollector(summarySchema)
		runProc(t, x, c, []pstep{{rows: [][]runtime.Value{prow(1, 5, 100)}}, {wm: runtime.MaxWatermark}})
		if got := c.Strings(); len(got) != 1 {
			t.Fatalf("after an empty snapshot: %q", got)
		}
	}
}

// wmEcho emits the watermark it sees with each row.
type wmEcho struct{}

func (wmEcho) ProcessRow(ctx *Ctx, b *runtime.Batch, r int, out *Emitter) error {
	return out.AppendValues(runtime.IntValue(b.Cols[0].I64[r]), runtime.TimeValue(max(ctx.CurrentWatermark(), -1)), runtime.IntValue(0), runtime.IntValue(0))
}

func (wmEcho) OnTimer(*Ctx, int64, bool, *Emitter) error { return nil }

func TestRestoreKeepsTheWatermark(t *testing.T) {
	got := checkProcRestore(t, func() Func { return wmEcho{} },
		[]pstep{{rows: [][]runtime.Value{prow(1, 0, 0)}}, {wm: 1234}},
		[]pstep{{rows: [][]runtime.Value{prow(2, 0, 0)}}, {wm: 2000}, {rows: [][]runtime.Value{prow(3, 0, 0)}}})
	if want := []string{"2,1970-01-01 00:00:01.234,0,0", "3,1970-01-01 00:00:02.000,0,0"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
