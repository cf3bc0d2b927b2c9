package agg

import (
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/runtime"
)

// TestUnmergeUndoesMerge merges random groups into a running group and
// takes them back out in random order (merging afresh when Unmerge says
// the group is stale): the running group must always equal the merge of
// those still in, computed afresh.
func TestUnmergeUndoesMerge(t *testing.T) {
	in := runtime.NewSchema(
		runtime.Field{Name: "v", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "d", Type: runtime.DecimalType(10, 2)},
		runtime.Field{Name: "b", Type: runtime.Boolean, Nullable: true},
	)
	specs := []Spec{
		{Func: Count, Col: -1, Name: "n"}, {Func: Count, Col: 0, Name: "nv"}, {Func: Sum, Col: 0, Name: "s"},
		{Func: Avg, Col: 0, Name: "a"}, {Func: Sum, Col: 1, Name: "sd"}, {Func: Avg, Col: 1, Name: "ad"},
		{Func: BoolAnd, Col: 2, Name: "band"}, {Func: BoolOr, Col: 2, Name: "bor"},
		{Func: Sum, Col: 0, Name: "sf", Filter: 2, HasFilter: true},
		{Func: Min, Col: 0, Name: "min"}, {Func: Max, Col: 1, Name: "max"}, {Func: Max, Col: 2, Name: "bmax"},
	}
	l, err := NewLayout(in, specs)
	if err != nil {
		t.Fatal(err)
	}
	if l.Invertible() || !l.Subtractable() {
		t.Fatal("counts, exact sums, MIN and MAX are not subtractable, or MIN and MAX invertible")
	}
	rapid.Check(t, func(t *rapid.T) {
		parts := NewAccs(l)
		b := runtime.NewBatch(in)
		defer b.Release()
		n := rapid.IntRange(1, 8).Draw(t, "groups")
		var rows, groups []int32
		for g := 0; g < n; g++ {
			parts.Add()
			for k := rapid.IntRange(0, 5).Draw(t, "rows"); k > 0; k-- {
				v := runtime.IntValue(rapid.Int64Range(-1<<62, 1<<62).Draw(t, "v"))
				if rapid.IntRange(0, 4).Draw(t, "null") == 0 {
					v = runtime.Value{Null: true}
				}
				bv := runtime.Value{Type: runtime.Boolean, I: int64(rapid.IntRange(0, 1).Draw(t, "b"))}
				b.AppendValues(v, runtime.Value{Type: in.Fields[1].Type, I: rapid.Int64Range(-1e6, 1e6).Draw(t, "d")}, bv)
				rows, groups = append(rows, int32(b.N-1)), append(groups, int32(g))
			}
		}
		parts.Update(b, rows, groups)
		run := NewAccs(l)
		run.Add()
		var in []int32
		for step := rapid.IntRange(1, 20).Draw(t, "steps"); step > 0; step-- {
			g := int32(rapid.IntRange(0, n-1).Draw(t, "group"))
			if i := slices.Index(in, g); i >= 0 {
				stale := run.Unmerge(0, parts, g)
				in = slices.Delete(in, i, i+1)
				if stale { // merge afresh, as the caller must
					run.Clear(0)
					for _, x := range in {
						run.Merge(0, parts, x)
					}
				}
			} else {
				run.Merge(0, parts, g)
				in = append(in, g)
			}
			fresh := NewAccs(l)
			fresh.Add()
			for _, x := range in {
				fresh.Merge(0, parts, x)
			}
			if got, want := emitGroup(l, run, 0), emitGroup(l, fresh, 0); got != want {
				t.Fatalf("running %s, afresh %s (groups %v)", got, want, in)
			}
		}
	})
}

func joinAll(s []string) string {
	out := ""
	for _, x := range s {
		out += x + ";"
	}
	return out
}

// TestInvertibleOnlyExact checks that what cannot be taken back out of a
// merge exactly is not Invertible, nor Subtractable but for MIN and MAX.
func TestInvertibleOnlyExact(t *testing.T) {
	in := runtime.NewSchema(runtime.Field{Name: "v", Type: runtime.BigInt}, runtime.Field{Name: "f", Type: runtime.Double})
	for _, s := range []Spec{{Func: Min, Col: 0}, {Func: Max, Col: 0}, {Func: Sum, Col: 1}, {Func: Avg, Col: 1}, {Func: CountDistinct, Col: 0},
		{Func: SumDistinct, Col: 0}, {Func: FirstValue, Col: 0}, {Func: StddevPop, Col: 0}} {
		l, err := NewLayout(in, []Spec{{Func: Count, Col: -1}, s})
		if err != nil {
			t.Fatal(err)
		}
		if l.Invertible() {
			t.Errorf("%s(%s) is Invertible", s.Func, in.Fields[s.Col].Name)
		}
		if minMax := s.Func == Min || s.Func == Max; l.Subtractable() != minMax {
			t.Errorf("%s(%s): Subtractable is %v", s.Func, in.Fields[s.Col].Name, !minMax)
		}
	}
	if l, _ := NewRetractLayout(in, []Spec{{Func: Count, Col: -1}}); l.Invertible() || l.Subtractable() {
		t.Error("a retracting layout is Invertible or Subtractable")
	}
}

// TestMergeGroupsMatchesMerge checks MergeGroups and UnmergeGroups
// against Merge and Unmerge one group at a time, for a layout of COUNTs and
// integer SUMs (their slot loop, overflows included) and one with the other
// subtractable aggregates.
func TestMergeGroupsMatchesMerge(t *testing.T) {
	in := runtime.NewSchema(
		runtime.Field{Name: "v", Type: runtime.BigInt, Nullable: true},
		runtime.Field{Name: "d", Type: runtime.DecimalType(18, 2)},
	)
	layouts := map[string][]Spec{
		"plain": {{Func: Count, Col: -1, Name: "n"}, {Func: Count, Col: 0, Name: "nv"}, {Func: Sum, Col: 0, Name: "s"},
			{Func: Sum, Col: 1, Name: "sd"}},
		"other": {{Func: Count, Col: -1, Name: "n"}, {Func: Sum, Col: 0, Name: "s"}, {Func: Avg, Col: 0, Name: "a"},
			{Func: Min, Col: 0, Name: "min"}, {Func: Max, Col: 1, Name: "max"}},
	}
	for name, specs := range layouts {
		t.Run(name, func(t *testing.T) {
			l, err := NewLayout(in, specs)
			if err != nil {
				t.Fatal(err)
			}
			if (l.plain != nil) != (name == "plain") {
				t.Fatalf("plain slots %v", l.plain)
			}
			rapid.Check(t, func(t *rapid.T) {
				n := rapid.IntRange(1, 12).Draw(t, "groups")
				big := rapid.Bool().Draw(t, "big")
				parts := NewAccs(l)
				b := runtime.NewBatch(in)
				defer b.Release()
				var rows, groups []int32
				for g := 0; g < n; g++ {
					parts.Add()
					for k := rapid.IntRange(0, 4).Draw(t, "rows"); k > 0; k-- {
						lim := int64(1e6)
						if big {
							lim = 1 << 62
						}
						v := runtime.IntValue(rapid.Int64Range(-lim, lim).Draw(t, "v"))
						if rapid.IntRange(0, 4).Draw(t, "null") == 0 {
							v = runtime.Value{Null: true}
						}
						b.AppendValues(v, runtime.Value{Type: in.Fields[1].Type, I: rapid.Int64Range(-lim, lim).Draw(t, "d")})
						rows, groups = append(rows, int32(b.N-1)), append(groups, int32(g))
					}
				}
				parts.Update(b, rows, groups)
				m := rapid.IntRange(n, 2*n).Draw(t, "run groups")
				dst := rapid.Permutation(seq(m)).Draw(t, "dst")[:n]
				one, bulk := NewAccs(l), NewAccs(l)
				for range m {
					one.Add()
					bulk.Add()
				}
				for rep := rapid.IntRange(1, 3).Draw(t, "merges"); rep > 0; rep-- {
					for g, d := range dst {
						one.Merge(d, parts, int32(g))
					}
					bulk.MergeGroups(dst, parts)
					sameAccs(t, l, one, bulk, m, "merged")
				}
				var stale []int32
				for g, d := range dst {
					if one.Unmerge(d, parts, int32(g)) {
						stale = append(stale, d)
					}
				}
				got := bulk.UnmergeGroups(dst, parts, nil)
				if !slices.Equal(got, stale) {
					t.Fatalf("stale groups %v, one at a time %v", got, stale)
				}
				sameAccs(t, l, one, bulk, m, "unmerged")
			})
		})
	}
}

func seq(n int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(i)
	}
	return s
}

// sameAccs fails t unless groups 0..m-1 of a and b emit the same values
// and both report the same overflow.
func sameAccs(t *rapid.T, l *Layout, a, b *Accs, m int, what string) {
	ga, ea := a.Overflow()
	gb, eb := b.Overflow()
	if ga != gb || (ea == nil) != (eb == nil) {
		t.Fatalf("%s: overflow %d %v, one at a time %d %v", what, gb, eb, ga, ea)
	}
	for g := int32(0); g < int32(m); g++ {
		if wa, wb := emitGroup(l, a, g), emitGroup(l, b, g); wa != wb {
			t.Fatalf("%s: group %d is %s, one at a time %s", what, g, wb, wa)
		}
	}
}

func emitGroup(l *Layout, a *Accs, g int32) string {
	out := runtime.NewBatch(runtime.NewSchema(l.Fields()...))
	defer out.Release()
	a.Emit(g, out, 0)
	out.N = 1
	var s []string
	for c := range out.Cols {
		s = append(s, out.Cols[c].Value(0).String())
	}
	return joinAll(s)
}
