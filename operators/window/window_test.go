package window

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
)

const ms = time.Millisecond

func TestTumblingBoundaries(t *testing.T) {
	h := newHarness(t, kvSpec(Tumble(10*ms)))
	h.batch(kv(1, 0, 1), kv(1, 9, 2), kv(1, 10, 4), kv(1, -1, 8), kv(1, -10, 16), kv(1, -11, 32), kv(2, 19, 64), kv(2, 20, 128))
	h.watermark(-12)
	h.expect("wm -12")
	h.watermark(-11)
	h.expect("wm -11 fires [-20,-10)", "1,-20,-10,1,32")
	h.watermark(-2)
	h.expect("wm -2")
	h.watermark(-1)
	h.expect("wm -1 fires [-10,0)", "1,-10,0,2,24")
	h.watermark(8)
	h.expect("wm 8")
	h.watermark(9)
	h.expect("wm 9 fires [0,10)", "1,0,10,2,3")
	h.watermark(19)
	h.expect("wm 19 fires [10,20)", "1,10,20,1,4", "2,10,20,1,64")
	h.finish()
	h.expect("final watermark", "2,20,30,1,128")
	h.expectDropped(0)
}

func TestTumblingOffset(t *testing.T) {
	// An Assigner written out (Slide left zero) with windows at 3 + 10k.
	h := newHarness(t, kvSpec(Assigner{Kind: Tumbling, Size: 10, Offset: 3}))
	h.batch(kv(1, 2, 1), kv(1, 3, 2), kv(1, 12, 4), kv(1, 13, 8), kv(1, -7, 16), kv(1, -8, 32))
	h.watermark(2)
	h.expect("wm 2 fires [-7,3)", "1,-17,-7,1,32", "1,-7,3,2,17")
	h.finish()
	h.expect("final", "1,3,13,2,6", "1,13,23,1,8")
}

func TestHoppingMembership(t *testing.T) {
	// Size 15, slide 5: every row is in three windows.
	h := newHarness(t, kvSpec(Hop(5*ms, 15*ms)))
	h.batch(kv(1, 7, 1))
	h.finish()
	h.expect("row at 7", "1,-5,10,1,1", "1,0,15,1,1", "1,5,20,1,1")

	h = newHarness(t, kvSpec(Hop(5*ms, 15*ms)))
	h.batch(kv(1, 0, 1), kv(1, 14, 2), kv(1, 15, 4), kv(1, -1, 8))
	h.watermark(4)
	h.expect("wm 4 fires [-10,5)", "1,-15,0,1,8", "1,-10,5,2,9")
	h.watermark(9)
	h.expect("wm 9 fires [-5,10)", "1,-5,10,2,9")
	h.watermark(14)
	h.expect("wm 14 fires [0,15)", "1,0,15,2,3")
	h.finish()
	h.expect("final", "1,5,20,2,6", "1,10,25,2,6", "1,15,30,1,4")
}

func TestHoppingSlideEqualsSize(t *testing.T) {
	h := newHarness(t, kvSpec(Hop(10*ms, 10*ms)))
	h.batch(kv(1, 9, 1), kv(1, 10, 2))
	h.finish()
	h.expect("final", "1,0,10,1,1", "1,10,20,1,2")
}

func TestSessionBoundaries(t *testing.T) {
	h := newHarness(t, kvSpec(SessionGap(10*ms)))
	// Key 1: a row exactly one gap after the last joins; one more is new.
	h.batch(kv(1, 0, 1), kv(1, 10, 2), kv(1, 21, 4))
	// Key 2: a row exactly one gap before the first joins from the left.
	h.batch(kv(2, 100, 1))
	h.batch(kv(2, 90, 2))
	// Key 3: a row bridging two sessions merges them.
	h.batch(kv(3, 200, 1), kv(3, 220, 2))
	h.batch(kv(3, 210, 4))
	// Key 4: negative times.
	h.batch(kv(4, -5, 1), kv(4, -16, 2))
	h.watermark(-7)
	h.expect("wm -7 fires [-16,-6)", "4,-16,-6,1,2")
	h.watermark(18)
	h.expect("wm 18", "4,-5,5,1,1")
	h.watermark(19)
	h.expect("wm 19 fires [0,20)", "1,0,20,2,3")
	h.watermark(30)
	h.expect("wm 30 fires [21,31)", "1,21,31,1,4")
	h.finish()
	h.expect("final", "2,90,110,2,3", "3,200,230,3,7")
	h.expectDropped(0)
}

func TestSessionGrowsWithStream(t *testing.T) {
	// Rows every 5ms keep one session open; the watermark follows them.
	h := newHarness(t, kvSpec(SessionGap(10*ms)))
	for ts := int64(0); ts < 1000; ts += 5 {
		h.batch(kv(1, ts, 1))
		h.watermark(ts - 1)
		h.expect("open session")
	}
	h.watermark(1003)
	h.expect("wm 1003")
	h.watermark(1004)
	h.expect("wm 1004", "1,0,1005,200,200")
}

func TestSessionMergeInOneBatch(t *testing.T) {
	// Rows of several sessions arrive in one batch, out of order, with a
	// bridge at the end: the pending updates must land before the merge.
	h := newHarness(t, kvSpec(SessionGap(10*ms)))
	h.batch(kv(1, 50, 1), kv(1, 0, 2), kv(1, 30, 4), kv(1, 5, 8), kv(1, 15, 16), kv(1, 40, 32), kv(1, 25, 64), kv(2, 0, 1), kv(2, 100, 2))
	h.finish()
	h.expect("final", "1,0,60,7,127", "2,0,10,1,1", "2,100,110,1,2")
}

func TestSessionLateBridgeWithinLateness(t *testing.T) {
	spec := kvSpec(SessionGap(10 * ms))
	spec.AllowedLateness = 30 * ms
	h := newHarness(t, spec)
	h.batch(kv(1, 0, 1), kv(1, 20, 2))
	h.watermark(29)
	h.expect("wm 29 fires both", "1,0,10,1,1", "1,20,30,1,2")
	// A late row within the lateness bridges the two fired sessions: they
	// merge and the merged session fires at once.
	h.batch(kv(1, 10, 4))
	h.expect("late bridge", "1,0,30,3,7")
	h.watermark(58)
	h.expect("wm 58")
	// A late row within the lateness updates it again.
	h.batch(kv(1, 3, 8))
	h.expect("late update", "1,0,30,4,15")
	// At 29+30 the session is gone: a row at 30 opens a new one instead of
	// joining it, and a row at 25 is too late.
	h.watermark(59)
	h.expect("wm 59")
	// The new session is already behind the watermark: it fires at once.
	h.batch(kv(1, 30, 16), kv(1, 15, 32))
	h.expect("new session", "1,30,40,1,16")
	h.expectDropped(1)
	h.finish()
	h.expect("final")
}

func TestSessionLateRowExtendsFiredSessionPastWatermark(t *testing.T) {
	spec := kvSpec(SessionGap(10 * ms))
	spec.AllowedLateness = 100 * ms
	h := newHarness(t, spec)
	h.batch(kv(1, 0, 1))
	h.watermark(12)
	h.expect("wm 12", "1,0,10,1,1")
	// Joins at exactly the gap and grows the session past the watermark:
	// it fires again when the watermark reaches the new end.
	h.batch(kv(1, 10, 2))
	h.expect("grown")
	h.watermark(18)
	h.expect("wm 18")
	h.watermark(19)
	h.expect("wm 19", "1,0,20,2,3")
	h.watermark(119)
	if o := h.op.(*sessionOp); o.open != 0 {
		t.Fatalf("after cleanup: %d sessions open, want 0", o.open)
	}
	h.finish()
	h.expect("final")
}

func TestLateRowWithinLatenessNewWindowFiresAtOnce(t *testing.T) {
	for _, w := range []Assigner{Tumble(10 * ms), Hop(5*ms, 10*ms), SessionGap(10 * ms)} {
		t.Run(w.String(), func(t *testing.T) {
			spec := kvSpec(w)
			spec.AllowedLateness = 50 * ms
			h := newHarness(t, spec)
			h.watermark(40)
			h.batch(kv(1, 12, 1))
			got := h.take()
			want := map[Kind][]string{
				Tumbling: {"1,10,20,1,1"},
				Hopping:  {"1,10,20,1,1", "1,5,15,1,1"},
				Session:  {"1,12,22,1,1"},
			}[w.Kind]
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("late row in a window without state: got %q, want %q", got, want)
			}
			h.finish()
			h.expect("final")
		})
	}
}

func TestTumblingRefireWithinLateness(t *testing.T) {
	spec := kvSpec(Tumble(10 * ms))
	spec.AllowedLateness = 10 * ms
	h := newHarness(t, spec)
	h.batch(kv(1, 5, 1), kv(1, 15, 100))
	h.watermark(9)
	h.expect("wm 9", "1,0,10,1,1")
	h.batch(kv(1, 3, 2), kv(2, 4, 4), kv(1, 16, 100))
	h.expect("late rows re-fire their groups", "1,0,10,2,3", "2,0,10,1,4")
	h.batch(kv(1, 0, 8))
	h.expect("again", "1,0,10,3,11")
	h.watermark(18)
	h.expect("wm 18")
	h.batch(kv(2, 9, 16))
	h.expect("at the last moment", "2,0,10,2,20")
	h.watermark(19)
	h.expect("wm 19", "1,10,20,2,200")
	h.batch(kv(1, 9, 32), kv(3, 0, 64))
	h.expect("too late")
	h.expectDropped(2)
	h.batch(kv(1, 19, 1))
	h.expect("late but allowed", "1,10,20,3,201")
	h.finish()
	h.expect("final")
	h.expectDropped(2)
}

func TestHoppingLateRowUpdatesOpenWindowsOnly(t *testing.T) {
	h := newHarness(t, kvSpec(Hop(5*ms, 15*ms)))
	h.batch(kv(1, 20, 1))
	h.watermark(19)
	h.expect("wm 19")
	// A row at 12 is in [0,15) (closed: 14 <= 19), [5,20) (closed: 19 <= 19)
	// and [10,25) (open): only the last takes it, and it is not late.
	h.batch(kv(1, 12, 2))
	h.expectDropped(0)
	// A row at 9 is in [-5,10), [0,15) and [5,20): all closed.
	h.batch(kv(1, 9, 4))
	h.expectDropped(1)
	h.finish()
	h.expect("final", "1,10,25,2,3", "1,15,30,1,1", "1,20,35,1,1")
}

func TestLateRowsDroppedAndCounted(t *testing.T) {
	for _, w := range []Assigner{Tumble(10 * ms), Hop(5*ms, 10*ms), SessionGap(10 * ms)} {
		t.Run(w.String(), func(t *testing.T) {
			h := newHarness(t, kvSpec(w))
			h.batch(kv(1, 100, 1))
			h.watermark(60)
			// Out of order but on time: counted.
			h.batch(kv(1, 61, 2), kv(1, 95, 4))
			// Every window of these has end-1 <= 60: late. A NULL time
			// is late too.
			h.batch(kv(1, 45, 8), kv(2, 50, 8), []runtime.Value{runtime.IntValue(1), null, runtime.IntValue(8)})
			h.expectDropped(3)
			h.finish()
			var sum int64
			for _, r := range h.take() {
				f := strings.Split(r, ",")
				if f[0] != "1" {
					t.Fatalf("unexpected row %s", r)
				}
				if w.Kind != Hopping {
					var n int64
					for _, c := range f[4] {
						n = n*10 + int64(c-'0')
					}
					sum += n
				}
			}
			if w.Kind != Hopping && sum != 7 {
				t.Fatalf("sum over windows = %d, want 7", sum)
			}
		})
	}
}

// allSchema has a column of every type for the aggregate tests.
var allSchema = runtime.NewSchema(
	runtime.Field{Name: "k", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
	runtime.Field{Name: "i", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "d", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "s", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "n", Type: runtime.Int},
)

var allAggs = []agg.Spec{
	{Func: agg.Count, Col: -1, Name: "cnt"},
	{Func: agg.Count, Col: 2, Name: "cnt_i"},
	{Func: agg.CountDistinct, Col: 2, Name: "cd_i"},
	{Func: agg.CountDistinct, Col: 3, Name: "cd_d"},
	{Func: agg.CountDistinct, Col: 4, Name: "cd_s"},
	{Func: agg.Sum, Col: 2, Name: "sum_i"},
	{Func: agg.Sum, Col: 3, Name: "sum_d"},
	{Func: agg.Sum, Col: 5, Name: "sum_n"},
	{Func: agg.Min, Col: 2, Name: "min_i"},
	{Func: agg.Max, Col: 2, Name: "max_i"},
	{Func: agg.Min, Col: 3, Name: "min_d"},
	{Func: agg.Max, Col: 3, Name: "max_d"},
	{Func: agg.Min, Col: 4, Name: "min_s"},
	{Func: agg.Max, Col: 4, Name: "max_s"},
	{Func: agg.Min, Col: 1, Name: "min_ts"},
	{Func: agg.Max, Col: 1, Name: "max_ts"},
	{Func: agg.Min, Col: 5, Name: "min_n"},
	{Func: agg.Avg, Col: 2, Name: "avg_i"},
	{Func: agg.Avg, Col: 3, Name: "avg_d"},
	{Func: agg.Avg, Col: 5, Name: "avg_n"},
}

func all(k runtime.Value, ts int64, i, d, s runtime.Value, n int64) []runtime.Value {
	return []runtime.Value{k, runtime.TimeValue(ts), i, d, s, {Type: runtime.Int, I: n}}
}

func TestEveryAggregate(t *testing.T) {
	str, i64, f64 := runtime.StringValue, runtime.IntValue, runtime.FloatValue
	rows := [][]runtime.Value{
		all(str("a"), 1, i64(1), f64(1.5), str("x"), 7),
		all(str("a"), 2, null, null, null, -2),
		all(str("a"), 3, i64(-3), f64(-0.5), str("y"), 0),
		all(str("a"), 4, i64(1), f64(1.5), str("x"), 3),
		all(str("a"), 5, i64(10), f64(2.5), str(""), 1),
		// Only NULL inputs.
		all(str("b"), 6, null, null, null, 5),
		// +0 and -0 are one distinct value; "é" sorts after "z".
		all(str("c"), 7, i64(math.MaxInt64), f64(0), str("é"), 1),
		all(str("c"), 8, i64(math.MinInt64), f64(math.Copysign(0, -1)), str("z"), 1),
		// A NULL key is a group of its own; "" is another.
		all(null, 9, i64(4), f64(0.25), str("n"), 2),
		all(null, 9, i64(4), f64(0.25), str("n"), 2),
		all(str(""), 9, i64(5), f64(0.75), str("m"), 4),
	}
	want := []string{
		`"a",0,100,5,4,3,3,3,9,5,9,-3,10,-0.5,2.5,"","y",1,5,-2,2,1.25,1`, // AVG 9/4 and 9/5 truncated
		`"b",0,100,1,0,0,0,0,NULL,NULL,5,NULL,NULL,NULL,NULL,NULL,NULL,6,6,5,NULL,NULL,5`,
		`"c",0,100,2,2,2,1,2,-1,0,2,-9223372036854775808,9223372036854775807,0,0,"z","é",7,8,1,0,0,1`,
		`NULL,0,100,2,2,1,1,1,8,0.5,4,4,4,0.25,0.25,"n","n",9,9,2,4,0.25,2`,
		`"",0,100,1,1,1,1,1,5,0.75,4,5,5,0.75,0.75,"m","m",9,9,4,5,0.75,4`,
	}
	for _, w := range []Assigner{Tumble(100 * ms), SessionGap(100 * ms)} {
		t.Run(w.String(), func(t *testing.T) {
			spec := Spec{In: allSchema, KeyCols: []int{0}, TimeCol: 1, Window: w, Aggs: allAggs}
			h := newHarness(t, spec)
			// One row per batch and all in one batch must agree.
			for _, r := range rows {
				h.batch(r)
			}
			h.finish()
			got := h.take()
			h2 := newHarness(t, spec)
			h2.batch(rows...)
			h2.finish()
			got2 := h2.take()
			if strings.Join(got, "\n") != strings.Join(got2, "\n") {
				t.Fatalf("batching changes the result:\n%s\nvs\n%s", strings.Join(got, "\n"), strings.Join(got2, "\n"))
			}
			want := append([]string(nil), want...)
			if w.Kind == Session {
				// Session ends are last row + gap.
				ends := map[string]string{`"a"`: "105", `"b"`: "106", `"c"`: "108", `NULL`: "109", `""`: "109"}
				starts := map[string]string{`"a"`: "1", `"b"`: "6", `"c"`: "7", `NULL`: "9", `""`: "9"}
				for i, r := range want {
					f := strings.Split(r, ",")
					f[1], f[2] = starts[f[0]], ends[f[0]]
					want[i] = strings.Join(f, ",")
				}
			}
			wantSorted := append([]string(nil), want...)
			sortStrings(wantSorted)
			if strings.Join(got, "\n") != strings.Join(wantSorted, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantSorted, "\n"))
			}
		})
	}
}

func TestEveryAggregateOutputSchema(t *testing.T) {
	_, out, err := New(Spec{In: allSchema, KeyCols: []int{0}, TimeCol: 1, Window: Tumble(time.Second), Aggs: allAggs})
	if err != nil {
		t.Fatal(err)
	}
	want := "(k VARCHAR, window_start TIMESTAMP(3) NOT NULL, window_end TIMESTAMP(3) NOT NULL, " +
		"cnt BIGINT NOT NULL, cnt_i BIGINT NOT NULL, cd_i BIGINT NOT NULL, cd_d BIGINT NOT NULL, cd_s BIGINT NOT NULL, " +
		"sum_i BIGINT, sum_d DOUBLE, sum_n BIGINT NOT NULL, min_i BIGINT, max_i BIGINT, min_d DOUBLE, max_d DOUBLE, " +
		"min_s VARCHAR, max_s VARCHAR, min_ts TIMESTAMP(3) NOT NULL, max_ts TIMESTAMP(3) NOT NULL, min_n INT NOT NULL, " +
		"avg_i BIGINT, avg_d DOUBLE, avg_n INT NOT NULL)"
	if got := out.String(); got != want {
		t.Fatalf("output schema\ngot  %s\nwant %s", got, want)
	}
}

// mkSchema has a BIGINT and a VARCHAR key.
var mkSchema = runtime.NewSchema(
	runtime.Field{Name: "a", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "b", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
	runtime.Field{Name: "v", Type: runtime.Double},
)

func TestKeys(t *testing.T) {
	i64, str, f64 := runtime.IntValue, runtime.StringValue, runtime.FloatValue
	rows := [][]runtime.Value{
		{i64(1), str("x"), runtime.TimeValue(1), f64(1)},
		{i64(1), str("y"), runtime.TimeValue(2), f64(2)},
		{i64(2), str("x"), runtime.TimeValue(3), f64(4)},
		{null, str("x"), runtime.TimeValue(4), f64(8)},
		{i64(1), null, runtime.TimeValue(5), f64(16)},
		{null, null, runtime.TimeValue(6), f64(32)},
		{null, null, runtime.TimeValue(7), f64(64)},
		{i64(0), str(""), runtime.TimeValue(8), f64(128)},
		{i64(1), str("x"), runtime.TimeValue(9), f64(256)},
	}
	f := func(name string, keys []int, want ...string) {
		t.Helper()
		for _, w := range []Assigner{Tumble(10 * ms), Hop(10*ms, 10*ms), SessionGap(10 * ms)} {
			spec := Spec{In: mkSchema, KeyCols: keys, TimeCol: 2, Window: w, Aggs: []agg.Spec{{Func: agg.Sum, Col: 3, Name: "s"}}}
			h := newHarness(t, spec)
			h.batch(rows[:3]...) // no NULL key yet: the integer fast path
			h.batch(rows[3:]...)
			h.finish()
			got := h.take()
			if w.Kind == Session {
				for i := range got {
					f := strings.Split(got[i], ",")
					f[len(keys)], f[len(keys)+1] = "0", "10" // sessions have their own bounds
					got[i] = strings.Join(f, ",")
				}
				sortStrings(got)
			}
			wantSorted := append([]string(nil), want...)
			sortStrings(wantSorted)
			if strings.Join(got, " ") != strings.Join(wantSorted, " ") {
				t.Fatalf("%s %s:\ngot  %q\nwant %q", name, w, got, wantSorted)
			}
		}
	}
	f("int key", []int{0}, "1,0,10,275", "2,0,10,4", "NULL,0,10,104", "0,0,10,128")
	f("string key", []int{1}, `"x",0,10,269`, `"y",0,10,2`, `NULL,0,10,112`, `"",0,10,128`)
	f("two keys", []int{0, 1},
		`1,"x",0,10,257`, `1,"y",0,10,2`, `2,"x",0,10,4`, `NULL,"x",0,10,8`, `1,NULL,0,10,16`, `NULL,NULL,0,10,96`, `0,"",0,10,128`)
	f("string then int", []int{1, 0},
		`"x",1,0,10,257`, `"y",1,0,10,2`, `"x",2,0,10,4`, `"x",NULL,0,10,8`, `NULL,1,0,10,16`, `NULL,NULL,0,10,96`, `"",0,0,10,128`)
	f("no key", nil, "0,10,511")
}

func TestDoubleKey(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "d", Type: runtime.Double, Nullable: true}, runtime.Field{Name: "ts", Type: runtime.Timestamp})
	spec := Spec{In: s, KeyCols: []int{0}, TimeCol: 1, Window: Tumble(10 * ms), Aggs: []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}}}
	h := newHarness(t, spec)
	f64, ts := runtime.FloatValue, runtime.TimeValue
	h.batch([]runtime.Value{f64(1.5), ts(1)}, []runtime.Value{f64(0), ts(1)}, []runtime.Value{f64(math.Copysign(0, -1)), ts(1)},
		[]runtime.Value{f64(math.NaN()), ts(1)}, []runtime.Value{f64(math.NaN()), ts(1)}, []runtime.Value{null, ts(1)}, []runtime.Value{f64(1.5), ts(1)})
	h.finish()
	h.expect("double keys", "1.5,0,10,2", "0,0,10,2", "NaN,0,10,2", "NULL,0,10,1")
}

func TestSelectionVector(t *testing.T) {
	for _, w := range []Assigner{Tumble(10 * ms), Hop(5*ms, 10*ms), SessionGap(10 * ms)} {
		h := newHarness(t, kvSpec(w))
		b := runtime.NewBatch(kvSchema)
		for i := int64(0); i < 10; i++ {
			b.AppendValues(kv(i%2, i, 1<<i)...)
		}
		b.Sel = []int32{1, 2, 5, 8}
		if err := h.op.ProcessBatch(0, b, h.out); err != nil {
			t.Fatal(err)
		}
		b.Release()
		h.finish()
		want := map[Kind][]string{
			Tumbling: {"0,0,10,2,260", "1,0,10,2,34"},
			Hopping:  {"0,-5,5,1,4", "0,0,10,2,260", "0,5,15,1,256", "1,-5,5,1,2", "1,0,10,2,34", "1,5,15,1,32"},
			Session:  {"0,2,18,2,260", "1,1,15,2,34"},
		}[w.Kind]
		if got := h.take(); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("%s: got %q, want %q", w, got, want)
		}
	}
}

func TestManyGroupsSpanBatches(t *testing.T) {
	// More result rows than one output batch holds.
	for _, w := range []Assigner{Tumble(10 * ms), SessionGap(10 * ms)} {
		h := newHarness(t, kvSpec(w))
		var rows [][]runtime.Value
		for k := int64(0); k < 5000; k++ {
			rows = append(rows, kv(k, k%10, k))
		}
		h.batch(rows...)
		h.finish()
		got := h.take()
		if len(got) != 5000 {
			t.Fatalf("%s: got %d rows, want 5000", w, len(got))
		}
	}
}

func TestNewRejectsBadSpecs(t *testing.T) {
	f := func(name string, spec Spec, want string) {
		t.Helper()
		_, _, err := New(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: got error %v, want one containing %q", name, err, want)
		}
	}
	ok := kvSpec(Tumble(time.Second))
	s := ok
	s.Window = Tumble(0)
	f("zero size", s, "size must be positive")
	s.Window = Hop(3*time.Second, 10*time.Second)
	f("size not a multiple of slide", s, "multiple of its slide")
	s.Window = SessionGap(-time.Second)
	f("negative gap", s, "gap must be positive")
	s.Window = Assigner{}
	f("no kind", s, "unknown window kind")
	s = ok
	s.TimeCol = 2 + 5
	f("time column", s, "out of range")
	s = ok
	s.TimeCol = 0
	s.In = mkSchema
	s.TimeCol = 1
	f("string time", s, "want TIMESTAMP")
	s = ok
	s.KeyCols = []int{9}
	f("key column", s, "key column 9")
	s = ok
	s.AllowedLateness = -time.Second
	f("negative lateness", s, "lateness")
	s = ok
	s.Aggs = []agg.Spec{{Func: agg.Sum, Col: 9, Name: "x"}}
	f("agg column", s, "no such input column")
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func TestNoAggregates(t *testing.T) {
	for _, w := range []Assigner{Tumble(10 * ms), SessionGap(10 * ms)} {
		spec := kvSpec(w)
		spec.Aggs = nil
		h := newHarness(t, spec)
		h.batch(kv(1, 1, 1), kv(2, 2, 1), kv(1, 3, 1))
		h.finish()
		want := map[Kind][]string{Tumbling: {"1,0,10", "2,0,10"}, Session: {"1,1,13", "2,2,12"}}[w.Kind]
		h.expect(w.String(), want...)
	}
}

func TestFinishWithoutFinalWatermark(t *testing.T) {
	for _, w := range []Assigner{Tumble(10 * ms), SessionGap(10 * ms)} {
		h := newHarness(t, kvSpec(w))
		h.batch(kv(1, 1, 1))
		if err := h.op.Finish(h.out); err != nil {
			t.Fatal(err)
		}
		want := map[Kind]string{Tumbling: "1,0,10,1,1", Session: "1,1,11,1,1"}[w.Kind]
		h.expect(w.String(), want)
	}
}
