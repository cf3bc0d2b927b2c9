package agg

import (
	"fmt"
	"math"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// keysOf formats the key of every group.
func keysOf(t *testing.T, tab *Table, s *runtime.Schema, cols []int) []string {
	t.Helper()
	fields := make([]runtime.Field, len(cols))
	for i, c := range cols {
		fields[i] = s.Fields[c]
	}
	out := runtime.NewBatch(runtime.NewSchema(fields...))
	defer out.Release()
	for g := 0; g < tab.Len(); g++ {
		tab.Key(int32(g), out, 0)
		out.N++
	}
	var keys []string
	for i := 0; i < out.Len(); i++ {
		k := ""
		for j, v := range out.Values(i) {
			if j > 0 {
				k += "|"
			}
			k += rttest.Quote(v)
		}
		keys = append(keys, k)
	}
	return keys
}

func TestTableIntKeys(t *testing.T) {
	tab := NewTable(in, []int{3})
	const n = 100_000
	want := make(map[int64]int32)
	var groups []int32
	for pass := 0; pass < 2; pass++ {
		for base := 0; base < n; base += 1000 {
			b := runtime.NewBatch(in)
			for i := base; i < base+1000; i++ {
				k := int64(i*7919%n) - n/2
				b.AppendValues(row(null, null, null, k)...)
			}
			groups = tab.Lookup(b, allRows(b), groups)
			for i, g := range groups {
				k := b.Cols[3].I64[i]
				if w, ok := want[k]; ok {
					if w != g {
						t.Fatalf("pass %d: key %d has group %d, was %d", pass, k, g, w)
					}
					continue
				}
				if int(g) != len(want) {
					t.Fatalf("new key %d: group %d, want %d", k, g, len(want))
				}
				want[k] = g
			}
			b.Release()
		}
	}
	if tab.Len() != n {
		t.Fatalf("%d groups, want %d", tab.Len(), n)
	}
	keys := keysOf(t, tab, in, []int{3})
	for k, g := range want {
		if keys[g] != fmt.Sprint(k) {
			t.Fatalf("group %d has key %s, want %d", g, keys[g], k)
		}
	}
}

func TestTableNullKeyLeavesFastPath(t *testing.T) {
	tab := NewTable(in, []int{0})
	var groups []int32
	b := rttest.NewBatch(in, row(runtime.IntValue(5), null, null, 0), row(runtime.IntValue(-1), null, null, 0), row(runtime.IntValue(5), null, null, 0))
	groups = tab.Lookup(b, allRows(b), groups)
	b.Release()
	if fmt.Sprint(groups) != "[0 1 0]" {
		t.Fatalf("groups %v", groups)
	}
	b = rttest.NewBatch(in, row(null, null, null, 0), row(runtime.IntValue(-1), null, null, 0), row(runtime.IntValue(7), null, null, 0), row(null, null, null, 0), row(runtime.IntValue(5), null, null, 0))
	groups = tab.Lookup(b, []int32{0, 1, 2, 3, 4}, groups)
	b.Release()
	if fmt.Sprint(groups) != "[2 1 3 2 0]" {
		t.Fatalf("groups after a NULL key %v, want [2 1 3 2 0]", groups)
	}
	// No NULL in this batch: the table stays on the general path.
	b = rttest.NewBatch(in, row(runtime.IntValue(7), null, null, 0), row(runtime.IntValue(8), null, null, 0))
	groups = tab.Lookup(b, allRows(b), groups)
	b.Release()
	if fmt.Sprint(groups) != "[3 4]" {
		t.Fatalf("groups %v, want [3 4]", groups)
	}
	if got := fmt.Sprint(keysOf(t, tab, in, []int{0})); got != "[5 -1 NULL 7 8]" {
		t.Fatalf("keys %s", got)
	}
	// Reset returns to the fast path and starts over.
	tab.Reset()
	b = rttest.NewBatch(in, row(runtime.IntValue(8), null, null, 0), row(runtime.IntValue(5), null, null, 0))
	groups = tab.Lookup(b, allRows(b), groups)
	b.Release()
	if fmt.Sprint(groups) != "[0 1]" || fmt.Sprint(keysOf(t, tab, in, []int{0})) != "[8 5]" {
		t.Fatalf("after Reset: groups %v keys %v", groups, keysOf(t, tab, in, []int{0}))
	}
}

func TestTableCompositeKeys(t *testing.T) {
	i64, f64, str := runtime.IntValue, runtime.FloatValue, runtime.StringValue
	b := rttest.NewBatch(in,
		row(i64(1), f64(1), str("a"), 0),
		row(i64(1), f64(1), str(""), 0),
		row(i64(1), f64(1), null, 0),
		row(null, f64(1), str("a"), 0),
		row(i64(1), f64(math.Copysign(0, -1)), str("a"), 0),
		row(i64(1), f64(0), str("a"), 0),
		row(i64(1), f64(math.NaN()), str("a"), 0),
		row(i64(1), f64(math.NaN()), str("a"), 0),
		row(i64(1), null, str("a"), 0),
		row(i64(1), f64(1), str("a"), 0),
		row(null, f64(1), str("a"), 0),
		row(i64(1), f64(1), null, 0),
	)
	defer b.Release()
	tab := NewTable(in, []int{2, 0, 1})
	groups := tab.Lookup(b, allRows(b), nil)
	if got, want := fmt.Sprint(groups), "[0 1 2 3 4 4 5 5 6 0 3 2]"; got != want {
		t.Fatalf("groups %s, want %s", got, want)
	}
	want := `["a"|1|1 ""|1|1 NULL|1|1 "a"|NULL|1 "a"|1|-0 "a"|1|NaN "a"|1|NULL]`
	if got := fmt.Sprint(keysOf(t, tab, in, []int{2, 0, 1})); got != want {
		t.Fatalf("keys %s, want %s", got, want)
	}
	// A selection: only some rows.
	tab.Reset()
	groups = tab.Lookup(b, []int32{11, 2, 9}, groups)
	if got := fmt.Sprint(groups); got != "[0 0 1]" {
		t.Fatalf("groups of a selection %s", got)
	}
}

func TestTableManyStringKeys(t *testing.T) {
	tab := NewTable(in, []int{2})
	var groups []int32
	for round := 0; round < 2; round++ {
		b := runtime.NewBatch(in)
		for i := 0; i < 5000; i++ {
			b.AppendValues(row(null, null, runtime.StringValue(fmt.Sprintf("key-%d-padding", i)), 0)...)
		}
		groups = tab.Lookup(b, allRows(b), groups)
		b.Release()
		for i, g := range groups {
			if int(g) != i {
				t.Fatalf("round %d: row %d has group %d", round, i, g)
			}
		}
	}
	if tab.Len() != 5000 || tab.Bytes() <= 0 {
		t.Fatalf("Len %d Bytes %d", tab.Len(), tab.Bytes())
	}
}

func TestTableNoKey(t *testing.T) {
	tab := NewTable(in, nil)
	b := rttest.NewBatch(in, row(null, null, null, 1), row(null, null, null, 2))
	defer b.Release()
	groups := tab.Lookup(b, allRows(b), nil)
	if fmt.Sprint(groups) != "[0 0]" || tab.Len() != 1 {
		t.Fatalf("groups %v, %d groups", groups, tab.Len())
	}
}

func BenchmarkLookupInts(b *testing.B) {
	tab := NewTable(in, []int{3})
	bt := runtime.NewBatch(in)
	for i := 0; i < runtime.DefaultBatchRows; i++ {
		bt.AppendValues(row(null, null, null, int64(i*7919%10000))...)
	}
	rows := allRows(bt)
	var groups []int32
	b.ResetTimer()
	for range b.N {
		groups = tab.Lookup(bt, rows, groups)
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "rows/s")
}
