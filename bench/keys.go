package bench

import (
	"context"
	goruntime "runtime"
	"sync/atomic"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/operators/agg"
	"github.com/sluicehq/sluice/operators/window"
	rt "github.com/sluicehq/sluice/runtime"
)

// KeysWorkload is the keyed tumbling COUNT+SUM of the README's workload at a
// chosen number of keys and event-time rate: keys spread uniformly, up to
// 50 ms of disorder, watermark bound 100 ms, PerMs events per millisecond of
// event time.
//
// Keys are spread so that any Keys consecutive events have Keys distinct
// keys. With PerMs 1,000 a 10 s window holds 10M events: at 10M keys, every
// window holds (nearly) every key once; at 1k keys, each key 10,000 times.
type KeysWorkload struct {
	Events int64
	Keys   int64
	PerMs  int64
	Window time.Duration
}

// ManyKeys is the many-keys workload at keys keys: 50M events, 1,000 per
// millisecond, 10 s windows (five windows of 10M events).
func ManyKeys(keys int64) KeysWorkload {
	return KeysWorkload{Events: 50_000_000, Keys: keys, PerMs: 1000, Window: 10 * time.Second}
}

// Event returns event i: its key, time (ms) and value. 2654435761 is prime
// and so coprime with any number of keys below it: Keys consecutive events
// have distinct keys.
func (w KeysWorkload) Event(i int64) (key, ts, v int64) {
	key = int64(uint64(i) * 2654435761 % uint64(w.Keys))
	ts = baseTime + i/w.PerMs - (i*7)%disorder
	v = i % 1000
	return
}

// Expected computes the checksum of w with a map per window (every window
// kept until the end: for small workloads).
func (w KeysWorkload) Expected() Checksum {
	type acc struct{ count, sum int64 }
	size := w.Window.Milliseconds()
	wins := map[int64]map[int64]acc{}
	for i := int64(0); i < w.Events; i++ {
		k, ts, v := w.Event(i)
		s := ts - ts%size
		m := wins[s]
		if m == nil {
			m = map[int64]acc{}
			wins[s] = m
		}
		a := m[k]
		a.count++
		a.sum += v
		m[k] = a
	}
	var c Checksum
	for _, m := range wins {
		for _, a := range m {
			c.add(a.count, a.sum)
		}
	}
	return c
}

// KeysResult is a RunKeys run, and its steady state: the part of it after
// the second window fired. At many keys the first two windows cost far
// more than the later ones: the first grows its state from nothing into
// memory the process touches for the first time (its accumulators and
// keys in chunks that are never copied, but its slot array rehashed at
// every doubling; on this VM a page fault costs ~11 µs per 4 KB, less in
// the 2 MB pages the large arrays ask for); the second, open while the
// first waits for the watermark, is sized from it but in fresh memory
// too; from the third on, each window reuses the state of the one before
// last, whose memory is already in. A long-running job pays the first two
// windows once.
type KeysResult struct {
	Result
	// Steady is the run after the second window fired: Events is the
	// number of events after its end plus the watermark bound (about
	// those processed after its first results reached the sink),
	// Elapsed and CPU the times from those results to the end. Zero
	// when the run has fewer than three windows.
	Steady Result
}

// RunKeys runs w through Sluice's Go API with the given parallelism:
// generator → keyed exchange → tumbling window COUNT+SUM → a sink folding
// the results into the checksum. It returns ctx.Err() when ctx ends first.
func RunKeys(ctx context.Context, w KeysWorkload, parallelism int) (KeysResult, error) {
	fill := func(b *rt.Batch, first int64, n int) {
		ks, vs, ts := b.Cols[0].I64[:0], b.Cols[1].I64[:0], b.Cols[2].I64[:0]
		for i := first; i < first+int64(n); i++ {
			k, t, v := w.Event(i)
			ks, vs, ts = append(ks, k), append(vs, v), append(ts, t)
		}
		b.Cols[0].I64, b.Cols[1].I64, b.Cols[2].I64 = ks, vs, ts
	}
	env := sluice.NewEnv(sluice.WithParallelism(parallelism), sluice.WithName("bench-keys"))
	res := env.FromGenerator("events", eventSchema, w.Events, fill, sluice.Watermark("ts", bound)).
		KeyBy("k").
		Window(window.Tumble(w.Window)).
		Aggregate(sluice.Count("n"), sluice.Sum("v", "s"))
	var results, count, sum atomic.Int64
	size := w.Window.Milliseconds()
	second := baseTime - baseTime%size + size // the second window's start
	mark := &windowMark{start: second}
	res.To("checksum", func() rt.Operator {
		return &windowMarkSink{checksumSink: checksumSink{results: &results, count: &count, sum: &sum}, mark: mark}
	})
	m := startMeter()
	mark.meter = m
	if err := env.Execute(ctx); err != nil {
		return KeysResult{}, err
	}
	wall, cpu := m.stop()
	r := KeysResult{Result: Result{Name: "sluice (Go API)", Events: w.Events, Elapsed: wall, CPU: cpu,
		Check: Checksum{Results: results.Load(), Count: count.Load(), Sum: sum.Load()}}}
	before := (second + size - baseTime + bound.Milliseconds()) * w.PerMs
	if at := mark.at.Load(); at != nil && before < w.Events {
		r.Steady = Result{Name: r.Name, Events: w.Events - before, Elapsed: wall - at.wall, CPU: cpu - at.cpu}
	}
	return r, nil
}

// windowMark records when the results of the window starting at start
// first reached a sink of a run, as times since the run's start.
type windowMark struct {
	start int64
	meter meter
	at    atomic.Pointer[meterReading]
}

type meterReading struct{ wall, cpu time.Duration }

// windowMarkSink is checksumSink recording the time of the marked
// window's first results (column 1 is the window's start).
type windowMarkSink struct {
	checksumSink
	mark *windowMark
}

func (s *windowMarkSink) ProcessBatch(port int, b *rt.Batch, out rt.Output) error {
	if s.mark.at.Load() == nil {
		for i := 0; i < b.Len(); i++ {
			if b.Cols[1].I64[b.Row(i)] == s.mark.start {
				wall, cpu := s.mark.meter.stop()
				s.mark.at.CompareAndSwap(nil, &meterReading{wall: wall, cpu: cpu})
				break
			}
		}
	}
	return s.checksumSink.ProcessBatch(port, b, out)
}

// NextWindowBytesPerKey fills two consecutive 10 s tumbling windows of a
// COUNT(*)+SUM window operator with the same keys distinct BIGINT keys and
// returns the heap growth per (key, window) of the second: a window after
// the first, whose state is sized from its predecessor's group count
// (StateBytesPerKey measures the first, grown from nothing). It returns
// ctx.Err() when ctx ends first.
func NextWindowBytesPerKey(ctx context.Context, keys int) (float64, error) {
	newOp, _, err := window.New(window.Spec{In: eventSchema, KeyCols: []int{0}, TimeCol: 2,
		Window: window.Tumble(10 * time.Second),
		Aggs:   []agg.Spec{{Func: agg.Count, Col: -1, Name: "n"}, {Func: agg.Sum, Col: 1, Name: "s"}}})
	if err != nil {
		return 0, err
	}
	op := newOp()
	if err := op.Open(&rt.Context{Parallelism: 1}); err != nil {
		return 0, err
	}
	b := rt.NewBatch(eventSchema)
	defer b.Release()
	fill := func(ts int64) error {
		for k := 0; k < keys; {
			if err := ctx.Err(); err != nil {
				return err
			}
			b.Reset()
			for ; k < keys && b.N < rt.DefaultBatchRows; k++ {
				b.Cols[0].I64 = append(b.Cols[0].I64, int64(k)*7919)
				b.Cols[1].I64 = append(b.Cols[1].I64, int64(k))
				b.Cols[2].I64 = append(b.Cols[2].I64, ts)
				b.N++
			}
			if err := op.ProcessBatch(0, b, nil); err != nil {
				return err
			}
		}
		return nil
	}
	heap := func() uint64 {
		var m goruntime.MemStats
		goruntime.GC()
		goruntime.GC()
		goruntime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	if err := fill(baseTime); err != nil {
		return 0, err
	}
	before := heap()
	if err := fill(baseTime + 10_000); err != nil {
		return 0, err
	}
	after := heap()
	goruntime.KeepAlive(op)
	return float64(int64(after)-int64(before)) / float64(keys), nil
}
