package agg

import (
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

// fillSetup returns the COUNT(*), SUM layout of the fill benchmarks and a
// full batch of BIGINT columns with all its rows.
func fillSetup(b *testing.B) (*Layout, *runtime.Batch, []int32) {
	l, err := NewLayout(in, []Spec{{Func: Count, Col: -1, Name: "n"}, {Func: Sum, Col: 3, Name: "s"}})
	if err != nil {
		b.Fatal(err)
	}
	bt := runtime.NewBatch(in)
	for c := range bt.Cols {
		bt.Cols[c].I64 = make([]int64, runtime.DefaultBatchRows)
	}
	bt.N = runtime.DefaultBatchRows
	return l, bt, allRows(bt)
}

// benchFill looks up keys distinct BIGINT keys, 2048 per batch, into a
// fresh table and accumulators (COUNT(*) and SUM), as one window of a
// tumbling COUNT+SUM fills, and returns the ns per row.
func benchFill(b *testing.B, keys int, reuse bool) {
	l, bt, all := fillSetup(b)
	const rows = runtime.DefaultBatchRows
	var groups []int32
	tab, accs := NewTable(in, []int{3}), NewAccs(l)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if reuse {
			tab.Reset()
			accs.Reset()
		} else {
			tab, accs = NewTable(in, []int{3}), NewAccs(l)
		}
		for first := 0; first < keys; first += rows {
			for i := range rows {
				bt.Cols[3].I64[i] = int64(uint64(first+i) * 2654435761 % uint64(keys))
			}
			groups = tab.Lookup(bt, all, groups)
			accs.Grow(tab.Len())
			accs.Update(bt, all, groups)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(keys), "ns/row")
}

// BenchmarkFillFresh5M and BenchmarkFillReused5M fill one window of 5M
// keys into a new table, and into one reset from the previous window.
func BenchmarkFillFresh5M(b *testing.B)  { benchFill(b, 5_000_000, false) }
func BenchmarkFillReused5M(b *testing.B) { benchFill(b, 5_000_000, true) }

// BenchmarkFillRepeats4M fills one fresh window with 10M rows of keys drawn
// at random from 5M (~4.3M distinct, most seen twice or more): one
// subtask's share of the windows suite's tumble-10mkeys-full row, where a
// window grows from nothing to millions of groups in memory the process
// has not touched before.
func BenchmarkFillRepeats4M(b *testing.B) {
	l, bt, all := fillSetup(b)
	const rows = runtime.DefaultBatchRows
	var groups []int32
	x := uint64(1)
	for n := 0; n < b.N; n++ {
		tab, accs := NewTable(in, []int{3}), NewAccs(l)
		for first := 0; first < 10_000_000; first += rows {
			for i := range rows {
				x ^= x << 13
				x ^= x >> 7
				x ^= x << 17
				bt.Cols[3].I64[i] = int64(x % 5_000_000)
			}
			groups = tab.Lookup(bt, all, groups)
			accs.Grow(tab.Len())
			accs.Update(bt, all, groups)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e7, "ns/row")
}
