package expr

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/runtime"
)

func init() {
	calls := 0
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	// TEST_TICK() counts its calls: volatile, never folded.
	must(RegisterFunction("test_tick", Func{Result: runtime.BigInt, Volatile: true,
		Eval: func(_ []*runtime.Vector, out *runtime.Vector, null []bool, _ func(int, error)) {
			calls++
			for i := range null {
				out.I64[i] = int64(calls)
			}
		}}))
	// TEST_NVL(a, b) sees NULL arguments: a unless NULL, else b.
	must(RegisterFunction("Test_Nvl", Func{Params: []runtime.Type{runtime.BigInt, runtime.BigInt}, Result: runtime.BigInt, NullArgs: true,
		Eval: func(a []*runtime.Vector, out *runtime.Vector, null []bool, _ func(int, error)) {
			for i := range null {
				switch {
				case !a[0].IsNull(i):
					out.I64[i] = a[0].I64[i]
				case !a[1].IsNull(i):
					out.I64[i] = a[1].I64[i]
				default:
					null[i] = true
				}
			}
		}}))
	// TEST_DIV(a, b) fails for b = 0.
	must(RegisterFunction("test_div", Func{Params: []runtime.Type{runtime.BigInt, runtime.BigInt}, Result: runtime.BigInt,
		Eval: func(a []*runtime.Vector, out *runtime.Vector, null []bool, fail func(int, error)) {
			for i := range null {
				if null[i] {
					continue
				}
				if a[1].I64[i] == 0 {
					fail(i, errors.New("division by zero"))
					continue
				}
				out.I64[i] = a[0].I64[i] / a[1].I64[i]
			}
		}}))
}

func TestRegisteredFuncs(t *testing.T) {
	check(t, Call("test_nvl", Col("b"), Col("i")), runtime.BigInt, "10", "-3", "3", "7")
	check(t, Call("TEST_NVL", Null(runtime.BigInt), Col("i")), runtime.BigInt, "1", "NULL", "3", "0")
	check(t, Call("test_div", Col("b"), Int(2)), runtime.BigInt, "5", "-1", "NULL", "3")
	c, err := Compile(Call("test_tick"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Const(); ok {
		t.Fatal("a volatile function folded")
	}
	// A failing row fails the evaluation, through a selection vector too.
	c, err = Compile(Call("test_div", Int(100), Col("n")), testSchema)
	if err != nil {
		t.Fatal(err)
	}
	b := makeSelBatch(testSchema, testRow, junkRow)
	var out runtime.Vector
	c.Eval(b, &out)
	var fe *FuncError
	if err := c.Err(); !errors.As(err, &fe) || fe.Row != int(b.Sel[0]) || fe.Func != "TEST_DIV" || err.Error() != `function TEST_DIV failed in "TEST_DIV(100, n)": division by zero` {
		t.Fatalf("error %v", err)
	}
	// A failing constant call is a compile error.
	if _, err := Compile(Call("test_div", Int(1), Int(0)), nil); err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("constant failing call: %v", err)
	}
	if _, err := Compile(Call("test_div", Col("s"), Int(1)), testSchema); err == nil ||
		err.Error() != `TEST_DIV's 1st argument is VARCHAR, not BIGINT in "TEST_DIV(s, 1)"` {
		t.Fatalf("mistyped call: %v", err)
	}
	if err := RegisterFunction("test_nvl", Func{Result: runtime.BigInt, Eval: func([]*runtime.Vector, *runtime.Vector, []bool, func(int, error)) {}}); !errors.Is(err, ErrFunctionExists) {
		t.Fatalf("second registration: %v", err)
	}
	if !IsFunction("Test_Div") || IsFunction("test_nope") {
		t.Fatal("IsFunction")
	}
}

// TestUDFTakesIntArgumentsAsBigInt: INT columns and constants (NULL
// among them) given to BIGINT parameters are read as BIGINT through
// retype, through a selection vector too; a call over constants is
// folded, and one that fails is a planning error, INT or BIGINT alike.
func TestUDFTakesIntArgumentsAsBigInt(t *testing.T) {
	one, zero := Cast(Int(1), runtime.Int), Cast(Int(0), runtime.Int)
	check(t, Call("test_nvl", Col("i"), Col("b")), runtime.BigInt, "1", "-3", "3", "0")
	check(t, Call("test_nvl", Col("b"), Col("i")), runtime.BigInt, "10", "-3", "3", "7")
	check(t, Call("test_nvl", Null(runtime.Int), Col("i")), runtime.BigInt, "1", "NULL", "3", "0")
	check(t, Call("test_div", Col("b"), Cast(Int(2), runtime.Int)), runtime.BigInt, "5", "-1", "NULL", "3")
	check(t, Call("test_div", Col("i"), one), runtime.BigInt, "1", "NULL", "3", "0")
	for _, e := range []Expr{Call("test_div", Cast(Int(7), runtime.Int), Cast(Int(2), runtime.Int)), Call("test_div", Int(7), Int(2))} {
		c, err := Compile(e, nil)
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := c.Const(); !ok || v.Type != runtime.BigInt || v.I != 3 {
			t.Fatalf("%s: constant %v %v, want BIGINT 3", e, v, ok)
		}
	}
	for _, e := range []Expr{Call("test_div", one, zero), Call("test_div", Int(1), Int(0))} {
		if _, err := Compile(e, nil); err == nil || !strings.Contains(err.Error(), "division by zero") {
			t.Fatalf("%s: %v, want a planning error", e, err)
		}
	}
}

// TestRetypeViewsTheSameValues: retype presents a column, a constant and
// a computed node as another type of the same storage, with the same
// values and NULLs, and leaves a node of that type as it is.
func TestRetypeViewsTheSameValues(t *testing.T) {
	c := &compiler{schema: testSchema, f: &faults{}}
	b := makeSelBatch(testSchema, testRow, junkRow)
	for _, e := range []Expr{Col("i"), Cast(Int(5), runtime.Int), Add(Col("i"), Cast(Int(1), runtime.Int))} {
		n, err := c.compile(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range []runtime.Type{runtime.BigInt, runtime.DecimalType(10, 2)} {
			r := retype(n, typ)
			var want, got vec
			w, g := n.eval(b, &want), r.eval(b, &got)
			if g.Type != typ || r.typ != typ || g.Len() != w.Len() {
				t.Fatalf("%s as %s: %s of %d rows", e, typ, g.Type, g.Len())
			}
			for i := range w.Len() {
				if g.IsNull(i) != w.IsNull(i) || !w.IsNull(i) && g.I64[i] != w.I64[i] {
					t.Fatalf("%s as %s: row %d differs", e, typ, i)
				}
			}
			if (r.konst != nil) != (n.konst != nil) || r.konst != nil && (r.konst.Type != typ || r.konst.I != n.konst.I) {
				t.Fatalf("%s as %s: constant %v, from %v", e, typ, r.konst, n.konst)
			}
		}
		if retype(n, n.typ) != n {
			t.Fatalf("%s: retype to its own type made a new node", e)
		}
	}
}
