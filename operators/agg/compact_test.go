package agg

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// TestCompactKeepsLiveGroups checks that dropping groups (expired state)
// keeps the others' keys, accumulators and lookups, on the single-integer
// key path and the general one.
func TestCompactKeepsLiveGroups(t *testing.T) {
	for _, typ := range []runtime.Type{runtime.BigInt, runtime.Varchar} {
		s := runtime.NewSchema(runtime.Field{Name: "k", Type: typ}, runtime.Field{Name: "v", Type: runtime.BigInt})
		l, err := NewLayout(s, []Spec{{Func: Sum, Col: 1, Name: "s"}, {Func: CountDistinct, Col: 1, Name: "d"}})
		if err != nil {
			t.Fatal(err)
		}
		key := func(i int) runtime.Value {
			if typ == runtime.BigInt {
				return runtime.IntValue(int64(i))
			}
			return runtime.StringValue(fmt.Sprint("k", i))
		}
		tab, accs := NewTable(s, []int{0}), NewAccs(l)
		feed := func(keys ...int) []int32 {
			var rows [][]runtime.Value
			var idx []int32
			for i, k := range keys {
				rows = append(rows, []runtime.Value{key(k), runtime.IntValue(int64(k))})
				idx = append(idx, int32(i))
			}
			b := rttest.NewBatch(s, rows...)
			g := tab.Lookup(b, idx, nil)
			accs.Grow(tab.Len())
			accs.Update(b, idx, g)
			return g
		}
		var all []int
		for k := range 100 {
			all = append(all, k)
		}
		feed(all...)
		live := make([]bool, 100)
		for k := range live {
			live[k] = k%3 == 0
		}
		tab.Compact(live)
		accs.Compact(live)
		if tab.Len() != 34 || accs.Len() != 34 {
			t.Fatalf("%s: %d groups, %d accumulators after compaction, want 34", typ, tab.Len(), accs.Len())
		}
		// Live keys find their groups; dropped keys are new groups.
		g := feed(3, 4, 99)
		if g[0] != 1 || g[1] != 34 || g[2] != 33 {
			t.Fatalf("%s: groups %v, want [1 34 33]", typ, g)
		}
		out := rttest.NewBatch(runtime.NewSchema(append([]runtime.Field{{Name: "k", Type: typ}}, l.Fields()...)...))
		for _, g := range []int32{1, 34, 33} {
			tab.Key(g, out, 0)
			accs.Emit(g, out, 1)
			out.N++
		}
		want := fmt.Sprintf("[%v,6,1 %v,4,1 %v,198,1]", key(3), key(4), key(99))
		var got []string
		for i := range out.N {
			got = append(got, fmt.Sprintf("%v,%v,%v", out.Cols[0].Value(i), out.Cols[1].Value(i), out.Cols[2].Value(i)))
		}
		if fmt.Sprint(got) != want {
			t.Fatalf("%s: got %v, want %s", typ, got, want)
		}
	}
}
