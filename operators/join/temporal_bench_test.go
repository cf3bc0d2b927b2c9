package join

import (
	"math/rand/v2"
	goruntime "runtime"
	"testing"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// Benchmarks of the temporal and window joins, feeding one subtask
// directly (no exchange). rows/s counts the input rows of both sides.
//
//	go test -run '^$' -bench 'Temporal|WindowJoin' -benchtime 200x ./operators/join/

const tjBenchKeys = 1000

// tjBenchBatches builds ring batches of DefaultBatchRows rows per side for
// the temporal joins: probe (k, ts, pv) and versioned (op, vk, vts, vv), one
// row per millisecond on each side, keys drawn from tjBenchKeys.
func tjBenchBatches(ring int) (probe, ver []*runtime.Batch) {
	rng := rand.New(rand.NewPCG(1, 2))
	rows := runtime.DefaultBatchRows
	for i := range ring {
		p, v := runtime.NewBatch(tjProbeSchema), runtime.NewBatch(tjVerSchema)
		p.Reset()
		v.Reset()
		for j := range rows {
			ts := int64(i*rows + j)
			p.AppendValues(runtime.IntValue(int64(rng.IntN(tjBenchKeys))), runtime.TimeValue(ts), runtime.IntValue(ts))
			v.AppendValues(runtime.Value{Type: runtime.Int}, runtime.Value{Type: runtime.Int, I: int64(rng.IntN(tjBenchKeys))},
				runtime.IntValue(ts), runtime.IntValue(ts))
		}
		probe, ver = append(probe, p), append(ver, v)
	}
	return probe, ver
}

// shiftTimes adds d to column col of every batch.
func shiftTimes(bs []*runtime.Batch, col int, d int64) {
	for _, b := range bs {
		for j := range b.N {
			b.Cols[col].I64[j] += d
		}
	}
}

// BenchmarkTemporalJoin: every millisecond a probe row and a new version
// of a random key; a watermark 100 ms behind follows every pair of batches,
// so each probe row waits about 100 ms and versions are freed as they are
// superseded.
func BenchmarkTemporalJoin(b *testing.B) {
	for _, left := range []bool{false, true} {
		name := "inner"
		if left {
			name = "left"
		}
		b.Run(name, func(b *testing.B) {
			const ring = 32
			newOp, _, err := NewTemporal(tjSpec(left, false))
			if err != nil {
				b.Fatal(err)
			}
			op := newOp()
			op.Open(rttest.NewContext("join", 0, 1))
			probe, ver := tjBenchBatches(ring)
			rows := runtime.DefaultBatchRows
			out := &rttest.Discard{}
			b.ReportAllocs()
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				i := n % ring
				if i == 0 && n > 0 {
					shiftTimes(probe, 1, int64(ring*rows))
					shiftTimes(ver, 2, int64(ring*rows))
				}
				if err := op.ProcessBatch(1, ver[i], out); err != nil {
					b.Fatal(err)
				}
				if err := op.ProcessBatch(0, probe[i], out); err != nil {
					b.Fatal(err)
				}
				if err := op.ProcessWatermark(probe[i].Cols[1].I64[rows-1]-100, out); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			sec := b.Elapsed().Seconds()
			b.ReportMetric(float64(2*rows*b.N)/sec, "rows/s")
			b.ReportMetric(float64(out.Rows)/sec, "out-rows/s")
		})
	}
}

// BenchmarkJoinStateBytesPerKey measures the heap 100,000 keys take:
// the versioned table of an event-time temporal join and the build side of
// a processing-time one (one version of 4 columns per BIGINT key), and a
// window join's open window (one row per side and key). Run it with
// -benchtime 1x.
func BenchmarkJoinStateBytesPerKey(b *testing.B) {
	const keys = 100_000
	verRows := func(from, to int) *runtime.Batch {
		v := runtime.NewBatch(tjVerSchema)
		v.Reset()
		for j := from; j < to; j++ {
			v.AppendValues(runtime.Value{Type: runtime.Int}, runtime.Value{Type: runtime.Int, I: int64(j)}, runtime.IntValue(1), runtime.IntValue(int64(j)))
		}
		return v
	}
	cases := []struct {
		name  string
		newOp func() func() runtime.Operator
		feed  func(op runtime.Operator, from, to int) error
	}{
		{"temporal", func() func() runtime.Operator { f, _, _ := NewTemporal(tjSpec(false, false)); return f },
			func(op runtime.Operator, from, to int) error {
				return op.ProcessBatch(1, verRows(from, to), &rttest.Discard{})
			}},
		{"proc-temporal", func() func() runtime.Operator { f, _, _ := NewProcTemporal(tjProcSpec(false, false, false)); return f },
			func(op runtime.Operator, from, to int) error {
				return op.ProcessBatch(1, verRows(from, to), &rttest.Discard{})
			}},
		{"window", func() func() runtime.Operator { f, _, _ := NewWindow(wjSpec(false, false, false)); return f },
			func(op runtime.Operator, from, to int) error {
				l, r := runtime.NewBatch(wjLeftSchema), runtime.NewBatch(wjRightSchema)
				l.Reset()
				r.Reset()
				for j := from; j < to; j++ {
					l.AppendValues(wjL(j, 1, 0, 1000, int64(j))...)
					r.AppendValues(wjR(j, 1, 0, 1000, int64(j))...)
				}
				if err := op.ProcessBatch(0, l, &rttest.Discard{}); err != nil {
					return err
				}
				return op.ProcessBatch(1, r, &rttest.Discard{})
			}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				newOp := c.newOp()
				before := heapInUse()
				op := newOp()
				op.Open(rttest.NewContext("join", 0, 1))
				for k := 0; k < keys; k += runtime.DefaultBatchRows {
					if err := c.feed(op, k, min(k+runtime.DefaultBatchRows, keys)); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(heapInUse()-before)/keys, "state-bytes/key")
				goruntime.KeepAlive(op)
			}
		})
	}
}

func heapInUse() int64 {
	goruntime.GC()
	var m goruntime.MemStats
	goruntime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkProcTemporalJoin probes a build side of tjBenchKeys keys with
// batches of probe rows.
func BenchmarkProcTemporalJoin(b *testing.B) {
	newOp, _, err := NewProcTemporal(tjProcSpec(false, false, false))
	if err != nil {
		b.Fatal(err)
	}
	op := newOp()
	op.Open(rttest.NewContext("join", 0, 1))
	probe, ver := tjBenchBatches(8)
	out := &rttest.Discard{}
	for _, v := range ver {
		if err := op.ProcessBatch(1, v, out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if err := op.ProcessBatch(0, probe[n%len(probe)], out); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(runtime.DefaultBatchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkWindowJoin: one row per millisecond on each side in tumbling
// windows of 1 s, keys from tjBenchKeys (about one partner per row); a
// watermark follows every pair of batches.
func BenchmarkWindowJoin(b *testing.B) {
	const ring = 32
	newOp, _, err := NewWindow(wjSpec(false, false, false))
	if err != nil {
		b.Fatal(err)
	}
	op := newOp()
	op.Open(rttest.NewContext("join", 0, 1))
	rng := rand.New(rand.NewPCG(1, 2))
	rows := runtime.DefaultBatchRows
	var lb, rb []*runtime.Batch
	for i := range ring {
		l, r := runtime.NewBatch(wjLeftSchema), runtime.NewBatch(wjRightSchema)
		l.Reset()
		r.Reset()
		for j := range rows {
			ts := int64(i*rows + j)
			ws := ts - ts%1000
			l.AppendValues(wjL(rng.IntN(tjBenchKeys), ts, ws, ws+1000, ts)...)
			r.AppendValues(wjR(rng.IntN(tjBenchKeys), ts, ws, ws+1000, ts)...)
		}
		lb, rb = append(lb, l), append(rb, r)
	}
	out := &rttest.Discard{}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		i := n % ring
		if i == 0 && n > 0 {
			for _, c := range []int{1, 2, 3} {
				shiftTimes(lb, c, int64(ring*rows))
			}
			for _, c := range []int{2, 3, 4} {
				shiftTimes(rb, c, int64(ring*rows))
			}
		}
		if err := op.ProcessBatch(0, lb[i], out); err != nil {
			b.Fatal(err)
		}
		if err := op.ProcessBatch(1, rb[i], out); err != nil {
			b.Fatal(err)
		}
		if err := op.ProcessWatermark(lb[i].Cols[1].I64[rows-1]-100, out); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(2*rows*b.N)/sec, "rows/s")
	b.ReportMetric(float64(out.Rows)/sec, "out-rows/s")
}
