package agg

import (
	"math"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"pgregory.net/rapid"
)

// TestEmitRangeMatchesEmit fills accumulators of random layouts (COUNT and
// SUM over nullable and non-nullable integers, which EmitRange emits in
// bulk, and others, which it leaves to Emit), some with an overflowed SUM,
// and checks that EmitRange over a random range of groups appends exactly
// what Emit appends group by group, or appends nothing and reports false.
func TestEmitRangeMatchesEmit(t *testing.T) {
	choices := []Spec{
		{Func: Count, Col: -1, Name: "c"}, {Func: Sum, Col: 0, Name: "si"}, {Func: Sum, Col: 3, Name: "sn"},
		{Func: Count, Col: 0, Name: "ci"}, {Func: Sum, Col: 6, Name: "sx"},
		{Func: Sum, Col: 1, Name: "sd"}, {Func: Min, Col: 0, Name: "mi"}, {Func: Avg, Col: 3, Name: "an"},
	}
	rapid.Check(t, func(t *rapid.T) {
		specs := rapid.SliceOfN(rapid.SampledFrom(choices), 1, 4).Draw(t, "specs")
		l, err := NewLayout(in, specs)
		if err != nil {
			t.Fatal(err)
		}
		a := NewAccs(l)
		n := rapid.IntRange(1, 3000).Draw(t, "groups")
		a.Grow(n)
		b := randomKeyBatch(rapid.IntRange(1, 500).Draw(t, "rows"), 100, 10, rapid.Uint64().Draw(t, "seed"))
		defer b.Release()
		rows := allRows(b)
		groups := make([]int32, len(rows))
		for k := range groups {
			groups[k] = int32(rapid.IntRange(0, n-1).Draw(t, "group"))
		}
		if rapid.IntRange(0, 9).Draw(t, "overflow") == 0 {
			// Push a SUM over BIGINT's range.
			v := &b.Cols[3]
			v.I64[rows[0]] = math.MaxInt64
			a.Update(b, rows[:1], groups[:1])
		}
		a.Update(b, rows, groups)
		from := int32(rapid.IntRange(0, n).Draw(t, "from"))
		to := int32(rapid.IntRange(int(from), n).Draw(t, "to"))
		schema := runtime.NewSchema(l.Fields()...)
		bulk, one := runtime.NewBatch(schema), runtime.NewBatch(schema)
		defer bulk.Release()
		defer one.Release()
		// Some rows already in the batch, as the window's output has.
		for _, out := range []*runtime.Batch{bulk, one} {
			for g := range min(n, 3) {
				a.Emit(int32(g), out, 0)
				out.N++
			}
		}
		if !a.EmitRange(from, to, bulk, 0) {
			if got, want := emitted(bulk), emitted(one); !slices.Equal(got, want) {
				t.Fatalf("EmitRange reported false but appended:\n%v\nwant\n%v", got, want)
			}
			if !slices.ContainsFunc(specs, func(s Spec) bool { return s.Func != Count && s.Func != Sum || s.Col == 1 }) &&
				len(a.over) == 0 {
				t.Fatalf("EmitRange declined COUNT and integer SUM only: %v", specs)
			}
			return
		}
		bulk.N += int(to - from)
		for g := from; g < to; g++ {
			a.Emit(g, one, 0)
			one.N++
		}
		if got, want := emitted(bulk), emitted(one); !slices.Equal(got, want) {
			t.Fatalf("groups %d..%d:\n%v\nwant\n%v", from, to, got, want)
		}
	})
}

// emitted prints every row of b, NULLs as such.
func emitted(b *runtime.Batch) []string {
	var out []string
	for i := 0; i < b.Len(); i++ {
		for c, v := range b.Values(i) {
			if b.Cols[c].Null != nil && len(b.Cols[c].Null) != len(b.Cols[c].I64)+len(b.Cols[c].F64) {
				out = append(out, "null flags out of step")
			}
			out = append(out, v.String())
		}
		out = append(out, "|")
	}
	return out
}

// TestKeysRangeMatchesKey looks up random integer keys, NULLs among them
// in some cases (the general path), and checks that KeysRange appends
// what Key appends group by group.
func TestKeysRangeMatchesKey(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		keyCols := rapid.SampledFrom([][]int{{3}, {0}, {0, 3}, {2}}).Draw(t, "keys")
		tab := NewTable(in, keyCols)
		tab.largeInts = rapid.SampledFrom([]int{largeIntGroups, 20}).Draw(t, "largeInts")
		if shift := rapid.SampledFrom([]uint8{2, 6, 0}).Draw(t, "keyChunkShift"); shift > 0 {
			tab.ints = slotChunks[int64]{w: 1, shift: shift, mask: 1<<shift - 1}
		}
		b := randomKeyBatch(rapid.IntRange(1, 800).Draw(t, "rows"), 300, 5, rapid.Uint64().Draw(t, "seed"))
		defer b.Release()
		tab.Lookup(b, allRows(b), nil)
		n := tab.Len()
		from := int32(rapid.IntRange(0, n).Draw(t, "from"))
		to := int32(rapid.IntRange(int(from), n).Draw(t, "to"))
		var fields []runtime.Field
		for _, c := range keyCols {
			fields = append(fields, in.Fields[c])
		}
		schema := runtime.NewSchema(fields...)
		bulk, one := runtime.NewBatch(schema), runtime.NewBatch(schema)
		defer bulk.Release()
		defer one.Release()
		tab.KeysRange(from, to, bulk, 0)
		bulk.N = int(to - from)
		for g := from; g < to; g++ {
			tab.Key(g, one, 0)
			one.N++
		}
		if got, want := emitted(bulk), emitted(one); !slices.Equal(got, want) {
			t.Fatalf("groups %d..%d of %v:\n%v\nwant\n%v", from, to, keyCols, got, want)
		}
	})
}
