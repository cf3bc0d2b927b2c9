package window

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
)

// bidSchema is Nexmark's bid, reduced: event time, bidder, price, and the
// FILTER columns a planner would compute (price < 10000, price >= 10000).
var bidSchema = runtime.NewSchema(
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
	runtime.Field{Name: "bidder", Type: runtime.BigInt},
	runtime.Field{Name: "price", Type: runtime.BigInt},
	runtime.Field{Name: "cheap", Type: runtime.Boolean},
	runtime.Field{Name: "dear", Type: runtime.Boolean, Nullable: true},
)

// TestFilteredCountDistinctPerWindow is Nexmark q15's shape: per tumbling
// window, COUNT(*) and COUNT(DISTINCT bidder), each also FILTER (WHERE …)
// by price band, and a filtered SUM; checked against a plain Go count over
// random bids, with a late row dropped and counted.
func TestFilteredCountDistinctPerWindow(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		spec := Spec{In: bidSchema, TimeCol: 0, Window: Tumble(time.Second), Aggs: []agg.Spec{
			{Func: agg.Count, Col: -1, Name: "total_bids"},
			{Func: agg.Count, Col: -1, Name: "rank1_bids", Filter: 3, HasFilter: true},
			{Func: agg.CountDistinct, Col: 1, Name: "total_bidders"},
			{Func: agg.CountDistinct, Col: 1, Name: "rank1_bidders", Filter: 3, HasFilter: true},
			{Func: agg.CountDistinct, Col: 1, Name: "rank2_bidders", Filter: 4, HasFilter: true},
			{Func: agg.Sum, Col: 2, Name: "rank2_volume", Filter: 4, HasFilter: true},
		}}
		h := newHarness(rt, spec)
		type bid struct{ ts, bidder, price int64 }
		n := rapid.IntRange(1, 300).Draw(rt, "bids")
		var bids []bid
		var rows [][]runtime.Value
		for i := 0; i < n; i++ {
			b := bid{int64(rapid.IntRange(0, 4999).Draw(rt, "ts")), int64(rapid.IntRange(0, 9).Draw(rt, "bidder")),
				int64(rapid.IntRange(0, 20000).Draw(rt, "price"))}
			bids = append(bids, b)
			dear := runtime.BoolValue(b.price >= 10000)
			if b.price == 20000 { // a NULL filter counts as not TRUE
				dear = runtime.NullValue(runtime.Boolean)
			}
			rows = append(rows, []runtime.Value{runtime.TimeValue(b.ts), runtime.IntValue(b.bidder), runtime.IntValue(b.price),
				runtime.BoolValue(b.price < 10000), dear})
		}
		for i := 0; i < len(rows); i += 50 {
			h.batch(rows[i:min(i+50, len(rows))]...)
		}
		h.watermark(5000)
		h.batch([]runtime.Value{runtime.TimeValue(10), runtime.IntValue(1), runtime.IntValue(1), runtime.BoolValue(true), runtime.BoolValue(false)})
		h.finish()
		h.expectDropped(1)
		type acc struct {
			n, n1         int64
			all, one, two map[int64]bool
			vol2          int64
			hasVol2       bool
		}
		wins := map[int64]*acc{}
		for _, b := range bids {
			w := b.ts / 1000 * 1000
			a := wins[w]
			if a == nil {
				a = &acc{all: map[int64]bool{}, one: map[int64]bool{}, two: map[int64]bool{}}
				wins[w] = a
			}
			a.n++
			a.all[b.bidder] = true
			if b.price < 10000 {
				a.n1++
				a.one[b.bidder] = true
			}
			if b.price >= 10000 && b.price != 20000 {
				a.two[b.bidder] = true
				a.vol2 += b.price
				a.hasVol2 = true
			}
		}
		var want []string
		for w, a := range wins {
			vol := "NULL"
			if a.hasVol2 {
				vol = strconv.FormatInt(a.vol2, 10)
			}
			want = append(want, strings.Join([]string{
				strconv.FormatInt(w, 10), strconv.FormatInt(w+1000, 10), strconv.FormatInt(a.n, 10), strconv.FormatInt(a.n1, 10),
				strconv.Itoa(len(a.all)), strconv.Itoa(len(a.one)), strconv.Itoa(len(a.two)), vol}, ","))
		}
		var got []string
		for _, r := range h.out.Rows() {
			parts := make([]string, len(r))
			for i, v := range r {
				switch {
				case v.Null:
					parts[i] = "NULL"
				default:
					parts[i] = strconv.FormatInt(v.I, 10)
				}
			}
			got = append(got, strings.Join(parts, ","))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			rt.Fatalf("got  %q\nwant %q", got, want)
		}
	})
}

// TestSessionMergesNewAggregates checks FIRST_VALUE, LAST_VALUE (by
// arrival), LISTAGG, the variances and BOOL_AND/BOOL_OR of session windows
// whose partial sessions merge when a row arriving late bridges them.
func TestSessionMergesNewAggregates(t *testing.T) {
	in := runtime.NewSchema(runtime.Field{Name: "ts", Type: runtime.Timestamp}, runtime.Field{Name: "v", Type: runtime.BigInt},
		runtime.Field{Name: "s", Type: runtime.Varchar}, runtime.Field{Name: "b", Type: runtime.Boolean})
	rapid.Check(t, func(rt *rapid.T) {
		spec := Spec{In: in, TimeCol: 0, Window: SessionGap(100 * time.Millisecond), Aggs: []agg.Spec{
			{Func: agg.FirstValue, Col: 1, Name: "first"},
			{Func: agg.LastValue, Col: 2, Name: "last"},
			{Func: agg.ListAgg, Col: 2, Name: "list"},
			{Func: agg.StddevPop, Col: 1, Name: "sd"},
			{Func: agg.VarSamp, Col: 1, Name: "var"},
			{Func: agg.BoolAnd, Col: 3, Name: "all"},
			{Func: agg.BoolOr, Col: 3, Name: "any"},
		}}
		h := newHarness(rt, spec)
		type ev struct {
			ts, v int64
			s     string
			b     bool
		}
		n := rapid.IntRange(1, 60).Draw(rt, "rows")
		var evs []ev
		for i := 0; i < n; i++ {
			evs = append(evs, ev{int64(rapid.IntRange(0, 2000).Draw(rt, "ts")), int64(rapid.IntRange(-1000, 1000).Draw(rt, "v")),
				string(rune('a' + rapid.IntRange(0, 3).Draw(rt, "s"))), rapid.Bool().Draw(rt, "b")})
		}
		size := rapid.IntRange(1, 10).Draw(rt, "batch size")
		for i := 0; i < n; i += size {
			var rows [][]runtime.Value
			for _, e := range evs[i:min(i+size, n)] {
				rows = append(rows, []runtime.Value{runtime.TimeValue(e.ts), runtime.IntValue(e.v), runtime.StringValue(e.s), runtime.BoolValue(e.b)})
			}
			h.batch(rows...)
		}
		h.finish()
		// Reference: sessions from the rows sorted by time; within one,
		// arrival order decides FIRST and LAST.
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int { return int(evs[a].ts - evs[b].ts) })
		got := map[int64][]runtime.Value{}
		for _, r := range h.out.Rows() {
			got[r[0].I] = r
		}
		if len(got) != len(h.out.Rows()) {
			rt.Fatalf("two sessions start at the same time: %v", h.out.Rows())
		}
		sessions := 0
		for i := 0; i < n; {
			j := i + 1
			for j < n && evs[idx[j]].ts <= evs[idx[j-1]].ts+100 { // touching sessions merge, as Flink's
				j++
			}
			members := slices.Clone(idx[i:j])
			slices.Sort(members) // arrival order
			start := evs[idx[i]].ts
			r, ok := got[start]
			if !ok {
				rt.Fatalf("no session starting at %d; got %v", start, h.out.Rows())
			}
			sessions++
			first, last := evs[members[0]], evs[members[len(members)-1]]
			if r[2].I != first.v || r[3].S != last.s {
				rt.Fatalf("session at %d: FIRST_VALUE %d, LAST_VALUE %q; want %d, %q", start, r[2].I, r[3].S, first.v, last.s)
			}
			var parts []string
			var xs []float64
			all, anyT := true, false
			for _, m := range members {
				parts = append(parts, evs[m].s)
				xs = append(xs, float64(evs[m].v))
				all, anyT = all && evs[m].b, anyT || evs[m].b
			}
			gotParts := strings.Split(r[4].S, ",")
			slices.Sort(gotParts)
			slices.Sort(parts)
			if !slices.Equal(gotParts, parts) {
				rt.Fatalf("session at %d: LISTAGG %q, want the values %q", start, r[4].S, parts)
			}
			mean := 0.0
			for _, x := range xs {
				mean += x
			}
			mean /= float64(len(xs))
			ss := 0.0
			for _, x := range xs {
				ss += (x - mean) * (x - mean)
			}
			if sd := math.Sqrt(ss / float64(len(xs))); math.Abs(r[5].F-sd) > 1e-9*max(1, sd) {
				rt.Fatalf("session at %d: STDDEV_POP %v, want %v", start, r[5].F, sd)
			}
			if len(xs) == 1 {
				if !r[6].Null {
					rt.Fatalf("session at %d: VAR_SAMP of one value %v, want NULL", start, r[6])
				}
			} else if vs := ss / float64(len(xs)-1); math.Abs(r[6].F-vs) > 1e-9*max(1, vs) {
				rt.Fatalf("session at %d: VAR_SAMP %v, want %v", start, r[6].F, vs)
			}
			if (r[7].I != 0) != all || (r[8].I != 0) != anyT {
				rt.Fatalf("session at %d: BOOL_AND %d, BOOL_OR %d; want %v, %v", start, r[7].I, r[8].I, all, anyT)
			}
			i = j
		}
		if sessions != len(got) {
			rt.Fatalf("%d sessions, want %d", len(got), sessions)
		}
	})
}

// TestRapidRestoreNewAggregates checks that windows holding the new
// aggregates (FIRST_VALUE, LAST_VALUE, LISTAGG, the variances, BOOL_AND/OR,
// SUM(DISTINCT), filtered ones) restored from a snapshot taken anywhere
// emit exactly what the uninterrupted operator does.
func TestRapidRestoreNewAggregates(t *testing.T) {
	in := runtime.NewSchema(
		runtime.Field{Name: "k", Type: runtime.BigInt},
		runtime.Field{Name: "ts", Type: runtime.Timestamp},
		runtime.Field{Name: "v", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "s", Type: runtime.Varchar, Nullable: true},
		runtime.Field{Name: "f", Type: runtime.Boolean, Nullable: true},
	)
	aggs := []agg.Spec{
		{Func: agg.FirstValue, Col: 2, Name: "fv"},
		{Func: agg.LastValue, Col: 3, Name: "ls"},
		{Func: agg.ListAgg, Col: 3, Name: "l"},
		{Func: agg.StddevSamp, Col: 2, Name: "sd"},
		{Func: agg.VarPop, Col: 2, Name: "vp"},
		{Func: agg.BoolAnd, Col: 4, Name: "ba"},
		{Func: agg.BoolOr, Col: 4, Name: "bo"},
		{Func: agg.SumDistinct, Col: 2, Name: "sdv"},
		{Func: agg.CountDistinct, Col: 3, Name: "cdsf", Filter: 4, HasFilter: true},
		{Func: agg.Count, Col: -1, Name: "nf", Filter: 4, HasFilter: true},
	}
	rapid.Check(t, func(t *rapid.T) {
		w := rapid.SampledFrom([]Assigner{{Kind: Tumbling, Size: 20, Slide: 20}, {Kind: Hopping, Size: 30, Slide: 10}, {Kind: Session, Gap: 15}}).Draw(t, "window")
		spec := Spec{In: in, KeyCols: []int{0}, TimeCol: 1, Window: w, Aggs: aggs}
		opt := func(x int, v runtime.Value, typ runtime.Type) runtime.Value {
			if x == 0 {
				return runtime.NullValue(typ)
			}
			return v
		}
		var steps []step
		base := int64(0)
		for n := rapid.IntRange(1, 20).Draw(t, "steps"); n > 0; n-- {
			if rapid.IntRange(0, 3).Draw(t, "is watermark") == 0 {
				steps = append(steps, wmark(base-20))
				continue
			}
			var b [][]runtime.Value
			for m := rapid.IntRange(1, 10).Draw(t, "rows"); m > 0; m-- {
				base += rapid.Int64Range(0, 6).Draw(t, "step")
				b = append(b, []runtime.Value{
					runtime.IntValue(rapid.Int64Range(0, 2).Draw(t, "k")),
					runtime.TimeValue(base - rapid.Int64Range(0, 15).Draw(t, "behind")),
					opt(rapid.IntRange(0, 5).Draw(t, "v?"), runtime.IntValue(rapid.Int64Range(-9, 9).Draw(t, "v")), runtime.BigInt),
					opt(rapid.IntRange(0, 5).Draw(t, "s?"), runtime.StringValue(rapid.SampledFrom([]string{"a", "b", ""}).Draw(t, "s")), runtime.Varchar),
					opt(rapid.IntRange(0, 5).Draw(t, "f?"), runtime.BoolValue(rapid.Bool().Draw(t, "f")), runtime.Boolean),
				})
			}
			steps = append(steps, rows(b...))
		}
		steps = append(steps, wmark(runtime.MaxWatermark))
		at := rapid.IntRange(0, len(steps)).Draw(t, "snapshot at")
		checkRestore(t, spec, steps[:at], steps[at:])
	})
}
