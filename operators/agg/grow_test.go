package agg

import (
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// TestAccsGrowMatchesAdd grows accumulators of flat aggregates (COUNT, SUM,
// MIN, MAX, AVG over integers and doubles) in bulk with Grow, across
// Reserve and Reset, and checks every group's results against
// accumulators grown one Add at a time, before and after updates.
func TestAccsGrowMatchesAdd(t *testing.T) {
	choices := []Spec{
		{Func: Count, Col: -1, Name: "c"}, {Func: Sum, Col: 0, Name: "si"}, {Func: Sum, Col: 1, Name: "sd"},
		{Func: Min, Col: 0, Name: "mi"}, {Func: Max, Col: 1, Name: "xd"}, {Func: Min, Col: 1, Name: "md"},
		{Func: Max, Col: 3, Name: "xn"}, {Func: Avg, Col: 0, Name: "ai"}, {Func: Count, Col: 1, Name: "cd"},
	}
	rapid.Check(t, func(t *rapid.T) {
		specs := rapid.SliceOfN(rapid.SampledFrom(choices), 1, 5).Draw(t, "specs")
		l, err := NewLayout(in, specs)
		if err != nil {
			t.Fatal(err)
		}
		bulk, one := NewAccs(l), NewAccs(l)
		for step := range rapid.IntRange(1, 8).Draw(t, "steps") {
			switch rapid.IntRange(0, 5).Draw(t, "op") {
			case 0:
				bulk.Reset()
				one.Reset()
			case 1:
				bulk.Reserve(rapid.IntRange(0, 5000).Draw(t, "reserve"))
			default:
				n := bulk.Len() + rapid.IntRange(0, 1500).Draw(t, "more")
				bulk.Grow(n)
				for one.Len() < n {
					one.Add()
				}
				if n == 0 {
					break
				}
				// Update a few groups with the same rows.
				b := randomKeyBatch(rapid.IntRange(1, 50).Draw(t, "rows"), 100, 10, rapid.Uint64().Draw(t, "seed"))
				rows := allRows(b)
				groups := make([]int32, len(rows))
				for k := range groups {
					groups[k] = int32(rapid.IntRange(0, n-1).Draw(t, "group"))
				}
				bulk.Update(b, rows, groups)
				one.Update(b, rows, groups)
				b.Release()
			}
			if bulk.Len() != one.Len() {
				t.Fatalf("step %d: %d groups, want %d", step, bulk.Len(), one.Len())
			}
			if got, want := emit(t, l, bulk), emit(t, l, one); !slices.Equal(got, want) {
				t.Fatalf("step %d: results differ:\n%v\nwant\n%v", step, got, want)
			}
		}
	})
}

// TestReserveAvoidsGrowth reserves room for 200k groups, then adds that
// many: neither the table's slots and keys nor the accumulators move.
func TestReserveAvoidsGrowth(t *testing.T) {
	const n = 200_000
	l, err := NewLayout(in, []Spec{{Func: Count, Col: -1, Name: "c"}, {Func: Sum, Col: 3, Name: "s"}})
	if err != nil {
		t.Fatal(err)
	}
	tab, accs := NewTable(in, []int{3}), NewAccs(l)
	tab.Reserve(n)
	accs.Reserve(n)
	slots, ints, I := &tab.islots.s[0], &tab.ints.c[0][0], &accs.ints.c[0][0]
	b := randomKeyBatch(1, 1, 0, 1)
	defer b.Release()
	var groups []int32
	for first := 0; first < n; first += 2000 {
		b.Reset()
		for k := first; k < first+2000; k++ {
			b.AppendValues(row(null, null, null, int64(k)*7)...)
		}
		groups = tab.Lookup(b, allRows(b), groups)
		accs.Grow(tab.Len())
		accs.Update(b, allRows(b), groups)
	}
	if tab.Len() != n || accs.Len() != n {
		t.Fatalf("%d groups, %d accumulators, want %d", tab.Len(), accs.Len(), n)
	}
	if &tab.islots.s[0] != slots || &tab.ints.c[0][0] != ints || &accs.ints.c[0][0] != I {
		t.Fatalf("reserved arrays moved: slots %v, keys %v, accumulators %v",
			&tab.islots.s[0] != slots, &tab.ints.c[0][0] != ints, &accs.ints.c[0][0] != I)
	}
}
