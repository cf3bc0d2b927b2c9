package agg

import (
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// windows of `keys` random keys (each key once), reused, as the 10M-key row's panes.
func BenchmarkZZPanes50K(b *testing.B) {
	l, _ := NewLayout(in, []Spec{{Func: Count, Col: -1, Name: "n"}, {Func: Sum, Col: 3, Name: "s"}})
	bt := runtime.NewBatch(in)
	const rows = runtime.DefaultBatchRows
	for c := range bt.Cols {
		bt.Cols[c].I64 = make([]int64, rows)
	}
	bt.N = rows
	all := allRows(bt)
	var groups []int32
	tab, accs := NewTable(in, []int{3}), NewAccs(l)
	out := runtime.NewBatch(runtime.NewSchema(append([]runtime.Field{{Name: "k", Type: runtime.BigInt}}, l.Fields()...)...))
	x := uint64(1)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		keys := 49_000 + int(x%2000)
		tab.Reset()
		accs.Reset()
		tab.Reserve(50_000)
		accs.Reserve(50_000)
		for first := 0; first < keys; first += rows {
			for i := range rows {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				bt.Cols[3].I64[i] = int64(x % 10_000_000)
			}
			groups = tab.Lookup(bt, all, groups)
			accs.Grow(tab.Len())
			accs.Update(bt, all, groups)
		}
		for g := int32(0); g < int32(tab.Len()); g += 1024 {
			out.Reset()
			e := min(g+1024, int32(tab.Len()))
			tab.KeysRange(g, e, out, 0)
			accs.EmitRange(g, e, out, 1)
		}
	}
}
