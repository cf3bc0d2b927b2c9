package groupagg

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// TestDecimalRetractMatchesBig runs GROUP BY k with SUM, AVG, MIN, MAX
// and COUNT over a DECIMAL(12, 3) column in the real runtime, on a random
// retract-mode changelog (inserts, -U/+U and -D of live rows) cut into
// random batches, at parallelism 1 and 3. The output changelog, applied
// to a multiset, must never retract a row it does not hold and must end
// at the exact math/big results.
func TestDecimalRetractMatchesBig(t *testing.T) {
	typ := runtime.DecimalType(12, 3)
	in := runtime.NewSchema(runtime.Field{Name: "k", Type: runtime.BigInt}, runtime.Field{Name: "x", Type: typ, Nullable: true},
		runtime.Field{Name: "op", Type: runtime.BigInt})
	specs := []agg.Spec{{Func: agg.Sum, Col: 1, Name: "s"}, {Func: agg.Avg, Col: 1, Name: "a"}, {Func: agg.Min, Col: 1, Name: "mn"},
		{Func: agg.Max, Col: 1, Name: "mx"}, {Func: agg.Count, Col: 1, Name: "c"}}
	rapid.Check(t, func(t *rapid.T) {
		type liveRow struct{ k, x int64 }
		var live []liveRow
		var rows [][]runtime.Value
		for range rapid.IntRange(1, 120).Draw(t, "steps") {
			if len(live) > 0 && rapid.IntRange(0, 2).Draw(t, "retract") == 0 {
				i := rapid.IntRange(0, len(live)-1).Draw(t, "which")
				r := live[i]
				live = append(live[:i], live[i+1:]...)
				kind := runtime.Delete
				if rapid.Bool().Draw(t, "update") {
					kind = runtime.UpdateBefore
				}
				rows = append(rows, []runtime.Value{runtime.IntValue(r.k), {Type: typ, I: r.x}, runtime.IntValue(int64(kind))})
				if kind == runtime.UpdateBefore {
					x := rapid.Int64Range(-999_999_999_999, 999_999_999_999).Draw(t, "new")
					live = append(live, liveRow{r.k, x})
					rows = append(rows, []runtime.Value{runtime.IntValue(r.k), {Type: typ, I: x}, runtime.IntValue(int64(runtime.UpdateAfter))})
				}
				continue
			}
			k := rapid.Int64Range(0, 5).Draw(t, "k")
			x := rapid.OneOf(rapid.Int64Range(-999_999_999_999, 999_999_999_999), rapid.Int64Range(-2000, 2000)).Draw(t, "x")
			live = append(live, liveRow{k, x})
			rows = append(rows, []runtime.Value{runtime.IntValue(k), {Type: typ, I: x}, runtime.IntValue(int64(runtime.Insert))})
		}
		size := rapid.IntRange(1, 17).Draw(t, "batch")
		var chunks []rttest.Chunk
		for i := 0; i < len(rows); i += size {
			chunks = append(chunks, rttest.Chunk{Rows: rows[i:min(i+size, len(rows))]})
		}
		// The reference: per key, exact sums and averages.
		type acc struct {
			sum      *big.Int
			n        int64
			min, max int64
		}
		ref := map[int64]*acc{}
		for _, r := range live {
			a := ref[r.k]
			if a == nil {
				a = &acc{sum: new(big.Int), min: r.x, max: r.x}
				ref[r.k] = a
			}
			a.sum.Add(a.sum, big.NewInt(r.x))
			a.n++
			a.min, a.max = min(a.min, r.x), max(a.max, r.x)
		}
		avgScale := agg.AvgType(typ).Scale()
		var want []string
		for k, a := range ref {
			num := new(big.Int).Mul(a.sum, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(avgScale-3)), nil))
			n := big.NewInt(a.n)
			q, r := new(big.Int).QuoRem(num, n, new(big.Int))
			if new(big.Int).Lsh(r.Abs(r), 1).Cmp(n) >= 0 {
				q.Add(q, big.NewInt(int64(num.Sign())))
			}
			want = append(want, fmt.Sprintf("%d,%s,%s,%s,%s,%d", k, runtime.FormatDecimal(a.sum.Int64(), 3),
				runtime.FormatDecimal(q.Int64(), avgScale), runtime.FormatDecimal(a.min, 3), runtime.FormatDecimal(a.max, 3), a.n))
		}
		slices.Sort(want)
		for _, par := range []int{1, 3} {
			newOp, out, err := New(Spec{In: in, KeyCols: []int{0}, Aggs: specs, Retract: true})
			if err != nil {
				t.Fatal(err)
			}
			g := runtime.NewGraph("t")
			src := g.AddSource("src", in, 1, rttest.Source(in, chunks), runtime.NoWatermarks)
			kinds := g.AddOperator("kinds", in, 1, 1, func() runtime.Operator { return &kindsOp{col: 2} })
			a := g.AddOperator("agg", out, par, 1, newOp)
			c, sink := rttest.NewCollector(out)
			s := g.AddOperator("sink", out, 1, 1, sink)
			g.Connect(src, kinds, runtime.Forward)
			g.Connect(kinds, a, runtime.Keyed, 0)
			g.Connect(a, s, runtime.Global)
			if err := runtime.Run(context.Background(), g, runtime.Options{Parallelism: par}); err != nil {
				t.Fatal(err)
			}
			held := map[string]int{}
			ks := c.Kinds()
			for i, r := range c.Rows() {
				line := fmt.Sprintf("%s,%s,%s,%s,%s,%s", r[0], r[1], r[2], r[3], r[4], r[5])
				if ks[i] == runtime.UpdateBefore || ks[i] == runtime.Delete {
					if held[line] == 0 {
						t.Fatalf("parallelism %d: retracts %s, which it does not hold", par, line)
					}
					held[line]--
					continue
				}
				held[line]++
			}
			var got []string
			for line, n := range held {
				for range n {
					got = append(got, line)
				}
			}
			slices.Sort(got)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("parallelism %d: got\n%s\nwant\n%s", par, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	})
}
