package join

import (
	"math"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// The randomised tests join a composite key placed differently on each
// side: left (k BIGINT, s VARCHAR, ts TIMESTAMP, v BIGINT) with right
// (s VARCHAR, v DOUBLE, k INT, ts BIGINT) on (k, s).
var (
	rapidLeft = runtime.NewSchema(
		runtime.Field{Name: "k", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "s", Type: runtime.Varchar},
		runtime.Field{Name: "ts", Type: runtime.Timestamp, Nullable: true},
		runtime.Field{Name: "v", Type: runtime.BigInt},
	)
	rapidRight = runtime.NewSchema(
		runtime.Field{Name: "s", Type: runtime.Varchar},
		runtime.Field{Name: "v", Type: runtime.Double},
		runtime.Field{Name: "k", Type: runtime.Int, Nullable: true},
		runtime.Field{Name: "ts", Type: runtime.BigInt, Nullable: true},
	)
)

// event is one step fed to the operator: a batch of one side, or a
// watermark.
type event struct {
	watermark bool
	wm        int64
	side      int
	rows      [][]runtime.Value
	junk      bool // interleave rows hidden by a selection vector
}

type scenario struct {
	spec   Spec
	events []event
	left   [][]runtime.Value // every row, in arrival order
	right  [][]runtime.Value
}

// drawScenario draws bounds and a stream of rows. With onTime, every
// watermark stays below the time of every later row (the watermark
// contract), as aggressively as that allows; otherwise watermarks advance
// at random and rows may be late.
func drawScenario(t *rapid.T, onTime bool) scenario {
	lower := rapid.Int64Range(-40, 40).Draw(t, "lower")
	upper := lower + rapid.Int64Range(0, 50).Draw(t, "width")
	sc := scenario{spec: Spec{
		Left: rapidLeft, Right: rapidRight,
		LeftKeys: []int{0, 1}, RightKeys: []int{2, 0},
		LeftTime: 2, RightTime: 3,
		Lower: lower, Upper: upper,
	}}
	nkeys := rapid.IntRange(1, 4).Draw(t, "keys")
	n := rapid.IntRange(0, 150).Draw(t, "rows")
	type drawn struct {
		side int
		row  []runtime.Value
		ts   int64
		null bool // time is NULL
	}
	rows := make([]drawn, n)
	for i := range rows {
		side := rapid.IntRange(0, 1).Draw(t, "side")
		var k runtime.Value
		if rapid.IntRange(0, 15).Draw(t, "nullkey") == 0 {
			k = runtime.NullValue(runtime.BigInt)
		} else {
			k = runtime.IntValue(int64(rapid.IntRange(0, nkeys-1).Draw(t, "k")))
		}
		s := runtime.StringValue(rapid.SampledFrom([]string{"x", "y"}).Draw(t, "s"))
		ts := rapid.Int64Range(0, 200).Draw(t, "ts")
		tv := runtime.TimeValue(ts)
		null := rapid.IntRange(0, 30).Draw(t, "nulltime") == 0
		if null {
			tv = runtime.NullValue(runtime.Timestamp)
		}
		var row []runtime.Value
		if side == 0 {
			k.Type = runtime.BigInt
			row = []runtime.Value{k, s, tv, runtime.IntValue(int64(i))}
		} else {
			k.Type = runtime.Int
			tv.Type = runtime.BigInt
			row = []runtime.Value{s, runtime.FloatValue(float64(i)), k, tv}
		}
		rows[i] = drawn{side: side, row: row, ts: ts, null: null}
	}
	// Suffix minimum of the non-NULL times, for on-time watermarks.
	suffixMin := make([]int64, n+1)
	suffixMin[n] = math.MaxInt64
	for i := n - 1; i >= 0; i-- {
		suffixMin[i] = suffixMin[i+1]
		if !rows[i].null {
			suffixMin[i] = min(suffixMin[i], rows[i].ts)
		}
	}
	wm := runtime.MinWatermark
	for i := 0; i < n; {
		if rapid.IntRange(0, 2).Draw(t, "watermark?") == 0 {
			var next int64
			if onTime {
				if suffixMin[i] == math.MaxInt64 {
					next = 300 // only NULL times remain
				} else {
					next = suffixMin[i] - 1 - rapid.Int64Range(0, 3).Draw(t, "slack")
				}
			} else {
				next = max(wm, 0) + rapid.Int64Range(0, 40).Draw(t, "step")
			}
			if next > wm {
				wm = next
				sc.events = append(sc.events, event{watermark: true, wm: wm})
			}
		}
		// A batch: a run of rows of one side.
		side := rows[i].side
		size := rapid.IntRange(1, 6).Draw(t, "batch")
		ev := event{side: side, junk: rapid.Bool().Draw(t, "junk")}
		for ; i < n && rows[i].side == side && len(ev.rows) < size; i++ {
			ev.rows = append(ev.rows, rows[i].row)
			if side == 0 {
				sc.left = append(sc.left, rows[i].row)
			} else {
				sc.right = append(sc.right, rows[i].row)
			}
		}
		sc.events = append(sc.events, ev)
	}
	return sc
}

// batch builds the batch of ev. With junk, a copy of every row (with -1 in
// its payload column) sits before it in the batch, hidden by the selection
// vector.
func (ev *event) batch(s *runtime.Schema, payload int) *runtime.Batch {
	b := runtime.NewBatch(s)
	b.Reset()
	for _, r := range ev.rows {
		if ev.junk {
			junk := slices.Clone(r)
			junk[payload] = runtime.Value{Type: s.Fields[payload].Type, I: -1, F: -1}
			b.AppendValues(junk...)
			b.Sel = append(b.Sel, int32(b.N))
		}
		b.AppendValues(r...)
	}
	if !ev.junk {
		b.Sel = nil
	}
	return b
}

// run feeds sc to a fresh operator, checking its state after every
// watermark, and returns the sorted output and the late rows counted.
func (sc *scenario) run(t *rapid.T) ([]string, int64) {
	op, ctx := openOp(t, sc.spec)
	op.compactRows = rapid.IntRange(1, 8).Draw(t, "compactRows")
	op.compactKeys = rapid.IntRange(1, 4).Draw(t, "compactKeys")
	out := &rttest.Collector{}
	for i := range sc.events {
		ev := &sc.events[i]
		if ev.watermark {
			if err := op.ProcessWatermark(ev.wm, out); err != nil {
				t.Fatal(err)
			}
			checkState(t, op, ctx)
			continue
		}
		s, payload := sc.spec.Left, 3
		if ev.side == 1 {
			s, payload = sc.spec.Right, 1
		}
		b := ev.batch(s, payload)
		err := op.ProcessBatch(ev.side, b, out)
		b.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := op.ProcessWatermark(runtime.MaxWatermark, out); err != nil {
		t.Fatal(err)
	}
	checkState(t, op, ctx)
	if l, r := op.bufferedRows(); l != 0 || r != 0 || op.keys.live != 0 {
		t.Fatalf("after the final watermark: %d left, %d right rows, %d keys", l, r, op.keys.live)
	}
	return out.Sorted(), int64(ctx.Metrics.LateRowsDropped.Get())
}

func TestRapidMatchesNestedLoop(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t, true)
		got, late := sc.run(t)
		want := nestedLoop(sc.spec, sc.left, sc.right)
		if !slices.Equal(got, want) {
			t.Fatalf("got %d rows, want %d\ngot:  %v\nwant: %v", len(got), len(want), got, want)
		}
		if late != 0 {
			t.Fatalf("%d late rows with no row behind the watermark", late)
		}
	})
}

// TestRapidLateRowsFollowTheRule checks, with watermarks that overtake rows,
// the rule of the package comment against a model: a pair is emitted when
// its later row arrives and the earlier one was stored and has not expired;
// a row is stored when ts+expireAfter > wm, and late when it is behind the
// watermark and not stored.
func TestRapidLateRowsFollowTheRule(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t, false)
		got, late := sc.run(t)
		want, wantLate := sc.model()
		if !slices.Equal(got, want) {
			t.Fatalf("got %d rows, want %d\ngot:  %v\nwant: %v", len(got), len(want), got, want)
		}
		if late != wantLate {
			t.Fatalf("%d late rows counted, want %d", late, wantLate)
		}
	})
}

func (sc *scenario) model() ([]string, int64) {
	type arrived struct {
		row    []runtime.Value
		ts     int64
		stored bool
	}
	spec := sc.spec
	expireAfter := [2]int64{spec.Upper, -spec.Lower}
	times := [2]int{spec.LeftTime, spec.RightTime}
	keys := [2][]int{spec.LeftKeys, spec.RightKeys}
	var seen [2][]arrived
	var out []string
	var late int64
	wm := runtime.MinWatermark
	for _, ev := range sc.events {
		if ev.watermark {
			wm = ev.wm
			continue
		}
		s := ev.side
		for _, r := range ev.rows {
			tv := r[times[s]]
			if tv.Null || slices.ContainsFunc(keys[s], func(c int) bool { return r[c].Null }) {
				continue
			}
			for _, o := range seen[1-s] {
				if !o.stored || (wm != runtime.MinWatermark && o.ts+expireAfter[1-s] <= wm) {
					continue
				}
				l, rr := r, o.row
				if s == 1 {
					l, rr = o.row, r
				}
				if pairMatches(spec, l, rr) {
					out = append(out, format(spec.Left, l)+","+format(spec.Right, rr))
				}
			}
			stored := wm == runtime.MinWatermark || tv.I+expireAfter[s] > wm
			if !stored && tv.I <= wm {
				late++
			}
			seen[s] = append(seen[s], arrived{row: r, ts: tv.I, stored: stored})
		}
	}
	slices.Sort(out)
	return out, late
}

func TestRapidScenarioIsValid(t *testing.T) {
	// The on-time generator must never put a row behind the watermark.
	rapid.Check(t, func(t *rapid.T) {
		sc := drawScenario(t, true)
		wm := runtime.MinWatermark
		for _, ev := range sc.events {
			if ev.watermark {
				wm = ev.wm
				continue
			}
			col := sc.spec.LeftTime
			if ev.side == 1 {
				col = sc.spec.RightTime
			}
			for _, r := range ev.rows {
				if v := r[col]; !v.Null && v.I <= wm {
					t.Fatalf("row %v at %d is behind watermark %d", r, v.I, wm)
				}
			}
		}
	})
}

// TestRapidKeyTable checks the key table against a map, with hashes drawn
// from a few values at both ends of every table size, so that keys collide
// and probe runs wrap around the end of the table.
func TestRapidKeyTable(t *testing.T) {
	s := runtime.NewSchema(runtime.Field{Name: "k", Type: runtime.BigInt})
	b := runtime.NewBatch(s)
	b.Reset()
	for k := range 64 {
		b.AppendValues(runtime.IntValue(int64(k)))
	}
	defer b.Release()
	cols := []int{0}
	rapid.Check(t, func(t *rapid.T) {
		kt := newKeyTable([]runtime.Type{runtime.BigInt})
		homes := []uint64{0, 1, 13, 14, 15, 30, 31, 62, 63, 126, 127, 1<<40 | 15}
		hashes := rapid.SliceOfN(rapid.SampledFrom(homes), 64, 64).Draw(t, "hashes")
		nkeys := rapid.IntRange(1, 64).Draw(t, "keys")
		ids := map[int]int32{} // key (= row of b) → id
		for step := range rapid.IntRange(0, 300).Draw(t, "steps") {
			k := rapid.IntRange(0, nkeys-1).Draw(t, "key")
			id, ok := ids[k]
			if got := kt.find(hashes[k], b, cols, k); (got != nilID) != ok || (ok && got != id) {
				t.Fatalf("step %d: find(%d) = %d, want %d (present %v)", step, k, got, id, ok)
			}
			switch {
			case !ok:
				ids[k] = kt.insert(hashes[k], b, cols, k)
			case rapid.Bool().Draw(t, "remove"):
				kt.remove(id)
				delete(ids, k)
			}
			if kt.live != len(ids) {
				t.Fatalf("live %d, want %d", kt.live, len(ids))
			}
			if rapid.IntRange(0, 20).Draw(t, "compact?") == 0 {
				remap := kt.compact(nil)
				for k, id := range ids {
					ids[k] = remap[id]
				}
			}
		}
		for k := range 64 {
			id, ok := ids[k]
			if got := kt.find(hashes[k], b, cols, k); (got != nilID) != ok || (ok && got != id) {
				t.Fatalf("find(%d) = %d, want %d (present %v)", k, got, id, ok)
			}
		}
	})
}
