package expr

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// extremeRows extend the test rows with values at the edges of their types.
var extremeRows = [][]runtime.Value{
	{intv(math.MaxInt32), iv(math.MinInt64), fv(math.Inf(1)), sv("héllo wörld"), tv(math.MaxInt64), bv(false), iv(math.MaxInt64)},
	{intv(math.MinInt32), iv(math.MaxInt64), fv(math.NaN()), sv("\xff%_"), tv(math.MinInt64), bv(true), iv(-1)},
	{intv(-1), iv(-1), fv(-0.5), sv("2024-01-02 03:04:05"), tv(-1), bv(true), iv(math.MinInt64)},
}

// randomExpr builds a random expression tree of at most the given depth;
// many do not type-check, which is fine.
func randomExpr(r *rand.Rand, depth int) Expr {
	leaf := func() Expr {
		switch r.IntN(4) {
		case 0, 1:
			return Col(testSchema.Fields[r.IntN(testSchema.Len())].Name)
		case 2:
			return []Expr{Int(0), Int(1), Int(-1), Int(math.MaxInt64), Int(math.MinInt64), Int(3),
				Float(0), Float(2.5), Float(math.NaN()), Float(-1e300),
				Str(""), Str("a%"), Str("_é%"), Str("42"), Str("true"),
				Bool(true), Bool(false), Timestamp(0), Timestamp(1000),
				Str("DAY"), Str("yyyy-MM-dd HH:mm:ss.SSS"), Str("(a|é)+"), Str("$1-x")}[r.IntN(23)]
		}
		return Null(runtime.Type(1 + r.IntN(6)))
	}
	if depth == 0 || r.IntN(4) == 0 {
		return leaf()
	}
	sub := func() Expr { return randomExpr(r, depth-1) }
	switch r.IntN(16) {
	case 0, 1, 2:
		return Binary(Op(1+r.IntN(13)), sub(), sub())
	case 3:
		return Not(sub())
	case 4:
		return Neg(sub())
	case 5:
		return IsNull(sub())
	case 6:
		return Case([]When{{sub(), sub()}, {sub(), sub()}}, sub())
	case 7:
		return In(sub(), sub(), leaf(), leaf())
	case 8:
		return Between(sub(), sub(), sub())
	case 9:
		return Like(sub(), sub())
	case 10:
		return Cast(sub(), runtime.Type(1+r.IntN(6)))
	}
	names := randomFuncs()
	args := make([]Expr, 1+r.IntN(3))
	for i := range args {
		args[i] = sub()
	}
	return Call(names[r.IntN(len(names))], args...)
}

// randomFuncs are the built-in functions whose value depends only on their
// arguments (not the processing time), sorted.
var randomFuncs = sync.OnceValue(func() []string {
	var names []string
	for n := range functions {
		switch n {
		case "UNIX_TIMESTAMP", "CURRENT_TIMESTAMP", "NOW":
			continue
		}
		names = append(names, n)
	}
	slices.Sort(names)
	return names
})

// checkRandom compiles and evaluates random expressions: evaluating through
// a selection vector must equal evaluating the compact rows, Select must
// agree with Eval, and nothing may panic.
func checkRandom(t *testing.T, seed uint64, n int) (compiled int) {
	rows := append(slices.Clone(testRow), extremeRows...)
	plain := rttest.NewBatch(testSchema, rows...)
	withSel := makeSelBatch(testSchema, rows, junkRow)
	r := rand.New(rand.NewPCG(seed, 7))
	for range n {
		e := randomExpr(r, 4)
		c, err := Compile(e, testSchema)
		if err != nil {
			continue
		}
		compiled++
		want := evalStrings(t, c, plain)
		for _, b := range []*runtime.Batch{withSel, plain} {
			if got := evalStrings(t, c, b); !slices.Equal(got, want) {
				t.Fatalf("%s: with Sel %v got %q, want %q", e, b.Sel, got, want)
			}
			if c.Type() != runtime.Boolean {
				continue
			}
			var sel []int32
			for i, w := range want {
				if w == "TRUE" {
					sel = append(sel, int32(b.Row(i)))
				}
			}
			if got := c.Select(b, nil); !slices.Equal(got, sel) {
				t.Fatalf("%s: Select = %v, want %v (values %q)", e, got, sel, want)
			}
		}
	}
	return compiled
}

func TestRandomExpressions(t *testing.T) {
	got := checkRandom(t, 1, 20000)
	t.Logf("%d of 20000 random expressions compiled", got)
	if got < 3000 {
		t.Fatalf("only %d of the random expressions compiled", got)
	}
}

func FuzzExpressions(f *testing.F) {
	for seed := range uint64(8) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { checkRandom(t, seed, 50) })
}
