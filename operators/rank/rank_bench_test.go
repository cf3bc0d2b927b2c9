package rank

import (
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// benchIn is a bid-like row: auction, bidder, price, dateTime, extra.
var benchIn = runtime.NewSchema(
	runtime.Field{Name: "auction", Type: runtime.BigInt},
	runtime.Field{Name: "bidder", Type: runtime.BigInt},
	runtime.Field{Name: "price", Type: runtime.BigInt},
	runtime.Field{Name: "dateTime", Type: runtime.Timestamp},
	runtime.Field{Name: "extra", Type: runtime.Varchar},
)

// benchBatches makes n batches of full size: keys uniform in [0, keys),
// random prices, growing times.
func benchBatches(n, keys int) []*runtime.Batch {
	seed := uint64(7)
	rnd := func(m int) int64 {
		seed = seed*6364136223846793005 + 1442695040888963407
		return int64(seed>>33) % int64(m)
	}
	var out []*runtime.Batch
	ts := int64(0)
	for range n {
		b := runtime.NewBatch(benchIn)
		for range runtime.DefaultBatchRows {
			ts++
			b.AppendValues(runtime.IntValue(rnd(keys)), runtime.IntValue(rnd(1000)), runtime.IntValue(rnd(1_000_000)),
				runtime.TimeValue(ts), runtime.StringValue("xyz"))
		}
		out = append(out, b)
	}
	return out
}

// cpuTime is the CPU time the process has used: on a shared machine the
// rows per CPU-second say more than the rows per second of wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportRates(b *testing.B, cpu time.Duration) {
	rows := float64(b.N) * runtime.DefaultBatchRows
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	if cpu > 0 {
		b.ReportMetric(rows/cpu.Seconds(), "rows/cpu-s")
	}
}

type stateSizer interface{ StateBytes() int }

// benchOp feeds the batches round and round to one operator and reports
// rows/s and its state bytes per key.
func benchOp(b *testing.B, newOp func() runtime.Operator, batches []*runtime.Batch, keys func(runtime.Operator) int) {
	op := newOp()
	if err := op.Open(rttest.NewContext("rank", 0, 1)); err != nil {
		b.Fatal(err)
	}
	defer op.Close()
	out := &rttest.Discard{}
	b.ResetTimer()
	cpu := cpuTime()
	for i := range b.N {
		if err := op.ProcessBatch(0, batches[i%len(batches)], out); err != nil {
			b.Fatal(err)
		}
	}
	cpu = cpuTime() - cpu
	b.StopTimer()
	reportRates(b, cpu)
	if n := keys(op); n > 0 {
		b.ReportMetric(float64(op.(stateSizer).StateBytes())/float64(n), "state-bytes/key")
	}
}

// BenchmarkTopN is Nexmark q19's shape: the top 10 bids by price per
// auction, with the rank, over 10k auctions.
func BenchmarkTopN(b *testing.B) {
	batches := benchBatches(64, 10_000)
	newOp, _, err := New(Spec{In: benchIn, PartitionCols: []int{0}, Order: []SortKey{{Col: 2, Desc: true}}, Start: 1, End: 10, RowNumber: true})
	if err != nil {
		b.Fatal(err)
	}
	benchOp(b, newOp, batches, func(o runtime.Operator) int { return o.(*topOp).table.Len() })
}

// BenchmarkDedup is Nexmark q18's shape: the last bid per (bidder,
// auction) by event time, over 1M keys.
func BenchmarkDedup(b *testing.B) {
	batches := benchBatches(512, 1_000_000)
	for _, bt := range batches { // 1M keys as one BIGINT: auction*1000+bidder
		for r := range bt.N {
			bt.Cols[0].I64[r] = bt.Cols[0].I64[r]%1000*1000 + bt.Cols[1].I64[r]
		}
	}
	for _, tc := range []struct {
		name string
		spec DedupSpec
	}{
		{"event-time-keep-last", DedupSpec{In: benchIn, KeyCols: []int{0}, TimeCol: 3, KeepLast: true}},
		{"proctime-keep-first", DedupSpec{In: benchIn, KeyCols: []int{0}, ProcTime: true}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			newOp, _, err := NewDedup(tc.spec)
			if err != nil {
				b.Fatal(err)
			}
			benchOp(b, newOp, batches, func(o runtime.Operator) int { return o.(*dedupOp).table.Len() })
		})
	}
}

// BenchmarkWindowTopN ranks the top 10 per auction in tumbling windows of
// 100k rows, firing each as the watermark passes it.
func BenchmarkWindowTopN(b *testing.B) {
	batches := benchBatches(64, 10_000)
	in := runtime.NewSchema(append(append([]runtime.Field(nil), benchIn.Fields...),
		runtime.Field{Name: "window_start", Type: runtime.Timestamp}, runtime.Field{Name: "window_end", Type: runtime.Timestamp})...)
	var wins []*runtime.Batch
	for _, bt := range batches {
		w := runtime.NewBatch(in)
		for r := range bt.N {
			ts := bt.Cols[3].I64[r]
			w.AppendValues(bt.Cols[0].Value(r), bt.Cols[1].Value(r), bt.Cols[2].Value(r), bt.Cols[3].Value(r), bt.Cols[4].Value(r),
				runtime.TimeValue(ts-ts%100_000), runtime.TimeValue(ts-ts%100_000+100_000))
		}
		wins = append(wins, w)
	}
	newOp, _, err := NewWindow(WindowSpec{In: in, PartitionCols: []int{0}, WindowStartCol: 5, WindowEndCol: 6,
		Order: []SortKey{{Col: 2, Desc: true}}, Start: 1, End: 10, RowNumber: true})
	if err != nil {
		b.Fatal(err)
	}
	op := newOp().(*windowOp)
	if err := op.Open(rttest.NewContext("rank", 0, 1)); err != nil {
		b.Fatal(err)
	}
	defer op.Close()
	out := &rttest.Discard{}
	span := int64(len(wins) * runtime.DefaultBatchRows)
	b.ResetTimer()
	cpu := cpuTime()
	for i := range b.N {
		w := wins[i%len(wins)]
		if i > 0 && i%len(wins) == 0 { // next lap: shift the times on
			for _, w := range wins {
				for _, c := range []int{3, 5, 6} {
					for r := range w.N {
						w.Cols[c].I64[r] += span
					}
				}
			}
		}
		if err := op.ProcessBatch(0, w, out); err != nil {
			b.Fatal(err)
		}
		if err := op.ProcessWatermark(w.Cols[3].I64[w.N-1]-1, out); err != nil {
			b.Fatal(err)
		}
	}
	cpu = cpuTime() - cpu
	b.StopTimer()
	reportRates(b, cpu)
	b.ReportMetric(float64(op.StateBytes())/float64(max(op.groups, 1)), "state-bytes/key")
}
