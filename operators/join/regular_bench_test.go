package join

import (
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/operators/expr"
	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// BenchmarkRegularJoin feeds one regular join subtask directly (no
// exchange). The left side holds one row for each of 100,000 keys (an
// auction: id, seller, name); then batches of DefaultBatchRows right rows
// (a bid: auction, price) are added and, a lap later, retracted, cycling
// over the keys, so each right row meets one left row and the state stays
// at about 100,000 keys. rows/s counts the right rows added or retracted;
// bytes/key is the state's memory divided by its keys. inner-residual adds
// a non-equi condition (evaluated for every pair, true for all of them).
//
//	go test -run '^$' -bench RegularJoin ./operators/join/
func BenchmarkRegularJoin(b *testing.B) {
	for _, c := range []struct {
		name     string
		typ      RegularType
		residual bool
	}{{"inner", RegularInner, false}, {"left", RegularLeft, false}, {"inner-residual", RegularInner, true}} {
		b.Run(c.name, func(b *testing.B) { benchRegular(b, c.typ, c.residual) })
	}
}

func benchRegular(b *testing.B, typ RegularType, residual bool) {
	const (
		keys = 100_000
		rows = runtime.DefaultBatchRows
		ring = 16 // right batches in flight: added, then retracted a lap later
	)
	left := runtime.NewSchema(
		runtime.Field{Name: "id", Type: runtime.BigInt},
		runtime.Field{Name: "seller", Type: runtime.BigInt},
		runtime.Field{Name: "name", Type: runtime.Varchar},
	)
	right := runtime.NewSchema(
		runtime.Field{Name: "auction", Type: runtime.BigInt},
		runtime.Field{Name: "price", Type: runtime.BigInt},
	)
	spec := RegularSpec{Left: left, Right: right, LeftKeys: []int{0}, RightKeys: []int{0}, Type: typ}
	if residual { // price >= seller - 1000: true for every pair
		spec.Residual = expr.Ge(expr.ColIndex(4), expr.Sub(expr.ColIndex(1), expr.Int(1000)))
	}
	newOp, _, err := NewRegular(spec)
	if err != nil {
		b.Fatal(err)
	}
	op := newOp().(*regJoin)
	if err := op.Open(rttest.NewContext("join", 0, 1)); err != nil {
		b.Fatal(err)
	}
	defer op.Close()
	out := &rttest.Discard{}
	lb := runtime.NewBatch(left)
	for k := 0; k < keys; k++ {
		lb.AppendValues(runtime.IntValue(int64(k)), runtime.IntValue(int64(k%977)), runtime.StringValue("item"))
		if lb.N == rows || k == keys-1 {
			if err := op.ProcessBatch(0, lb, out); err != nil {
				b.Fatal(err)
			}
			lb.Reset()
		}
	}
	lb.Release()
	var add, retract [ring]*runtime.Batch
	for i := range ring {
		add[i], retract[i] = rttest.NewBatch(right), rttest.NewBatch(right)
		for j := range rows {
			k := int64((i*rows + j) * 7919 % keys)
			add[i].AppendValues(runtime.IntValue(k), runtime.IntValue(int64(j)))
			retract[i].AppendValues(runtime.IntValue(k), runtime.IntValue(int64(j)))
			retract[i].SetKind(j, runtime.Delete)
		}
	}
	// Warm up: one lap of right rows in state.
	for i := range ring {
		if err := op.ProcessBatch(1, add[i], out); err != nil {
			b.Fatal(err)
		}
	}
	bytesPerKey := float64(op.stateBytes()) / float64(op.keys.live)
	out.Rows = 0
	b.ReportAllocs()
	cpu0 := regCPUTime()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		i := n % ring
		if err := op.ProcessBatch(1, retract[i], out); err != nil {
			b.Fatal(err)
		}
		if err := op.ProcessBatch(1, add[i], out); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(2*rows*b.N)/sec, "rows/s")
	if cpu := (regCPUTime() - cpu0).Seconds(); cpu > 0 {
		// On a shared machine, rows per CPU-second of the process is
		// steadier than rows per second.
		b.ReportMetric(float64(2*rows*b.N)/cpu, "rows/cpu-s")
	}
	b.ReportMetric(float64(out.Rows)/sec, "out-rows/s")
	b.ReportMetric(bytesPerKey, "bytes/key")
}

// regCPUTime is the CPU time the process has used (user and system).
func regCPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
