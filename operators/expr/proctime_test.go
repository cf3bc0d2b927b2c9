package expr

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// TestProcTimeReadsClockOncePerBatch: PROCTIME() gives every row of a batch
// the clock's time at evaluation, and the next batch the later time.
func TestProcTimeReadsClockOncePerBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in := runtime.NewSchema(runtime.Field{Name: "a", Type: runtime.BigInt})
		c, err := Compile(ProcTime(), in)
		if err != nil {
			t.Fatal(err)
		}
		if c.Type() != runtime.Timestamp || c.Nullable() {
			t.Fatalf("PROCTIME() is %s nullable=%v, want TIMESTAMP NOT NULL", c.Type(), c.Nullable())
		}
		if _, ok := c.Const(); ok {
			t.Fatal("PROCTIME() folded to a constant")
		}
		b := rttest.NewBatch(in, []runtime.Value{runtime.IntValue(1)}, []runtime.Value{runtime.IntValue(2)}, []runtime.Value{runtime.IntValue(3)})
		defer b.Release()
		var out runtime.Vector
		for step := range 3 {
			want := time.Now().UnixMilli()
			c.Eval(b, &out)
			if out.Len() != 3 || out.Null != nil {
				t.Fatalf("batch %d: %d rows, nulls %v", step, out.Len(), out.Null)
			}
			for i, v := range out.I64[:3] {
				if v != want {
					t.Fatalf("batch %d row %d: PROCTIME() = %d, want the clock's %d", step, i, v, want)
				}
			}
			time.Sleep(1500 * time.Millisecond)
		}
		// With a selection vector, only the selected rows, same time.
		b.Sel = []int32{2}
		c.Eval(b, &out)
		if out.Len() != 1 || out.I64[0] != time.Now().UnixMilli() {
			t.Fatalf("selected row: got %v, want [%d]", out.I64, time.Now().UnixMilli())
		}
	})
}

// TestProcTimeIsNotFolded: expressions over PROCTIME() follow the clock,
// they are not computed once at compile time.
func TestProcTimeIsNotFolded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := Add(ProcTime(), Lit(runtime.IntValue(1000)))
		c, err := Compile(e, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := c.Const(); ok {
			t.Fatalf("%s folded to a constant", e)
		}
		b := &runtime.Batch{N: 1}
		var out runtime.Vector
		c.Eval(b, &out)
		first := out.I64[0]
		time.Sleep(time.Minute)
		c.Eval(b, &out)
		if got := out.I64[0]; got != first+60_000 || first != time.Now().UnixMilli()-60_000+1000 {
			t.Fatalf("PROCTIME() + 1000: %d then %d a minute later, now %d", first, got, time.Now().UnixMilli())
		}
		if cmp, err := Compile(Gt(ProcTime(), Lit(runtime.TimeValue(0))), nil); err != nil {
			t.Fatal(err)
		} else if _, ok := cmp.Const(); ok {
			t.Fatal("PROCTIME() > TIMESTAMP 0 folded to a constant")
		}
	})
}

// TestProcTimeTakesNoArguments: PROCTIME(x) is an error naming the function.
func TestProcTimeTakesNoArguments(t *testing.T) {
	_, err := Compile(Call("proctime", Lit(runtime.IntValue(1))), nil)
	if err == nil || err.Error() != `PROCTIME takes 0 arguments, got 1 in "PROCTIME(1)"` {
		t.Fatalf("got %v", err)
	}
}

// BenchmarkEvalProcTime: PROCTIME() costs one clock read per batch and a
// fill of the column.
func BenchmarkEvalProcTime(b *testing.B) { benchEval(b, ProcTime(), false, false) }
