package over

import (
	"cmp"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"github.com/sluicehq/sluice/runtime/state"
)

var countSum = []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Sum, Col: 2, Name: "s"}}

func TestOutputSchemaIsInputThenAggregates(t *testing.T) {
	_, out, err := New(Spec{In: in, PartitionCols: []int{0}, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 10},
		Aggs: []agg.Spec{{Func: agg.Avg, Col: 2, Name: "avg_v"}, {Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Max, Col: 4, Name: "hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := "(k BIGINT, ts TIMESTAMP(3) NOT NULL, v BIGINT, d DOUBLE, s VARCHAR, avg_v BIGINT, n BIGINT NOT NULL, hi VARCHAR)"
	if got := out.String(); got != want {
		t.Fatalf("schema %s\nwant   %s", got, want)
	}
}

func TestBadSpecsAreRefusedByName(t *testing.T) {
	f := func(spec Spec, want string) {
		t.Helper()
		if _, _, err := New(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("got %v, want an error containing %q", err, want)
		}
	}
	ok := Spec{In: in, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 1}, Aggs: countSum}
	bad := ok
	bad.TimeCol = 7
	f(bad, "ORDER BY column 7 out of range")
	bad = ok
	bad.TimeCol = 3
	f(bad, `ORDER BY column "d" is DOUBLE`)
	bad = ok
	bad.PartitionCols = []int{-1}
	f(bad, "PARTITION BY column -1 out of range")
	bad = ok
	bad.Frame.Preceding = -1
	f(bad, "ROWS -1 PRECEDING must not be negative")
	bad = ok
	bad.Aggs = []agg.Spec{{Func: agg.CountDistinct, Col: 2, Name: "c"}}
	f(bad, "COUNT(DISTINCT v)")
	bad = ok
	bad.Aggs = []agg.Spec{{Func: agg.Sum, Col: 4, Name: "c"}}
	f(bad, "SUM(s): cannot sum VARCHAR")
	bad = ok
	bad.Aggs = nil
	f(bad, "no aggregate")
	bad = ok
	bad.In = nil
	f(bad, "no input schema")
}

func TestUpdatingInputIsRefused(t *testing.T) {
	h := newHarness(t, Spec{In: in, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 1}, Aggs: countSum})
	b := rttest.NewBatch(in, row(1, 10, 1), row(1, 11, 2))
	b.SetKind(1, runtime.UpdateBefore)
	err := h.op.ProcessBatch(0, b, h.out)
	if err == nil || !strings.Contains(err.Error(), "a -U row in an input declared append-only") {
		t.Fatalf("got %v", err)
	}
	// Insert kinds spelled out are fine.
	b = rttest.NewBatch(in, row(1, 10, 1))
	b.SetKind(0, runtime.UpdateAfter)
	b.Kinds[0] = runtime.Insert
	if err := h.op.ProcessBatch(0, b, h.out); err != nil {
		t.Fatal(err)
	}
}

// TestEventTimeRowsFramePeersByArrival: rows are held until the watermark
// passes them, come out in time order, and peers of a ROWS frame count in
// arrival order.
func TestEventTimeRowsFramePeersByArrival(t *testing.T) {
	h := newHarness(t, Spec{In: in, PartitionCols: []int{0}, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 1}, Aggs: countSum})
	h.batch(row(1, 30, 3), row(1, 10, 1), row(2, 10, 100), row(1, 20, 2), row(1, 20, 20))
	if got := h.out.Len(); got != 0 {
		t.Fatalf("%d rows before any watermark", got)
	}
	h.watermark(20)
	h.batch(row(1, 20, 1000), row(1, 15, 1000)) // late: dropped
	h.watermark(30)
	want := "+I1,1970-01-01 00:00:00.010,1,NULL,NULL,1,1 +I2,1970-01-01 00:00:00.010,100,NULL,NULL,1,100 " +
		"+I1,1970-01-01 00:00:00.020,2,NULL,NULL,2,3 +I1,1970-01-01 00:00:00.020,20,NULL,NULL,2,22 " +
		"+I1,1970-01-01 00:00:00.030,3,NULL,NULL,2,23"
	if got := strings.Join(h.strings(), " "); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if d := h.ctx.Metrics.LateRowsDropped.Get(); d != 2 {
		t.Fatalf("%d late rows dropped, want 2", d)
	}
}

// TestRangeFramePeersShareTheirResult: a RANGE frame takes every row of
// the same time, so peers get the same aggregates.
func TestRangeFramePeersShareTheirResult(t *testing.T) {
	h := newHarness(t, Spec{In: in, TimeCol: 1, Frame: Frame{Preceding: 10}, Aggs: countSum})
	h.batch(row(1, 10, 1), row(2, 20, 2), row(1, 20, 3), row(1, 31, 4))
	h.watermark(runtime.MaxWatermark)
	want := "+I1,1970-01-01 00:00:00.010,1,NULL,NULL,1,1 +I2,1970-01-01 00:00:00.020,2,NULL,NULL,3,6 " +
		"+I1,1970-01-01 00:00:00.020,3,NULL,NULL,3,6 +I1,1970-01-01 00:00:00.031,4,NULL,NULL,1,4"
	if got := strings.Join(h.strings(), " "); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestProcTimeEmitsAtOnceInArrivalOrder checks processing time against a
// plain Go reference: each row at once, its frame the rows before it.
func TestProcTimeEmitsAtOnceInArrivalOrder(t *testing.T) {
	for _, f := range []Frame{{Rows: true, Preceding: 2}, {Rows: true, Unbounded: true}, {Preceding: 5}, {Unbounded: true}} {
		clock := int64(1000)
		h := newHarness(t, Spec{In: in, PartitionCols: []int{0}, ProcTime: true, TimeCol: -1, Frame: f, Aggs: countSum,
			Clock: func() int64 { return clock }})
		type rec struct{ k, v, at int64 }
		var seen []rec
		for i := int64(0); i < 40; i++ {
			clock += i % 3
			r := row(i%3, 0, i)
			h.batch(r)
			seen = append(seen, rec{i % 3, i, clock})
			// Reference: the rows of partition i%3 in the frame.
			var n, s int64
			cnt := int64(0)
			for j := len(seen) - 1; j >= 0; j-- {
				p := seen[j]
				if p.k != i%3 {
					continue
				}
				if f.Rows && !f.Unbounded && cnt > f.Preceding || !f.Rows && !f.Unbounded && p.at < clock-f.Preceding {
					break
				}
				cnt++
				n++
				s += p.v
			}
			got := h.out.Rows()
			if len(got) != int(i+1) {
				t.Fatalf("%s: %d rows after %d in, want one per row at once", f, len(got), i+1)
			}
			last := got[len(got)-1]
			if last[5].I != n || last[6].I != s {
				t.Fatalf("%s: row %d: count %d sum %d, want %d %d", f, i, last[5].I, last[6].I, n, s)
			}
		}
	}
}

func TestMaxGroupsFailsWithStateLimit(t *testing.T) {
	mk, _, err := New(Spec{In: in, PartitionCols: []int{0}, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 3}, Aggs: countSum, MaxGroups: 2})
	if err != nil {
		t.Fatal(err)
	}
	o := mk()
	o.Open(rttest.NewContext("over", 0, 1))
	defer o.Close()
	err = o.ProcessBatch(0, rttest.NewBatch(in, row(1, 1, 1), row(2, 1, 1), row(3, 1, 1)), &rttest.Discard{})
	if !errors.Is(err, state.ErrStateLimit) || !strings.Contains(err.Error(), "3 partitions") {
		t.Fatalf("got %v", err)
	}
}

// TestTTLForgetsIdlePartitions: a partition idle for the TTL starts anew,
// but never while it holds rows waiting for the watermark.
func TestTTLForgetsIdlePartitions(t *testing.T) {
	clock := int64(0)
	h := newHarness(t, Spec{In: in, PartitionCols: []int{0}, TimeCol: 1, Frame: Frame{Rows: true, Unbounded: true}, Aggs: countSum,
		TTL: time.Second, Clock: func() int64 { return clock }})
	h.batch(row(1, 10, 1), row(2, 10, 5))
	h.watermark(10)
	clock = 500
	h.batch(row(1, 20, 2)) // keeps 1 alive
	h.watermark(20)
	clock = 1200
	h.batch(row(2, 30, 7)) // 2 expired: starts anew
	h.batch(row(3, 30, 1))
	op := h.op.(*op)
	clock = 5000
	h.batch(row(3, 40, 1)) // purges 1 (idle since 500); 2 holds a waiting row
	if n := op.table.Len(); n != 2 {
		t.Fatalf("%d partitions after the purge, want 2 (2 waits for the watermark)", n)
	}
	h.watermark(runtime.MaxWatermark)
	h.batch(row(1, 50, 3))
	h.watermark(runtime.MaxWatermark)
	got := strings.Join(h.strings(), " ")
	for _, want := range []string{"+I2,1970-01-01 00:00:00.030,7,NULL,NULL,1,7", "+I1,1970-01-01 00:00:00.020,2,NULL,NULL,2,3"} {
		if !strings.Contains(got, want) {
			t.Fatalf("got %s\nwant a row %s", got, want)
		}
	}
	// The watermark passed everything: the row of 1 at 50 is late.
	if d := h.ctx.Metrics.LateRowsDropped.Get(); d != 1 {
		t.Fatalf("%d late, want 1", d)
	}
}

func TestSumOutOfRangeIsAnErrorNotAWrap(t *testing.T) {
	h := newHarness(t, Spec{In: in, PartitionCols: []int{0}, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 1}, Aggs: countSum})
	// The frame of two rows overflows; the next frame (one big, one
	// negative) fits again, and its sum is exact.
	h.batch(row(1, 1, math.MaxInt64), row(1, 2, -5), row(1, 3, -1))
	if err := h.op.ProcessWatermark(runtime.MaxWatermark, h.out); err != nil {
		t.Fatalf("unexpected %v", err)
	}
	h2 := newHarness(t, Spec{In: in, PartitionCols: []int{0}, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 1}, Aggs: countSum})
	h2.batch(row(1, 1, math.MaxInt64), row(1, 2, 1))
	err := h2.op.ProcessWatermark(runtime.MaxWatermark, h2.out)
	var oe *agg.OverflowError
	if !errors.As(err, &oe) || !strings.Contains(err.Error(), "partition") {
		t.Fatalf("got %v, want a BIGINT out of range error naming the partition", err)
	}
}

func TestRestoreRefusesAnotherWindow(t *testing.T) {
	h := newHarness(t, Spec{In: in, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 1}, Aggs: countSum})
	h.batch(row(1, 10, 1))
	data, err := h.op.(runtime.Snapshotter).SnapshotState(1)
	if err != nil {
		t.Fatal(err)
	}
	other := newHarness(t, Spec{In: in, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 2}, Aggs: countSum})
	err = other.op.(runtime.Snapshotter).RestoreState(data)
	if err == nil || !strings.Contains(err.Error(), "ROWS BETWEEN 1 PRECEDING") {
		t.Fatalf("got %v", err)
	}
	if err := other.op.(runtime.Snapshotter).RestoreState(data[:len(data)-3]); err == nil {
		t.Fatal("a truncated snapshot was restored")
	}
}

// TestProcTimeRestoreContinuesFrames: a processing-time operator restored
// from a snapshot goes on with the same frames as one not interrupted.
func TestProcTimeRestoreContinuesFrames(t *testing.T) {
	spec := Spec{In: in, PartitionCols: []int{0}, ProcTime: true, TimeCol: -1, Frame: Frame{Rows: true, Preceding: 2},
		Aggs: []agg.Spec{{Func: agg.Max, Col: 2, Name: "hi"}, {Func: agg.Avg, Col: 2, Name: "a"}, {Func: agg.Min, Col: 4, Name: "lo"}}}
	rows := func(from, to int64) [][]runtime.Value {
		var out [][]runtime.Value
		for i := from; i < to; i++ {
			r := row(i%2, 0, (i*7)%5)
			r[4] = runtime.StringValue(string(rune('a' + (i*3)%7)))
			out = append(out, r)
		}
		return out
	}
	whole := newHarness(t, spec)
	whole.batch(rows(0, 9)...)
	whole.batch(rows(9, 20)...)
	cut := newHarness(t, spec)
	cut.batch(rows(0, 9)...)
	cut.restart()
	cut.batch(rows(9, 20)...)
	if got, want := strings.Join(cut.strings(), " "), strings.Join(whole.strings(), " "); got != want {
		t.Fatalf("restored:\n%s\nwant\n%s", got, want)
	}
}

// TestUpdatingTTLForgetsIdlePartitions: over an updating input, an expired
// partition starts anew and a retraction of one of its old rows is
// ignored.
func TestUpdatingTTLForgetsIdlePartitions(t *testing.T) {
	clock := int64(0)
	h := newHarness(t, Spec{In: in, PartitionCols: []int{0}, TimeCol: 1, Frame: Frame{Rows: true, Preceding: 5}, Aggs: countSum,
		Updating: true, TTL: time.Second, Clock: func() int64 { return clock }})
	h.batch(row(1, 10, 1), row(1, 20, 2))
	clock = 5000
	b := rttest.NewBatch(in, row(1, 10, 1), row(1, 30, 3))
	b.SetKind(0, runtime.Delete)
	if err := h.op.ProcessBatch(0, b, h.out); err != nil {
		t.Fatal(err)
	}
	want := "+I1,1970-01-01 00:00:00.010,1,NULL,NULL,1,1 +I1,1970-01-01 00:00:00.020,2,NULL,NULL,2,3 +I1,1970-01-01 00:00:00.030,3,NULL,NULL,1,3"
	if got := strings.Join(h.strings(), " "); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestSortDueOrdersByTimePartitionArrival checks both ways sortDue sorts
// (packed keys, and comparisons for wide time spans) against a plain
// stable sort.
func TestSortDueOrdersByTimePartitionArrival(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 200).Draw(t, "n")
		span := rapid.SampledFrom([]int64{3, 1000, 1 << 40}).Draw(t, "span")
		ts := make([]int64, n)
		gs := make([]int32, n)
		var due []int32
		for i := range ts {
			ts[i] = rapid.Int64Range(-span, span).Draw(t, "t")
			gs[i] = int32(rapid.IntRange(0, 5).Draw(t, "g"))
			if rapid.IntRange(0, 3).Draw(t, "due") > 0 {
				due = append(due, int32(i))
			}
		}
		want := slices.Clone(due)
		slices.SortStableFunc(want, func(a, b int32) int {
			return cmp.Or(cmp.Compare(ts[a], ts[b]), cmp.Compare(gs[a], gs[b]))
		})
		sortDue(due, ts, gs, nil)
		if !slices.Equal(due, want) {
			t.Fatalf("got %v, want %v", due, want)
		}
	})
}

// TestHugePrecedingActsAsUnbounded: a bound larger than any partition or
// time span is the unbounded frame, without overflow.
func TestHugePrecedingActsAsUnbounded(t *testing.T) {
	for _, f := range []Frame{{Rows: true, Preceding: math.MaxInt64}, {Preceding: math.MaxInt64}} {
		for _, updating := range []bool{false, true} {
			h := newHarness(t, Spec{In: in, TimeCol: 1, Frame: f, Aggs: countSum, Updating: updating})
			h.batch(row(1, runtime.MinEventTime, 1), row(1, 0, 2), row(1, runtime.MaxEventTime, 3))
			h.watermark(runtime.MaxWatermark)
			rows := h.out.Rows()
			if len(rows) != 3 || rows[2][5].I != 3 || rows[2][6].I != 6 {
				t.Fatalf("%s updating=%v: %v", f, updating, h.strings())
			}
		}
	}
}
