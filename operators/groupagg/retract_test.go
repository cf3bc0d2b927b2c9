package groupagg

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// The input of the retraction tests: a key, nullable values of each type,
// a nullable BOOLEAN for FILTER, and the row's changelog kind (op, which
// kindsOp turns into Batch.Kinds).
var rin = runtime.NewSchema(
	runtime.Field{Name: "k", Type: runtime.BigInt},
	runtime.Field{Name: "v", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "d", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "s", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "f", Type: runtime.Boolean, Nullable: true},
	runtime.Field{Name: "op", Type: runtime.BigInt},
)

// rrow is one input row; nil is NULL.
type rrow struct {
	k int64
	v *int64
	d *float64
	s *string
	f *bool
}

func (r rrow) values(kind runtime.RowKind) []runtime.Value {
	out := []runtime.Value{runtime.IntValue(r.k), runtime.NullValue(runtime.BigInt), runtime.NullValue(runtime.Double),
		runtime.NullValue(runtime.Varchar), runtime.NullValue(runtime.Boolean), runtime.IntValue(int64(kind))}
	if r.v != nil {
		out[1] = runtime.IntValue(*r.v)
	}
	if r.d != nil {
		out[2] = runtime.FloatValue(*r.d)
	}
	if r.s != nil {
		out[3] = runtime.StringValue(*r.s)
	}
	if r.f != nil {
		out[4] = runtime.BoolValue(*r.f)
	}
	return out
}

func (r rrow) filtered() bool { return r.f != nil && *r.f }

// kindsOp copies its input, setting each row's kind from column op.
type kindsOp struct {
	runtime.Base
	col int
}

func (o *kindsOp) ProcessBatch(_ int, b *runtime.Batch, out runtime.Output) error {
	c := runtime.NewBatch(b.Schema)
	defer c.Release()
	for i := 0; i < b.Len(); i++ {
		r := b.Row(i)
		c.AppendRow(b, r)
		c.SetKind(c.N-1, runtime.RowKind(b.Cols[o.col].I64[r]))
	}
	return out.Emit(c)
}

// refAgg is one aggregate of the tests with its reference: over the live
// rows of a group (order free), or, with list set, over the list of live
// values the reference keeps in arrival order (a retraction removing the
// earliest equal value).
type refAgg struct {
	spec agg.Spec
	ref  func(live []rrow, list []runtime.Value) runtime.Value
	list func(r rrow) (runtime.Value, bool)
}

func ints(live []rrow, keep func(rrow) bool) []int64 {
	var out []int64
	for _, r := range live {
		if r.v != nil && (keep == nil || keep(r)) {
			out = append(out, *r.v)
		}
	}
	return out
}

func floats(live []rrow) []float64 {
	var out []float64
	for _, r := range live {
		if r.d != nil {
			out = append(out, *r.d)
		}
	}
	return out
}

func strs(live []rrow, keep func(rrow) bool) []string {
	var out []string
	for _, r := range live {
		if r.s != nil && (keep == nil || keep(r)) {
			out = append(out, *r.s)
		}
	}
	return out
}

// variance is the two-pass variance of xs (pop or sample), NULL where SQL
// says.
func variance(xs []float64, samp, sqrt bool) runtime.Value {
	n := float64(len(xs))
	if n == 0 || samp && n == 1 {
		return runtime.NullValue(runtime.Double)
	}
	mean := 0.0
	for _, x := range xs {
		mean += x
	}
	mean /= n
	ss := 0.0
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	if samp {
		n--
	}
	r := ss / n
	if sqrt {
		r = math.Sqrt(r)
	}
	return runtime.FloatValue(r)
}

func toFloats(xs []int64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

func distinctInts(xs []int64) []int64 {
	slices.Sort(xs)
	return slices.Compact(xs)
}

func firstOrNull(t runtime.Type, list []runtime.Value, last bool) runtime.Value {
	if len(list) == 0 {
		return runtime.NullValue(t)
	}
	if last {
		return list[len(list)-1]
	}
	return list[0]
}

var sep = "|"

// refAggs are the aggregates of the retraction tests: every function,
// with and without FILTER, over every type.
var refAggs = []refAgg{
	{agg.Spec{Func: agg.Count, Col: -1, Name: "n"}, func(l []rrow, _ []runtime.Value) runtime.Value { return runtime.IntValue(int64(len(l))) }, nil},
	{agg.Spec{Func: agg.Count, Col: 1, Name: "nv"}, func(l []rrow, _ []runtime.Value) runtime.Value { return runtime.IntValue(int64(len(ints(l, nil)))) }, nil},
	{agg.Spec{Func: agg.Sum, Col: 1, Name: "sum"}, func(l []rrow, _ []runtime.Value) runtime.Value {
		xs := ints(l, nil)
		if len(xs) == 0 {
			return runtime.NullValue(runtime.BigInt)
		}
		var s int64
		for _, x := range xs {
			s += x
		}
		return runtime.IntValue(s)
	}, nil},
	{agg.Spec{Func: agg.Avg, Col: 1, Name: "avg"}, func(l []rrow, _ []runtime.Value) runtime.Value {
		xs := ints(l, nil)
		if len(xs) == 0 {
			return runtime.NullValue(runtime.BigInt)
		}
		var s int64
		for _, x := range xs {
			s += x
		}
		return runtime.IntValue(s / int64(len(xs))) // truncated toward zero
	}, nil},
	{agg.Spec{Func: agg.Min, Col: 1, Name: "min"}, func(l []rrow, _ []runtime.Value) runtime.Value {
		xs := ints(l, nil)
		if len(xs) == 0 {
			return runtime.NullValue(runtime.BigInt)
		}
		return runtime.IntValue(slices.Min(xs))
	}, nil},
	{agg.Spec{Func: agg.Max, Col: 1, Name: "max"}, func(l []rrow, _ []runtime.Value) runtime.Value {
		xs := ints(l, nil)
		if len(xs) == 0 {
			return runtime.NullValue(runtime.BigInt)
		}
		return runtime.IntValue(slices.Max(xs))
	}, nil},
	{agg.Spec{Func: agg.Min, Col: 3, Name: "mins"}, func(l []rrow, _ []runtime.Value) runtime.Value {
		xs := strs(l, nil)
		if len(xs) == 0 {
			return runtime.NullValue(runtime.Varchar)
		}
		return runtime.StringValue(slices.Min(xs))
	}, nil},
	{agg.Spec{Func: agg.Max, Col: 2, Name: "maxd"}, func(l []rrow, _ []runtime.Value) runtime.Value {
		xs := floats(l)
		if len(xs) == 0 {
			return runtime.NullValue(runtime.Double)
		}
		return runtime.FloatValue(slices.Max(xs))
	}, nil},
	{agg.Spec{Func: agg.CountDistinct, Col: 1, Name: "ndv"}, func(l []rrow, _ []runtime.Value) runtime.Value {
		return runtime.IntValue(int64(len(distinctInts(ints(l, nil)))))
	}, nil},
	{agg.Spec{Func: agg.SumDistinct, Col: 1, Name: "sumdv"}, func(l []rrow, _ []runtime.Value) runtime.Value {
		xs := distinctInts(ints(l, nil))
		if len(xs) == 0 {
			return runtime.NullValue(runtime.BigInt)
		}
		var s int64
		for _, x := range xs {
			s += x
		}
		return runtime.IntValue(s)
	}, nil},
	{agg.Spec{Func: agg.CountDistinct, Col: 3, Name: "nds"}, func(l []rrow, _ []runtime.Value) runtime.Value {
		xs := strs(l, nil)
		slices.Sort(xs)
		return runtime.IntValue(int64(len(slices.Compact(xs))))
	}, nil},
	{agg.Spec{Func: agg.FirstValue, Col: 1, Name: "firstv"}, func(_ []rrow, list []runtime.Value) runtime.Value {
		return firstOrNull(runtime.BigInt, list, false)
	}, func(r rrow) (runtime.Value, bool) {
		if r.v == nil {
			return runtime.Value{}, false
		}
		return runtime.IntValue(*r.v), true
	}},
	{agg.Spec{Func: agg.LastValue, Col: 3, Name: "lasts"}, func(_ []rrow, list []runtime.Value) runtime.Value {
		return firstOrNull(runtime.Varchar, list, true)
	}, listS(nil)},
	{agg.Spec{Func: agg.ListAgg, Col: 3, Name: "list", Sep: &sep}, func(_ []rrow, list []runtime.Value) runtime.Value {
		if len(list) == 0 {
			return runtime.NullValue(runtime.Varchar)
		}
		var ss []string
		for _, v := range list {
			ss = append(ss, v.S)
		}
		return runtime.StringValue(strings.Join(ss, sep))
	}, listS(nil)},
	{agg.Spec{Func: agg.StddevPop, Col: 2, Name: "sdpop"}, func(l []rrow, _ []runtime.Value) runtime.Value { return variance(floats(l), false, true) }, nil},
	{agg.Spec{Func: agg.VarSamp, Col: 1, Name: "varsamp"}, func(l []rrow, _ []runtime.Value) runtime.Value {
		return variance(toFloats(ints(l, nil)), true, false)
	}, nil},
	{agg.Spec{Func: agg.BoolAnd, Col: 4, Name: "all"}, func(l []rrow, _ []runtime.Value) runtime.Value { return boolAgg(l, true) }, nil},
	{agg.Spec{Func: agg.BoolOr, Col: 4, Name: "any"}, func(l []rrow, _ []runtime.Value) runtime.Value { return boolAgg(l, false) }, nil},
	{agg.Spec{Func: agg.Count, Col: -1, Name: "nf", Filter: 4, HasFilter: true}, func(l []rrow, _ []runtime.Value) runtime.Value {
		n := 0
		for _, r := range l {
			if r.filtered() {
				n++
			}
		}
		return runtime.IntValue(int64(n))
	}, nil},
	{agg.Spec{Func: agg.Sum, Col: 1, Name: "sumf", Filter: 4, HasFilter: true}, func(l []rrow, _ []runtime.Value) runtime.Value {
		xs := ints(l, rrow.filtered)
		if len(xs) == 0 {
			return runtime.NullValue(runtime.BigInt)
		}
		var s int64
		for _, x := range xs {
			s += x
		}
		return runtime.IntValue(s)
	}, nil},
	{agg.Spec{Func: agg.CountDistinct, Col: 3, Name: "ndsf", Filter: 4, HasFilter: true}, func(l []rrow, _ []runtime.Value) runtime.Value {
		xs := strs(l, rrow.filtered)
		slices.Sort(xs)
		return runtime.IntValue(int64(len(slices.Compact(xs))))
	}, nil},
	{agg.Spec{Func: agg.StddevSamp, Col: 2, Name: "sdsamp"}, func(l []rrow, _ []runtime.Value) runtime.Value { return variance(floats(l), true, true) }, nil},
	{agg.Spec{Func: agg.VarPop, Col: 2, Name: "varpop"}, func(l []rrow, _ []runtime.Value) runtime.Value { return variance(floats(l), false, false) }, nil},
	{agg.Spec{Func: agg.LastValue, Col: 2, Name: "lastd"}, func(_ []rrow, list []runtime.Value) runtime.Value {
		return firstOrNull(runtime.Double, list, true)
	}, func(r rrow) (runtime.Value, bool) {
		if r.d == nil {
			return runtime.Value{}, false
		}
		return runtime.FloatValue(*r.d), true
	}},
	{agg.Spec{Func: agg.FirstValue, Col: 3, Name: "firstsf", Filter: 4, HasFilter: true}, func(_ []rrow, list []runtime.Value) runtime.Value {
		return firstOrNull(runtime.Varchar, list, false)
	}, listS(rrow.filtered)},
	{agg.Spec{Func: agg.Min, Col: 1, Name: "minf", Filter: 4, HasFilter: true}, func(l []rrow, _ []runtime.Value) runtime.Value {
		xs := ints(l, rrow.filtered)
		if len(xs) == 0 {
			return runtime.NullValue(runtime.BigInt)
		}
		return runtime.IntValue(slices.Min(xs))
	}, nil},
}

func listS(keep func(rrow) bool) func(r rrow) (runtime.Value, bool) {
	return func(r rrow) (runtime.Value, bool) {
		if r.s == nil || keep != nil && !keep(r) {
			return runtime.Value{}, false
		}
		return runtime.StringValue(*r.s), true
	}
}

func boolAgg(l []rrow, and bool) runtime.Value {
	n, trues := 0, 0
	for _, r := range l {
		if r.f != nil {
			n++
			if *r.f {
				trues++
			}
		}
	}
	switch {
	case n == 0:
		return runtime.NullValue(runtime.Boolean)
	case and:
		return runtime.BoolValue(trues == n)
	default:
		return runtime.BoolValue(trues > 0)
	}
}

func aggSpecs(aggs []refAgg) []agg.Spec {
	var out []agg.Spec
	for _, a := range aggs {
		out = append(out, a.spec)
	}
	return out
}

// tb is what the helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

// change is one row of the input changelog.
type change struct {
	kind runtime.RowKind
	row  rrow
}

// reference applies a changelog to the aggregates' references: the
// expected result per key (keys without live rows have none).
func reference(aggs []refAgg, log []change) map[int64][]runtime.Value {
	live := map[int64][]rrow{}
	lists := map[int64][][]runtime.Value{}
	for _, c := range log {
		k := c.row.k
		if lists[k] == nil {
			lists[k] = make([][]runtime.Value, len(aggs))
		}
		add := c.kind == runtime.Insert || c.kind == runtime.UpdateAfter
		if add {
			live[k] = append(live[k], c.row)
		} else {
			i := slices.IndexFunc(live[k], func(r rrow) bool { return sameRow(r, c.row) })
			if i < 0 {
				panic("the test retracts a row it did not insert")
			}
			live[k] = slices.Delete(live[k], i, i+1)
		}
		for ai, a := range aggs {
			if a.list == nil {
				continue
			}
			v, ok := a.list(c.row)
			if !ok {
				continue
			}
			if add {
				lists[k][ai] = append(lists[k][ai], v)
			} else if i := slices.Index(lists[k][ai], v); i >= 0 {
				lists[k][ai] = slices.Delete(lists[k][ai], i, i+1)
			}
		}
	}
	out := map[int64][]runtime.Value{}
	for k, l := range live {
		if len(l) == 0 {
			continue
		}
		row := []runtime.Value{runtime.IntValue(k)}
		for ai, a := range aggs {
			row = append(row, a.ref(l, lists[k][ai]))
		}
		out[k] = row
	}
	return out
}

func sameRow(a, b rrow) bool {
	return a.k == b.k && eqp(a.v, b.v) && eqp(a.d, b.d) && eqp(a.s, b.s) && eqp(a.f, b.f)
}

func eqp[T comparable](a, b *T) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// applyChangelog applies an aggregation's output changelog to a map of
// the current row per key, failing on a retraction of a row it does not
// hold or an insert over a row it holds.
func applyChangelog(t tb, rows [][]runtime.Value, kinds []runtime.RowKind) map[int64][]runtime.Value {
	t.Helper()
	cur := map[int64][]runtime.Value{}
	for i, r := range rows {
		k := r[0].I
		switch kinds[i] {
		case runtime.UpdateBefore, runtime.Delete:
			if !slices.Equal(cur[k], r) {
				t.Fatalf("row %d: %s %s retracts a row it does not hold (holds %s)", i, kinds[i], rttest.Format(r), rttest.Format(cur[k]))
			}
			delete(cur, k)
		default:
			if c, ok := cur[k]; ok {
				t.Fatalf("row %d: %s %s over %s, not retracted", i, kinds[i], rttest.Format(r), rttest.Format(c))
			}
			cur[k] = r
		}
	}
	return cur
}

// sameValue compares a result to its reference, floats to a relative
// 1e-9 (the variances: 1e-6).
func sameValue(got, want runtime.Value, tol float64) bool {
	if got.Null || want.Null {
		return got.Null == want.Null
	}
	if want.Type == runtime.Double {
		return math.Abs(got.F-want.F) <= tol*max(1, math.Abs(want.F))
	}
	return got.I == want.I && got.S == want.S
}

func compareFinal(t tb, aggs []refAgg, got, want map[int64][]runtime.Value) {
	t.Helper()
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Fatalf("key %d: no result, want %s", k, rttest.Format(w))
		}
		for i := range w {
			tol := 1e-9
			if i > 0 {
				switch aggs[i-1].spec.Func {
				case agg.StddevPop, agg.StddevSamp, agg.VarPop, agg.VarSamp:
					tol = 1e-6
				}
			}
			if !sameValue(g[i], w[i], tol) {
				name := "key"
				if i > 0 {
					name = aggs[i-1].spec.Name
				}
				t.Fatalf("key %d, %s: got %s, want %s\n got %s\nwant %s", k, name, g[i], w[i], rttest.Format(g), rttest.Format(w))
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Fatalf("key %d: result %s, but the key has no rows", k, rttest.Format(g))
		}
	}
}

// runRetract runs source → kinds → GROUP BY k (Retract) at parallelism par
// → collector over the changelog cut into batches of the given sizes, and
// returns the output changelog applied per key.
func runRetract(t tb, aggs []refAgg, log []change, sizes []int, par int, retract bool) map[int64][]runtime.Value {
	t.Helper()
	newOp, out, err := New(Spec{In: rin, KeyCols: []int{0}, Aggs: aggSpecs(aggs), Retract: retract})
	if err != nil {
		t.Fatal(err)
	}
	var chunks []rttest.Chunk
	for i, n := 0, 0; i < len(log); n++ {
		size := sizes[n%len(sizes)]
		var rows [][]runtime.Value
		for _, c := range log[i:min(i+size, len(log))] {
			rows = append(rows, c.row.values(c.kind))
		}
		chunks = append(chunks, rttest.Chunk{Rows: rows})
		i += size
	}
	g := runtime.NewGraph("t")
	src := g.AddSource("src", rin, 1, rttest.Source(rin, chunks), runtime.NoWatermarks)
	kinds := g.AddOperator("kinds", rin, 1, 1, func() runtime.Operator { return &kindsOp{col: 5} })
	a := g.AddOperator("agg", out, par, 1, newOp)
	c, sink := rttest.NewCollector(out)
	k := g.AddOperator("sink", out, 1, 1, sink)
	g.Connect(src, kinds, runtime.Forward)
	g.Connect(kinds, a, runtime.Keyed, 0)
	g.Connect(a, k, runtime.Global)
	if err := runtime.Run(context.Background(), g, runtime.Options{Parallelism: par}); err != nil {
		t.Fatal(err)
	}
	return applyChangelog(t, c.Rows(), c.Kinds())
}

// genChangelog draws a valid retract-mode changelog: inserts, and
// retractions (-U, maybe followed by +U of the same key; or -D) only of
// rows inserted before and still live.
func genChangelog(t *rapid.T, retract bool) []change {
	return makeChangelog(func(lo, hi int, label string) int { return rapid.IntRange(lo, hi).Draw(t, label) }, retract, 5, 200)
}

// makeChangelog is genChangelog drawing from draw (lo..hi inclusive), with
// up to maxKeys keys and maxSteps steps.
func makeChangelog(draw func(lo, hi int, label string) int, retract bool, maxKeys, maxSteps int) []change {
	keys := draw(1, maxKeys, "keys")
	steps := draw(1, maxSteps, "steps")
	var log []change
	var live []rrow
	newRow := func(k int64) rrow {
		r := rrow{k: k}
		if x := draw(-5, 6, "v"); x < 6 {
			v := int64(x)
			r.v = &v
		}
		if x := draw(-8, 9, "d"); x < 9 {
			d := float64(x) / 4
			r.d = &d
		}
		if x := draw(0, 5, "s"); x < 5 {
			s := []string{"a", "b", "c", "dd", ""}[x]
			r.s = &s
		}
		if x := draw(0, 2, "f"); x < 2 {
			f := x == 1
			r.f = &f
		}
		return r
	}
	for range steps {
		if retract && len(live) > 0 && draw(0, 9, "retract?") < 4 {
			i := draw(0, len(live)-1, "which")
			r := live[i]
			live = slices.Delete(live, i, i+1)
			if draw(0, 1, "delete?") == 1 {
				log = append(log, change{runtime.Delete, r})
				continue
			}
			log = append(log, change{runtime.UpdateBefore, r})
			if draw(0, 1, "then +U?") == 1 {
				n := newRow(r.k)
				live = append(live, n)
				log = append(log, change{runtime.UpdateAfter, n})
			}
			continue
		}
		r := newRow(int64(draw(0, keys-1, "k")))
		live = append(live, r)
		log = append(log, change{runtime.Insert, r})
	}
	return log
}

// TestRetractMatchesReference checks every aggregate (with and without
// FILTER) over random changelogs of inserts and retractions against a
// plain Go reference, by the final state of the output changelog (which
// must never retract a row it does not hold), at parallelism 1 to 3.
func TestRetractMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		log := genChangelog(t, true)
		sizes := rapid.SliceOfN(rapid.IntRange(1, 40), 1, 5).Draw(t, "batch sizes")
		par := rapid.IntRange(1, 3).Draw(t, "parallelism")
		got := runRetract(t, refAggs, log, sizes, par, true)
		compareFinal(t, refAggs, got, reference(refAggs, log))
	})
}

// TestAppendMatchesReference is TestRetractMatchesReference over
// append-only input and the append-only (flat) accumulators.
func TestAppendMatchesReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		log := genChangelog(t, false)
		sizes := rapid.SliceOfN(rapid.IntRange(1, 40), 1, 5).Draw(t, "batch sizes")
		par := rapid.IntRange(1, 3).Draw(t, "parallelism")
		got := runRetract(t, refAggs, log, sizes, par, false)
		compareFinal(t, refAggs, got, reference(refAggs, log))
	})
}

// TestRetractChangelog pins the changelog of a retracting GROUP BY: -U/+U
// pairs per group in first-touch order, +I for a group that had no rows,
// -D when its last row is retracted, and nothing for rows added and
// retracted within one batch or retractions of a group without rows.
func TestRetractChangelog(t *testing.T) {
	in := runtime.NewSchema(runtime.Field{Name: "k", Type: runtime.Varchar}, runtime.Field{Name: "v", Type: runtime.BigInt})
	newOp, out, err := New(Spec{In: in, KeyCols: []int{0}, Retract: true, Aggs: []agg.Spec{
		{Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Max, Col: 1, Name: "hi"}, {Func: agg.ListAgg, Col: 0, Name: "ks"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "(k VARCHAR NOT NULL, n BIGINT NOT NULL, hi BIGINT NOT NULL, ks VARCHAR)" {
		t.Fatalf("schema %s", got)
	}
	o := newOp()
	if err := o.Open(rttest.NewContext("agg", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	c, _ := rttest.NewCollector(out)
	type r struct {
		kind runtime.RowKind
		k    string
		v    int64
	}
	feed := func(rows ...r) {
		t.Helper()
		var vals [][]runtime.Value
		for _, x := range rows {
			vals = append(vals, []runtime.Value{runtime.StringValue(x.k), runtime.IntValue(x.v)})
		}
		b := rttest.NewBatch(in, vals...)
		for i, x := range rows {
			b.SetKind(i, x.kind)
		}
		if err := o.ProcessBatch(0, b, c); err != nil {
			t.Fatal(err)
		}
	}
	feed(r{runtime.Insert, "a", 5}, r{runtime.Insert, "b", 1}, r{runtime.Insert, "a", 9})
	feed(r{runtime.UpdateBefore, "a", 9}, r{runtime.UpdateAfter, "a", 3}, r{runtime.Delete, "b", 1})
	feed(r{runtime.Delete, "b", 1}, r{runtime.Insert, "c", 1}, r{runtime.Delete, "c", 1}, r{runtime.Insert, "b", 2})
	feed(r{runtime.Delete, "a", 5}, r{runtime.Delete, "a", 3})
	want := []string{
		"+Ia,2,9,a,a", "+Ib,1,1,b",
		"-Ua,2,9,a,a", "+Ua,2,5,a,a", "-Db,1,1,b",
		"+Ib,1,2,b",
		"-Da,2,5,a,a",
	}
	if got := c.Changelog(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("changelog\n got %v\nwant %v", got, want)
	}
}

// TestAvgOfMaxIsTheBatchAnswer is Nexmark q4's shape: AVG, per category,
// of the MAX price per auction, where the MAX is itself an updating GROUP
// BY feeding a retracting one; at parallelism 1 and 3 the final result is
// exactly the batch answer.
func TestAvgOfMaxIsTheBatchAnswer(t *testing.T) {
	bids := runtime.NewSchema(runtime.Field{Name: "auction", Type: runtime.BigInt}, runtime.Field{Name: "category", Type: runtime.BigInt},
		runtime.Field{Name: "price", Type: runtime.BigInt})
	var rows [][]runtime.Value
	best := map[[2]int64]int64{}
	x := uint64(7)
	for i := 0; i < 20_000; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		auction := int64(x>>40) % 500
		category := auction % 7
		price := int64(x>>20) % 1_000_000
		rows = append(rows, []runtime.Value{runtime.IntValue(auction), runtime.IntValue(category), runtime.IntValue(price)})
		k := [2]int64{auction, category}
		if p, ok := best[k]; !ok || price > p {
			best[k] = price
		}
	}
	sum, n := map[int64]int64{}, map[int64]int64{}
	for k, p := range best {
		sum[k[1]] += p
		n[k[1]]++
	}
	for _, par := range []int{1, 3} {
		maxOp, maxOut, err := New(Spec{In: bids, KeyCols: []int{0, 1}, Aggs: []agg.Spec{{Func: agg.Max, Col: 2, Name: "final"}}})
		if err != nil {
			t.Fatal(err)
		}
		avgOp, avgOut, err := New(Spec{In: maxOut, KeyCols: []int{1}, Retract: true, Aggs: []agg.Spec{{Func: agg.Avg, Col: 2, Name: "avg"}}})
		if err != nil {
			t.Fatal(err)
		}
		g := runtime.NewGraph("q4")
		src := g.AddSource("bids", bids, 2, rttest.Source(bids, rttest.Deal(rows, 300, 4)), runtime.NoWatermarks)
		m := g.AddOperator("max", maxOut, par, 1, maxOp)
		a := g.AddOperator("avg", avgOut, par, 1, avgOp)
		c, sink := rttest.NewCollector(avgOut)
		k := g.AddOperator("sink", avgOut, 1, 1, sink)
		g.Connect(src, m, runtime.Keyed, 0, 1)
		g.Connect(m, a, runtime.Keyed, 1)
		g.Connect(a, k, runtime.Global)
		if err := runtime.Run(context.Background(), g, runtime.Options{Parallelism: par}); err != nil {
			t.Fatal(err)
		}
		got := applyChangelog(t, c.Rows(), c.Kinds())
		if len(got) != len(sum) {
			t.Fatalf("parallelism %d: %d categories, want %d", par, len(got), len(sum))
		}
		for cat, s := range sum {
			want := s / n[cat] // BIGINT, truncated as Flink's
			if r := got[cat]; r == nil || r[1].I != want {
				t.Fatalf("parallelism %d, category %d: got %v, want %v", par, cat, r, want)
			}
		}
	}
}

// TestSnapshotRestoreMidStream checks that a GROUP BY, retracting or not,
// restored from a snapshot taken between any two batches emits exactly
// what an uninterrupted one does, with every aggregate's state (multisets,
// value lists, counted sets, LISTAGG buffers, arrival numbers) in the
// snapshot.
func TestSnapshotRestoreMidStream(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		retract := rapid.Bool().Draw(t, "retract")
		log := genChangelog(t, retract)
		size := rapid.IntRange(1, 30).Draw(t, "batch size")
		var batches []*runtime.Batch
		for i := 0; i < len(log); i += size {
			var rows [][]runtime.Value
			for _, c := range log[i:min(i+size, len(log))] {
				rows = append(rows, c.row.values(c.kind))
			}
			b := rttest.NewBatch(rin, rows...)
			for j, c := range log[i:min(i+size, len(log))] {
				b.SetKind(j, c.kind)
			}
			batches = append(batches, b)
		}
		cut := rapid.IntRange(0, len(batches)).Draw(t, "snapshot after")
		newOp, out, err := New(Spec{In: rin, KeyCols: []int{0}, Aggs: aggSpecs(refAggs), Retract: retract})
		if err != nil {
			t.Fatal(err)
		}
		open := func() runtime.Operator {
			o := newOp()
			if err := o.Open(rttest.NewContext("agg", 0, 1)); err != nil {
				t.Fatal(err)
			}
			return o
		}
		whole, _ := rttest.NewCollector(out)
		o := open()
		for _, b := range batches {
			if err := o.ProcessBatch(0, b, whole); err != nil {
				t.Fatal(err)
			}
		}
		o.Close()
		parts, _ := rttest.NewCollector(out)
		o = open()
		for _, b := range batches[:cut] {
			if err := o.ProcessBatch(0, b, parts); err != nil {
				t.Fatal(err)
			}
		}
		data, err := o.(runtime.Snapshotter).SnapshotState(1)
		if err != nil {
			t.Fatal(err)
		}
		o.Close()
		o = open()
		defer o.Close()
		if err := o.(runtime.Snapshotter).RestoreState(data); err != nil {
			t.Fatal(err)
		}
		for _, b := range batches[cut:] {
			if err := o.ProcessBatch(0, b, parts); err != nil {
				t.Fatal(err)
			}
		}
		if w, g := whole.Changelog(), parts.Changelog(); !slices.Equal(w, g) {
			t.Fatalf("restored after batch %d of %d:\n got %v\nwant %v", cut, len(batches), g, w)
		}
	})
}

// TestRetractLimitsCountLiveGroups checks that MaxGroups counts the groups
// holding rows: groups whose rows were all retracted do not count, and are
// compacted away.
func TestRetractLimitsCountLiveGroups(t *testing.T) {
	in := runtime.NewSchema(runtime.Field{Name: "k", Type: runtime.BigInt})
	newOp, _, err := New(Spec{In: in, KeyCols: []int{0}, Retract: true, MaxGroups: 10, Aggs: []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}}})
	if err != nil {
		t.Fatal(err)
	}
	o := newOp()
	if err := o.Open(rttest.NewContext("agg", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	for i := int64(0); i < 5000; i++ {
		b := rttest.NewBatch(in, []runtime.Value{runtime.IntValue(i)}, []runtime.Value{runtime.IntValue(i)})
		b.SetKind(1, runtime.Delete)
		if err := o.ProcessBatch(0, b, &rttest.Discard{}); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
	if n := o.(*op).table.Len(); n > 2*compactDeadAt+2 {
		t.Fatalf("%d groups kept for keys without rows", n)
	}
	var rows [][]runtime.Value
	for i := int64(0); i < 11; i++ {
		rows = append(rows, []runtime.Value{runtime.IntValue(i)})
	}
	if err := o.ProcessBatch(0, rttest.NewBatch(in, rows...), &rttest.Discard{}); err == nil || !strings.Contains(err.Error(), "11 groups") {
		t.Fatalf("11 live groups over a limit of 10: got %v", err)
	}
}

func ExampleSpec_retract() {
	// AVG over the output of another GROUP BY (an updating stream).
	in := runtime.NewSchema(runtime.Field{Name: "auction", Type: runtime.BigInt}, runtime.Field{Name: "category", Type: runtime.BigInt},
		runtime.Field{Name: "final", Type: runtime.BigInt})
	_, out, err := New(Spec{In: in, KeyCols: []int{1}, Retract: true, Aggs: []agg.Spec{{Func: agg.Avg, Col: 2, Name: "avg"}}})
	fmt.Println(out, err)
	// Output: (category BIGINT NOT NULL, avg BIGINT NOT NULL) <nil>
}

// TestRetractAfterTTLIsIgnored checks a retracting GROUP BY with a state
// TTL: a retraction reaching an expired group is ignored (its state is
// gone, as in Flink), a later insert starts the group anew with +I, and a
// group expired but not yet purged does not retract its stale result.
func TestRetractAfterTTLIsIgnored(t *testing.T) {
	in := runtime.NewSchema(runtime.Field{Name: "k", Type: runtime.Varchar}, runtime.Field{Name: "v", Type: runtime.BigInt})
	clock := int64(1_000_000)
	newOp, out, err := New(Spec{In: in, KeyCols: []int{0}, Retract: true, TTL: time.Second, Clock: func() int64 { return clock },
		Aggs: []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Min, Col: 1, Name: "lo"}}})
	if err != nil {
		t.Fatal(err)
	}
	o := newOp().(*op)
	if err := o.Open(rttest.NewContext("agg", 0, 1)); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	c, _ := rttest.NewCollector(out)
	feed := func(kinds []runtime.RowKind, rows ...[]runtime.Value) {
		t.Helper()
		b := rttest.NewBatch(in, rows...)
		for i, k := range kinds {
			b.SetKind(i, k)
		}
		if err := o.ProcessBatch(0, b, c); err != nil {
			t.Fatal(err)
		}
	}
	kv := func(k string, v int64) []runtime.Value {
		return []runtime.Value{runtime.StringValue(k), runtime.IntValue(v)}
	}
	I, D := runtime.Insert, runtime.Delete
	feed([]runtime.RowKind{I, I, I}, kv("a", 1), kv("a", 2), kv("b", 3))
	clock += 2000 // both expire
	feed([]runtime.RowKind{D, I}, kv("a", 1), kv("b", 7))
	feed([]runtime.RowKind{I}, kv("a", 5))
	// a, updated now, expires before the next purge: a retraction finds
	// it expired, not purged, and is ignored all the same.
	clock += 900
	feed([]runtime.RowKind{I}, kv("x", 0)) // purges (nothing), next purge in 250 ms
	clock += 200
	feed([]runtime.RowKind{D, I}, kv("a", 5), kv("a", 6))
	want := []string{
		"+Ia,2,1", "+Ib,1,3",
		"+Ib,1,7",
		"+Ia,1,5",
		"+Ix,1,0",
		"+Ia,1,6",
	}
	if got := c.Changelog(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("changelog\n got %v\nwant %v", got, want)
	}
	if n := o.accs.Ignored(); n != 2 {
		t.Fatalf("%d retractions ignored, want 2", n)
	}
}
