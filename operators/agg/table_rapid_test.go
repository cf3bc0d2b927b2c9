package agg

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
	"pgregory.net/rapid"
)

// refTable is the model of a Table: a Go map from a canonical form of the
// key to its group, and each group's key as first seen.
type refTable struct {
	ids  map[string]int32
	keys []string
}

// canon is the identity of a key for grouping: -0 and 0 are one key, and
// every NaN is one key, as in SQL GROUP BY.
func canon(vs []runtime.Value) string {
	var b strings.Builder
	for _, v := range vs {
		switch {
		case v.Null:
			b.WriteString("N")
		case v.Type.Physical() == runtime.PhysFloat && v.F != v.F:
			b.WriteString("fNaN")
		case v.Type.Physical() == runtime.PhysFloat:
			f := v.F
			if f == 0 {
				f = 0
			}
			fmt.Fprintf(&b, "f%v", math.Float64bits(f))
		case v.Type.Physical() == runtime.PhysString:
			fmt.Fprintf(&b, "s%q", v.S)
		default:
			fmt.Fprintf(&b, "i%d", v.I)
		}
		b.WriteByte('|')
	}
	return b.String()
}

func quoteAll(vs []runtime.Value) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = rttest.Quote(v)
	}
	return strings.Join(s, "|")
}

// tableKeys formats the key of every group of tab.
func tableKeys(t tb, tab *Table, s *runtime.Schema, cols []int) []string {
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
	keys := make([]string, out.Len())
	for i := range keys {
		keys[i] = quoteAll(out.Values(i))
	}
	return keys
}

// TestTableMatchesMap looks up random batches (integer keys with and
// without NULLs, strings, floats with -0 and NaN, composite keys, enough
// keys to grow the slots many times, integer keys in chunks of a few
// groups) and checks every group id, the
// number of groups and every group's key against a Go map, across Reset
// and Compact.
func TestTableMatchesMap(t *testing.T) {
	keySets := [][]int{{3}, {0}, {6}, {2}, {1}, {2, 0, 1}, {0, 3}}
	rapid.Check(t, func(t *rapid.T) {
		cols := rapid.SampledFrom(keySets).Draw(t, "cols")
		domain := rapid.SampledFrom([]int{3, 50, 1000, 20_000}).Draw(t, "domain")
		nullPct := rapid.SampledFrom([]int{0, 0, 1, 20}).Draw(t, "nullPct")
		tab := NewTable(in, cols)
		// Where an integer key moves to the large layout: as in
		// production, or soon, to test that layout and the move.
		tab.largeInts = rapid.SampledFrom([]int{largeIntGroups, 20, 300}).Draw(t, "largeInts")
		// Keys in chunks of 4 to 512 groups, or of the production size.
		if shift := rapid.SampledFrom([]uint8{2, 5, 9, 0}).Draw(t, "keyChunkShift"); shift > 0 {
			tab.ints = slotChunks[int64]{w: 1, shift: shift, mask: 1<<shift - 1}
		}
		ref := refTable{ids: map[string]int32{}}
		var groups []int32
		steps := rapid.IntRange(1, 12).Draw(t, "steps")
		for step := 0; step < steps; step++ {
			switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
			case op == 2:
				// A size hint changes no group.
				tab.Reserve(rapid.IntRange(0, 3*domain).Draw(t, "reserve"))
			case op == 0:
				tab.Reset()
				ref = refTable{ids: map[string]int32{}}
			case op == 1 && tab.Len() > 0:
				live := make([]bool, tab.Len())
				for g := range live {
					live[g] = rapid.IntRange(0, 2).Draw(t, "live") > 0
				}
				tab.Compact(live)
				byGroup := make([]string, len(ref.keys))
				for k, g := range ref.ids {
					byGroup[g] = k
				}
				next := refTable{ids: map[string]int32{}}
				for g := range ref.keys {
					if live[g] {
						next.ids[byGroup[g]] = int32(len(next.keys))
						next.keys = append(next.keys, ref.keys[g])
					}
				}
				ref = next
			default:
				nrows := rapid.IntRange(1, 3000).Draw(t, "rows")
				seed := rapid.Uint64().Draw(t, "seed")
				b := randomKeyBatch(nrows, domain, nullPct, seed)
				rows := allRows(b)
				if rapid.Bool().Draw(t, "selection") {
					// Every third row, backwards.
					var sel []int32
					for i := len(rows) - 1; i >= 0; i -= 3 {
						sel = append(sel, rows[i])
					}
					rows = sel
				}
				groups = tab.Lookup(b, rows, groups)
				if len(groups) != len(rows) {
					t.Fatalf("%d groups for %d rows", len(groups), len(rows))
				}
				for k, r := range rows {
					vs := b.Values(int(r))
					key := make([]runtime.Value, len(cols))
					for i, c := range cols {
						key[i] = vs[c]
					}
					c := canon(key)
					want, ok := ref.ids[c]
					if !ok {
						want = int32(len(ref.keys))
						ref.ids[c] = want
						ref.keys = append(ref.keys, quoteAll(key))
					}
					if groups[k] != want {
						t.Fatalf("step %d row %d key %s: group %d, want %d", step, r, quoteAll(key), groups[k], want)
					}
				}
				b.Release()
			}
			if tab.Len() != len(ref.keys) {
				t.Fatalf("step %d: %d groups, want %d", step, tab.Len(), len(ref.keys))
			}
		}
		got := tableKeys(t, tab, in, cols)
		for g, k := range ref.keys {
			if got[g] != k {
				t.Fatalf("group %d: key %s, want %s", g, got[g], k)
			}
		}
	})
}

// randomKeyBatch fills the key columns of in (i, d, s, n, x) with values
// drawn from domain distinct ones, NULL with probability nullPct% in the
// nullable columns, and integer extremes now and then.
func randomKeyBatch(n, domain, nullPct int, seed uint64) *runtime.Batch {
	x := seed | 1
	next := func() uint64 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return x
	}
	b := runtime.NewBatch(in)
	extremes := []int64{math.MinInt64, math.MaxInt64, 0, -1}
	for range n {
		k := int64(next() % uint64(domain))
		iv := k*2654435761 - int64(domain)
		if next()%50 == 0 {
			iv = extremes[next()%uint64(len(extremes))]
		}
		i := runtime.IntValue(iv)
		if int(next()%100) < nullPct {
			i = null
		}
		f := float64(k%97) / 4
		switch next() % 40 {
		case 0:
			f = math.NaN()
		case 1:
			f = math.Copysign(0, -1)
		}
		d := runtime.FloatValue(f)
		if int(next()%100) < nullPct {
			d = null
		}
		s := runtime.StringValue(fmt.Sprintf("k%d", k%(int64(domain)/2+1)))
		if int(next()%100) < nullPct {
			s = null
		}
		vs := row(i, d, s, iv)
		vs[6] = runtime.Value{Type: runtime.Int, I: int64(int32(iv))}
		b.AppendValues(vs...)
	}
	return b
}
