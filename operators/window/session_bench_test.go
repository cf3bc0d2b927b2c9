package window

import (
	goruntime "runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice/runtime"
	"github.com/sluicehq/sluice/runtime/rttest"
)

// sessionBenchEvents is the workload of package bench (bench.Workload.Event, which
// this package cannot import): event i has key i×2654435761 mod keys (keys
// spread uniformly), time ten per millisecond with up to 50 ms of disorder,
// and value i mod 1000. It returns the events in batches of
// runtime.DefaultBatchRows, with the watermark after each: the largest time
// so far minus the 100 ms bound, minus 1.
//
// With perMs other than 10 the times advance perMs per millisecond instead,
// and keys are drawn at random (uniformly) as the datagen rows of
// `sluice bench --suite windows` are, rather than in bench.Workload's
// cycle.
func sessionBenchEvents(events, keys, perMs int64) (batches []*runtime.Batch, wms []int64) {
	const base, disorder, bound = int64(1_700_000_000_000), 50, 100
	maxTs := int64(runtime.MinWatermark)
	for first := int64(0); first < events; first += runtime.DefaultBatchRows {
		n := min(runtime.DefaultBatchRows, events-first)
		b := runtime.NewBatch(benchSchema)
		b.Cols[0].I64 = make([]int64, n)
		b.Cols[1].I64 = make([]int64, n)
		b.Cols[2].I64 = make([]int64, n)
		for j := range n {
			i := first + j
			if perMs == 10 {
				b.Cols[0].I64[j] = int64(uint64(i)*2654435761%uint64(keys)) % keys
			} else {
				b.Cols[0].I64[j] = int64(splitmix(uint64(i)) % uint64(keys))
			}
			ts := base + i/perMs - (i*7)%disorder
			b.Cols[1].I64[j] = ts
			b.Cols[2].I64[j] = i % 1000
			maxTs = max(maxTs, ts)
		}
		b.N = int(n)
		batches = append(batches, b)
		wms = append(wms, maxTs-bound-1)
	}
	return batches, wms
}

// splitmix is SplitMix64's output function: a well-mixed hash of x.
func splitmix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	return x ^ x>>31
}

// runSessionBench sends the batches and watermarks through a fresh operator
// of spec, then the final watermark, and returns the wall time and the
// process's CPU time it took (the garbage collector's included: on a
// shared machine the CPU time is the steadier measure), and the number of
// rows emitted.
func runSessionBench(b *testing.B, spec Spec, batches []*runtime.Batch, wms []int64) (wall, cpu time.Duration, rows int) {
	b.Helper()
	newOp, _, err := New(spec)
	if err != nil {
		b.Fatal(err)
	}
	op := newOp()
	var out rttest.Discard
	goruntime.GC()
	start, cpu0 := time.Now(), processCPU()
	if err := op.Open(&runtime.Context{Parallelism: 1}); err != nil {
		b.Fatal(err)
	}
	for i, bt := range batches {
		if err := op.ProcessBatch(0, bt, &out); err != nil {
			b.Fatal(err)
		}
		if err := op.ProcessWatermark(wms[i], &out); err != nil {
			b.Fatal(err)
		}
	}
	if err := op.ProcessWatermark(runtime.MaxWatermark, &out); err != nil {
		b.Fatal(err)
	}
	if err := op.Finish(&out); err != nil {
		b.Fatal(err)
	}
	wall, cpu = time.Since(start), processCPU()-cpu0
	op.Close()
	return wall, cpu, out.Rows
}

// processCPU is the user+system CPU time the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSessionVsTumble runs the bench workload's events (two million,
// 200 s of event time) through a 5 s gap SESSION window and a 10 s TUMBLE
// window, COUNT(*) and SUM, by turns (session first in odd iterations,
// tumble first in even ones), one fresh operator per run. It reports both
// throughputs as medians over the iterations and the session's as a
// fraction of the tumble's (session/tumble), the ratio the session target
// is stated in: the median of the ratios of each iteration's two runs, by
// wall time and by the process's CPU time (session/tumble-cpu).
//
// At 1M keys almost every event opens a session of its own (a key comes
// back every 100 s); at 10k keys (every second) a key's one session grows
// for the whole run. keys=1M,perms=250 is the session row of
// `sluice bench --suite windows`: 2.5M events, 250 per ms, random keys, so
// that a key comes back every 4 s on average and most sessions take
// several rows (about 700k open at once).
func BenchmarkSessionVsTumble(b *testing.B) {
	for _, c := range []struct {
		name                string
		events, keys, perMs int64
	}{
		{"keys=1M", 2_000_000, 1_000_000, 10},
		{"keys=10k", 2_000_000, 10_000, 10},
		// The session row of `sluice bench --suite windows`.
		{"keys=1M,perms=250", 2_500_000, 1_000_000, 250},
	} {
		b.Run(c.name, func(b *testing.B) {
			events := float64(c.events)
			batches, wms := sessionBenchEvents(c.events, c.keys, c.perMs)
			defer func() {
				for _, bt := range batches {
					bt.Release()
				}
			}()
			session, tumble := benchSpec(), benchSpec()
			session.Window = SessionGap(5 * time.Second)
			var ss, ts, scpu, tcpu []float64
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				for k := range 2 {
					if (n+k)%2 == 0 {
						wall, cpu, _ := runSessionBench(b, session, batches, wms)
						ss, scpu = append(ss, events/wall.Seconds()), append(scpu, cpu.Seconds())
					} else {
						wall, cpu, _ := runSessionBench(b, tumble, batches, wms)
						ts, tcpu = append(ts, events/wall.Seconds()), append(tcpu, cpu.Seconds())
					}
				}
			}
			// Ratios of the runs next to each other in time (the load of a
			// shared machine changes less within a pair), medians of them.
			var rw, rc []float64
			for i := range ss {
				rw = append(rw, ss[i]/ts[i])
				rc = append(rc, tcpu[i]/scpu[i])
			}
			b.ReportMetric(sessionMedian(ss), "session-events/s")
			b.ReportMetric(sessionMedian(ts), "tumble-events/s")
			b.ReportMetric(sessionMedian(rw), "session/tumble")
			// The same ratio by CPU time: events per CPU-second.
			b.ReportMetric(sessionMedian(rc), "session/tumble-cpu")
		})
	}
}

// BenchmarkSessionStateBytesPerKey reports the heap one open session costs
// with one million keys each in a session of its own (COUNT(*) and SUM),
// next to what one (key, window) group of a tumbling window costs on the
// same rows.
func BenchmarkSessionStateBytesPerKey(b *testing.B) {
	var s, t float64
	for n := 0; n < b.N; n++ {
		s = sessionStateBytesPerKey(b, SessionGap(5*time.Second), 1_000_000)
		t = sessionStateBytesPerKey(b, Tumble(10*time.Second), 1_000_000)
	}
	b.ReportMetric(s, "session-B/key")
	b.ReportMetric(t, "tumble-B/key")
	b.ReportMetric(s/t, "session/tumble")
}

// sessionStateBytesPerKey opens one window (or session) for each of keys
// distinct BIGINT keys, all at the same time, and returns the growth of
// the live heap per key.
func sessionStateBytesPerKey(t tb, w Assigner, keys int) float64 {
	t.Helper()
	spec := benchSpec()
	spec.Window = w
	newOp, _, err := New(spec)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	bt := runtime.NewBatch(benchSchema)
	defer bt.Release()
	bt.Cols[0].I64 = make([]int64, runtime.DefaultBatchRows)
	bt.Cols[1].I64 = make([]int64, runtime.DefaultBatchRows)
	bt.Cols[2].I64 = make([]int64, runtime.DefaultBatchRows)
	var out rttest.Discard
	before := heapAlloc()
	op := newOp()
	if err := op.Open(&runtime.Context{Parallelism: 1}); err != nil {
		t.Fatalf("Open: %v", err)
	}
	for first := 0; first < keys; first += runtime.DefaultBatchRows {
		n := min(runtime.DefaultBatchRows, keys-first)
		for i := 0; i < n; i++ {
			bt.Cols[0].I64[i] = int64(uint64(first+i) * 0x9E3779B97F4A7C15)
			bt.Cols[1].I64[i] = 1000
			bt.Cols[2].I64[i] = int64(i)
		}
		bt.N = n
		for c := range bt.Cols {
			bt.Cols[c].I64 = bt.Cols[c].I64[:n]
		}
		if err := op.ProcessBatch(0, bt, &out); err != nil {
			t.Fatalf("ProcessBatch: %v", err)
		}
	}
	after := heapAlloc()
	if out.Rows != 0 {
		t.Fatalf("%d rows emitted before any watermark", out.Rows)
	}
	goruntime.KeepAlive(op)
	return float64(int64(after)-int64(before)) / float64(keys)
}

func sessionMedian(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if n := len(xs); n%2 == 0 {
		return (xs[n/2-1] + xs[n/2]) / 2
	}
	return xs[len(xs)/2]
}
