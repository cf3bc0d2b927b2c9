package agg

import (
	"math"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// in is the input schema of the tests.
var in = runtime.NewSchema(
	runtime.Field{Name: "i", Type: runtime.BigInt, Nullable: true},
	runtime.Field{Name: "d", Type: runtime.Double, Nullable: true},
	runtime.Field{Name: "s", Type: runtime.Varchar, Nullable: true},
	runtime.Field{Name: "n", Type: runtime.BigInt},
	runtime.Field{Name: "ts", Type: runtime.Timestamp},
	runtime.Field{Name: "b", Type: runtime.Boolean, Nullable: true},
	runtime.Field{Name: "x", Type: runtime.Int},
)

var null = runtime.Value{Null: true}

func row(i, d, s runtime.Value, n int64) []runtime.Value {
	return []runtime.Value{i, d, s, runtime.IntValue(n), runtime.TimeValue(n * 10), null, {Type: runtime.Int, I: n}}
}

func allRows(b *runtime.Batch) []int32 {
	rows := make([]int32, b.Len())
	for i := range rows {
		rows[i] = int32(b.Row(i))
	}
	return rows
}

// tb is what the helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// emit formats the results of groups (all when none given), one line per
// group.
func emit(t tb, l *Layout, a *Accs, groups ...int32) []string {
	t.Helper()
	if len(groups) == 0 {
		for g := 0; g < a.Len(); g++ {
			groups = append(groups, int32(g))
		}
	}
	out := runtime.NewBatch(runtime.NewSchema(l.Fields()...))
	for _, g := range groups {
		a.Emit(g, out, 0)
		out.N++
	}
	var lines []string
	for i := 0; i < out.Len(); i++ {
		var parts []string
		for c, v := range out.Values(i) {
			if v.Null && !l.Fields()[c].Nullable {
				t.Fatalf("%s is NOT NULL but is NULL", l.Fields()[c].Name)
			}
			parts = append(parts, rttest.Quote(v))
		}
		lines = append(lines, strings.Join(parts, ","))
	}
	return lines
}

func TestAggregates(t *testing.T) {
	i64, f64, str := runtime.IntValue, runtime.FloatValue, runtime.StringValue
	rows := [][]runtime.Value{
		row(i64(4), f64(0.5), str("b"), 3),
		row(null, null, null, -1),
		row(i64(-7), f64(-2.25), str("a"), 5),
		row(i64(4), f64(0.5), str("b"), 3),
		row(i64(0), f64(1e300), str(""), 0),
	}
	onlyNull := [][]runtime.Value{row(null, null, null, 2), row(null, null, null, 4)}
	f := func(spec Spec, want, wantNull string) {
		t.Helper()
		l, err := NewLayout(in, []Spec{spec})
		if err != nil {
			t.Fatalf("%s: %v", spec.Name, err)
		}
		for k, data := range [][][]runtime.Value{rows, onlyNull} {
			a := NewAccs(l)
			b := rttest.NewBatch(in, data...)
			a.Grow(1)
			rs := allRows(b)
			a.Update(b, rs, make([]int32, len(rs)))
			b.Release()
			got := emit(t, l, a)[0]
			if w := []string{want, wantNull}[k]; got != w {
				t.Fatalf("%s over %d rows: got %s, want %s", spec.Name, len(data), got, w)
			}
		}
	}
	f(Spec{Func: Count, Col: -1, Name: "COUNT(*)"}, "5", "2")
	f(Spec{Func: Count, Col: 0, Name: "COUNT(i)"}, "4", "0")
	f(Spec{Func: Count, Col: 2, Name: "COUNT(s)"}, "4", "0")
	f(Spec{Func: Count, Col: 3, Name: "COUNT(n)"}, "5", "2")
	f(Spec{Func: CountDistinct, Col: 0, Name: "COUNT(DISTINCT i)"}, "3", "0")
	f(Spec{Func: CountDistinct, Col: 1, Name: "COUNT(DISTINCT d)"}, "3", "0")
	f(Spec{Func: CountDistinct, Col: 2, Name: "COUNT(DISTINCT s)"}, "3", "0")
	f(Spec{Func: CountDistinct, Col: 3, Name: "COUNT(DISTINCT n)"}, "4", "2")
	f(Spec{Func: Sum, Col: 0, Name: "SUM(i)"}, "1", "NULL")
	f(Spec{Func: Sum, Col: 1, Name: "SUM(d)"}, "1e+300", "NULL")
	f(Spec{Func: Sum, Col: 3, Name: "SUM(n)"}, "10", "6")
	f(Spec{Func: Sum, Col: 6, Name: "SUM(x)"}, "10", "6")
	f(Spec{Func: Min, Col: 0, Name: "MIN(i)"}, "-7", "NULL")
	f(Spec{Func: Max, Col: 0, Name: "MAX(i)"}, "4", "NULL")
	f(Spec{Func: Min, Col: 1, Name: "MIN(d)"}, "-2.25", "NULL")
	f(Spec{Func: Max, Col: 1, Name: "MAX(d)"}, "1e+300", "NULL")
	f(Spec{Func: Min, Col: 2, Name: "MIN(s)"}, `""`, "NULL")
	f(Spec{Func: Max, Col: 2, Name: "MAX(s)"}, `"b"`, "NULL")
	f(Spec{Func: Min, Col: 3, Name: "MIN(n)"}, "-1", "2")
	f(Spec{Func: Max, Col: 3, Name: "MAX(n)"}, "5", "4")
	f(Spec{Func: Min, Col: 4, Name: "MIN(ts)"}, "-10", "20")
	f(Spec{Func: Max, Col: 4, Name: "MAX(ts)"}, "50", "40")
	f(Spec{Func: Max, Col: 5, Name: "MAX(b)"}, "NULL", "NULL")
	f(Spec{Func: Avg, Col: 0, Name: "AVG(i)"}, "0", "NULL") // 1/4, truncated
	f(Spec{Func: Avg, Col: 1, Name: "AVG(d)"}, "2.5e+299", "NULL")
	f(Spec{Func: Avg, Col: 3, Name: "AVG(n)"}, "2", "3")
	f(Spec{Func: Avg, Col: 6, Name: "AVG(x)"}, "2", "3")
}

func TestExtremeValues(t *testing.T) {
	l, err := NewLayout(in, []Spec{{Func: Min, Col: 3, Name: "mn"}, {Func: Max, Col: 3, Name: "mx"}, {Func: Min, Col: 1, Name: "mnd"}, {Func: Max, Col: 1, Name: "mxd"}})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAccs(l)
	a.Grow(2)
	b := rttest.NewBatch(in,
		row(null, runtime.FloatValue(math.Inf(1)), null, math.MaxInt64),
		row(null, runtime.FloatValue(math.Inf(-1)), null, math.MinInt64),
	)
	defer b.Release()
	a.Update(b, []int32{0, 1}, []int32{0, 1})
	got := strings.Join(emit(t, l, a), " ")
	want := "9223372036854775807,9223372036854775807,+Inf,+Inf -9223372036854775808,-9223372036854775808,-Inf,-Inf"
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// TestMergeEqualsUpdate checks that folding rows into several groups and
// merging those (as sessions do) gives what folding them into one does.
func TestMergeEqualsUpdate(t *testing.T) {
	specs := []Spec{
		{Func: Count, Col: -1, Name: "c"}, {Func: Count, Col: 0, Name: "ci"}, {Func: Count, Col: 3, Name: "cn"},
		{Func: CountDistinct, Col: 0, Name: "cdi"}, {Func: CountDistinct, Col: 1, Name: "cdd"}, {Func: CountDistinct, Col: 2, Name: "cds"},
		{Func: Sum, Col: 0, Name: "si"}, {Func: Sum, Col: 1, Name: "sd"}, {Func: Sum, Col: 3, Name: "sn"},
		{Func: Min, Col: 0, Name: "mi"}, {Func: Max, Col: 0, Name: "xi"}, {Func: Min, Col: 1, Name: "md"}, {Func: Max, Col: 1, Name: "xd"},
		{Func: Min, Col: 2, Name: "ms"}, {Func: Max, Col: 2, Name: "xs"}, {Func: Min, Col: 3, Name: "mn"}, {Func: Max, Col: 3, Name: "xn"},
		{Func: Avg, Col: 0, Name: "ai"}, {Func: Avg, Col: 1, Name: "ad"}, {Func: Avg, Col: 3, Name: "an"},
	}
	l, err := NewLayout(in, specs)
	if err != nil {
		t.Fatal(err)
	}
	maybe := func(g *rapid.Generator[runtime.Value]) *rapid.Generator[runtime.Value] {
		return rapid.OneOf(g, rapid.Just(null))
	}
	ints := maybe(rapid.Map(rapid.Int64Range(-5, 5), runtime.IntValue))
	// Multiples of 1/4: sums are exact in any order.
	dbls := maybe(rapid.Map(rapid.IntRange(-8, 8), func(x int) runtime.Value { return runtime.FloatValue(float64(x) / 4) }))
	strs := maybe(rapid.Map(rapid.SampledFrom([]string{"", "a", "b", "ab", "é"}), runtime.StringValue))
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 40).Draw(t, "rows")
		parts := rapid.IntRange(1, 5).Draw(t, "parts")
		b := runtime.NewBatch(in)
		defer b.Release()
		part := make([]int32, n)
		for r := 0; r < n; r++ {
			b.AppendValues(row(ints.Draw(t, "i"), dbls.Draw(t, "d"), strs.Draw(t, "s"), rapid.Int64Range(-3, 3).Draw(t, "n"))...)
			part[r] = int32(rapid.IntRange(0, parts-1).Draw(t, "part"))
		}
		// One group for everything.
		whole := NewAccs(l)
		whole.Grow(1)
		rows := allRows(b)
		whole.Update(b, rows, make([]int32, n))
		// One group per part, merged into a group that was used and
		// cleared before.
		split := NewAccs(l)
		split.Grow(parts)
		split.Update(b, rows, part)
		dst := split.Add()
		split.Update(b, rows[:1], []int32{dst})
		split.Clear(dst)
		for p := 0; p < parts; p++ {
			split.Merge(dst, split, int32(p))
		}
		got := emit(t, l, split, dst)[0]
		want := emit(t, l, whole)[0]
		if got != want {
			t.Fatalf("merged parts:\ngot  %s\nwant %s", got, want)
		}
	})
}

func TestResetAndClear(t *testing.T) {
	l, err := NewLayout(in, []Spec{{Func: Min, Col: 2, Name: "m"}, {Func: Sum, Col: 0, Name: "s"}, {Func: CountDistinct, Col: 2, Name: "cd"}, {Func: Max, Col: 3, Name: "x"}})
	if err != nil {
		t.Fatal(err)
	}
	a := NewAccs(l)
	b := rttest.NewBatch(in, row(runtime.IntValue(3), null, runtime.StringValue("q"), 9))
	defer b.Release()
	a.Grow(2)
	a.Update(b, []int32{0, 0}, []int32{0, 1})
	a.Clear(1)
	a.Update(b, []int32{0}, []int32{0})
	if got, want := strings.Join(emit(t, l, a), " "), `"q",6,1,9 NULL,NULL,0,-9223372036854775808`; got != want {
		t.Fatalf("after Clear: got %s, want %s", got, want)
	}
	a.Reset()
	if a.Len() != 0 {
		t.Fatalf("after Reset: %d groups", a.Len())
	}
	a.Grow(1)
	if got, want := strings.Join(emit(t, l, a), " "), `NULL,NULL,0,-9223372036854775808`; got != want {
		t.Fatalf("after Reset: got %s, want %s", got, want)
	}
}

func TestNewLayoutErrors(t *testing.T) {
	f := func(s Spec, want string) {
		t.Helper()
		_, err := NewLayout(in, []Spec{s})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%v: got %v, want an error containing %q", s, err, want)
		}
	}
	f(Spec{Func: Sum, Col: 2, Name: "x"}, "cannot sum VARCHAR")
	f(Spec{Func: Avg, Col: 4, Name: "x"}, "cannot average TIMESTAMP")
	f(Spec{Func: Sum, Col: -1, Name: "x"}, "no such input column")
	f(Spec{Func: Min, Col: 7, Name: "x"}, "no such input column")
	f(Spec{Func: Func(99), Col: 0, Name: "x"}, "unknown aggregate")
	f(Spec{Func: 0, Col: 0, Name: "x"}, "unknown aggregate")
}

func TestFuncString(t *testing.T) {
	if got := Func(99).String(); !strings.Contains(got, "99") {
		t.Fatalf("Func(99).String() = %q", got)
	}
	if got := CountDistinct.String(); got != "COUNT DISTINCT" {
		t.Fatalf("CountDistinct.String() = %q", got)
	}
}

func TestParseFunc(t *testing.T) {
	f := func(name string, distinct bool, want Func, ok bool) {
		t.Helper()
		got, gotOK := ParseFunc(name, distinct)
		if got != want && ok || gotOK != ok {
			t.Fatalf("ParseFunc(%q, %v) = %v, %v; want %v, %v", name, distinct, got, gotOK, want, ok)
		}
	}
	f("count", false, Count, true)
	f("COUNT", true, CountDistinct, true)
	f("Sum", false, Sum, true)
	f("sum", true, SumDistinct, true)
	f("stddev_pop", false, StddevPop, true)
	f("STDDEV", false, StddevSamp, true)
	f("variance", false, VarSamp, true)
	f("var_pop", false, VarPop, true)
	f("first_value", false, FirstValue, true)
	f("last_value", false, LastValue, true)
	f("listagg", false, ListAgg, true)
	f("listagg", true, 0, false)
	f("bool_and", false, BoolAnd, true)
	f("bool_or", false, BoolOr, true)
	f("min", true, Min, true)
	f("max", false, Max, true)
	f("avg", false, Avg, true)
	f("avg", true, 0, false)
	f("median", false, 0, false)
}
